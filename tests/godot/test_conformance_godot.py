"""The Godot face's logging under normal backpressure (issue 14): ``put_packet`` returning
``ERR_BUSY`` in a frame loop is expected, so it is logged once per episode, at DEBUG."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any, cast

import pytest
import trio

from trio_webrtc.datachannel import channels
from trio_webrtc.godot import Error, WebRTCDataChannel
from trio_webrtc.sctp.events import SendBufferFullError


class _Core:
    """Stands in for the core: ``send`` refuses while ``full``."""

    def __init__(self) -> None:
        self.full = False
        self.sent = 0

    def send(self, key: object, data: object, now: float) -> None:
        if self.full:
            raise SendBufferFullError("send buffer full (16777216 bytes)")
        self.sent += 1


def _channel() -> tuple[WebRTCDataChannel, _Core]:
    core = _Core()
    session = SimpleNamespace(
        name="A", core=core, closed=False, flush=lambda: None, flush_soon=lambda n: None
    )
    info = SimpleNamespace(
        key=1,
        state=channels.ChannelState.OPEN,
        parameters=SimpleNamespace(label="chat", max_packet_lifetime=None),
    )
    return WebRTCDataChannel(cast(Any, session), cast(Any, info)), core


async def test_put_packet_logs_err_busy_once_per_episode_at_debug(
    caplog: pytest.LogCaptureFixture,
) -> None:
    channel, core = _channel()
    with caplog.at_level(logging.DEBUG, logger="trio_webrtc.godot"):
        core.full = True
        for _ in range(150):  # a frame loop retrying every frame
            assert channel.put_packet(b"x" * 1000) is Error.ERR_BUSY
        core.full = False
        assert channel.put_packet(b"x") is Error.OK  # the buffer drained: episode over
        core.full = True
        for _ in range(10):
            assert channel.put_packet(b"x" * 1000) is Error.ERR_BUSY
        await trio.lowlevel.checkpoint()
    busy = [r for r in caplog.records if "ERR_BUSY" in r.getMessage()]
    assert [(r.levelno, r.getMessage()) for r in busy] == [
        (
            logging.DEBUG,
            "[A] channel 'chat': put_packet: ERR_BUSY (send buffer full (16777216 bytes))",
        )
    ] * 2
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert core.sent == 1


async def test_other_put_packet_failures_still_warn(caplog: pytest.LogCaptureFixture) -> None:
    channel, _ = _channel()
    channel.set_write_mode(WebRTCDataChannel.WRITE_MODE_TEXT)
    with caplog.at_level(logging.DEBUG, logger="trio_webrtc.godot"):
        assert channel.put_packet(b"\xff") is Error.ERR_INVALID_PARAMETER
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
