"""Shared fixtures for the interop tests: peer commands and the results matrix.

Every case's :class:`~harness.InteropResult` is collected; at the end of the session the
matrix rows are printed (``-s`` or the terminal summary) and, when
``TRIO_WEBRTC_INTEROP_MATRIX`` names a file, written there as a Markdown table.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

_RESULTS: list[Any] = []

MATRIX_HEADER = (
    "| peer | face | our role | candidates | closed by | setup | echo messages | our states "
    "| ours on peer close |\n|---|---|---|---|---|---|---|---|---|"
)


@pytest.fixture
def interop_results() -> Iterator[list[Any]]:
    """Append a case's result here to have it in the session's matrix."""
    yield _RESULTS


@pytest.fixture
def peer_log_dir(tmp_path: Path) -> Path:
    """Where a case's peer stderr log goes (shown in the failure message)."""
    return tmp_path


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _RESULTS:
        return
    rows = [MATRIX_HEADER, *(result.row() for result in _RESULTS)]
    terminalreporter.write_sep("-", "interop matrix")
    for row in rows:
        terminalreporter.write_line(row)
    target = os.environ.get("TRIO_WEBRTC_INTEROP_MATRIX")
    if target:
        Path(target).write_text("\n".join(rows) + "\n")
