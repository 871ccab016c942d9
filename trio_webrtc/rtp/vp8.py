"""VP8 RTP payload format (RFC 7741).

Implements the payload descriptor of RFC 7741 §4.2 (X, N, S and PID bits; the extension
octet with I, L, T and K; 7- and 15-bit PictureID; TL0PICIDX; TID, Y and KEYIDX), the
keyframe flag of the VP8 payload header (§4.3: the inverse key-frame bit P of the first
partition's first octet, RFC 6386 §9.1), and the packetization rules of §4.4-§4.5: every
frame starts a packet with S=1 and PID=0, the marker bit is set on the last packet of a
frame (§4.1), and the sender increments a 15-bit PictureID per frame so that a receiver
can tell lost frames apart. Payloads are split into equal-sized pieces (no partition
alignment, which RFC 7741 permits). Parsers raise only
:class:`~trio_webrtc.errors.RtpParseError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import LocalProtocolError, RtpParseError
from .codecs import DepacketizedFrame, split_evenly

__all__ = ["Vp8PayloadDescriptor", "Vp8PayloadFormat", "vp8_is_keyframe"]


@dataclass(frozen=True, slots=True)
class Vp8PayloadDescriptor:
    """The VP8 payload descriptor (RFC 7741 §4.2).

    ``picture_id`` is written in 15 bits when ``long_picture_id`` (M=1), else 7 bits.
    ``tid``/``layer_sync`` are present when ``tid`` is not ``None`` or ``key_idx`` is set.
    """

    start: bool = False
    partition_index: int = 0
    non_reference: bool = False
    picture_id: int | None = None
    long_picture_id: bool = True
    tl0_pic_idx: int | None = None
    tid: int | None = None
    layer_sync: bool = False
    key_idx: int | None = None

    def serialize(self) -> bytes:
        if not 0 <= self.partition_index <= 7:
            raise LocalProtocolError("VP8 partition index is 0-7")
        first = (0x10 if self.start else 0) | (0x20 if self.non_reference else 0)
        first |= self.partition_index
        ext = 0
        tail = bytearray()
        if self.picture_id is not None:
            ext |= 0x80
            if self.long_picture_id:
                tail += (0x8000 | (self.picture_id & 0x7FFF)).to_bytes(2, "big")
            else:
                tail.append(self.picture_id & 0x7F)
        if self.tl0_pic_idx is not None:
            ext |= 0x40
            tail.append(self.tl0_pic_idx & 0xFF)
        if self.tid is not None or self.key_idx is not None:
            ext |= (0x20 if self.tid is not None else 0) | (0x10 if self.key_idx is not None else 0)
            tail.append(
                ((self.tid or 0) & 3) << 6
                | (0x20 if self.layer_sync else 0)
                | ((self.key_idx or 0) & 0x1F)
            )
        if not ext:
            return bytes((first,))
        return bytes((first | 0x80, ext)) + bytes(tail)

    @classmethod
    def parse(cls, payload: bytes | memoryview) -> tuple[Vp8PayloadDescriptor, int]:
        """The descriptor and the offset of the VP8 payload after it."""
        size = len(payload)
        if size < 1:
            raise RtpParseError("empty VP8 payload")
        first = payload[0]
        pos = 1
        picture_id: int | None = None
        long_id = True
        tl0: int | None = None
        tid: int | None = None
        key_idx: int | None = None
        sync = False
        if first & 0x80:
            if size < 2:
                raise RtpParseError("VP8 descriptor extension octet missing")
            ext = payload[1]
            pos = 2
            if ext & 0x80:
                if pos >= size:
                    raise RtpParseError("VP8 PictureID missing")
                if payload[pos] & 0x80:
                    if pos + 2 > size:
                        raise RtpParseError("VP8 15-bit PictureID truncated")
                    picture_id = (payload[pos] & 0x7F) << 8 | payload[pos + 1]
                    pos += 2
                else:
                    picture_id = payload[pos]
                    long_id = False
                    pos += 1
            if ext & 0x40:
                if pos >= size:
                    raise RtpParseError("VP8 TL0PICIDX missing")
                tl0 = payload[pos]
                pos += 1
            if ext & 0x30:
                if pos >= size:
                    raise RtpParseError("VP8 TID/KEYIDX octet missing")
                octet = payload[pos]
                pos += 1
                if ext & 0x20:
                    tid = octet >> 6
                    sync = bool(octet & 0x20)
                if ext & 0x10:
                    key_idx = octet & 0x1F
        descriptor = cls(
            start=bool(first & 0x10),
            partition_index=first & 0x07,
            non_reference=bool(first & 0x20),
            picture_id=picture_id,
            long_picture_id=long_id,
            tl0_pic_idx=tl0,
            tid=tid,
            layer_sync=sync,
            key_idx=key_idx,
        )
        return descriptor, pos


def vp8_is_keyframe(frame: bytes | memoryview) -> bool:
    """True when a VP8 frame (not an RTP payload) is a key frame (RFC 6386 §9.1)."""
    return len(frame) > 0 and not frame[0] & 0x01


class Vp8PayloadFormat:
    """VP8 packetizer and depacketizer (RFC 7741).

    ``picture_id`` is the first frame's PictureID; each :meth:`packetize` call uses the
    current one and advances it modulo 2**15.
    """

    name = "VP8"
    clock_rate = 90000
    is_video = True

    def __init__(self, picture_id: int = 0) -> None:
        self.picture_id = picture_id & 0x7FFF

    def packetize(self, frame: bytes, max_payload_size: int) -> list[bytes]:
        first = Vp8PayloadDescriptor(start=True, picture_id=self.picture_id).serialize()
        rest = Vp8PayloadDescriptor(start=False, picture_id=self.picture_id).serialize()
        self.picture_id = (self.picture_id + 1) & 0x7FFF
        room = max_payload_size - len(first)
        if room < 1:
            raise LocalProtocolError(f"payload size {max_payload_size} leaves no room for VP8")
        if not frame:
            raise LocalProtocolError("an empty VP8 frame cannot be sent")
        pieces = split_evenly(frame, room)
        return [(first if i == 0 else rest) + piece for i, piece in enumerate(pieces)]

    def depacketize(self, payloads: Sequence[bytes]) -> DepacketizedFrame:
        if not payloads:
            raise RtpParseError("no VP8 payloads")
        parts: list[bytes] = []
        keyframe = False
        for i, payload in enumerate(payloads):
            descriptor, offset = Vp8PayloadDescriptor.parse(payload)
            if i == 0:
                if not descriptor.start or descriptor.partition_index != 0:
                    raise RtpParseError("a VP8 frame must begin with S=1, PID=0")
                keyframe = vp8_is_keyframe(memoryview(payload)[offset:])
            parts.append(bytes(memoryview(payload)[offset:]))
        data = b"".join(parts)
        if not data:
            raise RtpParseError("VP8 frame without data")
        return DepacketizedFrame(data, keyframe)

    def is_frame_start(self, payload: bytes) -> bool:
        try:
            descriptor, _ = Vp8PayloadDescriptor.parse(payload)
        except RtpParseError:
            return False
        return descriptor.start and descriptor.partition_index == 0

    def ends_frame(self, marker: bool) -> bool:
        return marker
