"""Issue 13: the command line as a user drives it. Every bad argument gives exactly one
line on stderr and exit status 2 (``demo --chunk 0`` used to spin forever); ``--version``;
the installed ``trio-webrtc`` names itself in its help."""

from __future__ import annotations

import subprocess
import sys

import pytest

import trio_webrtc
from trio_webrtc.__main__ import main

BAD = [
    (["demo", "--chunk", "0"], "--chunk must be a positive"),
    (["demo", "--chunk", "-5"], "--chunk must be a positive"),
    (["demo", "--size", "-1"], "--size must be a positive"),
    (["demo", "--size", "0"], "--size must be a positive"),
    (["demo", "--chunk", "262145"], "above the max-message-size"),
    (["demo", "--chunk", "abc"], "invalid int value"),
    (["sdp", "/nonexistent/offer.sdp"], "cannot read /nonexistent/offer.sdp"),
    (["no-such-command"], "invalid choice"),
]


@pytest.mark.parametrize(("argv", "needle"), BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_argument_exits_2_with_one_line(argv: list[str], needle: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "trio_webrtc", *argv],
        capture_output=True,
        check=False,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert needle in lines[0]
    assert lines[0].startswith("python -m trio_webrtc")
    assert done.stdout == ""


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert trio_webrtc.__version__ in capsys.readouterr().out


def test_installed_script_names_itself(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "argv", ["/usr/local/bin/trio-webrtc", "--help"])
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: trio-webrtc ")
    assert "python -m" not in out.splitlines()[0]
