"""aiortc as a media peer (issue 16, deliverable 5): audio and video both ways.

aiortc (``aiortc_media_peer.py``, its own asyncio process, loopback only) sends a moving
VP8 test pattern and an Opus tone; the trio_webrtc peer receives the frames, decodes the
video itself with PyAV (every frame it delivers must decode, the first being a keyframe)
and forwards every frame back on its own tracks, passing aiortc's keyframe requests on to
aiortc's sender; aiortc decodes what comes back and reports its counts. Both roles;
signaling non-trickle (candidates in the SDP); a data channel on the same connection
echoes before and after. Skipped without aiortc, like
``test_aiortc.py``. The waits are hang guards only (``fail_after``), no timing is asserted.
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest
import trio
from harness import PeerProcess, open_peer_process

from trio_webrtc import DataChannel, PeerConnection
from trio_webrtc.media_track import MediaReceiver, MediaSender

needs_aiortc = pytest.mark.skipif(
    importlib.util.find_spec("aiortc") is None,
    reason="aiortc is not installed (pip install aiortc, part of the test extra)",
)

PEER = [sys.executable, str(Path(__file__).with_name("aiortc_media_peer.py"))]
VIDEO_FRAMES = 90  # 3 s of aiortc's 30 fps pattern, received and decoded by us
RETURNED_FRAMES = 60  # of ours, decoded by aiortc


async def gathered(pc: PeerConnection) -> str:
    async for _ in pc.local_candidates():
        pass
    sdp = pc.local_description
    assert sdp is not None
    return sdp


async def negotiate(pc: PeerConnection, peer: PeerProcess, our_role: str) -> None:
    if our_role == "offer":
        await pc.create_offer()
        await peer.send({"type": "offer", "sdp": await gathered(pc)})
        answer = await peer.wait_for(lambda m: m.get("type") == "answer", "aiortc's answer")
        await pc.accept_answer(answer["sdp"])
    else:
        offer = await peer.wait_for(lambda m: m.get("type") == "offer", "aiortc's offer")
        await pc.accept_offer(offer["sdp"])
        await peer.send({"type": "answer", "sdp": await gathered(pc)})


async def report(peer: PeerProcess) -> dict[str, Any]:
    """aiortc's counts now."""
    return await peer.request("report", "aiortc's report")


class Decoder:
    """Decodes what a receiver delivers with PyAV's VP8 decoder; counts failures."""

    def __init__(self) -> None:
        import av

        self.context = av.CodecContext.create("vp8", "r")
        self.decoded = 0
        self.errors: list[str] = []
        self.first_keyframe: bool | None = None

    def feed(self, data: bytes, keyframe: bool) -> None:
        import av

        if self.first_keyframe is None:
            self.first_keyframe = keyframe
        try:
            frames = self.context.decode(av.Packet(data))
        except av.error.FFmpegError as exc:  # type: ignore[attr-defined]
            self.errors.append(str(exc))
            return
        self.decoded += len(frames)


async def check_echo(channel: DataChannel, count: int = 10) -> None:
    """The data channel beside the media echoes ``count`` messages in order."""
    await channel.wait_open()
    for i in range(count):
        await channel.send(f"echo {i}")
    for i in range(count):
        assert await channel.receive() == f"echo {i}"


async def forward(
    receiver: MediaReceiver,
    sender: MediaSender,
    counts: dict[str, int],
    decoder: Decoder | None,
) -> None:
    """Every frame back on our track of the same kind; keyframe requests passed on."""
    async with trio.open_nursery() as nursery:
        if receiver.kind == "video":

            async def relay_keyframe_requests() -> None:
                with contextlib.suppress(trio.ClosedResourceError, trio.BrokenResourceError):
                    while True:
                        await sender.wait_keyframe_request()
                        receiver.request_keyframe()

            nursery.start_soon(relay_keyframe_requests)
        async for frame in receiver:
            if decoder is not None:
                decoder.feed(frame.data, frame.keyframe)
            counts[receiver.kind] = counts.get(receiver.kind, 0) + 1  # before any await
            await sender.send_frame(frame.data, frame.timestamp)
        nursery.cancel_scope.cancel()


@needs_aiortc
@pytest.mark.parametrize("our_role", ["offer", "answer"])
async def test_aiortc_media_round_trip(our_role: str, peer_log_dir: Path) -> None:
    aiortc_role = "answer" if our_role == "offer" else "offer"
    with trio.fail_after(120):  # a hang guard
        async with open_peer_process([*PEER, "--role", aiortc_role], log_dir=peer_log_dir) as peer:
            async with (
                PeerConnection({"bindAddress": "127.0.0.1"}) as pc,
                trio.open_nursery() as nursery,
            ):
                senders = {kind: pc.add_track(kind) for kind in ("audio", "video")}  # type: ignore[arg-type]
                if our_role == "offer":
                    channel = pc.create_data_channel("echo")
                await negotiate(pc, peer, our_role)
                await pc.wait_connected()
                if our_role == "answer":
                    channel = await pc.accept_channel()
                await check_echo(channel)
                counts: dict[str, int] = {}
                decoder = Decoder()
                receivers: dict[str, MediaReceiver] = {}
                for _ in range(2):
                    receiver = await pc.accept_track()
                    receivers[receiver.kind] = receiver
                    nursery.start_soon(
                        forward,
                        receiver,
                        senders[receiver.kind],
                        counts,
                        decoder if receiver.kind == "video" else None,
                    )
                assert sorted(receivers) == ["audio", "video"]
                codec = receivers["video"].codec
                assert codec is not None and codec.name.upper() == "VP8"
                theirs: dict[str, Any] = {}
                while True:
                    theirs = await report(peer)
                    if (
                        counts.get("video", 0) >= VIDEO_FRAMES
                        and theirs["video"] >= RETURNED_FRAMES
                        and theirs["audio"] >= 100
                    ):
                        break
                    await trio.sleep(0.5)
                await check_echo(channel)  # still echoing beside the media
                stats = pc.get_stats()
                nursery.cancel_scope.cancel()
            await peer.finish()
    # What aiortc sent us decoded here: a keyframe first, every frame decodable.
    assert decoder.first_keyframe is True
    assert decoder.errors == []
    assert decoder.decoded == counts["video"] >= VIDEO_FRAMES
    assert counts.get("audio", 0) >= 100
    # What we sent back decoded at aiortc.
    assert theirs["video"] >= RETURNED_FRAMES and theirs["audio"] >= 100
    assert "connected" in peer.states
    by_type = {(s.type, s.kind): s for s in stats.rtp_streams}
    assert set(by_type) == {
        ("inbound-rtp", "audio"),
        ("inbound-rtp", "video"),
        ("outbound-rtp", "audio"),
        ("outbound-rtp", "video"),
    }
    assert by_type["inbound-rtp", "video"].frames >= VIDEO_FRAMES
    assert by_type["outbound-rtp", "video"].frames >= VIDEO_FRAMES
    assert by_type["outbound-rtp", "video"].packets_sent > 0
