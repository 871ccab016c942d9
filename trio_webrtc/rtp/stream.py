"""Per-SSRC stream state: reception statistics, sender counters, SR/RR generation.

Implements RFC 3550 Appendix A.1 (sequence-number validity: a jump of more than
``MAX_DROPOUT`` is believed only when the next packet follows it, then the counters
restart; the probation of new sources is left out because SRTP already authenticates
them and SDP names them), A.3 (expected and lost packets, cumulative and as the fraction
since the last report, clamped to 24 signed bits), A.8 (interarrival jitter, in
timestamp units, smoothed by 1/16), §6.4.1 (report blocks: extended highest sequence
number, LSR as the middle 32 bits of the last SR's NTP timestamp and DLSR in 1/65536 s;
the SR's sender info with packet and payload-octet counts and an RTP timestamp
extrapolated to the report's time) and the round-trip time of §6.4.1 (A - LSR - DLSR),
taken against the time we sent the SR rather than a wall clock, and the compound packet
of §6.1 (an SR or RR first, further RRs for more than 31 sources, then SDES CNAME).

Sans-I/O: ``now`` is the caller's monotonic time, ``wallclock`` Unix time (only used to
write NTP timestamps into SRs).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import LocalProtocolError
from .codecs import PayloadFormat
from .packet import RtpPacket, seq_distance
from .retransmit import RetransmissionBuffer
from .rtcp import (
    GenericNack,
    ReceiverReport,
    ReportBlock,
    RtcpPacket,
    SenderReport,
    SourceDescription,
)

__all__ = [
    "ReceiveStream",
    "ReceiveStreamStats",
    "SendStream",
    "SendStreamStats",
    "compound_report",
    "ntp_compact",
    "ntp_timestamp",
]

MAX_DROPOUT = 3000
MAX_MISORDER = 100
_NTP_EPOCH_OFFSET = 2208988800  # seconds from 1900-01-01 to 1970-01-01
_SR_HISTORY = 8


def ntp_timestamp(wallclock: float) -> int:
    """The 64-bit NTP timestamp (RFC 3550 §4) of a Unix time."""
    return round((wallclock + _NTP_EPOCH_OFFSET) * (1 << 32)) & 0xFFFFFFFFFFFFFFFF


def ntp_compact(ntp: int) -> int:
    """The middle 32 bits of an NTP timestamp (the LSR field, RFC 3550 §6.4.1)."""
    return (ntp >> 16) & 0xFFFFFFFF


@dataclass(frozen=True, slots=True)
class ReceiveStreamStats:
    """What we know about one incoming SSRC (RFC 3550 §6.4.1, A.3, A.8)."""

    ssrc: int
    packets_received: int
    bytes_received: int
    packets_lost: int
    fraction_lost: float
    extended_highest_sequence: int
    jitter: float  # seconds
    last_sender_report_ntp: int | None


@dataclass(frozen=True, slots=True)
class SendStreamStats:
    """What we know about one outgoing SSRC, including the peer's last report on it."""

    ssrc: int
    packets_sent: int
    bytes_sent: int
    packets_retransmitted: int
    bytes_retransmitted: int
    round_trip_time: float | None
    remote_packets_lost: int
    remote_fraction_lost: float
    remote_jitter: float  # seconds


class ReceiveStream:
    """Reception statistics of one SSRC, and the report block that describes them."""

    def __init__(self, ssrc: int, clock_rate: int) -> None:
        if clock_rate <= 0:
            raise ValueError("clock_rate must be positive")
        self.ssrc = ssrc
        self.clock_rate = clock_rate
        self._started = False
        self._base_seq = 0
        self._max_seq = 0
        self._cycles = 0
        self._bad_seq: int | None = None
        self._received = 0
        self._bytes = 0
        self._expected_prior = 0
        self._received_prior = 0
        self._fraction = 0
        self._transit: float | None = None
        self._jitter = 0.0
        self._last_sr_ntp: int | None = None
        self._last_sr_arrival = 0.0

    def _restart(self, seq: int) -> None:
        self._started = True
        self._base_seq = seq
        self._max_seq = seq
        self._cycles = 0
        self._bad_seq = None
        self._received = 0
        self._expected_prior = 0
        self._received_prior = 0
        self._transit = None

    def receive(self, packet: RtpPacket, now: float, *, retransmission: bool = False) -> None:
        """Count one packet (RFC 3550 A.1, A.8). Retransmissions skip the jitter."""
        seq = packet.sequence_number
        if not self._started:
            self._restart(seq)
        else:
            delta = seq_distance(seq, self._max_seq)
            if 0 < delta < MAX_DROPOUT:
                if seq < self._max_seq:
                    self._cycles += 1 << 16
                self._max_seq = seq
                self._bad_seq = None
            elif delta <= 0 and -delta <= MAX_MISORDER:
                pass  # duplicate or reordered: counted, no sequence change
            elif self._bad_seq is not None and seq == self._bad_seq:
                self._restart(seq)  # two packets agree: the sender restarted its sequence
            else:
                self._bad_seq = (seq + 1) & 0xFFFF
                return
        self._received += 1
        self._bytes += len(packet.payload)
        if not retransmission:
            transit = now * self.clock_rate - packet.timestamp
            if self._transit is not None:
                # Timestamps wrap: take the transit difference modulo 2**32.
                d = abs(((transit - self._transit + 2**31) % 2**32) - 2**31)
                self._jitter += (d - self._jitter) / 16
            self._transit = transit

    def receive_sender_report(self, report: SenderReport, now: float) -> None:
        """Remember an SR from this source for the LSR/DLSR of our next report."""
        self._last_sr_ntp = report.ntp_timestamp
        self._last_sr_arrival = now

    @property
    def extended_highest_sequence(self) -> int:
        return self._cycles + self._max_seq

    def _lost(self) -> int:
        expected = self.extended_highest_sequence - self._base_seq + 1
        return expected - self._received

    def report_block(self, now: float) -> ReportBlock | None:
        """The report block for our next SR/RR, or ``None`` before any packet.

        Each call starts a new interval for the fraction lost (RFC 3550 A.3).
        """
        if not self._started:
            return None
        expected = self.extended_highest_sequence - self._base_seq + 1
        expected_interval = expected - self._expected_prior
        received_interval = self._received - self._received_prior
        self._expected_prior = expected
        self._received_prior = self._received
        lost_interval = expected_interval - received_interval
        if expected_interval <= 0 or lost_interval <= 0:
            self._fraction = 0
        else:
            self._fraction = min(255, (lost_interval << 8) // expected_interval)
        lsr = dlsr = 0
        if self._last_sr_ntp is not None:
            lsr = ntp_compact(self._last_sr_ntp)
            dlsr = min(0xFFFFFFFF, max(0, int((now - self._last_sr_arrival) * 65536)))
        return ReportBlock(
            ssrc=self.ssrc,
            fraction_lost=self._fraction,
            packets_lost=self._lost(),
            highest_sequence=self.extended_highest_sequence & 0xFFFFFFFF,
            jitter=int(self._jitter),
            last_sr=lsr,
            delay_since_last_sr=dlsr,
        )

    def stats(self) -> ReceiveStreamStats:
        return ReceiveStreamStats(
            ssrc=self.ssrc,
            packets_received=self._received,
            bytes_received=self._bytes,
            packets_lost=self._lost() if self._started else 0,
            fraction_lost=self._fraction / 256,
            extended_highest_sequence=self.extended_highest_sequence,
            jitter=self._jitter / self.clock_rate,
            last_sender_report_ntp=self._last_sr_ntp,
        )


class SendStream:
    """One outgoing SSRC: packetizes frames, counts what is sent, writes SRs.

    ``mtu`` bounds whole RTP packets; ``overhead`` is reserved after the RTP packet for
    SRTP's authentication tag (10 bytes for AES_CM_128_HMAC_SHA1_80, 16 for AES-GCM).
    Every packet handed to :meth:`sent` is kept in ``retransmissions`` for NACKs.
    """

    def __init__(
        self,
        ssrc: int,
        payload_type: int,
        payload_format: PayloadFormat,
        *,
        sequence_number: int = 0,
        mtu: int = 1200,
        overhead: int = 16,
        retransmissions: RetransmissionBuffer | None = None,
    ) -> None:
        self.ssrc = ssrc
        self.payload_type = payload_type
        self.format = payload_format
        self.clock_rate = payload_format.clock_rate
        self.mtu = mtu
        self.overhead = overhead
        # Not "or": an empty buffer has len() 0, which made the caller's (its RTX config,
        # its max_age) silently replaced by a default one.
        self.retransmissions = (
            retransmissions if retransmissions is not None else RetransmissionBuffer()
        )
        self._seq = sequence_number & 0xFFFF
        self._packets = 0
        self._octets = 0
        self._last_timestamp: int | None = None
        self._last_sent_at = 0.0
        self._sr_sent: OrderedDict[int, float] = OrderedDict()
        self._rtt: float | None = None
        self._remote: ReportBlock | None = None

    @property
    def next_sequence_number(self) -> int:
        return self._seq

    def packetize(
        self,
        frame: bytes,
        timestamp: int,
        *,
        marker: bool | None = None,
        extensions: tuple[tuple[int, bytes], ...] = (),
    ) -> list[RtpPacket]:
        """The RTP packets of one encoded frame, numbered in sequence.

        Video sets the marker on the last packet; audio sets it only when ``marker`` is
        true (the first packet of a talkspurt, RFC 3551 §4.1).
        """
        header = RtpPacket(self.payload_type, 0, 0, self.ssrc, extensions=extensions)
        room = self.mtu - self.overhead - header.header_size
        if room < 16:
            raise LocalProtocolError(f"MTU {self.mtu} leaves no room for RTP payloads")
        payloads = self.format.packetize(frame, room)
        packets: list[RtpPacket] = []
        for i, payload in enumerate(payloads):
            # Video: the frame's last packet; audio: a talkspurt's first, when asked.
            mark = (i == len(payloads) - 1) if self.format.is_video else (bool(marker) and i == 0)
            packets.append(
                RtpPacket(
                    payload_type=self.payload_type,
                    sequence_number=self._seq,
                    timestamp=timestamp & 0xFFFFFFFF,
                    ssrc=self.ssrc,
                    payload=payload,
                    marker=mark,
                    extensions=extensions,
                )
            )
            self._seq = (self._seq + 1) & 0xFFFF
        return packets

    def sent(self, packet: RtpPacket, now: float) -> None:
        """Count a packet just sent (RFC 3550 §6.4.1) and keep it for retransmission."""
        self._packets += 1
        self._octets += len(packet.payload)
        self._last_timestamp = packet.timestamp
        self._last_sent_at = now
        self.retransmissions.store(packet, now)

    def handle_nack(self, nack: GenericNack, now: float) -> list[RtpPacket]:
        """The packets (or RTX packets) answering a Generic NACK for this SSRC."""
        if nack.media_ssrc != self.ssrc:
            return []
        return self.retransmissions.resend(nack.lost, now)

    def sender_report(
        self, now: float, wallclock: float, reports: tuple[ReportBlock, ...] = ()
    ) -> SenderReport:
        """An SR for this source, the RTP timestamp extrapolated to ``now``."""
        ntp = ntp_timestamp(wallclock)
        if self._last_timestamp is None:
            rtp_ts = 0
        else:
            elapsed = int((now - self._last_sent_at) * self.clock_rate)
            rtp_ts = (self._last_timestamp + elapsed) & 0xFFFFFFFF
        self._sr_sent[ntp_compact(ntp)] = now
        while len(self._sr_sent) > _SR_HISTORY:
            self._sr_sent.popitem(last=False)
        return SenderReport(
            ssrc=self.ssrc,
            ntp_timestamp=ntp,
            rtp_timestamp=rtp_ts,
            packet_count=self._packets & 0xFFFFFFFF,
            octet_count=self._octets & 0xFFFFFFFF,
            reports=reports,
        )

    def receive_report_block(self, block: ReportBlock, now: float) -> None:
        """The peer's report on this SSRC: loss, jitter and the round-trip time."""
        if block.ssrc != self.ssrc:
            return
        self._remote = block
        sent_at = self._sr_sent.get(block.last_sr) if block.last_sr else None
        if sent_at is not None:
            rtt = now - sent_at - block.delay_since_last_sr / 65536
            if rtt >= 0:
                self._rtt = rtt

    @property
    def round_trip_time(self) -> float | None:
        return self._rtt

    def stats(self) -> SendStreamStats:
        remote = self._remote
        return SendStreamStats(
            ssrc=self.ssrc,
            packets_sent=self._packets,
            bytes_sent=self._octets,
            packets_retransmitted=self.retransmissions.retransmitted_packets,
            bytes_retransmitted=self.retransmissions.retransmitted_bytes,
            round_trip_time=self._rtt,
            remote_packets_lost=remote.packets_lost if remote else 0,
            remote_fraction_lost=remote.fraction_lost / 256 if remote else 0.0,
            remote_jitter=remote.jitter / self.clock_rate if remote else 0.0,
        )


def compound_report(
    *,
    ssrc: int,
    cname: str,
    now: float,
    wallclock: float,
    sender: SendStream | None = None,
    receivers: Sequence[ReceiveStream] = (),
) -> list[RtcpPacket]:
    """A full compound RTCP report (RFC 3550 §6.1): SR (if ``sender``) or RR, then SDES.

    ``ssrc`` is ours when we do not send (the RR's sender SSRC); with a ``sender`` its
    SSRC is used. Report blocks beyond 31 go into additional RRs (RFC 3550 §6.4.2).
    """
    blocks = [b for b in (r.report_block(now) for r in receivers) if b is not None]
    first_blocks, rest = tuple(blocks[:31]), blocks[31:]
    own = sender.ssrc if sender is not None else ssrc
    packets: list[RtcpPacket] = [
        sender.sender_report(now, wallclock, first_blocks)
        if sender is not None
        else ReceiverReport(own, first_blocks)
    ]
    for i in range(0, len(rest), 31):
        packets.append(ReceiverReport(own, tuple(rest[i : i + 31])))
    packets.append(SourceDescription.cname(own, cname))
    return packets
