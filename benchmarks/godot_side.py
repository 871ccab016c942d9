"""The Godot face of trio_webrtc in the benchmark: two peers in this process, driven by a
frame loop.

``python benchmarks/godot_side.py WORKLOAD [--quick]`` prints one JSON line (see
``common.result``). Every frame calls ``poll()`` on both connections (signals fire only
there), lets the application put and get packets, then yields once to trio (the
connections' drivers run between frames), as a game's ``_process`` would. Both peers
bind 127.0.0.1 only.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import trio

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from common import (
    HIGH_WATER,
    Meter,
    Payload,
    bulk_figures,
    dispatch,
    emit,
    result,
    rtt_figures,
    setup_figures,
    side_arguments,
    small_figures,
)

from trio_webrtc.godot import Error, WebRTCDataChannel, WebRTCPeerConnection

CONFIG = {"bindAddress": "127.0.0.1", "iceServers": []}
STACK = "trio_webrtc (Godot face)"
OPEN = WebRTCDataChannel.STATE_OPEN


class Pair:
    """Two connections wired through their signals, as a game's signaling would."""

    def __init__(self, a: WebRTCPeerConnection, b: WebRTCPeerConnection) -> None:
        self.a, self.b = a, b
        self.received: list[WebRTCDataChannel] = []
        for source, target in ((a, b), (b, a)):
            self._wire(source, target)
        b.data_channel_received.connect(self.received.append)

    @staticmethod
    def _wire(source: WebRTCPeerConnection, target: WebRTCPeerConnection) -> None:
        def on_description(type: str, sdp: str) -> None:
            assert source.set_local_description(type, sdp) is Error.OK
            assert target.set_remote_description(type, sdp) is Error.OK

        def on_candidate(media: str, index: int, name: str) -> None:
            assert target.add_ice_candidate(media, index, name) is Error.OK

        source.session_description_created.connect(on_description)
        source.ice_candidate_created.connect(on_candidate)

    async def frames(self, until: Callable[[], bool]) -> None:
        """Run frames (poll both, check ``until``, yield) until ``until()`` holds."""
        a, b = self.a, self.b
        while True:
            a.poll()
            b.poll()
            if until():
                return
            await trio.sleep(0)


@asynccontextmanager
async def channel_pair() -> AsyncIterator[tuple[Pair, WebRTCDataChannel, WebRTCDataChannel, float]]:
    """Two connected peers and an open channel: (pair, sender, receiver, setup seconds)."""
    started = time.perf_counter()
    async with WebRTCPeerConnection(name="A") as a, WebRTCPeerConnection(name="B") as b:
        assert a.initialize(CONFIG) is Error.OK
        assert b.initialize(CONFIG) is Error.OK
        pair = Pair(a, b)
        channel = a.create_data_channel("bench")
        assert channel is not None
        assert a.create_offer() is Error.OK
        with trio.fail_after(10):
            await pair.frames(
                lambda: (
                    channel.get_ready_state() is OPEN
                    and bool(pair.received)
                    and pair.received[0].get_ready_state() is OPEN
                )
            )
        elapsed = time.perf_counter() - started
        yield pair, channel, pair.received[0], elapsed


async def run_setup(count: int) -> dict[str, Any]:
    times: list[float] = []
    meter = Meter()
    for _ in range(count):
        async with channel_pair() as (pair, channel, incoming, elapsed):
            times.append(elapsed)
            # Prove the channel carries data both ways before counting it as set up.
            assert channel.put_packet(b"ping") is Error.OK
            await pair.frames(lambda: incoming.get_available_packet_count() > 0)
            assert incoming.get_packet() == b"ping"
            assert incoming.put_packet(b"pong") is Error.OK
            await pair.frames(lambda: channel.get_available_packet_count() > 0)
            assert channel.get_packet() == b"pong"
    wall, cpu = meter.stop()
    return result(STACK, "setup", wall, cpu / count, **setup_figures(times))


async def stream(
    pair: Pair, channel: WebRTCDataChannel, incoming: WebRTCDataChannel, size: int, count: int
) -> None:
    """Each frame: put packets while the buffered amount allows, read every waiting one."""
    payload = Payload(size)
    limit = HIGH_WATER - size
    message, check = payload.message, payload.check
    put, buffered = channel.put_packet, channel.get_buffered_amount
    get, available = incoming.get_packet, incoming.get_available_packet_count
    a_poll, b_poll = pair.a.poll, pair.b.poll
    seq = 0
    while payload.next_expected < count:
        a_poll()
        b_poll()
        while seq < count and buffered() <= limit:
            if put(message(seq)) is not Error.OK:
                break
            seq += 1
        for _ in range(available()):
            check(get())
        await trio.sleep(0)


async def run_bulk(name: str, total: int, size: int) -> dict[str, Any]:
    async with channel_pair() as (pair, channel, incoming, _):
        meter = Meter()
        await stream(pair, channel, incoming, size, total // size)
        wall, cpu = meter.stop()
    return result(STACK, name, wall, cpu, **bulk_figures(total, size, wall, cpu))


async def run_small(count: int, size: int) -> dict[str, Any]:
    async with channel_pair() as (pair, channel, incoming, _):
        meter = Meter()
        await stream(pair, channel, incoming, size, count)
        wall, cpu = meter.stop()
    return result(STACK, "small", wall, cpu, **small_figures(count, size, wall, cpu))


async def run_rtt(count: int, size: int) -> dict[str, Any]:
    """Ping-pong: the answerer echoes in the frame a ping arrives in."""
    payload, echo = Payload(size), Payload(size)
    rtts: list[float] = []
    async with channel_pair() as (pair, channel, incoming, _):
        a_poll, b_poll = pair.a.poll, pair.b.poll
        meter = Meter()
        for seq in range(count):
            started = time.perf_counter()
            assert channel.put_packet(payload.message(seq)) is Error.OK
            while True:
                a_poll()
                b_poll()
                if incoming.get_available_packet_count():
                    data = incoming.get_packet()
                    echo.check(data)
                    assert incoming.put_packet(data) is Error.OK
                if channel.get_available_packet_count():
                    payload.check(channel.get_packet())
                    break
                await trio.sleep(0)
            rtts.append(time.perf_counter() - started)
        wall, cpu = meter.stop()
    return result(STACK, "rtt", wall, cpu, **rtt_figures(rtts))


async def run(workload: str, quick: bool) -> dict[str, Any]:
    return await dispatch(
        workload, quick, setup=run_setup, bulk=run_bulk, small=run_small, rtt=run_rtt
    )


def main() -> None:
    args = side_arguments(__doc__)
    emit(trio.run(run, args.workload, args.quick))


if __name__ == "__main__":
    main()
