"""Failures explain themselves: each produces a log line naming the cause and the peer
connection's name (and the exception, where there is one, says the same).

Runs whole peer connections on :class:`MemoryNetwork` under trio's autojump clock, so
the ICE and DTLS timeouts take no real time.
"""

from __future__ import annotations

import logging
import re

import pytest
import trio

from trio_webrtc import (
    ConnectionFailedError,
    MessageTooLargeError,
    PeerConnection,
    connect_pair,
)
from trio_webrtc.godot import Error, WebRTCPeerConnection
from trio_webrtc.testing import MemoryNetwork


def lines(caplog: pytest.LogCaptureFixture, level: int = logging.WARNING) -> list[str]:
    return [f"{r.name} {r.getMessage()}" for r in caplog.records if r.levelno >= level]


def has(caplog: pytest.LogCaptureFixture, *needles: str, level: int = logging.WARNING) -> bool:
    return any(all(n in line for n in needles) for line in lines(caplog, level))


async def forward_candidates(a: PeerConnection, b: PeerConnection) -> None:
    async def forward(source: PeerConnection, target: PeerConnection) -> None:
        async for candidate in source.local_candidates():
            await target.add_ice_candidate(candidate.candidate)
        await target.add_ice_candidate(None)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(forward, a, b)
        nursery.start_soon(forward, b, a)


async def test_failed_ice_names_cause_and_connection(
    caplog: pytest.LogCaptureFixture, autojump_clock: trio.abc.Clock
) -> None:
    caplog.set_level(logging.INFO, logger="trio_webrtc")
    network = MemoryNetwork()
    network.set_blackout(True)  # every connectivity check is lost
    async with (
        PeerConnection(name="ice-alice", network=network) as a,
        PeerConnection(name="ice-bob", network=network) as b,
    ):
        a.create_data_channel("x")
        with pytest.raises(ConnectionFailedError, match=r"ice-alice.*ICE failed"):
            await connect_pair(a, b)
    assert has(caplog, "trio_webrtc.core", "[ice-alice]", "FAILED", "ICE failed")
    assert has(caplog, "[ice-bob]", "ICE failed")
    assert has(caplog, "trio_webrtc.ice", "[ice-alice]", "every candidate pair failed", level=0)


async def test_fingerprint_mismatch_and_the_alert_it_causes(
    caplog: pytest.LogCaptureFixture, autojump_clock: trio.abc.Clock
) -> None:
    caplog.set_level(logging.INFO, logger="trio_webrtc")
    network = MemoryNetwork()
    async with (
        PeerConnection(name="fp-alice", network=network) as a,
        PeerConnection(name="fp-bob", network=network) as b,
    ):
        a.create_data_channel("x")
        answer = await b.accept_offer(await a.create_offer())
        # Corrupt the first byte of bob's fingerprint: alice must refuse his certificate.
        await a.accept_answer(re.sub(r"(a=fingerprint:sha-256 )..", r"\g<1>00", answer))
        await forward_candidates(a, b)
        with pytest.raises(ConnectionFailedError, match="fingerprint mismatch"):
            await a.wait_connected()
        with trio.fail_after(120):
            with pytest.raises(ConnectionFailedError, match="alert"):
                await b.wait_connected()
    assert has(caplog, "trio_webrtc.core", "[fp-alice]", "fingerprint mismatch", "a=fingerprint")
    # Bob receives alice's fatal alert and says so.
    assert has(caplog, "trio_webrtc.core", "[fp-bob]", "DTLS failed", "alert")
    assert has(caplog, "trio_webrtc.dtls", "[fp-alice]", "fingerprint mismatch", level=0)


async def test_too_large_to_send_is_logged_and_raised(
    caplog: pytest.LogCaptureFixture, autojump_clock: trio.abc.Clock
) -> None:
    caplog.set_level(logging.INFO, logger="trio_webrtc")
    network = MemoryNetwork()
    async with (
        PeerConnection({"maxMessageSize": 1000}, name="big-alice", network=network) as a,
        PeerConnection({"maxMessageSize": 4000}, name="big-bob", network=network) as b,
    ):
        channel = a.create_data_channel("big")
        await connect_pair(a, b)
        incoming = await b.accept_channel()
        with pytest.raises(MessageTooLargeError, match="4000"):
            await channel.send(b"x" * 4001)
        await channel.send(b"x" * 4000)  # exactly the limit is fine
        assert len(await incoming.receive()) == 4000
        with pytest.raises(MessageTooLargeError, match="1000"):  # alice's limit, for bob
            await incoming.send("z" * 1001)
    assert has(caplog, "trio_webrtc.api", "[big-alice]", "'big'", "4001 bytes", "4000")


async def test_too_large_to_receive_is_discarded_with_a_warning_and_closes_the_channel(
    caplog: pytest.LogCaptureFixture, autojump_clock: trio.abc.Clock
) -> None:
    caplog.set_level(logging.INFO, logger="trio_webrtc")
    network = MemoryNetwork()
    async with (
        PeerConnection(name="rx-alice", network=network) as a,
        PeerConnection({"maxMessageSize": 2000}, name="rx-bob", network=network) as b,
    ):
        channel = a.create_data_channel("rx")
        answer = await b.accept_offer(await a.create_offer())
        # Bob's answer lies about his limit, so alice sends what bob refuses to take.
        assert "a=max-message-size:2000" in answer
        await a.accept_answer(answer.replace("max-message-size:2000", "max-message-size:65536"))
        await forward_candidates(a, b)
        await a.wait_connected()
        incoming = await b.accept_channel()
        await channel.send(b"y" * 5000)
        # Issue 14 (RFC 8841 §6.1): counted, a WARNING, and the reliable channel closed
        # rather than left with a silent gap.
        await incoming.wait_closed()
        await channel.wait_closed()
        assert b.get_stats().messages_discarded == 1
    assert has(
        caplog, "trio_webrtc.dcep", "[rx-bob]", "max-message-size (2000", level=logging.WARNING
    )


async def test_godot_face_logs_message_size_and_bad_calls(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="trio_webrtc")
    async with WebRTCPeerConnection(name="godot-x") as pc:
        assert pc.initialize({"mtu": 1}) is Error.ERR_INVALID_PARAMETER
        assert pc.add_ice_candidate("0", 0, "candidate:garbage") is not Error.OK
    assert has(caplog, "trio_webrtc.godot", "[godot-x]", "initialize", "mtu")
    assert has(caplog, "trio_webrtc.godot", "[godot-x]", "add_ice_candidate")


def test_turn_401_then_438_then_wrong_credentials_is_explained(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from trio_webrtc.ice import stun
    from trio_webrtc.ice.turn import TurnClient, TurnState

    caplog.set_level(logging.DEBUG, logger="trio_webrtc")
    client = TurnClient(
        ("127.0.0.1", 3478),
        "alice",
        "wrong-password",
        label="turn:127.0.0.1:3478",
        log_prefix="turn-pc",
    )
    client.start(0.0)

    def answer(code: int, reason: str, nonce: str) -> stun.Message:
        (request_bytes,) = client.datagrams_to_send()
        request = stun.parse_message(request_bytes)
        assert request.method == stun.Method.ALLOCATE
        reply = stun.Message(
            stun.Method.ALLOCATE,
            stun.MessageClass.ERROR,
            request.transaction_id,
            (
                (stun.ERROR_CODE, stun.ErrorCode(code, reason)),
                (stun.REALM, "example.org"),
                (stun.NONCE, nonce),
            ),
        )
        client.receive(stun.encode(reply), 0.1)
        return request

    first = answer(401, "Unauthorized", "nonce-1")  # the unauthenticated first try
    assert not first.has(stun.USERNAME)
    second = answer(438, "Stale Nonce", "nonce-2")  # authenticated; the nonce went stale
    assert second.get_str(stun.NONCE) == "nonce-1"
    third = answer(401, "Unauthorized", "nonce-2")  # retried with the new nonce: refused
    assert third.get_str(stun.NONCE) == "nonce-2"
    assert client.state is TurnState.FAILED
    assert has(
        caplog, "trio_webrtc", "[turn-pc]", "TURN authentication failed", "turn:127.0.0.1:3478"
    )
