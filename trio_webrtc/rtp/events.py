"""Events the receive side of the RTP layer reports through ``next_event()``.

A :class:`~trio_webrtc.rtp.jitter.JitterBuffer` reports whole frames (RFC 3550 §5.1:
packets of one frame share a timestamp; video marks the last one), the sequence numbers
worth a Generic NACK (RFC 4585 §6.2.1) and the moments a keyframe is needed (PLI, RFC
4585 §6.3.1). The buffer knows no SSRCs of its own: whoever owns the stream turns the
requests into RTCP (:class:`~trio_webrtc.rtp.rtcp.GenericNack`,
:class:`~trio_webrtc.rtp.rtcp.PictureLossIndication`).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FrameReceived", "JitterEvent", "KeyframeRequest", "NackRequest"]


@dataclass(frozen=True, slots=True)
class JitterEvent:
    """Base class of jitter-buffer events."""


@dataclass(frozen=True, slots=True)
class FrameReceived(JitterEvent):
    """One whole encoded frame, in sequence order.

    ``first_sequence_number`` and ``last_sequence_number`` are the 16-bit RTP sequence
    numbers of its first and last packets; ``timestamp`` its RTP timestamp.
    """

    data: bytes
    timestamp: int
    keyframe: bool
    ssrc: int
    first_sequence_number: int
    last_sequence_number: int


@dataclass(frozen=True, slots=True)
class NackRequest(JitterEvent):
    """Ask the sender to retransmit these 16-bit sequence numbers (a Generic NACK)."""

    sequence_numbers: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class KeyframeRequest(JitterEvent):
    """Ask the sender for a keyframe (a PLI); ``reason`` is for logs."""

    reason: str
