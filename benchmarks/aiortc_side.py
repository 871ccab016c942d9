"""The aiortc side of the benchmark: one workload, two peers in this process (asyncio).

``python benchmarks/aiortc_side.py WORKLOAD [--quick]`` prints one JSON line, like
``trio_side.py``. ICE is held to 127.0.0.1: aioice's host-address discovery is patched
and ``iceServers`` is empty, so no traffic leaves loopback.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import aioice.ice
from aiortc import RTCConfiguration, RTCDataChannel, RTCPeerConnection
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


def _loopback_only(use_ipv4: bool = True, use_ipv6: bool = True) -> list[str]:
    return ["127.0.0.1"]


aioice.ice.get_host_addresses = _loopback_only  # type: ignore[assignment]
STACK = "aiortc"


class Inbox:
    """Messages of one channel, awaitable one at a time."""

    def __init__(self, channel: RTCDataChannel) -> None:
        self.queue: asyncio.Queue[bytes | str] = asyncio.Queue()
        channel.on("message", self.queue.put_nowait)

    async def receive(self) -> bytes | str:
        return await self.queue.get()


@asynccontextmanager
async def channel_pair() -> AsyncIterator[tuple[RTCDataChannel, RTCDataChannel, float]]:
    started = time.perf_counter()
    a = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    b = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        channel = a.createDataChannel("bench")
        opened = asyncio.get_running_loop().create_future()
        incoming_future: asyncio.Future[RTCDataChannel] = asyncio.get_running_loop().create_future()
        channel.on("open", lambda: opened.done() or opened.set_result(None))

        @b.on("datachannel")
        def on_datachannel(incoming: RTCDataChannel) -> None:
            incoming_future.set_result(incoming)

        await a.setLocalDescription(await a.createOffer())
        await b.setRemoteDescription(a.localDescription)
        await b.setLocalDescription(await b.createAnswer())
        await a.setRemoteDescription(b.localDescription)
        incoming = await incoming_future
        await opened
        while incoming.readyState != "open":
            await asyncio.sleep(0)
        elapsed = time.perf_counter() - started
        yield channel, incoming, elapsed
    finally:
        await a.close()
        await b.close()


async def run_setup(count: int) -> dict[str, Any]:
    times: list[float] = []
    meter = Meter()
    for _ in range(count):
        async with channel_pair() as (channel, incoming, elapsed):
            times.append(elapsed)
            inbox_b, inbox_a = Inbox(incoming), Inbox(channel)
            channel.send(b"ping")
            assert await inbox_b.receive() == b"ping"
            incoming.send(b"pong")
            assert await inbox_a.receive() == b"pong"
    wall, cpu = meter.stop()
    return result(STACK, "setup", wall, cpu / count, **setup_figures(times))


async def stream(channel: RTCDataChannel, incoming: RTCDataChannel, size: int, count: int) -> None:
    payload = Payload(size)
    done = asyncio.get_running_loop().create_future()
    low = asyncio.Event()
    threshold = HIGH_WATER // 2
    channel.bufferedAmountLowThreshold = threshold
    channel.on("bufferedamountlow", low.set)

    def on_message(data: bytes | str) -> None:
        try:
            payload.check(data)
        except AssertionError as exc:
            if not done.done():
                done.set_exception(exc)
            return
        if payload.next_expected == count and not done.done():
            done.set_result(None)

    incoming.on("message", on_message)
    for seq in range(count):
        while channel.bufferedAmount + size > HIGH_WATER:
            low.clear()
            if channel.bufferedAmount <= threshold:
                break
            await low.wait()
        channel.send(payload.message(seq))
        if done.done():
            break
    await done


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

        def echo_back(data: bytes | str) -> None:
            echo.check(data)
            incoming.send(data)

        incoming.on("message", echo_back)
        inbox = Inbox(channel)
        meter = Meter()
        for seq in range(count):
            started = time.perf_counter()
            channel.send(payload.message(seq))
            payload.check(await inbox.receive())
            rtts.append(time.perf_counter() - started)
        wall, cpu = meter.stop()
    return result(STACK, "rtt", wall, cpu, **rtt_figures(rtts))


async def run(workload: str, quick: bool) -> dict[str, Any]:
    return await dispatch(
        workload, quick, setup=run_setup, bulk=run_bulk, small=run_small, rtt=run_rtt
    )


def main() -> None:
    args = side_arguments(__doc__)
    logging.basicConfig(level=logging.ERROR)
    emit(asyncio.run(run(args.workload, args.quick)))


if __name__ == "__main__":
    main()
