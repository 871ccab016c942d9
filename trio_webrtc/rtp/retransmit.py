"""Send-side retransmission buffer answering NACKs, with optional RTX (RFC 4588).

Implements the sender's part of RFC 4585 §6.2.1 (a Generic NACK names lost packets; the
sender may resend them) and the RTX payload format of RFC 4588 §4: a retransmission on
its own SSRC and payload type, with its own sequence numbers, the original timestamp and
marker, and the original sequence number (OSN) in the first two payload bytes.
Without RTX the original packet is resent unchanged; under SRTP the receiver's replay
protection (RFC 3711 §3.3.2) discards such a copy, which is why browsers negotiate RTX.
The buffer is bounded by a packet count and by age, and a packet is not resent more than
once per ``min_resend_interval`` (a burst of NACKs for the same loss costs one
retransmission). :func:`unwrap_rtx` rebuilds the original packet on receive.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, replace

from ..errors import RtpParseError
from .packet import RtpPacket

__all__ = ["RetransmissionBuffer", "RtxConfig", "unwrap_rtx", "wrap_rtx"]

logger = logging.getLogger("trio_webrtc.rtp")


@dataclass(frozen=True, slots=True)
class RtxConfig:
    """The RTX stream of a media stream (RFC 4588 §4, §8: ``apt`` maps PT to RTX PT)."""

    ssrc: int
    payload_type: int


def wrap_rtx(packet: RtpPacket, rtx: RtxConfig, rtx_sequence_number: int) -> RtpPacket:
    """The RTX packet retransmitting ``packet`` (RFC 4588 §4)."""
    return replace(
        packet,
        payload_type=rtx.payload_type,
        sequence_number=rtx_sequence_number & 0xFFFF,
        ssrc=rtx.ssrc,
        payload=packet.sequence_number.to_bytes(2, "big") + packet.payload,
        padding=0,
    )


def unwrap_rtx(packet: RtpPacket, payload_type: int, ssrc: int) -> RtpPacket:
    """The original packet inside an RTX packet (RFC 4588 §4).

    ``payload_type`` and ``ssrc`` are the original stream's (from the ``apt`` parameter
    and the SSRC group or the MID/RRID header extensions). Raises :class:`RtpParseError`
    when the payload has no OSN.
    """
    if len(packet.payload) < 2:
        raise RtpParseError("RTX packet without an original sequence number")
    return replace(
        packet,
        payload_type=payload_type,
        sequence_number=int.from_bytes(packet.payload[:2], "big"),
        ssrc=ssrc,
        payload=packet.payload[2:],
        padding=0,
    )


class _Stored:
    __slots__ = ("last_resent", "packet", "sent_at")

    def __init__(self, packet: RtpPacket, sent_at: float) -> None:
        self.packet = packet
        self.sent_at = sent_at
        self.last_resent: float | None = None


class RetransmissionBuffer:
    """The last ``capacity`` packets sent on one SSRC, for answering NACKs.

    :meth:`store` every packet as it is sent; :meth:`resend` turns the lost sequence
    numbers of a NACK into the packets to send again (RTX-wrapped when ``rtx`` is
    given). Packets older than ``max_age`` seconds are not resent (a retransmission
    that late would miss the receiver's jitter buffer anyway).
    """

    def __init__(
        self,
        *,
        capacity: int = 1024,
        max_age: float = 1.0,
        min_resend_interval: float = 0.01,
        rtx: RtxConfig | None = None,
        rtx_sequence_number: int = 0,
        log_prefix: str = "",
    ) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.max_age = max_age
        self.min_resend_interval = min_resend_interval
        self.rtx = rtx
        self._rtx_seq = rtx_sequence_number & 0xFFFF
        self._packets: OrderedDict[int, _Stored] = OrderedDict()
        self._prefix = log_prefix
        #: Packets resent (counted for statistics).
        self.retransmitted_packets = 0
        self.retransmitted_bytes = 0

    def __len__(self) -> int:
        return len(self._packets)

    def store(self, packet: RtpPacket, now: float) -> None:
        """Remember a packet just sent; the oldest is forgotten beyond ``capacity``."""
        seq = packet.sequence_number
        self._packets.pop(seq, None)
        self._packets[seq] = _Stored(packet, now)
        while len(self._packets) > self.capacity:
            self._packets.popitem(last=False)

    def get(self, sequence_number: int) -> RtpPacket | None:
        stored = self._packets.get(sequence_number & 0xFFFF)
        return stored.packet if stored is not None else None

    def resend(self, sequence_numbers: Iterable[int], now: float) -> list[RtpPacket]:
        """The packets to send again for a NACK, in the order asked.

        Unknown, too old and just-resent sequence numbers are skipped.
        """
        out: list[RtpPacket] = []
        for seq in sequence_numbers:
            stored = self._packets.get(seq & 0xFFFF)
            if stored is None or now - stored.sent_at > self.max_age:
                continue
            if (
                stored.last_resent is not None
                and now - stored.last_resent < self.min_resend_interval
            ):
                continue
            stored.last_resent = now
            packet = stored.packet
            if self.rtx is not None:
                packet = wrap_rtx(packet, self.rtx, self._rtx_seq)
                self._rtx_seq = (self._rtx_seq + 1) & 0xFFFF
            self.retransmitted_packets += 1
            self.retransmitted_bytes += len(packet.payload)
            out.append(packet)
        if out:
            logger.debug("%sresending %d RTP packet(s)", self._prefix, len(out))
        return out
