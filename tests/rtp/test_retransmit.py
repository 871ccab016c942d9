"""Retransmission buffer and RTX (RFC 4588 §4): bounds, NACK answers, aiortc as witness of
the RTX format, and a lossy send -> NACK -> RTX -> jitter-buffer loop in virtual time."""

from __future__ import annotations

import random

import pytest
from aiortc import rtp as artp
from hypothesis import given, settings
from hypothesis import strategies as st

from trio_webrtc.errors import RtpParseError
from trio_webrtc.rtp.events import FrameReceived, KeyframeRequest, NackRequest
from trio_webrtc.rtp.jitter import JitterBuffer
from trio_webrtc.rtp.packet import RtpPacket, parse_rtp
from trio_webrtc.rtp.retransmit import RetransmissionBuffer, RtxConfig, unwrap_rtx, wrap_rtx
from trio_webrtc.rtp.rtcp import GenericNack, parse_rtcp
from trio_webrtc.rtp.stream import SendStream
from trio_webrtc.rtp.vp8 import Vp8PayloadFormat


def _packet(seq: int, payload: bytes = b"data") -> RtpPacket:
    return RtpPacket(96, seq & 0xFFFF, 1000, 0x1111, payload, marker=True)


def test_capacity_bound_keeps_the_newest() -> None:
    buf = RetransmissionBuffer(capacity=4)
    for seq in range(65533, 65533 + 10):
        buf.store(_packet(seq), 0.0)
    assert len(buf) == 4
    assert buf.get(65533) is None
    assert [p.sequence_number for p in buf.resend([3, 4, 5, 6, 65535], 0.0)] == [3, 4, 5, 6]


def test_age_and_resend_interval() -> None:
    buf = RetransmissionBuffer(max_age=1.0, min_resend_interval=0.05)
    buf.store(_packet(1), 0.0)
    buf.store(_packet(2), 0.5)
    assert [p.sequence_number for p in buf.resend([1, 2], 1.2)] == [2]  # 1 is too old
    assert buf.resend([2], 1.22) == []  # just resent
    assert len(buf.resend([2], 1.3)) == 1
    assert buf.retransmitted_packets == 2 and buf.retransmitted_bytes == 8
    with pytest.raises(ValueError):
        RetransmissionBuffer(capacity=0)


def test_rtx_wrapping_matches_aiortc() -> None:
    original = RtpPacket(
        96, 4242, 777, 0x1111, b"payload", True, extensions=((1, b"x"),), extension_profile=0xBEDE
    )
    rtx = wrap_rtx(original, RtxConfig(ssrc=0x2222, payload_type=97), 9)
    assert rtx.payload == b"\x10\x92payload" and rtx.sequence_number == 9
    assert (rtx.ssrc, rtx.payload_type, rtx.timestamp, rtx.marker) == (0x2222, 97, 777, True)
    theirs = artp.unwrap_rtx(artp.RtpPacket.parse(rtx.serialize()), payload_type=96, ssrc=0x1111)
    assert theirs.sequence_number == 4242 and theirs.payload == b"payload"
    assert unwrap_rtx(parse_rtp(rtx.serialize()), 96, 0x1111) == original

    base = artp.RtpPacket(payload_type=96, sequence_number=5, timestamp=6, payload=b"abc")
    base.ssrc = 0x1111
    their_rtx = artp.wrap_rtx(base, payload_type=97, sequence_number=70, ssrc=0x2222)
    ours = unwrap_rtx(parse_rtp(their_rtx.serialize()), 96, 0x1111)
    assert (ours.sequence_number, ours.payload, ours.timestamp) == (5, b"abc", 6)
    with pytest.raises(RtpParseError):
        unwrap_rtx(RtpPacket(97, 1, 1, 1, b"x"), 96, 5)


def test_rtx_sequence_numbers_are_their_own() -> None:
    buf = RetransmissionBuffer(rtx=RtxConfig(0x2222, 97), rtx_sequence_number=65535)
    for seq in (10, 11, 12):
        buf.store(_packet(seq), 0.0)
    out = buf.resend([12, 10], 0.1)
    assert [p.sequence_number for p in out] == [65535, 0]
    assert [int.from_bytes(p.payload[:2], "big") for p in out] == [12, 10]


def test_lossy_link_recovered_through_nack_and_rtx() -> None:
    """Send 30 VP8 frames over a link losing 10 % (retransmissions included), in order."""
    rng = random.Random(7)
    rtx = RtxConfig(ssrc=0x2222, payload_type=97)
    sender = SendStream(
        0x1111,
        96,
        Vp8PayloadFormat(),
        sequence_number=65500,
        mtu=300,
        retransmissions=RetransmissionBuffer(rtx=rtx),
    )
    receiver = JitterBuffer(Vp8PayloadFormat(), rtt=0.04, max_delay=0.5)
    in_flight: list[tuple[float, bytes]] = []  # (arrival time, datagram)
    sent_frames: list[bytes] = []
    delivered: list[FrameReceived] = []
    keyframe_requests = 0

    def send(packet: RtpPacket, now: float) -> None:
        if rng.random() >= 0.10:
            in_flight.append((now + 0.02, packet.serialize()))

    now = 0.0
    for i in range(30):
        frame = bytes([0x10 if i == 0 else 0x11]) + rng.randbytes(1500)
        sent_frames.append(frame)
        for packet in sender.packetize(frame, i * 3000):
            sender.sent(packet, now)
            send(packet, now)
        end = now + 1 / 30
        while now < end:
            now = round(now + 0.005, 6)
            arrived = [d for t, d in in_flight if t <= now]
            in_flight[:] = [(t, d) for t, d in in_flight if t > now]
            for datagram in arrived:
                packet = parse_rtp(datagram)
                if packet.ssrc == rtx.ssrc:
                    packet = unwrap_rtx(packet, 96, 0x1111)
                receiver.receive(packet, now)
            timer = receiver.get_timer()
            if timer is not None and timer <= now:
                receiver.handle_timer(now)
            while (event := receiver.next_event()) is not None:
                if isinstance(event, FrameReceived):
                    delivered.append(event)
                elif isinstance(event, KeyframeRequest):
                    keyframe_requests += 1
                elif isinstance(event, NackRequest):
                    # The NACK crosses the link as RTCP (and may be lost itself).
                    nack = GenericNack(0x3333, 0x1111, event.sequence_numbers)
                    (back,) = parse_rtcp(nack.encode())
                    if rng.random() >= 0.10:
                        assert isinstance(back, GenericNack)
                        for resend in sender.handle_nack(back, now + 0.02):
                            send(resend, now + 0.02)
    # Every frame arrives whole and in order (the seeded link loses 10 %: 25 resends).
    assert [e.data for e in delivered] == sent_frames
    assert keyframe_requests == 0
    stats = sender.stats()
    assert stats.packets_retransmitted > 0 and stats.packets_sent == 30 * 6


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=40))
def test_fuzz_unwrap_rtx_raises_only_rtp_parse_error(data: bytes) -> None:
    try:
        packet = parse_rtp(data)
        original = unwrap_rtx(packet, 96, 1)
    except RtpParseError:
        return
    assert original.payload == packet.payload[2:] and original.ssrc == 1


@settings(max_examples=100, deadline=None)
@given(
    st.integers(1, 64),
    st.lists(st.integers(0, 65535), max_size=300),
    st.lists(st.integers(0, 65535), max_size=50),
)
def test_buffer_bound_property(capacity: int, sent: list[int], nacked: list[int]) -> None:
    buf = RetransmissionBuffer(capacity=capacity)
    for i, seq in enumerate(sent):
        buf.store(_packet(seq), i * 0.001)
        assert len(buf) <= capacity
    retained: dict[int, None] = {}
    for seq in sent:  # the newest `capacity` distinct sequence numbers stay
        retained.pop(seq, None)
        retained[seq] = None
    kept = set(list(retained)[-capacity:])
    resent = buf.resend(nacked, len(sent) * 0.001)
    assert [p.sequence_number for p in resent] == list(
        dict.fromkeys(s for s in nacked if s in kept)
    )
