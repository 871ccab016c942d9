"""Issue 13: leaving ``async with PeerConnection`` is a graceful close that delivers
every queued byte (SCTP SHUTDOWN, RFC 9260 §9.2, then DTLS close_notify); cancellation
aborts at once; a close never raises because of the connection's state; a close that
cannot finish in ``closeTimeout`` aborts and says so.

Whole peer connections on :class:`MemoryNetwork` (20 ms each way) under trio's autojump
clock, plus one run over real UDP on 127.0.0.1.
"""

from __future__ import annotations

import hashlib

import pytest
import trio
import trio.testing

from trio_webrtc import ConnectionState, PeerConnection, connect_pair
from trio_webrtc.datachannel.channels import ChannelState
from trio_webrtc.errors import CloseTimeoutError
from trio_webrtc.testing import LinkConditions, MemoryNetwork

CHUNK = 64 << 10
TOTAL = 16 << 20  # 256 messages of 64 KiB


def payload(index: int) -> bytes:
    return hashlib.sha256(index.to_bytes(4, "big")).digest() * (CHUNK // 32)


async def _reader(channel: object, result: dict[str, object]) -> None:
    from trio_webrtc import DataChannel

    assert isinstance(channel, DataChannel)
    digest = hashlib.sha256()
    total = 0
    try:
        while True:
            message = await channel.receive()
            assert isinstance(message, bytes)
            digest.update(message)
            total += len(message)
    except trio.EndOfChannel:
        result["end"] = "EndOfChannel"
    except trio.BrokenResourceError as exc:
        result["end"] = f"broken: {exc}"
    result["bytes"] = total
    result["digest"] = digest.hexdigest()


def _expected_digest() -> str:
    digest = hashlib.sha256()
    for index in range(TOTAL // CHUNK):
        digest.update(payload(index))
    return digest.hexdigest()


async def _send_all_then_leave(network: MemoryNetwork | None, *, aclose: bool) -> dict[str, object]:
    config = {"bindAddress": "127.0.0.1", "closeTimeout": 60}
    result: dict[str, object] = {}
    async with (
        PeerConnection(config, name="receiver", network=network) as b,
        trio.open_nursery() as nursery,
    ):
        async with PeerConnection(config, name="sender", network=network) as a:
            channel = a.create_data_channel("bulk")
            await connect_pair(a, b)
            incoming = await b.accept_channel()
            nursery.start_soon(_reader, incoming, result)
            for index in range(TOTAL // CHUNK):
                await channel.send(payload(index))
            if aclose:
                await channel.aclose()
                assert channel.state is ChannelState.CLOSED
        # The sender's block is left: the graceful close has completed.
        assert a.connection_state is ConnectionState.CLOSED
    return result


@pytest.mark.parametrize("aclose", [False, True], ids=["leave-block", "aclose-then-leave"])
async def test_16mib_then_leaving_the_block_delivers_every_byte(
    aclose: bool, autojump_clock: trio.abc.Clock
) -> None:
    network = MemoryNetwork(LinkConditions(delay=0.02))
    with trio.fail_after(120):
        result = await _send_all_then_leave(network, aclose=aclose)
    assert result["end"] == "EndOfChannel"
    assert result["bytes"] == TOTAL
    assert result["digest"] == _expected_digest()


async def test_16mib_then_leaving_the_block_over_real_udp() -> None:
    with trio.fail_after(60):
        result = await _send_all_then_leave(None, aclose=False)
    assert result["end"] == "EndOfChannel"
    assert result["bytes"] == TOTAL
    assert result["digest"] == _expected_digest()


async def test_cancellation_aborts_at_once_and_the_peer_sees_a_broken_channel(
    autojump_clock: trio.abc.Clock,
) -> None:
    network = MemoryNetwork(LinkConditions(delay=0.02))
    async with PeerConnection(name="b", network=network) as b:
        with trio.CancelScope() as scope:
            async with PeerConnection(name="a", network=network) as a:
                channel = a.create_data_channel("x")
                await connect_pair(a, b)
                incoming = await b.accept_channel()
                await channel.wait_open()
                for index in range(8):  # queued: a graceful close would take time
                    channel.send_nowait(payload(index))
                scope.cancel()
                left_at = trio.current_time()
                await trio.sleep(1)  # cancelled here
        assert scope.cancelled_caught
        assert trio.current_time() == left_at  # no graceful wait
        assert a.connection_state is ConnectionState.CLOSED
        with trio.fail_after(5), pytest.raises(trio.BrokenResourceError):
            while True:
                await incoming.receive()


async def test_close_timeout_aborts_and_says_how_much_was_lost(
    autojump_clock: trio.abc.Clock,
) -> None:
    network = MemoryNetwork(LinkConditions(delay=0.02))
    async with PeerConnection(name="stalled-reader", network=network) as b:
        with pytest.raises(CloseTimeoutError, match=r"within 2 s.*bytes not delivered"):
            async with PeerConnection({"closeTimeout": 2}, name="a", network=network) as a:
                channel = a.create_data_channel("x")
                await connect_pair(a, b)
                await b.accept_channel()  # never read: its receive window fills
                channel.high_water = 8 << 20
                for index in range(64):
                    await channel.send(payload(index))
                started = trio.current_time()
        assert trio.current_time() - started == pytest.approx(2, abs=0.05)  # virtual time
        assert a.connection_state is ConnectionState.CLOSED


async def test_channel_close_after_the_peer_began_shutdown_does_not_raise(
    autojump_clock: trio.abc.Clock,
) -> None:
    network = MemoryNetwork(LinkConditions(delay=0.1))
    async with (
        PeerConnection(name="b", network=network) as b,
        PeerConnection(name="a", network=network) as a,
    ):
        channel = a.create_data_channel("x")
        await connect_pair(a, b)
        incoming = await b.accept_channel()
        await channel.send(b"queued")
        assert a._core.sctp is not None
        a._core.sctp.shutdown(trio.current_time())  # what a graceful close starts with
        a._flush()
        sctp = b._core.sctp
        assert sctp is not None
        while sctp.state.value == "established":
            await trio.sleep(0.01)
        incoming.close()  # used to raise InvalidStateError (shutdown-ack-sent)
        incoming.close()
        b.close()
        b.close()
    assert b.connection_state is ConnectionState.CLOSED


async def test_channel_aclose_says_what_was_not_delivered_when_the_connection_breaks(
    autojump_clock: trio.abc.Clock,
) -> None:
    network = MemoryNetwork(LinkConditions(delay=0.02))
    config = {"consentTimeout": 2}
    async with (
        PeerConnection(config, name="b", network=network) as b,
        PeerConnection(config, name="a", network=network) as a,
    ):
        channel = a.create_data_channel("x")
        await connect_pair(a, b)
        await b.accept_channel()  # never read: the data stays queued at a
        await channel.wait_open()
        channel.high_water = 8 << 20
        for index in range(64):
            await channel.send(payload(index))
        network.set_blackout(True)
        with trio.fail_after(10), pytest.raises(trio.BrokenResourceError) as info:
            await channel.aclose()
        assert "bytes were not delivered" in str(info.value)
        assert "consent" in str(info.value.__cause__)
        a.close()
        b.close()


async def test_leaving_right_after_connecting_shuts_down_promptly(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """``wait_connected`` returns once DTLS is up, possibly while the SCTP handshake is
    still in flight: a graceful close then waits for the association and shuts it down
    (it used to wait out the whole closeTimeout and abort)."""
    network = MemoryNetwork(seed=3)
    start = trio.current_time()
    async with PeerConnection(network=network) as a, PeerConnection(network=network) as b:
        await connect_pair(a, b)
    assert trio.current_time() - start < 5  # well inside closeTimeout (10 s)
    assert a._core.shutdown_complete
    assert b._core.shutdown_complete
