"""Regression tests for defects found in code review: each failed before its fix."""

from __future__ import annotations

import gc
import warnings
from typing import Any

import pytest
import trio
import trio.testing
from test_godot_face import DC, established, pair

from trio_webrtc import ConnectionState, PeerConnection, connect_pair
from trio_webrtc._trio import turn_streams
from trio_webrtc.ice.gathering import StreamTarget
from trio_webrtc.testing import LinkConditions, MemoryNetwork


@pytest.fixture
def autojump_clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


async def test_trio_face_forgets_closed_channels(autojump_clock: trio.testing.MockClock) -> None:
    # A peer opening and closing channels must not grow the face's channel map forever.
    net = MemoryNetwork(seed=1)
    with trio.fail_after(60):
        async with PeerConnection(network=net) as a, PeerConnection(network=net) as b:
            await connect_pair(a, b)
            for index in range(20):
                channel = b.create_data_channel(f"c{index}")
                await channel.wait_open()
                accepted = await a.accept_channel()
                await channel.send(b"x")
                assert await accepted.receive() == b"x"
                await channel.aclose()
                await channel.wait_closed()
                await accepted.wait_closed()
            assert a._channels == {} and b._channels == {}
            live = a.create_data_channel("live")
            assert list(a._channels.values()) == [live]


async def test_accept_channel_ends_when_the_peer_closed(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # accept_channel() used to wait forever once the connection was CLOSED by the peer
    # (or FAILED): only our own close() ended it.
    net = MemoryNetwork(seed=2)
    with trio.fail_after(60):
        async with PeerConnection(network=net) as a, PeerConnection(network=net) as b:
            await connect_pair(a, b)
            b.close()
            await a.wait_for_state(ConnectionState.CLOSED)
            with trio.move_on_after(30) as scope, pytest.raises(trio.BrokenResourceError):
                await a.accept_channel()
            assert not scope.cancelled_caught
            a.close()
            with pytest.raises(trio.ClosedResourceError):
                await a.accept_channel()


async def test_godot_face_forgets_closed_channels() -> None:
    async with pair() as (a, b, wiring):
        chat, received = await established(wiring)
        assert a._session is not None and b._session is not None
        assert len(a._session.channels) == len(b._session.channels) == 1
        chat.close()
        await wiring.pump(lambda: received.get_ready_state() is DC.STATE_CLOSED)
        await wiring.pump(lambda: chat.get_ready_state() is DC.STATE_CLOSED)
        assert a._session.channels == {} and b._session.channels == {}


class _FakeCore:
    """The part of PeerConnectionCore that IceServerIO uses."""

    log_prefix = "review"

    class configuration:  # stands in for the Configuration attribute
        turn_tls_ca_file = None

    def __init__(self, target: StreamTarget) -> None:
        self.target = target
        self.failures: list[str] = []

    def ice_server_hosts_to_resolve(self) -> list[str]:
        return []

    def turn_stream_target(self, key: Any) -> StreamTarget:
        return self.target

    def turn_stream_failed(self, key: Any, reason: str, now: float) -> None:
        self.failures.append(reason)


async def test_turn_tls_handshake_timeout_closes_the_tcp_socket(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A TURN server that accepts TCP but never answers the TLS handshake: the TCP socket
    # used to be left for the garbage collector (ResourceWarning: unclosed socket).
    monkeypatch.setattr(turn_streams, "_CONNECT_TIMEOUT", 0.2)
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    eof = trio.Event()

    async def silent_server(stream: trio.SocketStream) -> None:
        while await stream.receive_some(4096):
            pass
        eof.set()

    core = _FakeCore(StreamTarget(("127.0.0.1", port), True, "turn.example"))
    io = turn_streams.IceServerIO(core, lambda: None)  # type: ignore[arg-type]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                await nursery.start(trio.serve_listeners, silent_server, listeners)
                await nursery.start(io.run)
                io.send(("turn-stream-1", 0), b"allocate")
                await eof.wait()
                assert core.failures and "connect failed" in core.failures[0]
                nursery.cancel_scope.cancel()
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]


async def test_memory_network_honours_bandwidth(autojump_clock: trio.testing.MockClock) -> None:
    # LinkConditions.bandwidth used to be ignored by MemoryNetwork (only VirtualLink had it).
    net = MemoryNetwork(LinkConditions(delay=0.01, bandwidth=10_000))
    sender, receiver = net.bind(), net.bind()
    start = trio.current_time()
    for _ in range(10):
        sender.sendto(b"x" * 1000, receiver.getsockname())
    arrivals = []
    for _ in range(10):
        await receiver.wait_readable()
        receiver.recvfrom(2048)
        arrivals.append(trio.current_time() - start)
    assert arrivals[0] == pytest.approx(0.1 + 0.01)
    assert arrivals[-1] == pytest.approx(1.0 + 0.01)


async def test_a_channel_closed_before_it_is_accepted_is_not_handed_out(
    autojump_clock: trio.testing.MockClock,
) -> None:
    net = MemoryNetwork(seed=4)
    with trio.fail_after(60):
        async with PeerConnection(network=net) as a, PeerConnection(network=net) as b:
            first = a.create_data_channel("first")
            second = a.create_data_channel("second")
            await connect_pair(a, b)
            await first.wait_open()
            await second.wait_open()
            await first.aclose()
            await first.wait_closed()
            await trio.sleep(1)  # virtual: b's last RE-CONFIG response arrives, b sees CLOSED
            accepted = await b.accept_channel()
            assert accepted.label == "second"
            assert not b._incoming


async def test_sockets_are_closed_when_the_driver_cannot_be_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import trio_webrtc.peer_connection as pc_module

    bound: list[Any] = []
    real_bind = pc_module.bind_udp_sockets

    def recording_bind(*args: Any) -> Any:
        sockets = real_bind(*args)
        bound.extend(sockets)
        return sockets

    def broken_driver(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("driver construction failed")

    monkeypatch.setattr(pc_module, "bind_udp_sockets", recording_bind)
    monkeypatch.setattr(pc_module, "CoreDriver", broken_driver)
    with pytest.raises(RuntimeError, match="driver construction failed"):
        async with PeerConnection({"bindAddress": "127.0.0.1"}):
            pass  # pragma: no cover
    assert bound and all(sock.fileno() == -1 for sock in bound)


async def test_godot_driver_crash_is_reported_as_failed_not_lost(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from trio_webrtc._trio.driver import CoreDriver
    from trio_webrtc.godot import Error, WebRTCDataChannel, WebRTCPeerConnection

    async def crashing_run(self: CoreDriver, **kwargs: Any) -> None:
        raise RuntimeError("boom in the driver")

    monkeypatch.setattr(CoreDriver, "run", crashing_run)
    async with WebRTCPeerConnection(name="crashy") as pc:
        assert pc.initialize({"bindAddress": "127.0.0.1"}) is Error.OK
        channel = pc.create_data_channel("c", {"negotiated": True, "id": 0})
        assert channel is not None
        await trio.testing.wait_all_tasks_blocked()
        assert pc.poll() is Error.OK
        assert pc.get_connection_state() == WebRTCPeerConnection.STATE_FAILED
        assert channel.get_ready_state() == WebRTCDataChannel.STATE_CLOSED
    assert "driver crashed" in caplog.text and "boom in the driver" in caplog.text
