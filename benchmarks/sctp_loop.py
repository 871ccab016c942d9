"""One-off measurement: SCTP alone, two associations in memory, no loss, no DTLS.

Run from the repository root: ``PYTHONPATH=. python benchmarks/sctp_loop.py [workload...]``
(default: all). Prints bulk MB/s (64 MiB in 64 KiB messages on one ordered reliable
stream), small-message throughput (100-byte messages/s), and the CPU cost of lone
messages: ``pingpong`` (one 100-byte request, one 100-byte reply carrying the SACK) and
``trickle`` (one 100-byte message at a time, the receiver only acknowledges), both as a
driver runs them: ``get_timer()`` after every flush and receive, a clock advancing 50 us
per step, timers handled when due.
"""

from __future__ import annotations

import random
import sys
import time

from trio_webrtc.sctp import DataReceived, SctpAssociation


def _pair() -> tuple[SctpAssociation, SctpAssociation]:
    a = SctpAssociation(is_client=True, rng=random.Random(1))
    b = SctpAssociation(is_client=False, rng=random.Random(2))
    a.start(0.0)
    _pump(a, b, 0.0, lambda: a.state.value == "established" and b.state.value == "established")
    while a.next_event() or b.next_event():
        pass
    return a, b


def _pump(a: SctpAssociation, b: SctpAssociation, now: float, done: object) -> int:
    """Shuttle packets until ``done()``; returns the number of packets moved."""
    moved = 0
    assert callable(done)
    while not done():
        out_a = a.datagrams_to_send(now)
        for packet in out_a:
            b.receive_datagram(packet, now)
        out_b = b.datagrams_to_send(now)
        for packet in out_b:
            a.receive_datagram(packet, now)
        moved += len(out_a) + len(out_b)
        if not out_a and not out_b:
            timer = min(t for t in (a.get_timer(), b.get_timer()) if t is not None)
            now = max(now, timer)
            a.handle_timer(now)
            b.handle_timer(now)
    return moved


def bulk(total: int = 64 << 20, size: int = 64 << 10) -> float:
    a, b = _pair()
    message = random.Random(0).randbytes(size)
    received = 0
    queued = 0

    def done() -> bool:
        nonlocal received, queued
        while queued < total and a.buffered_amount(1) < (4 << 20):
            a.send(1, 53, message, now=0.0)
            queued += size
        while (event := b.next_event()) is not None:
            if isinstance(event, DataReceived):
                received += len(event.data)
                b.data_consumed(len(event.data))
        return received >= total

    start = time.perf_counter()
    packets = _pump(a, b, 0.0, done)
    elapsed = time.perf_counter() - start
    print(f"bulk: {total / elapsed / 1e6:.1f} MB/s ({packets} packets, {elapsed:.2f} s)")
    return total / elapsed


def small(count: int = 200_000, size: int = 100) -> float:
    a, b = _pair()
    message = bytes(size)
    received = 0
    queued = 0

    def done() -> bool:
        nonlocal received, queued
        while queued < count and a.buffered_amount(1) < (1 << 20):
            a.send(1, 51, message, now=0.0)
            queued += 1
        while (event := b.next_event()) is not None:
            if isinstance(event, DataReceived):
                received += 1
                b.data_consumed(len(event.data))
        return received >= count

    start = time.perf_counter()
    packets = _pump(a, b, 0.0, done)
    elapsed = time.perf_counter() - start
    print(f"small: {count / elapsed:,.0f} messages/s ({packets} packets, {elapsed:.2f} s)")
    return count / elapsed


_STEP = 50e-6  # fake clock advance per driver step


class _Driver:
    """Drives two associations as the trio driver does, with a fake clock."""

    def __init__(self, a: SctpAssociation, b: SctpAssociation) -> None:
        self.a, self.b = a, b
        self.now = 1.0
        self.timers = [a.get_timer(), b.get_timer()]
        self.packets = 0

    def flush(self, side: int) -> None:
        """Send ``side``'s packets to the other side, as one driver step each."""
        src, dst = (self.a, self.b) if side == 0 else (self.b, self.a)
        self.now += _STEP
        now = self.now
        out = src.datagrams_to_send(now)
        self.timers[side] = src.get_timer()
        for packet in out:
            dst.receive_datagram(packet, now)
            self.timers[1 - side] = dst.get_timer()
        self.packets += len(out)
        for index, assoc in ((0, self.a), (1, self.b)):
            timer = self.timers[index]
            if timer is not None and now >= timer:
                assoc.handle_timer(now)
                self.timers[index] = assoc.get_timer()


def _read_one(assoc: SctpAssociation) -> None:
    """Read the one message delivered (skipping BufferedAmountLow events)."""
    received = 0
    while (event := assoc.next_event()) is not None:
        if isinstance(event, DataReceived):
            assoc.data_consumed(len(event.data))
            received += 1
    assert received == 1, received


def pingpong(count: int = 20_000, size: int = 100) -> float:
    """One request, one reply (which carries the SACK), ``count`` times."""
    a, b = _pair()
    drive = _Driver(a, b)
    message = bytes(size)
    start = time.process_time()
    for _ in range(count):
        a.send(1, 51, message, now=drive.now)
        drive.flush(0)
        _read_one(b)
        b.send(1, 51, message, now=drive.now)
        drive.flush(1)
        _read_one(a)
    elapsed = time.process_time() - start
    us = elapsed / count * 1e6
    print(f"pingpong: {us:.1f} CPU us per round trip ({drive.packets} packets)")
    return us


def trickle(count: int = 20_000, size: int = 100) -> float:
    """One message at a time; the receiver only acknowledges (a SACK per second one)."""
    a, b = _pair()
    drive = _Driver(a, b)
    message = bytes(size)
    start = time.process_time()
    for _ in range(count):
        a.send(1, 51, message, now=drive.now)
        drive.flush(0)
        _read_one(b)
        drive.flush(1)
    elapsed = time.process_time() - start
    us = elapsed / count * 1e6
    print(f"trickle: {us:.1f} CPU us per message ({drive.packets} packets)")
    return us


_WORKLOADS = {"bulk": bulk, "small": small, "pingpong": pingpong, "trickle": trickle}

if __name__ == "__main__":
    for name in sys.argv[1:] or list(_WORKLOADS):
        _WORKLOADS[name]()
