"""Packetizers and depacketizers (Opus RFC 7587, VP8 RFC 7741, H.264 RFC 6184 mode 1):
known vectors, aiortc's encoders and depayloaders as an independent witness both ways,
frame boundaries, keyframe detection, MTU limits, and fuzzing (only RtpParseError)."""

from __future__ import annotations

import contextlib
import fractions
import random

import av
import pytest
from aiortc.codecs import h264 as aiortc_h264
from aiortc.codecs import opus as aiortc_opus
from aiortc.codecs import vpx as aiortc_vpx
from hypothesis import given, settings
from hypothesis import strategies as st

from trio_webrtc.errors import LocalProtocolError, RtpParseError
from trio_webrtc.rtp.codecs import OpusPayloadFormat
from trio_webrtc.rtp.h264 import H264PayloadFormat, nal_units, payload_nal_types
from trio_webrtc.rtp.vp8 import Vp8PayloadDescriptor, Vp8PayloadFormat, vp8_is_keyframe

_TIME_BASE = fractions.Fraction(1, 90000)


def _video_frame(seed: int, pts: int, size: tuple[int, int] = (320, 240)) -> av.VideoFrame:
    frame = av.VideoFrame(size[0], size[1], "yuv420p")
    rng = random.Random(seed)
    for plane in frame.planes:
        plane.update(rng.randbytes(plane.buffer_size))
    frame.pts = pts
    frame.time_base = _TIME_BASE
    return frame


# -- Opus ------------------------------------------------------------------------------


def test_opus_one_frame_per_packet_with_aiortc_encoder() -> None:
    audio = av.AudioFrame(format="s16", layout="stereo", samples=960)
    for plane in audio.planes:
        plane.update(bytes(plane.buffer_size))
    audio.sample_rate = 48000
    audio.pts = 0
    audio.time_base = fractions.Fraction(1, 48000)
    (encoded,), _ = aiortc_opus.OpusEncoder().encode(audio)
    fmt = OpusPayloadFormat()
    payloads = fmt.packetize(encoded, 1100)
    assert payloads == [encoded]
    frame = fmt.depacketize(payloads)
    assert frame.data == encoded and frame.keyframe
    assert fmt.is_frame_start(encoded) and fmt.ends_frame(False) and fmt.clock_rate == 48000
    with pytest.raises(LocalProtocolError):
        fmt.packetize(b"x" * 200, 100)
    with pytest.raises(RtpParseError):
        fmt.depacketize([b"a", b"b"])


# -- VP8 -------------------------------------------------------------------------------


def test_vp8_descriptor_vectors() -> None:
    # X=1 S=1 PID=0; I=1; M=1 PictureID 0x1234 (RFC 7741 §4.2 layout).
    desc, offset = Vp8PayloadDescriptor.parse(bytes.fromhex("90809234"))
    assert offset == 4 and desc.start and desc.partition_index == 0
    assert desc.picture_id == 0x1234 and desc.long_picture_id
    # Every optional field: I (7-bit id 0x11), L (TL0PICIDX 7), T and K (TID 2, Y, KEYIDX 5).
    wire = bytes([0xA3, 0xF0, 0x11, 0x07, 0b10_1_00101]) + b"vp8"
    desc, offset = Vp8PayloadDescriptor.parse(wire)
    assert desc == Vp8PayloadDescriptor(
        start=False,
        partition_index=3,
        non_reference=True,
        picture_id=0x11,
        long_picture_id=False,
        tl0_pic_idx=7,
        tid=2,
        layer_sync=True,
        key_idx=5,
    )
    assert offset == 5 and desc.serialize() == wire[:5]
    assert Vp8PayloadDescriptor(start=True).serialize() == b"\x10"


def test_vp8_descriptor_against_aiortc() -> None:
    theirs = aiortc_vpx.VpxPayloadDescriptor(
        partition_start=1, partition_id=2, picture_id=300, tl0picidx=9, tid=(1, 1), keyidx=4
    )
    ours, offset = Vp8PayloadDescriptor.parse(bytes(theirs) + b"x")
    assert (ours.start, ours.partition_index, ours.picture_id) == (True, 2, 300)
    assert (ours.tl0_pic_idx, ours.tid, ours.layer_sync, ours.key_idx) == (9, 1, True, 4)
    assert offset == len(bytes(theirs))
    back, rest = aiortc_vpx.VpxPayloadDescriptor.parse(ours.serialize() + b"payload")
    assert rest == b"payload" and back.picture_id == 300 and back.keyidx == 4


def test_vp8_real_frames_from_aiortc_encoder() -> None:
    encoder = aiortc_vpx.Vp8Encoder()
    key_payloads, _ = encoder.encode(_video_frame(1, 0), force_keyframe=True)
    delta_payloads, _ = encoder.encode(_video_frame(2, 3000))
    assert len(key_payloads) > 1  # noise does not compress: several packets
    fmt = Vp8PayloadFormat()
    key = fmt.depacketize(key_payloads)
    delta = fmt.depacketize(delta_payloads)
    assert key.keyframe and key.data[3:6] == b"\x9d\x01\x2a"  # RFC 6386 §9.1 start code
    assert not delta.keyframe
    assert key.data == b"".join(aiortc_vpx.vp8_depayload(p) for p in key_payloads)
    assert fmt.is_frame_start(key_payloads[0]) and not fmt.is_frame_start(key_payloads[1])


def test_vp8_packetize_witnessed_by_aiortc() -> None:
    data = bytes([0x10]) + random.Random(3).randbytes(5000)  # P bit 0: a keyframe
    fmt = Vp8PayloadFormat(picture_id=0x7FFF)
    payloads = fmt.packetize(data, 1000)
    assert len(payloads) == 6 and all(len(p) <= 1000 for p in payloads)
    assert max(map(len, payloads)) - min(map(len, payloads)) <= 1  # equal pieces
    assert fmt.picture_id == 0  # wrapped after 0x7FFF
    assert b"".join(aiortc_vpx.vp8_depayload(p) for p in payloads) == data
    first, _ = aiortc_vpx.VpxPayloadDescriptor.parse(payloads[0])
    second, _ = aiortc_vpx.VpxPayloadDescriptor.parse(payloads[1])
    assert first.partition_start == 1 and second.partition_start == 0
    assert first.picture_id == second.picture_id == 0x7FFF
    frame = fmt.depacketize(payloads)
    assert frame.data == data and frame.keyframe
    # And aiortc's own packetizer output, read by us.
    theirs = aiortc_vpx.Vp8Encoder._packetize(data, 77)
    assert fmt.depacketize(theirs).data == data


def test_vp8_errors_and_limits() -> None:
    fmt = Vp8PayloadFormat()
    with pytest.raises(RtpParseError):
        fmt.depacketize([Vp8PayloadDescriptor(start=False).serialize() + b"x"])
    with pytest.raises(RtpParseError):
        fmt.depacketize([])
    with pytest.raises(RtpParseError):
        fmt.depacketize([Vp8PayloadDescriptor(start=True).serialize()])
    with pytest.raises(LocalProtocolError):
        fmt.packetize(b"abc", 4)
    with pytest.raises(LocalProtocolError):
        fmt.packetize(b"", 1000)
    assert vp8_is_keyframe(b"\x10") and not vp8_is_keyframe(b"\x11") and not vp8_is_keyframe(b"")
    assert not fmt.is_frame_start(b"") and fmt.ends_frame(True) and not fmt.ends_frame(False)


# -- H.264 -----------------------------------------------------------------------------

SPS = bytes.fromhex("6742c01fda0140")
PPS = bytes.fromhex("68ce3c80")
IDR = bytes([0x65]) + bytes(range(256)) * 12  # ~3 KB: needs FU-A
SLICE = bytes([0x41, 0x9A]) + b"\x01" * 50


def _annex_b(*units: bytes) -> bytes:
    return b"".join(b"\x00\x00\x00\x01" + u for u in units)


def test_h264_stap_a_and_fu_a_layout() -> None:
    fmt = H264PayloadFormat()
    payloads = fmt.packetize(_annex_b(SPS, PPS, IDR), 1200)
    # STAP-A (RFC 6184 §5.7.1): NRI is the highest of the aggregated units (3 from SPS).
    assert payloads[0] == bytes([0x78]) + b"\x00\x07" + SPS + b"\x00\x04" + PPS
    fu = payloads[1:]
    assert len(fu) == 3 and all(len(p) <= 1200 for p in fu)
    assert fu[0][:2] == bytes([0x7C, 0x85])  # FU indicator NRI 3 type 28; S + type 5
    assert fu[1][1] == 0x05 and fu[2][1] == 0x45  # middle; E + type 5
    frame = fmt.depacketize(payloads)
    assert frame.keyframe and frame.data == _annex_b(SPS, PPS, IDR)
    assert fmt.is_frame_start(payloads[0]) and not fmt.is_frame_start(fu[0])
    assert payload_nal_types(payloads[0]) == [7, 8] and payload_nal_types(fu[1]) == [5]


def test_h264_single_nal_and_three_byte_start_codes() -> None:
    fmt = H264PayloadFormat()
    stream = b"\x00\x00\x01" + SLICE + b"\x00\x00\x00\x01" + SLICE
    assert nal_units(stream) == [SLICE, SLICE]
    payloads = fmt.packetize(stream, 60)  # two units do not fit one STAP-A
    assert payloads == [SLICE, SLICE]
    frame = fmt.depacketize(payloads)
    assert not frame.keyframe and frame.data == _annex_b(SLICE, SLICE)
    with pytest.raises(LocalProtocolError):
        fmt.packetize(b"no start code", 1200)
    with pytest.raises(LocalProtocolError):
        fmt.packetize(SLICE, 2)
    assert fmt.depacketize([SPS, PPS]).keyframe  # SPS + PPS counts as a keyframe


def test_h264_witnessed_by_aiortc_both_ways() -> None:
    fmt = H264PayloadFormat()
    units = [SPS, PPS, IDR, SLICE, SLICE]
    ours = fmt.packetize_nal_units(units, 1300)
    annex_b = b"".join(aiortc_h264.h264_depayload(p) for p in ours)
    assert annex_b == _annex_b(*units)
    theirs = aiortc_h264.H264Encoder._packetize(units)
    assert fmt.depacketize(theirs).data == _annex_b(*units)


def test_h264_real_frames_from_aiortc_encoder() -> None:
    encoder = aiortc_h264.H264Encoder()
    key_payloads, _ = encoder.encode(_video_frame(4, 0), force_keyframe=True)
    delta_payloads, _ = encoder.encode(_video_frame(4, 3000))
    fmt = H264PayloadFormat()
    key = fmt.depacketize(key_payloads)
    delta = fmt.depacketize(delta_payloads)
    assert key.keyframe and not delta.keyframe
    assert fmt.is_frame_start(key_payloads[0])
    # Repacketizing the rebuilt frame with our packetizer gives the same NAL units back.
    assert fmt.depacketize(fmt.packetize(key.data, 1000)).data == key.data


@pytest.mark.parametrize(
    "payloads",
    [
        [b""],
        [bytes([0x19, 0x00])],  # STAP-B: not in mode 1
        [bytes([0x1D, 0x80, 1])],  # FU-B
        [bytes([0x7C, 0x05, 1])],  # FU-A continuation without start
        [bytes([0x7C, 0x85, 1])],  # FU-A without end
        [bytes([0x7C, 0x85, 1]), SLICE],  # interrupted
        [bytes([0x7C, 0x85, 1]), bytes([0x78, 0, 1, 0x41])],  # interrupted by STAP-A
        [bytes([0x7C, 0x85, 1]), bytes([0x7C, 0x85, 1])],  # second start
        [bytes([0x7C, 0x85])],  # FU-A without data
        [bytes([0x78, 0x00, 0x09, 0x41])],  # STAP-A unit overruns
        [bytes([0x78, 0x00])],  # STAP-A size cut
        [bytes([0x78])],  # empty STAP-A
        [],
    ],
)
def test_h264_malformed(payloads: list[bytes]) -> None:
    with pytest.raises(RtpParseError):
        H264PayloadFormat().depacketize(payloads)


# -- fuzz ------------------------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(st.lists(st.binary(max_size=40), max_size=5))
def test_fuzz_depacketizers_raise_only_rtp_parse_error(payloads: list[bytes]) -> None:
    for fmt in (H264PayloadFormat(), Vp8PayloadFormat(), OpusPayloadFormat()):
        with contextlib.suppress(RtpParseError):
            fmt.depacketize(payloads)
        for payload in payloads:
            fmt.is_frame_start(payload)
    for payload in payloads:
        with contextlib.suppress(RtpParseError):
            Vp8PayloadDescriptor.parse(payload)
        with contextlib.suppress(RtpParseError):
            payload_nal_types(payload)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.binary(min_size=1, max_size=3000), min_size=1, max_size=6),
    st.integers(20, 1400),
)
def test_h264_round_trip_property(bodies: list[bytes], mtu: int) -> None:
    # NAL units without emulated start codes (as an encoder's emulation prevention ensures).
    units = [bytes([0x41]) + b.replace(b"\x00", b"\x01") for b in bodies]
    fmt = H264PayloadFormat()
    payloads = fmt.packetize(_annex_b(*units), mtu)
    assert all(len(p) <= mtu for p in payloads)
    assert fmt.depacketize(payloads).data == _annex_b(*units)


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=5000), st.integers(5, 1400), st.integers(0, 0x7FFF))
def test_vp8_round_trip_property(data: bytes, mtu: int, picture_id: int) -> None:
    fmt = Vp8PayloadFormat(picture_id)
    payloads = fmt.packetize(data, mtu)
    assert all(len(p) <= mtu for p in payloads)
    frame = fmt.depacketize(payloads)
    assert frame.data == data and frame.keyframe == (not data[0] & 1)
