"""End to end over real loopback UDP through the Trio face."""

from __future__ import annotations

import re

import pytest
import trio

from trio_webrtc import (
    ConnectionFailedError,
    ConnectionState,
    GatheringState,
    MessageTooLargeError,
    PeerConnection,
    connect_pair,
)
from trio_webrtc.datachannel import ChannelState

LOOPBACK = {"bindAddress": "127.0.0.1"}

MIXED: list[bytes | str] = [
    "",
    b"",
    "hello",
    "a\x00b\x00",
    "caf\u00e9 \U0001d11e \U0001f600",
    b"\x00",
    bytes(range(256)),
    b"x" * 1200,
    b"y" * 65536,
    "z" * 70000,
    bytes(262144),
]


async def test_two_peers_echo_mixed_messages_in_order() -> None:
    with trio.fail_after(20):
        async with PeerConnection(LOOPBACK) as a, PeerConnection(LOOPBACK) as b:
            channel = a.create_data_channel("echo", protocol="json")
            negotiated_a = a.create_data_channel("neg", negotiated=True, id=7)
            negotiated_b = b.create_data_channel("neg", negotiated=True, id=7)
            await connect_pair(a, b)
            assert a.connection_state is ConnectionState.CONNECTED
            assert b.connection_state is ConnectionState.CONNECTED
            incoming = await b.accept_channel()
            assert incoming.label == "echo"
            assert incoming.protocol == "json"
            await channel.wait_open()
            assert channel.id is not None and incoming.id == channel.id

            async def echo() -> None:
                for _ in MIXED:
                    await incoming.send(await incoming.receive())

            async with trio.open_nursery() as nursery:
                nursery.start_soon(echo)
                for message in MIXED:
                    await channel.send(message)
                for message in MIXED:
                    got = await channel.receive()
                    assert type(got) is type(message)
                    assert got == message

            await negotiated_a.wait_open()
            await negotiated_b.wait_open()
            assert negotiated_a.id == negotiated_b.id == 7
            await negotiated_a.send(b"both ways")
            assert await negotiated_b.receive() == b"both ways"
            await negotiated_b.send("back")
            assert await negotiated_a.receive() == "back"


async def test_channel_close_reaches_the_other_side() -> None:
    with trio.fail_after(20):
        async with PeerConnection(LOOPBACK) as a, PeerConnection(LOOPBACK) as b:
            channel = a.create_data_channel("closing")
            await connect_pair(a, b)
            incoming = await b.accept_channel()
            await channel.send("last words")
            await channel.aclose()
            assert await incoming.receive() == "last words"
            with pytest.raises(trio.EndOfChannel):
                await incoming.receive()
            await incoming.wait_closed()
            await channel.wait_closed()
            assert incoming.state is ChannelState.CLOSED
            with pytest.raises(trio.ClosedResourceError):
                await channel.send("after close")


async def test_peer_connection_close_ends_every_channel_on_both_sides() -> None:
    with trio.fail_after(20):
        async with PeerConnection(LOOPBACK) as a, PeerConnection(LOOPBACK) as b:
            first = a.create_data_channel("one")
            second = a.create_data_channel("two", ordered=False, max_retransmits=0)
            await connect_pair(a, b)
            remote = [await b.accept_channel(), await b.accept_channel()]
            await first.wait_open()
            await second.wait_open()
            a.close()
            a.close()  # idempotent
            assert a.connection_state is ConnectionState.CLOSED
            assert first.state is ChannelState.CLOSED
            for channel in remote:
                await channel.wait_closed()
            await b.wait_for_state(ConnectionState.CLOSED)


async def test_message_over_max_message_size_is_refused_and_nothing_is_sent() -> None:
    with trio.fail_after(20):
        async with PeerConnection(LOOPBACK) as a, PeerConnection(LOOPBACK) as b:
            channel = a.create_data_channel("big")
            await connect_pair(a, b)
            incoming = await b.accept_channel()
            await channel.wait_open()
            with pytest.raises(MessageTooLargeError):
                await channel.send(bytes(262145))
            assert channel.buffered_amount == 0
            await channel.send(b"small")
            assert await incoming.receive() == b"small"


async def test_tampered_fingerprint_fails_and_opens_no_channel() -> None:
    with trio.fail_after(30):
        async with PeerConnection(LOOPBACK) as a, PeerConnection(LOOPBACK) as b:
            channel = a.create_data_channel("never")
            offer = await a.create_offer()
            answer = await b.accept_offer(offer)

            def flip(match: re.Match[str]) -> str:
                digit = match.group(1)
                return "a=fingerprint:sha-256 " + ("0" if digit != "0" else "1")

            tampered = re.sub(r"a=fingerprint:sha-256 ([0-9A-F])", flip, answer, count=1)
            assert tampered != answer
            await a.accept_answer(tampered)
            async for candidate in a.local_candidates():
                await b.add_ice_candidate(candidate.candidate, "0", 0)
            async for candidate in b.local_candidates():
                await a.add_ice_candidate(candidate.candidate, "0", 0)
            with pytest.raises(ConnectionFailedError):
                await a.wait_connected()
            assert a.connection_state is ConnectionState.FAILED
            assert channel.state is not ChannelState.OPEN
            with pytest.raises(trio.BrokenResourceError):
                await channel.wait_open()


async def test_host_candidates_signalled_at_once_and_port_range_honoured() -> None:
    config = {"bindAddress": "127.0.0.1", "portRangeBegin": 41000, "portRangeEnd": 41050}
    async with PeerConnection(config) as pc:
        pc.create_data_channel("x")
        [(host, port)] = pc.local_addresses
        assert host == "127.0.0.1"
        assert 41000 <= port <= 41050
        await pc.create_offer()
        # No waiting: the host candidate and end-of-candidates are there immediately.
        assert pc.gathering_state is GatheringState.COMPLETE
        candidates = [c async for c in pc.local_candidates()]
        assert len(candidates) == 1
        assert f"127.0.0.1 {port} typ host" in (candidates[0].candidate or "")
        assert (candidates[0].sdp_mid, candidates[0].sdp_mline_index) == ("0", 0)


async def test_nothing_outlives_the_async_with_block() -> None:
    async with PeerConnection(LOOPBACK) as pc:
        sockets = list(pc._driver._sockets.values()) if pc._driver else []
        assert sockets
    assert all(sock.fileno() == -1 for sock in sockets)
    assert pc.connection_state is ConnectionState.CLOSED


async def test_ipv6_loopback_host_candidates_connect_and_carry_data() -> None:
    config = {"bindAddress": "::1"}
    with trio.fail_after(20):
        async with PeerConnection(config) as a, PeerConnection(config) as b:
            assert [host for host, _ in a.local_addresses] == ["::1"]
            channel = a.create_data_channel("v6")
            await connect_pair(a, b)
            incoming = await b.accept_channel()
            await channel.send("over IPv6")
            assert await incoming.receive() == "over IPv6"
            candidates = [c.candidate or "" async for c in a.local_candidates()]
            assert candidates and all(" ::1 " in c for c in candidates)


async def test_local_description_embeds_gathered_candidates_for_non_trickle_peers() -> None:
    with trio.fail_after(20):
        async with PeerConnection(LOOPBACK) as a, PeerConnection(LOOPBACK) as b:
            assert a.local_description is None
            channel = a.create_data_channel("embedded")
            await a.create_offer()
            offer = a.local_description
            assert offer is not None
            [(host, port)] = a.local_addresses
            assert "a=candidate:" in offer and f"{host} {port} typ host" in offer
            assert "a=end-of-candidates" in offer
            # A peer that only reads the SDP (no trickle) connects from it alone.
            answer = await b.accept_offer(offer)
            assert "a=candidate:" not in answer
            await a.accept_answer(b.local_description or "")
            incoming = await b.accept_channel()
            await channel.send(b"no trickle needed")
            assert await incoming.receive() == b"no trickle needed"
