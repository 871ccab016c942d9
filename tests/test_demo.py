"""The main job, small: a verified transfer between two peers over 127.0.0.1."""

from __future__ import annotations

import io

from trio_webrtc.__main__ import main
from trio_webrtc.demo import run_demo


async def test_demo_transfers_and_verifies() -> None:
    out = io.StringIO()
    result = await run_demo(size_mib=2, chunk=16384, out=out)
    assert result.verified
    assert result.total_bytes == 2 * 2**20
    assert result.messages == 128
    assert "100%" in out.getvalue()


def test_cli_help_lists_subcommands(capsys: object) -> None:
    import pytest

    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0


def test_cli_sdp_prints_facts(tmp_path: object, capsys: object) -> None:
    import json
    import pathlib

    assert isinstance(tmp_path, pathlib.Path)
    vector = pathlib.Path(__file__).parent / "vectors" / "sdp" / "chromium-offer.sdp"
    assert main(["sdp", str(vector)]) == 0
    captured = capsys.readouterr()  # type: ignore[attr-defined]
    facts = json.loads(captured.out)
    assert facts["setup"] == "actpass"
    assert facts["max_message_size"] == 262144


def test_cli_sdp_rejects_garbage(tmp_path: object, capsys: object) -> None:
    import pathlib

    assert isinstance(tmp_path, pathlib.Path)
    bad = tmp_path / "bad.sdp"
    bad.write_text("this is not sdp\n")
    assert main(["sdp", str(bad)]) == 1
