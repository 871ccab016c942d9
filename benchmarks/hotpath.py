"""CPU and packet accounting for one trio_webrtc workload, for hot-path work.

``python benchmarks/hotpath.py small`` (or ``bulk [--size 16384]``, ``rtt``) runs two peers over
127.0.0.1 in this process and prints CPU µs per message (or CPU s per MB), DATA chunks per
DATA packet, and SACKs per DATA packet, counted on the wire (every SCTP packet either side
sends is parsed). Judge changes by these figures, not wall time, on a shared machine.
``--profile`` adds a cProfile table (slow: it multiplies per-call costs);
``py-spy record -r 2000 -f raw -- python benchmarks/hotpath.py small`` samples instead.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from collections import Counter
from typing import Any

import trio

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from trio_side import channel_pair, stream

from trio_webrtc._trio import driver as _driver
from trio_webrtc.sctp import association

COUNTS: Counter[str] = Counter()
_original = association.SctpAssociation.datagrams_to_send


def _counting(self: association.SctpAssociation, now: float, **kw: Any) -> list[bytes]:
    out = _original(self, now, **kw)
    for packet in out:
        offset, data = 12, 0
        while offset + 4 <= len(packet):
            kind = packet[offset]
            length = int.from_bytes(packet[offset + 2 : offset + 4], "big")
            if kind == 0:
                COUNTS["data_chunks"] += 1
                data = 1
            elif kind == 3:
                COUNTS["sack"] += 1
            offset += (length + 3) & ~3
        COUNTS["data_packets"] += data
        COUNTS["packets"] += 1
    return out


association.SctpAssociation.datagrams_to_send = _counting  # type: ignore[method-assign]
_original_send = _driver.CoreDriver._send


def _counting_send(self: _driver.CoreDriver, *, hold: bool) -> None:
    COUNTS["flushes"] += 1
    _original_send(self, hold=hold)


_driver.CoreDriver._send = _counting_send  # type: ignore[method-assign]


async def _run(workload: str, count: int, profile: bool, size: int) -> None:
    async with channel_pair() as (channel, incoming, _):
        COUNTS.clear()
        profiler = cProfile.Profile() if profile else None
        cpu, wall = time.process_time(), time.perf_counter()
        if profiler is not None:
            profiler.enable()
        if workload == "rtt":

            async def echo() -> None:
                for _ in range(count):
                    await incoming.send(await incoming.receive())

            async with trio.open_nursery() as nursery:
                nursery.start_soon(echo)
                for seq in range(count):
                    await channel.send(seq.to_bytes(8, "big") * (size // 8))
                    await channel.receive()
        else:
            await stream(channel, incoming, size, count)
        if profiler is not None:
            profiler.disable()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    data_packets = max(1, COUNTS["data_packets"])
    if workload == "bulk":
        megabytes = count * size / 1e6
        print(
            f"bulk {size} B: {cpu / megabytes:.4f} CPU s/MB, {megabytes / wall:.1f} MB/s, "
            f"SCTP packets/MB {COUNTS['packets'] / megabytes:.1f}, "
            f"flushes/MB {COUNTS['flushes'] / megabytes:.1f}"
        )
    else:
        print(f"{workload}: {cpu / count * 1e6:.2f} CPU us/msg, {count / wall:,.0f} msg/s")
    print(
        f"packets {COUNTS['packets']}, DATA packets {COUNTS['data_packets']}, "
        f"DATA chunks/DATA packet {COUNTS['data_chunks'] / data_packets:.2f}, "
        f"SACKs/DATA packet {COUNTS['sack'] / data_packets:.3f}"
    )
    if profiler is not None:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("workload", choices=["small", "bulk", "rtt"])
    parser.add_argument("--count", type=int, help="messages (default: 100000, 1024, 2000)")
    parser.add_argument("--size", type=int, help="message bytes (default: 100, 65536, 100)")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    size = args.size or {"small": 100, "bulk": 65536, "rtt": 100}[args.workload]
    # bulk: 64 MiB whatever the message size, unless --count says otherwise
    default = {"small": 100_000, "bulk": (64 << 20) // size, "rtt": 2000}[args.workload]
    trio.run(_run, args.workload, args.count or default, args.profile, size)


if __name__ == "__main__":
    main()
