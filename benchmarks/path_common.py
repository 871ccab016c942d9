"""What every path-benchmark peer shares (standard library only: it also runs under the
Python 3.13 venv that holds libdatachannel).

A peer is started as ``PEER --role send|recv --bytes N [--message-size S] [--mark M]
[--trace FILE]`` and speaks JSON lines on stdin/stdout with ``path_bench.py``:

* signaling as in ``tests/interop/harness.py``: ``offer``/``answer`` (``sdp``) and
  ``candidate`` (``candidate``, ``sdpMid``, ``sdpMLineIndex``; empty = end). The sender
  is the offerer and opens one reliable ordered channel ``"bulk"``;
* peer -> driver: ``open`` (the channel is open, ``t``), the receiver's ``progress``
  (``t``, ``bytes``, every :data:`PROGRESS_EVERY` s), the receiver's ``done`` (bytes,
  messages, ``crc``, ``first``/``last`` arrival times, ``error`` or null), the sender's
  ``sent`` (bytes and ``crc`` of all it handed to its stack), ``error`` (``error``);
* driver -> peer: ``bye`` (finish and exit).

Times are ``time.monotonic()`` seconds, one clock for every process on the machine.
Message ``i`` is its 8-byte big-endian sequence number and one of eight pseudo-random
bodies; the receiver checks the sequence and length of each and a CRC-32 of the whole
stream, which the driver compares with the sender's.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import threading
import time
import zlib
from typing import Any

MESSAGE_SIZE = 16 << 10
MARK = 1 << 20  # the sender keeps its stack's buffered amount at or below this
PROGRESS_EVERY = 0.1  # seconds between the receiver's progress reports
LABEL = "bulk"

_write_lock = threading.Lock()


def emit(message: dict[str, Any]) -> None:
    """One JSON line to the driver (safe from any thread)."""
    line = json.dumps(message) + "\n"
    with _write_lock:
        sys.stdout.write(line)
        sys.stdout.flush()


def log(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)


def parse_args(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--role", choices=("send", "recv"), required=True)
    parser.add_argument("--bytes", type=int, required=True, help="bytes to transfer")
    parser.add_argument("--message-size", type=int, default=MESSAGE_SIZE)
    parser.add_argument("--mark", type=int, default=MARK, help="max buffered amount, bytes")
    parser.add_argument("--trace", help="write the sender's SCTP trace here (if supported)")
    return parser.parse_args()


def loopback_candidate(value: str) -> bool:
    """Whether a ``candidate:...`` value is UDP on 127.0.0.1."""
    parts = value.removeprefix("a=").split()
    return len(parts) >= 8 and parts[2].lower() == "udp" and parts[4] == "127.0.0.1"


class Stream:
    """The messages of one transfer, for the sender (``message``) and the receiver
    (``check``), with a CRC-32 over every byte either way."""

    def __init__(self, total: int, size: int) -> None:
        if size < 8:
            raise ValueError("messages carry an 8-byte sequence number")
        self.size = size
        self.count = max(1, -(-total // size))
        self.total = self.count * size
        rng = random.Random(20240612)
        self.bodies = [rng.randbytes(size - 8) for _ in range(8)]
        self.crc = 0
        self.messages = 0
        self.bytes = 0
        self.first = 0.0
        self.last = 0.0
        self.error: str | None = None

    def message(self, seq: int) -> bytes:
        data = seq.to_bytes(8, "big") + self.bodies[seq & 7]
        self.crc = zlib.crc32(data, self.crc)
        self.messages += 1
        self.bytes += len(data)
        return data

    def check(self, data: bytes | str) -> bool:
        """Account one received message; False once an error was found."""
        if self.error is not None:
            return False
        now = time.monotonic()
        if not self.messages:
            self.first = now
        self.last = now
        seq = self.messages
        if isinstance(data, str):
            self.error = f"message {seq} arrived as text"
            return False
        if len(data) != self.size:
            self.error = f"message {seq}: {len(data)} bytes, expected {self.size}"
        elif int.from_bytes(data[:8], "big") != seq:
            self.error = f"message {int.from_bytes(data[:8], 'big')} arrived where {seq} was due"
        if self.error is not None:
            return False
        self.crc = zlib.crc32(data, self.crc)
        self.messages += 1
        self.bytes += len(data)
        return True

    @property
    def complete(self) -> bool:
        return self.messages >= self.count or self.error is not None

    def done(self) -> dict[str, Any]:
        return {
            "type": "done",
            "bytes": self.bytes,
            "messages": self.messages,
            "crc": self.crc,
            "first": self.first,
            "last": self.last,
            "error": self.error,
        }

    def sent(self) -> dict[str, Any]:
        return {"type": "sent", "bytes": self.bytes, "crc": self.crc, "t": time.monotonic()}


class Progress:
    """The receiver's periodic progress reports (call :meth:`tick` often)."""

    def __init__(self, stream: Stream) -> None:
        self.stream = stream
        self.next_at = 0.0

    def tick(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now >= self.next_at:
            self.next_at = now + PROGRESS_EVERY
            emit({"type": "progress", "t": now, "bytes": self.stream.bytes})
