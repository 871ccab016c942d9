"""Issue 13: a peer process killed with SIGKILL gives ``trio.BrokenResourceError`` (not
``EndOfChannel``) on both ``send`` and ``receive`` within the consent timeout, chained to
a ``ConnectionFailedError`` naming consent loss. Real UDP on 127.0.0.1, a real child."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import trio

from trio_webrtc import ConnectionFailedError, PeerConnection

CHILD = Path(__file__).with_name("sigkill_peer.py")
CONSENT_TIMEOUT = 3


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
async def test_sigkilled_peer_breaks_send_and_receive_within_the_consent_timeout() -> None:
    config = {"bindAddress": "127.0.0.1", "consentTimeout": CONSENT_TIMEOUT}
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    with trio.fail_after(60):
        child = await trio.lowlevel.open_process(
            [sys.executable, str(CHILD)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
        )
        try:
            await _run(config, child)
        finally:
            child.kill()
            with trio.CancelScope(shield=True):
                await child.wait()


async def _run(config: dict[str, object], child: trio.Process) -> None:
    async with PeerConnection(config, name="parent") as pc:
        assert child.stdin is not None and child.stdout is not None
        channel = pc.create_data_channel("echo")
        await pc.create_offer()
        async for _ in pc.local_candidates():
            pass
        offer = json.dumps({"type": "offer", "sdp": pc.local_description}) + "\n"
        await child.stdin.send_all(offer.encode())
        line = b""
        while not line.endswith(b"\n"):
            chunk = await child.stdout.receive_some(65536)
            assert chunk, "the child exited before answering"
            line += chunk
        await pc.accept_answer(json.loads(line)["sdp"])
        await channel.wait_open()
        await channel.send(b"ping")
        assert await channel.receive() == b"ping"

        child.send_signal(signal.SIGKILL)
        await child.wait()
        killed_at = trio.current_time()
        with pytest.raises(trio.BrokenResourceError) as receive_error:
            await channel.receive()
        # Consent expires CONSENT_TIMEOUT after the last answer; allow one interval.
        assert trio.current_time() - killed_at <= CONSENT_TIMEOUT + 2
        with pytest.raises(trio.BrokenResourceError) as send_error:
            await channel.send(b"anyone?")
        for error in (receive_error.value, send_error.value):
            assert isinstance(error.__cause__, ConnectionFailedError)
            assert "consent" in str(error.__cause__)
