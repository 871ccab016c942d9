"""End to end in memory: real VP8 and H.264 frames (aiortc's encoders) through our
packetizer, a reordering link, the jitter buffer and our depacketizer, then decoded by
libvpx / FFmpeg through PyAV: every frame decodes, at full size."""

from __future__ import annotations

import fractions
import random

import av
import pytest
from aiortc.codecs import h264 as aiortc_h264
from aiortc.codecs import vpx as aiortc_vpx

from trio_webrtc.rtp.codecs import PayloadFormat
from trio_webrtc.rtp.events import FrameReceived
from trio_webrtc.rtp.h264 import H264PayloadFormat
from trio_webrtc.rtp.jitter import JitterBuffer
from trio_webrtc.rtp.packet import parse_rtp
from trio_webrtc.rtp.stream import SendStream
from trio_webrtc.rtp.vp8 import Vp8PayloadFormat


def _frames(
    encoder: aiortc_vpx.Vp8Encoder | aiortc_h264.H264Encoder, fmt: PayloadFormat
) -> list[bytes]:
    rng = random.Random(5)
    out = []
    for i in range(8):
        picture = av.VideoFrame(160, 120, "yuv420p")
        for plane in picture.planes:
            plane.update(bytes(rng.randrange(256) for _ in range(plane.buffer_size)))
        picture.pts = i * 3000
        picture.time_base = fractions.Fraction(1, 90000)
        payloads, _ = encoder.encode(picture, force_keyframe=i == 0)
        out.append(fmt.depacketize(payloads).data)
    return out


@pytest.mark.parametrize("codec", ["vp8", "h264"])
def test_encoded_frames_survive_packetization_and_reordering(codec: str) -> None:
    fmt: PayloadFormat
    if codec == "vp8":
        fmt, encoder = Vp8PayloadFormat(), aiortc_vpx.Vp8Encoder()
    else:
        fmt, encoder = H264PayloadFormat(), aiortc_h264.H264Encoder()
    frames = _frames(encoder, fmt)
    sender = SendStream(0x51, 96, fmt, sequence_number=65530, mtu=400)
    datagrams = [p.serialize() for i, f in enumerate(frames) for p in sender.packetize(f, i * 3000)]
    # Swap every other adjacent pair: constant reordering, nothing lost.
    for i in range(0, len(datagrams) - 1, 4):
        datagrams[i], datagrams[i + 1] = datagrams[i + 1], datagrams[i]
    receiver = JitterBuffer(fmt, nack_delay=0.01)
    received: list[FrameReceived] = []
    for i, datagram in enumerate(datagrams):
        receiver.receive(parse_rtp(datagram), i * 0.001)
        while (event := receiver.next_event()) is not None:
            assert isinstance(event, FrameReceived)  # no NACK, no PLI
            received.append(event)
    assert [e.data for e in received] == frames
    assert [e.keyframe for e in received] == [True] + [False] * 7
    decoder = av.CodecContext.create(codec, "r")
    decoded = []
    for event in received:
        decoded += decoder.decode(av.Packet(event.data))
    decoded += decoder.decode(None)
    assert len(decoded) == 8
    assert all((d.width, d.height) == (160, 120) for d in decoded)
