"""trio_webrtc side by side with aiortc: setup, bulk, small messages, round trips.

Run from the repository root::

    python benchmarks/bench.py                       # everything, 3 trials, both stacks
    python benchmarks/bench.py --quick --stack trio  # a smoke run
    python benchmarks/bench.py --workload small --trials 5

Each (stack, workload, trial) runs in its own subprocess (``trio_side.py`` or
``aiortc_side.py``: two peers in that process over 127.0.0.1), stacks alternating within
every trial so that load from other work on the machine hits both alike. One JSON line is
printed per run, then a table of medians with the ratio trio_webrtc / aiortc. Every
workload verifies that each message arrived complete and in order; a run that fails to
verify makes this script exit non-zero.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from common import WORKLOADS  # noqa: E402

SIDES = {"trio": "trio_side.py", "aiortc": "aiortc_side.py"}
NAMES = {"trio": "trio_webrtc", "aiortc": "aiortc"}

# (workload, metric, unit, better): the figures the table shows.
METRICS = [
    ("setup", "setup_ms", "ms", "lower"),
    ("setup", "cpu_s", "CPU s/setup", "lower"),
    ("bulk16k", "mb_per_s", "MB/s", "higher"),
    ("bulk16k", "cpu_s_per_mb", "CPU s/MB", "lower"),
    ("bulk64k", "mb_per_s", "MB/s", "higher"),
    ("bulk64k", "cpu_s_per_mb", "CPU s/MB", "lower"),
    ("small", "msgs_per_s", "msg/s", "higher"),
    ("small", "cpu_us_per_msg", "CPU us/msg", "lower"),
    ("rtt", "rtt_p50_ms", "ms p50", "lower"),
    ("rtt", "rtt_p99_ms", "ms p99", "lower"),
]


def run_one(stack: str, workload: str, quick: bool, timeout: float) -> dict[str, Any]:
    command = [sys.executable, os.path.join(HERE, SIDES[stack]), workload]
    if quick:
        command.append("--quick")
    try:
        completed = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return {"stack": NAMES[stack], "workload": workload, "verified": False, "error": "timeout"}
    lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
    if completed.returncode != 0 or not lines:
        tail = completed.stderr.strip().splitlines()[-5:]
        return {
            "stack": NAMES[stack],
            "workload": workload,
            "verified": False,
            "error": f"exit {completed.returncode}: " + " | ".join(tail),
        }
    record: dict[str, Any] = json.loads(lines[-1])
    return record


def summarize(records: list[dict[str, Any]], stacks: list[str]) -> str:
    def median(stack: str, workload: str, metric: str) -> float | None:
        values = [
            r[metric]
            for r in records
            if r.get("stack") == NAMES[stack]
            and r.get("workload") == workload
            and r.get("verified")
            and metric in r
        ]
        return statistics.median(values) if values else None

    header = f"{'workload':<9} {'metric':<12}"
    for stack in stacks:
        header += f" {NAMES[stack]:>12}"
    if len(stacks) == 2:
        header += f" {'ratio':>7}  (trio_webrtc / aiortc)"
    lines = [header]
    workloads = {r.get("workload") for r in records}
    for workload, metric, unit, better in METRICS:
        if workload not in workloads:
            continue
        row = f"{workload:<9} {unit:<12}"
        values = [median(stack, workload, metric) for stack in stacks]
        for value in values:
            row += f" {'-' if value is None else f'{value:,.4g}':>12}"
        if len(stacks) == 2 and None not in values and values[1]:
            assert values[0] is not None and values[1] is not None
            row += f" {values[0] / values[1]:>6.2f}x  ({better} is better)"
        lines.append(row)
    rss = []
    for stack in stacks:
        peaks = [r.get("peak_rss_mb", 0.0) for r in records if r.get("stack") == NAMES[stack]]
        rss.append(f"{NAMES[stack]} peak RSS {max(peaks, default=0.0):.0f} MB")
    lines.append("; ".join(rss))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--stack", choices=("trio", "aiortc", "both"), default="both")
    parser.add_argument(
        "--workload", action="append", choices=WORKLOADS, help="repeatable; default all"
    )
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per run")
    parser.add_argument("--json", metavar="FILE", help="also write every record to FILE")
    args = parser.parse_args(argv)

    stacks = ["trio", "aiortc"] if args.stack == "both" else [args.stack]
    workloads = args.workload or list(WORKLOADS)
    records: list[dict[str, Any]] = []
    for trial in range(args.trials):
        order = stacks if trial % 2 == 0 else stacks[::-1]
        for workload in workloads:
            for stack in order:
                load_before = os.getloadavg()[0]
                record = run_one(stack, workload, args.quick, args.timeout)
                record["trial"] = trial
                # The machine's 1-minute load average around the run (others' work too).
                record["load_1m"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
                records.append(record)
                print(json.dumps(record), flush=True)
    print()
    print(summarize(records, stacks))
    loads = [value for r in records for value in r.get("load_1m", [])]
    if loads:
        print(f"1-minute load average during the runs: {min(loads):.2f}-{max(loads):.2f}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            for record in records:
                out.write(json.dumps(record) + "\n")
    failed = [r for r in records if not r.get("verified")]
    if failed:
        print(f"{len(failed)} run(s) failed or did not verify delivery", file=sys.stderr)
        return 1
    print(f"all {len(records)} runs verified delivery (complete and in order)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
