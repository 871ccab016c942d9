"""SCTP association: setup, data, bundling, windows, resets, shutdown, abort, attacks."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sctp_helpers import Peer, make_pair, payload

from trio_webrtc.errors import InvalidStateError, LocalProtocolError
from trio_webrtc.sctp import (
    AssociationClosed,
    AssociationEstablished,
    AssociationState,
    BufferedAmountLow,
    OutgoingStreamsReset,
    SctpAssociation,
    SendBufferFullError,
    StreamsReset,
)
from trio_webrtc.sctp import chunks as c
from trio_webrtc.testing import LinkConditions, VirtualLink


def new(seed: int = 5, **kw: object) -> SctpAssociation:
    return SctpAssociation(is_client=True, rng=random.Random(seed), **kw)  # type: ignore[arg-type]


def chunk_types(packet: bytes) -> list[int]:
    return [t for t, _, _, _ in c.iter_chunks(packet)]


# -- setup ---------------------------------------------------------------------------------


def test_client_only_init_establishes() -> None:
    client, server, _link = make_pair()
    assert client.assoc.state is server.assoc.state is AssociationState.ESTABLISHED
    assert isinstance(client.events[0], AssociationEstablished)
    first = c.parse_packet(client.sent_packets[0])
    assert first.vtag == 0 and isinstance(first.chunks[0], c.InitChunk)
    init = first.chunks[0]
    assert init.param(c.PARAM_FORWARD_TSN_SUPPORTED) == b""
    assert init.param(c.PARAM_SUPPORTED_EXTENSIONS) == bytes([0xC0, 0x82])


def test_simultaneous_init_from_both_sides() -> None:
    client, server, link = make_pair(both_start=True)
    assert client.assoc.state is server.assoc.state is AssociationState.ESTABLISHED
    assert len(client.of_type(AssociationEstablished)) == 1
    assert len(server.of_type(AssociationEstablished)) == 1
    client.assoc.send(0, 51, b"ping", now=link.now)
    server.assoc.send(0, 51, b"pong", now=link.now)
    link.run(lambda: bool(client.received and server.received))
    assert server.received[0].data == b"ping" and client.received[0].data == b"pong"


@pytest.mark.parametrize("seed", range(6))
def test_simultaneous_init_under_loss(seed: int) -> None:
    client, server, _link = make_pair(LinkConditions(loss=0.3), seed=seed, both_start=True)
    assert client.assoc.state is server.assoc.state is AssociationState.ESTABLISHED


def test_init_timer_values_and_exhaustion() -> None:
    a = new()
    a.start(0.0)
    assert a.get_timer() == 1.0
    packets = a.datagrams_to_send(0.0)
    assert len(packets) == 1 and chunk_types(packets[0]) == [c.CHUNK_INIT]
    a.handle_timer(1.0)
    assert a.get_timer() == 3.0
    assert chunk_types(a.datagrams_to_send(1.0)[0]) == [c.CHUNK_INIT]
    a.handle_timer(3.0)
    assert a.get_timer() == 7.0
    now = 7.0
    inits = 2
    while a.get_timer() is not None:
        now = a.get_timer()  # type: ignore[assignment]
        a.handle_timer(now)
        inits += len(a.datagrams_to_send(now))
    assert inits == 1 + 8  # the first INIT and Max.Init.Retransmits retransmissions
    event = a.next_event()
    assert event == AssociationClosed("association setup timed out", True)
    assert a.state is AssociationState.CLOSED


def test_get_timer_none_when_idle_and_closed() -> None:
    a = new()
    assert a.get_timer() is None
    assert a.datagrams_to_send(0.0) == []


# -- data ----------------------------------------------------------------------------------


@pytest.mark.parametrize("ordered", [True, False])
def test_message_sizes(ordered: bool) -> None:
    client, server, link = make_pair()
    sizes = [1, 2, 3, 4, 5, 100, 1155, 1156, 1157, 4096, 65535, 65536, 200_000, 256 * 1024]
    messages = [payload(n, n) for n in sizes]
    for i, m in enumerate(messages):
        client.assoc.send(i % 3, 50 + i, m, ordered=ordered, now=link.now)
    link.run(lambda: len(server.received) == len(messages))
    got = sorted(server.received, key=lambda e: e.ppid)
    assert [e.data for e in got] == messages
    assert all(e.unordered is (not ordered) for e in got)
    assert [e.stream_id for e in got] == [i % 3 for i in range(len(sizes))]
    if ordered:  # per stream, order is kept
        for sid in range(3):
            ppids = [e.ppid for e in server.received if e.stream_id == sid]
            assert ppids == sorted(ppids)


def test_oversized_message_is_discarded_association_survives() -> None:
    # The reassembly limit is at least the largest DCEP OPEN (12 + 2 x 65535 bytes).
    client, server, link = make_pair(server_kw={"max_receive_message_size": 10_000})
    client.assoc.send(1, 53, payload(140_000), now=link.now)
    client.assoc.send(1, 53, b"after", now=link.now)
    client.assoc.send(2, 53, payload(140_000), ordered=False, now=link.now)
    client.assoc.send(2, 53, b"unordered-after", ordered=False, now=link.now)
    link.run(lambda: len(server.received) == 2 and client.assoc.buffered_amount(1) == 0)
    assert {e.data for e in server.received} == {b"after", b"unordered-after"}
    assert server.assoc.state is AssociationState.ESTABLISHED
    assert server.assoc._inbound is not None and server.assoc._inbound.held == 0


def test_send_errors() -> None:
    a = new()
    with pytest.raises(InvalidStateError):
        a.send(0, 51, b"x", now=0.0)
    a.start(0.0)
    with pytest.raises(LocalProtocolError):
        a.send(0, 51, b"", now=0.0)
    with pytest.raises(LocalProtocolError):
        a.send(70000, 51, b"x", now=0.0)
    small = new(max_send_buffer=1000)
    small.start(0.0)
    small.send(0, 51, bytes(600), now=0.0)
    with pytest.raises(SendBufferFullError):
        small.send(0, 51, bytes(600), now=0.0)
    assert small.buffered_amount(0) == 600
    assert issubclass(SendBufferFullError, LocalProtocolError)


def test_bundling_and_sack_coalescing() -> None:
    client, server, link = make_pair()
    start = len(client.sent_packets), len(server.sent_packets)
    for i in range(2000):
        client.assoc.send(1, 51, payload(100, i), now=link.now)
    link.run(lambda: len(server.received) == 2000)
    data_packets = client.sent_packets[start[0] :]
    per_packet = [chunk_types(p).count(c.CHUNK_DATA) for p in data_packets]
    assert max(per_packet) >= 9  # (1200 - 12) // 116 = 10 with a SACK slot kept free
    assert sum(per_packet) == 2000
    assert all(len(p) <= 1200 for p in client.sent_packets)
    sacks = sum(chunk_types(p).count(c.CHUNK_SACK) for p in server.sent_packets[start[1] :])
    assert sacks <= len(data_packets) // 2 + 2
    # Bulk: full-size packets.
    client.assoc.send(2, 53, payload(250_000), now=link.now)
    before = len(client.sent_packets)
    link.run(lambda: len(server.received) == 2001)
    sizes = [len(p) for p in client.sent_packets[before:]]
    assert sum(s >= 1150 for s in sizes) >= len(sizes) * 0.9


def test_sack_is_bundled_before_data() -> None:
    client, server, link = make_pair()
    client.assoc.send(1, 51, b"one", now=link.now)
    link.run(lambda: len(server.received) == 1)
    # The server owes a delayed SACK; it rides in front of its own DATA.
    server.assoc.send(1, 51, b"reply", now=link.now)
    packet = server.assoc.datagrams_to_send(link.now)
    assert len(packet) == 1
    assert chunk_types(packet[0]) == [c.CHUNK_SACK, c.CHUNK_DATA]


def test_immediate_sack_when_sender_queue_drains() -> None:
    client, server, link = make_pair()
    client.assoc.send(1, 51, b"x", now=link.now)
    (packet,) = client.assoc.datagrams_to_send(link.now)
    data = c.parse_packet(packet).chunks[0]
    assert isinstance(data, c.DataChunk) and data.flags & c.FLAG_IMMEDIATE
    server.assoc.receive_datagram(packet, link.now)
    assert [chunk_types(p) for p in server.assoc.datagrams_to_send(link.now)] == [[c.CHUNK_SACK]]


def test_delayed_ack_timer() -> None:
    client, server, link = make_pair()
    client.assoc.send(1, 51, b"x", now=link.now)
    (packet,) = client.assoc.datagrams_to_send(link.now)
    parsed = c.parse_packet(packet)
    data = parsed.chunks[0]
    assert isinstance(data, c.DataChunk)
    plain = c.DataChunk(data.flags & ~c.FLAG_IMMEDIATE, data.tsn, 1, 0, 51, b"x")
    server.assoc.receive_datagram(c.encode_packet(5000, 5000, parsed.vtag, [plain.encode()]), 10.0)
    assert server.assoc.datagrams_to_send(10.0) == []
    assert server.assoc.get_timer() == pytest.approx(10.04)  # acks.DELAYED_ACK: 40 ms
    server.assoc.handle_timer(10.04)
    out = server.assoc.datagrams_to_send(10.04)
    assert [chunk_types(p) for p in out] == [[c.CHUNK_SACK]]


def test_buffered_amount_low_event() -> None:
    client, _server, link = make_pair()
    client.assoc.set_buffered_amount_low_threshold(4, 10_000)
    client.assoc.send(4, 53, payload(50_000), now=link.now)
    assert client.assoc.buffered_amount(4) == 50_000
    link.run(lambda: client.assoc.buffered_amount(4) == 0)
    client.drain()  # the last transmission may have crossed the threshold: its event
    assert client.of_type(BufferedAmountLow) == [BufferedAmountLow(4)]


def test_receive_window_backpressure() -> None:
    window = 64 * 1024
    client, server, link = make_pair(server_kw={"receive_window": window})
    server.consume = False
    for i in range(100):
        client.assoc.send(1, 53, payload(4000, i), now=link.now)
    inbound = server.assoc._inbound
    assert inbound is not None
    for _ in range(2000):
        link.step()
        assert inbound.unconsumed + inbound.held <= window
    stalled = client.assoc.buffered_amount(1)
    assert stalled >= 400_000 - window - 4000
    link.run(lambda: link.now > 30)  # zero-window probes, but no progress and no failure
    assert client.assoc.buffered_amount(1) == stalled
    assert inbound.unconsumed + inbound.held <= window
    assert client.assoc.state is AssociationState.ESTABLISHED
    # The application reads everything: the window reopens and the rest flows.
    server.consume = True

    def read_all() -> bool:
        server.assoc.data_consumed(inbound.unconsumed)
        return len(server.received) == 100

    t0 = link.now
    link.run(read_all, timeout=30)
    assert link.now - t0 < 5
    assert [e.data for e in server.received] == [payload(4000, i) for i in range(100)]


# -- stream reset --------------------------------------------------------------------------


def test_stream_reset_both_directions() -> None:
    client, server, link = make_pair()
    client.assoc.send(3, 51, b"a", now=link.now)
    client.assoc.send(3, 51, b"b", now=link.now)
    client.assoc.reset_streams([3], link.now)
    with pytest.raises(InvalidStateError):
        client.assoc.send(3, 51, b"c", now=link.now)
    link.run(lambda: bool(client.of_type(OutgoingStreamsReset)))
    assert server.of_type(StreamsReset) == [StreamsReset((3,))]
    assert client.of_type(OutgoingStreamsReset) == [OutgoingStreamsReset((3,))]
    assert [e.data for e in server.received] == [b"a", b"b"]
    # The peer closes its side too (what a data channel does), then the stream is reused.
    server.assoc.reset_streams([3], link.now)
    link.run(lambda: bool(server.of_type(OutgoingStreamsReset)))
    assert client.of_type(StreamsReset) == [StreamsReset((3,))]
    client.assoc.send(3, 51, b"reused", now=link.now)
    link.run(lambda: len(server.received) == 3)
    assert server.received[-1].data == b"reused"


def test_stream_reset_waits_for_lost_data() -> None:
    client, server, link = make_pair(LinkConditions(loss=0.3), seed=9)
    for i in range(30):
        client.assoc.send(7, 53, payload(3000, i), now=link.now)
    client.assoc.reset_streams([7], link.now)
    link.run(lambda: bool(client.of_type(OutgoingStreamsReset)), timeout=1000)
    # Every message sent before the reset arrived before the StreamsReset event.
    index = server.events.index(StreamsReset((7,)))
    delivered = [e for e in server.events[:index] if e in server.received]
    assert len(delivered) == 30


# -- shutdown and abort --------------------------------------------------------------------


def test_graceful_shutdown_after_queued_data() -> None:
    client, server, link = make_pair()
    client.assoc.send(1, 53, payload(100_000), now=link.now)
    client.assoc.shutdown(link.now)
    assert client.assoc.state is AssociationState.SHUTDOWN_PENDING
    with pytest.raises(InvalidStateError):
        client.assoc.send(1, 53, b"late", now=link.now)
    link.run(lambda: bool(client.closed and server.closed))
    assert client.closed == AssociationClosed("shutdown complete", False)
    assert server.closed == AssociationClosed("shutdown complete", False)
    assert server.received[0].data == payload(100_000)
    assert client.assoc.get_timer() is None and server.assoc.get_timer() is None


def test_abort_both_ends_close_with_error() -> None:
    client, server, link = make_pair()
    client.assoc.abort("bye")
    assert client.assoc.state is AssociationState.CLOSED
    link.run(lambda: server.closed is not None)
    client.drain()
    assert client.closed is not None and client.closed.error
    assert server.closed is not None and server.closed.error and "bye" in server.closed.reason


def test_too_many_retransmissions_closes() -> None:
    client, _server, link = make_pair()
    link.blackout(link.now, link.now + 10_000)
    client.assoc.send(1, 53, b"into the void", now=link.now)
    link.run(lambda: client.closed is not None, timeout=5000)
    assert client.closed is not None and client.closed.error
    assert "retransmissions" in client.closed.reason


def test_heartbeat_on_idle_path() -> None:
    client, server, link = make_pair()
    before = len(client.sent_packets)
    link.run(lambda: link.now > 100, timeout=200)
    types = [chunk_types(p) for p in client.sent_packets[before:]]
    assert [c.CHUNK_HEARTBEAT] in types
    assert [c.CHUNK_HEARTBEAT_ACK] in [chunk_types(p) for p in server.sent_packets]
    assert client.assoc.state is AssociationState.ESTABLISHED


# -- hostile input -------------------------------------------------------------------------


def test_wrong_verification_tag_and_bad_checksum_dropped() -> None:
    client, server, link = make_pair()
    client.assoc.send(1, 53, b"hello", now=link.now)
    packet = client.assoc.datagrams_to_send(link.now)[0]
    bad_tag = c.encode_packet(5000, 5000, 12345, [packet[12:]])
    server.receive_datagram(bad_tag, link.now)
    bad_crc = packet[:-1] + bytes([packet[-1] ^ 0xFF])
    server.receive_datagram(bad_crc, link.now)
    wrong_port = c.encode_packet(5001, 5000, c.parse_packet(packet).vtag, [packet[12:]])
    server.receive_datagram(wrong_port, link.now)
    assert server.received == [] and server.assoc.dropped_packets == 3
    server.receive_datagram(packet, link.now)
    assert [e.data for e in server.received] == [b"hello"]


def _init_packet(tag: int = 0x11223344, tsn: int = 1000) -> bytes:
    init = c.InitChunk(tag, 65536, 10, 10, tsn)
    return c.encode_packet(5000, 5000, 0, [init.encode()])


def _cookie_from(assoc: SctpAssociation, now: float) -> bytes:
    assoc.receive_datagram(_init_packet(), now)
    (reply,) = assoc.datagrams_to_send(now)
    ack = c.parse_packet(reply).chunks[0]
    assert isinstance(ack, c.InitAckChunk)
    cookie = ack.param(c.PARAM_STATE_COOKIE)
    assert cookie is not None
    return cookie


def test_init_flood_creates_no_state() -> None:
    server = new(7)
    replies = 0
    for i in range(1000):
        server.receive_datagram(_init_packet(0x1000 + i, i), float(i) / 100)
        if i % 10 == 9:
            replies += len(server.datagrams_to_send(float(i) / 100))
    assert replies == 1000
    assert server.state is AssociationState.CLOSED
    assert server._inbound is None and server.next_event() is None
    assert server.get_timer() is None
    # Unanswered INITs are bounded too.
    for i in range(1000):
        server.receive_datagram(_init_packet(0x5000 + i, i), 20.0)
    assert len(server.datagrams_to_send(20.0)) <= 32


def test_forged_and_stale_cookies_rejected() -> None:
    server = new(7)
    cookie = _cookie_from(server, 0.0)
    vtag = int.from_bytes(cookie[9:13], "big")  # local tag inside the cookie body
    forged = bytearray(cookie)
    forged[20] ^= 1
    server.receive_datagram(
        c.encode_packet(5000, 5000, vtag, [c.CookieEchoChunk(bytes(forged)).encode()]), 1.0
    )
    assert server.state is AssociationState.CLOSED and server.datagrams_to_send(1.0) == []
    echo = c.encode_packet(5000, 5000, vtag, [c.CookieEchoChunk(cookie).encode()])
    server.receive_datagram(echo, 61.5)  # older than 60 s
    assert server.state is AssociationState.CLOSED
    (error,) = server.datagrams_to_send(61.5)
    parsed = c.parse_packet(error)
    assert parsed.vtag == 0x11223344
    assert isinstance(parsed.chunks[0], c.ErrorChunk)
    assert parsed.chunks[0].causes[0][0] == c.CAUSE_STALE_COOKIE
    assert server.dropped_packets == 2
    # The genuine, fresh cookie works.
    server.receive_datagram(echo, 30.0)
    assert server.state.value == "established"
    assert isinstance(server.next_event(), AssociationEstablished)


def test_cookie_from_another_association_rejected() -> None:
    cookie = _cookie_from(new(8), 0.0)
    server = new(7)
    vtag = int.from_bytes(cookie[9:13], "big")
    server.receive_datagram(
        c.encode_packet(5000, 5000, vtag, [c.CookieEchoChunk(cookie).encode()]), 1.0
    )
    assert server.state is AssociationState.CLOSED and server.dropped_packets == 1


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=4, max_size=200), st.booleans())
def test_fuzz_established_association_never_raises(body: bytes, right_tag: bool) -> None:
    client, server, link = make_pair()
    vtag = c.parse_packet(client.sent_packets[-1]).vtag if right_tag else 99
    server.assoc.receive_datagram(c.encode_packet(5000, 5000, vtag, [body]), link.now)
    server.assoc.datagrams_to_send(link.now)
    server.assoc.handle_timer(link.now + 1)


def test_peer_does_not_matter_which_side_is_client() -> None:
    a = Peer(is_client=False, seed=40)
    b = Peer(is_client=False, seed=41)
    link = VirtualLink(a, b)
    b.assoc.start(0.0)
    link.run(lambda: a.established and b.established)
