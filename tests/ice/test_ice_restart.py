"""ICE restart at the peer-connection level (RFC 8445 §9, RFC 9429 §4.1.8), in memory.

A channel keeps carrying messages, complete and in order, while either side restarts ICE
and the new offer/answer is exchanged; DTLS and SCTP are the same objects throughout and
DTLS does not handshake again.
"""

from __future__ import annotations

import pytest
import trio
import trio.testing

from trio_webrtc import ConnectionState, PeerConnection, connect_pair
from trio_webrtc.core import PeerConnectionCore
from trio_webrtc.testing import LinkConditions, MemoryNetwork

MESSAGES = 300


@pytest.fixture
def autojump_clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


def _count_dtls_starts(core: PeerConnectionCore) -> list[float]:
    dtls = core.dtls
    assert dtls is not None
    calls: list[float] = []
    original = dtls.start

    def start(now: float) -> None:
        calls.append(now)
        original(now)

    dtls.start = start  # type: ignore[method-assign]
    return calls


async def _restart(initiator: PeerConnection, responder: PeerConnection) -> None:
    initiator.restart_ice()
    offer = await initiator.create_offer()
    answer = await responder.accept_offer(offer)
    await initiator.accept_answer(answer)


@pytest.mark.parametrize("initiator", ["offerer", "answerer"])
async def test_channel_survives_ice_restart(
    autojump_clock: trio.testing.MockClock, initiator: str
) -> None:
    net = MemoryNetwork(LinkConditions(delay=0.005, loss=0.02), seed=11)
    with trio.fail_after(120):
        async with (
            PeerConnection(network=net, name="a") as a,
            PeerConnection(network=net, name="b") as b,
        ):
            channel = a.create_data_channel("ordered")
            await connect_pair(a, b)
            incoming = await b.accept_channel()
            cores = (a._core, b._core)
            transports = [(core.dtls, core.sctp) for core in cores]
            starts = [_count_dtls_starts(core) for core in cores]
            ufrags = [core.ice.local_ufrag for core in cores]
            first, second = (a, b) if initiator == "offerer" else (b, a)
            received: list[str] = []

            async def receive() -> None:
                for _ in range(MESSAGES):
                    received.append(str(await incoming.receive()))

            async def send() -> None:
                for i in range(MESSAGES):
                    await channel.send(f"message {i}")
                    await trio.sleep(0.01)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(receive)
                nursery.start_soon(send)
                await trio.sleep(1.0)
                await _restart(first, second)
                selected_before = [core.ice.selected_pair for core in cores]
                await trio.sleep(0.5)  # the new generation's checks and nomination
                # The new generation selected a pair with the new credentials.
                for core, before in zip(cores, selected_before, strict=True):
                    assert core.ice.selected_pair is not None
                    assert core.ice.selected_pair == before
                    assert core.ice._selected_generation == core.ice._generation >= 1
                assert a.connection_state is ConnectionState.CONNECTED
                assert b.connection_state is ConnectionState.CONNECTED

            assert received == [f"message {i}" for i in range(MESSAGES)]
            for core, (dtls, sctp), calls, ufrag in zip(
                cores, transports, starts, ufrags, strict=True
            ):
                assert core.dtls is dtls and core.sctp is sctp
                assert calls == []  # no second handshake
                assert core.ice.local_ufrag != ufrag  # both sides took new credentials
            assert a._core.remote_description is not None
            assert b._core.remote_description is not None
            assert a._core.remote_description.ice_ufrag == b._core.ice.local_ufrag
            assert b._core.remote_description.ice_ufrag == a._core.ice.local_ufrag
            # The data keeps flowing after the restart too.
            await channel.send("after")
            assert await incoming.receive() == "after"


async def test_restart_ice_needs_a_running_connection() -> None:
    pc = PeerConnection()
    with pytest.raises(Exception, match="async with"):
        pc.restart_ice()


async def test_restart_offer_carries_new_credentials_and_candidates(
    autojump_clock: trio.testing.MockClock,
) -> None:
    net = MemoryNetwork(seed=2)
    async with PeerConnection(network=net) as a, PeerConnection(network=net) as b:
        await connect_pair(a, b)
        old = a._core.ice.local_ufrag
        a.restart_ice()
        offer = await a.create_offer()
        assert f"a=ice-ufrag:{a._core.ice.local_ufrag}" in offer
        assert old not in offer
        assert "typ host" in offer and "a=end-of-candidates" in offer
        answer = await b.accept_offer(offer)
        # The answer keeps the DTLS role of the running transport (RFC 8842 §5.5).
        assert "a=setup:active" in answer
        await a.accept_answer(answer)
        await trio.sleep(1)
        assert a.connection_state is ConnectionState.CONNECTED
        # And the other way round: b (the DTLS client) re-offers, a answers passive.
        b.restart_ice()
        answer = await a.accept_offer(await b.create_offer())
        assert "a=setup:passive" in answer
        await b.accept_answer(answer)
        await trio.sleep(1)
        assert b.connection_state is ConnectionState.CONNECTED
