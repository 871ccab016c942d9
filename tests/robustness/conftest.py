"""Robustness suite configuration: the ``slow`` marker, the shared seed corpus on the
path, and the size switch for the load tests (``TRIO_WEBRTC_LOAD_FULL=1``)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import trio.testing

_HERE = Path(__file__).resolve().parent
for extra in (_HERE, _HERE.parent.parent / "fuzz"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "slow: load tests (small in the default run; TRIO_WEBRTC_LOAD_FULL=1 for full)"
    )


@pytest.fixture
def autojump_clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)
