"""The path model of :mod:`trio_webrtc.testing` (issue 12, deliverable 6): exact
arithmetic of one direction, the named profiles, and that both the sans-I/O
:class:`VirtualLink` and the trio :class:`MemoryNetwork` run over it in virtual time."""

from __future__ import annotations

import random

import pytest
import trio
import trio.testing

from trio_webrtc import PeerConnection, connect_pair
from trio_webrtc.sctp.chunks import DataChunk, SackChunk, parse_packet
from trio_webrtc.testing import (
    PATH_PROFILES,
    LinkConditions,
    MemoryNetwork,
    PathDirection,
    PathProfile,
    VirtualLink,
)


class _Sink:
    """A DatagramEndpoint that sends a scripted list once and records arrivals."""

    def __init__(self, outgoing: list[bytes] | None = None) -> None:
        self.outgoing = outgoing or []
        self.arrivals: list[tuple[float, bytes]] = []

    def receive_datagram(self, data: bytes, now: float) -> None:
        self.arrivals.append((now, data))

    def datagrams_to_send(self, now: float) -> list[bytes]:
        out, self.outgoing = self.outgoing, []
        return out

    def get_timer(self) -> float | None:
        return None

    def handle_timer(self, now: float) -> None:
        pass


def test_named_profiles_match_the_issue_table() -> None:
    assert list(PATH_PROFILES) == ["lan", "bottleneck", "wan", "wan-lossy", "mobile", "far"]
    assert PathProfile.named("lan") == PathProfile()
    assert PathProfile.named("bottleneck") == PathProfile(rate=50e6, queue=65536)
    wan = PathProfile.named("wan")
    assert (wan.delay, wan.rate, wan.queue, wan.loss) == (0.025, 100e6, 625_000, 0.0)
    assert PathProfile.named("wan-lossy") == wan.replace(loss=0.01)
    mobile = PathProfile.named("mobile")
    assert (mobile.delay, mobile.rate, mobile.queue, mobile.loss, mobile.jitter) == (
        0.040,
        20e6,
        131072,
        0.02,
        0.005,
    )
    far = PathProfile.named("far")
    assert (far.delay, far.rate, far.queue) == (0.100, 50e6, 1_250_000)
    with pytest.raises(ValueError, match="unknown path profile 'moon'"):
        PathProfile.named("moon")


def test_bottleneck_serializes_and_drops_at_the_tail() -> None:
    # 8 Mbit/s = 1 byte/us; 972 + 28 header = 1,000 bytes take exactly 1 ms.
    path = PathDirection(PathProfile(delay=0.010, rate=8e6, queue=3000), random.Random(0))
    arrivals = [path.admit(0.0, 972) for _ in range(5)]
    assert arrivals[:3] == pytest.approx([0.011, 0.012, 0.013])
    assert arrivals[3:] == [None, None]  # 3,000 bytes of backlog: the queue is full
    assert (path.stats.dropped, path.stats.delivered, path.stats.max_backlog) == (2, 3, 3000)
    assert path.backlog(0.0015) == 1500
    assert path.admit(0.0015, 972) == pytest.approx(0.014)  # room again behind the backlog
    assert path.stats.drop_times == [0.0, 0.0]


def test_jitter_never_reorders_unless_asked() -> None:
    profile = PathProfile(delay=0.040, jitter=0.005)
    path = PathDirection(profile, random.Random(7))
    times = [path.admit(i * 0.0001, 100) for i in range(2000)]
    assert all(t is not None for t in times)
    assert times == sorted(times)  # type: ignore[type-var]
    assert min(times) >= 0.035 and max(times) <= 0.045 + 0.2  # type: ignore[type-var,operator]
    shuffled = PathDirection(profile.replace(reorder=True), random.Random(7))
    times = [shuffled.admit(i * 0.0001, 100) for i in range(2000)]
    assert times != sorted(times)  # type: ignore[type-var]


def test_loss_is_seeded_and_takes_no_capacity() -> None:
    def run(seed: int) -> list[float | None]:
        path = PathDirection(PathProfile(rate=8e6, loss=0.02), random.Random(seed))
        return [path.admit(0.0, 972) for _ in range(1000)]

    first = run(1)
    assert first == run(1) and first != run(2)
    lost = first.count(None)
    assert 10 <= lost <= 35  # 2 % of 1,000
    # Lost datagrams never reached the bottleneck: the last survivor leaves after exactly
    # (1000 - lost) ms of serialization.
    assert max(t for t in first if t is not None) == pytest.approx((1000 - lost) * 0.001)


def test_virtual_link_takes_a_profile_per_direction() -> None:
    a = _Sink([bytes(972)] * 4)
    b = _Sink([bytes(72)])
    forward = PathProfile(delay=0.010, rate=8e6, queue=2000)
    link = VirtualLink(a, b, forward, b_to_a=PathProfile(delay=0.001), seed=3)
    link.run(lambda: len(b.arrivals) == 2 and len(a.arrivals) == 1)
    assert [t for t, _ in b.arrivals] == pytest.approx([0.011, 0.012])
    assert [t for t, _ in a.arrivals] == pytest.approx([0.001])
    assert link.paths[0] is not None and link.paths[0].stats.dropped == 2
    assert link.paths[1] is not None and link.paths[1].stats.delivered == 1


def test_dumbbell_pairs_share_one_bottleneck() -> None:
    senders = [_Sink([bytes(972)] * 2), _Sink([bytes(972)] * 2)]
    receivers = [_Sink(), _Sink()]
    link = VirtualLink.dumbbell(
        list(zip(senders, receivers, strict=True)), PathProfile(rate=8e6, queue=1 << 20), seed=0
    )
    link.run(lambda: sum(len(r.arrivals) for r in receivers) == 4)
    times = sorted(t for r in receivers for t, _ in r.arrivals)
    assert times == pytest.approx([0.001, 0.002, 0.003, 0.004])  # one queue, not two


def test_link_conditions_still_work() -> None:
    a, b = _Sink([b"x"] * 3), _Sink()
    link = VirtualLink(a, b, LinkConditions(delay=0.005), seed=0)
    link.run(lambda: len(b.arrivals) == 3)
    assert [t for t, _ in b.arrivals] == pytest.approx([0.005] * 3)
    assert link.paths == (None, None)


@pytest.fixture
def autojump_clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


async def test_memory_network_runs_peer_connections_over_a_profile(
    autojump_clock: trio.testing.MockClock,
) -> None:
    net = MemoryNetwork(PathProfile.named("wan"), seed=5)
    with trio.fail_after(60):
        async with PeerConnection(network=net) as a, PeerConnection(network=net) as b:
            channel = a.create_data_channel("ping")
            await connect_pair(a, b)
            incoming = await b.accept_channel()
            await channel.send(b"ping")
            assert await incoming.receive() == b"ping"
            start = trio.current_time()  # both ends open now
            await incoming.send(b"pong")
            assert await channel.receive() == b"pong"
            elapsed = trio.current_time() - start
    # One way over 25 ms of delay (plus serialization of a ~100-byte datagram).
    assert 0.025 <= elapsed < 0.026
    assert net.paths and all(p.profile == PathProfile.named("wan") for p in net.paths.values())
    assert sum(p.stats.delivered for p in net.paths.values()) > 10


async def test_peer_connections_transfer_over_wan_in_virtual_time(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # The whole stack (driver, DTLS, SCTP) over the wan profile: 4 MiB in 16 KiB messages
    # completes, the receiver sends a SACK per second DATA packet (its driver reads one
    # packet per wakeup here: the bottleneck spaces them 0.1 ms apart).
    net = MemoryNetwork(PathProfile.named("wan"), seed=9)
    total, size = 4 << 20, 16384
    # A 1 MiB window keeps the flight under the path's BDP plus its 625 KB queue, so no
    # packet is lost and the count is the SACK policy's alone (losses add a SACK per
    # out-of-order packet, as they should).
    cfg = {"receiveWindow": 1 << 20}
    async with PeerConnection(cfg, network=net) as a, PeerConnection(cfg, network=net) as b:
        channel = a.create_data_channel("bulk")
        await connect_pair(a, b)
        incoming = await b.accept_channel()
        await channel.wait_open()
        counts = {"data": 0, "sacks": 0}
        for pc, key in ((a, "data"), (b, "sacks")):
            sctp = pc._core.sctp
            assert sctp is not None
            original = sctp.datagrams_to_send

            def recording(now: float, *, hold: bool = False, _o=original, _k=key) -> list[bytes]:  # type: ignore[no-untyped-def]
                out: list[bytes] = _o(now, hold=hold)
                for packet in out:
                    chunks = parse_packet(packet).chunks
                    if _k == "data":
                        counts[_k] += any(isinstance(ch, DataChunk) for ch in chunks)
                    else:
                        counts[_k] += sum(isinstance(ch, SackChunk) for ch in chunks)
                return out

            sctp.datagrams_to_send = recording  # type: ignore[method-assign]
        start = trio.current_time()

        async def reader() -> None:
            got = 0
            while got < total:
                message = await incoming.receive()
                got += len(message)

        with trio.fail_after(30):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(reader)
                for _ in range(total // size):
                    await channel.send(bytes(size))
        elapsed = trio.current_time() - start
    mbit = total * 8 / elapsed / 1e6
    print(f"wan, whole stack: {mbit:.1f} Mbit/s, {counts}")
    assert mbit > 30  # slow start to the 625 KB BDP takes most of 4 MiB at 100 Mbit/s
    assert 0.5 <= counts["sacks"] / counts["data"] <= 0.56
