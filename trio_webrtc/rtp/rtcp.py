"""Compound RTCP codec (sans-I/O, pure functions and frozen dataclasses).

Implements RFC 3550 §6.4.1 (SR with its sender info), §6.4.2 (RR), report blocks,
§6.5 (SDES: CNAME and any other item kept as bytes), §6.6 (BYE with its optional reason),
§6.1 (compound packets, the common header and per-packet padding), RFC 4585 §6.1 (the
feedback message header), §6.2.1 (RTPFB Generic NACK: PID/BLP pairs) and §6.3.1 (PSFB
PLI), and REMB (draft-alvestrand-rmcat-remb-03 §2.2, an application-layer PSFB, FMT 15).
Any other packet type or feedback format is kept as :class:`UnknownRtcp`.

On receive, reduced-size RTCP (RFC 5506 §3) is accepted: a datagram need not start with
an SR or RR, may hold a single feedback message, and any of its packets may be padded.
RTP and RTCP sharing one port are told apart by :func:`is_rtcp` (RFC 5761 §4).

**REMB rather than transport-wide congestion control feedback.** Chromium's send-side
bandwidth estimation uses transport-cc (draft-holmer-rmcat-transport-wide-cc-extensions),
but that feedback is only useful to a sender that runs a delay-based estimator over it
(Google congestion control): the receiver merely timestamps every packet, and all the
intelligence sits in the sender. We have no estimator yet, and a TWCC feedback codec
without one would be dead weight. REMB carries the receiver's own estimate in one small
message: a receiver can answer with a plain figure (e.g. the application's cap), a sender
can read it as a target bitrate with no estimator at all, Chromium still honours REMB
(``goog-remb``) when it is negotiated instead of transport-cc, and aiortc sends and reads
REMB, so it works with both of our interop peers today. TWCC stays the upgrade path when
a send-side estimator is written.

Every parse function raises only :class:`~trio_webrtc.errors.RtpParseError`.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..errors import LocalProtocolError, RtpParseError
from .packet import seq_distance

__all__ = [
    "RTCP_BYE",
    "RTCP_PSFB",
    "RTCP_RR",
    "RTCP_RTPFB",
    "RTCP_SDES",
    "RTCP_SR",
    "SDES_CNAME",
    "Bye",
    "GenericNack",
    "PictureLossIndication",
    "ReceiverEstimatedMaxBitrate",
    "ReceiverReport",
    "ReportBlock",
    "RtcpPacket",
    "SdesChunk",
    "SenderReport",
    "SourceDescription",
    "UnknownRtcp",
    "encode_rtcp",
    "is_rtcp",
    "nack_pairs",
    "parse_rtcp",
]

RTCP_SR = 200
RTCP_RR = 201
RTCP_SDES = 202
RTCP_BYE = 203
RTCP_RTPFB = 205
RTCP_PSFB = 206

FMT_NACK = 1
FMT_PLI = 1
FMT_AFB = 15

SDES_END = 0
SDES_CNAME = 1

_HEADER = struct.Struct("!BBH")
_U32 = struct.Struct("!I")
_SENDER_INFO = struct.Struct("!IQIII")  # SSRC, NTP timestamp, RTP timestamp, packets, octets
_BLOCK = struct.Struct("!IB3sIIII")
_FB = struct.Struct("!II")
_NACK_FCI = struct.Struct("!HH")
_REMB = struct.Struct("!4sBBH")
_REMB_ID = b"REMB"


def is_rtcp(data: bytes | bytearray | memoryview) -> bool:
    """True for an RTCP packet sharing a port with RTP (RFC 5761 §4: PT 192-223)."""
    return len(data) >= 2 and 192 <= data[1] <= 223


@dataclass(frozen=True, slots=True)
class ReportBlock:
    """A reception report block (RFC 3550 §6.4.1).

    ``fraction_lost`` is the 8-bit fixed-point fraction; ``packets_lost`` the signed
    24-bit cumulative count (clamped on encode); ``last_sr`` the middle 32 bits of the
    last SR's NTP timestamp, ``delay_since_last_sr`` in units of 1/65536 s.
    """

    ssrc: int
    fraction_lost: int
    packets_lost: int
    highest_sequence: int
    jitter: int
    last_sr: int
    delay_since_last_sr: int

    def encode(self) -> bytes:
        lost = max(-0x800000, min(0x7FFFFF, self.packets_lost)) & 0xFFFFFF
        return _BLOCK.pack(
            self.ssrc,
            self.fraction_lost & 0xFF,
            lost.to_bytes(3, "big"),
            self.highest_sequence & 0xFFFFFFFF,
            self.jitter & 0xFFFFFFFF,
            self.last_sr & 0xFFFFFFFF,
            self.delay_since_last_sr & 0xFFFFFFFF,
        )

    @classmethod
    def parse(cls, data: memoryview, pos: int) -> ReportBlock:
        ssrc, fraction, lost, highest, jitter, lsr, dlsr = _BLOCK.unpack_from(data, pos)
        value = int.from_bytes(lost, "big")
        if value & 0x800000:
            value -= 0x1000000
        return cls(ssrc, fraction, value, highest, jitter, lsr, dlsr)


@dataclass(frozen=True, slots=True)
class SenderReport:
    """SR (RFC 3550 §6.4.1). ``ntp_timestamp`` is the 64-bit NTP format (32.32)."""

    ssrc: int
    ntp_timestamp: int
    rtp_timestamp: int
    packet_count: int
    octet_count: int
    reports: tuple[ReportBlock, ...] = ()
    extension: bytes = b""

    def encode(self) -> bytes:
        body = _SENDER_INFO.pack(
            self.ssrc,
            self.ntp_timestamp & 0xFFFFFFFFFFFFFFFF,
            self.rtp_timestamp & 0xFFFFFFFF,
            self.packet_count & 0xFFFFFFFF,
            self.octet_count & 0xFFFFFFFF,
        )
        return _packet(
            RTCP_SR,
            _count(self.reports),
            body + b"".join(r.encode() for r in self.reports) + self.extension,
        )


@dataclass(frozen=True, slots=True)
class ReceiverReport:
    """RR (RFC 3550 §6.4.2)."""

    ssrc: int
    reports: tuple[ReportBlock, ...] = ()
    extension: bytes = b""

    def encode(self) -> bytes:
        body = _U32.pack(self.ssrc) + b"".join(r.encode() for r in self.reports)
        return _packet(RTCP_RR, _count(self.reports), body + self.extension)


@dataclass(frozen=True, slots=True)
class SdesChunk:
    """One SDES chunk: a source and its items as ``(type, value)`` (RFC 3550 §6.5)."""

    ssrc: int
    items: tuple[tuple[int, bytes], ...] = ()

    @property
    def cname(self) -> str | None:
        for item_type, value in self.items:
            if item_type == SDES_CNAME:
                return value.decode("utf-8", "replace")
        return None


@dataclass(frozen=True, slots=True)
class SourceDescription:
    """SDES (RFC 3550 §6.5)."""

    chunks: tuple[SdesChunk, ...]

    @classmethod
    def cname(cls, ssrc: int, cname: str) -> SourceDescription:
        return cls((SdesChunk(ssrc, ((SDES_CNAME, cname.encode()),)),))

    def encode(self) -> bytes:
        out = bytearray()
        for chunk in self.chunks:
            out += _U32.pack(chunk.ssrc)
            for item_type, value in chunk.items:
                if not 1 <= item_type <= 255 or len(value) > 255:
                    raise LocalProtocolError("SDES item type 1-255, value up to 255 bytes")
                out.append(item_type)
                out.append(len(value))
                out += value
            out.append(SDES_END)  # at least one null octet ends the item list
            out += bytes(-len(out) % 4)
        return _packet(RTCP_SDES, _count(self.chunks), bytes(out))


@dataclass(frozen=True, slots=True)
class Bye:
    """BYE (RFC 3550 §6.6)."""

    ssrcs: tuple[int, ...]
    reason: bytes = b""

    def encode(self) -> bytes:
        body = b"".join(_U32.pack(s) for s in self.ssrcs)
        if self.reason:
            if len(self.reason) > 255:
                raise LocalProtocolError("BYE reason is at most 255 bytes")
            reason = bytes((len(self.reason),)) + self.reason
            body += reason + bytes(-len(reason) % 4)
        return _packet(RTCP_BYE, _count(self.ssrcs), body)


@dataclass(frozen=True, slots=True)
class GenericNack:
    """RTPFB Generic NACK (RFC 4585 §6.2.1): the lost sequence numbers of one source."""

    sender_ssrc: int
    media_ssrc: int
    lost: tuple[int, ...]

    def encode(self) -> bytes:
        fci = b"".join(_NACK_FCI.pack(pid, blp) for pid, blp in nack_pairs(self.lost))
        return _packet(RTCP_RTPFB, FMT_NACK, _FB.pack(self.sender_ssrc, self.media_ssrc) + fci)


@dataclass(frozen=True, slots=True)
class PictureLossIndication:
    """PSFB PLI (RFC 4585 §6.3.1): please send a keyframe."""

    sender_ssrc: int
    media_ssrc: int

    def encode(self) -> bytes:
        return _packet(RTCP_PSFB, FMT_PLI, _FB.pack(self.sender_ssrc, self.media_ssrc))


@dataclass(frozen=True, slots=True)
class ReceiverEstimatedMaxBitrate:
    """REMB (draft-alvestrand-rmcat-remb §2.2): the receiver's bitrate estimate.

    ``bitrate`` is in bits per second; it is sent as an 18-bit mantissa and a 6-bit
    exponent, so large values are rounded down on encode.
    """

    sender_ssrc: int
    bitrate: int
    ssrcs: tuple[int, ...] = ()

    def encode(self) -> bytes:
        if len(self.ssrcs) > 255 or self.bitrate < 0:
            raise LocalProtocolError("REMB carries up to 255 SSRCs and a bitrate >= 0")
        exponent = max(0, self.bitrate.bit_length() - 18)
        if exponent > 63:
            raise LocalProtocolError("REMB bitrate too large")
        mantissa = self.bitrate >> exponent
        fci = _REMB.pack(
            _REMB_ID, len(self.ssrcs), exponent << 2 | mantissa >> 16, mantissa & 0xFFFF
        ) + b"".join(_U32.pack(s) for s in self.ssrcs)
        return _packet(RTCP_PSFB, FMT_AFB, _FB.pack(self.sender_ssrc, 0) + fci)


@dataclass(frozen=True, slots=True)
class UnknownRtcp:
    """Any other RTCP packet, kept as its count/format field and body (no padding)."""

    packet_type: int
    count: int
    body: bytes

    def encode(self) -> bytes:
        return _packet(self.packet_type, self.count, self.body)


RtcpPacket = (
    SenderReport
    | ReceiverReport
    | SourceDescription
    | Bye
    | GenericNack
    | PictureLossIndication
    | ReceiverEstimatedMaxBitrate
    | UnknownRtcp
)


def _count(items: Sequence[object]) -> int:
    if len(items) > 31:
        raise LocalProtocolError("an RTCP packet carries at most 31 blocks, chunks or SSRCs")
    return len(items)


def _packet(packet_type: int, count: int, body: bytes) -> bytes:
    if len(body) % 4:
        raise LocalProtocolError("RTCP packet body must be whole 32-bit words")
    if len(body) // 4 > 0xFFFF:
        raise LocalProtocolError("RTCP packet too long")
    return _HEADER.pack(0x80 | count, packet_type, len(body) // 4) + body


def nack_pairs(lost: Iterable[int]) -> list[tuple[int, int]]:
    """Pack sequence numbers into Generic NACK (PID, BLP) pairs (RFC 4585 §6.2.1).

    The numbers are sorted in sequence-number order around a wrap (relative to the
    first one given); duplicates collapse.
    """
    values = [s & 0xFFFF for s in lost]
    if not values:
        return []
    base = values[0]
    ordered = sorted(set(values), key=lambda s: seq_distance(s, base))
    pairs: list[tuple[int, int]] = []
    pid = ordered[0]
    blp = 0
    for seq in ordered[1:]:
        offset = (seq - pid) & 0xFFFF
        if 1 <= offset <= 16:
            blp |= 1 << (offset - 1)
        else:
            pairs.append((pid, blp))
            pid, blp = seq, 0
    pairs.append((pid, blp))
    return pairs


def _nack_lost(fci: memoryview) -> tuple[int, ...]:
    lost: list[int] = []
    for pos in range(0, len(fci) - len(fci) % 4, 4):
        pid, blp = _NACK_FCI.unpack_from(fci, pos)
        lost.append(pid)
        lost.extend((pid + i + 1) & 0xFFFF for i in range(16) if blp >> i & 1)
    return tuple(lost)


def _parse_one(ptype: int, count: int, body: memoryview) -> RtcpPacket:
    size = len(body)
    if ptype in (RTCP_SR, RTCP_RR):
        fixed = _SENDER_INFO.size if ptype == RTCP_SR else 4
        if size < fixed + 24 * count:
            raise RtpParseError(f"RTCP {ptype} with {count} report blocks is too short")
        blocks = tuple(ReportBlock.parse(body, fixed + 24 * i) for i in range(count))
        extension = bytes(body[fixed + 24 * count :])
        if ptype == RTCP_SR:
            ssrc, ntp, rtp_ts, packets, octets = _SENDER_INFO.unpack_from(body, 0)
            return SenderReport(ssrc, ntp, rtp_ts, packets, octets, blocks, extension)
        return ReceiverReport(_U32.unpack_from(body, 0)[0], blocks, extension)
    if ptype == RTCP_SDES:
        return _parse_sdes(count, body)
    if ptype == RTCP_BYE:
        if size < 4 * count:
            raise RtpParseError("BYE shorter than its SSRC list")
        ssrcs = tuple(_U32.unpack_from(body, 4 * i)[0] for i in range(count))
        reason = b""
        pos = 4 * count
        if pos < size:
            length = body[pos]
            if pos + 1 + length > size:
                raise RtpParseError("BYE reason overruns the packet")
            reason = bytes(body[pos + 1 : pos + 1 + length])
        return Bye(ssrcs, reason)
    if ptype in (RTCP_RTPFB, RTCP_PSFB) and size >= 8:
        sender, media = _FB.unpack_from(body, 0)
        if ptype == RTCP_RTPFB and count == FMT_NACK:
            if (size - 8) % 4:
                raise RtpParseError("Generic NACK FCI is not whole 32-bit words")
            return GenericNack(sender, media, _nack_lost(body[8:]))
        if ptype == RTCP_PSFB and count == FMT_PLI:
            return PictureLossIndication(sender, media)
        if ptype == RTCP_PSFB and count == FMT_AFB and bytes(body[8:12]) == _REMB_ID:
            if size < 16:
                raise RtpParseError("REMB too short")
            _, num, exp_hi, low = _REMB.unpack_from(body, 8)
            if size < 16 + 4 * num:
                raise RtpParseError("REMB SSRC list overruns the packet")
            bitrate = ((exp_hi & 0x03) << 16 | low) << (exp_hi >> 2)
            ssrcs = tuple(_U32.unpack_from(body, 16 + 4 * i)[0] for i in range(num))
            return ReceiverEstimatedMaxBitrate(sender, bitrate, ssrcs)
    elif ptype in (RTCP_RTPFB, RTCP_PSFB):
        raise RtpParseError("feedback message shorter than its header")
    return UnknownRtcp(ptype, count, bytes(body))


def _parse_sdes(count: int, body: memoryview) -> SourceDescription:
    chunks: list[SdesChunk] = []
    pos = 0
    size = len(body)
    for _ in range(count):
        if pos + 4 > size:
            raise RtpParseError("SDES chunk overruns the packet")
        ssrc = _U32.unpack_from(body, pos)[0]
        pos += 4
        items: list[tuple[int, bytes]] = []
        while True:
            if pos >= size:
                raise RtpParseError("SDES item list not terminated")
            item_type = body[pos]
            if item_type == SDES_END:
                pos += 1
                pos += -pos % 4  # the chunk ends at the next 32-bit boundary
                break
            if pos + 2 > size or pos + 2 + body[pos + 1] > size:
                raise RtpParseError("SDES item overruns the packet")
            length = body[pos + 1]
            items.append((item_type, bytes(body[pos + 2 : pos + 2 + length])))
            pos += 2 + length
        chunks.append(SdesChunk(ssrc, tuple(items)))
    return SourceDescription(tuple(chunks))


def parse_rtcp(data: bytes | bytearray | memoryview) -> list[RtcpPacket]:
    """Parse a compound (or reduced-size, RFC 5506) RTCP datagram.

    Raises :class:`RtpParseError` (only) when any packet in it is malformed: version
    not 2, a length running past the datagram, a bad padding count, or a body too
    short for its type.
    """
    view = memoryview(data)
    if view.ndim != 1 or view.itemsize != 1:
        view = view.cast("B")
    size = len(view)
    if size < 4:
        raise RtpParseError("RTCP datagram shorter than one header")
    packets: list[RtcpPacket] = []
    pos = 0
    while pos < size:
        if pos + 4 > size:
            raise RtpParseError("trailing bytes after the last RTCP packet")
        first, ptype, words = _HEADER.unpack_from(view, pos)
        if first >> 6 != 2:
            raise RtpParseError(f"RTCP version {first >> 6}, expected 2")
        end = pos + 4 + 4 * words
        if end > size:
            raise RtpParseError("RTCP packet length overruns the datagram")
        body_end = end
        if first & 0x20:
            pad = view[end - 1] if end > pos + 4 else 0
            if pad == 0 or pad > end - pos - 4:
                raise RtpParseError(f"invalid RTCP padding count {pad}")
            body_end = end - pad
        packets.append(_parse_one(ptype, first & 0x1F, view[pos + 4 : body_end]))
        pos = end
    return packets


def encode_rtcp(packets: Iterable[RtcpPacket]) -> bytes:
    """Concatenate packets into one compound datagram (RFC 3550 §6.1).

    The caller chooses the order: a full compound packet starts with an SR or RR and
    carries an SDES CNAME; a reduced-size one (RFC 5506) may hold just feedback.
    """
    return b"".join(p.encode() for p in packets)
