"""SCTP review regressions: TSN wrap-around, unknown chunk types, RE-CONFIG requests this
stack does not implement, and PR-SCTP abandonment of partly sent messages."""

from __future__ import annotations

import struct

import pytest
from sctp_helpers import Peer, make_pair, payload

from trio_webrtc.sctp import AssociationState, OutgoingStreamsReset, StreamsReset
from trio_webrtc.sctp import chunks as c
from trio_webrtc.testing import LinkConditions, VirtualLink

NEAR_WRAP = (1 << 32) - 40


def _near_wrap_pair(conditions: LinkConditions | None, seed: int) -> tuple[Peer, Peer, VirtualLink]:
    client = Peer(is_client=True, seed=seed * 2 + 1)
    server = Peer(is_client=False, seed=seed * 2 + 2)
    for peer, tsn in ((client, NEAR_WRAP), (server, NEAR_WRAP + 17)):
        assoc = peer.assoc
        assoc._local_tsn = tsn
        assoc._outbound.next_tsn = tsn
        assoc._outbound.cum_ack = tsn - 1
    link = VirtualLink(client, server, conditions, seed=seed)
    client.assoc.start(link.now)
    link.run(lambda: client.established and server.established, timeout=120)
    return client, server, link


@pytest.mark.parametrize("seed", range(3))
def test_tsn_wraparound_lossy_ordered_fragmented(seed: int) -> None:
    client, server, link = _near_wrap_pair(
        LinkConditions(loss=0.1, reorder=0.1, duplicate=0.05), seed
    )
    messages = [payload(1 + (i * 997) % 5000, i) for i in range(120)]
    for i, m in enumerate(messages):
        client.assoc.send(1, 53, m, now=link.now)
        server.assoc.send(2, 53, m, ordered=i % 2 == 0, now=link.now)
    link.run(lambda: len(server.received) == len(client.received) == 120, timeout=600)
    assert [e.data for e in server.received] == messages
    assert sorted(e.data for e in client.received) == sorted(messages)
    assert client.assoc._outbound.next_tsn > 1 << 32  # the TSNs did wrap on the wire
    assert client.assoc.state is server.assoc.state is AssociationState.ESTABLISHED
    # Stream reset (its sequence numbers start at the initial TSN) across the wrap. A
    # message acknowledged after each clears the association's error counter (RFC 9260
    # §8.1: only acknowledged DATA or a HEARTBEAT ACK does), else 45 resets through 10 %
    # loss each way count their T-reconfig expiries up to the abort limit, by seed luck.
    for i in range(45):
        client.assoc.reset_streams([1], link.now)
        link.run(lambda: not client.assoc._reconfig.resetting, timeout=60)  # type: ignore[union-attr]
        client.assoc.send(3, 53, b"tick", now=link.now)
        link.run(lambda i=i: len(server.received) == 121 + i, timeout=60)  # type: ignore[misc]
    assert client.assoc._reconfig._next_request_seq < 100  # type: ignore[union-attr]


def test_tsn_wraparound_pr_sctp() -> None:
    client, server, link = _near_wrap_pair(LinkConditions(loss=0.3), 7)
    for i in range(100):
        client.assoc.send(3, 51, payload(3000, i), max_retransmits=0, now=link.now)
    client.assoc.send(3, 51, b"last", now=link.now)
    link.run(lambda: bool(server.received) and server.received[-1].data == b"last", timeout=600)
    datas = [e.data for e in server.received]
    assert datas == sorted(set(datas), key=datas.index)  # in order, no duplicates
    assert server.assoc._inbound is not None and server.assoc._inbound.held == 0


def _exchange(a: Peer, b: Peer, now: float, rounds: int = 50) -> None:
    """Deliver packets both ways, without loss, until neither side has any to send."""
    for _ in range(rounds):
        moved = False
        for src, dst in ((a, b), (b, a)):
            for packet in src.datagrams_to_send(now):
                dst.receive_datagram(packet, now)
                moved = True
        if not moved:
            for peer in (a, b):
                timer = peer.get_timer()
                if timer is not None and timer <= now:
                    peer.handle_timer(now)
                    moved = True
        if not moved:
            return


def test_expired_message_whose_sent_fragments_were_all_acked_is_skipped() -> None:
    """A message abandoned while its first fragments were sent and acknowledged but its
    rest was never given TSNs (here the sender's flush comes late; in a driver, cwnd or
    the peer's rwnd can hold it back): the receiver must still learn to drop those
    fragments and skip the SSN, or the ordered stream stalls and they hold its window."""
    client, server, link = make_pair()
    now = link.now
    client.assoc.send(1, 53, payload(20_000), lifetime=1.0, now=now)
    for packet in client.datagrams_to_send(now):  # the first cwnd's worth of fragments
        server.receive_datagram(packet, now)
    server.handle_timer(now + 0.3)  # delayed SACK
    for packet in server.datagrams_to_send(now + 0.3):
        client.receive_datagram(packet, now + 0.3)
    assert not client.assoc.has_outstanding_data  # everything sent so far is acknowledged
    now += 2.0  # the message's lifetime ends before the sender cuts its next fragment
    client.assoc.send(1, 51, b"after", now=now)
    client.assoc.send(2, 51, b"other stream", now=now)
    for step in range(40):
        _exchange(client, server, now + step * 0.5)
    assert sorted(e.data for e in server.received) == [b"after", b"other stream"]
    assert server.assoc._inbound is not None and server.assoc._inbound.held == 0
    assert not client.assoc.has_outstanding_data


def _inject(peer: Peer, sender: Peer, chunks: list[bytes], now: float) -> None:
    a = sender.assoc
    packet = c.encode_packet(a._local_port, a._remote_port, a._peer_tag, chunks)
    peer.receive_datagram(packet, now)


def _data(tsn: int, sid: int, ssn: int, body: bytes) -> bytes:
    return c.DataChunk(c.FLAG_BEGIN | c.FLAG_END, tsn, sid, ssn, 51, body).encode()


def _errors(packets: list[bytes]) -> list[tuple[int, bytes]]:
    causes: list[tuple[int, bytes]] = []
    for packet in packets:
        for chunk in c.parse_packet(packet).chunks:
            if isinstance(chunk, c.ErrorChunk):
                causes.extend(chunk.causes)
    return causes


@pytest.mark.parametrize(
    ("ctype", "reported", "rest_processed"),
    [(0x0D, False, False), (0x40, True, False), (0x84, False, True), (0xC4, True, True)],
)
def test_unknown_chunk_type_upper_bits(ctype: int, reported: bool, rest_processed: bool) -> None:
    client, server, link = make_pair()
    tsn = client.assoc._outbound.next_tsn
    unknown = c.UnknownChunk(ctype, 0, b"\x01\x02\x03").encode()
    _inject(server, client, [_data(tsn, 1, 0, b"before"), unknown, _data(tsn + 1, 1, 1, b"x")], 1)
    assert [e.data for e in server.received] == [b"before", b"x"][: 2 if rest_processed else 1]
    causes = _errors(server.assoc.datagrams_to_send(link.now))
    assert (causes == [(c.CAUSE_UNRECOGNIZED_CHUNK, unknown[:7])]) is reported
    assert not causes or reported
    assert server.assoc.state is AssociationState.ESTABLISHED


def _responses(packets: list[bytes]) -> list[tuple[int, int]]:
    out = []
    for packet in packets:
        for chunk in c.parse_packet(packet).chunks:
            if isinstance(chunk, c.ReconfigChunk):
                out += [
                    (p.response_seq, p.result)
                    for p in chunk.params
                    if isinstance(p, c.ReconfigResponse)
                ]
    return out


@pytest.mark.parametrize("ptype", [15, 17, 18])
def test_ssn_tsn_reset_and_add_streams_requests_are_denied(ptype: int) -> None:
    client, server, link = make_pair()
    seq = client.assoc._local_tsn
    body = seq.to_bytes(4, "big") + (b"" if ptype == 15 else struct.pack("!HH", 4, 0))
    request = c.ReconfigChunk((c.UnknownReconfigParam(ptype, body),)).encode()
    _inject(server, client, [request], link.now)
    assert _responses(server.assoc.datagrams_to_send(link.now)) == [(seq, c.RESULT_DENIED)]
    _inject(server, client, [request], link.now)  # a retransmission: the same answer
    assert _responses(server.assoc.datagrams_to_send(link.now)) == [(seq, c.RESULT_DENIED)]
    # The sequence number moved on: the peer's next request (a real reset) is performed.
    client.assoc._reconfig._next_request_seq = seq + 1  # type: ignore[union-attr]
    client.assoc.send(1, 51, b"x", now=link.now)
    link.run(lambda: len(server.received) == 1)
    client.assoc.reset_streams([1], link.now)
    link.run(lambda: not client.assoc._reconfig.resetting)  # type: ignore[union-attr]
    assert [e.stream_ids for e in server.of_type(StreamsReset)] == [(1,)]  # type: ignore[attr-defined]


@pytest.mark.parametrize("result", [c.RESULT_DENIED, c.RESULT_ERROR_WRONG_SSN])
def test_a_refused_outgoing_reset_still_completes_without_resetting_ssns(result: int) -> None:
    client, server, link = make_pair()
    client.assoc.send(1, 51, b"x", now=link.now)
    link.run(lambda: len(server.received) == 1)
    reconfig = client.assoc._reconfig
    assert reconfig is not None
    client.assoc.reset_streams([1], link.now)
    client.assoc.datagrams_to_send(link.now)  # the request goes out (and is lost here)
    request = reconfig._outstanding
    assert request is not None
    answer = c.ReconfigChunk((c.ReconfigResponse(request.request_seq, result),)).encode()
    _inject(client, server, [answer], link.now)
    assert [e.stream_ids for e in client.of_type(OutgoingStreamsReset)] == [(1,)]
    assert not reconfig.resetting and reconfig._outstanding is None
    # SSNs were not reset: the next message on stream 1 carries SSN 1, as the peer expects.
    client.assoc.send(1, 51, b"y", now=link.now)
    link.run(lambda: len(server.received) == 2)


def test_request_already_in_progress_is_retried() -> None:
    client, server, link = make_pair()
    reconfig = client.assoc._reconfig
    assert reconfig is not None
    client.assoc.reset_streams([1], link.now)
    client.assoc.datagrams_to_send(link.now)
    request = reconfig._outstanding
    assert request is not None
    answer = c.ReconfigChunk((c.ReconfigResponse(request.request_seq, 4),)).encode()
    _inject(client, server, [answer], link.now)
    assert reconfig._outstanding is request and reconfig.resetting == {1}
    assert not client.of_type(OutgoingStreamsReset)
    link.run(lambda: bool(client.of_type(OutgoingStreamsReset)), timeout=30)
    assert [e.stream_ids for e in client.of_type(OutgoingStreamsReset)] == [(1,)]
