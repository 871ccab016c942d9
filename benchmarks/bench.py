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
import tempfile
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from common import WORKLOADS, ldc_python  # noqa: E402

SIDES = {
    "trio": "trio_side.py",
    "godot": "godot_side.py",
    "aiortc": "aiortc_side.py",
    "ldc": "ldc_side.py",
}
NAMES = {
    "trio": "trio_webrtc",
    "godot": "trio_webrtc (Godot face)",
    "aiortc": "aiortc",
    "ldc": "libdatachannel",
}
LABELS = {
    "trio": "trio_webrtc, Trio face",
    "godot": "trio_webrtc, Godot face (poll() per frame)",
    "aiortc": "aiortc",
    "ldc": "libdatachannel-py (Python 3.13)",
}
STACK_CHOICES = ("trio", "godot", "aiortc", "ldc")

# (workload, metric, column, better, scale): the table's columns, in the order.
COLUMNS = [
    ("setup", "setup_ms", "setup ms", "lower", 1.0),
    ("bulk16k", "mb_per_s", "bulk 16 KiB MB/s", "higher", 1.0),
    ("bulk64k", "mb_per_s", "bulk 64 KiB MB/s", "higher", 1.0),
    ("small", "msgs_per_s", "100 B msgs/s", "higher", 1.0),
    ("rtt", "rtt_p50_ms", "RTT p50 us", "lower", 1000.0),
    ("bulk64k", "cpu_s_per_mb", "CPU s per 64 MiB", "lower", (64 << 20) / 1e6),
    ("twoproc", "mb_per_s", "two-process bulk 16 KiB MB/s", "higher", 1.0),
]
# Secondary figures, printed under the table.
EXTRA = [
    ("setup", "cpu_s", "CPU ms/setup", 1000.0),
    ("bulk16k", "cpu_s_per_mb", "bulk 16 KiB CPU s per 64 MiB", (64 << 20) / 1e6),
    ("small", "cpu_us_per_msg", "100 B CPU us/msg", 1.0),
    ("rtt", "rtt_p99_ms", "RTT p99 us", 1000.0),
]


def run_one(
    stack: str, workload: str, quick: bool, timeout: float, python: str = sys.executable
) -> dict[str, Any]:
    command = [python, os.path.join(HERE, SIDES[stack]), workload]
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
    record["stack"] = NAMES[stack]
    return record


def median(records: list[dict[str, Any]], stack: str, workload: str, metric: str) -> float | None:
    values = [
        r[metric]
        for r in records
        if r.get("stack") == NAMES[stack]
        and r.get("workload") == workload
        and r.get("verified")
        and metric in r
    ]
    return statistics.median(values) if values else None


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 1000 or (value >= 10 and float(value).is_integer()):
        return f"{value:,.0f}"
    return f"{value:.3g}" if value < 10 else f"{value:.1f}"


def summarize(
    records: list[dict[str, Any]], stacks: list[str], unavailable: dict[str, str] | None = None
) -> str:
    """A Markdown table of medians, a stack per row, then ratios against libdatachannel
    (if measured) and of the Godot face against the Trio face. A stack in ``unavailable``
    gets a row saying why it was not measured."""
    unavailable = unavailable or {}
    workloads = {r.get("workload") for r in records}
    columns = [c for c in COLUMNS if c[0] in workloads]
    if not columns:
        return "\n".join(f"{LABELS[s]}: not measured ({why})" for s, why in unavailable.items())
    table: dict[str, list[float | None]] = {}
    for stack in stacks:
        row: list[float | None] = []
        for workload, metric, _, _, scale in columns:
            value = median(records, stack, workload, metric)
            row.append(None if value is None else value * scale)
        table[stack] = row
    lines = ["| stack | " + " | ".join(c[2] for c in columns) + " |"]
    lines.append("|---|" + "---:|" * len(columns))
    for stack in stacks:
        lines.append(f"| {LABELS[stack]} | " + " | ".join(_fmt(v) for v in table[stack]) + " |")
    for stack, why in unavailable.items():
        lines.append(f"| {LABELS[stack]} | not measured: {why} |" + " |" * (len(columns) - 1))

    def ratio_row(title: str, stack: str, base: str) -> str:
        cells = []
        for value, reference in zip(table[stack], table[base], strict=True):
            cells.append("-" if value is None or not reference else f"{value / reference:.2f}x")
        return f"| {title} | " + " | ".join(cells) + " |"

    ratios = []
    if "ldc" in stacks:
        for stack in stacks:
            if stack != "ldc":
                ratios.append(ratio_row(f"{NAMES[stack]} / libdatachannel", stack, "ldc"))
    if "trio" in stacks and "godot" in stacks:
        ratios.append(ratio_row("Godot face / Trio face", "godot", "trio"))
    if ratios:
        lines += ["", "| ratio | " + " | ".join(c[2] for c in columns) + " |"]
        lines.append("|---|" + "---:|" * len(columns))
        lines += ratios
        lines.append("")
        lines.append(
            "(ratios of the medians: above 1 is better for MB/s and msgs/s, below 1 for "
            "setup, RTT and CPU)"
        )
    extra = []
    for stack in stacks:
        figures = []
        for workload, metric, label, scale in EXTRA:
            value = median(records, stack, workload, metric)
            if value is not None:
                figures.append(f"{label} {_fmt(value * scale)}")
        peaks = [
            r["peak_rss_mb"]
            for r in records
            if r.get("stack") == NAMES[stack] and r.get("peak_rss_mb") is not None
        ]
        if peaks:
            figures.append(f"peak RSS {max(peaks):.0f} MB")
        if figures:
            extra.append(f"{NAMES[stack]}: " + ", ".join(figures))
    return "\n".join([*lines, "", *extra])


SCALE_WORKLOADS = ("twoproc", "many", "server")
# Which stacks each runs: two-process bulk through path_bench.py's peers (no relay),
# many connections and the loaded server through many_connections.py.
SCALE_STACKS = {
    "twoproc": ("trio", "ldc", "aiortc"),
    "many": ("trio", "aiortc"),
    "server": ("trio", "aiortc"),
}
PATH_STACKS = {"trio": "trio", "ldc": "ldc", "aiortc": "aiortc"}


def run_scale(
    workload: str, stack: str, quick: bool, timeout: float, python: str
) -> list[dict[str, Any]]:
    """One run of a multi-process or many-connection workload, as result records."""
    if workload == "twoproc":
        size = (4 if quick else 64) << 20
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "runs.jsonl")
            pair = f"{PATH_STACKS[stack]}-{PATH_STACKS[stack]}"
            command = [sys.executable, os.path.join(HERE, "path_bench.py"), "--profiles",
                       "direct", "--pairs", pair, "--size", str(size), "--json", out,
                       "--no-netns", "--timeout", str(min(timeout, 120.0))]  # fmt: skip
            try:
                completed = subprocess.run(
                    command, capture_output=True, text=True, timeout=timeout, check=False
                )
                with open(out, encoding="utf-8") as lines:
                    runs = [json.loads(line) for line in lines if line.strip()]
            except (subprocess.TimeoutExpired, OSError) as exc:
                runs, completed = [], None
                error = f"{type(exc).__name__}: {exc}"
            records = []
            for run in runs:
                ok = run.get("status") == "ok"
                record: dict[str, Any] = {
                    "stack": NAMES[stack],
                    "workload": "twoproc",
                    "verified": ok,
                    "bytes": run.get("bytes"),
                    "seconds": run.get("seconds"),
                    # From the driver's start to the channel open: includes both processes'
                    # start-up and imports, so not comparable with the setup workload.
                    "start_to_open_ms": (
                        round(run["setup_s"] * 1000, 1) if run.get("setup_s") else None
                    ),
                }
                if ok:
                    record["mb_per_s"] = round(run["goodput_mbit_s"] / 8, 2)
                else:
                    record["error"] = f"{run.get('status')}: {run.get('error')}"
                records.append(record)
            if not records:
                if completed is not None:
                    error = " | ".join(completed.stderr.strip().splitlines()[-5:])
                records.append(
                    {"stack": NAMES[stack], "workload": workload, "verified": False, "error": error}
                )
            return records
    command = [sys.executable, os.path.join(HERE, "many_connections.py"), workload,
               "--stack", stack]  # fmt: skip
    if workload == "server":
        # The same load generator for either server: libdatachannel clients (cheap: the
        # protocol work is in C++ threads) when its venv exists, else aiortc's.
        ldc, _ = ldc_python(make=False)
        command += ["--client-stack", "ldc" if ldc else "aiortc"]
    if quick:
        command.append("--quick")
    try:
        completed = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return [
            {"stack": NAMES[stack], "workload": workload, "verified": False, "error": "timeout"}
        ]
    lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
    if not lines:
        tail = " | ".join(completed.stderr.strip().splitlines()[-5:])
        return [{"stack": NAMES[stack], "workload": workload, "verified": False, "error": tail}]
    return [json.loads(lines[-1])]


def summarize_scale(records: list[dict[str, Any]]) -> str:
    """The two-process, many-connection and server figures, medians per stack."""
    lines = []
    by_name = {name: key for key, name in NAMES.items()}
    for workload, metrics in (
        ("many", [("connections", "connections"), ("rss_kb_per_conn", "RSS KB/conn"),
                  ("idle_cpu_us_per_conn_s", "idle CPU us/s per conn")]),
        ("server", [("clients", "clients"), ("offered_msgs_per_s", "msgs/s offered"),
                    ("msgs_per_s", "received"), ("server_cpu_percent", "server CPU %"),
                    ("server_cpu_us_per_msg", "server CPU us/msg"),
                    ("clients_cpu_percent", "client processes' CPU %")]),
    ):  # fmt: skip
        stacks = [by_name[r["stack"]] for r in records if r.get("workload") == workload]
        for stack in dict.fromkeys(stacks):
            figures = []
            for metric, label in metrics:
                value = median(records, stack, workload, metric)
                if value is None:  # a run that did not verify still says what it managed
                    values = [
                        r[metric]
                        for r in records
                        if r.get("stack") == NAMES[stack]
                        and r.get("workload") == workload
                        and r.get(metric) is not None
                    ]
                    value = statistics.median(values) if values else None
                    if value is not None:
                        label = f"{label} (unverified)"  # noqa: PLW2901
                figures.append(f"{label} {_fmt(value)}")
            runs = [
                r
                for r in records
                if r.get("stack") == NAMES[stack] and r.get("workload") == workload
            ]
            if workload == "server":
                held = sum(1 for r in runs if r.get("sustained"))
                figures.append(f"sustained the offered rate in {held} of {len(runs)} run(s)")
                figures.append(f"clients: {runs[-1].get('client_stack', '?')}")
            lines.append(f"{workload:<8} {NAMES[stack]:<16} " + ", ".join(figures))
    return "\n".join(lines)


def parse_stacks(text: str) -> list[str]:
    if text == "both":  # the old spelling: the two Python stacks
        return ["trio", "aiortc"]
    if text == "all":
        return list(STACK_CHOICES)
    stacks = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in stacks if name not in STACK_CHOICES]
    if unknown or not stacks:
        raise argparse.ArgumentTypeError(f"stacks are {', '.join(STACK_CHOICES)}; got {text!r}")
    return stacks


def trio_floor() -> str:
    """One line: what Trio alone costs here (``trio_floor.py``), the floor under our face."""
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "trio_floor.py")
    completed = subprocess.run(
        [sys.executable, script], capture_output=True, text=True, timeout=300, check=False
    )
    if completed.returncode != 0:
        return f"Trio floor: trio_floor.py failed: {completed.stderr.strip()[-200:]}"
    figures = json.loads(completed.stdout.strip().splitlines()[-1])
    return (
        f"Trio floor here (no protocol, trio_floor.py): checkpoint {figures['checkpoint_us']} us,"
        f" memory channel {figures['memory_channel_us_per_msg']} us/msg,"
        f" UDP request/response through two receive tasks {figures['udp_round_trip_us']} us"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument(
        "--stack",
        type=parse_stacks,
        default=list(STACK_CHOICES),
        help="comma-separated: trio,godot,aiortc,ldc (default all four; 'both' = trio,aiortc)",
    )
    parser.add_argument(
        "--workload",
        action="append",
        choices=WORKLOADS + SCALE_WORKLOADS,
        help="repeatable; default the five one-process workloads and twoproc",
    )
    parser.add_argument(
        "--all", action="store_true", help="every workload: the default ones, many and server"
    )
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument(
        "--scale-trials",
        type=int,
        default=1,
        help="trials of many and server (each takes a minute or more; default 1)",
    )
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per run")
    parser.add_argument("--json", metavar="FILE", help="also write every record to FILE")
    args = parser.parse_args(argv)

    stacks: list[str] = args.stack
    workloads: list[str] = args.workload or [*WORKLOADS, "twoproc"]
    if args.all:
        workloads = [*WORKLOADS, *SCALE_WORKLOADS]
    pythons = {stack: sys.executable for stack in stacks}
    unavailable: dict[str, str] = {}
    if "ldc" in stacks:
        python, why = ldc_python()
        if python is None:
            print(f"bench: libdatachannel unavailable: {why}", file=sys.stderr)
            stacks = [stack for stack in stacks if stack != "ldc"]
            unavailable["ldc"] = why
        else:
            pythons["ldc"] = python
    records: list[dict[str, Any]] = []

    def note(record: dict[str, Any], load_before: float, trial: int) -> None:
        record["trial"] = trial
        # The machine's 1-minute load average around the run (others' work too).
        record["load_1m"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
        records.append(record)
        print(json.dumps(record), flush=True)

    for trial in range(args.trials):
        # Rotate the order every trial so that no stack always runs first or last.
        shift = trial % len(stacks)
        order = stacks[shift:] + stacks[:shift]
        for workload in workloads:
            if workload in SCALE_WORKLOADS:
                if workload != "twoproc" and trial >= args.scale_trials:
                    continue
                for stack in order:
                    if stack not in SCALE_STACKS[workload]:
                        continue
                    load_before = os.getloadavg()[0]
                    for record in run_scale(
                        workload, stack, args.quick, args.timeout, pythons[stack]
                    ):
                        note(record, load_before, trial)
                continue
            for stack in order:
                load_before = os.getloadavg()[0]
                note(
                    run_one(stack, workload, args.quick, args.timeout, pythons[stack]),
                    load_before,
                    trial,
                )
    print()
    print(summarize(records, stacks, unavailable))
    scale = summarize_scale(records)
    if scale:
        print()
        print(scale)
    if not args.quick and "trio" in stacks:
        print()
        print(trio_floor())
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
