"""Media interop with headless Chromium (issue 16, deliverable 5): audio and video beside a
data channel on one connection.

Chromium runs with its fake camera and microphone (``--use-fake-device-for-media-stream
--use-fake-ui-for-media-stream``) on a page served from ``http://127.0.0.1`` (getUserMedia
needs a secure context; ``about:blank`` is not one). ``chromium_media_page.js`` is its side.
Signaling is non-trickle (each side's description carries its candidates).

* ``test_chromium_accepts_media_sdp`` (both roles): Chromium applies our audio/video
  offer or answers its own with ours; both sides agree on mids, directions and SSRCs, the
  connection comes up and the data channel echoes while the m-sections are negotiated.
* ``test_chromium_media_round_trip`` (both roles): Chromium sends its camera and
  microphone; the trio_webrtc peer forwards every received frame back on its own tracks;
  Chromium's ``getStats()`` shows the returned video decoding (``framesDecoded`` rising
  and keeping up with the frames its camera encoded: none lost or held on the way back)
  and the returned audio received (``totalSamplesReceived`` rising, audio energy above
  zero), and the data channel echoes before and after. Needs the Trio face's media API
  (``PeerConnection.add_track``/``accept_track``); skipped with that reason when absent.

Like ``test_chromium.py``, the module skips unless Chromium is installed and this process
sees only ``lo`` (``./run-tests`` makes that namespace).
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "browser"))

import cdp
from chromium_peer import filter_sdp

from trio_webrtc import PeerConnection
from trio_webrtc.sdp import SessionDescription
from trio_webrtc.sdp.media import TransceiverRequest
from trio_webrtc.sdp.media_jsep import read_media

HERE = Path(__file__).resolve().parent
PAGE_JS = HERE / "chromium_media_page.js"
MEDIA_FLAGS = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
ECHO_COUNT = 20
ROLES = ["offer", "answer"]  # OUR role

_available, _why = cdp.chromium_available()
_fenced, _why_not_fenced = cdp.loopback_only()
pytestmark = [
    pytest.mark.skipif(not _available, reason=_why),
    pytest.mark.skipif(not _fenced, reason=_why_not_fenced),
]

MEDIA_API = hasattr(PeerConnection, "add_track") and hasattr(PeerConnection, "accept_track")
NO_MEDIA_API = "the Trio face has no media API yet (PeerConnection.add_track/accept_track)"


@pytest.fixture(scope="module")
def browser_url() -> Iterator[str]:
    with cdp.chromium_process(MEDIA_FLAGS) as url:
        yield url


async def _serve_page(stream: trio.SocketStream) -> None:
    body = b"<!doctype html><html><body></body></html>"
    with trio.move_on_after(5):
        await stream.receive_some(65536)
        head = f"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\nContent-Length: {len(body)}\r\n\r\n"
        await stream.send_all(head.encode() + body)
    await stream.aclose()


@asynccontextmanager
async def media_page(browser_url: str) -> AsyncIterator[cdp.Page]:
    """A fresh page at a secure origin (``http://127.0.0.1:<port>/``) with the media peer."""
    async with trio.open_nursery() as nursery:

        async def serve(task_status: trio.TaskStatus[list[trio.SocketListener]]) -> None:
            await trio.serve_tcp(_serve_page, 0, host="127.0.0.1", task_status=task_status)

        listeners = await nursery.start(serve)
        port = listeners[0].socket.getsockname()[1]
        async with (
            cdp.attach_browser(browser_url) as browser,
            browser.new_page(grant_media=True) as page,
        ):
            await page.navigate(f"http://127.0.0.1:{port}/")
            await page.evaluate(PAGE_JS.read_text(), await_promise=False)
            kinds = await page.evaluate("media.start()")
            assert sorted(kinds) == ["audio", "video"]
            try:
                yield page
            finally:
                with trio.move_on_after(5) as cleanup:
                    cleanup.shield = True
                    await page.evaluate("media.close()")
        nursery.cancel_scope.cancel()


async def _gathered(pc: PeerConnection) -> str:
    async for _ in pc.local_candidates():
        pass
    sdp = pc.local_description
    assert sdp is not None
    return sdp


async def _echo_channels(pc: PeerConnection, nursery: trio.Nursery) -> None:
    """Echo every message on every channel the peer opens."""
    while True:
        try:
            channel = await pc.accept_channel()
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            return
        nursery.start_soon(_echo, channel)


async def _echo(channel: Any) -> None:
    try:
        while True:
            await channel.send(await channel.receive())
    except (trio.ClosedResourceError, trio.BrokenResourceError, trio.EndOfChannel):
        return


async def _negotiate(
    page: cdp.Page,
    pc: PeerConnection,
    our_role: str,
    *,
    chromium_tracks: bool = True,
    channel: bool = True,
) -> tuple[str, str]:
    """Offer/answer with the page (non-trickle); returns (our SDP, Chromium's SDP).
    ``channel=False``: Chromium offers audio and video only."""
    if our_role == "offer":
        await pc.create_offer()
        ours = await _gathered(pc)
        theirs = filter_sdp(await page.evaluate(f"media.answer({json.dumps(ours)})"))
        await pc.accept_answer(theirs)
    else:
        arguments = f"{json.dumps(chromium_tracks)}, {json.dumps(channel)}"
        theirs = filter_sdp(await page.evaluate(f"media.offer({arguments})"))
        await pc.accept_offer(theirs)
        ours = await _gathered(pc)
        await page.evaluate(f"media.acceptAnswer({json.dumps(ours)})")
    return ours, theirs


async def _check_echo(page: cdp.Page) -> None:
    result = await page.evaluate(f"media.echo({ECHO_COUNT})", timeout=30)
    assert result["echoed"] == result["sent"]


@pytest.mark.parametrize("our_role", ROLES)
async def test_chromium_accepts_media_sdp(browser_url: str, our_role: str) -> None:
    """Chromium takes our audio/video SDP (offer or answer); both sides agree on what was
    negotiated; the data channel on the same connection echoes."""
    with trio.fail_after(60):
        async with (
            media_page(browser_url) as page,
            PeerConnection({"bindAddress": "127.0.0.1"}) as pc,
            trio.open_nursery() as nursery,
        ):
            # The core's hook, which the Trio face's add_track wraps.
            pc._core.add_transceiver(TransceiverRequest("audio"))
            pc._core.add_transceiver(TransceiverRequest("video"))
            if our_role == "offer":
                channel = pc.create_data_channel("echo")
                nursery.start_soon(_echo, channel)
            else:
                nursery.start_soon(_echo_channels, pc, nursery)
            ours, theirs = await _negotiate(page, pc, our_role)
            await pc.wait_connected()
            await _check_echo(page)

            mine = {m.kind: m for m in pc._core.negotiated_media}
            assert set(mine) == {"audio", "video"}
            remote = SessionDescription.parse(theirs)
            for index, section in enumerate(remote.media):
                if section.kind not in mine:
                    continue
                negotiated = mine[section.kind]
                seen = read_media(remote, index)
                assert seen.mid == negotiated.mid
                assert negotiated.direction == "sendrecv" == seen.direction
                assert negotiated.remote_ssrcs == seen.ssrcs and seen.ssrcs
                assert negotiated.mid_extension_id == seen.mid_extension_id is not None
                if section.kind == "video":
                    assert [c.name for c in negotiated.codecs][:1] == ["VP8"]
                    assert negotiated.remote_rtx_ssrcs
            local = SessionDescription.parse(ours)
            assert len(local.bundle_groups) == 1 and len(local.bundle_groups[0]) == 3
            nursery.cancel_scope.cancel()


async def _forward(receiver: Any, senders: dict[str, Any], counts: dict[str, int]) -> None:
    """Send every frame ``receiver`` yields back on our track of the same kind; Chromium's
    keyframe requests (PLI/FIR) on our video are passed on to its camera's sender."""
    sender = senders[receiver.kind]
    async with trio.open_nursery() as nursery:
        if receiver.kind == "video":
            receiver.request_keyframe()
            wait = getattr(sender, "wait_keyframe_request", None)
            if wait is not None:

                async def relay_keyframe_requests() -> None:
                    with contextlib.suppress(trio.ClosedResourceError, trio.BrokenResourceError):
                        while True:
                            await wait()
                            receiver.request_keyframe()

                nursery.start_soon(relay_keyframe_requests)
        async for frame in receiver:
            await sender.send_frame(frame.data, frame.timestamp)
            counts[receiver.kind] = counts.get(receiver.kind, 0) + 1
        nursery.cancel_scope.cancel()


async def _inbound(page: cdp.Page) -> dict[str, Any]:
    stats: dict[str, Any] = await page.evaluate("media.stats()")
    return stats


@pytest.mark.parametrize("our_role", [*ROLES, "offer-later", "answer-later"])
@pytest.mark.skipif(not MEDIA_API, reason=NO_MEDIA_API)
async def test_chromium_media_round_trip(browser_url: str, our_role: str) -> None:
    """Chromium's camera and microphone go to trio_webrtc and come back: Chromium decodes
    the returned video and receives the returned audio; the data channel echoes.
    ``offer-later``/``answer-later``: the first offer has only the data channel; once it
    echoes, both add their tracks and the same side re-offers (renegotiation on the
    running connection)."""
    with trio.fail_after(90):
        async with (
            media_page(browser_url) as page,
            PeerConnection({"bindAddress": "127.0.0.1"}) as pc,
            trio.open_nursery() as nursery,
        ):
            if our_role == "offer-later":
                nursery.start_soon(_echo, pc.create_data_channel("echo"))
                await _negotiate(page, pc, "offer")
                await pc.wait_connected()
                await _check_echo(page)
                senders = {kind: pc.add_track(kind) for kind in ("audio", "video")}
                await _negotiate(page, pc, "offer")
            elif our_role == "answer-later":
                nursery.start_soon(_echo_channels, pc, nursery)
                await _negotiate(page, pc, "answer", chromium_tracks=False)
                await pc.wait_connected()
                await _check_echo(page)
                senders = {kind: pc.add_track(kind) for kind in ("audio", "video")}
                await _negotiate(page, pc, "answer")
            else:
                senders = {kind: pc.add_track(kind) for kind in ("audio", "video")}
                if our_role == "offer":
                    nursery.start_soon(_echo, pc.create_data_channel("echo"))
                else:
                    nursery.start_soon(_echo_channels, pc, nursery)
                await _negotiate(page, pc, our_role)
                await pc.wait_connected()
            counts: dict[str, int] = {}
            for _ in range(2):
                receiver = await pc.accept_track()
                nursery.start_soon(_forward, receiver, senders, counts)
            await _check_echo(page)

            # Wait until the returned media plays, then check that it keeps playing.
            while True:
                first = await _inbound(page)
                video = first["inbound"].get("video") or {}
                audio = first["inbound"].get("audio") or {}
                if (video.get("framesDecoded") or 0) >= 30 and (
                    audio.get("totalSamplesReceived") or 0
                ) >= 48000:
                    break
                await trio.sleep(0.5)
            await trio.sleep(2)
            second = await _inbound(page)
            v1, v2 = first["inbound"]["video"], second["inbound"]["video"]
            a1, a2 = first["inbound"]["audio"], second["inbound"]["audio"]
            assert v2["framesDecoded"] > v1["framesDecoded"], (first, second)
            # No frame lost or held on the way back: what comes back decoded keeps up with
            # what Chromium's camera encoded (a frame or so in flight). Chromium's own
            # freezeCount also counts stalls of its encoder on this loaded machine, so it
            # is reported (in the message) rather than asserted.
            sent = second["outbound"]["video"]["framesEncoded"]
            assert v2["framesDecoded"] >= sent - 15, (first, second)
            assert a2["totalSamplesReceived"] > a1["totalSamplesReceived"], (first, second)
            assert (a2.get("totalAudioEnergy") or 0) > 0, second
            assert second["remoteTracks"] == {"audio": "live", "video": "live"}
            assert counts.get("video", 0) > 0 and counts.get("audio", 0) > 0
            await _check_echo(page)  # the data channel still echoes beside the media
            nursery.cancel_scope.cancel()


@pytest.mark.skipif(not MEDIA_API, reason=NO_MEDIA_API)
async def test_chromium_media_only_offer_round_trip(browser_url: str) -> None:
    """A browser call without a data channel: Chromium offers only its camera and
    microphone; we answer audio and video alone (no m=application, no SCTP) and send the
    frames back; Chromium decodes them."""
    with trio.fail_after(90):
        async with (
            media_page(browser_url) as page,
            PeerConnection({"bindAddress": "127.0.0.1"}) as pc,
            trio.open_nursery() as nursery,
        ):
            senders = {kind: pc.add_track(kind) for kind in ("audio", "video")}
            ours, theirs = await _negotiate(page, pc, "answer", channel=False)
            assert "m=application" not in theirs
            assert "m=application" not in ours
            assert ours.count("m=audio") == 1 and ours.count("m=video") == 1
            await pc.wait_connected()
            counts: dict[str, int] = {}
            for _ in range(2):
                receiver = await pc.accept_track()
                nursery.start_soon(_forward, receiver, senders, counts)
            while True:
                stats = await _inbound(page)
                video = stats["inbound"].get("video") or {}
                audio = stats["inbound"].get("audio") or {}
                if (video.get("framesDecoded") or 0) >= 30 and (
                    audio.get("totalSamplesReceived") or 0
                ) >= 48000:
                    break
                await trio.sleep(0.5)
            assert counts.get("video", 0) > 0 and counts.get("audio", 0) > 0
            stats_now = pc.get_stats()
            assert stats_now.sctp_state == "new"  # no association was ever started
            assert {s.kind for s in stats_now.rtp_streams} == {"audio", "video"}
            nursery.cancel_scope.cancel()
