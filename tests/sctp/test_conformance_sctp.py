"""SCTP conformance: the RFC 9260 / 3758 / 6525 requirements of issue 14, one test each.

A scripted raw peer (hand-built packets) drives one ``SctpAssociation``; every answer is
decoded and checked field by field. Deterministic: seeded RNGs, explicit clocks.
"""

from __future__ import annotations

import random
import struct

import pytest

from trio_webrtc.errors import LocalProtocolError
from trio_webrtc.sctp import (
    AssociationClosed,
    AssociationEstablished,
    AssociationRestarted,
    AssociationState,
    DataReceived,
    OutgoingStreamsReset,
    SctpAssociation,
    SctpEvent,
    StreamsReset,
)
from trio_webrtc.sctp import chunks as c

PEER_TAG = 0x11223344
PEER_TSN = 1000
EXTENSIONS = (
    (c.PARAM_FORWARD_TSN_SUPPORTED, b""),
    (c.PARAM_SUPPORTED_EXTENSIONS, bytes([c.CHUNK_FORWARD_TSN, c.CHUNK_RECONFIG])),
)


def new(seed: int = 7, **kw: object) -> SctpAssociation:
    return SctpAssociation(is_client=False, rng=random.Random(seed), **kw)  # type: ignore[arg-type]


def pkt(vtag: int, *chunks: c.Chunk | bytes) -> bytes:
    raw = [ch if isinstance(ch, bytes) else ch.encode() for ch in chunks]
    return c.encode_packet(5000, 5000, vtag, raw)


def out(assoc: SctpAssociation, now: float = 0.0) -> list[c.Packet]:
    return [c.parse_packet(p) for p in assoc.datagrams_to_send(now)]


def sent_chunks(packets: list[c.Packet]) -> list[c.Chunk]:
    return [ch for p in packets for ch in p.chunks]


def state(assoc: SctpAssociation) -> AssociationState:
    """Read through a call, so mypy does not narrow the state across transitions."""
    return assoc.state


def events(assoc: SctpAssociation) -> list[SctpEvent]:
    result = []
    while (event := assoc.next_event()) is not None:
        result.append(event)
    return result


def init_chunk(
    tag: int = PEER_TAG,
    os: int = 65535,
    mis: int = 65535,
    params: tuple[tuple[int, bytes], ...] = EXTENSIONS,
) -> c.InitChunk:
    return c.InitChunk(tag, 1 << 20, os, mis, PEER_TSN, params)


def establish(
    assoc: SctpAssociation, init: c.InitChunk | None = None, now: float = 0.0
) -> c.InitAckChunk:
    """The raw peer initiates: INIT, then COOKIE ECHO of the INIT ACK's cookie."""
    init = init or init_chunk()
    assoc.receive_datagram(pkt(0, init), now)
    (packet,) = out(assoc, now)
    (ack,) = packet.chunks
    assert isinstance(ack, c.InitAckChunk)
    cookie = ack.param(c.PARAM_STATE_COOKIE)
    assert cookie is not None
    assoc.receive_datagram(pkt(ack.initiate_tag, c.CookieEchoChunk(cookie)), now)
    assert state(assoc) is AssociationState.ESTABLISHED
    assert [type(ch) for ch in sent_chunks(out(assoc, now))] == [c.CookieAckChunk]
    return ack


def data(tsn: int, sid: int, payload: bytes = b"x", ssn: int = 0) -> c.DataChunk:
    return c.DataChunk(c.FLAG_BEGIN | c.FLAG_END, tsn, sid, ssn, 53, payload)


# -- §5.2.2, §5.2.4 A: INIT in ESTABLISHED and peer restart --------------------------------


def test_init_in_established_gets_init_ack_with_new_initiate_tag() -> None:
    assoc = new()
    first = establish(assoc)
    assoc.receive_datagram(pkt(0, init_chunk(tag=0x55667788)), 1.0)
    (packet,) = out(assoc, 1.0)
    (ack,) = packet.chunks
    assert isinstance(ack, c.InitAckChunk)
    assert packet.vtag == 0x55667788
    assert ack.initiate_tag not in (0, first.initiate_tag)
    assert ack.initial_tsn != first.initial_tsn
    assert state(assoc) is AssociationState.ESTABLISHED  # nothing changes until COOKIE ECHO


def test_peer_restart_cookie_echo_restarts_association() -> None:
    assoc = new()
    first = establish(assoc)
    events(assoc)
    assoc.send(1, 51, b"queued before the restart", now=0.0)
    assert [type(ch) for ch in sent_chunks(out(assoc))] == [c.DataChunk]  # unacknowledged
    events(assoc)
    assoc.receive_datagram(pkt(0, init_chunk(tag=0x55667788, os=100, mis=200)), 1.0)
    (ack,) = sent_chunks(out(assoc, 1.0))
    assert isinstance(ack, c.InitAckChunk)
    cookie = ack.param(c.PARAM_STATE_COOKIE)
    assert cookie is not None
    assoc.receive_datagram(pkt(ack.initiate_tag, c.CookieEchoChunk(cookie)), 1.1)
    assert events(assoc) == [AssociationRestarted(outbound_streams=200, inbound_streams=100)]
    assert state(assoc) is AssociationState.ESTABLISHED
    packets = out(assoc, 1.1)
    assert [type(ch) for ch in sent_chunks(packets)] == [c.CookieAckChunk]
    assert packets[0].vtag == 0x55667788
    assert assoc.buffered_amount(1) == 0  # the restarted peer kept none of it
    # The new association works under the new tags and TSNs, SSNs from 0.
    assoc.receive_datagram(pkt(ack.initiate_tag, data(PEER_TSN, 3, b"hello")), 1.2)
    assert events(assoc) == [DataReceived(3, 53, b"hello", False)]
    assoc.receive_datagram(pkt(first.initiate_tag, data(PEER_TSN + 1, 3, b"old tag")), 1.3)
    assert events(assoc) == []
    assoc.send(0, 51, b"after", now=1.3)
    sent = sent_chunks(out(assoc, 1.3))
    new_data = [ch for ch in sent if isinstance(ch, c.DataChunk)]
    assert [(d.tsn, d.stream_id, d.ssn, d.user_data) for d in new_data] == [
        (ack.initial_tsn, 0, 0, b"after")
    ]


# -- §3.2.1, §3.3.2: INIT parameters and stream counts ------------------------------------


def test_unrecognized_init_parameters_with_report_bits_are_reported() -> None:
    assoc = new()
    params = (
        *EXTENSIONS,
        (0xC123, b"abc"),  # 11: skip, report
        (0x8124, b"skip"),  # 10: skip silently
        (0x4125, b"zz"),  # 01: report, stop processing the INIT's parameters
        (0xC126, b"never seen"),
    )
    assoc.receive_datagram(pkt(0, init_chunk(params=params)), 0.0)
    (ack,) = sent_chunks(out(assoc))
    assert isinstance(ack, c.InitAckChunk)
    reported = [v for t, v in ack.params if t == c.PARAM_UNRECOGNIZED]
    assert reported == [
        struct.pack("!HH", 0xC123, 7) + b"abc",
        struct.pack("!HH", 0x4125, 6) + b"zz",
    ]
    # A 00 parameter stops processing without a report.
    assoc.receive_datagram(pkt(0, init_chunk(params=((0x0127, b"q"), (0xC128, b"r")))), 0.0)
    (ack,) = sent_chunks(out(assoc))
    assert isinstance(ack, c.InitAckChunk)
    assert [v for t, v in ack.params if t == c.PARAM_UNRECOGNIZED] == []


@pytest.mark.parametrize(("os", "mis"), [(0, 65535), (65535, 0)])
def test_init_with_zero_outbound_or_inbound_streams_is_aborted(os: int, mis: int) -> None:
    assoc = new()
    assoc.receive_datagram(pkt(0, init_chunk(os=os, mis=mis)), 0.0)
    (packet,) = out(assoc)
    assert packet.vtag == PEER_TAG
    (abort,) = packet.chunks
    assert isinstance(abort, c.AbortChunk)
    assert abort.flags == 0
    assert [code for code, _ in abort.causes] == [c.CAUSE_INVALID_MANDATORY_PARAMETER]
    assert state(assoc) is AssociationState.CLOSED
    # No state changed: a valid INIT afterwards still sets the association up.
    establish(assoc)
    # And in ESTABLISHED the association is kept.
    assoc.receive_datagram(pkt(0, init_chunk(tag=0x99, os=os, mis=mis)), 1.0)
    assert [type(ch) for ch in sent_chunks(out(assoc, 1.0))] == [c.AbortChunk]
    assert state(assoc) is AssociationState.ESTABLISHED


def test_init_ack_with_zero_streams_is_aborted() -> None:
    assoc = new()
    assoc.start(0.0)
    (init,) = sent_chunks(out(assoc))
    assert isinstance(init, c.InitChunk)
    ack = c.InitAckChunk(PEER_TAG, 1 << 20, 0, 65535, PEER_TSN, ((7, b"C" * 40),))
    assoc.receive_datagram(pkt(init.initiate_tag, ack), 0.0)
    (packet,) = out(assoc)
    assert packet.vtag == PEER_TAG
    assert [type(ch) for ch in packet.chunks] == [c.AbortChunk]
    assert state(assoc) is AssociationState.CLOSED
    (closed,) = events(assoc)
    assert isinstance(closed, AssociationClosed) and closed.error


def test_negotiated_stream_counts_bound_sending() -> None:
    assoc = new()
    ack = establish(assoc, init_chunk(os=256, mis=10))
    assert (ack.outbound_streams, ack.inbound_streams) == (65535, 65535)
    assert events(assoc) == [AssociationEstablished(outbound_streams=10, inbound_streams=256)]
    assoc.send(9, 51, b"ok", now=0.0)
    with pytest.raises(LocalProtocolError, match="10 streams"):
        assoc.send(10, 51, b"beyond the peer's MIS", now=0.0)
    with pytest.raises(LocalProtocolError):
        assoc.reset_streams([10], 0.0)
    assert {d.stream_id for d in sent_chunks(out(assoc)) if isinstance(d, c.DataChunk)} == {9}


def test_data_beyond_peer_os_gets_invalid_stream_error_and_is_acked() -> None:
    assoc = new()
    ack = establish(assoc, init_chunk(os=4))
    events(assoc)
    assoc.receive_datagram(pkt(ack.initiate_tag, data(PEER_TSN, 4, b"bad")), 0.1)
    assoc.receive_datagram(pkt(ack.initiate_tag, data(PEER_TSN + 1, 3, b"good")), 0.1)
    assert events(assoc) == [DataReceived(3, 53, b"good", False)]
    sent = sent_chunks(out(assoc, 0.1))
    errors = [ch for ch in sent if isinstance(ch, c.ErrorChunk)]
    assert [e.causes for e in errors] == [((c.CAUSE_INVALID_STREAM, b"\x00\x04\x00\x00"),)]
    sacks = [ch for ch in sent if isinstance(ch, c.SackChunk)]
    assert sacks and sacks[-1].cum_tsn == PEER_TSN + 1 and sacks[-1].gaps == ()


# -- §6.2: DATA without user data ---------------------------------------------------------


def test_data_without_user_data_is_answered_with_abort() -> None:
    assoc = new()
    ack = establish(assoc)
    events(assoc)
    empty = struct.pack("!BBHIHHI", c.CHUNK_DATA, 3, 16, PEER_TSN, 1, 0, 53)
    assoc.receive_datagram(pkt(ack.initiate_tag, empty), 0.1)
    (packet,) = out(assoc, 0.1)
    assert packet.vtag == PEER_TAG
    (abort,) = packet.chunks
    assert isinstance(abort, c.AbortChunk)
    assert abort.causes == ((c.CAUSE_NO_USER_DATA, struct.pack("!I", PEER_TSN)),)
    assert state(assoc) is AssociationState.CLOSED
    (closed,) = events(assoc)
    assert isinstance(closed, AssociationClosed) and closed.error


# -- §5.2.6: Stale Cookie ------------------------------------------------------------------


def test_stale_cookie_error_in_cookie_echoed_sends_new_init_with_cookie_preservative() -> None:
    assoc = new()
    assoc.start(0.0)
    (init,) = sent_chunks(out(assoc))
    assert isinstance(init, c.InitChunk)
    assert init.param(c.PARAM_COOKIE_PRESERVATIVE) is None
    ack = c.InitAckChunk(PEER_TAG, 1 << 20, 65535, 65535, PEER_TSN, ((7, b"C" * 40), *EXTENSIONS))
    assoc.receive_datagram(pkt(init.initiate_tag, ack), 0.0)
    (echo,) = sent_chunks(out(assoc))
    assert echo == c.CookieEchoChunk(b"C" * 40)
    assert state(assoc) is AssociationState.COOKIE_ECHOED
    stale = c.ErrorChunk(((c.CAUSE_STALE_COOKIE, struct.pack("!I", 2_500_000)),))
    assoc.receive_datagram(pkt(init.initiate_tag, stale), 0.2)  # 200 ms after the echo
    assert state(assoc) is AssociationState.COOKIE_WAIT
    (again,) = sent_chunks(out(assoc, 0.2))
    assert isinstance(again, c.InitChunk)
    # RTT (200 ms) plus the staleness, of which at most 1 s.
    assert again.param(c.PARAM_COOKIE_PRESERVATIVE) == struct.pack("!I", 1200)
    # T1 restarted with a fresh INIT, never the stale cookie again.
    timer = assoc.get_timer()
    assert timer is not None
    assoc.handle_timer(timer)
    assert [type(ch) for ch in sent_chunks(out(assoc, timer))] == [c.InitChunk]
    # The new INIT ACK's cookie is echoed, and the association comes up.
    fresh = c.InitAckChunk(PEER_TAG + 1, 1 << 20, 9, 9, PEER_TSN, ((7, b"D" * 40),))
    assoc.receive_datagram(pkt(init.initiate_tag, fresh), timer)
    assert sent_chunks(out(assoc, timer)) == [c.CookieEchoChunk(b"D" * 40)]
    assoc.receive_datagram(pkt(init.initiate_tag, c.CookieAckChunk()), timer)
    assert state(assoc) is AssociationState.ESTABLISHED


def test_cookie_preservative_extends_our_cookie_lifetime() -> None:
    assoc = new()
    init = init_chunk(params=((c.PARAM_COOKIE_PRESERVATIVE, struct.pack("!I", 5000)),))
    assoc.receive_datagram(pkt(0, init), 0.0)
    (ack,) = sent_chunks(out(assoc))
    assert isinstance(ack, c.InitAckChunk)
    cookie = ack.param(c.PARAM_STATE_COOKIE)
    assert cookie is not None
    assoc.receive_datagram(pkt(ack.initiate_tag, c.CookieEchoChunk(cookie)), 64.0)
    assert state(assoc) is AssociationState.ESTABLISHED


# -- RFC 6525 §5.2.5: Add Outgoing Streams -------------------------------------------------


def add_outgoing(seq: int, count: int) -> c.ReconfigChunk:
    value = struct.pack("!IHH", seq, count, 0)
    return c.ReconfigChunk((c.UnknownReconfigParam(c.PARAM_ADD_OUTGOING_STREAMS, value),))


def test_add_outgoing_streams_request_is_granted_within_limit() -> None:
    assoc = new()
    ack = establish(assoc, init_chunk(os=256))  # as Firefox/usrsctp announce
    events(assoc)
    assoc.receive_datagram(pkt(ack.initiate_tag, add_outgoing(PEER_TSN, 256)), 0.1)
    responses = [ch for ch in sent_chunks(out(assoc, 0.1)) if isinstance(ch, c.ReconfigChunk)]
    assert [r.params for r in responses] == [
        (c.ReconfigResponse(PEER_TSN, c.RESULT_SUCCESS_PERFORMED),)
    ]
    assoc.receive_datagram(pkt(ack.initiate_tag, data(PEER_TSN, 300, b"beyond 256")), 0.2)
    assert events(assoc) == [DataReceived(300, 53, b"beyond 256", False)]
    # Beyond our MIS (65535 in all): denied, and the count stays.
    assoc.receive_datagram(pkt(ack.initiate_tag, add_outgoing(PEER_TSN + 1, 65535)), 0.3)
    responses = [ch for ch in sent_chunks(out(assoc, 0.3)) if isinstance(ch, c.ReconfigChunk)]
    assert [r.params for r in responses] == [(c.ReconfigResponse(PEER_TSN + 1, c.RESULT_DENIED),)]
    assoc.receive_datagram(pkt(ack.initiate_tag, data(PEER_TSN + 1, 512, b"x")), 0.4)
    assert events(assoc) == []
    sent = sent_chunks(out(assoc, 0.4))
    assert any(
        isinstance(ch, c.ErrorChunk) and ch.causes[0][0] == c.CAUSE_INVALID_STREAM for ch in sent
    )


# -- RFC 3758 §3.3, RFC 6525 §4: extensions the peer did not announce ----------------------


def test_no_forward_tsn_or_reconfig_sent_to_peer_without_support() -> None:
    assoc = new()
    ack = establish(assoc, init_chunk(params=()))
    events(assoc)
    # Partial reliability degrades to reliable: the message is retransmitted, never
    # abandoned with a FORWARD TSN.
    assoc.send(1, 53, b"partially reliable", max_retransmits=0, now=0.0)
    first = [ch for ch in sent_chunks(out(assoc)) if isinstance(ch, c.DataChunk)]
    assert [d.user_data for d in first] == [b"partially reliable"]
    timer = assoc.get_timer()
    assert timer is not None
    for _ in range(3):
        assoc.handle_timer(timer)
        sent = sent_chunks(out(assoc, timer))
        assert not any(isinstance(ch, c.ForwardTsnChunk) for ch in sent)
        assert [ch.user_data for ch in sent if isinstance(ch, c.DataChunk)] == [
            b"partially reliable"
        ]
        timer = assoc.get_timer()
        assert timer is not None
    # A stream reset cannot be asked for: no RE-CONFIG; it completes locally.
    events(assoc)
    assoc.reset_streams([1], timer)
    assert events(assoc) == [OutgoingStreamsReset((1,)), StreamsReset((1,))]
    assoc.receive_datagram(pkt(ack.initiate_tag, c.SackChunk(ack.initial_tsn, 1 << 20)), timer)
    assert not any(isinstance(ch, c.ReconfigChunk) for ch in sent_chunks(out(assoc, timer)))


def test_unrecognized_init_ack_parameters_are_reported_after_cookie_echo() -> None:
    assoc = new()
    assoc.start(0.0)
    (init,) = sent_chunks(out(assoc))
    assert isinstance(init, c.InitChunk)
    params = ((7, b"C" * 40), *EXTENSIONS, (0xC123, b"abc"), (0x8124, b"quiet"))
    ack = c.InitAckChunk(PEER_TAG, 1 << 20, 65535, 65535, PEER_TSN, params)
    assoc.receive_datagram(pkt(init.initiate_tag, ack), 0.0)
    (packet,) = out(assoc)
    assert packet.chunks == (
        c.CookieEchoChunk(b"C" * 40),
        c.ErrorChunk(((c.CAUSE_UNRECOGNIZED_PARAMETERS, struct.pack("!HH", 0xC123, 7) + b"abc"),)),
    )


def shuttle(a: SctpAssociation, b: SctpAssociation, now: float) -> None:
    """Carry packets both ways until neither side has anything to send."""
    for _ in range(50):
        moved = False
        for source, target in ((a, b), (b, a)):
            for datagram in source.datagrams_to_send(now):
                target.receive_datagram(datagram, now)
                moved = True
        if not moved:
            return
    raise AssertionError("no quiescence")


def test_restarted_peer_reconnects_and_both_sides_carry_data() -> None:
    server = new(seed=1)
    client = SctpAssociation(is_client=True, rng=random.Random(2))
    client.start(0.0)
    shuttle(client, server, 0.0)
    assert state(client) is state(server) is AssociationState.ESTABLISHED
    events(server)
    # The client's process restarts: a brand-new association over the same DTLS session.
    reborn = SctpAssociation(is_client=True, rng=random.Random(3))
    reborn.start(1.0)
    shuttle(reborn, server, 1.0)
    assert state(reborn) is AssociationState.ESTABLISHED
    assert events(server) == [AssociationRestarted(65535, 65535)]
    reborn.send(0, 51, b"from the reborn peer", now=1.0)
    server.send(1, 51, b"from the server", now=1.0)
    shuttle(reborn, server, 1.0)
    delivered = [e for e in events(server) if isinstance(e, DataReceived)]
    assert delivered == [DataReceived(0, 51, b"from the reborn peer", False)]
    received = [e for e in events(reborn) if isinstance(e, DataReceived)]
    assert received == [DataReceived(1, 51, b"from the server", False)]
