"""Record a browser's camera: the page sends it, a trio_webrtc peer writes it to a file.

    python examples/media_record.py --output camera.ivf
    # then open the printed http://127.0.0.1:PORT/?mode=record URL in a browser

One process, all on 127.0.0.1:

* a tiny HTTP server for ``media_page/index.html`` and ``media_page/media.js``, and
  ``POST /offer``: the page's offer in, our answer out (non-trickle signaling: each side
  gathers its candidates before sending its description, so one exchange is enough);
* per page, a :class:`~trio_webrtc.PeerConnection` (Trio face) that receives the camera's
  video track (``pc.add_track("video", codecs=[VP8], direction="recvonly")``, then
  ``await pc.accept_track()``) and writes every encoded VP8 frame it yields to the file,
  starting at the first keyframe. Nothing is decoded or re-encoded.

The output container follows the file name: ``.ivf`` (the default) is written here by
hand (32-byte header, then a 12-byte header per frame: the simple container libvpx's
tools use; ``ffplay camera.ivf`` plays it), ``.webm``/``.mkv`` need PyAV
(``pip install trio-webrtc[examples]``) and are muxed without re-encoding. Timestamps
are the RTP timestamps (90 kHz clock) counted from the first frame.

``--frames N`` stops after N frames and exits; otherwise recording ends when the page
leaves (or Ctrl+C). One page records at a time; another gets ``409 busy``. A data
channel ``status`` (trio_webrtc's answers need one beside the media) carries progress
lines to the page. ``media_send_file.py`` imports the IVF and HTTP helpers from here.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import struct
import sys
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, BinaryIO, Protocol, TextIO

import trio

from trio_webrtc import DataChannel, PeerConnection
from trio_webrtc.sdp.media import Codec, default_codecs

HERE = Path(__file__).resolve().parent
PAGE = HERE / "media_page"
FILES = {"/": "index.html", "/index.html": "index.html", "/media.js": "media.js"}
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
MAX_OFFER = 64 * 1024
CONFIG = {"bindAddress": "127.0.0.1"}


def vp8_codec() -> Codec:
    """VP8 with our default feedback (NACK, PLI, FIR, REMB): the only codec we accept."""
    return next(c for c in default_codecs("video") if c.name == "VP8")


# ------------------------------------------------------------------------------ IVF

IVF_HEADER = struct.Struct("<4sHH4sHHIII4x")  # signature, version, size, fourcc, w, h, ...
IVF_FRAME = struct.Struct("<IQ")  # frame size, presentation timestamp


@dataclass(frozen=True)
class IvfHeader:
    fourcc: bytes
    width: int
    height: int
    #: seconds per timestamp unit (``Fraction(1, 90000)`` for RTP video timestamps)
    timebase: Fraction
    frame_count: int


@dataclass(frozen=True)
class IvfFrame:
    data: bytes
    pts: int


def vp8_keyframe_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) when ``data`` is a VP8 keyframe, else None (RFC 6386 §9.1: bit 0
    of the frame tag is 0 on keyframes, which then carry a start code and the size)."""
    if len(data) < 10 or data[0] & 1 or data[3:6] != b"\x9d\x01\x2a":
        return None
    width = int.from_bytes(data[6:8], "little") & 0x3FFF
    height = int.from_bytes(data[8:10], "little") & 0x3FFF
    return width, height


class FrameWriter(Protocol):
    def write_frame(self, data: bytes, pts: int, keyframe: bool) -> None: ...
    def close(self) -> None: ...


class IvfWriter:
    """Writes an IVF file: header first (its frame count is patched by :meth:`close`)."""

    def __init__(
        self, file: BinaryIO, width: int, height: int, timebase: Fraction = Fraction(1, 90000)
    ) -> None:
        self.file = file
        self.frames = 0
        header = IVF_HEADER.pack(
            b"DKIF", 0, 32, b"VP80", width, height, timebase.denominator, timebase.numerator, 0
        )
        file.write(header)

    def write_frame(self, data: bytes, pts: int, keyframe: bool) -> None:
        self.file.write(IVF_FRAME.pack(len(data), pts) + data)
        self.frames += 1

    def close(self) -> None:
        self.file.seek(24)
        self.file.write(struct.pack("<I", self.frames))
        self.file.close()


class AvWriter:
    """WebM/Matroska through PyAV: the VP8 frames are muxed as they are."""

    def __init__(self, path: Path, width: int, height: int) -> None:
        import av

        self.timebase = Fraction(1, 90000)
        self.container: Any = av.open(str(path), "w")
        self.stream: Any = self.container.add_stream("libvpx", rate=30)
        self.stream.width, self.stream.height = width, height
        self.stream.time_base = self.timebase
        self.frames = 0
        self._av = av

    def write_frame(self, data: bytes, pts: int, keyframe: bool) -> None:
        packet = self._av.Packet(data)
        packet.stream = self.stream
        packet.pts = packet.dts = pts
        packet.time_base = self.timebase
        packet.is_keyframe = keyframe
        self.container.mux(packet)
        self.frames += 1

    def close(self) -> None:
        self.container.close()


def open_writer(path: Path, width: int, height: int) -> FrameWriter:
    if path.suffix.lower() in (".webm", ".mkv"):
        return AvWriter(path, width, height)
    return IvfWriter(path.open("wb"), width, height)


def read_ivf(path: Path) -> tuple[IvfHeader, list[IvfFrame]]:
    """The header and frames of an IVF file (raises ValueError if it is not one)."""
    data = path.read_bytes()
    if len(data) < IVF_HEADER.size or data[:4] != b"DKIF":
        raise ValueError(f"{path}: not an IVF file")
    _, _, size, fourcc, width, height, rate, scale, count = IVF_HEADER.unpack_from(data)
    if rate == 0 or scale == 0:
        raise ValueError(f"{path}: bad IVF time base {scale}/{rate}")
    frames = []
    offset = size
    while offset + IVF_FRAME.size <= len(data):
        length, pts = IVF_FRAME.unpack_from(data, offset)
        offset += IVF_FRAME.size
        if offset + length > len(data):
            break  # a truncated last frame (the recorder was killed mid-write)
        frames.append(IvfFrame(data[offset : offset + length], pts))
        offset += length
    header = IvfHeader(fourcc, width, height, Fraction(scale, rate), count)
    return header, frames


# ----------------------------------------------------------------------------- HTTP

OfferHandler = Callable[[str], Awaitable[str]]


class Busy(Exception):
    """The example serves one page at a time."""


async def handle_http(stream: trio.SocketStream, on_offer: OfferHandler) -> None:
    """GET of the page's two files; ``POST /offer`` (the page's SDP) answers with ours.
    One request per connection; anything else is 404."""
    async with stream:
        request = b""
        with trio.move_on_after(10):
            while b"\r\n\r\n" not in request and len(request) < MAX_OFFER:
                chunk = await stream.receive_some(4096)
                if not chunk:
                    break
                request += chunk
            head, _, body = request.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, _, target = lines[0].partition(" ")
            path = target.split(" ", 1)[0].split("?", 1)[0]
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length" and value.strip().isdigit():
                    length = min(int(value), MAX_OFFER)
            while len(body) < length:
                chunk = await stream.receive_some(4096)
                if not chunk:
                    break
                body += chunk
        kind = "text/plain; charset=utf-8"
        if method == "GET" and path in FILES:
            status, reply = "200 OK", (PAGE / FILES[path]).read_bytes()
            kind = TYPES[Path(FILES[path]).suffix]
        elif method == "POST" and path == "/offer":
            try:
                status, reply = "200 OK", (await on_offer(body.decode())).encode()
            except Busy as exc:
                status, reply = "409 Conflict", f"{exc}\n".encode()
            except Exception as exc:  # a bad offer: tell the page, keep serving
                status, reply = "400 Bad Request", f"{type(exc).__name__}: {exc}\n".encode()
        else:
            status, reply = "404 Not Found", b"not found\n"
        response = (
            f"HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {len(reply)}\r\n"
            "Cache-Control: no-store\r\nConnection: close\r\n\r\n"
        )
        with contextlib.suppress(trio.BrokenResourceError):
            await stream.send_all(response.encode("latin-1") + reply)


async def serve_page(
    on_offer: OfferHandler,
    port: int,
    *,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``media_page/`` and ``POST /offer`` on 127.0.0.1; reports the bound port."""
    listeners = await trio.open_tcp_listeners(port, host="127.0.0.1")
    task_status.started(listeners[0].socket.getsockname()[1])
    await trio.serve_listeners(functools.partial(handle_http, on_offer=on_offer), listeners)


async def gathered_description(pc: PeerConnection) -> str:
    """Our description once gathering is over (non-trickle: it carries the candidates)."""
    async for _ in pc.local_candidates():
        pass
    sdp = pc.local_description
    assert sdp is not None
    return sdp


class StatusChannel:
    """The page's ``status`` data channel: progress lines, best effort (lines said before
    the channel opens wait for it; media may well arrive before the channel's DCEP open)."""

    def __init__(self) -> None:
        self.channel: DataChannel | None = None
        self.pending: list[str] = []
        self.open = trio.Event()  # set once the pending lines went out

    async def accept(self, pc: PeerConnection) -> None:
        with contextlib.suppress(trio.ClosedResourceError, trio.BrokenResourceError):
            channel = await pc.accept_channel()
            while self.pending:  # in order, lines said meanwhile included
                await channel.send(self.pending.pop(0))
            self.channel = channel
            self.open.set()

    async def say(self, text: str) -> None:
        if self.channel is None:
            self.pending.append(text)
            return
        with contextlib.suppress(
            trio.ClosedResourceError, trio.BrokenResourceError, trio.EndOfChannel
        ):
            await self.channel.send(text)


# ------------------------------------------------------------------------ recording


@contextlib.contextmanager
def _quiet_end() -> Iterator[None]:
    """The page went away: recording stops, it is not an error."""
    with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
        yield


class Recorder:
    def __init__(self, output: Path, frames: int | None, out: TextIO = sys.stdout) -> None:
        self.output = output
        self.limit = frames
        self.out = out
        self.written = 0
        self.busy = False
        self.done = trio.Event()

    async def session(
        self, offer: str, *, task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """One page: answer its offer (reported through ``task_status``), then record."""
        async with (
            PeerConnection(CONFIG, name="recorder") as pc,
            trio.open_nursery() as nursery,
        ):
            pc.add_track("video", codecs=[vp8_codec()], direction="recvonly")
            await pc.accept_offer(offer)
            task_status.started(await gathered_description(pc))
            status = StatusChannel()
            nursery.start_soon(status.accept, pc)
            with _quiet_end():
                receiver = await pc.accept_track()
                await self.record(receiver, status)
            with trio.move_on_after(5):  # let the last status line out (best effort)
                await status.open.wait()
            nursery.cancel_scope.cancel()

    async def record(self, receiver: Any, status: StatusChannel) -> None:
        writer: FrameWriter | None = None
        last = pts = 0
        try:
            async for frame in receiver:
                if writer is None:
                    size = vp8_keyframe_size(frame.data)
                    if size is None:  # wait for a keyframe: a file must start with one
                        receiver.request_keyframe()
                        continue
                    writer = open_writer(self.output, *size)
                    last = frame.timestamp
                    print(
                        f"recording {size[0]}x{size[1]} VP8 to {self.output}",
                        file=self.out,
                        flush=True,
                    )
                    await status.say(f"recording {size[0]}x{size[1]} to {self.output.name}")
                # RTP timestamps are 32 bits and wrap: count forward from the first frame.
                pts += (frame.timestamp - last) & 0xFFFFFFFF
                last = frame.timestamp
                writer.write_frame(frame.data, pts, frame.keyframe)
                self.written += 1
                if self.written % 30 == 0:
                    await status.say(f"{self.written} frames written")
                if self.limit is not None and self.written >= self.limit:
                    await status.say(f"done: {self.written} frames written")
                    return
        finally:
            if writer is not None:
                writer.close()

    async def on_offer(self, offer: str, nursery: trio.Nursery) -> str:
        if self.busy:
            raise Busy("busy: another page is recording")
        self.busy = True

        async def run(task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED) -> None:
            try:
                await self.session(offer, task_status=task_status)
            finally:
                self.busy = False
                print(f"wrote {self.written} frames to {self.output}", file=self.out, flush=True)
                if self.limit is None or self.written >= self.limit:
                    self.done.set()

        answer: str = await nursery.start(run)
        return answer


async def main(
    output: Path, *, port: int = 8000, frames: int | None = None, out: TextIO = sys.stdout
) -> int:
    """Serve until ``frames`` frames are written (or forever without a limit)."""
    if output.suffix.lower() in (".webm", ".mkv"):
        import av  # noqa: F401  (fail now, not when the first frame arrives)
    recorder = Recorder(output, frames, out)
    async with trio.open_nursery() as nursery:

        async def on_offer(offer: str) -> str:
            return await recorder.on_offer(offer, nursery)

        bound = await nursery.start(serve_page, on_offer, port)
        print(f"open http://127.0.0.1:{bound}/?mode=record", file=out, flush=True)
        if frames is not None:
            await recorder.done.wait()
            nursery.cancel_scope.cancel()
    return recorder.written


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Serve a page on 127.0.0.1 that sends the browser's camera to a "
        "trio_webrtc peer, which writes the VP8 frames to a file.",
    )
    parser.add_argument(
        "--output",
        "-o",
        type=Path,
        default=Path("camera.ivf"),
        help="the file to write: .ivf (no dependency) or .webm/.mkv (needs PyAV); "
        "default camera.ivf",
    )
    parser.add_argument("--port", type=int, default=8000, help="HTTP port (0: any free port)")
    parser.add_argument(
        "--frames", type=int, default=None, help="stop and exit after this many frames"
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    args = parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        trio.run(functools.partial(main, args.output, port=args.port, frames=args.frames))
