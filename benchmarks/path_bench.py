"""Bulk goodput over emulated network paths: trio_webrtc against itself, aiortc and
libdatachannel, each peer in its own process, through ``pathemu.py`` on 127.0.0.1.

Run from the repository root::

    python benchmarks/path_bench.py                          # every profile and pair
    python benchmarks/path_bench.py --quick                  # 1/8 of the sizes
    python benchmarks/path_bench.py --profiles wan,far --pairs trio-trio,aiortc-trio
    python benchmarks/path_bench.py --profiles wan --trace-dir out --plot

One run: the sender (offerer) opens one reliable ordered channel and sends 16 KiB
messages, keeping its stack's buffered amount at or below 1 MiB (``--mark``); the
receiver checks each message's sequence and length and a CRC-32 of the whole stream
(compared with the sender's). Goodput is the receiver's: bytes x 8 / (last arrival -
first arrival). A run ends ``timeout`` after ``--timeout`` seconds, or ``stalled`` when no
byte arrived for ``--stall`` seconds. The table (Mbit/s) shows each measured pair with
the figure issue 12 quoted for it in parentheses, and the issue's Chromium figures.

Outside a loopback-only network namespace, as root, the script re-runs itself inside a
fresh one (``unshare --net``, only ``lo`` up) so that no peer can reach another
interface; ``--no-netns`` runs on the host's loopback (every peer still binds
127.0.0.1). libdatachannel (``libdatachannel-py``) has wheels for Python 3.13 only: the
first run makes ``benchmarks/.venv313`` with it (before entering the namespace); without a
Python 3.13 its pairs are reported ``unavailable``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import ldc_python  # noqa: E402
from path_common import MARK, MESSAGE_SIZE  # noqa: E402
from pathemu import PROFILES, PathEmulator, open_path, parse_profile  # noqa: E402

STACKS = {"trio": "path_peer_trio.py", "aiortc": "path_peer_aiortc.py", "ldc": "path_peer_ldc.py"}
NAMES = {"trio": "trio", "aiortc": "aiortc", "ldc": "libdatachannel", "chromium": "Chromium"}
PAIRS = [
    "trio-trio",
    "trio-aiortc",
    "aiortc-trio",
    "trio-ldc",
    "ldc-trio",
    "aiortc-aiortc",
    "ldc-ldc",
]

# Bytes per run, so that each takes about 20 s or less at the goodputs issue 12 reports
# (the lossy profiles carry about 2 Mbit/s, `mobile` under 1). --quick takes 1/8.
SIZES = {
    "direct": 128 << 20,
    "lan": 48 << 20,
    "bottleneck": 48 << 20,
    "wan": 48 << 20,
    "wan-lossy": 4 << 20,
    "mobile": 2 << 20,
    "far": 32 << 20,
}
DEFAULT_SIZE = 8 << 20

# Issue 12's figures (Mbit/s), measured with a held-out harness on the same profiles.
# fmt: off
ISSUE = {
    "lan": {"trio-trio": "211", "ldc-ldc": "167", "chromium-chromium": "35",
            "aiortc-aiortc": "44", "chromium-trio": "90", "trio-chromium": "138",
            "ldc-trio": "229"},
    "bottleneck": {"trio-trio": "44", "ldc-ldc": "46", "chromium-chromium": "27",
                   "aiortc-aiortc": "44", "chromium-trio": "42", "trio-chromium": "42",
                   "ldc-trio": "46"},
    "wan": {"trio-trio": "34", "ldc-ldc": "75", "chromium-chromium": "8-23",
            "aiortc-aiortc": "40", "chromium-trio": "stalled 1/2", "trio-chromium": "29",
            "ldc-trio": "69"},
    "wan-lossy": {"trio-trio": "1.7", "ldc-ldc": "2.4", "chromium-chromium": "2.4",
                  "aiortc-aiortc": "2.5", "chromium-trio": "0.64", "trio-chromium": "1.1",
                  "ldc-trio": "2.0"},
    "mobile": {"trio-trio": "0.92", "ldc-ldc": "0.95", "chromium-chromium": "0.85",
               "aiortc-aiortc": "0.88", "chromium-trio": "0.86", "trio-chromium": "0.87",
               "ldc-trio": "0.86"},
    "far": {"trio-trio": "16", "ldc-ldc": "23", "chromium-chromium": "times out",
            "aiortc-aiortc": "31", "chromium-trio": "28", "trio-chromium": "17",
            "ldc-trio": "25"},
}
# fmt: on
ISSUE_ONLY = ["chromium-chromium", "chromium-trio", "trio-chromium"]


# ------------------------------------------------------------------------ environment


def loopback_only() -> bool:
    return all(name == "lo" for _, name in socket.if_nameindex())


def peer_argv(stack: str, ldc: str | None) -> list[str]:
    python = ldc if stack == "ldc" else sys.executable
    assert python is not None
    return [python, str(HERE / STACKS[stack])]


# -------------------------------------------------------------------------- one run


class Peer:
    """A peer process: JSON lines both ways, stderr to a log file."""

    def __init__(self, name: str, process: trio.Process, log: Path) -> None:
        self.name = name
        self.process = process
        self.log = log

    async def send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        with suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            await self.process.stdin.send_all((json.dumps(message) + "\n").encode())

    async def messages(self) -> AsyncIterator[dict[str, Any]]:
        assert self.process.stdout is not None
        buffer = b""
        async for chunk in self.process.stdout:
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                if line.startswith(b"{"):
                    yield json.loads(line)

    def stderr_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@asynccontextmanager
async def open_peer(name: str, argv: list[str], log_dir: Path) -> AsyncIterator[Peer]:
    log = log_dir / f"{name}.log"
    with open(log, "wb") as stderr:
        process = await trio.lowlevel.open_process(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
        )
    peer = Peer(name, process, log)
    try:
        yield peer
    finally:
        with trio.CancelScope(shield=True):
            await peer.send({"type": "bye"})
            with trio.move_on_after(3):
                await process.wait()
            if process.returncode is None:
                process.kill()
                await process.wait()
            for stream in (process.stdin, process.stdout):
                if stream is not None:
                    await stream.aclose()


@dataclass
class Run:
    """One (profile, pair) run and what came of it."""

    profile: str
    pair: str
    size: int
    status: str = "running"
    goodput_mbit: float = math.nan
    received: int = 0
    seconds: float = math.nan
    setup_seconds: float = math.nan
    opened_at: float = math.nan  # the sender's channel open (time.monotonic)
    samples: list[tuple[float, int]] = field(default_factory=list)  # receiver (t, bytes)
    path: dict[str, Any] = field(default_factory=dict)
    trace: str | None = None  # the sender's SCTP trace (JSON lines), if written
    error: str = ""

    def cell(self) -> str:
        if self.status == "ok":
            value = self.goodput_mbit
            return f"{value:.3g}" if value < 100 else f"{value:.0f}"
        if self.status in ("timeout", "stalled"):
            return f"{self.status} at {self.received / 1e6:.1f} MB"
        return self.status

    def record(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "pair": self.pair,
            "bytes": self.size,
            "status": self.status,
            "goodput_mbit_s": round(self.goodput_mbit, 3) if self.status == "ok" else None,
            "received": self.received,
            "seconds": round(self.seconds, 3),
            "setup_s": round(self.setup_seconds, 3),
            "error": self.error,
            "path": self.path,
            "trace": self.trace,
        }


async def run_pair(
    profile: str,
    pair: str,
    size: int,
    *,
    mark: int,
    timeout: float,
    stall: float,
    seed: int,
    ldc: str | None,
    out_dir: Path,
    trace: bool,
) -> Run:
    """Transfer ``size`` bytes from the pair's sender to its receiver over ``profile``."""
    sender_stack, receiver_stack = pair.split("-")
    run = Run(profile, pair, size)
    common = ["--bytes", str(size), "--message-size", str(MESSAGE_SIZE), "--mark", str(mark)]
    send_argv = [*peer_argv(sender_stack, ldc), "--role", "send", *common]
    if trace and sender_stack == "trio":
        run.trace = str(out_dir / f"{pair}.sctp-trace.jsonl")
        send_argv += ["--trace", run.trace]
    recv_argv = [*peer_argv(receiver_stack, ldc), "--role", "recv", *common]
    finished = trio.Event()
    sent: dict[str, Any] = {}
    done: dict[str, Any] = {}
    started = time.monotonic()
    last_progress = [started]

    async with AsyncExitStack() as stack:
        path: PathEmulator | None = None
        if profile != "direct":
            path = await stack.enter_async_context(open_path(parse_profile(profile), seed=seed))
        sender = await stack.enter_async_context(open_peer(f"{pair}.send", send_argv, out_dir))
        receiver = await stack.enter_async_context(open_peer(f"{pair}.recv", recv_argv, out_dir))

        def rewrite(side: str, message: dict[str, Any]) -> dict[str, Any] | None:
            kind = message.get("type")
            if kind in ("offer", "answer"):
                sdp = str(message["sdp"])
                if path is not None:
                    sdp = path.rewrite_sdp(side, sdp)
                return {**message, "sdp": sdp}
            value = str(message.get("candidate") or "")
            if path is None:
                parts = value.removeprefix("a=").split()
                udp = [p.lower() for p in parts[2:3]] == ["udp"]
                keep = not value or (udp and parts[4:5] == ["127.0.0.1"])
                return message if keep else None
            rewritten = path.rewrite_candidate(side, value)
            return None if rewritten is None else {**message, "candidate": rewritten}

        async def pump(source: Peer, target: Peer, side: str) -> None:
            async for message in source.messages():
                kind = message.get("type")
                if kind in ("offer", "answer", "candidate"):
                    forwarded = rewrite(side, message)
                    if forwarded is not None:
                        await target.send(forwarded)
                elif kind == "open" and side == "a":
                    run.opened_at = float(message["t"])
                    run.setup_seconds = run.opened_at - started
                elif kind == "progress":
                    run.samples.append((float(message["t"]), int(message["bytes"])))
                    if int(message["bytes"]) > run.received:
                        run.received = int(message["bytes"])
                        last_progress[0] = time.monotonic()
                elif kind == "sent":
                    sent.update(message)
                    if done:
                        finished.set()
                elif kind == "done":
                    done.update(message)
                    if sent or done.get("error"):
                        finished.set()
                elif kind == "error":
                    run.error = f"{source.name}: {message.get('error')}"
                    finished.set()
            if not finished.is_set():
                run.error = run.error or f"{source.name} exited"
                finished.set()

        async def watch() -> None:
            while True:
                await trio.sleep(0.5)
                if time.monotonic() - last_progress[0] > stall:
                    run.status = "stalled" if run.samples else "no connection"
                    finished.set()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(pump, sender, receiver, "a")
            nursery.start_soon(pump, receiver, sender, "b")
            nursery.start_soon(watch)
            with trio.move_on_after(timeout):
                await finished.wait()
            if done and not sent and not run.error:
                with trio.move_on_after(5):  # the sender's report may trail the receiver's
                    while not sent:
                        await trio.sleep(0.05)
            nursery.cancel_scope.cancel()
        if path is not None:
            run.path = path.stats()
        for peer in (sender, receiver):
            if run.error and peer.stderr_tail():
                run.error += f"\n--- {peer.name} stderr ---\n{peer.stderr_tail()}"

    if done:
        run.received = int(done["bytes"])
        run.seconds = float(done["last"]) - float(done["first"])
        if done.get("error"):
            run.status, run.error = "corrupt", str(done["error"])
        elif not sent:
            run.status = "no sender report"
        elif sent["crc"] != done["crc"] or sent["bytes"] != done["bytes"]:
            run.status, run.error = "corrupt", "CRC or length differs from the sender's"
        else:
            run.status = "ok"
            run.goodput_mbit = done["bytes"] * 8 / max(run.seconds, 1e-9) / 1e6
    elif run.status == "running":
        run.status = "error" if run.error else "timeout"
    if trace:
        (out_dir / f"{pair}.json").write_text(
            json.dumps({**run.record(), "samples": run.samples, "opened_at": run.opened_at})
        )
    return run


# -------------------------------------------------------------------------- report


def table(runs: list[Run], profiles: list[str], pairs: list[str]) -> str:
    """Markdown: a row per profile, measured Mbit/s with issue 12's figure in parentheses,
    then the issue's Chromium columns."""

    def title(pair: str) -> str:
        a, b = pair.split("-")
        return f"{NAMES.get(a, a)} → {NAMES.get(b, b)}"

    header = ["profile", *map(title, pairs), *(f"{title(p)} (issue)" for p in ISSUE_ONLY)]
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    by_key = {(r.profile, r.pair): r for r in runs}
    for profile in profiles:
        quoted = ISSUE.get(profile.split(",")[0], {}) if "," not in profile else {}
        cells = [f"`{profile}`"]
        for pair in pairs:
            run = by_key.get((profile, pair))
            cell = run.cell() if run else "-"
            if pair in quoted:
                cell += f" ({quoted[pair]})"
            cells.append(cell)
        cells += [quoted.get(pair, "-") for pair in ISSUE_ONLY]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def describe_profiles(profiles: list[str]) -> str:
    lines = []
    for name in profiles:
        text = "no relay" if name == "direct" else parse_profile(name).describe()
        lines.append(f"- `{name}`: {text}")
    return "\n".join(lines)


async def run_all(args: argparse.Namespace, ldc: str | None, why_not: str) -> list[Run]:
    runs: list[Run] = []
    base = Path(args.trace_dir) if args.trace_dir else Path(tempfile.mkdtemp(prefix="pathbench-"))
    for profile in args.profiles:
        out_dir = base / profile.replace(",", "_").replace("=", "-")
        out_dir.mkdir(parents=True, exist_ok=True)
        size = args.size or SIZES.get(profile.split(",")[0], DEFAULT_SIZE)
        if args.quick:
            size = max(MESSAGE_SIZE, size // 8)
        for pair in args.pairs:
            if "ldc" in pair.split("-") and ldc is None:
                run = Run(profile, pair, size, status="unavailable", error=why_not)
            else:
                run = await run_pair(
                    profile,
                    pair,
                    size,
                    mark=args.mark,
                    timeout=args.timeout,
                    stall=args.stall,
                    seed=args.seed,
                    ldc=ldc,
                    out_dir=out_dir,
                    trace=bool(args.trace_dir or args.plot),
                )
            runs.append(run)
            print(json.dumps(run.record()), flush=True)
            if run.error and run.status != "unavailable":
                print(f"path_bench: {profile} {pair}: {run.error}", file=sys.stderr)
        if args.plot:
            from path_plot import plot_profile

            picture = plot_profile(profile, [r for r in runs if r.profile == profile], out_dir)
            if picture is not None:
                print(f"path_bench: plotted {picture}", file=sys.stderr)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--profiles", default=",".join(PROFILES), help="comma-separated names")
    parser.add_argument("--profile", action="append", default=[], help="one profile (may carry "
                        "overrides: 'wan,loss=2%%'); repeatable")  # fmt: skip
    parser.add_argument("--pairs", default=",".join(PAIRS), help="sender-receiver, e.g. trio-ldc")
    parser.add_argument("--size", type=int, default=0, help="bytes per run (default per profile)")
    parser.add_argument("--quick", action="store_true", help="1/8 of the default sizes")
    parser.add_argument("--mark", type=int, default=MARK, help="max buffered amount (1 MiB)")
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds per run")
    parser.add_argument("--stall", type=float, default=15.0, help="seconds without progress")
    parser.add_argument("--seed", type=int, default=1, help="the path's random seed")
    parser.add_argument("--trace-dir", help="keep logs, samples and traces here")
    parser.add_argument("--plot", action="store_true", help="one PNG per profile (matplotlib)")
    parser.add_argument("--json", help="append each run's JSON line to this file")
    parser.add_argument("--no-netns", action="store_true", help="do not enter a namespace")
    args = parser.parse_args()
    args.profiles = args.profile or [p for p in args.profiles.split(",") if p]
    args.pairs = [p for p in args.pairs.split(",") if p]
    for pair in args.pairs:
        if len(pair.split("-")) != 2 or not set(pair.split("-")) <= set(STACKS):
            parser.error(f"unknown pair {pair!r} (stacks: {', '.join(STACKS)})")
    for name in args.profiles:
        if name != "direct":
            try:
                parse_profile(name)
            except ValueError as exc:
                parser.error(str(exc))
    if args.plot and not args.trace_dir:
        args.trace_dir = "path-bench-out"

    wants_ldc = any("ldc" in pair.split("-") for pair in args.pairs)
    fenced = loopback_only()
    ldc, why_not = ldc_python(make=wants_ldc and not fenced) if wants_ldc else (None, "")
    if not fenced and not args.no_netns and os.geteuid() == 0 and shutil.which("unshare"):
        inner = [sys.executable, *sys.argv]
        script = 'ip link set lo up && exec "$@"'
        os.execvp("unshare", ["unshare", "--net", "--", "sh", "-c", script, "sh", *inner])
    if not fenced:
        print("path_bench: not in a loopback-only namespace; peers bind 127.0.0.1", file=sys.stderr)

    runs = trio.run(run_all, args, ldc, why_not)
    if args.json:
        with open(args.json, "a") as out:
            for run in runs:
                out.write(json.dumps(run.record()) + "\n")
    print()
    print(f"Goodput, Mbit/s (issue 12's figure in parentheses); 16 KiB messages, buffered "
          f"amount ≤ {args.mark / 2**20:g} MiB, one reliable ordered channel")  # fmt: skip
    print()
    print(table(runs, args.profiles, args.pairs))
    print()
    print(describe_profiles(args.profiles))
    failed = [r for r in runs if r.status in ("corrupt", "error", "no sender report")]
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
