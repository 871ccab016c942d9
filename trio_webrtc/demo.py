"""The main job: two peers in one process over 127.0.0.1, a verified bulk transfer.

Opens a channel between two :class:`~trio_webrtc.PeerConnection` objects, sends
``size`` MiB of deterministic pseudo-random data as ``chunk``-byte messages while keeping
at most ``high_water`` bytes buffered, verifies every byte on arrival (SHA-256 of the
stream and the exact length) and prints the setup time, MB/s and messages/s.
"""

from __future__ import annotations

import hashlib
import sys
import time
from dataclasses import dataclass
from typing import TextIO

import trio

from .peer_connection import PeerConnection, connect_pair

__all__ = ["DemoResult", "run_demo"]


@dataclass(frozen=True)
class DemoResult:
    setup_seconds: float
    transfer_seconds: float
    total_bytes: int
    messages: int
    verified: bool

    @property
    def megabytes_per_second(self) -> float:
        return self.total_bytes / 1e6 / self.transfer_seconds if self.transfer_seconds else 0.0

    @property
    def messages_per_second(self) -> float:
        return self.messages / self.transfer_seconds if self.transfer_seconds else 0.0


def _pattern(chunk: int) -> list[bytes]:
    """A few distinct chunks of pseudo-random bytes; the stream cycles through them."""
    seed = hashlib.sha256(b"trio-webrtc demo").digest()
    blocks: list[bytes] = []
    for index in range(7):
        material = bytearray()
        counter = 0
        while len(material) < chunk:
            material += hashlib.sha256(seed + bytes([index]) + counter.to_bytes(4, "big")).digest()
            counter += 1
        blocks.append(bytes(material[:chunk]))
    return blocks


class _Progress:
    def __init__(self, total: int, out: TextIO | None) -> None:
        self.total = total
        self.out = out
        self.last = -1

    def update(self, done: int) -> None:
        if self.out is None:
            return
        percent = done * 100 // self.total
        if percent == self.last:
            return
        self.last = percent
        bar = "#" * (percent * 40 // 100)
        self.out.write(f"\r  [{bar:<40}] {percent:3d}% {done / 2**20:7.1f} MiB")
        if done >= self.total:
            self.out.write("\n")
        self.out.flush()


async def run_demo(
    size_mib: float = 64,
    chunk: int = 64 * 1024,
    *,
    high_water: int = 1 << 20,
    out: TextIO | None = sys.stdout,
) -> DemoResult:
    """Run the transfer and return its figures; raises if any byte is wrong, and
    ``ValueError`` for a size or chunk that is not positive."""
    if not size_mib > 0 or chunk <= 0:
        raise ValueError(f"size ({size_mib} MiB) and chunk ({chunk} bytes) must be positive")
    config = {"bindAddress": "127.0.0.1"}
    total = int(size_mib * 2**20)
    blocks = _pattern(chunk)
    started = time.perf_counter()
    async with (
        PeerConnection(config, name="sender") as a,
        PeerConnection(config, name="receiver") as b,
    ):
        channel = a.create_data_channel("demo")
        await connect_pair(a, b)
        incoming = await b.accept_channel()
        await channel.wait_open()
        setup = time.perf_counter() - started
        if out is not None:
            out.write(f"channel open in {setup * 1000:.1f} ms; sending {total / 2**20:.0f} MiB\n")
        channel.high_water = high_water
        progress = _Progress(total, out)
        expected = hashlib.sha256()
        received = hashlib.sha256()
        result_box: list[tuple[int, int]] = []

        async def receive() -> None:
            count = 0
            length = 0
            while length < total:
                message = await incoming.receive()
                if isinstance(message, str):
                    raise AssertionError("binary data arrived as text")
                received.update(message)
                length += len(message)
                count += 1
                progress.update(length)
            result_box.append((count, length))

        transfer_start = time.perf_counter()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(receive)
            sent = 0
            index = 0
            while sent < total:
                piece = blocks[index % len(blocks)][: total - sent]
                expected.update(piece)
                await channel.send(piece)
                sent += len(piece)
                index += 1
        elapsed = time.perf_counter() - transfer_start
        count, length = result_box[0]
        verified = length == total and received.digest() == expected.digest()
        if not verified:
            raise AssertionError("the received bytes differ from the bytes sent")
        return DemoResult(setup, elapsed, total, count, verified)
