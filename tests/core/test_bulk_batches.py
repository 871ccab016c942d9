"""Bulk sending in batches: a SACK answers with DATA only when the window was full.

The sender side of the driver keeps sending full packets in batches (every 256 KiB queued
or at the flusher's look) while its senders are queueing; a SACK arriving meanwhile sends
DATA only when the last batch stopped at cwnd or the peer's rwnd (ack clocking, SCTP
``only_new_data_pending``). These tests pin both halves: the SCTP predicate, and the
wire effect of the driver (a SACK per second DATA packet, thinned in long receive bursts,
everything delivered in order).
"""

from __future__ import annotations

from collections.abc import Callable

import trio
from sctp_helpers import make_pair

from trio_webrtc import PeerConnection, connect_pair
from trio_webrtc.peer_connection import DataChannel
from trio_webrtc.sctp.chunks import DataChunk, SackChunk, parse_packet

# -- sans-I/O: the predicate ---------------------------------------------------------------


def test_queued_data_under_the_window_can_wait_but_a_full_window_cannot() -> None:
    client, _, link = make_pair()
    assoc = client.assoc
    out = assoc._outbound
    assert assoc.only_new_data_pending  # idle
    # More than cwnd: the fill stops at cwnd with data left, a SACK must answer at once.
    assoc.send(1, 53, b"x" * (out.cwnd * 3), now=link.now)
    assoc.datagrams_to_send(link.now)
    assert out.window_blocked
    assert not assoc.only_new_data_pending


def test_queued_data_the_window_has_room_for_can_wait() -> None:
    client, _, link = make_pair()
    assoc = client.assoc
    out = assoc._outbound
    out.cwnd = out.burst_credit = 1 << 20  # a large window, acked enough for Max.Burst
    assoc.send(1, 53, b"y" * 5000, now=link.now)
    assoc.send(1, 53, b"y" * 100, now=link.now)
    assert len(assoc.datagrams_to_send(link.now, hold=True)) >= 4  # full packets went
    assert out.has_pending  # the partly filled tail is held
    assert not out.window_blocked
    assert assoc.only_new_data_pending
    assoc._sack_due = True  # a SACK of our own that is due is not "only new data"
    assert not assoc.only_new_data_pending


def test_a_full_peer_window_blocks_too() -> None:
    client, _, link = make_pair()
    assoc = client.assoc
    out = assoc._outbound
    out.cwnd = 1 << 20
    out.peer_rwnd = 3000
    assoc.send(1, 53, b"z" * 20_000, now=link.now)
    assoc.datagrams_to_send(link.now)
    assert out.window_blocked
    assert not assoc.only_new_data_pending


# -- the driver: whole peer connections over 127.0.0.1 ----------------------------------


def _count_packets(pc: PeerConnection) -> dict[str, int]:
    sctp = pc._core.sctp
    assert sctp is not None
    counts = {"data_packets": 0, "sacks": 0}
    original: Callable[..., list[bytes]] = sctp.datagrams_to_send

    def recording(now: float, *, hold: bool = False) -> list[bytes]:
        out = original(now, hold=hold)
        for packet in out:
            chunks = parse_packet(packet).chunks
            counts["data_packets"] += any(isinstance(c, DataChunk) for c in chunks)
            counts["sacks"] += sum(isinstance(c, SackChunk) for c in chunks)
        return out

    sctp.datagrams_to_send = recording  # type: ignore[method-assign]
    return counts


async def _open(a: PeerConnection, b: PeerConnection) -> tuple[DataChannel, DataChannel]:
    channel = a.create_data_channel("bulk")
    await connect_pair(a, b)
    incoming = await b.accept_channel()
    await channel.wait_open()
    return channel, incoming


async def test_16k_messages_leave_in_batches_with_few_sacks() -> None:
    # Real UDP on 127.0.0.1: the batching shows in how the receive tasks wake up.
    config = {"bindAddress": "127.0.0.1", "iceServers": []}
    async with PeerConnection(config, name="a") as a, PeerConnection(config, name="b") as b:
        channel, incoming = await _open(a, b)
        sent = _count_packets(a)
        acks = _count_packets(b)
        count, size = 512, 16384  # 8 MiB
        received: list[int] = []

        async def reader() -> None:
            for _ in range(count):
                message = await incoming.receive()
                assert isinstance(message, bytes) and len(message) == size
                assert message == message[:4] * (size // 4)
                received.append(int.from_bytes(message[:4], "big"))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(reader)
            for i in range(count):
                await channel.send(i.to_bytes(4, "big") * (size // 4))
        assert received == list(range(count))
        assert sent["data_packets"] >= count * size // 1200
        # RFC 9260 §6.2: a SACK for every second DATA packet, also within a receive
        # burst, thinned to 5-9 in a long one (sctp/acks.py; one SACK per burst, 0.03
        # per packet, held senders with a Max.Burst of 4 packets per SACK at a few
        # packets per round trip, issue 12). Over loopback (a round trip under
        # acks.COALESCE_RTT) a burst gets its first SACK and its last: ~0.04-0.05.
        ratio = acks["sacks"] / sent["data_packets"]
        print("SACKs per DATA packet", ratio)
        assert 0.02 <= ratio <= 0.6
