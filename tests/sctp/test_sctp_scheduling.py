"""Per-stream send queues served round-robin by message (RFC 8260 §3.2 in spirit), PR-SCTP
limits on every queued message (RFC 3758), and W3C ``bufferedAmount`` (bytes queued, not
yet sent) kept apart from the association's bound on queued plus in-flight bytes."""

from __future__ import annotations

import pytest
from sctp_helpers import make_pair, payload
from sctp_paths import Bulk

from trio_webrtc.sctp import BufferedAmountLow, DataReceived, SendBufferFullError
from trio_webrtc.sctp import chunks as c
from trio_webrtc.sctp.chunks import FLAG_BEGIN, DataChunk, parse_packet
from trio_webrtc.sctp.scheduler import QUANTUM
from trio_webrtc.testing import LinkConditions, PathProfile, VirtualLink


def _chunks(packets: list[bytes]) -> list[DataChunk]:
    return [x for p in packets for x in parse_packet(p).chunks if isinstance(x, DataChunk)]


def test_a_message_on_an_idle_stream_leaves_after_one_message_of_the_backlog() -> None:
    client, server, link = make_pair()
    out = client.assoc._outbound
    out.cwnd = out.burst_credit = 1 << 22
    for i in range(50):
        client.assoc.send(1, 53, payload(16384, i), now=link.now)
    client.assoc.send(3, 51, b"ping", now=link.now)
    packets = client.assoc.datagrams_to_send(link.now)
    chunks = _chunks(packets)
    first = [x.stream_id for x in chunks[:16]]
    # The ping fits its first turn; a 16 KiB message needs a deficit of 14 turns.
    assert first == [3] + [1] * 15
    assert chunks[0].user_data == b"ping"
    for packet in packets:
        server.receive_datagram(packet, link.now)
    assert [e.data for e in server.received[:2]] == [b"ping", payload(16384, 0)]


def test_backlogged_streams_take_turns_by_message() -> None:
    client, server, link = make_pair()
    out = client.assoc._outbound
    out.cwnd = out.burst_credit = 1 << 22
    for i in range(10):
        client.assoc.send(1, 53, payload(500, i), now=link.now)
        client.assoc.send(2, 53, payload(500, 100 + i), now=link.now)
        client.assoc.send(4, 53, payload(500, 200 + i), now=link.now)
    for i in range(10, 20):
        client.assoc.send(1, 53, payload(500, i), now=link.now)
    chunks = _chunks(client.assoc.datagrams_to_send(link.now))
    sids = [x.stream_id for x in chunks]
    assert sids[:12] == [1, 1, 2, 2, 4, 4] * 2  # 1,172 bytes a turn: two 500-byte messages
    assert sorted(sids) == [1] * 20 + [2] * 10 + [4] * 10
    sent = dict.fromkeys((1, 2, 4), 0)
    for x in chunks[:30]:  # while all three are busy, no one is ahead by more than a turn
        sent[x.stream_id] += len(x.user_data)
        assert max(sent.values()) - min(sent.values()) <= QUANTUM + 500
    tsns = [x.tsn for x in chunks]
    assert tsns == list(range(tsns[0], tsns[0] + 40))
    # Each stream's SSNs count its own messages.
    assert [x.ssn for x in chunks if x.stream_id == 2] == list(range(10))
    link.run(lambda: len(server.received) == 40)
    assert [e.data for e in server.received if e.stream_id == 1] == [
        payload(500, i) for i in range(20)
    ]


def test_streams_share_bytes_by_weight() -> None:
    client, _server, link = make_pair()
    out = client.assoc._outbound
    out.cwnd = out.burst_credit = 1 << 22
    client.assoc.set_stream_priority(2, 3)
    for i in range(100):
        client.assoc.send(1, 53, payload(1000, i), now=link.now)
        client.assoc.send(2, 53, payload(1000, i), now=link.now)
    chunks = _chunks(client.assoc.datagrams_to_send(link.now))[:80]
    share = sum(x.stream_id == 2 for x in chunks) / len(chunks)
    assert 0.7 <= share <= 0.8  # weight 3 against 1
    with pytest.raises(ValueError, match="weight"):
        client.assoc.set_stream_priority(2, 0)


@pytest.mark.parametrize("ordered", [True, False])
def test_every_queued_message_expires_not_only_the_head(ordered: bool) -> None:
    # A slow link and a reliable backlog on stream 1: stream 2's timed messages sit
    # queued behind it; when their lifetime ends they are abandoned wherever they are,
    # never sent late, and the stream's buffered amount drops at once.
    conditions = LinkConditions(delay=0.02, bandwidth=200_000)
    client, server, link = make_pair(conditions)
    sent_at: dict[int, float] = {}
    original = client.datagrams_to_send

    def stamped(now: float) -> list[bytes]:
        packets = original(now)
        for x in _chunks(packets):
            sent_at.setdefault(x.tsn, now)
        return packets

    client.datagrams_to_send = stamped  # type: ignore[method-assign]
    for i in range(40):
        client.assoc.send(1, 53, payload(16384, i), now=link.now)
    start = link.now
    for i in range(30):
        client.assoc.send(2, 51, payload(4000, 50 + i), ordered=ordered, lifetime=0.5, now=start)
    assert client.assoc.buffered_amount(2) == 30 * 4000
    link.run(lambda: link.now >= start + 0.5 + 0.01)
    assert client.assoc.buffered_amount(2) == 0  # abandoned while still queued
    client.assoc.send(2, 51, b"after", ordered=ordered, now=link.now)
    link.run(lambda: any(e.data == b"after" for e in server.received), timeout=60)
    got = [e.data for e in server.received if e.stream_id == 2]
    assert 0 < len(got) - 1 < 30  # some went, the rest expired
    assert got[-1] == b"after"
    firsts = [
        x
        for p in client.sent_packets
        for x in parse_packet(p).chunks
        if isinstance(x, DataChunk) and x.stream_id == 2 and x.flags & FLAG_BEGIN
    ]
    assert all(sent_at[x.tsn] < start + 0.5 for x in firsts if x.user_data != b"after")
    assert any(
        c.CHUNK_FORWARD_TSN in [t for t, *_ in c.iter_chunks(p)] for p in client.sent_packets
    )
    link.run(lambda: len([e for e in server.received if e.stream_id == 1]) == 40, timeout=120)


def test_max_retransmits_applies_to_messages_behind_the_head() -> None:
    client, server, link = make_pair(LinkConditions(loss=0.3, delay=0.01), seed=2)
    for i in range(20):
        client.assoc.send(1, 53, payload(8000, i), now=link.now)
    for i in range(60):
        client.assoc.send(2, 51, payload(2000, i), max_retransmits=0, now=link.now)
    client.assoc.send(2, 51, b"end", now=link.now)
    link.run(lambda: any(e.data == b"end" for e in server.received), timeout=300)
    got = [e.data for e in server.received if e.stream_id == 2]
    expected = [payload(2000, i) for i in range(60)]
    positions = [expected.index(d) for d in got[:-1]]
    assert positions == sorted(set(positions)) and len(positions) < 60
    link.run(lambda: client.assoc.held_amount(2) == 0, timeout=300)


# -- buffered amount ---------------------------------------------------------------------


def test_buffered_amount_counts_bytes_not_yet_sent() -> None:
    client, server, link = make_pair()
    assoc = client.assoc
    assoc.set_buffered_amount_low_threshold(1, 3000)
    assert assoc.send(1, 53, payload(10_000), now=link.now) == 10_000
    assert assoc.buffered_amount(1) == assoc.held_amount(1) == 10_000
    sent = assoc.datagrams_to_send(link.now)  # the initial window: 4 packets of 1172
    assert len(sent) == 4
    assert assoc.buffered_amount(1) == 10_000 - 4 * 1172
    assert assoc.held_amount(1) == 10_000  # in flight, not acknowledged
    assert not [e for e in client.assoc._events if isinstance(e, BufferedAmountLow)]
    link.run(lambda: bool(server.received) and not assoc.held_amount(1))
    assert assoc.buffered_amount(1) == 0
    # The event fired once, when the bytes left the queue (not when acknowledged).
    assert client.of_type(BufferedAmountLow) == [BufferedAmountLow(1)]


def test_the_association_bounds_queued_plus_in_flight_bytes() -> None:
    client, _server, link = make_pair(server_kw={}, client_kw={"max_send_buffer": 20_000})
    assoc = client.assoc
    assoc.send(1, 53, payload(4000), now=link.now)
    assoc.datagrams_to_send(link.now)  # sent, nothing acknowledged yet
    assert assoc.buffered_amount(1) == 0 and assoc.held_amount(1) == 4000
    assoc.send(1, 53, payload(16_000), now=link.now)
    with pytest.raises(SendBufferFullError):
        assoc.send(1, 53, b"x", now=link.now)
    link.run(lambda: assoc.held_amount(1) == 0)
    assoc.send(1, 53, payload(20_000), now=link.now)


def test_a_ping_behind_bulk_waits_for_one_message_not_the_backlog() -> None:
    # Bulk on stream 1 keeps 1 MiB queued through the `bottleneck` profile (50 Mbit/s,
    # 64 KiB queue); a 20-byte ping on stream 3 every 100 ms arrives after at most one
    # 16 KiB message and the bottleneck queue, not after the 1 MiB backlog (~170 ms).
    flow = Bulk(6)
    link = VirtualLink(flow.client, flow.server, PathProfile.named("bottleneck"), seed=6)
    flow.client.assoc.start(link.now)
    link.run(lambda: flow.client.established and flow.server.established)
    pings: dict[bytes, float] = {}
    arrivals: dict[bytes, float] = {}
    drain = flow._drain

    def watching() -> None:
        for event in flow.server.assoc._events:
            if isinstance(event, DataReceived) and event.stream_id == 3:
                arrivals[event.data] = link.now
        drain()

    flow.server.drain = watching  # type: ignore[method-assign]
    end = link.now + 3.0
    next_ping = link.now + 0.5

    def until() -> bool:
        nonlocal next_ping
        flow.pump(link.now)
        if link.now >= next_ping:
            ping = b"ping %04d" % len(pings)
            pings[ping] = link.now
            flow.client.assoc.send(3, 51, ping, now=link.now)
            next_ping += 0.1
        return link.now >= end

    link.run(until, timeout=4)
    delays = sorted(arrivals[p] - t for p, t in pings.items() if p in arrivals)
    assert len(delays) >= len(pings) - 1
    assert flow.delivered * 8 / 3.0 > 40e6  # the bulk transfer kept the link busy
    assert delays[len(delays) // 2] < 0.02
    assert delays[-1] < 0.05


def test_queued_messages_expire_at_a_sack_while_retransmissions_wait() -> None:
    client, server, link = make_pair()
    assoc = client.assoc
    out = assoc._outbound
    for i in range(20):
        assoc.send(1, 53, payload(1000, i), now=link.now)
    lost = assoc.datagrams_to_send(link.now)  # the initial window, lost but for one
    assoc.send(2, 51, payload(500), lifetime=0.05, now=link.now)  # waits: cwnd is full
    server.receive_datagram(lost[-1], link.now)
    link.now += 0.1  # the lifetime passed; the SACK reports a gap, nothing more is sent
    for packet in server.assoc.datagrams_to_send(link.now):
        assoc.receive_datagram(packet, link.now)
    assert out._retransmits or out.has_outstanding
    assert assoc.buffered_amount(2) == 0 and assoc.held_amount(2) == 0
