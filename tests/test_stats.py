"""get_stats() on both faces: states, counters, the selected pair and SCTP's RTT."""

from __future__ import annotations

import json

import trio

from trio_webrtc import PeerConnection, connect_pair
from trio_webrtc.core import PeerConnectionCore
from trio_webrtc.godot import Error, WebRTCPeerConnection
from trio_webrtc.stats import PeerConnectionStats, collect_stats

LOOPBACK = {"bindAddress": "127.0.0.1"}


def test_fresh_core_stats_are_all_new() -> None:
    stats = collect_stats(PeerConnectionCore(log_prefix="fresh"), timestamp=5.0)
    assert stats.name == "fresh"
    assert stats.timestamp == 5.0
    assert (stats.connection_state, stats.ice_state, stats.dtls_state, stats.sctp_state) == (
        "new",
        "new",
        "new",
        "new",
    )
    assert stats.selected_pair is None
    assert stats.rtt is None
    assert stats.channels == ()
    assert stats.bytes_sent == stats.messages_received == 0


async def test_trio_face_counts_messages_bytes_and_rtt() -> None:
    async with (
        PeerConnection(LOOPBACK, name="stats-a") as a,
        PeerConnection(LOOPBACK, name="stats-b") as b,
    ):
        before = a.get_stats()
        assert isinstance(before, PeerConnectionStats)
        assert before.connection_state == "new"
        channel = a.create_data_channel("counted", protocol="p1")
        with trio.fail_after(20):
            await connect_pair(a, b)
            incoming = await b.accept_channel()
            await channel.send("hello")  # 5 bytes of text
            await channel.send(b"\x00" * 1000)
            await channel.send(b"")
            for _ in range(3):
                await incoming.receive()
            await channel.wait_buffered_amount_low(0)
            while a.get_stats().rtt is None:  # the SACK for our DATA is in flight
                await trio.sleep(0.01)

        sa, sb = a.get_stats(), b.get_stats()
        assert sa.name == "stats-a" and sb.name == "stats-b"
        assert sa.connection_state == sb.connection_state == "connected"
        assert sa.dtls_state == "connected" and sa.sctp_state == "established"
        assert {sa.dtls_role, sb.dtls_role} == {"client", "server"}
        assert (sa.ice_role, sb.ice_role) == ("controlling", "controlled")
        assert sa.messages_sent == 3 and sa.bytes_sent == 1005
        assert sb.messages_received == 3 and sb.bytes_received == 1005
        assert sa.messages_received == 0 and sb.messages_sent == 0
        (ca,) = sa.channels
        (cb,) = sb.channels
        assert (ca.label, ca.protocol, ca.state) == ("counted", "p1", "open")
        assert ca.stream_id == cb.stream_id is not None
        assert ca.buffered_amount == 0
        assert cb.messages_received == 3
        assert sa.selected_pair is not None
        assert sa.selected_pair.local_address in a.local_addresses
        assert sa.selected_pair.remote_address in b.local_addresses
        assert sa.selected_pair.local_type == "host"
        assert sa.rtt is not None and sa.rtt >= 0
        assert sa.datagrams_sent > 0 and sa.datagrams_received > 0
        assert sb.datagrams_received > 0
        # A snapshot does not change when the connection does.
        await channel.send("more")
        assert sa.messages_sent == 3
        assert a.get_stats().messages_sent == 4
        json.dumps(sa.to_dict())


async def test_godot_face_returns_a_dictionary() -> None:
    async with WebRTCPeerConnection(name="g-a") as a, WebRTCPeerConnection(name="g-b") as b:
        assert a.get_stats() == {}
        assert a.initialize(LOOPBACK) is Error.OK
        assert b.initialize(LOOPBACK) is Error.OK

        def wire(source: WebRTCPeerConnection, target: WebRTCPeerConnection) -> None:
            def on_description(kind: str, sdp: str) -> None:
                source.set_local_description(kind, sdp)
                target.set_remote_description(kind, sdp)

            source.session_description_created.connect(on_description)
            source.ice_candidate_created.connect(target.add_ice_candidate)

        wire(a, b)
        wire(b, a)
        channel = a.create_data_channel("g", {"negotiated": True, "id": 3})
        peer = b.create_data_channel("g", {"negotiated": True, "id": 3})
        assert channel is not None and peer is not None
        assert a.create_offer() is Error.OK
        with trio.fail_after(20):
            while channel.get_ready_state() != channel.STATE_OPEN:
                a.poll()
                b.poll()
                await trio.sleep(0.01)
            assert channel.put_packet(b"abc") is Error.OK
            while peer.get_available_packet_count() == 0:
                await trio.sleep(0.01)
        stats = a.get_stats()
        assert stats["name"] == "g-a"
        assert stats["connection_state"] == "connected"
        assert stats["messages_sent"] == 1 and stats["bytes_sent"] == 3
        assert stats["channels"][0]["stream_id"] == 3
        assert isinstance(stats["selected_pair"]["local_address"], list)
        assert b.get_stats()["bytes_received"] == 3
        json.dumps(stats)
