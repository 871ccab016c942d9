"""The payload-format interface shared by packetizers, and Opus (RFC 7587).

A :class:`PayloadFormat` turns one encoded frame into RTP payloads no larger than a given
size, and back: :meth:`~PayloadFormat.depacketize` takes the payloads of one frame in
sequence order and returns the frame and whether it is a keyframe (decodable alone).
Frame boundaries ride on the RTP marker bit for video (RFC 3550 §5.1 as profiled by
RFC 7741 §4.1 and RFC 6184 §5.1: set on the last packet of a frame) and on the packet
itself for audio (RFC 7587 §4.2: one Opus packet per RTP packet; the marker there flags
the first packet of a talkspurt, RFC 3551 §4.1). :meth:`~PayloadFormat.ends_frame`
answers for both, and :meth:`~PayloadFormat.is_frame_start` says when a payload alone
proves that it begins a frame (a resynchronising receiver needs that).

Implemented here: Opus (RFC 7587 §4.1-§4.2, 48 kHz RTP clock whatever the sampling rate).
VP8 and H.264 live in :mod:`.vp8` and :mod:`.h264`. Depacketizers raise only
:class:`~trio_webrtc.errors.RtpParseError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ..errors import LocalProtocolError, RtpParseError

__all__ = ["DepacketizedFrame", "OpusPayloadFormat", "PayloadFormat", "split_evenly"]


@dataclass(frozen=True, slots=True)
class DepacketizedFrame:
    """An encoded frame rebuilt from its payloads."""

    data: bytes
    keyframe: bool


class PayloadFormat(Protocol):
    """One RTP payload format (a codec's packetization rules)."""

    #: Encoding name as in SDP rtpmap (RFC 8866 §6.6), e.g. ``"VP8"``.
    name: str
    #: RTP timestamp rate in Hz.
    clock_rate: int
    #: Video formats mark frame ends with the marker bit and have keyframes.
    is_video: bool

    def packetize(self, frame: bytes, max_payload_size: int) -> list[bytes]:
        """Payloads for one frame, in order, each at most ``max_payload_size`` bytes."""
        ...

    def depacketize(self, payloads: Sequence[bytes]) -> DepacketizedFrame:
        """The frame carried by these payloads (one whole frame, in order)."""
        ...

    def is_frame_start(self, payload: bytes) -> bool:
        """True when this payload certainly begins a frame."""
        ...

    def ends_frame(self, marker: bool) -> bool:
        """True when a packet with this marker bit ends its frame."""
        ...


class OpusPayloadFormat:
    """Opus (RFC 7587): one Opus packet per RTP payload, no payload header."""

    name = "opus"
    clock_rate = 48000
    is_video = False

    def packetize(self, frame: bytes, max_payload_size: int) -> list[bytes]:
        if len(frame) > max_payload_size:
            raise LocalProtocolError(
                f"Opus packet of {len(frame)} bytes exceeds the payload size {max_payload_size}"
            )
        return [bytes(frame)]

    def depacketize(self, payloads: Sequence[bytes]) -> DepacketizedFrame:
        if len(payloads) != 1:
            raise RtpParseError("an Opus frame is exactly one RTP payload (RFC 7587 §4.2)")
        # Every Opus packet is decodable by itself; an empty one is a DTX gap.
        return DepacketizedFrame(bytes(payloads[0]), True)

    def is_frame_start(self, payload: bytes) -> bool:
        return True

    def ends_frame(self, marker: bool) -> bool:
        return True


def split_evenly(data: bytes | memoryview, room: int) -> list[bytes]:
    """``data`` cut into the fewest pieces of at most ``room`` bytes, sizes within one."""
    count = max(1, -(-len(data) // room))
    base, extra = divmod(len(data), count)
    pieces: list[bytes] = []
    pos = 0
    for i in range(count):
        size = base + (1 if i < extra else 0)
        pieces.append(bytes(data[pos : pos + size]))
        pos += size
    return pieces
