"""Server-reflexive and relayed candidates from Debian's coturn on 127.0.0.1, and data
channels through the relay over UDP, TCP and TLS (RFC 8656). Skipped without
``turnserver`` (``apt-get install coturn``; ``./run-tests`` installs it)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import trio
from stun_server import PASSWORD, USER, Coturn, turnserver_available

from trio_webrtc import ConnectionState, GatheringState, PeerConnection, connect_pair
from trio_webrtc.ice import Candidate

pytestmark = pytest.mark.skipif(not turnserver_available(), reason="coturn is not installed")


@pytest.fixture(scope="module")
def coturn() -> Iterator[Coturn]:
    with Coturn(tls=True) as server:
        yield server


def _url(coturn: Coturn, transport: str) -> str:
    if transport == "tls":
        return f"turns:127.0.0.1:{coturn.tls_port}"
    suffix = "?transport=tcp" if transport == "tcp" else ""
    return f"turn:127.0.0.1:{coturn.port}{suffix}"


def _config(
    coturn: Coturn, transport: str, *, policy: str = "all", password: str = PASSWORD
) -> dict[str, object]:
    return {
        "bindAddress": "127.0.0.1",
        "iceTransportPolicy": policy,
        "turnTlsCaFile": coturn.ca_file,
        "iceServers": [
            {"urls": [_url(coturn, transport)], "username": USER, "credential": password}
        ],
    }


async def _gather(pc: PeerConnection) -> list[Candidate]:
    await pc.create_offer()
    return [Candidate.from_sdp(c.candidate) async for c in pc.local_candidates() if c.candidate]


@pytest.mark.parametrize("transport", ["udp", "tcp", "tls"])
async def test_relay_candidate_from_coturn(coturn: Coturn, transport: str) -> None:
    with trio.fail_after(10):
        async with PeerConnection(_config(coturn, transport)) as pc:
            candidates = await _gather(pc)
            (base,) = pc.local_addresses
            answers = dict(pc._core._gathering.srflx.answers)
    assert pc.gathering_state is GatheringState.COMPLETE
    assert [c.type for c in candidates] == ["host", "relay"]
    relay = candidates[1]
    assert relay.address == "127.0.0.1" and 50000 <= relay.port <= 50999
    assert relay.related_address == "127.0.0.1"
    assert relay.priority < candidates[0].priority
    if transport == "udp":
        # coturn also answered the Binding request: the mapped address is the base itself
        # on loopback, so the server-reflexive candidate is redundant (RFC 8445 §5.1.3).
        assert answers == {(base, ("127.0.0.1", coturn.port)): base}
        assert (relay.related_address, relay.related_port) == base
    else:
        assert answers == {}  # no STUN over streams


@pytest.mark.parametrize("transport", ["udp", "tcp", "tls"])
async def test_data_channel_through_relay_only(coturn: Coturn, transport: str) -> None:
    config = _config(coturn, transport, policy="relay")
    with trio.fail_after(20):
        async with PeerConnection(config, name="a") as a, PeerConnection(config, name="b") as b:
            channel = a.create_data_channel("relayed")
            await connect_pair(a, b)
            incoming = await b.accept_channel()
            for pc in (a, b):
                signalled = [c.candidate for c in pc._candidates if c.candidate]
                assert signalled and all("typ relay" in c for c in signalled)
                pair = pc._core.ice.selected_pair
                assert pair is not None and pair[0] in pc._core._relays
                assert pair[0] not in pc.local_addresses
            messages = [f"m{i}" * (1 + i * 40) for i in range(40)]

            async def echo() -> None:
                for _ in messages:
                    await incoming.send(await incoming.receive())

            async with trio.open_nursery() as nursery:
                nursery.start_soon(echo)
                for message in messages:
                    await channel.send(message)
                assert [await channel.receive() for _ in messages] == messages
            assert a.connection_state is ConnectionState.CONNECTED


async def test_wrong_credentials_no_relay_but_host_connects(
    coturn: Coturn, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "trio_webrtc.turn")
    config = _config(coturn, "udp", password="wrong")
    with trio.fail_after(20):
        async with PeerConnection(config, name="a") as a, PeerConnection(config, name="b") as b:
            channel = a.create_data_channel("host")
            await connect_pair(a, b)
            incoming = await b.accept_channel()
            await channel.send("over host candidates")
            assert await incoming.receive() == "over host candidates"
            for pc in (a, b):
                signalled = [c.candidate for c in pc._candidates if c.candidate]
                assert signalled and not any("typ relay" in c for c in signalled)
                assert pc.gathering_state is GatheringState.COMPLETE
    assert f"TURN authentication failed at turn:127.0.0.1:{coturn.port}" in caplog.text
