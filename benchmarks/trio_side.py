"""The trio_webrtc side of the benchmark: one workload, two peers in this process.

``python benchmarks/trio_side.py WORKLOAD [--quick]`` prints one JSON line (see
``common.result``); ``bench.py`` runs it in a subprocess, alternating with aiortc. Both
peers bind 127.0.0.1 only.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import AsyncIterator
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

from trio_webrtc import DataChannel, PeerConnection, connect_pair

CONFIG = {"bindAddress": "127.0.0.1", "iceServers": []}
STACK = "trio_webrtc"


@asynccontextmanager
async def channel_pair() -> AsyncIterator[tuple[DataChannel, DataChannel, float]]:
    """Two connected peers and an open channel; yields (sender, receiver, setup seconds)."""
    started = time.perf_counter()
    async with (
        PeerConnection(CONFIG, name="offerer") as a,
        PeerConnection(CONFIG, name="answerer") as b,
    ):
        channel = a.create_data_channel("bench")
        await connect_pair(a, b)
        incoming = await b.accept_channel()
        await channel.wait_open()
        elapsed = time.perf_counter() - started
        yield channel, incoming, elapsed


async def run_setup(count: int) -> dict[str, Any]:
    times: list[float] = []
    meter = Meter()
    for _ in range(count):
        async with channel_pair() as (channel, incoming, elapsed):
            times.append(elapsed)
            # Prove the channel carries data both ways before counting it as set up.
            await channel.send(b"ping")
            assert await incoming.receive() == b"ping"
            await incoming.send(b"pong")
            assert await channel.receive() == b"pong"
    wall, cpu = meter.stop()
    return result(STACK, "setup", wall, cpu / count, **setup_figures(times))


async def stream(channel: DataChannel, incoming: DataChannel, size: int, count: int) -> None:
    """Send ``count`` messages of ``size`` bytes; the receiver checks each one."""
    payload = Payload(size)
    channel.high_water = HIGH_WATER - size  # buffered amount stays <= HIGH_WATER

    async def receive() -> None:
        check = payload.check
        for _ in range(count):
            check(await incoming.receive())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(receive)
        message = payload.message
        send = channel.send
        for seq in range(count):
            await send(message(seq))
    if payload.next_expected != count:
        raise AssertionError(f"{payload.next_expected} of {count} messages arrived")


async def run_bulk(name: str, total: int, size: int) -> dict[str, Any]:
    async with channel_pair() as (channel, incoming, _):
        meter = Meter()
        await stream(channel, incoming, size, total // size)
        wall, cpu = meter.stop()
    return result(STACK, name, wall, cpu, **bulk_figures(total, size, wall, cpu))


async def run_small(count: int, size: int) -> dict[str, Any]:
    async with channel_pair() as (channel, incoming, _):
        meter = Meter()
        await stream(channel, incoming, size, count)
        wall, cpu = meter.stop()
    return result(STACK, "small", wall, cpu, **small_figures(count, size, wall, cpu))


async def run_rtt(count: int, size: int) -> dict[str, Any]:
    payload = Payload(size)
    echo = Payload(size)
    rtts: list[float] = []
    async with channel_pair() as (channel, incoming, _):

        async def echo_back() -> None:
            for _ in range(count):
                data = await incoming.receive()
                echo.check(data)
                await incoming.send(data)

        meter = Meter()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(echo_back)
            for seq in range(count):
                started = time.perf_counter()
                await channel.send(payload.message(seq))
                payload.check(await channel.receive())
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
