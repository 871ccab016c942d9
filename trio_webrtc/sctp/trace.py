"""An opt-in trace of an SCTP association's send path, in the spirit of qlog.

Sans-I/O: the sender hands each record (a flat ``dict`` of JSON-ready values) to a
callback given as ``SctpAssociation(trace=...)``; :class:`TraceBuffer` is a ready-made
callback that keeps the last ``maxlen`` records in memory and writes them as JSON lines.
Nothing is recorded, and nothing costs, without a callback. The records are documented
in ``docs/tracing.md``; every one carries ``t`` (the caller's ``now``, seconds) and
``ev`` (the record type), and the state ones ``cwnd``, ``ssthresh``, ``flight``, ``rwnd``
(bytes), ``srtt`` and ``rto`` (seconds, ``srtt`` null before the first sample).
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Iterable
from typing import IO

__all__ = ["TraceBuffer", "TraceCallback", "TraceRecord", "write_jsonl"]

TraceRecord = dict[str, object]
TraceCallback = Callable[[TraceRecord], None]


class TraceBuffer:
    """A bounded in-memory trace: pass it as ``trace=``; the oldest records go first."""

    def __init__(self, maxlen: int = 100_000) -> None:
        self.records: deque[TraceRecord] = deque(maxlen=maxlen)

    def __call__(self, record: TraceRecord) -> None:
        self.records.append(record)

    def of(self, ev: str) -> list[TraceRecord]:
        """The records of one type, oldest first."""
        return [r for r in self.records if r["ev"] == ev]

    def write(self, out: IO[str]) -> None:
        write_jsonl(self.records, out)


def write_jsonl(records: Iterable[TraceRecord], out: IO[str]) -> None:
    """Write records as JSON lines (one object per line)."""
    for record in records:
        out.write(json.dumps(record, separators=(",", ":")))
        out.write("\n")
