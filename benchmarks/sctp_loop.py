"""One-off measurement: SCTP alone, two associations in memory, no loss, no DTLS.

Run from the repository root: ``PYTHONPATH=. python benchmarks/sctp_loop.py``. Prints
bulk MB/s (64 MiB in 64 KiB messages on one ordered reliable stream) and small-message
throughput (100-byte messages/s).
"""

from __future__ import annotations

import random
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


if __name__ == "__main__":
    bulk()
    small()
