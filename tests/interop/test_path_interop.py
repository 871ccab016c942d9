"""Interop through an emulated network path: trio_webrtc against aiortc and Chromium over
``wan`` (25 ms each way, 100 Mbit/s, 625,000-byte queue) and ``wan`` with 2 % random loss
each way, through ``benchmarks/pathemu.py`` on 127.0.0.1.

Each case signals through the emulator (candidates rewritten to its relay ports, so every
datagram crosses the path), then streams 16 KiB messages on the ``echo`` channel, at most
1 MiB unanswered, and checks that every echo came back complete, in order and with the
same CRC-32 as what was sent: both directions cross the path. Nothing about time is
asserted; every wait is bounded so that a stall fails instead of hanging. The peers are
the interop suite's own (``aiortc_peer.py``, ``chromium_peer.py``); Chromium cases skip
outside a loopback-only network namespace, as in ``test_chromium.py``.
"""

from __future__ import annotations

import importlib.util
import json
import random
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "browser"))

import cdp
from harness import PeerProcess, open_peer_process
from pathemu import PathEmulator, open_path

from trio_webrtc import DataChannel, PeerConnection

HERE = Path(__file__).resolve().parent

MESSAGE = 16 << 10
WINDOW = 1 << 20  # bytes sent and not yet echoed back
CASE_BOUND = 240.0  # seconds: a hang guard, not a timing assertion
WAN = ("wan", 2 << 20)
LOSSY = ("wan,loss=2%", 384 << 10)
CONFIG = {"bindAddress": "127.0.0.1", "iceServers": []}

needs_aiortc = pytest.mark.skipif(
    importlib.util.find_spec("aiortc") is None, reason="aiortc is not installed"
)
_available, _why = cdp.chromium_available()
_fenced, _why_not_fenced = cdp.loopback_only()
needs_chromium = pytest.mark.skipif(not (_available and _fenced), reason=_why or _why_not_fenced)

AIORTC = [sys.executable, str(HERE / "aiortc_peer.py")]
CHROMIUM = [sys.executable, str(HERE / "chromium_peer.py")]


def messages(total: int, seed: str) -> list[bytes]:
    rng = random.Random(seed)
    sizes = [MESSAGE] * (total // MESSAGE) + ([total % MESSAGE] if total % MESSAGE else [])
    return [rng.randbytes(size) for size in sizes]


class _Signaling:
    """Offer/answer and trickle between us (side ``a``) and the peer (``b``), through the
    path's candidate rewriting; one writer at a time on the peer's stdin."""

    def __init__(self, pc: PeerConnection, peer: PeerProcess, path: PathEmulator) -> None:
        self.pc, self.peer, self.path = pc, peer, path
        self.lock = trio.Lock()

    async def send(self, message: dict[str, Any]) -> None:
        async with self.lock:
            await self.peer.send(message)

    async def exchange(self, our_role: str, nursery: trio.Nursery) -> DataChannel:
        """Descriptions, then candidates both ways (in ``nursery``); the echo channel."""
        pc, peer, path = self.pc, self.peer, self.path
        echo = pc.create_data_channel("echo") if our_role == "offer" else None
        pc.create_data_channel("neg", negotiated=True, id=3)
        if our_role == "offer":
            await self.send(
                {"type": "offer", "sdp": path.rewrite_sdp("a", await pc.create_offer())}
            )
            answer = await peer.wait_for(lambda m: m.get("type") == "answer", "the answer")
            await pc.accept_answer(path.rewrite_sdp("b", answer["sdp"]))
        else:
            offer = await peer.wait_for(lambda m: m.get("type") == "offer", "the offer")
            answer_sdp = await pc.accept_offer(path.rewrite_sdp("b", offer["sdp"]))
            await self.send({"type": "answer", "sdp": path.rewrite_sdp("a", answer_sdp)})
        nursery.start_soon(self.ours)
        nursery.start_soon(self.theirs)
        if echo is None:
            echo = await pc.accept_channel()
            while echo.label != "echo":
                echo = await pc.accept_channel()
        return echo

    async def ours(self) -> None:
        end = {"type": "candidate", "candidate": "", "sdpMid": "0", "sdpMLineIndex": 0}
        async for candidate in self.pc.local_candidates():
            value = self.path.rewrite_candidate("a", candidate.candidate or "")
            if value is not None:
                await self.send({**end, "candidate": value})
        await self.send(end)

    async def theirs(self) -> None:
        async for message in self.peer.messages():
            if message.get("type") != "candidate":
                continue
            value = str(message.get("candidate") or "")
            if not value:
                await self.pc.add_ice_candidate(None)
                continue
            rewritten = self.path.rewrite_candidate("b", value)
            if rewritten is not None:
                await self.pc.add_ice_candidate(rewritten.removeprefix("a="))


async def _bulk_echo(echo: DataChannel, sent: list[bytes]) -> list[bytes]:
    """Send ``sent`` keeping at most WINDOW bytes unanswered; return the echoes."""
    received: list[bytes] = []
    outstanding = 0
    lot = trio.lowlevel.ParkingLot()

    async def sender() -> None:
        nonlocal outstanding
        for message in sent:
            while outstanding + len(message) > WINDOW:
                await lot.park()
            outstanding += len(message)
            await echo.send(message)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(sender)
        while len(received) < len(sent):
            data = await echo.receive()
            assert isinstance(data, bytes), "a binary message came back as text"
            received.append(data)
            outstanding -= len(data)
            lot.unpark_all()
    return received


async def path_echo_case(
    peer_argv: list[str], profile: str, total: int, our_role: str, log_dir: Path
) -> dict[str, Any]:
    """One case (see the module docs); returns the path's statistics."""
    their_role = "answer" if our_role == "offer" else "offer"
    sent = messages(total, f"{profile}-{our_role}")
    async with (
        open_path(profile, seed=7) as path,
        open_peer_process([*peer_argv, "--role", their_role], log_dir=log_dir) as peer,
        PeerConnection(CONFIG, name=f"path-{our_role}") as pc,
        trio.open_nursery() as nursery,
    ):
        try:
            with trio.fail_after(CASE_BOUND):
                echo = await _Signaling(pc, peer, path).exchange(our_role, nursery)
                await echo.wait_open()
                received = await _bulk_echo(echo, sent)
        except trio.TooSlowError as exc:
            raise peer.fail(f"no complete echo within {CASE_BOUND:g} s: {path.stats()}") from exc
        stats = path.stats()
        pc.close()
        nursery.cancel_scope.cancel()
        await peer.finish()
    assert len(received) == len(sent)
    assert [len(m) for m in received] == [len(m) for m in sent]
    crc_sent = zlib.crc32(b"".join(sent))
    assert zlib.crc32(b"".join(received)) == crc_sent, "the echoed stream differs"
    assert received == sent
    for direction in ("a_to_b", "b_to_a"):
        assert stats[direction]["bytes"] > total  # every byte crossed the path both ways
    return stats


@needs_aiortc
@pytest.mark.parametrize(
    ("profile", "total", "our_role"),
    [(*WAN, "offer"), (*LOSSY, "answer")],
    ids=["wan", "wan-loss2"],
)
async def test_aiortc_through_path(
    profile: str, total: int, our_role: str, peer_log_dir: Path
) -> None:
    stats = await path_echo_case(AIORTC, profile, total, our_role, peer_log_dir)
    if "loss" in profile:
        assert stats["a_to_b"]["lost"] and stats["b_to_a"]["lost"]  # recovered from losses


@pytest.fixture(scope="module")
def browser_url() -> Iterator[str]:
    with cdp.chromium_process() as url:
        yield url


@needs_chromium
@pytest.mark.parametrize(
    ("profile", "total", "our_role"),
    [(*WAN, "answer"), (*LOSSY, "offer")],
    ids=["wan", "wan-loss2"],
)
async def test_chromium_through_path(
    profile: str, total: int, our_role: str, browser_url: str, peer_log_dir: Path
) -> None:
    argv = [*CHROMIUM, "--browser", browser_url]
    stats = await path_echo_case(argv, profile, total, our_role, peer_log_dir)
    if "loss" in profile:
        assert stats["a_to_b"]["lost"] and stats["b_to_a"]["lost"]


async def test_path_relays_and_rewrites() -> None:
    """The emulator itself: candidates rewritten to relay ports (others dropped), and a
    datagram each way reaches the right socket from the partner's relay address."""
    async with open_path("lan") as path:
        a = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM)
        b = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM)
        with a, b:
            await a.bind(("127.0.0.1", 0))
            await b.bind(("127.0.0.1", 0))
            a_port, b_port = a.getsockname()[1], b.getsockname()[1]
            a_cand = f"candidate:1 1 udp 2130706431 127.0.0.1 {a_port} typ host"
            b_cand = f"candidate:1 1 UDP 2130706431 127.0.0.1 {b_port} typ host"
            a_seen = path.rewrite_candidate("a", a_cand)  # how b sees a
            b_seen = path.rewrite_candidate("b", "a=" + b_cand)  # how a sees b
            assert a_seen is not None and b_seen is not None and b_seen.startswith("a=")
            a_relay = ("127.0.0.1", int(a_seen.split()[5]))
            b_relay = ("127.0.0.1", int(b_seen.split()[5]))
            assert a_port not in (a_relay[1], b_relay[1])
            assert path.rewrite_candidate("a", "candidate:2 1 udp 1 10.0.0.1 9 typ host") is None
            assert path.rewrite_candidate("a", "candidate:3 1 tcp 1 127.0.0.1 9 typ host") is None
            assert path.rewrite_candidate("a", "") == ""
            sdp = f"v=0\r\na={a_cand}\r\na=candidate:4 1 udp 1 ::1 9 typ host\r\na=mid:0\r\n"
            assert path.rewrite_sdp("a", sdp) == f"v=0\r\na={a_seen}\r\na=mid:0\r\n"
            with trio.fail_after(10):
                await a.sendto(b"to b", b_relay)
                assert await b.recvfrom(100) == (b"to b", a_relay)
                await b.sendto(b"to a", a_relay)
                assert await a.recvfrom(100) == (b"to a", b_relay)
            stats = path.stats()
            assert stats["a_to_b"]["delivered"] == stats["b_to_a"]["delivered"] == 1


def test_link_model_is_exact() -> None:
    """Drop-tail queue in bytes, serialization at the rate, delay, order kept under jitter
    (the model in virtual time: ``admit`` at chosen instants, release times inspected)."""
    from pathemu import HEADER_BYTES, Link, PathModel

    sock: Any = None
    size = 1000 - HEADER_BYTES  # 1,000 bytes on the wire: 80 us at 100 Mbit/s
    link = Link(PathModel(delay=0.025, rate=100e6, queue=3000), random.Random(1))
    for _ in range(5):
        link.admit(10.0, bytes(size), sock, ("127.0.0.1", 9))
    releases = sorted(item[0] for item in link._heap)
    assert link.stats.dropped == 2 and len(releases) == 3  # 3,000 bytes fit the queue
    assert releases == pytest.approx([10.02508, 10.02516, 10.02524])
    link.admit(10.00016, bytes(size), sock, ("127.0.0.1", 9))  # two left: room again
    assert link.stats.dropped == 2 and len(link._heap) == 4

    jittery = Link(PathModel(delay=0.04, jitter=0.005), random.Random(2))
    for step in range(200):
        jittery.admit(step * 0.0001, b"x", sock, ("127.0.0.1", 9))
    ordered = [item[0] for item in sorted(jittery._heap, key=lambda item: item[1])]
    assert ordered == sorted(ordered)  # no reordering
    assert ordered[0] >= 0.035 and ordered[-1] <= 0.0199 + 0.045

    lossy = Link(PathModel(delay=1.0, loss=0.25), random.Random(3))
    for _ in range(4000):
        lossy.admit(0.0, b"x", sock, ("127.0.0.1", 9))
    assert 900 <= lossy.stats.lost <= 1100  # seeded: the same count every run


@pytest.mark.parametrize("name", ["lan", "bottleneck", "wan", "wan-lossy", "mobile", "far"])
def test_profiles_as_in_issue_12(name: str) -> None:
    from pathemu import PROFILES, parse_profile

    model = PROFILES[name].a_to_b
    assert PROFILES[name].b_to_a == model
    expected = {
        "lan": (0.0, None, None, 0.0, 0.0),
        "bottleneck": (0.0, 50e6, 65536, 0.0, 0.0),
        "wan": (0.025, 100e6, 625_000, 0.0, 0.0),
        "wan-lossy": (0.025, 100e6, 625_000, 0.01, 0.0),
        "mobile": (0.040, 20e6, 131072, 0.02, 0.005),
        "far": (0.100, 50e6, 1_250_000, 0.0, 0.0),
    }[name]
    assert (model.delay, model.rate, model.queue, model.loss, model.jitter) == expected
    varied = parse_profile(f"{name},loss=2%,delay=10ms").a_to_b
    assert (varied.loss, varied.delay, varied.rate) == (0.02, 0.010, model.rate)


def test_path_bench_smoke(tmp_path: Path) -> None:
    """The benchmark tool end to end on a small transfer: trio_webrtc to itself and to
    aiortc over ``wan``, CRC-verified, one JSON line per run, the table, and (when
    matplotlib is installed) the plot. Nothing about speed is asserted."""
    script = HERE.parents[1] / "benchmarks" / "path_bench.py"
    pairs = "trio-trio,trio-aiortc" if importlib.util.find_spec("aiortc") else "trio-trio"
    argv = [sys.executable, str(script), "--profiles", "wan", "--pairs", pairs]
    argv += ["--size", str(1 << 20), "--timeout", "120", "--no-netns"]
    argv += ["--trace-dir", str(tmp_path)]
    plot = importlib.util.find_spec("matplotlib") is not None
    completed = subprocess.run(
        argv + (["--plot"] if plot else []),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    records = [json.loads(line) for line in completed.stdout.splitlines() if line[:1] == "{"]
    assert [r["pair"] for r in records] == pairs.split(",")
    for record in records:
        assert record["status"] == "ok", record
        assert record["received"] == 1 << 20
        assert record["path"]["a_to_b"]["delivered"] > 0
    assert "| `wan` |" in completed.stdout
    if plot:
        assert (tmp_path / "wan" / "wan.png").stat().st_size > 0
