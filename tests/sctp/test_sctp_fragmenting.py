"""DATA chunks are cut from queued messages as packets are built (RFC 9260 §6.9): a
message's tail shares a packet with the next message's head, small messages are never
split, and TSNs, SSNs, buffered amounts, PR-SCTP abandonment and stream resets stay exact."""

from __future__ import annotations

from sctp_helpers import make_pair, payload

from trio_webrtc.sctp import OutgoingStreamsReset, StreamsReset
from trio_webrtc.sctp import chunks as c
from trio_webrtc.sctp.chunks import FLAG_BEGIN, FLAG_END, DataChunk, parse_packet


def _data(packets: list[bytes]) -> list[list[DataChunk]]:
    return [[x for x in parse_packet(p).chunks if isinstance(x, DataChunk)] for p in packets]


def test_a_message_tail_and_the_next_head_share_a_packet() -> None:
    client, server, link = make_pair()
    messages = [payload(3000, i) for i in range(4)]
    client.assoc._outbound.cwnd = 1 << 20  # past slow start
    client.assoc._outbound.burst_credit = 1 << 20  # and acked enough for Max.Burst
    for m in messages:
        client.assoc.send(1, 53, m, now=link.now)
    assert client.assoc.buffered_amount(1) == 12_000
    packets = client.assoc.datagrams_to_send(link.now)
    per_packet = _data(packets)
    # 12,000 bytes in 1,172-byte packets of payload (MTU 1200): 11 packets, not 12.
    assert len(packets) == 11
    assert all(len(p) == 1200 for p in packets[:-1])
    shared = [chunks for chunks in per_packet if len(chunks) == 2]
    assert shared and all(a.flags & FLAG_END and b.flags & FLAG_BEGIN for a, b in shared)
    tsns = [x.tsn for chunks in per_packet for x in chunks]
    assert tsns == list(range(tsns[0], tsns[0] + len(tsns)))
    ssns = {x.ssn for chunks in per_packet for x in chunks if x.flags & FLAG_BEGIN}
    assert ssns == {0, 1, 2, 3}
    for packet in packets:
        server.receive_datagram(packet, link.now)
    assert [e.data for e in server.received] == messages
    link.run(lambda: client.assoc.buffered_amount(1) == 0)


def test_small_messages_are_never_split() -> None:
    client, _server, link = make_pair()
    client.assoc._outbound.cwnd = client.assoc._outbound.burst_credit = 1 << 20
    for i in range(40):
        client.assoc.send(1, 53, payload(700, i), now=link.now)
    chunks = [x for per in _data(client.assoc.datagrams_to_send(link.now)) for x in per]
    assert len(chunks) == 40
    assert all(x.flags & (FLAG_BEGIN | FLAG_END) == FLAG_BEGIN | FLAG_END for x in chunks)


def test_fragments_fill_the_room_after_a_sack() -> None:
    client, server, link = make_pair()
    server.assoc.send(1, 53, payload(100), now=link.now)
    for packet in server.assoc.datagrams_to_send(link.now):
        client.receive_datagram(packet, link.now)
    assert client.assoc.sack_can_wait  # the I bit: a SACK is due, to ride with our DATA
    client.assoc.send(1, 53, payload(5000), now=link.now)
    packets = client.assoc.datagrams_to_send(link.now)
    kinds = [type(x) for x in parse_packet(packets[0]).chunks]
    assert kinds == [c.SackChunk, DataChunk]
    assert len(packets[0]) == 1200  # the first fragment is cut to the room the SACK left


def test_abandoning_a_partly_sent_message_releases_exactly_its_bytes() -> None:
    client, server, link = make_pair()
    client.assoc.send(2, 51, payload(20_000), max_retransmits=0, now=link.now)
    client.assoc.send(2, 51, b"tail", now=link.now)
    assert client.assoc.buffered_amount(2) == 20_004
    out = client.assoc._outbound
    out.cwnd = 4 * 1172  # send four fragments, keep the rest uncut
    sent = client.assoc.datagrams_to_send(link.now)
    assert len(sent) == 4 and out.has_unsent((2,))
    # All four are lost: T3 abandons the message (max_retransmits=0), cut or not.
    link.now += out.rto + 0.01
    client.assoc.handle_timer(link.now)
    link.run(lambda: any(e.data == b"tail" for e in server.received), timeout=30)
    assert [e.data for e in server.received] == [b"tail"]
    assert any(
        c.CHUNK_FORWARD_TSN in [t for t, *_ in c.iter_chunks(p)] for p in client.sent_packets
    )
    link.run(lambda: client.assoc.held_amount(2) == 0, timeout=30)
    assert client.assoc.buffered_amount(2) == 0
    assert out.total_buffered == 0 and out.pending_wire == 0 and not out.has_unsent((2,))


def test_stream_reset_waits_until_every_queued_byte_has_a_tsn() -> None:
    client, server, link = make_pair()
    client.assoc.send(5, 51, payload(50_000), now=link.now)
    client.assoc._outbound.cwnd = 2 * 1172  # most of the message stays uncut for a while
    client.assoc.reset_streams([5], link.now)
    link.run(lambda: bool(client.of_type(OutgoingStreamsReset)), timeout=60)
    index = server.events.index(StreamsReset((5,)))
    assert next(e for e in server.events[:index] if e in server.received).data == payload(50_000)
