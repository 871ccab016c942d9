"""An aiortc media peer for ``test_aiortc_media.py`` and ``benchmarks/media_loss.py``.

Run as ``python tests/interop/aiortc_media_peer.py --role offer|answer``; asyncio, so in
its own process. It sends a moving VP8 test pattern (``--fps`` frames a second,
generated with PyAV, which aiortc depends on) and a 440 Hz Opus tone, and counts what it
decodes from the peer; it echoes every data-channel message (in the offer role it opens
an ``echo`` channel: trio_webrtc wants a data-channel section in an offer). Loopback
only, as ``aiortc_peer.py``: aioice's host-address discovery returns only 127.0.0.1, no
ICE servers, non-loopback remote candidates are dropped.

Signaling is JSON lines, non-trickle (candidates in the SDP): it writes ``{"type":
"offer"|"answer", "sdp"}``, ``{"type": "state", "state"}``, and on ``{"type":
"report"}`` ``{"type": "report", "video": frames decoded, "audio": frames decoded,
"video_times": [arrival time of each decoded video frame, monotonic seconds] (with
``--times``), "keyframe_requests": ...}``; ``{"type": "bye"}`` ends it. ``--send none``
makes it receive only (it still answers/offers both kinds); ``--receive none`` the
opposite; ``--video-only`` leaves audio out.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import fractions
import json
import logging
import math
import os
import sys
import time
from typing import Any

import aioice.ice

aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]  # loopback only

import av  # noqa: E402
from aiortc import (  # noqa: E402
    MediaStreamTrack,
    RTCConfiguration,
    RTCDataChannel,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError  # noqa: E402
from aiortc.rtcrtpsender import RTCRtpSender  # noqa: E402

logger = logging.getLogger("aiortc_media_peer")
KEYFRAME_REQUESTS = [0]  # PLIs and FIRs the peer sent us (aiortc counts none itself)
_send_keyframe = RTCRtpSender._send_keyframe


def _counting_send_keyframe(self: RTCRtpSender) -> None:
    KEYFRAME_REQUESTS[0] += 1
    _send_keyframe(self)


RTCRtpSender._send_keyframe = _counting_send_keyframe  # type: ignore[method-assign]


def send(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def loopback_only(sdp: str) -> str:
    lines = [
        line
        for line in sdp.splitlines()
        if not line.startswith("a=candidate:") or line.split()[4] == "127.0.0.1"
    ]
    return "\r\n".join(lines) + "\r\n"


class PatternTrack(MediaStreamTrack):
    """A moving test pattern at ``fps`` (320x240 YUV)."""

    kind = "video"

    def __init__(self, fps: int) -> None:
        super().__init__()
        self.fps = fps
        self.count = 0
        self.start: float | None = None

    async def recv(self) -> av.VideoFrame:
        if self.start is None:
            self.start = time.monotonic()
        due = self.start + self.count / self.fps
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        width, height = 320, 240
        frame = av.VideoFrame(width, height, "yuv420p")
        shift = (self.count * 4) % 256
        row = bytes((x + shift) % 256 for x in range(width))
        line = (self.count * 2) % height
        for index, plane in enumerate(frame.planes):
            pad = plane.line_size - plane.width
            if index == 0:
                rows = [b"\xff" * width if y == line else row for y in range(height)]
                plane.update(b"".join(r + bytes(pad) for r in rows))
            else:
                plane.update((b"\x80" * plane.width + bytes(pad)) * plane.height)
        frame.pts = self.count * (90000 // self.fps)
        frame.time_base = fractions.Fraction(1, 90000)
        self.count += 1
        return frame


class ToneTrack(MediaStreamTrack):
    """A 440 Hz tone, 20 ms frames at 48 kHz mono."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self.count = 0
        self.start: float | None = None

    async def recv(self) -> av.AudioFrame:
        if self.start is None:
            self.start = time.monotonic()
        due = self.start + self.count * 0.02
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        samples = 960
        start = self.count * samples
        pcm = array.array(
            "h",
            (int(math.sin(2 * math.pi * 440 * (start + i) / 48000) * 8000) for i in range(samples)),
        )
        frame = av.AudioFrame(format="s16", layout="mono", samples=samples)
        frame.planes[0].update(pcm.tobytes())
        frame.sample_rate = 48000
        frame.pts = self.count * samples
        frame.time_base = fractions.Fraction(1, 48000)
        self.count += 1
        return frame


class Peer:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.counts = {"video": 0, "audio": 0}
        self.video_times: list[float] = []
        self.pattern = PatternTrack(args.fps)
        self.tasks: list[asyncio.Task[None]] = []

        @self.pc.on("connectionstatechange")
        def on_state() -> None:
            logger.info("connection state %s", self.pc.connectionState)
            send({"type": "state", "state": self.pc.connectionState})

        @self.pc.on("datachannel")
        def on_datachannel(channel: RTCDataChannel) -> None:
            self.echo(channel)

        @self.pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            logger.info("remote %s track", track.kind)
            if args.receive != "none":
                self.tasks.append(asyncio.ensure_future(self.consume(track)))

    def echo(self, channel: RTCDataChannel) -> None:
        @channel.on("message")
        def on_message(message: str | bytes) -> None:
            if channel.readyState == "open":
                channel.send(message)

    async def consume(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                await track.recv()
            except MediaStreamError:
                return
            self.counts[track.kind] += 1
            if track.kind == "video" and self.args.times:
                self.video_times.append(time.monotonic())

    def add_tracks(self) -> None:
        kinds = ("video",) if self.args.video_only else ("audio", "video")
        if self.args.send == "none":
            for kind in kinds:
                self.pc.addTransceiver(kind, direction="recvonly")
            return
        if "audio" in kinds:
            self.pc.addTrack(ToneTrack())
        self.pc.addTrack(self.pattern)

    async def send_description(self) -> None:
        description = self.pc.localDescription
        send({"type": description.type, "sdp": description.sdp})

    async def start(self) -> None:
        if self.args.role == "offer":
            # trio_webrtc takes offers with a data-channel section (media rides beside it).
            self.echo(self.pc.createDataChannel("echo"))
            self.add_tracks()
            await self.pc.setLocalDescription(await self.pc.createOffer())
            await self.send_description()

    def report(self) -> dict[str, Any]:
        return {
            "type": "report",
            "video": self.counts["video"],
            "audio": self.counts["audio"],
            "video_times": self.video_times if self.args.times else [],
            "keyframe_requests": KEYFRAME_REQUESTS[0],
            "video_sent": self.pattern.count,
        }

    async def handle(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind in ("offer", "answer"):
            sdp = loopback_only(message["sdp"])
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type=kind))
            if kind == "offer":
                if self.args.send != "none":
                    self.add_tracks()  # onto the transceivers the offer created
                else:
                    for transceiver in self.pc.getTransceivers():
                        transceiver.direction = "recvonly"
                await self.pc.setLocalDescription(await self.pc.createAnswer())
                await self.send_description()
        elif kind == "report":
            send(self.report())
        elif kind == "close":
            await self.pc.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--role", choices=("offer", "answer"), required=True)
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--send", choices=("both", "none"), default="both")
    parser.add_argument("--receive", choices=("both", "none"), default="both")
    parser.add_argument("--times", action="store_true", help="report video frame times")
    parser.add_argument("--video-only", action="store_true", help="no audio track")
    args = parser.parse_args()
    debug = bool(os.environ.get("TRIO_WEBRTC_INTEROP_DEBUG"))
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(name)s %(message)s",
    )
    peer = Peer(args)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    await peer.start()
    while True:
        line = await reader.readline()
        if not line:
            break
        if not line.strip():
            continue
        message = json.loads(line)
        if message.get("type") == "bye":
            break
        logger.info("driver says %s", message.get("type"))
        await peer.handle(message)
    for task in peer.tasks:
        task.cancel()
    await peer.pc.close()


if __name__ == "__main__":
    asyncio.run(main())
