"""Interop with headless Chromium (libwebrtc + dcSCTP), driven over the DevTools protocol.

Each case runs ``tests/interop/chromium_peer.py`` through ``harness.run_interop_case``:
our role offer/answer x candidates trickled/in the SDP x the Trio and Godot faces, plus
Chromium without host candidates (no media permission: the pair forms from peer-reflexive
candidates) in both roles; who closes the connection alternates with the candidate mode.
Beyond the harness's checks, each case asserts what Chromium itself reported (its SDP
setup role, max-message-size, sctp-port, and the selected pair from ``getStats``). Also:
an idle connection kept up by keepalives/consent, the peer launching its own browser, and
the CDP client. One browser serves the module; every case gets a fresh page in a fresh
browser context (so media permission never leaks between cases). Lines beginning
``CHROMIUM-REPORT`` in a peer's log are what it reported.

Chromium must only ever see ``lo``: the module skips unless this process runs in a
network namespace whose only interface is loopback (``./run-tests`` makes one; by hand:
``unshare --net -- sh -c 'ip link set lo up && .venv/bin/python -m pytest ...'``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "browser"))

import cdp
from chromium_peer import REPORT_PREFIX, filter_message, filter_sdp
from harness import InteropResult, open_peer_process, run_interop_case

from trio_webrtc import PeerConnection
from trio_webrtc.core import ConnectionState

HERE = Path(__file__).resolve().parent

_available, _why = cdp.chromium_available()
_fenced, _why_not_fenced = cdp.loopback_only()


def needs_chromium(test: Any) -> Any:
    """Skip unless Chromium is installed and this process sees only ``lo``."""
    test = pytest.mark.skipif(not _available, reason=_why)(test)
    return pytest.mark.skipif(not _fenced, reason=_why_not_fenced)(test)


PEER = [sys.executable, str(HERE / "chromium_peer.py")]


@pytest.fixture(scope="module")
def browser_url() -> Iterator[str]:
    with cdp.chromium_process() as url:
        yield url


class ChromiumPeer:
    """Runs cases against the module's browser and records them in the matrix."""

    def __init__(self, argv: list[str], log_dir: Path, results: list[Any]) -> None:
        self.argv = argv
        self.log_dir = log_dir
        self.results = results

    async def run(self, *extra: str, **case: Any) -> InteropResult:
        result = await run_interop_case([*self.argv, *extra], log_dir=self.log_dir, **case)
        self.results.append(result)
        return result


@pytest.fixture
def chromium(browser_url: str, peer_log_dir: Path, interop_results: list[Any]) -> ChromiumPeer:
    return ChromiumPeer([*PEER, "--browser", browser_url], peer_log_dir, interop_results)


def _report(log_dir: Path) -> dict[str, Any]:
    """What the Chromium peer saw once its channels opened (see chromium_peer.py)."""
    reports = [
        json.loads(line.removeprefix(REPORT_PREFIX))
        for log in log_dir.glob("peer-*.log")
        for line in log.read_text(errors="replace").splitlines()
        if line.startswith(REPORT_PREFIX)
    ]
    assert len(reports) == 1, f"expected one report in {log_dir}"
    report: dict[str, Any] = reports[0]
    return report


def _check(result: InteropResult, log_dir: Path, *, host_candidates: bool = True) -> None:
    assert result.echo_messages == 1000
    assert result.max_message_size == 262144  # Chromium's a=max-message-size
    assert result.our_states[-1] == "closed"
    assert "connected" in result.peer_states
    report = _report(log_dir)
    # Chromium's SDP: actpass when it offers, active when it answers (RFC 8842 §5).
    assert report["setup"] == ("actpass" if result.our_role == "answer" else "active")
    assert report["remoteSetup"] == ("active" if result.our_role == "answer" else "actpass")
    assert report["maxMessageSize"] == "262144"
    assert report["sctpPort"] == "5000"
    assert report["sctpMaxMessageSize"] == 262144  # ours, as Chromium's RTCSctpTransport saw it
    pair = report["pair"]
    assert pair is not None, "Chromium has no selected candidate pair"
    # Chromium's remote candidate is our 127.0.0.1 host candidate, or, when our first
    # check arrived before our signaled candidate did, the peer-reflexive one it learnt
    # from that check (getStats hides a remote prflx address).
    remote = (pair["remote"]["type"], pair["remote"]["address"])
    assert remote in (("host", "127.0.0.1"), ("prflx", ""), ("prflx", "127.0.0.1")), report
    assert pair["local"]["protocol"] == "udp"
    udp_signaled = [c for c in report["signaled"] if " udp " in c.lower()]
    if host_candidates:
        assert any(" 127.0.0.1 " in c and " typ host" in c for c in udp_signaled), report
        assert (pair["local"]["type"], pair["local"]["address"]) == ("host", "127.0.0.1")
    else:
        # Nothing usable was signaled: our ICE paired with a peer-reflexive candidate,
        # and Chromium learnt its own address (prflx) from our XOR-MAPPED-ADDRESS.
        assert udp_signaled == [], report
        assert (pair["local"]["type"], pair["local"]["address"]) == ("prflx", "127.0.0.1")


@needs_chromium
@pytest.mark.parametrize("face", ["trio", "godot"])
@pytest.mark.parametrize("trickle", [True, False], ids=["trickle", "in-sdp"])
@pytest.mark.parametrize("our_role", ["offer", "answer"])
async def test_chromium(chromium: ChromiumPeer, our_role: str, trickle: bool, face: str) -> None:
    """Who closes alternates with the candidate mode, as for aiortc: Chromium's
    ``pc.close()`` (SCTP ABORT "Close called", then DTLS close_notify) must end every
    channel here and bring our connection to CLOSED."""
    result = await chromium.run(
        our_role=our_role,
        trickle=trickle,
        face=face,
        closer="us" if trickle else "peer",
        peer_name="chromium",
    )
    _check(result, chromium.log_dir)


@needs_chromium
@pytest.mark.parametrize("our_role", ["offer", "answer"])
async def test_chromium_peer_reflexive_only(chromium: ChromiumPeer, our_role: str) -> None:
    """Without media permission Chromium signals no host candidate: ICE must pair with
    the peer-reflexive candidate learnt from Chromium's own checks."""
    result = await chromium.run(
        "--no-host-candidates",
        our_role=our_role,
        trickle=True,
        face="trio",
        peer_name="chromium-prflx",
    )
    _check(result, chromium.log_dir, host_candidates=False)


IDLE = 12.0  # seconds: two rounds of our consent checks (RFC 7675 §5.1: 4-6 s apart)


@needs_chromium
async def test_chromium_idle_connection_stays_up(browser_url: str, peer_log_dir: Path) -> None:
    """An idle connection lives on keepalives alone: Chromium pings every 2.5 s and marks
    the connection disconnected after 2.5 s without receiving; we send consent checks.
    Neither side may drop the pair, and a message still echoes afterwards."""
    argv = [*PEER, "--browser", browser_url, "--role", "offer"]
    config = {"bindAddress": "127.0.0.1", "iceServers": []}
    async with (
        open_peer_process(argv, log_dir=peer_log_dir) as peer,
        PeerConnection(config, name="chromium-idle") as pc,
        trio.open_nursery() as nursery,
    ):
        pc.create_data_channel("neg", negotiated=True, id=3)
        offer = await peer.wait_for(lambda m: m.get("type") == "offer", "the offer")
        await peer.send({"type": "answer", "sdp": await pc.accept_offer(offer["sdp"])})

        async def ours() -> None:
            async for candidate in pc.local_candidates():
                message = {"candidate": candidate.candidate, "sdpMid": "0", "sdpMLineIndex": 0}
                await peer.send({"type": "candidate", **message})
            await peer.send({"type": "candidate", "candidate": "", "sdpMid": "0"})

        async def theirs() -> None:
            async for message in peer.messages():
                if message.get("type") == "candidate":
                    await pc.add_ice_candidate(message["candidate"] or None)

        nursery.start_soon(ours)
        nursery.start_soon(theirs)
        with trio.fail_after(10):
            echo = await pc.accept_channel()
            while echo.label != "echo":
                echo = await pc.accept_channel()
        await peer.wait_for(lambda m: m.get("type") == "ready", "the peer's channels")
        with trio.fail_after(10):
            await echo.send("before")
            assert await echo.receive() == "before"

        await trio.sleep(IDLE)

        assert pc.connection_state is ConnectionState.CONNECTED
        assert peer.states[-1] == "connected", peer.states
        assert "disconnected" not in peer.states
        with trio.fail_after(10):
            await echo.send(b"after")
            assert await echo.receive() == b"after"
        pc.close()
        assert await peer.finish() == 0
        nursery.cancel_scope.cancel()


@needs_chromium
async def test_chromium_standalone_peer(peer_log_dir: Path) -> None:
    """The peer launching (and removing) its own browser, as when run by hand."""
    result = await run_interop_case(
        PEER,
        our_role="offer",
        trickle=True,
        face="trio",
        peer_name="chromium",
        log_dir=peer_log_dir,
    )
    _check(result, peer_log_dir)


@needs_chromium
async def test_cdp_client() -> None:
    """The DevTools client itself: evaluate (values, promises, errors), bindings,
    navigation, screenshots, and a browser that is gone after the block."""
    async with cdp.launch_chromium() as browser:
        assert "Chrome" in (await browser.version())["product"]
        log_path = browser.log_path
        assert log_path is not None and log_path.exists()
        async with browser.new_page() as page:
            assert await page.evaluate("1 + 2") == 3
            assert await page.evaluate("Promise.resolve({a: [1, 'x']})") == {"a": [1, "x"]}
            with pytest.raises(cdp.CdpError, match="boom"):
                await page.evaluate("Promise.reject(new Error('boom'))")
            with pytest.raises(cdp.CdpError, match="ReferenceError"):
                await page.evaluate("noSuchThing")
            events = await page.add_binding("toTest")
            await page.evaluate("toTest('one'); toTest('two')")
            assert [await events.receive(), await events.receive()] == ["one", "two"]
            await page.navigate("data:text/html,<title>t</title><p>hello</p>")
            assert await page.evaluate("document.title") == "t"
            png = await page.screenshot()
            assert png.startswith(b"\x89PNG\r\n\x1a\n")
            # Media permission is per browser context: this page was not granted any.
            state = await page.evaluate(
                "navigator.permissions.query({name: 'microphone'}).then(s => s.state)"
            )
            assert state != "granted"
        async with browser.new_page(grant_media=True) as page:
            state = await page.evaluate(
                "navigator.permissions.query({name: 'microphone'}).then(s => s.state)"
            )
            assert state == "granted"
    assert not log_path.exists()  # profile and log removed


def test_peer_drops_non_loopback_candidates() -> None:
    """What the Chromium peer passes on: only 127.0.0.1 candidates, in messages and SDP."""
    host = "candidate:1 1 udp 2122260223 127.0.0.1 40000 typ host generation 0"
    v6 = "candidate:2 1 udp 2122262783 ::1 40001 typ host generation 0"
    mdns = "candidate:3 1 udp 2122260223 f00d.local 40002 typ host generation 0"
    lan = "candidate:4 1 udp 2122260223 10.1.2.3 40003 typ host generation 0"
    for value in (v6, mdns, lan):
        assert filter_message({"type": "candidate", "candidate": value}) is None
    kept = {"type": "candidate", "candidate": host, "sdpMid": "0", "sdpMLineIndex": 0}
    assert filter_message(kept) == kept
    end = {"type": "candidate", "candidate": "", "sdpMid": "0", "sdpMLineIndex": 0}
    assert filter_message(end) == end
    sdp = "\r\n".join(["v=0", f"a={host}", f"a={v6}", f"a={mdns}", f"a={lan}", "a=mid:0"])
    assert filter_sdp(sdp) == f"v=0\r\na={host}\r\na=mid:0\r\n"
    message = filter_message({"type": "offer", "sdp": sdp})
    assert message is not None and lan not in message["sdp"]
