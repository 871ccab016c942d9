"""Run every fuzz harness for a number of executions and print a summary.

    python fuzz/run.py --count 200000            # every parser, 200k executions each
    python fuzz/run.py --count 10000 --only sdp,stun --jobs 2

Each harness (``fuzz/fuzz_<name>.py``) runs under atheris/libFuzzer in its own process,
starting from the seed corpus of ``seeds.py`` (real SCTP packets, DTLS records, STUN/TURN
messages, DCEP opens, captured SDP). Crash inputs are written to ``--artifacts``
(default ``fuzz/artifacts``); each one should become a regression test. Without atheris
(no wheel for this Python), ``--fallback`` runs a plain in-process mutation fuzzer with
the same targets. Exit status: 0 when no harness crashed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import random
import re
import subprocess
import sys
import tempfile
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from targets import TARGETS  # noqa: E402


@dataclass
class Result:
    name: str
    executions: int
    crashes: int
    seconds: float
    detail: str = ""


def _run_atheris(name: str, count: int, artifacts: Path, max_len: int) -> Result:
    seeds = TARGETS[name][1]()
    artifacts.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"fuzz-{name}-") as corpus:
        for index, seed in enumerate(seeds):
            (Path(corpus) / f"seed-{index}").write_bytes(seed)
        started = time.monotonic()
        proc = subprocess.run(
            [
                sys.executable,
                str(HERE / f"fuzz_{name}.py"),
                f"-runs={count}",
                f"-max_len={max_len}",
                f"-artifact_prefix={artifacts}/{name}-",
                "-print_final_stats=1",
                "-timeout=20",
                "-rss_limit_mb=2048",
                corpus,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        elapsed = time.monotonic() - started
    output = proc.stdout + proc.stderr
    match = re.search(r"stat::number_of_executed_units:\s*(\d+)", output)
    done = re.search(r"Done (\d+) runs", output)
    executions = int(match.group(1)) if match else int(done.group(1)) if done else 0
    crashed = proc.returncode != 0
    detail = ""
    if crashed:
        lines = [ln for ln in output.splitlines() if ln.strip()]
        detail = "\n".join(lines[-25:])
    return Result(name, executions, int(crashed), elapsed, detail)


def _run_fallback(name: str, count: int, artifacts: Path, max_len: int) -> Result:
    make, seed_fn = TARGETS[name]
    target = make()
    seeds = list(seed_fn()) or [b""]
    rng = random.Random(name)
    crashes = 0
    detail = ""
    started = time.monotonic()
    for _ in range(count):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 4)):
            op = rng.randrange(5)
            at = rng.randrange(len(data) + 1)
            if op == 0 and data:
                data[at % len(data)] ^= 1 << rng.randrange(8)
            elif op == 1:
                del data[at:]
            elif op == 2:
                data[at:at] = rng.randbytes(rng.randint(1, 16))
            elif op == 3:
                del data[at : at + rng.randint(1, 16)]
            elif data:
                data[at % len(data)] = rng.randrange(256)
        data = data[:max_len]
        try:
            target(bytes(data))
        except Exception:
            crashes += 1
            artifacts.mkdir(parents=True, exist_ok=True)
            path = artifacts / f"{name}-crash-{crashes}"
            path.write_bytes(bytes(data))
            detail = traceback.format_exc(limit=6)
    return Result(name, count, crashes, time.monotonic() - started, detail)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10000, help="executions per parser")
    parser.add_argument("--only", default="", help="comma-separated harness names")
    parser.add_argument("--jobs", type=int, default=1, help="harnesses run in parallel")
    parser.add_argument("--max-len", type=int, default=4096)
    parser.add_argument("--artifacts", type=Path, default=HERE / "artifacts")
    parser.add_argument("--fallback", action="store_true", help="no atheris: plain mutator")
    args = parser.parse_args(argv)
    names = [n for n in args.only.split(",") if n] or list(TARGETS)
    unknown = set(names) - set(TARGETS)
    if unknown:
        parser.error(f"unknown harness {sorted(unknown)}; known: {', '.join(TARGETS)}")
    fallback = args.fallback
    if not fallback:
        try:
            import atheris  # noqa: F401
        except ImportError:
            print("atheris is not installed: using the fallback mutator", file=sys.stderr)
            fallback = True
    runner = _run_fallback if fallback else _run_atheris
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = list(
            pool.map(lambda n: runner(n, args.count, args.artifacts, args.max_len), names)
        )
    engine = "fallback mutator" if fallback else "atheris/libFuzzer"
    print(f"\n{'parser':<10} {'executions':>12} {'crashes':>8} {'seconds':>8}   ({engine})")
    for r in results:
        print(f"{r.name:<10} {r.executions:>12} {r.crashes:>8} {r.seconds:>8.1f}")
    for r in results:
        if r.crashes:
            print(f"\n--- {r.name}: crash (inputs in {args.artifacts}) ---\n{r.detail}")
    return 1 if any(r.crashes for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
