"""Issue 13: the W3C surface users coming from browsers or aiortc look for."""

from __future__ import annotations

import logging

import pytest
import trio

import trio_webrtc
from trio_webrtc import (
    Configuration,
    IceState,
    PeerConnection,
    SignalingState,
)
from trio_webrtc.testing import MemoryNetwork


async def test_w3c_attributes(autojump_clock: trio.abc.Clock) -> None:
    network = MemoryNetwork()
    async with (
        PeerConnection(network=network) as a,
        PeerConnection({"maxMessageSize": 100000}, network=network) as b,
    ):
        assert a.signaling_state is SignalingState.STABLE
        assert a.remote_description is None and a.sctp is None
        channel = a.create_data_channel("x", priority=512)
        offer = await a.create_offer()
        assert a.signaling_state is SignalingState.HAVE_LOCAL_OFFER
        answer = await b.accept_offer(offer)
        assert b.remote_description == offer
        await a.accept_answer(answer)
        assert a.remote_description == answer
        assert a.sctp is not None and a.sctp.max_message_size == 100000  # the peer's limit
        assert b.sctp is not None and b.sctp.max_message_size == 262144
        await connect_pair_candidates(a, b)
        await a.wait_connected()
        assert a.ice_connection_state in (IceState.CONNECTED, IceState.COMPLETED)
        incoming = await b.accept_channel()
        assert channel.priority == 512
        assert incoming.priority == 512
        for value in (bytearray(b"ba"), memoryview(b"mv"), b"by", "st"):
            await channel.send(value)
        assert [await incoming.receive() for _ in range(4)] == [b"ba", b"mv", b"by", "st"]


async def connect_pair_candidates(a: PeerConnection, b: PeerConnection) -> None:
    async def forward(source: PeerConnection, target: PeerConnection) -> None:
        async for candidate in source.local_candidates():
            await target.add_ice_candidate(candidate.candidate)
        await target.add_ice_candidate(None)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(forward, a, b)
        nursery.start_soon(forward, b, a)


def test_w3c_keys_that_do_not_apply_are_ignored_with_one_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="trio_webrtc")
    config = Configuration.from_dict(
        {
            "iceServers": [],
            "bundlePolicy": "max-bundle",
            "rtcpMuxPolicy": "require",
            "iceCandidatePoolSize": 2,
            "iceTransportPolicy": "all",
        }
    )
    assert config == Configuration()
    lines = [r.getMessage() for r in caplog.records if r.name == "trio_webrtc.config"]
    assert len(lines) == 1
    assert "bundlePolicy" in lines[0] and "iceCandidatePoolSize" in lines[0]
    with pytest.raises(ValueError, match="unknown configuration keys"):
        Configuration.from_dict({"bundlePolicyy": "typo"})


def test_close_and_consent_timeouts_are_configurable() -> None:
    config = Configuration.from_dict({"closeTimeout": 2.5, "consentTimeout": 5})
    assert (config.close_timeout, config.consent_timeout) == (2.5, 5.0)
    for bad in ({"closeTimeout": -1}, {"consentTimeout": 0}, {"closeTimeout": "soon"}):
        with pytest.raises(ValueError):
            Configuration.from_dict(bad)


def test_library_is_silent_unless_logging_is_configured() -> None:
    handlers = logging.getLogger("trio_webrtc").handlers
    assert any(isinstance(h, logging.NullHandler) for h in handlers)
    assert trio_webrtc.SignalingState is SignalingState


async def test_the_answerer_creates_a_channel(autojump_clock: trio.abc.Clock) -> None:
    network = MemoryNetwork()
    async with PeerConnection(network=network) as a, PeerConnection(network=network) as b:
        a.create_data_channel("from-offerer")
        answer = await b.accept_offer(await a.create_offer())
        control = b.create_data_channel("from-answerer")  # before connecting: fine
        await a.accept_answer(answer)
        await connect_pair_candidates(a, b)
        await control.wait_open()
        labels = {(await a.accept_channel()).label, (await b.accept_channel()).label}
        assert labels == {"from-answerer", "from-offerer"}
