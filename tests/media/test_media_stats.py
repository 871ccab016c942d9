"""get_stats() lists every RTP stream of the media engine (inbound-rtp/outbound-rtp)."""

from __future__ import annotations

import json

import trio
import trio.testing

from trio_webrtc import PeerConnection, connect_pair
from trio_webrtc.testing import MemoryNetwork

from .helpers import media_pair, opus_frame, vp8_frame


async def test_every_rtp_stream_is_in_get_stats(autojump_clock: trio.testing.MockClock) -> None:
    net = MemoryNetwork(seed=11)
    async with PeerConnection(network=net) as a, PeerConnection(network=net) as b:
        senders, receivers = await media_pair(a, b)
        video_got = audio_got = 0

        async def read(kind: str, count: int) -> None:
            nonlocal video_got, audio_got
            async for _ in receivers[kind]:
                if kind == "video":
                    video_got += 1
                else:
                    audio_got += 1
                if (video_got if kind == "video" else audio_got) == count:
                    return

        with trio.fail_after(60):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(read, "video", 90)
                nursery.start_soon(read, "audio", 150)
                for i in range(150):  # 3 s: several SR/RR rounds (RTT measured)
                    await senders["audio"].send_frame(opus_frame(i), i * 960)
                    if i < 90:
                        await senders["video"].send_frame(vp8_frame(i, key=i == 0), i * 3000)
                    await trio.sleep(0.02)
        await trio.sleep(2)  # the last reports
        sent = {s.kind: s for s in a.get_stats().rtp_streams}
        received = {s.kind: s for s in b.get_stats().rtp_streams}
        assert {s.type for s in sent.values()} == {"outbound-rtp"}
        assert {s.type for s in received.values()} == {"inbound-rtp"}
        assert len(a.get_stats().rtp_streams) == len(b.get_stats().rtp_streams) == 2
        for kind, codec, frames in (("video", "VP8", 90), ("audio", "opus", 150)):
            out, inb = sent[kind], received[kind]
            assert out.mid == inb.mid == senders[kind].mid
            assert out.ssrc == inb.ssrc
            assert out.codec == inb.codec == codec
            assert out.frames == inb.frames == frames
            assert out.packets_sent == inb.packets_received > frames - 1
            assert out.bytes_sent == inb.bytes_received > 0
            assert inb.packets_lost == out.packets_lost == 0
            assert out.nack_count == inb.nack_count == 0
            assert out.pli_count == inb.pli_count == 0
            assert out.packets_retransmitted == 0
            assert out.round_trip_time is not None
            assert 0 < out.round_trip_time < 0.1  # 1 ms each way in memory
            assert inb.jitter >= 0
        assert received["video"].keyframes == 1
        assert received["video"].packets_sent == 0
        # The Godot face's dictionary form carries them too (JSON-serialisable).
        as_dict = b.get_stats().to_dict()
        json.dumps(as_dict)
        assert sorted(s["kind"] for s in as_dict["rtp_streams"]) == ["audio", "video"]
        assert all(s["type"] == "inbound-rtp" for s in as_dict["rtp_streams"])


async def test_no_media_no_rtp_streams(autojump_clock: trio.testing.MockClock) -> None:
    net = MemoryNetwork(seed=12)
    async with PeerConnection(network=net) as a, PeerConnection(network=net) as b:
        a.create_data_channel("chat")
        await connect_pair(a, b)
        assert a.get_stats().rtp_streams == ()
        assert a.get_stats().to_dict()["rtp_streams"] == []
