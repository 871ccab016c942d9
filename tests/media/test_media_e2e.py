"""trio_webrtc to trio_webrtc media over the in-memory network, in virtual time."""

from __future__ import annotations

import trio
import trio.testing

from trio_webrtc import PeerConnection
from trio_webrtc.testing import MemoryNetwork

from .helpers import media_pair, opus_frame, vp8_frame


async def test_audio_and_video_frames_arrive_exactly(
    autojump_clock: trio.testing.MockClock,
) -> None:
    net = MemoryNetwork(seed=1)
    async with PeerConnection(network=net) as a, PeerConnection(network=net) as b:
        senders, receivers = await media_pair(a, b)
        assert receivers["video"].codec is not None
        assert receivers["video"].codec.name == "VP8"
        assert receivers["audio"].codec is not None
        assert receivers["audio"].codec.name == "opus"
        video = [vp8_frame(i, key=i % 30 == 0) for i in range(60)]
        audio = [opus_frame(i) for i in range(100)]
        got_video: list[bytes] = []
        got_audio: list[bytes] = []

        async def read_video() -> None:
            async for frame in receivers["video"]:
                got_video.append(frame.data)
                assert frame.timestamp == len(got_video) * 3000 - 3000
                assert frame.keyframe == (len(got_video) % 30 == 1)
                if len(got_video) == len(video):
                    return

        async def read_audio() -> None:
            async for frame in receivers["audio"]:
                got_audio.append(frame.data)
                if len(got_audio) == len(audio):
                    return

        async with trio.open_nursery() as nursery:
            nursery.start_soon(read_video)
            nursery.start_soon(read_audio)
            for i in range(100):
                await senders["audio"].send_frame(audio[i], i * 960)
                if i < 60:
                    await senders["video"].send_frame(video[i], i * 3000)
                await trio.sleep(0.02)
        assert got_video == video
        assert got_audio == audio


async def test_a_data_only_connection_builds_no_media_engine(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # DTLS always negotiates an SRTP profile; the engine (and its two libsrtp sessions)
    # is made only once audio/video is negotiated.
    from trio_webrtc import connect_pair

    net = MemoryNetwork(seed=2)
    async with PeerConnection(network=net) as a, PeerConnection(network=net) as b:
        await connect_pair(a, b)
        assert a._core.dtls is not None and a._core.dtls.selected_srtp_profile is not None
        assert a._core.media is None and b._core.media is None
