"""Pictures of path-benchmark runs: one PNG per profile (matplotlib, the ``bench`` extra).

Top panel: each pair's goodput over time, from the receiver's progress reports (bytes
received every 0.1 s, shown as Mbit/s over 0.5 s windows). When a run has the sender's
SCTP send-path trace (JSON lines with ``t`` and some of ``cwnd``, ``ssthresh``,
``flight``, ``rwnd``, ``srtt``, ``rto``; see :func:`read_trace`), two more panels show
congestion window (with ssthresh, bytes in flight, and retransmissions, loss events and
T3 expiries as marks on the axis) and smoothed RTT (with RTO) over time. Time is seconds
since the sender's channel opened.

``python benchmarks/path_plot.py DIR`` redraws from a ``--trace-dir`` profile folder.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

WINDOW = 0.5  # seconds per goodput point (less for short runs: at least 20 points)


def goodput_series(
    samples: Sequence[tuple[float, int]], origin: float, window: float = WINDOW
) -> tuple[list[float], list[float]]:
    """(times, Mbit/s) from cumulative (t, bytes) samples, one point per ``window``
    (shortened for short runs)."""
    times: list[float] = []
    rates: list[float] = []
    if not samples:
        return times, rates
    window = max(0.1, min(window, (samples[-1][0] - samples[0][0]) / 20))
    start_t, start_b = samples[0]
    for t, received in samples[1:]:
        if t - start_t >= window:
            times.append((t + start_t) / 2 - origin)
            rates.append((received - start_b) * 8 / (t - start_t) / 1e6)
            start_t, start_b = t, received
    return times, rates


def read_trace(
    path: str | Path, origin: float
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """A send-path trace (``trio_webrtc/sctp/trace.py``: JSON lines, each with ``t``,
    ``ev`` and the state ``cwnd``, ``ssthresh``, ``flight``, ``rwnd``, ``srtt``, ``rto``):
    its numeric columns, with ``t`` in seconds since ``origin`` (``time.monotonic()``),
    and the times of each record type (``rtx``, ``t3``...).

    A ``{"ev": "clock", "t": T, "monotonic": M}`` record maps the trace's clock to
    ``time.monotonic()``; without one, the first record is placed at ``origin``.
    """
    records: list[dict[str, Any]] = []
    with open(path) as lines:
        for raw in lines:
            line = raw.strip()
            if line.startswith("{"):
                try:
                    records.append(json.loads(line))
                except ValueError:
                    continue  # a line cut short by a killed process
    records = [r for r in records if isinstance(r.get("t"), (int, float))]
    columns: dict[str, list[float]] = {}
    events: dict[str, list[float]] = {}
    if not records:
        return columns, events
    shift = float(records[0]["t"])
    clock = next((r for r in records if r.get("ev") == "clock" and "monotonic" in r), None)
    if clock is not None:
        shift = float(clock["t"]) - float(clock["monotonic"]) + origin
    for record in records:
        if record.get("ev") == "clock":
            continue
        t = float(record["t"]) - shift
        events.setdefault(str(record.get("ev")), []).append(t)
        for key, value in record.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                columns.setdefault(key, [math.nan] * len(columns.get("t", [])))
        for key, column in columns.items():
            value = record.get(key)
            number = float(value) if isinstance(value, (int, float)) else math.nan
            column.append(t if key == "t" else number)
    return columns, events


def _runs_from_dir(directory: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(directory.glob("*.json"))]


def plot_profile(profile: str, runs: Iterable[Any], out_dir: Path) -> Path | None:
    """Draw ``out_dir/<profile>.png`` from runs (``Run`` objects or their saved JSON)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("path_plot: matplotlib is missing (pip install -e '.[bench]')", file=sys.stderr)
        return None
    items = [r if isinstance(r, dict) else {**r.record(), **_extra(r)} for r in runs]
    items = [r for r in items if r.get("samples")]
    if not items:
        return None
    traces = {r["pair"]: r["trace"] for r in items if r.get("trace") and Path(r["trace"]).exists()}
    panels = 3 if traces else 1
    figure, axes = plt.subplots(panels, 1, figsize=(13, 3.4 * panels), sharex=True, squeeze=False)
    goodput_axis = axes[0][0]
    colors = {item["pair"]: f"C{index % 10}" for index, item in enumerate(items)}
    for item in items:
        origin = item.get("opened_at") or item["samples"][0][0]
        times, rates = goodput_series([tuple(s) for s in item["samples"]], origin)
        status = item["status"] if item["status"] != "ok" else f"{item['goodput_mbit_s']:.3g}"
        goodput_axis.plot(
            times, rates, color=colors[item["pair"]], label=f"{item['pair']} ({status})"
        )
    goodput_axis.set_ylabel("goodput, Mbit/s")
    goodput_axis.set_title(f"profile {profile}")
    goodput_axis.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.01, 1))
    goodput_axis.grid(alpha=0.3)
    if traces:
        cwnd_axis, rtt_axis = axes[1][0], axes[2][0]
        top = 1.0
        for item in items:
            if item["pair"] not in traces:
                continue
            columns, events = read_trace(traces[item["pair"]], item.get("opened_at") or 0.0)
            t = columns.get("t", [])
            color = colors[item["pair"]]
            for key, style in (("cwnd", "-"), ("ssthresh", ":"), ("flight", "--")):
                if key in columns:
                    values = [v / 1024 for v in columns[key]]
                    cwnd_axis.plot(t, values, style, color=color, label=f"{item['pair']} {key}")
                    if key != "ssthresh":  # its initial value would flatten the rest
                        top = max([top, *(v for v in values if not math.isnan(v))])
            for ev, marker in (("rtx", "x"), ("loss", "o"), ("t3", "v")):
                if events.get(ev):
                    marks = [0] * len(events[ev])
                    cwnd_axis.plot(
                        events[ev], marks, marker, color=color, label=f"{item['pair']} {ev}"
                    )
            for key, style in (("srtt", "-"), ("rto", ":")):
                if key in columns:
                    values = [v * 1000 if v < 60 else v for v in columns[key]]  # s or ms
                    rtt_axis.plot(t, values, style, color=color, label=f"{item['pair']} {key}")
        cwnd_axis.set_ylim(-0.03 * top, top * 1.15)
        cwnd_axis.set_ylabel("KiB")
        cwnd_axis.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.01, 1))
        cwnd_axis.grid(alpha=0.3)
        rtt_axis.set_ylabel("ms")
        rtt_axis.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.01, 1))
        rtt_axis.grid(alpha=0.3)
    axes[-1][0].set_xlabel("seconds since the channel opened")
    figure.tight_layout()
    out = out_dir / f"{profile.replace(',', '_').replace('=', '-')}.png"
    figure.savefig(out, dpi=100)
    plt.close(figure)
    return out


def _extra(run: Any) -> dict[str, Any]:
    return {"samples": run.samples, "opened_at": run.opened_at}


if __name__ == "__main__":
    for name in sys.argv[1:]:
        folder = Path(name)
        print(plot_profile(folder.name, _runs_from_dir(folder), folder))
