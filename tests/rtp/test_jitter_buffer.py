"""Jitter buffer: reordering, loss, NACK retries, skipping, PLI, bounds — with exact
expectations of which events come out when (virtual time, no clock)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trio_webrtc.rtp.codecs import OpusPayloadFormat
from trio_webrtc.rtp.events import FrameReceived, JitterEvent, KeyframeRequest, NackRequest
from trio_webrtc.rtp.h264 import H264PayloadFormat
from trio_webrtc.rtp.jitter import JitterBuffer
from trio_webrtc.rtp.packet import RtpPacket
from trio_webrtc.rtp.vp8 import Vp8PayloadFormat

ROOM = 104  # payload room: 4 descriptor bytes + 100 frame bytes per packet


class Source:
    """Builds VP8 frames of an exact number of packets, numbered from ``seq``."""

    def __init__(self, seq: int = 1000, ts: int = 0) -> None:
        self.seq = seq
        self.ts = ts
        self.fmt = Vp8PayloadFormat()

    def frame(self, key: bool, packets: int = 3) -> list[RtpPacket]:
        data = bytes([0x10 if key else 0x11]) + bytes(100 * packets - 1)
        payloads = self.fmt.packetize(data, ROOM)
        assert len(payloads) == packets
        out = [
            RtpPacket(
                96,
                (self.seq + i) & 0xFFFF,
                self.ts,
                0xABC,
                p,
                marker=i == packets - 1,
            )
            for i, p in enumerate(payloads)
        ]
        self.seq = (self.seq + packets) & 0xFFFF
        self.ts = (self.ts + 3000) & 0xFFFFFFFF
        return out


def drain(jb: JitterBuffer) -> list[JitterEvent]:
    events = []
    while (event := jb.next_event()) is not None:
        events.append(event)
    return events


def frames(events: list[JitterEvent]) -> list[tuple[int, int, bool]]:
    return [
        (e.first_sequence_number, e.last_sequence_number, e.keyframe)
        for e in events
        if isinstance(e, FrameReceived)
    ]


def feed(jb: JitterBuffer, packets: list[RtpPacket], now: float) -> list[JitterEvent]:
    for p in packets:
        jb.receive(p, now)
    return drain(jb)


def test_in_order_frames_delivered_at_once() -> None:
    src = Source()
    jb = JitterBuffer(Vp8PayloadFormat(), log_prefix="[t] ")
    key, d1, d2 = src.frame(True), src.frame(False), src.frame(False)
    events = feed(jb, key + d1 + d2, 0.0)
    assert frames(events) == [(1000, 1002, True), (1003, 1005, False), (1006, 1008, False)]
    first = events[0]
    assert isinstance(first, FrameReceived)
    assert first.timestamp == 0 and first.ssrc == 0xABC and len(first.data) == 300
    assert first.data[0] == 0x10
    assert jb.get_timer() is None
    assert jb.stats().frames_delivered == 3 and jb.stats().buffered_packets == 0


def test_loss_recovered_by_nack() -> None:
    src = Source()
    jb = JitterBuffer(Vp8PayloadFormat(), rtt=0.1)
    key, d1, d2 = src.frame(True), src.frame(False), src.frame(False)
    assert frames(feed(jb, [*key, d1[0]], 0.0)) == [(1000, 1002, True)]
    assert feed(jb, [d1[2]], 0.1) == [NackRequest((1004,))]
    assert jb.missing == [1004]
    assert feed(jb, d2, 0.11) == []
    assert jb.get_timer() == pytest.approx(0.2)  # the NACK retry, before the 0.35 deadline
    jb.handle_timer(0.2)
    assert drain(jb) == [NackRequest((1004,))]
    events = feed(jb, [d1[1]], 0.25)  # the retransmission
    assert frames(events) == [(1003, 1005, False), (1006, 1008, False)]
    stats = jb.stats()
    assert stats.packets_recovered == 1 and stats.nacked_packets == 2
    assert stats.frames_dropped == 0 and stats.keyframe_requests == 0
    assert jb.get_timer() is None


def test_loss_not_recovered_skips_and_requests_keyframe() -> None:
    src = Source()
    jb = JitterBuffer(Vp8PayloadFormat(), rtt=0.1, max_nack_retries=2, keyframe_interval=0.5)
    key, d1, d2, k2 = src.frame(True), src.frame(False), src.frame(False), src.frame(True)
    feed(jb, key, 0.0)
    assert feed(jb, [d1[0], d1[2]], 0.1) == [NackRequest((1004,))]
    assert feed(jb, d2, 0.12) == []
    jb.handle_timer(0.2)
    assert drain(jb) == [NackRequest((1004,))]
    assert jb.get_timer() == pytest.approx(0.35)  # retries spent: only the deadline remains
    jb.handle_timer(0.35)
    # Frame d1 is given up; d2 is complete but a delta frame: dropped too, one PLI.
    assert drain(jb) == [KeyframeRequest("lost packets not recovered in time")]
    assert jb.stats().frames_dropped == 2
    assert jb.get_timer() == pytest.approx(0.85)
    jb.handle_timer(0.85)
    assert drain(jb) == [KeyframeRequest("still waiting for a keyframe")]
    assert frames(feed(jb, k2, 0.9)) == [(1009, 1011, True)]
    assert jb.get_timer() is None
    feed(jb, [d1[1]], 0.95)  # too late now
    stats = jb.stats()
    assert stats.packets_late == 1 and stats.keyframe_requests == 2
    assert stats.keyframes_delivered == 2 and stats.buffered_packets == 0


def test_stream_starting_on_a_delta_frame_asks_for_a_keyframe() -> None:
    src = Source()
    jb = JitterBuffer(Vp8PayloadFormat())
    delta, key = src.frame(False), src.frame(True)
    assert feed(jb, delta, 0.0) == [KeyframeRequest("delta frame while waiting for a keyframe")]
    assert frames(feed(jb, key, 0.05)) == [(1003, 1005, True)]


def test_reordering_within_nack_delay_sends_no_nack() -> None:
    src = Source()
    jb = JitterBuffer(Vp8PayloadFormat(), nack_delay=0.02)
    key = src.frame(True)
    assert feed(jb, [key[0], key[2]], 0.0) == []
    assert jb.get_timer() == pytest.approx(0.02)
    assert frames(feed(jb, [key[1]], 0.005)) == [(1000, 1002, True)]
    assert jb.get_timer() is None and jb.stats().nacked_packets == 0


def test_start_with_reordered_first_packets() -> None:
    src = Source()
    jb = JitterBuffer(Vp8PayloadFormat())
    key = src.frame(True)
    assert feed(jb, [key[1]], 0.0) == []  # not a frame start: wait for one
    assert frames(feed(jb, [key[0], key[2]], 0.01)) == [(1000, 1002, True)]


def test_start_without_the_first_frame_start_gives_up_after_max_delay() -> None:
    src = Source()
    jb = JitterBuffer(Vp8PayloadFormat(), max_delay=0.2)
    key, delta = src.frame(True), src.frame(False)
    assert feed(jb, key[1:] + delta, 0.0) == []  # 1003 is a start, but 1001 came first
    assert jb.get_timer() == pytest.approx(0.2)
    jb.handle_timer(0.2)
    assert drain(jb) == [KeyframeRequest("no frame start in time")]
    assert jb.stats().frames_dropped == 2  # the key tail and the delta frame


def test_sequence_wrap_around() -> None:
    src = Source(seq=65533, ts=0xFFFFFFFF - 3000)
    jb = JitterBuffer(Vp8PayloadFormat())
    key, d1, d2 = src.frame(True), src.frame(False), src.frame(False)
    events = feed(jb, key + d1[:1] + d1[2:], 0.0)
    assert frames(events) == [(65533, 65535, True)]
    assert events[-1] == NackRequest((1,))
    events = feed(jb, [d1[1], *d2], 0.01)
    assert frames(events) == [(0, 2, False), (3, 5, False)]
    assert [e.timestamp for e in events if isinstance(e, FrameReceived)] == [0xFFFFFFFF, 2999]


def test_nack_list_overflow_resynchronises() -> None:
    src = Source()
    jb = JitterBuffer(Vp8PayloadFormat(), max_nack_list=16)
    feed(jb, src.frame(True), 0.0)
    for _ in range(7):
        src.frame(False)  # 21 packets never arrive
    events = feed(jb, src.frame(True), 0.1)
    assert events == [
        KeyframeRequest("too many packets lost"),
        FrameReceived(
            events[1].data,  # type: ignore[attr-defined]
            timestamp=24000,
            keyframe=True,
            ssrc=0xABC,
            first_sequence_number=1024,
            last_sequence_number=1026,
        ),
    ]
    assert jb.missing == [] and jb.stats().nacked_packets == 0


def test_packet_bound_drops_the_oldest_frame() -> None:
    src = Source()
    jb = JitterBuffer(Vp8PayloadFormat(), max_packets=8, max_delay=0.1)
    huge = src.frame(True, packets=12)
    events = feed(jb, huge[:11], 0.0)  # no marker yet: the frame never fits
    assert events == [KeyframeRequest("jitter buffer full")]
    assert jb.stats().buffered_packets <= 8
    jb.handle_timer(0.1)  # the orphaned tail has no frame start: dropped in time
    feed(jb, huge[11:], 0.1)
    assert jb.stats().buffered_packets <= 8
    assert frames(feed(jb, src.frame(True), 0.2)) == [(1012, 1014, True)]


def test_duplicates_and_far_late_packets() -> None:
    src = Source()
    jb = JitterBuffer(Vp8PayloadFormat(), max_packets=16)
    key = src.frame(True)
    feed(jb, [key[0], key[0]], 0.0)
    assert jb.stats().packets_duplicate == 1
    feed(jb, key[1:], 0.0)
    feed(jb, key, 0.0)
    assert jb.stats().packets_late == 3


def test_padding_packets_between_frames() -> None:
    src = Source()
    jb = JitterBuffer(Vp8PayloadFormat())
    key = src.frame(True)
    padding = RtpPacket(96, 1003, 0, 0xABC, b"", padding=200)
    src.seq = 1004
    delta = src.frame(False)
    assert frames(feed(jb, [*key, *delta, padding], 0.0)) == [
        (1000, 1002, True),
        (1004, 1006, False),
    ]


def test_application_keyframe_request_and_rtt() -> None:
    jb = JitterBuffer(Vp8PayloadFormat(), keyframe_interval=1.0)
    jb.request_keyframe(0.0)
    jb.request_keyframe(0.1)  # forced: the application asked again
    assert drain(jb) == [KeyframeRequest("requested by the application")] * 2
    jb.set_rtt(-1)
    assert jb.rtt == 0.0
    audio = JitterBuffer(OpusPayloadFormat())
    audio.request_keyframe(0.0)
    assert drain(audio) == []


def test_opus_loss_skipped_quickly_without_nack_or_pli() -> None:
    jb = JitterBuffer(OpusPayloadFormat())
    assert jb.max_delay == 0.05 and not jb.nack
    packets = [RtpPacket(111, s, s * 960, 7, bytes([0xFC, s])) for s in range(1, 6)]
    events = feed(jb, [packets[0], packets[1], packets[3], packets[4]], 0.0)
    assert frames(events) == [(1, 1, True), (2, 2, True)]
    assert jb.get_timer() == pytest.approx(0.05)
    jb.handle_timer(0.05)
    assert frames(drain(jb)) == [(4, 4, True), (5, 5, True)]
    assert jb.stats().frames_dropped == 1


def test_h264_frames_and_resync_on_predecessor() -> None:
    fmt = H264PayloadFormat()
    sps, pps = bytes.fromhex("6742c01fda0140"), bytes.fromhex("68ce3c80")
    idr = bytes([0x65]) + bytes(range(200)) * 3
    key_payloads = fmt.packetize_nal_units([sps, pps, idr], 300)
    slice_payloads = fmt.packetize_nal_units([bytes([0x41]) + b"\x02" * 500], 300)
    seq = 10
    packets: list[RtpPacket] = []
    for ts, payloads in ((0, key_payloads), (3000, slice_payloads), (6000, slice_payloads)):
        for i, p in enumerate(payloads):
            packets.append(RtpPacket(102, seq, ts, 5, p, marker=i == len(payloads) - 1))
            seq += 1
    n_key, n_slice = len(key_payloads), len(slice_payloads)
    jb = JitterBuffer(fmt, max_delay=0.1)
    lost = n_key + n_slice  # the first packet of the third frame
    events = feed(jb, [p for i, p in enumerate(packets) if i != lost], 0.0)
    assert frames(events) == [
        (10, 10 + n_key - 1, True),
        (10 + n_key, 10 + n_key + n_slice - 1, False),
    ]
    assert [e for e in events if isinstance(e, NackRequest)] == [NackRequest((10 + lost,))]
    jb.handle_timer(0.1)
    assert drain(jb) == [KeyframeRequest("lost packets not recovered in time")]
    # The third frame's tail has no known start: dropped. A keyframe starts with an SPS,
    # which proves a frame start even though its predecessor is gone.
    again = [
        RtpPacket(102, seq + 5 + i, 9000, 5, p, marker=i == n_key - 1)
        for i, p in enumerate(key_payloads)
    ]
    assert frames(feed(jb, again, 0.2)) == [(seq + 5, seq + 5 + n_key - 1, True)]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.integers(1, 5), min_size=1, max_size=12),
    st.sets(st.integers(0, 59), max_size=6),
    st.randoms(use_true_random=False),
    st.integers(0, 65535),
)
def test_property_any_loss_and_reordering(
    sizes: list[int], lost: set[int], rnd: random.Random, first_seq: int
) -> None:
    src = Source(seq=first_seq)
    sent = [src.frame(i == 0 or rnd.random() < 0.2, packets=n) for i, n in enumerate(sizes)]
    by_first = {f[0].sequence_number: f for f in sent}
    packets = [p for f in sent for p in f]
    arriving = [p for i, p in enumerate(packets) if i not in lost]
    # Reorder locally: each packet moves at most three places, except the very first one
    # to arrive (a frame overtaking the stream's first packet looks like a loss).
    keyed = sorted(enumerate(arriving), key=lambda ip: ip[0] + rnd.uniform(0, 3) if ip[0] else -1)
    jb = JitterBuffer(Vp8PayloadFormat(), max_packets=32, max_nack_list=16)
    delivered: list[FrameReceived] = []
    now = 0.0
    for _, packet in keyed:
        now += 0.001
        jb.receive(packet, now)
        assert jb.stats().buffered_packets <= 32
        delivered += [e for e in drain(jb) if isinstance(e, FrameReceived)]
    for _ in range(20):
        deadline = jb.get_timer()
        if deadline is None:
            break
        now = max(now, deadline)
        jb.handle_timer(now)
        delivered += [e for e in drain(jb) if isinstance(e, FrameReceived)]
    order = [
        src_index
        for src_index, f in enumerate(sent)
        for e in delivered
        if f[0].sequence_number == e.first_sequence_number
    ]
    assert order == sorted(order)  # in sequence order, no frame twice
    for event in delivered:
        original = by_first[event.first_sequence_number]
        assert event.last_sequence_number == original[-1].sequence_number
        assert event.data == Vp8PayloadFormat().depacketize([p.payload for p in original]).data
    if not lost:
        assert len(delivered) == len(sent)


def test_sender_sequence_restart_is_followed_after_two_packets() -> None:
    src = Source(seq=30000)
    jb = JitterBuffer(Vp8PayloadFormat(), max_packets=64)
    feed(jb, src.frame(True), 0.0)
    src.seq = 100  # far behind the old numbering
    key = src.frame(True)
    assert feed(jb, key[:1], 0.1) == []  # one packet is not believed: late
    assert jb.stats().packets_late == 1
    events = feed(jb, key[1:], 0.1)  # 101 follows 100: the sender restarted
    assert events[0] == KeyframeRequest("sequence numbers restarted")
    # 100 itself was lost in the restart, so the frame cannot complete; the next one does.
    assert frames(feed(jb, src.frame(True), 0.4)) == [(103, 105, True)]


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["vp8", "h264", "opus"]),
    st.lists(
        st.tuples(
            st.integers(0, 65535),  # sequence number (small steps below, or anything)
            st.integers(0, 3),  # timestamp step
            st.booleans(),  # marker
            st.binary(max_size=12),  # payload
            st.floats(0, 0.3),  # time step
        ),
        max_size=80,
    ),
)
def test_fuzz_arbitrary_packets_never_raise_and_stay_bounded(
    kind: str, steps: list[tuple[int, int, bool, bytes, float]]
) -> None:
    fmt = {"vp8": Vp8PayloadFormat(), "h264": H264PayloadFormat(), "opus": OpusPayloadFormat()}
    jb = JitterBuffer(fmt[kind], max_packets=16, max_nack_list=8, max_nack_retries=3)
    now = 0.0
    seq = 0
    ts = 0
    for raw_seq, ts_step, marker, payload, dt in steps:
        seq = (seq + raw_seq % 7 - 2) & 0xFFFF if raw_seq % 11 else raw_seq
        ts = (ts + ts_step * 3000) & 0xFFFFFFFF
        now += dt
        timer = jb.get_timer()
        if timer is not None and timer <= now:
            jb.handle_timer(now)
        jb.receive(RtpPacket(96, seq, ts, 1, payload, marker=marker), now)
        assert jb.stats().buffered_packets <= 16
        assert len(jb.missing) <= 8
        timer = jb.get_timer()
        assert timer is None or timer > now
        drain(jb)


def test_undrained_events_are_bounded_and_frames_wait_in_the_buffer() -> None:
    src = Source()
    jb = JitterBuffer(Vp8PayloadFormat(), max_pending_frames=2, max_packets=64)
    packets = [p for i in range(5) for p in src.frame(i == 0)]
    for p in packets:
        jb.receive(p, 0.0)
    assert jb.stats().frames_delivered == 2 and jb.stats().buffered_packets == 9
    for _ in range(200):
        jb.request_keyframe(0.0)  # control events beyond the bound are dropped
    first = jb.next_event()
    assert isinstance(first, FrameReceived) and first.first_sequence_number == 1000
    # Taking a frame made room: the next one was delivered behind the queued requests.
    assert jb.stats().frames_delivered == 3
    events = [first, *drain(jb)]
    assert len(events) == 5 + 64  # every frame, and the requests up to the bound
    assert frames(events) == [(1000 + 3 * i, 1002 + 3 * i, i == 0) for i in range(5)]


def test_held_back_frames_are_not_skipped_for_a_later_hole() -> None:
    src = Source()
    jb = JitterBuffer(Vp8PayloadFormat(), max_pending_frames=1, max_delay=0.1)
    key, d1, d2 = src.frame(True), src.frame(False), src.frame(False)
    feed_no_drain = [*key, *d1, d2[0], d2[2]]  # d2[1] lost
    for p in feed_no_drain:
        jb.receive(p, 0.0)
    assert jb.get_timer() == pytest.approx(0.1)  # the NACK retry (the deadline waits)
    jb.handle_timer(1.0)  # long past the deadline, but d1 is held, not blocked
    events = drain(jb)
    assert frames(events) == [(1000, 1002, True), (1003, 1005, False)]
    assert events[-1] == KeyframeRequest("lost packets not recovered in time")  # d2 only
