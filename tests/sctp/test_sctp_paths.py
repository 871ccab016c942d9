"""Bulk transfers over issue 12's path profiles, in virtual time (deliverable 6).

Two ``SctpAssociation``s joined by :class:`trio_webrtc.testing.VirtualLink` over a
:class:`~trio_webrtc.testing.PathProfile`: 16 KiB messages on one ordered stream, the
sender keeping ``buffered_amount`` below 1 MiB, the receiver reading its "socket" in
bursts every millisecond as the trio driver does (:class:`path_helpers.Bursty`).
Everything is seeded; each assertion is an exact count or a bound argued beside it.

Bounds: a 1,200-byte packet carries 1,172 bytes of payload and takes 1,228 bytes of the
bottleneck (28 bytes of IPv4/UDP), so goodput is at most 95.4 % of a path's rate. Slow
start as RFC 9260 §7.2.1 has it (cwnd from 4 MTUs, doubling per round trip) costs about
log2(BDP / 4 MTU) round trips at the start; a 1 MiB receive window caps a window-limited
path at 1 MiB per round trip; with random loss p a loss-based controller sits near the
Reno bound MSS / RTT x 1.22 / sqrt(p) (2.29 Mbit/s on ``wan-lossy``, 1.0 on ``mobile``).
The sender work of issue 12 (deliverables 2-3: better slow start, pacing, CUBIC/BBR,
larger windows) should raise the floors marked ``sender:`` below.
"""

from __future__ import annotations

import pytest
from path_helpers import Transfer, bulk
from sctp_helpers import Peer

from trio_webrtc.sctp import chunks as c
from trio_webrtc.sctp.acks import COALESCE_RTT
from trio_webrtc.testing import PathProfile, VirtualLink

MIB = 1 << 20

# profile: (minimum goodput in Mbit/s for 8 MiB, why)
FLOORS = {
    # No shaping: virtual time passes only when someone waits for a timer or a burst; one
    # 40 ms delayed-ack wait would cut 8 MiB's 0.084 s to below 550 Mbit/s.
    "lan": 600.0,
    # 50 Mbit/s x 95.4 % = 47.7 Mbit/s is the ceiling; within 5 % of it.
    "bottleneck": 45.3,
    # Line rate 95.4 Mbit/s after ~7 round trips of slow start to the 625 KB BDP: about
    # 67 Mbit/s for 8 MiB with RFC slow start. sender: a faster start raises it.
    "wan": 58.0,
    # Reno bound 2.29 Mbit/s. sender: CUBIC/BBR with loss differentiation, 3x the best
    # stack (2.5) is the goal.
    "wan-lossy": 2.0,
    # Reno bound 1.0 Mbit/s. sender: as wan-lossy (the best stack: 0.95).
    "mobile": 0.9,
    # Window-limited: 1 MiB per 200 ms round trip = 42 Mbit/s after ~9 round trips of
    # slow start: ~20 Mbit/s for 8 MiB. sender/receiver: a window sized for the 1.25 MB
    # BDP (deliverable 2) raises it.
    "far": 18.0,
}


def _ratio(r: Transfer) -> float:
    return r.sacks / r.data_packets


def _sack_range(r: Transfer, profile: str) -> tuple[int, int]:
    """The SACKs sctp/acks.py sends for a lossless transfer read in bursts: one per second
    packet of a burst, thinned to 5-9 in a burst of more than 16, plus one for an odd
    packet at the end of a burst. On a path under acks.COALESCE_RTT (no delay: lan,
    bottleneck) a burst gets its first SACK and its last: 1 for 2 packets, 2 for more."""
    if PathProfile.named(profile).delay < COALESCE_RTT / 2:
        low = sum(min(n // 2, 2) for n in r.bursts if n != 3)  # 3 = 2 + an odd one
        high = sum(min((n + 1) // 2, 2) for n in r.bursts)
        return low, high
    low = sum(min(n // 2, 5) for n in r.bursts)
    high = sum(min((n + 1) // 2, 9) for n in r.bursts)
    return low, high


@pytest.mark.parametrize("profile", list(FLOORS))
def test_bulk_transfer_completes_over_every_profile(profile: str) -> None:
    r = bulk(profile, 8 * MIB, burst_period=0.001, timeout=120)
    assert r.delivered == 8 * MIB  # no stall: bulk() raises TimeoutError otherwise
    assert r.mbit >= FLOORS[profile], f"{profile}: {r.mbit:.2f} Mbit/s"
    lossless = PathProfile.named(profile).loss == 0 and r.queue_drops == 0
    if lossless:
        # A SACK for every second DATA packet (RFC 9260 §6.2), also within a burst.
        low, high = _sack_range(r, profile)
        assert low <= r.sacks <= high, f"{profile}: {r.sacks} not in [{low}, {high}]"
        if max(r.bursts) <= 16 and PathProfile.named(profile).delay >= COALESCE_RTT / 2:
            # Paths slower than the receiver: never thinned.
            assert 0.5 <= _ratio(r) <= 0.56, f"{profile}: {_ratio(r):.3f}"
    else:
        # Plus one at once for every packet that arrives above a gap (§6.7).
        assert _sack_range(r, profile)[0] <= r.sacks <= r.data_packets, f"{profile}: {r.sacks}"


@pytest.mark.parametrize("profile", ["wan", "far"])
def test_reading_in_bursts_costs_the_sender_nothing(profile: str) -> None:
    # One SACK per receive burst made our own sender (Max.Burst 4 per SACK) crawl: 39
    # instead of 65 Mbit/s on wan, 13.9 instead of 19.9 on far, with 1 ms bursts.
    direct = bulk(profile, 8 * MIB)
    bursty = bulk(profile, 8 * MIB, burst_period=0.001)
    assert bursty.mbit >= 0.98 * direct.mbit


class _Inflating:
    """The sender's end of a path whose peer counts our window in payload bytes only
    (as Chromium's sender does, without our per-chunk bookkeeping charges): every
    non-zero a_rwnd reaching it is ``extra`` bytes larger than advertised."""

    def __init__(self, inner: Peer, extra: int) -> None:
        self.inner = inner
        self.extra = extra

    def receive_datagram(self, data: bytes, now: float) -> None:
        packet = c.parse_packet(data)
        chunks = [
            c.SackChunk(ch.cum_tsn, ch.a_rwnd + self.extra, ch.gaps, ch.duplicates).encode()
            if isinstance(ch, c.SackChunk) and ch.a_rwnd
            else ch.encode()
            for ch in packet.chunks
        ]
        self.inner.receive_datagram(
            c.encode_packet(packet.src_port, packet.dst_port, packet.vtag, chunks), now
        )

    def datagrams_to_send(self, now: float) -> list[bytes]:
        return self.inner.datagrams_to_send(now)

    def get_timer(self) -> float | None:
        return self.inner.get_timer()

    def handle_timer(self, now: float) -> None:
        self.inner.handle_timer(now)


def test_the_window_deadlock_scenario_completes() -> None:
    # Issue 12 (a): a sender that overshoots our window by a quarter loses a few packets
    # (2 ms without a path at t = 0.8 s); we hold a window of data above the gap. The old
    # receiver refused the second missing chunk for good and stalled at 6,389,760 bytes
    # (198 chunks refused for the window, every retransmission answered with a zero
    # window); now the gap fills and the transfer completes.
    total = 12 * MIB
    client = Peer(is_client=True, seed=3)
    server = Peer(is_client=False, seed=4)
    link = VirtualLink(_Inflating(client, MIB // 4), server, PathProfile.named("wan"), seed=1)
    client.assoc.start(0.0)
    link.run(lambda: client.established and server.established, timeout=30)
    start = link.now
    link.blackout(start + 0.8, start + 0.802)
    queued = 0

    def until() -> bool:
        nonlocal queued
        while queued < total and client.assoc.buffered_amount(1) < MIB:
            client.assoc.send(1, 53, bytes(16384), now=link.now)
            queued += 16384
        return sum(len(e.data) for e in server.received) >= total

    link.run(until, timeout=30)
    inbound = server.assoc._inbound
    assert inbound is not None
    assert inbound.dropped_for_window > 0  # the scenario happened: the window overflowed
    assert inbound.held == 0 and inbound.unconsumed == 0
    assert link.now - start < 2.0  # 12 MiB at ~50 Mbit/s; not a retransmission-timeout crawl


def test_a_slow_socket_reader_is_not_overrun_for_long() -> None:
    # A receiver process reading its UDP socket at 20 Mbit/s with aiortc's 212,992-byte
    # receive buffer: the buffer is the drop-tail queue of a 20 Mbit/s bottleneck.
    socket_buffer = PathProfile(delay=0.0001, rate=20e6, queue=212_992)
    r = bulk(socket_buffer, 16 * MIB, burst_period=0.001, reverse=PathProfile(delay=0.0001))
    assert r.mbit >= 0.95 * 20 * 0.954  # the reader stays busy
    # Overflow comes in short episodes (drops less than 50 ms apart), each shorter than
    # two round trips through the full buffer (85 ms of queue), the sender backing off:
    # the slow-start overshoot, one or two more while it settles, later single drops as
    # it probes. Measured with the sender of 531d621: 118 drops in 85 ms, then 1 in 7 s.
    episodes: list[list[float]] = []
    for t in r.drop_times:
        if episodes and t - episodes[-1][-1] < 0.05:
            episodes[-1].append(t)
        else:
            episodes.append([t])
    assert all(e[-1] - e[0] < 0.17 for e in episodes)
    assert all(len(e) == 1 for e in episodes if e[0] > 1.0)
    # sender: pacing or a gentler slow-start exit should bring this under 1 %.
    assert r.queue_drops <= 0.03 * r.data_packets


def test_a_slow_application_reader_paces_the_sender() -> None:
    # The application reads 2 MB/s through a 256 KiB window on an unshaped path: window
    # updates as reads reopen it (acks.py) keep the reader busy. Ideal: everything but
    # the last window is read at 2 MB/s, (8 MiB - 256 KiB) / 2 MB/s = 4.06 s; the old
    # rule (an update only once a quarter window reopened below half) took 6.31 s.
    window = 256 << 10
    r = bulk(
        PathProfile(delay=0.0001),
        8 * MIB,
        read_rate=2e6,
        server_kw={"receive_window": window},
    )
    ideal = (8 * MIB - window) / 2e6
    assert r.seconds <= 1.02 * ideal, f"{r.seconds:.3f} s"
    assert r.queue_drops == 0
