"""Whole peer connections over the in-memory network, in virtual time (MockClock).

Loss, delay, blackouts and the 30-second consent timeout run in milliseconds, and every
run with the same seed is the same.
"""

from __future__ import annotations

import hashlib

import pytest
import trio
import trio.testing

from trio_webrtc import ConnectionState, PeerConnection, connect_pair
from trio_webrtc.datachannel import ChannelState
from trio_webrtc.testing import LinkConditions, MemoryNetwork


@pytest.fixture
def autojump_clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


async def _transfer(sender, receiver, total: int, chunk: int = 16384) -> None:  # type: ignore[no-untyped-def]
    digest_sent = hashlib.sha256()
    digest_received = hashlib.sha256()

    async def receive() -> None:
        got = 0
        while got < total:
            message = await receiver.receive()
            digest_received.update(message)
            got += len(message)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(receive)
        for offset in range(0, total, chunk):
            piece = hashlib.sha256(offset.to_bytes(8, "big")).digest() * (chunk // 32)
            piece = piece[: min(chunk, total - offset)]
            digest_sent.update(piece)
            await sender.send(piece)
    assert digest_received.digest() == digest_sent.digest()


@pytest.mark.parametrize("loss", [0.0, 0.05, 0.2])
async def test_connect_and_transfer_under_loss(
    autojump_clock: trio.testing.MockClock, loss: float
) -> None:
    net = MemoryNetwork(LinkConditions(loss=loss, delay=0.02, jitter=0.005, duplicate=0.01), seed=3)
    with trio.fail_after(300):
        async with PeerConnection(network=net) as a, PeerConnection(network=net) as b:
            channel = a.create_data_channel("bulk")
            await connect_pair(a, b)
            incoming = await b.accept_channel()
            await _transfer(channel, incoming, 1 << 20)
    assert net.dropped > 0 or loss == 0.0


async def test_blackout_then_recovery_loses_nothing(autojump_clock: trio.testing.MockClock) -> None:
    net = MemoryNetwork(LinkConditions(delay=0.01), seed=1)
    with trio.fail_after(300):
        async with PeerConnection(network=net) as a, PeerConnection(network=net) as b:
            channel = a.create_data_channel("bulk")
            await connect_pair(a, b)
            incoming = await b.accept_channel()
            states: list[ConnectionState] = []

            async def blackout() -> None:
                await trio.sleep(0.05)
                net.set_blackout(True)
                await a.wait_for_state(ConnectionState.DISCONNECTED)
                states.append(a.connection_state)
                await trio.sleep(10)
                net.set_blackout(False)
                await a.wait_for_state(ConnectionState.CONNECTED)
                states.append(a.connection_state)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(blackout)
                await _transfer(channel, incoming, 4 << 20)
            assert states == [ConnectionState.DISCONNECTED, ConnectionState.CONNECTED]
            assert a.connection_state is ConnectionState.CONNECTED


async def test_peer_vanishes_disconnected_then_failed_at_consent_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    net = MemoryNetwork(LinkConditions(delay=0.01), seed=2)
    with trio.fail_after(300):
        async with PeerConnection(network=net) as a:
            async with PeerConnection(network=net) as b:
                channel = a.create_data_channel("c")
                await connect_pair(a, b)
                await channel.wait_open()
                net.set_blackout(True)  # b vanishes without a word
                vanished_at = trio.current_time()
                b.close()  # at once: leaving the block would try a graceful close first
            await a.wait_for_state(ConnectionState.DISCONNECTED)
            disconnected_after = trio.current_time() - vanished_at
            await a.wait_for_state(ConnectionState.FAILED)
            failed_after = trio.current_time() - vanished_at
            assert disconnected_after < 10
            assert 25 <= failed_after <= 35
            await channel.wait_closed()
            assert channel.state is ChannelState.CLOSED
