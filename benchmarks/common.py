"""What both benchmark sides share: workload sizes, payloads, verification, reporting.

Every message starts with its 8-byte big-endian sequence number; the rest is one of seven
pseudo-random blocks chosen by the sequence number. The receiver checks the sequence
number (complete and in order) and compares every byte of the body, so a workload only
reports figures when every message arrived intact and in order.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

HIGH_WATER = 1 << 20  # the sender never lets more than this be buffered

VENV313 = os.path.join(os.path.dirname(os.path.abspath(__file__)), ".venv313")
LDC_PACKAGE = "libdatachannel-py"


@dataclass(frozen=True)
class Sizes:
    setup_count: int = 10
    bulk_bytes: int = 64 << 20
    small_count: int = 100_000
    small_size: int = 100
    rtt_count: int = 2_000


FULL = Sizes()
QUICK = Sizes(setup_count=3, bulk_bytes=4 << 20, small_count=5_000, rtt_count=200)

WORKLOADS = ("setup", "bulk16k", "bulk64k", "small", "rtt")

R = TypeVar("R")


def dispatch(
    workload: str,
    quick: bool,
    *,
    setup: Callable[[int], R],
    bulk: Callable[[str, int, int], R],
    small: Callable[[int, int], R],
    rtt: Callable[[int, int], R],
) -> R:
    """Call the side's function for ``workload`` with its sizes (a coroutine for the
    async sides, a record for libdatachannel's)."""
    s = sizes(quick)
    if workload == "setup":
        return setup(s.setup_count)
    if workload == "bulk16k":
        return bulk(workload, s.bulk_bytes, 16 << 10)
    if workload == "bulk64k":
        return bulk(workload, s.bulk_bytes, 64 << 10)
    if workload == "small":
        return small(s.small_count, s.small_size)
    if workload == "rtt":
        return rtt(s.rtt_count, s.small_size)
    raise SystemExit(f"unknown workload {workload!r}")


def side_arguments(description: str | None) -> argparse.Namespace:
    """A benchmark side's command line: ``WORKLOAD [--quick]``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("workload", choices=WORKLOADS)
    parser.add_argument("--quick", action="store_true")
    return parser.parse_args()


def sizes(quick: bool) -> Sizes:
    return QUICK if quick else FULL


class Payload:
    """Messages of ``size`` bytes carrying a sequence number, and their checker."""

    def __init__(self, size: int) -> None:
        if size < 8:
            raise ValueError("messages carry an 8-byte sequence number")
        seed = hashlib.sha256(b"trio-webrtc bench").digest()
        self.size = size
        self.bodies: list[bytes] = []
        for index in range(7):
            material = bytearray()
            counter = 0
            while len(material) < size - 8:
                material += hashlib.sha256(
                    seed + bytes([index]) + counter.to_bytes(4, "big")
                ).digest()
                counter += 1
            self.bodies.append(bytes(material[: size - 8]))
        self.next_expected = 0
        self.bytes_received = 0

    def message(self, seq: int) -> bytes:
        return seq.to_bytes(8, "big") + self.bodies[seq % 7]

    def check(self, data: bytes | bytearray | memoryview | str) -> None:
        """Raise unless ``data`` is exactly the next message in sequence."""
        if isinstance(data, str):
            raise AssertionError("binary message arrived as text")
        seq = self.next_expected
        if len(data) != self.size:
            raise AssertionError(f"message {seq}: {len(data)} bytes, expected {self.size}")
        got = int.from_bytes(data[:8], "big")
        if got != seq:
            raise AssertionError(f"message {got} arrived where {seq} was expected")
        if data[8:] != self.bodies[seq % 7]:
            raise AssertionError(f"message {seq}: body differs")
        self.next_expected = seq + 1
        self.bytes_received += len(data)


@dataclass
class Meter:
    """CPU seconds and wall time over a workload (the process's own clocks)."""

    wall_start: float = field(default_factory=time.perf_counter)
    cpu_start: float = field(default_factory=time.process_time)

    def stop(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall_start, time.process_time() - self.cpu_start


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def result(stack: str, workload: str, wall: float, cpu: float, **figures: Any) -> dict[str, Any]:
    """The JSON-able record one side prints for one workload run."""
    record: dict[str, Any] = {
        "stack": stack,
        "workload": workload,
        "verified": True,
        "wall_s": round(wall, 4),
        "cpu_s": round(cpu, 4),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    record.update(figures)
    return record


def bulk_figures(total: int, size: int, wall: float, cpu: float) -> dict[str, Any]:
    megabytes = total / 1e6
    return {
        "bytes": total,
        "message_size": size,
        "messages": total // size,
        "mb_per_s": round(megabytes / wall, 2),
        "cpu_s_per_mb": round(cpu / megabytes, 5),
    }


def small_figures(count: int, size: int, wall: float, cpu: float) -> dict[str, Any]:
    return {
        "messages": count,
        "message_size": size,
        "msgs_per_s": round(count / wall),
        "cpu_us_per_msg": round(cpu / count * 1e6, 3),
    }


def setup_figures(times: list[float]) -> dict[str, Any]:
    return {
        "count": len(times),
        "setup_ms": round(statistics.median(times) * 1000, 2),
        "setup_ms_all": [round(t * 1000, 2) for t in times],
    }


def rtt_figures(rtts: list[float]) -> dict[str, Any]:
    return {
        "count": len(rtts),
        "rtt_p50_ms": round(percentile(rtts, 0.5) * 1000, 4),
        "rtt_p99_ms": round(percentile(rtts, 0.99) * 1000, 4),
    }


def emit(record: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()


def ldc_python(make: bool = True) -> tuple[str | None, str]:
    """The Python 3.13 with libdatachannel-py (making ``benchmarks/.venv313`` if needed and
    ``make``), or None and why not."""
    python = os.path.join(VENV313, "bin", "python")
    probe = [python, "-c", "import libdatachannel"]
    if (
        os.path.exists(python)
        and subprocess.run(probe, capture_output=True, check=False).returncode == 0
    ):
        return python, ""
    if not make:
        return None, f"{VENV313} has no libdatachannel"
    # pyenv's shim answers for every version but fails unless 3.13 is selected: try the
    # real interpreters first, and keep the first candidate that runs.
    candidates = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.13*/bin/python3.13")))
    candidates += [path for path in [shutil.which("python3.13")] if path]
    found = next(
        (
            path
            for path in candidates
            if subprocess.run([path, "-c", "pass"], capture_output=True, check=False).returncode
            == 0
        ),
        None,
    )
    if found is None:
        return None, "no Python 3.13 (libdatachannel-py has wheels for 3.13 only)"
    print(f"making {VENV313} with {LDC_PACKAGE} ({found})", file=sys.stderr)
    for step in (
        [found, "-m", "venv", VENV313],
        [python, "-m", "pip", "install", "-q", LDC_PACKAGE],
    ):
        done = subprocess.run(step, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            return None, f"{' '.join(step[:4])} failed: {done.stderr.strip()[-300:]}"
    return python, ""
