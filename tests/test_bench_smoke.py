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
    assert set(by_workload) == {"setup", "bulk16k", "bulk64k", "small", "rtt"}
    for record in records:
        assert record["stack"] == "trio_webrtc"
        assert record["verified"] is True, record
    assert by_workload["bulk64k"]["bytes"] == 4 << 20
    assert by_workload["small"]["messages"] == 5_000
    assert by_workload["rtt"]["count"] == 200
    assert by_workload["setup"]["count"] == 3
    assert "all 5 runs verified delivery" in completed.stdout
