"""Send a video file to a browser page through a trio_webrtc peer.

    python examples/media_send_file.py clip.ivf     # VP8 in IVF: sent as it is
    python examples/media_send_file.py movie.mp4    # anything else: needs PyAV
    # then open the printed http://127.0.0.1:PORT/?mode=play URL in a browser

One process, all on 127.0.0.1, serving the page of ``media_page/`` (the same server as
``media_record.py``: GET the page, ``POST /offer`` with the page's offer, our answer
back). The page offers to receive video (``addTransceiver("video", {direction:
"recvonly"})``) and a data channel ``status``; per page, a
:class:`~trio_webrtc.PeerConnection` answers with ``pc.add_track("video", codecs=[VP8],
direction="sendonly")`` and, once connected, ``await sender.send_frame(data,
timestamp)`` for every frame at the file's pace (``trio.sleep_until``), the RTP
timestamp being the frame's time in the 90 kHz clock.

Where the frames come from:

* **an .ivf file of VP8** (fourcc ``VP80``; ``media_record.py`` writes them, so does
  ``ffmpeg -i in.mp4 -c:v libvpx -g 30 -deadline realtime out.ivf``): no dependency; each
  frame is sent as encoded, its IVF timestamp converted to 90 kHz. A keyframe request
  from the page (PLI/FIR) cannot be answered with a new keyframe (nothing is encoded
  here): the page recovers at the file's next keyframe, so files with a keyframe every
  second or so suit best;
* **any other file** (needs PyAV, ``pip install trio-webrtc[examples]``): decoded and
  encoded to VP8 with libvpx (real-time settings) in a worker thread, frame by frame; a
  keyframe request makes the next frame a keyframe.

``--loops N`` plays the file N times per page (0, the default: until the page leaves);
timestamps keep rising from one loop to the next.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol, TextIO

import trio

sys.path.insert(0, str(Path(__file__).resolve().parent))

from media_record import (
    CONFIG,
    StatusChannel,
    gathered_description,
    read_ivf,
    serve_page,
    vp8_codec,
)

from trio_webrtc import PeerConnection
from trio_webrtc.media_track import MediaSender

CLOCK = 90000  # the RTP clock of video


@dataclass(frozen=True)
class SourceFrame:
    data: bytes
    seconds: float  # from the start of the file


class Source(Protocol):
    """A file's VP8 frames, readable any number of times (once per page and loop)."""

    description: str
    #: seconds from the first frame of one loop to the first frame of the next
    duration: float

    def frames(self) -> Iterator[SourceFrame]: ...
    def keyframe_requested(self) -> None: ...


class IvfSource:
    """VP8 frames of an IVF file, as they are."""

    def __init__(self, path: Path) -> None:
        header, frames = read_ivf(path)
        if header.fourcc != b"VP80":
            raise ValueError(f"{path}: {header.fourcc!r} is not VP8 (VP80)")
        if not frames:
            raise ValueError(f"{path}: no frames")
        first = frames[0].pts
        self._frames = [
            SourceFrame(f.data, float((f.pts - first) * header.timebase)) for f in frames
        ]
        last = self._frames[-1].seconds
        step = last / (len(frames) - 1) if len(frames) > 1 else 1 / 30
        self.duration = last + step
        self.description = (
            f"{path.name}: {header.width}x{header.height} VP8, {len(frames)} frames, "
            f"{self.duration:.2f} s"
        )
        self.ignored_requests = 0

    def frames(self) -> Iterator[SourceFrame]:
        return iter(self._frames)

    def keyframe_requested(self) -> None:
        self.ignored_requests += 1  # see the module docstring


class TranscodedSource:
    """Any file PyAV reads: decoded, then encoded to VP8 by libvpx."""

    def __init__(self, path: Path, bitrate: int) -> None:
        import av

        self._av = av
        self.path = path
        self.bitrate = bitrate
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            self.width = stream.codec_context.width // 2 * 2
            self.height = stream.codec_context.height // 2 * 2
            rate = stream.average_rate or Fraction(30)
            duration = None
            if stream.duration is not None and stream.time_base is not None:
                duration = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                duration = container.duration / av.time_base
        self.frame_step = float(1 / rate)
        self.duration = (duration or 0.0) + self.frame_step
        self.description = (
            f"{path.name}: {self.width}x{self.height}, "
            f"re-encoded to VP8 at {bitrate // 1000} kbit/s"
        )
        self._want_keyframe = False

    def keyframe_requested(self) -> None:
        self._want_keyframe = True

    def _encoder(self) -> Any:
        encoder = self._av.CodecContext.create("libvpx", "w")
        encoder.width, encoder.height = self.width, self.height
        encoder.pix_fmt = "yuv420p"
        encoder.time_base = Fraction(1, CLOCK)
        encoder.bit_rate = self.bitrate
        encoder.gop_size = 120
        # Real time: no look-ahead (lag-in-frames), fastest speed, resilient to loss.
        encoder.options = {
            "deadline": "realtime",
            "cpu-used": "8",
            "lag-in-frames": "0",
            "error-resilient": "1",
        }
        return encoder

    def _force_keyframe(self, frame: Any) -> None:
        picture_type = getattr(self._av.video.frame, "PictureType", None)
        frame.pict_type = picture_type.I if picture_type is not None else "I"

    def frames(self) -> Iterator[SourceFrame]:
        encoder = self._encoder()
        with self._av.open(str(self.path)) as container:
            first: float | None = None
            for decoded in container.decode(video=0):
                seconds = float(decoded.time) if decoded.time is not None else 0.0
                first = seconds if first is None else first
                seconds -= first
                frame = decoded.reformat(self.width, self.height, "yuv420p")
                frame.pts = round(seconds * CLOCK)
                frame.time_base = Fraction(1, CLOCK)
                if self._want_keyframe:
                    self._want_keyframe = False
                    self._force_keyframe(frame)
                for packet in encoder.encode(frame):
                    yield SourceFrame(bytes(packet), float(packet.pts * packet.time_base))
            for packet in encoder.encode(None):
                yield SourceFrame(bytes(packet), float(packet.pts * packet.time_base))


def open_source(path: Path, bitrate: int = 1_000_000) -> Source:
    if path.suffix.lower() == ".ivf":
        return IvfSource(path)
    try:
        import av  # noqa: F401
    except ImportError:
        raise SystemExit(
            f"{path}: only .ivf (VP8) files can be sent without PyAV; "
            "pip install 'trio-webrtc[examples]' (or av) for other files"
        ) from None
    return TranscodedSource(path, bitrate)


async def _next_frame(frames: Iterator[SourceFrame], threaded: bool) -> SourceFrame | None:
    if threaded:  # decoding and encoding take a while: not on the event loop
        return await trio.to_thread.run_sync(next, frames, None)
    return next(frames, None)


async def play(sender: MediaSender, source: Source, loops: int, status: StatusChannel) -> int:
    """Send ``source`` ``loops`` times (0: forever) at its pace; the frames sent."""
    await sender.wait_ready()
    threaded = not isinstance(source, IvfSource)
    start = trio.current_time()
    offset = 0.0
    sent = 0
    loop = 0
    while loops == 0 or loop < loops:
        frames = source.frames()
        while (frame := await _next_frame(frames, threaded)) is not None:
            seconds = offset + frame.seconds
            await trio.sleep_until(start + seconds)
            await sender.send_frame(frame.data, round(seconds * CLOCK) & 0xFFFFFFFF)
            sent += 1
        offset += source.duration
        loop += 1
        await status.say(f"loop {loop} done: {sent} frames sent")
    return sent


async def relay_keyframe_requests(sender: MediaSender, source: Source) -> None:
    with contextlib.suppress(trio.ClosedResourceError, trio.BrokenResourceError):
        while True:
            await sender.wait_keyframe_request()
            source.keyframe_requested()


async def session(
    offer: str,
    source: Source,
    loops: int,
    out: TextIO,
    *,
    task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED,
) -> None:
    """One page: answer its offer (reported through ``task_status``), then play."""
    sent = 0
    async with (
        PeerConnection(CONFIG, name="sender") as pc,
        trio.open_nursery() as nursery,
    ):
        sender = pc.add_track("video", codecs=[vp8_codec()], direction="sendonly")
        await pc.accept_offer(offer)
        task_status.started(await gathered_description(pc))
        status = StatusChannel()
        nursery.start_soon(status.accept, pc)
        nursery.start_soon(relay_keyframe_requests, sender, source)
        await status.say(f"sending {source.description}")
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            sent = await play(sender, source, loops, status)
        nursery.cancel_scope.cancel()
    print(f"sent {sent} frames to a page", file=out, flush=True)


async def main(
    path: Path,
    *,
    port: int = 8000,
    loops: int = 0,
    bitrate: int = 1_000_000,
    out: TextIO = sys.stdout,
) -> None:
    source = open_source(path, bitrate)
    print(source.description, file=out, flush=True)
    async with trio.open_nursery() as nursery:

        async def on_offer(offer: str) -> str:
            answer: str = await nursery.start(session, offer, source, loops, out)
            return answer

        bound = await nursery.start(serve_page, on_offer, port)
        print(f"open http://127.0.0.1:{bound}/?mode=play", file=out, flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Serve a page on 127.0.0.1 to which a trio_webrtc peer sends a video "
        "file: .ivf (VP8) as it is, other files re-encoded to VP8 with PyAV.",
    )
    parser.add_argument("file", type=Path, help="the video file (.ivf of VP8, or any with PyAV)")
    parser.add_argument("--port", type=int, default=8000, help="HTTP port (0: any free port)")
    parser.add_argument(
        "--loops", type=int, default=0, help="play the file this many times per page (0: forever)"
    )
    parser.add_argument(
        "--bitrate", type=int, default=1_000_000, help="VP8 bit rate when re-encoding (bit/s)"
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    args = parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        trio.run(
            functools.partial(
                main, args.file, port=args.port, loops=args.loops, bitrate=args.bitrate
            )
        )
