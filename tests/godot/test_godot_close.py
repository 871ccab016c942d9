"""Closing on the Godot face: leaving ``async with`` normally delivers every queued
packet (graceful SCTP SHUTDOWN, then close_notify); ``close()`` is immediate, as in
Godot, and says how many queued bytes it dropped."""

from __future__ import annotations

import hashlib
import logging

import pytest
import trio
from test_godot_face import LOOPBACK, Wiring, established

from trio_webrtc.godot import Error, WebRTCDataChannel, WebRTCPeerConnection

DC = WebRTCDataChannel
PACKETS = [bytes([i]) * 65536 for i in range(48)]  # 3 MiB, queued faster than it can leave


async def test_leaving_async_with_delivers_every_queued_packet() -> None:
    received: list[bytes] = []
    far: list[WebRTCDataChannel] = []
    a_left = trio.Event()
    async with WebRTCPeerConnection(name="B") as b:
        assert b.initialize(LOOPBACK) is Error.OK

        async def run_a() -> None:
            async with WebRTCPeerConnection(name="A") as a:
                assert a.initialize(LOOPBACK) is Error.OK
                chat, theirs = await established(Wiring(a, b))
                far.append(theirs)
                for packet in PACKETS:
                    assert chat.put_packet(packet) is Error.OK
                assert chat.get_buffered_amount() > 0  # still queued when we leave
            a_left.set()

        with trio.fail_after(30):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(run_a)
                while True:
                    assert b.poll() is Error.OK
                    if far:
                        while far[0].get_available_packet_count():
                            received.append(far[0].get_packet())
                        if a_left.is_set() and far[0].get_ready_state() is DC.STATE_CLOSED:
                            while far[0].get_available_packet_count():
                                received.append(far[0].get_packet())
                            break
                    await trio.sleep(0.005)
    assert len(received) == len(PACKETS)
    digest = hashlib.sha256(b"".join(received)).hexdigest()
    assert digest == hashlib.sha256(b"".join(PACKETS)).hexdigest()


async def test_close_is_immediate_and_says_what_it_dropped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with (
        WebRTCPeerConnection(name="A") as a,
        WebRTCPeerConnection(name="B") as b,
    ):
        assert a.initialize(LOOPBACK) is Error.OK
        assert b.initialize(LOOPBACK) is Error.OK
        chat, _theirs = await established(Wiring(a, b))
        for packet in PACKETS:
            assert chat.put_packet(packet) is Error.OK
        with caplog.at_level(logging.WARNING, logger="trio_webrtc.godot"):
            a.close()
        assert a.get_connection_state() is WebRTCPeerConnection.STATE_CLOSED
        dropped = [r.getMessage() for r in caplog.records if "not delivered" in r.getMessage()]
        assert len(dropped) == 1, dropped
        assert "[A]" in dropped[0]
        a.close()  # idempotent, and says nothing more
        again = [r for r in caplog.records if "not delivered" in r.getMessage()]
        assert len(again) == 1
