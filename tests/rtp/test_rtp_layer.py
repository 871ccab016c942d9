"""The RTP layer as a whole: its public names, the sans-I/O rule (no sockets, clocks,
tasks or SRTP in the package), size limits and module docstrings naming RFCs."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

import pytest

from trio_webrtc import rtp
from trio_webrtc.rtp.jitter import JitterBuffer
from trio_webrtc.rtp.vp8 import Vp8PayloadFormat

PACKAGE = Path(rtp.__file__).parent
FORBIDDEN = {"trio", "asyncio", "socket", "time", "threading", "selectors", "pylibsrtp"}


def test_public_names_resolve() -> None:
    for name in rtp.__all__:
        assert getattr(rtp, name) is not None


@pytest.mark.parametrize("path", sorted(PACKAGE.glob("*.py")), ids=lambda p: p.name)
def test_module_is_sans_io_small_and_cites_rfcs(path: Path) -> None:
    source = path.read_text()
    tree = ast.parse(source)
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & FORBIDDEN
    assert len(source.splitlines()) < 800
    docstring = ast.get_docstring(tree)
    assert docstring and "RFC" in docstring


def test_logs_carry_the_connection_prefix(caplog: pytest.LogCaptureFixture) -> None:
    jb = JitterBuffer(Vp8PayloadFormat(), max_nack_list=2, log_prefix="[pc7] ")
    with caplog.at_level(logging.INFO, logger="trio_webrtc.rtp"):
        payload = Vp8PayloadFormat().packetize(b"\x10abc", 100)[0]
        jb.receive(rtp.RtpPacket(96, 1, 0, 1, payload, marker=True), 0.0)
        jb.receive(rtp.RtpPacket(96, 10, 3000, 1, payload, marker=True), 0.1)
    assert any(r.getMessage().startswith("[pc7] ") for r in caplog.records)
    assert all(r.name == "trio_webrtc.rtp" for r in caplog.records)
