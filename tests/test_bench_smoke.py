"""Smoke test of the benchmark harness: a quick trio-only run verifies delivery.

No timing is asserted: only that every workload ran, reported its figures and verified
that each message arrived complete and in order.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "benchmarks", "bench.py")


def test_quick_trio_run_verifies_delivery() -> None:
    completed = subprocess.run(
        [sys.executable, BENCH, "--quick", "--stack", "trio", "--trials", "1"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    records = [json.loads(line) for line in completed.stdout.splitlines() if line.startswith("{")]
    by_workload = {record["workload"]: record for record in records}
    assert set(by_workload) == {"setup", "bulk16k", "bulk64k", "small", "rtt", "twoproc"}
    for record in records:
        assert record["stack"] == "trio_webrtc"
        assert record["verified"] is True, record
    assert by_workload["bulk64k"]["bytes"] == 4 << 20
    assert by_workload["small"]["messages"] == 5_000
    assert by_workload["rtt"]["count"] == 200
    assert by_workload["setup"]["count"] == 3
    assert by_workload["twoproc"]["bytes"] == 4 << 20
    assert "all 6 runs verified delivery" in completed.stdout


def test_quick_godot_face_run_verifies_delivery() -> None:
    """The Godot face (a frame loop calling poll()) runs the same workloads."""
    completed = subprocess.run(
        [sys.executable, BENCH, "--quick", "--stack", "godot", "--trials", "1"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    records = [json.loads(line) for line in completed.stdout.splitlines() if line.startswith("{")]
    # No two-process peer for the Godot face: twoproc runs the Trio face, ldc and aiortc.
    assert {record["workload"] for record in records} == {
        "setup",
        "bulk16k",
        "bulk64k",
        "small",
        "rtt",
    }
    for record in records:
        assert record["stack"] == "trio_webrtc (Godot face)"
        assert record["verified"] is True, record


def test_table_names_a_stack_that_could_not_run() -> None:
    """Without Python 3.13 the libdatachannel row says why instead of failing the run."""
    sys.path.insert(0, os.path.dirname(BENCH))
    try:
        import bench  # type: ignore[import-not-found]
    finally:
        sys.path.remove(os.path.dirname(BENCH))
    records = [
        {"stack": "trio_webrtc", "workload": "small", "verified": True, "msgs_per_s": 60_000},
        {"stack": "trio_webrtc (Godot face)", "workload": "small", "verified": True,
         "msgs_per_s": 54_000},
    ]  # fmt: skip
    table = bench.summarize(records, ["trio", "godot"], {"ldc": "no Python 3.13"})
    assert "| libdatachannel-py (Python 3.13) | not measured: no Python 3.13 |" in table
    assert "| Godot face / Trio face | 0.90x |" in table
