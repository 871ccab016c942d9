"""Load: many concurrent peer connections in one process, and long open/close cycles
with file descriptors and RSS checked to stay flat.

Small sizes in the default run; ``TRIO_WEBRTC_LOAD_FULL=1`` runs the full sizes (200
connections, 1,000 cycles) and prints the figures (``-s`` to see them).
"""

from __future__ import annotations

import gc
import os

import pytest
import trio
import trio.testing

from trio_webrtc import ConnectionState, PeerConnection, connect_pair
from trio_webrtc.testing import LinkConditions, MemoryNetwork

FULL = os.environ.get("TRIO_WEBRTC_LOAD_FULL") == "1"
CONNECTIONS = 200 if FULL else 20
CYCLES = 1000 if FULL else 100
LOOPBACK = {"bindAddress": "127.0.0.1"}


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def _echo_pair(net: MemoryNetwork | None, index: int, rounds: int, done: list[int]) -> None:
    config = LOOPBACK if net is None else None
    async with (
        PeerConnection(config, network=net, name=f"a{index}") as a,
        PeerConnection(config, network=net, name=f"b{index}") as b,
    ):
        channel = a.create_data_channel("echo")
        await connect_pair(a, b)
        incoming = await b.accept_channel()
        for r in range(rounds):
            message = f"{index}:{r}:" + "x" * (r * 97 % 1500)
            await channel.send(message)
            await incoming.send(await incoming.receive())
            assert await channel.receive() == message
        done.append(index)
        assert a.connection_state is ConnectionState.CONNECTED


@pytest.mark.slow
async def test_concurrent_connections_echo(autojump_clock: trio.testing.MockClock) -> None:
    """CONNECTIONS peer connections (CONNECTIONS/2 pairs) at once, each pair echoing."""
    net = MemoryNetwork(LinkConditions(delay=0.01, jitter=0.002), seed=9)
    done: list[int] = []
    with trio.fail_after(600):
        async with trio.open_nursery() as nursery:
            for index in range(CONNECTIONS // 2):
                nursery.start_soon(_echo_pair, net, index, 20, done)
    assert sorted(done) == list(range(CONNECTIONS // 2))
    if FULL:
        print(f"\n{CONNECTIONS} connections echoed 20 rounds each; {net.sent} datagrams")


@pytest.mark.slow
async def test_concurrent_connections_real_loopback() -> None:
    """The same over real 127.0.0.1 UDP sockets (one per connection)."""
    count = CONNECTIONS if FULL else 10
    done: list[int] = []
    fds = _fds()
    with trio.fail_after(300):
        async with trio.open_nursery() as nursery:
            for index in range(count // 2):
                nursery.start_soon(_echo_pair, None, index, 5, done)
    assert sorted(done) == list(range(count // 2))
    assert _fds() == fds


@pytest.mark.slow
async def test_open_close_cycles_keep_fds_and_rss_flat() -> None:
    """Open, connect, exchange, close: CYCLES times over real loopback UDP."""
    gc.collect()
    fds = _fds()
    rss: list[int] = []
    warmup = max(10, CYCLES // 10)
    with trio.fail_after(900):
        for cycle in range(CYCLES):
            await _echo_pair(None, cycle, 1, [])
            if cycle + 1 == warmup or cycle + 1 == CYCLES:
                gc.collect()
                rss.append(_rss())
            assert _fds() == fds, f"fd leak at cycle {cycle}"
    growth = rss[-1] - rss[0]
    if FULL:
        print(f"\n{CYCLES} cycles: RSS {rss[0] >> 20} -> {rss[-1] >> 20} MiB, fds {fds}")
    assert growth < (16 << 20), f"RSS grew {growth >> 10} KiB over {CYCLES - warmup} cycles"


@pytest.mark.slow
async def test_channel_open_close_cycles_keep_state_bounded(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """One connection, CYCLES channels opened, used and closed: bookkeeping stays flat."""
    net = MemoryNetwork(LinkConditions(delay=0.002), seed=10)
    async with PeerConnection(network=net) as a, PeerConnection(network=net) as b:
        await connect_pair(a, b)
        for cycle in range(CYCLES):
            channel = a.create_data_channel(f"c{cycle}")
            incoming = await b.accept_channel()
            await channel.send(b"ping")
            assert await incoming.receive() == b"ping"
            await channel.aclose()
            await incoming.wait_closed()
            await channel.wait_closed()
        for core in (a._core, b._core):
            manager = core.channels
            assert manager._active == 0
            assert len(manager._by_stream) == 0
            assert len(manager._channels) <= 1024  # closed records are forgotten
        assert a.connection_state is ConnectionState.CONNECTED
