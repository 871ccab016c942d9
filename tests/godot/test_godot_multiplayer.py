"""WebRTCMultiplayerPeer end to end: a server and clients, and a mesh, in one process over
127.0.0.1, each link a pair of Godot-face connections wired through their signals."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from contextlib import AsyncExitStack
from typing import Any

import pytest
import trio

from trio_webrtc.godot import (
    Error,
    MultiplayerPeer,
    WebRTCDataChannel,
    WebRTCMultiplayerPeer,
    WebRTCPeerConnection,
)

LOOPBACK = {"bindAddress": "127.0.0.1"}
MP = WebRTCMultiplayerPeer
PC = WebRTCPeerConnection
DC = WebRTCDataChannel
MODES = (
    MP.TRANSFER_MODE_RELIABLE,
    MP.TRANSFER_MODE_UNRELIABLE_ORDERED,
    MP.TRANSFER_MODE_UNRELIABLE,
)


class Node:
    """One multiplayer peer and the signals it emitted."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.mp = WebRTCMultiplayerPeer(name=name)
        self.events: list[tuple[str, int]] = []
        self.mp.peer_connected.connect(lambda id: self.events.append(("connected", id)))
        self.mp.connect("peer_disconnected", lambda id: self.events.append(("disconnected", id)))

    def packets(self) -> list[tuple[int, int, int, bytes]]:
        """Drain: (peer, channel, mode, data) for every available packet."""
        out = []
        while self.mp.get_available_packet_count() > 0:
            peer, channel = self.mp.get_packet_peer(), self.mp.get_packet_channel()
            mode = self.mp.get_packet_mode()
            data = self.mp.get_packet()
            assert self.mp.get_packet_error() is Error.OK
            out.append((peer, channel, int(mode), data))
        return out


def wire(a: WebRTCPeerConnection, b: WebRTCPeerConnection) -> None:
    """Godot-style in-process signaling between two connections."""
    for source, target in ((a, b), (b, a)):

        def on_description(type: str, sdp: str, s: PC = source, t: PC = target) -> None:
            assert s.set_local_description(type, sdp) is Error.OK
            assert t.set_remote_description(type, sdp) is Error.OK

        def on_candidate(media: str, index: int, name: str, t: PC = target) -> None:
            assert t.add_ice_candidate(media, index, name) is Error.OK

        source.session_description_created.connect(on_description)
        source.ice_candidate_created.connect(on_candidate)


async def new_pc(stack: AsyncExitStack, name: str) -> WebRTCPeerConnection:
    pc = await stack.enter_async_context(WebRTCPeerConnection(name=name))
    assert pc.initialize(LOOPBACK) is Error.OK
    return pc


async def link(
    stack: AsyncExitStack, a: Node, a_id: int, b: Node, b_id: int
) -> tuple[WebRTCPeerConnection, WebRTCPeerConnection]:
    """Add a connection a<->b to both multiplayer peers and start the offer from a."""
    pc_a = await new_pc(stack, f"{a.name}->{b_id}")
    pc_b = await new_pc(stack, f"{b.name}->{a_id}")
    assert a.mp.add_peer(pc_a, b_id) is Error.OK
    assert b.mp.add_peer(pc_b, a_id) is Error.OK
    wire(pc_a, pc_b)
    assert pc_a.create_offer() is Error.OK
    return pc_a, pc_b


async def pump(
    nodes: Iterable[Node],
    until: Callable[[], bool],
    extra: Iterable[WebRTCPeerConnection] = (),
    timeout: float = 10,
) -> None:
    """Call poll() on every node (the game's _process) until ``until()`` holds."""
    nodes, extra = list(nodes), list(extra)
    with trio.fail_after(timeout):
        while True:
            for node in nodes:
                node.mp.poll()
            for pc in extra:
                assert pc.poll() is Error.OK
            if until():
                return
            await trio.sleep(0.005)


def has_packet(channel: WebRTCDataChannel) -> Callable[[], bool]:
    return lambda: channel.get_available_packet_count() > 0


async def settle(nodes: Iterable[Node], rounds: int = 20) -> None:
    """Let in-flight traffic arrive (for asserting that something did *not*)."""
    nodes = list(nodes)
    for _ in range(rounds):
        for node in nodes:
            node.mp.poll()
        await trio.sleep(0.005)


async def test_server_and_two_clients() -> None:
    server, c2, c9 = Node("server"), Node("c2"), Node("c9")
    nodes = (server, c2, c9)
    big = 1_234_567_890
    assert server.mp.create_server() is Error.OK
    assert c2.mp.create_client(2) is Error.OK
    assert c9.mp.create_client(big) is Error.OK
    assert server.mp.get_connection_status() is MP.CONNECTION_CONNECTED
    assert c2.mp.get_connection_status() is MP.CONNECTION_CONNECTING
    assert server.mp.is_server() and not c2.mp.is_server()
    assert server.mp.is_server_relay_supported() and c2.mp.is_server_relay_supported()
    assert (server.mp.get_unique_id(), c2.mp.get_unique_id(), c9.mp.get_unique_id()) == (1, 2, big)
    async with AsyncExitStack() as stack:
        pc_s2, _ = await link(stack, server, 1, c2, 2)
        await link(stack, c9, big, server, 1)  # the client offers this time
        # Godot's three negotiated channels, before anything connects.
        entry = server.mp.get_peer(2)
        assert set(entry) == {"connection", "channels", "connected"}
        assert entry["connection"] is pc_s2 and entry["connected"] is False
        described = [
            (ch.get_label(), ch.get_id(), ch.is_ordered(), ch.get_max_packet_life_time())
            for ch in entry["channels"]
        ]
        assert described == [
            ("reliable", 1, True, 65535),
            ("ordered", 2, True, 1),
            ("unreliable", 3, False, 1),
        ]
        assert all(ch.is_negotiated() for ch in entry["channels"])
        assert server.mp.get_available_packet_count() == 0
        assert server.mp.get_packet() == b""
        assert server.mp.get_packet_error() is Error.ERR_UNAVAILABLE

        await pump(nodes, lambda: len(server.events) == 2 and bool(c2.events and c9.events))
        assert sorted(server.events) == [("connected", 2), ("connected", big)]
        assert c2.events == [("connected", 1)] and c9.events == [("connected", 1)]
        assert c2.mp.get_connection_status() is MP.CONNECTION_CONNECTED
        assert set(server.mp.get_peers()) == {2, big}
        assert server.mp.get_peers()[2]["connected"] is True

        # Targeted, every transfer mode: raw payloads, the right peer/channel/mode.
        server.mp.set_target_peer(2)
        for mode in MODES:
            server.mp.transfer_mode = mode
            assert server.mp.put_packet(f"to 2 {mode.name}".encode()) is Error.OK
            await pump(nodes, lambda: c2.mp.get_available_packet_count() > 0)
            assert c2.packets() == [(1, 0, mode, f"to 2 {mode.name}".encode())]
        # Broadcast, and broadcast excluding one peer.
        server.mp.transfer_mode = MP.TRANSFER_MODE_RELIABLE
        server.mp.set_target_peer(MP.TARGET_PEER_BROADCAST)
        assert server.mp.put_packet(b"all") is Error.OK
        server.mp.set_target_peer(-2)
        assert server.mp.put_packet(b"all but 2") is Error.OK
        await pump(nodes, lambda: c9.mp.get_available_packet_count() == 2)
        assert c9.packets() == [(1, 0, 2, b"all"), (1, 0, 2, b"all but 2")]
        await settle(nodes)
        assert c2.packets() == [(1, 0, 2, b"all")]

        # Clients to the server: ordered per channel, round robin between peers.
        for node in (c2, c9):
            node.mp.set_target_peer(MP.TARGET_PEER_SERVER)
            node.mp.transfer_mode = MP.TRANSFER_MODE_UNRELIABLE_ORDERED
            for i in range(20):
                assert node.mp.put_packet(bytes([i]) * 100) is Error.OK
        await pump(nodes, lambda: server.mp.get_available_packet_count() == 40)
        got = server.packets()
        assert [p for p, *_ in got[:4]] in ([2, big, 2, big], [big, 2, big, 2])
        for peer in (2, big):
            assert [d for p, _, m, d in got if p == peer] == [bytes([i]) * 100 for i in range(20)]
            assert {(c, m) for p, c, m, _ in got if p == peer} == {(0, 1)}
        assert server.mp.get_packet_peer() == 0


async def test_extra_channels_and_raw_wire_format_against_a_plain_connection() -> None:
    """A GDScript peer without WebRTCMultiplayerPeer (or a browser) that creates Godot's
    channels by hand sees exactly the bytes put: no header."""
    node = Node("server")
    extra = [MP.TRANSFER_MODE_UNRELIABLE, MP.TRANSFER_MODE_RELIABLE]
    assert node.mp.create_server(extra) is Error.OK
    async with AsyncExitStack() as stack:
        pc, plain = await new_pc(stack, "server->7"), await new_pc(stack, "plain")
        assert node.mp.add_peer(pc, 7, unreliable_lifetime=250) is Error.OK
        labels = ["reliable", "ordered", "unreliable", "4", "5"]
        ids = [1, 2, 3, 4, 5]
        ordered = [True, True, False, False, True]
        lifetimes = [None, 250, 250, 1, None]
        mine = node.mp.get_peer(7)["channels"]
        assert [c.get_label() for c in mine] == labels
        assert [c.get_max_packet_life_time() for c in mine] == [v or 65535 for v in lifetimes]
        theirs = []
        for label, id, is_ordered, lifetime in zip(labels, ids, ordered, lifetimes, strict=True):
            options: dict[str, Any] = {"negotiated": True, "id": id, "ordered": is_ordered}
            if lifetime is not None:
                options["maxPacketLifetime"] = lifetime
            channel = plain.create_data_channel(label, options)
            assert channel is not None
            theirs.append(channel)
        wire(plain, pc)
        assert plain.create_offer() is Error.OK
        # Our side may see the association up a poll before the plain side does.
        await pump(
            [node],
            lambda: (
                node.events == [("connected", 7)]
                and all(c.get_ready_state() is DC.STATE_OPEN for c in theirs)
            ),
            extra=[plain],
        )
        assert node.events == [("connected", 7)]

        node.mp.set_target_peer(7)
        cases = [(0, MP.TRANSFER_MODE_RELIABLE, 0), (0, MP.TRANSFER_MODE_UNRELIABLE, 2)]
        cases += [(1, MP.TRANSFER_MODE_RELIABLE, 3), (2, MP.TRANSFER_MODE_UNRELIABLE, 4)]
        for channel_number, mode, index in cases:
            node.mp.transfer_channel = channel_number
            node.mp.transfer_mode = mode
            payload = b"\x00\x01raw" + bytes([index])
            assert node.mp.put_packet(payload) is Error.OK
            await pump([node], has_packet(theirs[index]), [plain])
            assert theirs[index].get_packet() == payload
            assert not theirs[index].was_string_packet()
        node.mp.transfer_channel = 3  # no such extra channel
        assert node.mp.put_packet(b"x") is Error.ERR_INVALID_PARAMETER

        # And back: the plain side's channel decides channel and mode on our side.
        for index, expected in ((3, (1, MP.TRANSFER_MODE_UNRELIABLE)), (4, (2, 2)), (1, (0, 1))):
            assert theirs[index].put_packet(b"back") is Error.OK
            await pump([node], lambda: node.mp.get_available_packet_count() > 0, [plain])
            assert node.packets() == [(7, *expected, b"back")]

        # A channel closed by the peer removes it.
        theirs[4].close()
        await pump([node], lambda: ("disconnected", 7) in node.events, [plain])
        assert not node.mp.has_peer(7)
        await pump([node], lambda: plain.get_connection_state() is PC.STATE_CLOSED, [plain])


async def test_refuse_remove_and_disconnect_reach_the_other_side() -> None:
    server, c2, c3, c4 = Node("server"), Node("c2"), Node("c3"), Node("c4")
    nodes = (server, c2, c3, c4)
    assert server.mp.create_server() is Error.OK
    for node, id in ((c2, 2), (c3, 3), (c4, 4)):
        assert node.mp.create_client(id) is Error.OK
    async with AsyncExitStack() as stack:
        server.mp.refuse_new_connections = True
        assert server.mp.is_refusing_new_connections()
        refused = await new_pc(stack, "refused")
        assert server.mp.add_peer(refused, 2) is Error.ERR_UNAUTHORIZED
        assert not server.mp.has_peer(2)
        server.mp.set_refuse_new_connections(False)
        for node, id in ((c2, 2), (c3, 3), (c4, 4)):
            await link(stack, server, 1, node, id)
        await pump(nodes, lambda: len(server.events) == 3 and all(n.events for n in nodes))

        server.mp.remove_peer(2)  # signalled at once, here; by the closed connection there
        assert server.events[-1] == ("disconnected", 2) and not server.mp.has_peer(2)
        await pump(nodes, lambda: len(c2.events) == 2)
        assert c2.events == [("connected", 1), ("disconnected", 1)]
        assert c2.mp.get_connection_status() is MP.CONNECTION_DISCONNECTED
        assert not c2.mp.has_peer(1)
        assert c2.mp.put_packet(b"x") is Error.ERR_UNCONFIGURED

        server.mp.disconnect_peer(3)  # signalled in the next poll, on both sides
        assert server.mp.has_peer(3) and len(server.events) == 4
        await pump(nodes, lambda: len(server.events) == 5 and len(c3.events) == 2)
        assert server.events[-1] == ("disconnected", 3)
        assert c3.events[-1] == ("disconnected", 1)

        c4.mp.disconnect_peer(1, True)  # forced: gone without a signal here
        assert not c4.mp.has_peer(1) and c4.events == [("connected", 1)]
        assert c4.mp.get_connection_status() is MP.CONNECTION_DISCONNECTED
        await pump(nodes, lambda: len(server.events) == 6)
        assert server.events[-1] == ("disconnected", 4)
        assert server.mp.get_peers() == {}
        await settle(nodes, 5)
        assert c4.events == [("connected", 1)]


async def test_mesh_of_three_and_close() -> None:
    a, b, c = Node("a"), Node("b"), Node("c")
    nodes = (a, b, c)
    for node, id in ((a, 1), (b, 2), (c, 3)):
        assert node.mp.create_mesh(id) is Error.OK  # id 1 is allowed in a mesh
        assert node.mp.get_connection_status() is MP.CONNECTION_CONNECTED
    assert a.mp.is_server() and not a.mp.is_server_relay_supported()
    async with AsyncExitStack() as stack:
        await link(stack, a, 1, b, 2)
        await link(stack, a, 1, c, 3)
        await link(stack, b, 2, c, 3)
        await pump(nodes, lambda: all(len(n.events) == 2 for n in nodes))
        assert sorted(a.events) == [("connected", 2), ("connected", 3)]
        assert sorted(b.events) == [("connected", 1), ("connected", 3)]
        assert sorted(c.events) == [("connected", 1), ("connected", 2)]

        for node, id in ((a, 1), (b, 2), (c, 3)):
            node.mp.transfer_mode = MP.TRANSFER_MODE_UNRELIABLE
            assert node.mp.put_packet(f"from {id}".encode()) is Error.OK
        expected = {1: {2, 3}, 2: {1, 3}, 3: {1, 2}}
        await pump(nodes, lambda: all(n.mp.get_available_packet_count() == 2 for n in nodes))
        for node, id in ((a, 1), (b, 2), (c, 3)):
            got = node.packets()
            assert {p for p, *_ in got} == expected[id]
            assert all(d == f"from {p}".encode() and m == 0 for p, _, m, d in got)

        c.mp.close()
        assert c.mp.get_connection_status() is MP.CONNECTION_DISCONNECTED
        assert c.mp.get_peers() == {} and len(c.events) == 2  # no signals on close()
        assert c.mp.put_packet(b"x") is Error.ERR_UNCONFIGURED
        assert c.mp.get_unique_id() == 1  # Godot's value while disconnected
        await pump(nodes, lambda: len(a.events) == 3 and len(b.events) == 3)
        assert a.events[-1] == ("disconnected", 3) and b.events[-1] == ("disconnected", 3)
        a.mp.set_target_peer(2)
        assert a.mp.put_packet(b"still here") is Error.OK
        await pump(nodes, lambda: b.mp.get_available_packet_count() == 1)
        assert b.packets() == [(1, 0, 0, b"still here")]  # a is still UNRELIABLE

        # Re-adding a connected id replaces it: signalled here, its connection closed.
        assert a.mp.add_peer(await new_pc(stack, "a->2 again"), 2) is Error.OK
        assert a.events[-1] == ("disconnected", 2) and not a.mp.get_peer(2)["connected"]
        await pump(nodes, lambda: b.events[-1] == ("disconnected", 1))


async def test_wrong_calls_return_godot_errors(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="trio_webrtc.godot")
    mp = WebRTCMultiplayerPeer(name="wrong")
    async with AsyncExitStack() as stack:
        pc = await new_pc(stack, "pc")
        assert mp.add_peer(pc, 2) is Error.ERR_UNCONFIGURED
        assert mp.put_packet(b"x") is Error.ERR_UNCONFIGURED
        assert mp.create_client(1) is Error.ERR_INVALID_PARAMETER
        assert mp.create_mesh(0) is Error.ERR_INVALID_PARAMETER
        assert mp.create_mesh(2**31) is Error.ERR_INVALID_PARAMETER
        assert mp.create_server([3]) is Error.ERR_INVALID_PARAMETER
        assert mp.create_server(["reliable"]) is Error.ERR_INVALID_PARAMETER  # type: ignore[list-item]
        assert mp.get_connection_status() is MP.CONNECTION_DISCONNECTED

        assert mp.create_client(5) is Error.OK
        assert mp.add_peer(pc, 2) is Error.ERR_INVALID_PARAMETER  # clients add only id 1
        assert mp.create_server() is Error.OK  # create_* again re-configures, as in Godot
        assert mp.get_unique_id() == 1
        assert mp.add_peer(pc, 1) is Error.ERR_INVALID_PARAMETER  # a server has id 1
        assert mp.add_peer(pc, 0) is Error.ERR_INVALID_PARAMETER
        assert mp.add_peer(pc, 2, unreliable_lifetime=-1) is Error.ERR_INVALID_PARAMETER
        assert mp.add_peer("pc", 2) is Error.ERR_INVALID_PARAMETER  # type: ignore[arg-type]
        outside = WebRTCPeerConnection(name="outside")  # never entered: cannot make channels
        assert mp.add_peer(outside, 2) is Error.FAILED
        assert mp.add_peer(pc, 2) is Error.OK
        assert mp.get_peer(3) == {}
        mp.remove_peer(3)
        mp.disconnect_peer(3)
        mp.set_target_peer(3)
        assert mp.put_packet(b"x") is Error.ERR_INVALID_PARAMETER
        mp.set_target_peer(2)
        assert mp.put_packet(b"x") is Error.ERR_UNAVAILABLE  # channel not open yet
        assert mp.put_packet("text") is Error.ERR_INVALID_PARAMETER  # type: ignore[arg-type]
        mp.transfer_mode = 7  # unknown: ignored
        mp.transfer_channel = 300
        assert (mp.transfer_mode, mp.transfer_channel) == (MP.TRANSFER_MODE_RELIABLE, 0)

        # A peer id already in use is replaced, as in Godot; the old connection closes.
        second = await new_pc(stack, "second")
        assert mp.add_peer(second, 2) is Error.OK
        assert mp.get_peer(2)["connection"] is second
        assert pc.get_connection_state() is PC.STATE_CLOSED
        assert mp.add_peer(pc, 3) is Error.ERR_INVALID_PARAMETER  # not in STATE_NEW

        mp.close()
        assert mp.get_peers() == {} and second.get_connection_state() is PC.STATE_CLOSED
        assert mp.add_peer(await new_pc(stack, "third"), 2) is Error.ERR_UNCONFIGURED
        mp.poll()
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "[wrong] create_client: clients cannot have ID 1" in messages
    assert "[wrong] put_packet: invalid target peer 3" in messages


def test_godot_values_and_unique_ids() -> None:
    assert issubclass(MP, MultiplayerPeer)
    assert (MP.CONNECTION_DISCONNECTED, MP.CONNECTION_CONNECTING, MP.CONNECTION_CONNECTED) == (
        0,
        1,
        2,
    )
    assert MP.ConnectionStatus.CONNECTION_CONNECTED is MP.CONNECTION_CONNECTED
    assert [int(m) for m in MODES] == [2, 1, 0]
    assert int(MP.TransferMode.TRANSFER_MODE_UNRELIABLE_ORDERED) == 1
    assert (MP.TARGET_PEER_BROADCAST, MP.TARGET_PEER_SERVER) == (0, 1)
    mp = WebRTCMultiplayerPeer()
    assert mp.has_signal("peer_connected") and mp.has_signal("peer_disconnected")
    assert mp.get_max_packet_size() == 1200
    assert mp.transfer_mode is MP.TRANSFER_MODE_RELIABLE and mp.transfer_channel == 0
    assert mp.refuse_new_connections is False
    ids = {mp.generate_unique_id() for _ in range(200)}
    assert all(2 <= i <= 2**31 - 1 for i in ids) and len(ids) > 190
