"""Per-SSRC statistics (RFC 3550 A.1, A.3, A.8, §6.4): loss, fraction, extended sequence,
jitter, LSR/DLSR, RTT, SR counters and packetization."""

from __future__ import annotations

import pytest

from trio_webrtc.errors import LocalProtocolError
from trio_webrtc.rtp.codecs import OpusPayloadFormat
from trio_webrtc.rtp.packet import RtpPacket
from trio_webrtc.rtp.rtcp import (
    GenericNack,
    ReceiverReport,
    SenderReport,
    SourceDescription,
    encode_rtcp,
    parse_rtcp,
)
from trio_webrtc.rtp.stream import (
    ReceiveStream,
    SendStream,
    SendStreamStats,
    compound_report,
    ntp_compact,
    ntp_timestamp,
)
from trio_webrtc.rtp.vp8 import Vp8PayloadFormat


def _pkt(seq: int, ts: int = 0, payload: bytes = b"12345") -> RtpPacket:
    return RtpPacket(96, seq & 0xFFFF, ts & 0xFFFFFFFF, 0x77, payload)


def test_loss_fraction_and_extended_sequence_across_wrap() -> None:
    rx = ReceiveStream(0x77, 90000)
    assert rx.report_block(0.0) is None
    for seq in [*range(65530, 65536), *range(0, 10)]:
        if seq not in (65534, 3, 4, 5):
            rx.receive(_pkt(seq), 0.0)
    block = rx.report_block(1.0)
    assert block is not None
    assert block.highest_sequence == 65536 + 9
    assert block.packets_lost == 4
    assert block.fraction_lost == (4 << 8) // 16  # 4 of 16 expected
    # A second interval without loss reports fraction 0 but keeps the cumulative count.
    for seq in range(10, 20):
        rx.receive(_pkt(seq), 0.0)
    block = rx.report_block(2.0)
    assert block is not None and block.fraction_lost == 0 and block.packets_lost == 4
    stats = rx.stats()
    assert stats.packets_received == 22 and stats.bytes_received == 110
    assert stats.extended_highest_sequence == 65536 + 19 and stats.fraction_lost == 0.0


def test_duplicates_make_loss_negative_as_rfc3550_says() -> None:
    rx = ReceiveStream(1, 8000)
    for seq in (1, 2, 2, 3):
        rx.receive(_pkt(seq), 0.0)
    block = rx.report_block(0.0)
    assert block is not None and block.packets_lost == -1 and block.fraction_lost == 0


def test_sequence_restart_needs_two_agreeing_packets() -> None:
    rx = ReceiveStream(1, 8000)
    for seq in range(100, 105):
        rx.receive(_pkt(seq), 0.0)
    rx.receive(_pkt(30000), 0.0)  # a jump: not believed yet
    assert rx.stats().packets_received == 5
    rx.receive(_pkt(30001), 0.0)  # the next one agrees: the counters restart
    stats = rx.stats()
    assert stats.packets_received == 1 and stats.extended_highest_sequence == 30001
    assert stats.packets_lost == 0


def test_interarrival_jitter_a8() -> None:
    rx = ReceiveStream(1, 8000)
    # 20 ms packets (160 units); arrivals alternate 0 and +10 ms late (80 units of jitter).
    for i in range(200):
        late = 0.010 if i % 2 else 0.0
        rx.receive(_pkt(i, i * 160), i * 0.020 + late)
    block = rx.report_block(4.0)
    assert block is not None and block.jitter == pytest.approx(80, abs=1)
    assert rx.stats().jitter == pytest.approx(0.010, abs=0.0002)
    steady = ReceiveStream(2, 8000)
    for i in range(50):
        steady.receive(_pkt(i, 0xFFFFFF00 + i * 160), i * 0.020)  # across a timestamp wrap
    assert steady.stats().jitter == pytest.approx(0.0, abs=1e-6)
    resent = ReceiveStream(3, 8000)
    resent.receive(_pkt(1, 0), 0.0)
    resent.receive(_pkt(2, 160), 5.0, retransmission=True)
    assert resent.stats().jitter == 0.0


def test_ntp_helpers() -> None:
    ntp = ntp_timestamp(0.5)
    assert ntp >> 32 == 2208988800 and ntp & 0xFFFFFFFF == 1 << 31
    assert ntp_compact(ntp) == ((2208988800 & 0xFFFF) << 16) | 0x8000


def test_sender_report_rr_round_trip_time() -> None:
    tx = SendStream(0x77, 96, Vp8PayloadFormat(), sequence_number=10, mtu=200)
    rx = ReceiveStream(0x77, 90000)
    for packet in tx.packetize(bytes([0x10]) + bytes(400), 90000):
        tx.sent(packet, 1.0)
        rx.receive(packet, 1.01)
    sr = tx.sender_report(now=1.5, wallclock=1_700_000_000.25)
    assert (sr.packet_count, sr.octet_count) == (3, 3 * 4 + 401)
    assert sr.rtp_timestamp == 90000 + 45000  # extrapolated 0.5 s at 90 kHz
    # The SR takes 30 ms to arrive, the RR leaves 200 ms later and takes 30 ms back.
    rx.receive_sender_report(sr, 1.53)
    block = rx.report_block(1.73)
    assert block is not None
    assert block.last_sr == ntp_compact(sr.ntp_timestamp)
    assert block.delay_since_last_sr == int(0.2 * 65536)
    (rr,) = parse_rtcp(ReceiverReport(0x99, (block,)).encode())
    assert isinstance(rr, ReceiverReport)
    tx.receive_report_block(rr.reports[0], 1.76)
    assert tx.round_trip_time == pytest.approx(0.06, abs=1e-4)
    stats = tx.stats()
    assert isinstance(stats, SendStreamStats)
    assert stats.packets_sent == 3 and stats.remote_packets_lost == 0


def test_packetize_marker_rules_and_nack_routing() -> None:
    video = SendStream(5, 96, Vp8PayloadFormat(), sequence_number=65535, mtu=100)
    packets = video.packetize(bytes(150), 1234, extensions=((1, b"0"),))
    assert [p.sequence_number for p in packets] == [65535, 0, 1]
    assert [p.marker for p in packets] == [False, False, True]
    assert all(len(p.serialize()) + video.overhead <= 100 for p in packets)
    assert video.next_sequence_number == 2
    for p in packets:
        video.sent(p, 0.0)
    assert video.handle_nack(GenericNack(9, 6, (0,)), 0.1) == []  # another SSRC
    assert video.handle_nack(GenericNack(9, 5, (0,)), 0.1) == [packets[1]]
    audio = SendStream(6, 111, OpusPayloadFormat())
    talk = audio.packetize(b"\xfc\x01", 960, marker=True)
    assert talk[0].marker and not audio.packetize(b"\xfc\x02", 1920)[0].marker
    with pytest.raises(LocalProtocolError):
        SendStream(7, 96, Vp8PayloadFormat(), mtu=30).packetize(b"x", 0)
    with pytest.raises(ValueError):
        ReceiveStream(1, 0)


def test_compound_report_sr_or_rr_then_cname() -> None:
    receivers = [ReceiveStream(ssrc, 90000) for ssrc in range(40)]
    for rx in receivers:
        rx.receive(_pkt(1), 0.0)
    packets = compound_report(ssrc=9, cname="me", now=1.0, wallclock=1e9, receivers=receivers)
    assert [type(p).__name__ for p in packets] == [
        "ReceiverReport",
        "ReceiverReport",
        "SourceDescription",
    ]
    assert [len(p.reports) for p in packets[:2]] == [31, 9]  # type: ignore[union-attr]
    wire = encode_rtcp(packets)
    assert parse_rtcp(wire) == packets
    tx = SendStream(5, 96, Vp8PayloadFormat())
    sr, sdes = compound_report(ssrc=9, cname="me", now=1.0, wallclock=1e9, sender=tx)
    assert isinstance(sr, SenderReport) and sr.ssrc == 5 and sr.reports == ()
    assert isinstance(sdes, SourceDescription) and sdes.chunks[0].ssrc == 5
