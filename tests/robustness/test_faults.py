"""Faults survived: the peer vanishing, a 10-second blackout, an application that stops
reading, and cancellation at arbitrary moments. Virtual time (MockClock) over the
in-memory network, except the file-descriptor checks, which need real 127.0.0.1 sockets."""

from __future__ import annotations

import gc
import hashlib
import os
import warnings

import pytest
import trio
import trio.testing

from trio_webrtc import ConnectionState, PeerConnection, connect_pair
from trio_webrtc.datachannel import ChannelState
from trio_webrtc.testing import LinkConditions, MemoryNetwork

LOOPBACK = {"bindAddress": "127.0.0.1"}


def _task_count() -> int:
    def walk(task: trio.lowlevel.Task) -> int:
        return 1 + sum(walk(t) for n in task.child_nurseries for t in n.child_tasks)

    return walk(trio.lowlevel.current_root_task())


def _fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


def _payload(index: int, size: int) -> bytes:
    return (hashlib.sha256(index.to_bytes(8, "big")).digest() * (size // 32 + 1))[:size]


async def test_peer_vanishes_then_failed_channels_closed_tasks_ended(
    autojump_clock: trio.testing.MockClock,
) -> None:
    net = MemoryNetwork(LinkConditions(delay=0.01), seed=5)
    tasks_before = _task_count()
    with trio.fail_after(300):
        async with PeerConnection(network=net) as a:
            async with PeerConnection(network=net) as b:
                channels = [a.create_data_channel(f"c{i}") for i in range(3)]
                channels.append(a.create_data_channel("neg", negotiated=True, id=100))
                await connect_pair(a, b)
                for channel in channels[:3]:
                    await channel.wait_open()
                net.set_blackout(True)  # b vanishes without a word
                vanished = trio.current_time()
                b.close()  # at once: leaving the block would try a graceful close first
            states: list[ConnectionState] = []
            await a.wait_for_state(ConnectionState.DISCONNECTED)
            states.append(a.connection_state)
            await a.wait_for_state(ConnectionState.FAILED)
            states.append(a.connection_state)
            assert trio.current_time() - vanished <= 35  # RFC 7675: 30 s consent timeout
            assert states == [ConnectionState.DISCONNECTED, ConnectionState.FAILED]
            for channel in channels:
                await channel.wait_closed()
                assert channel.state is ChannelState.CLOSED
                with pytest.raises((trio.BrokenResourceError, trio.ClosedResourceError)):
                    await channel.send(b"x")
            exit_started = trio.current_time()
        assert trio.current_time() == exit_started  # the async with exits at once
    assert _task_count() == tasks_before


async def test_blackout_of_ten_seconds_then_transfer_completes(
    autojump_clock: trio.testing.MockClock,
) -> None:
    net = MemoryNetwork(LinkConditions(delay=0.01, loss=0.02, jitter=0.002), seed=6)
    count, size = 400, 8192
    received: list[bytes] = []
    with trio.fail_after(600):
        async with PeerConnection(network=net) as a, PeerConnection(network=net) as b:
            channel = a.create_data_channel("bulk")
            await connect_pair(a, b)
            incoming = await b.accept_channel()
            seen: list[ConnectionState] = []

            async def blackout() -> None:
                await trio.sleep(0.2)  # the transfer is under way
                net.set_blackout(True)
                await a.wait_for_state(ConnectionState.DISCONNECTED)
                seen.append(a.connection_state)
                await trio.sleep(10)
                net.set_blackout(False)
                await a.wait_for_state(ConnectionState.CONNECTED)
                seen.append(a.connection_state)

            async def receive() -> None:
                while len(received) < count:
                    received.append(await incoming.receive())  # type: ignore[arg-type]

            async with trio.open_nursery() as nursery:
                nursery.start_soon(blackout)
                nursery.start_soon(receive)
                for index in range(count):
                    await channel.send(_payload(index, size))
            assert seen == [ConnectionState.DISCONNECTED, ConnectionState.CONNECTED]
    assert received == [_payload(i, size) for i in range(count)]
    assert net.dropped > 0


async def test_reader_stops_sender_is_back_pressured_and_nothing_lost(
    autojump_clock: trio.testing.MockClock,
) -> None:
    net = MemoryNetwork(LinkConditions(delay=0.005), seed=7)
    size, total = 65536, 200  # 12.5 MiB offered while the reader sleeps
    with trio.fail_after(600):
        async with PeerConnection(network=net) as a, PeerConnection(network=net) as b:
            channel = a.create_data_channel("bp")
            await connect_pair(a, b)
            incoming = await b.accept_channel()
            sent = 0

            async def sender() -> None:
                nonlocal sent
                for index in range(total):
                    await channel.send(_payload(index, size))
                    sent += 1

            async with trio.open_nursery() as nursery:
                nursery.start_soon(sender)
                await trio.sleep(10)
                stalled_at, buffered = sent, channel.buffered_amount
                await trio.sleep(20)
                assert sent == stalled_at < total  # send() blocks
                assert channel.buffered_amount == buffered  # and stops growing
                assert buffered <= channel.high_water + size
                window = b._core.sctp._inbound.window  # type: ignore[union-attr]
                queued = sum(len(m) for m, _ in incoming._messages)
                assert queued <= window + size
                inbound = b._core.sctp._inbound  # type: ignore[union-attr]
                assert inbound.held + inbound.unconsumed <= window + size
                got = []
                while len(got) < total:
                    got.append(await incoming.receive())
                assert got == [_payload(i, size) for i in range(total)]


@pytest.mark.parametrize("delay", [0.0, 0.0005, 0.002, 0.01, 0.03, 0.06, 0.2, 1.0])
async def test_cancel_at_arbitrary_moments_virtual(
    autojump_clock: trio.testing.MockClock, delay: float
) -> None:
    """Cancel the enclosing scope ``delay`` virtual seconds in: during gathering, the
    handshake, the transfer or the close. Every socket closes, every task ends."""
    net = MemoryNetwork(LinkConditions(delay=0.002), seed=8)
    tasks_before = _task_count()
    with trio.move_on_after(delay) as scope:
        async with PeerConnection(network=net) as a, PeerConnection(network=net) as b:
            channel = a.create_data_channel("x")
            await connect_pair(a, b)
            incoming = await b.accept_channel()
            for index in range(50):
                await channel.send(_payload(index, 4096))
                await incoming.receive()
            await channel.aclose()
            await trio.sleep(10)
    assert net._sockets == {}  # every in-memory socket was closed
    assert _task_count() == tasks_before
    assert scope.cancelled_caught or delay >= 0.2


@pytest.mark.filterwarnings("error::ResourceWarning")
@pytest.mark.parametrize("phase", ["gathering", "handshake", "transfer", "close"])
async def test_cancel_closes_real_sockets(phase: str) -> None:
    gc.collect()
    fds_before = _fd_count()
    tasks_before = _task_count()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        await _cancel_in_phase(phase)
        gc.collect()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []
    assert _fd_count() == fds_before
    assert _task_count() == tasks_before


async def _cancel_in_phase(phase: str) -> None:
    with trio.fail_after(30):
        with trio.CancelScope() as scope:
            async with PeerConnection(LOOPBACK) as a, PeerConnection(LOOPBACK) as b:
                channel = a.create_data_channel("x")
                if phase == "gathering":
                    await a.create_offer()
                    scope.cancel()
                    await trio.sleep_forever()
                offer = await a.create_offer()
                await a.accept_answer(await b.accept_offer(offer))
                if phase == "handshake":
                    async for c in a.local_candidates():
                        await b.add_ice_candidate(c.candidate)
                    async for c in b.local_candidates():
                        await a.add_ice_candidate(c.candidate)
                    await a.wait_for_state(ConnectionState.CONNECTING)
                    scope.cancel()
                    await trio.sleep_forever()
                await connect_pair_rest(a, b)
                incoming = await b.accept_channel()
                if phase == "transfer":
                    async with trio.open_nursery() as nursery:
                        nursery.start_soon(_drain, incoming)
                        for index in range(100):
                            await channel.send(_payload(index, 16384))
                            if index == 40:
                                scope.cancel()
                scope.cancel()  # "close": cancelled while both are closing
                await channel.aclose()
                await trio.sleep_forever()


async def connect_pair_rest(a: PeerConnection, b: PeerConnection) -> None:
    async def forward(source: PeerConnection, target: PeerConnection) -> None:
        async for candidate in source.local_candidates():
            await target.add_ice_candidate(candidate.candidate)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(forward, a, b)
        nursery.start_soon(forward, b, a)
    await a.wait_connected()
    await b.wait_connected()


async def _drain(channel: object) -> None:
    while True:
        await channel.receive()  # type: ignore[attr-defined]
