"""Bulk transfers between two SCTP associations over a :class:`PathProfile`, in virtual
time (issue 12, deliverable 6), and a receiver that reads in bursts as the trio driver
does. ``python tests/sctp/path_helpers.py`` prints a table per profile.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from sctp_helpers import Peer

from trio_webrtc.sctp.chunks import CHUNK_DATA, CHUNK_SACK, iter_chunks
from trio_webrtc.testing import DatagramEndpoint, PathProfile, VirtualLink

MESSAGE = 16384


class Bursty:
    """An endpoint behind a driver that wakes every ``period`` seconds and reads every
    datagram that arrived meanwhile before it drains the output (``_trio/driver.py``
    reads a socket's backlog in one burst): the receive side of a busy event loop."""

    def __init__(self, inner: DatagramEndpoint, period: float) -> None:
        self.inner = inner
        self.period = period
        self.inbox: list[bytes] = []
        self.wake: float | None = None
        self.bursts: list[int] = []  # datagrams read per wakeup

    def receive_datagram(self, data: bytes, now: float) -> None:
        self.inbox.append(data)
        if self.wake is None:
            self.wake = now + self.period

    def datagrams_to_send(self, now: float) -> list[bytes]:
        return self.inner.datagrams_to_send(now)

    def get_timer(self) -> float | None:
        timer = self.inner.get_timer()
        if self.wake is not None and (timer is None or self.wake < timer):
            return self.wake
        return timer

    def handle_timer(self, now: float) -> None:
        if self.wake is not None and now >= self.wake:
            self.wake = None
            inbox, self.inbox = self.inbox, []
            self.bursts.append(len(inbox))
            for data in inbox:
                self.inner.receive_datagram(data, now)
        timer = self.inner.get_timer()
        if timer is not None and now >= timer:
            self.inner.handle_timer(now)


class RateReader:
    """The receiving application reading at most ``rate`` bytes/s of delivered data, as a
    task that wakes every ``tick`` seconds while anything is unread (so reads, and the
    window updates they cause, happen even when the link is otherwise idle)."""

    def __init__(self, inner: Peer, rate: float, now: float, tick: float = 0.001) -> None:
        self.inner = inner
        self.rate = rate
        self.tick = tick
        self.read_at = now
        self.read = 0
        self.delivered = 0
        self._seen = 0

    def _read(self, now: float) -> None:
        received = self.inner.received
        while self._seen < len(received):
            self.delivered += len(received[self._seen].data)
            self._seen += 1
        budget = int((now - self.read_at) * self.rate)
        self.read_at = now
        take = min(budget, self.delivered - self.read)
        if take > 0:
            self.read += take
            self.inner.assoc.data_consumed(take)

    def receive_datagram(self, data: bytes, now: float) -> None:
        self._read(now)
        self.inner.receive_datagram(data, now)

    def datagrams_to_send(self, now: float) -> list[bytes]:
        return self.inner.datagrams_to_send(now)

    def get_timer(self) -> float | None:
        timer = self.inner.get_timer()
        if len(self.inner.received) > self._seen or self.delivered > self.read:
            wake = self.read_at + self.tick
            return wake if timer is None or wake < timer else timer
        return timer

    def handle_timer(self, now: float) -> None:
        self._read(now)
        timer = self.inner.get_timer()
        if timer is not None and now >= timer:
            self.inner.handle_timer(now)


@dataclass
class Transfer:
    """What one bulk transfer did."""

    seconds: float  # virtual, from the first message to the last byte delivered
    delivered: int
    data_packets: int  # packets with DATA the sender sent
    sacks: int  # SACK chunks the receiver sent
    queue_drops: int  # drop-tail drops, sender to receiver
    max_backlog: int  # bytes, the deepest the forward queue got
    drop_times: list[float]
    bursts: list[int]  # datagrams per receiver wakeup (empty: read one by one)

    @property
    def mbit(self) -> float:
        return self.delivered * 8 / self.seconds / 1e6 if self.seconds else float("inf")


def bulk(
    profile: PathProfile | str,
    total: int,
    *,
    seed: int = 1,
    high: int = 1 << 20,
    burst_period: float | None = None,
    reverse: PathProfile | None = None,
    read_rate: float | None = None,
    timeout: float = 120.0,
    client_kw: dict[str, object] | None = None,
    server_kw: dict[str, object] | None = None,
) -> Transfer:
    """Send ``total`` bytes client → server in 16 KiB messages on one ordered stream,
    the sender keeping ``buffered_amount`` below ``high`` (the issue's benchmark).

    ``burst_period``: the receiver reads in bursts (:class:`Bursty`). ``read_rate``:
    the receiving application reads at most this many bytes/s (else at once)."""
    path = PathProfile.named(profile) if isinstance(profile, str) else profile
    client = Peer(is_client=True, seed=seed * 2 + 1, **(client_kw or {}))
    server = Peer(
        is_client=False, seed=seed * 2 + 2, consume=read_rate is None, **(server_kw or {})
    )
    receiver: DatagramEndpoint = server if burst_period is None else Bursty(server, burst_period)
    reader = None
    if read_rate is not None:
        assert burst_period is None, "a rate-limited reader behind a bursty driver: not modelled"
        receiver = reader = RateReader(server, read_rate, 0.0)
    link = VirtualLink(client, receiver, path, b_to_a=reverse or path, seed=seed)
    client.assoc.start(link.now)
    link.run(lambda: client.established and server.established, timeout=30)
    start = link.now
    if reader is not None:
        reader.read_at = start
    sent_before = len(client.sent_packets)
    acks_before = len(server.sent_packets)
    queued = 0
    payload = bytes(MESSAGE)

    def delivered() -> int:
        return sum(len(e.data) for e in server.received)

    def until() -> bool:
        nonlocal queued
        assoc = client.assoc
        while queued < total and assoc.buffered_amount(1) < high:
            size = min(MESSAGE, total - queued)
            assoc.send(1, 53, payload[:size], now=link.now)
            queued += size
        return delivered() >= total

    link.run(until, timeout=timeout)
    server.datagrams_to_send(link.now)  # the SACKs for the last packets (sent_packets)
    data_packets = sacks = 0
    for packet in client.sent_packets[sent_before:]:
        data_packets += any(t == CHUNK_DATA for t, _, _, _ in iter_chunks(packet))
    for packet in server.sent_packets[acks_before:]:
        sacks += sum(t == CHUNK_SACK for t, _, _, _ in iter_chunks(packet))
    forward = link.paths[0]
    assert forward is not None
    return Transfer(
        link.now - start,
        delivered(),
        data_packets,
        sacks,
        forward.stats.dropped,
        forward.stats.max_backlog,
        list(forward.stats.drop_times),
        receiver.bursts if isinstance(receiver, Bursty) else [],
    )


if __name__ == "__main__":
    total = int(float(sys.argv[1]) * (1 << 20)) if len(sys.argv) > 1 else 8 << 20
    for name in ("lan", "bottleneck", "wan", "wan-lossy", "mobile", "far"):
        for period in (None, 0.001):
            r = bulk(name, total, burst_period=period)
            print(
                f"{name:11s} bursts={period!s:6s} {r.mbit:9.2f} Mbit/s  t={r.seconds:7.3f} s  "
                f"SACKs/DATA packet {r.sacks / max(1, r.data_packets):.2f}  "
                f"queue drops {r.queue_drops}",
                flush=True,
            )
