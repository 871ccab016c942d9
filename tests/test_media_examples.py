"""The media examples run and do what their docstrings say (loopback only).

* ``examples/media_record.py``: headless Chromium's fake camera (``--use-fake-device-for-
  media-stream --use-fake-ui-for-media-stream``) is sent from the example's page to the
  example's trio_webrtc peer, which writes an IVF file: at least ``FRAMES`` frames, the
  first a keyframe whose size is the header's, timestamps rising from 0, and every frame
  decodable by FFmpeg's VP8 decoder (PyAV). Also into WebM through PyAV.
* ``examples/media_send_file.py``: an IVF file made here with PyAV's libvpx (and, for
  the transcoding path, an MPEG-4 file) is sent to the example's page; Chromium's
  ``getStats()`` shows more than ``FRAMES`` frames decoded (the file is shorter: it
  loops), at the file's size, keyframes included.

Both run as subprocesses, as a user runs them. The browser tests skip unless Chromium is
installed and this process sees only ``lo`` (``./run-tests`` makes that namespace); the
IVF helpers and ``--help`` are checked everywhere.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from fractions import Fraction
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import trio
import trio.testing

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
MEDIA_FLAGS = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
FRAMES = 60

sys.path.insert(0, str(ROOT / "tests" / "browser"))
import cdp  # noqa: E402

sys.path.pop(0)

_available, _why = cdp.chromium_available()
_fenced, _why_not_fenced = cdp.loopback_only()
needs_browser = [
    pytest.mark.skipif(not _available, reason=_why),
    pytest.mark.skipif(not _fenced, reason=_why_not_fenced),
]
HAVE_AV = importlib.util.find_spec("av") is not None
needs_av = pytest.mark.skipif(not HAVE_AV, reason="PyAV is not installed")


def load(name: str) -> ModuleType:
    path = EXAMPLES / name
    spec = importlib.util.spec_from_file_location("example_" + path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    sys.path.insert(0, str(EXAMPLES))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(EXAMPLES))
    return module


record = load("media_record.py")
send_file = load("media_send_file.py")


@pytest.fixture(scope="module")
def browser_url() -> Iterator[str]:
    if not (_available and _fenced):
        pytest.skip(_why or _why_not_fenced)
    with cdp.chromium_process(MEDIA_FLAGS) as url:
        yield url


class Example:
    """An example running as a subprocess: its stdout line by line, stderr kept."""

    def __init__(self, process: trio.Process) -> None:
        self.process = process
        self._buffer = b""
        self.lines: list[str] = []

    async def line(self) -> str:
        assert self.process.stdout is not None
        while b"\n" not in self._buffer:
            chunk = await self.process.stdout.receive_some(4096)
            if not chunk:
                raise EOFError(f"the example exited: {await self.stderr()}")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        text = line.decode().strip()
        self.lines.append(text)
        return text

    async def stderr(self) -> str:
        assert self.process.stderr is not None
        chunks = []
        with trio.move_on_after(5):
            while chunk := await self.process.stderr.receive_some(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode(errors="replace")[-4000:]


@asynccontextmanager
async def example(*argv: str) -> AsyncIterator[Example]:
    process = await trio.lowlevel.open_process(
        [sys.executable, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV
    )
    try:
        yield Example(process)
    finally:
        with trio.CancelScope(shield=True):
            if process.returncode is None:
                process.terminate()
                with trio.move_on_after(10):
                    await process.wait()
                if process.returncode is None:
                    process.kill()
                    await process.wait()
            for stream in (process.stdout, process.stderr):
                if stream is not None:
                    await stream.aclose()


def decode_all(path: Path) -> list[tuple[int, int]]:
    """(width, height) of every frame FFmpeg decodes from ``path``."""
    import av

    with av.open(str(path)) as container:
        return [(frame.width, frame.height) for frame in container.decode(video=0)]


# ------------------------------------------------------------------- IVF, --help


def test_ivf_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "x.ivf"
    writer = record.IvfWriter(path.open("wb"), 320, 240)
    writer.write_frame(b"\x10abc", 0, True)
    writer.write_frame(b"\x11de", 3000, False)
    writer.close()
    header, frames = record.read_ivf(path)
    assert header == record.IvfHeader(b"VP80", 320, 240, Fraction(1, 90000), 2)
    assert [(f.data, f.pts) for f in frames] == [(b"\x10abc", 0), (b"\x11de", 3000)]
    with pytest.raises(ValueError, match="not an IVF file"):
        record.read_ivf(Path(__file__))


def test_vp8_keyframe_size() -> None:
    key = bytes([0x10, 0, 0, 0x9D, 0x01, 0x2A]) + (640).to_bytes(2, "little")
    key += (480 | 0x4000).to_bytes(2, "little")  # the top two bits are the scale
    assert record.vp8_keyframe_size(key) == (640, 480)
    assert record.vp8_keyframe_size(bytes([0x11]) + key[1:]) is None  # inter frame
    assert record.vp8_keyframe_size(key[:8]) is None


@pytest.mark.parametrize(
    ("name", "needle"), [("media_record.py", "--frames"), ("media_send_file.py", "--loops")]
)
def test_help(name: str, needle: str) -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name), "--help"],
        capture_output=True,
        check=False,
        text=True,
        timeout=60,
        env=ENV,
    )
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout and needle in done.stdout and "127.0.0.1" in done.stdout


# ------------------------------------------------------------------ media_record.py


async def _record(browser_url: str, output: Path) -> list[str]:
    """Run media_record.py until it wrote FRAMES frames of Chromium's fake camera; the
    page's status messages."""
    with trio.fail_after(120):
        async with example(
            str(EXAMPLES / "media_record.py"),
            *("--port", "0", "--output", str(output), "--frames", str(FRAMES)),
        ) as run:
            url = (await run.line()).removeprefix("open ")
            assert url.startswith("http://127.0.0.1:") and url.endswith("?mode=record")
            async with (
                cdp.attach_browser(browser_url) as browser,
                browser.new_page(grant_media=True) as page,
            ):
                await page.navigate(url)
                await run.process.wait()
                assert run.process.returncode == 0, await run.stderr()
                error = await page.evaluate("mediaPage.error")
                assert error is None, error
                messages: list[str] = await page.evaluate("mediaPage.messages")
                while not any(m.startswith("done:") for m in messages):
                    await trio.sleep(0.1)
                    messages = await page.evaluate("mediaPage.messages")
                await page.evaluate("mediaPage.pc.close()")
            while True:  # the rest of stdout: "recording ...", "wrote N frames to ..."
                try:
                    await run.line()
                except EOFError:
                    break
    assert any(line.startswith("recording ") for line in run.lines), run.lines
    assert f"wrote {FRAMES} frames to {output}" in run.lines, run.lines
    return messages


@pytest.mark.parametrize("suffix", [".ivf", ".webm"])
async def test_media_record_writes_the_camera(
    browser_url: str, tmp_path: Path, suffix: str
) -> None:
    if suffix == ".webm" and not HAVE_AV:
        pytest.skip("PyAV is not installed")
    output = tmp_path / f"camera{suffix}"
    messages = await _record(browser_url, output)
    assert messages[0].startswith("recording ") and f"to camera{suffix}" in messages[0]
    assert messages[-1] == f"done: {FRAMES} frames written", messages
    if suffix == ".ivf":
        header, frames = record.read_ivf(output)
        assert header.fourcc == b"VP80" and header.timebase == Fraction(1, 90000)
        assert len(frames) == header.frame_count == FRAMES
        assert record.vp8_keyframe_size(frames[0].data) == (header.width, header.height)
        assert header.width > 0 and header.height > 0
        pts = [frame.pts for frame in frames]
        assert pts[0] == 0 and all(b > a for a, b in itertools.pairwise(pts)), pts
    if HAVE_AV:
        sizes = decode_all(output)
        assert len(sizes) == FRAMES  # every frame decodes: none lost, first a keyframe
        assert sizes[0][0] > 0 and sizes[0][1] > 0


# --------------------------------------------------------------- media_send_file.py

FILE_FRAMES = 45  # shorter than FRAMES: the page decodes more only if the file loops


def make_video(
    path: Path, container_format: str, codec: str, frames: int, *, gop: int = 15
) -> None:
    """A 320x240 moving pattern at 30 fps, a keyframe every ``gop`` frames (PyAV)."""
    import av

    with av.open(str(path), "w", format=container_format) as container:
        stream = container.add_stream(codec, rate=30)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        stream.codec_context.gop_size = gop
        if codec == "libvpx":
            stream.codec_context.options = {"deadline": "realtime", "lag-in-frames": "0"}
        for index in range(frames):
            frame = av.VideoFrame(320, 240, "yuv420p")
            luma = frame.planes[0]
            row = bytes(((x + 8 * index) // 8 * 16) % 256 for x in range(luma.line_size))
            luma.update(row * 240)
            for chroma in frame.planes[1:]:
                chroma.update(bytes([128]) * chroma.buffer_size)
            frame.pts = index
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


async def _play(browser_url: str, path: Path) -> tuple[str, dict[str, Any], list[str]]:
    """Run media_send_file.py on ``path`` until the page decoded more than FRAMES frames:
    (the example's description of the file, the page's last stats, its status lines)."""
    with trio.fail_after(120):
        async with example(str(EXAMPLES / "media_send_file.py"), str(path), "--port", "0") as run:
            description = await run.line()
            url = (await run.line()).removeprefix("open ")
            assert url.startswith("http://127.0.0.1:") and url.endswith("?mode=play")
            async with (
                cdp.attach_browser(browser_url) as browser,
                browser.new_page(grant_media=True) as page,
            ):
                await page.navigate(url)
                while True:
                    error = await page.evaluate("mediaPage.error")
                    assert error is None, error
                    stats: dict[str, Any] = await page.evaluate("mediaPage.stats()")
                    if (stats.get("framesDecoded") or 0) > FRAMES:
                        break
                    await trio.sleep(0.5)
                messages: list[str] = await page.evaluate("mediaPage.messages")
                await page.evaluate("mediaPage.pc.close()")
    return description, stats, messages


@needs_av
async def test_media_send_file_plays_an_ivf_file(browser_url: str, tmp_path: Path) -> None:
    path = tmp_path / "pattern.ivf"
    make_video(path, "ivf", "libvpx", FILE_FRAMES)
    description, stats, messages = await _play(browser_url, path)
    assert description.startswith(f"pattern.ivf: 320x240 VP8, {FILE_FRAMES} frames")
    assert stats["framesDecoded"] > FRAMES > FILE_FRAMES, stats  # it looped
    assert (stats["frameWidth"], stats["frameHeight"]) == (320, 240), stats
    assert stats["keyFramesDecoded"] >= 1, stats
    assert messages[0] == f"sending {description}", messages
    assert f"loop 1 done: {FILE_FRAMES} frames sent" in messages, messages


@needs_av
async def test_media_send_file_transcodes_with_pyav(browser_url: str, tmp_path: Path) -> None:
    path = tmp_path / "pattern.mp4"
    make_video(path, "mp4", "mpeg4", 30)
    description, stats, messages = await _play(browser_url, path)
    assert description == "pattern.mp4: 320x240, re-encoded to VP8 at 1000 kbit/s"
    assert stats["framesDecoded"] > FRAMES, stats
    assert (stats["frameWidth"], stats["frameHeight"]) == (320, 240), stats
    assert stats["keyFramesDecoded"] >= 1, stats
    assert messages[0] == f"sending {description}", messages
    assert "loop 1 done: 30 frames sent" in messages, messages


@needs_av
def test_transcoded_source_answers_a_keyframe_request(tmp_path: Path) -> None:
    """Re-encoding: a keyframe request makes the next frame a keyframe (the file's own
    keyframe interval is longer than it has frames)."""
    path = tmp_path / "long-gop.mp4"
    make_video(path, "mp4", "mpeg4", 20, gop=1000)
    source = send_file.TranscodedSource(path, 500_000)
    assert (source.width, source.height) == (320, 240)
    keyframes = []
    for index, frame in enumerate(source.frames()):
        if record.vp8_keyframe_size(frame.data) is not None:
            keyframes.append(index)
        if index == 9:
            source.keyframe_requested()
    assert keyframes == [0, 10], keyframes


@needs_av
def test_ivf_source_paces_frames_and_refuses_other_codecs(tmp_path: Path) -> None:
    path = tmp_path / "pattern.ivf"
    make_video(path, "ivf", "libvpx", 10)
    source = send_file.IvfSource(path)
    seconds = [frame.seconds for frame in source.frames()]
    assert seconds == pytest.approx([i / 30 for i in range(10)])
    assert source.duration == pytest.approx(10 / 30)
    other = tmp_path / "other.ivf"
    data = bytearray(path.read_bytes())
    data[8:12] = b"VP90"
    other.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="not VP8"):
        send_file.IvfSource(other)


@needs_av
async def test_play_sends_rtp_timestamps_at_the_files_pace(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    """The send example's loop, between two trio_webrtc peers in memory (virtual time):
    every frame arrives with its IVF time in the 90 kHz clock, rising across loops, and
    is sent no earlier than that time."""
    from trio_webrtc import PeerConnection, connect_pair
    from trio_webrtc.testing import MemoryNetwork

    path = tmp_path / "pattern.ivf"
    make_video(path, "ivf", "libvpx", 10)
    source = send_file.IvfSource(path)
    net = MemoryNetwork(seed=3)
    async with PeerConnection(network=net) as a, PeerConnection(network=net) as b:
        sender = a.add_track("video", codecs=[record.vp8_codec()], direction="sendonly")
        b.add_track("video", direction="recvonly")
        await connect_pair(a, b)
        receiver = await b.accept_track()
        received: list[tuple[int, bool, float]] = []
        async with trio.open_nursery() as nursery:
            start = trio.current_time()
            nursery.start_soon(send_file.play, sender, source, 2, record.StatusChannel())
            async for frame in receiver:
                received.append((frame.timestamp, frame.keyframe, trio.current_time() - start))
                if len(received) == 20:
                    break
    assert [timestamp for timestamp, _, _ in received] == [i * 3000 for i in range(20)]
    assert received[0][1] and received[10][1]  # each loop starts on the file's keyframe
    assert all(arrival >= i / 30 for i, (_, _, arrival) in enumerate(received))
