"""Server-reflexive gathering through a whole peer connection, over real loopback UDP,
with the test STUN server of ``stun_server.py`` (everything on 127.0.0.1)."""

from __future__ import annotations

import trio
from stun_server import silent_udp_server, stun_server

from trio_webrtc import ConnectionState, GatheringState, PeerConnection
from trio_webrtc.core import GatheringStateChanged, LocalCandidate
from trio_webrtc.ice import Candidate


def _config(*urls: str) -> dict[str, object]:
    return {"bindAddress": "127.0.0.1", "iceServers": [{"urls": list(urls)}]}


async def _gather(pc: PeerConnection) -> list[Candidate]:
    await pc.create_offer()
    return [Candidate.from_sdp(c.candidate) async for c in pc.local_candidates() if c.candidate]


async def test_srflx_from_two_stun_servers_both_used() -> None:
    # Each server plays a different NAT: the mapped address differs from the base.
    async with (
        stun_server(lambda a: ("127.0.0.1", (a[1] + 1000) % 65536)) as one,
        stun_server(lambda a: ("127.0.0.1", (a[1] + 2000) % 65536)) as two,
    ):
        urls = [f"stun:{one.address[0]}:{one.address[1]}"]
        config = {
            "bindAddress": "127.0.0.1",
            "iceServers": [{"urls": urls}, {"urls": [f"stun:127.0.0.1:{two.address[1]}"]}],
        }
        with trio.fail_after(10):
            async with PeerConnection(config) as pc:
                candidates = await _gather(pc)
                (base,) = pc.local_addresses
        assert pc.gathering_state is GatheringState.COMPLETE
    assert one.requests >= 1 and two.requests >= 1
    assert [c.type for c in candidates] == ["host", "srflx", "srflx"]
    srflx = candidates[1:]
    assert {c.port for c in srflx} == {(base[1] + 1000) % 65536, (base[1] + 2000) % 65536}
    for candidate in srflx:
        assert (candidate.related_address, candidate.related_port) == base
        assert candidate.priority < candidates[0].priority
    assert srflx[0].foundation != srflx[1].foundation  # different servers (§5.1.1.3)


async def test_srflx_equal_to_base_is_redundant() -> None:
    async with stun_server() as server:
        with trio.fail_after(10):
            async with PeerConnection(_config(f"stun:127.0.0.1:{server.address[1]}")) as pc:
                candidates = await _gather(pc)
                assert pc._core._gathering.srflx.answers  # asked and answered...
    assert server.requests >= 1
    assert [c.type for c in candidates] == ["host"]  # ...but no redundant candidate


async def test_unreachable_stun_server_delays_nothing() -> None:
    with silent_udp_server() as silent:
        config = _config(f"stun:127.0.0.1:{silent[1]}")
        with trio.fail_after(10):
            async with PeerConnection(config, name="a") as a, PeerConnection(config, name="b") as b:
                events: dict[str, list[object]] = {"a": [], "b": []}
                for pc in (a, b):
                    original = pc._on_event

                    def record(event: object, pc: PeerConnection = pc, original=original) -> None:  # type: ignore[no-untyped-def]
                        events[pc.name].append(event)
                        original(event)

                    pc._on_event = record  # type: ignore[method-assign]
                    assert pc._driver is not None
                    pc._driver._on_event = record
                a.create_data_channel("x")
                offer = await a.create_offer()
                answer = await b.accept_offer(offer)
                await a.accept_answer(answer)

                async def forward(source: PeerConnection, target: PeerConnection) -> None:
                    async for candidate in source.local_candidates():
                        await target.add_ice_candidate(candidate.candidate)

                async with trio.open_nursery() as nursery:
                    nursery.start_soon(forward, a, b)
                    nursery.start_soon(forward, b, a)
                    await a.wait_connected()
                    await b.wait_connected()
                    # Connected while the silent server is still being asked.
                    assert a.gathering_state is GatheringState.GATHERING
                    assert b.gathering_state is GatheringState.GATHERING
                    nursery.cancel_scope.cancel()
    for name in ("a", "b"):
        kinds = [
            type(e).__name__
            + (f":{e.candidate is not None}" if isinstance(e, LocalCandidate) else "")
            for e in events[name]
            if isinstance(e, (LocalCandidate, GatheringStateChanged))
        ]
        # GATHERING, then the host candidate at once; no end-of-candidates yet.
        assert kinds[:2] == ["GatheringStateChanged", "LocalCandidate:True"]
        assert "LocalCandidate:False" not in kinds
        states = [e.state for e in events[name] if hasattr(e, "state")]
        assert ConnectionState.CONNECTED in states
