"""RTP packet codec and serial-number arithmetic (sans-I/O, pure functions and values).

Implements the fixed RTP header of RFC 3550 §5.1 (version, padding, extension, CSRC
count and list, marker, payload type, sequence number, timestamp, SSRC), the generic
header extension of RFC 3550 §5.3.1, and the one-byte and two-byte header-extension
element formats of RFC 8285 §4.2-§4.3 (including padding bytes between elements and the
reserved one-byte ID 15 that ends parsing). :func:`parse_rtp` accepts ``bytes``,
``bytearray`` or ``memoryview`` and reads the header in place; only the payload and the
extension elements are copied out, once. It raises only
:class:`~trio_webrtc.errors.RtpParseError`.

Sequence numbers (16 bits) and timestamps (32 bits) wrap; :func:`seq_distance`,
:func:`seq_newer` and :func:`ts_distance` compare them modulo their width (RFC 1982
serial-number arithmetic, as RFC 3550 Appendix A.1 does), and :class:`Unwrapper` extends
them to unbounded integers (the "extended highest sequence number" of RFC 3550 §6.4.1).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from ..errors import LocalProtocolError, RtpParseError

__all__ = [
    "EXTENSION_PROFILE_ONE_BYTE",
    "EXTENSION_PROFILE_TWO_BYTE",
    "RTP_HEADER_SIZE",
    "RtpPacket",
    "Unwrapper",
    "parse_rtp",
    "seq_distance",
    "seq_newer",
    "ts_distance",
    "ts_newer",
]

RTP_VERSION = 2
RTP_HEADER_SIZE = 12
#: RFC 8285 §4.2: the "defined by profile" value of one-byte header extensions.
EXTENSION_PROFILE_ONE_BYTE = 0xBEDE
#: RFC 8285 §4.3: two-byte header extensions; the low 4 bits ("appbits") are ours to use.
EXTENSION_PROFILE_TWO_BYTE = 0x1000
_TWO_BYTE_MASK = 0xFFF0

_HEADER = struct.Struct("!BBHII")
_EXT_HEADER = struct.Struct("!HH")
_U32 = struct.Struct("!I")
_CSRCS = [struct.Struct(f"!{n}I") for n in range(16)]

Buffer = bytes | bytearray | memoryview


def seq_distance(a: int, b: int) -> int:
    """``a - b`` for 16-bit sequence numbers, in ``[-32768, 32767]``."""
    return ((a - b + 0x8000) & 0xFFFF) - 0x8000


def seq_newer(a: int, b: int) -> bool:
    """True when sequence number ``a`` comes after ``b`` (modulo 2**16)."""
    return seq_distance(a, b) > 0


def ts_distance(a: int, b: int) -> int:
    """``a - b`` for 32-bit RTP timestamps, in ``[-2**31, 2**31 - 1]``."""
    return ((a - b + 0x80000000) & 0xFFFFFFFF) - 0x80000000


def ts_newer(a: int, b: int) -> bool:
    """True when timestamp ``a`` comes after ``b`` (modulo 2**32)."""
    return ts_distance(a, b) > 0


class Unwrapper:
    """Extends wrapping ``bits``-wide counters to unbounded integers.

    Each value is placed nearest to the last value unwrapped (so a late packet just
    before a wrap unwraps below it, and the first packet after a wrap above it). The
    first value unwraps to itself, plus ``2**bits`` so that values a little older than
    the first one stay non-negative.
    """

    __slots__ = ("_half", "_last", "_mask", "_modulus")

    def __init__(self, bits: int = 16) -> None:
        self._modulus = 1 << bits
        self._mask = self._modulus - 1
        self._half = self._modulus >> 1
        self._last: int | None = None

    @property
    def last(self) -> int | None:
        """The last value returned by :meth:`unwrap` (``None`` before the first)."""
        return self._last

    def peek(self, value: int) -> int:
        """What :meth:`unwrap` would return, without moving the reference."""
        if self._last is None:
            return (value & self._mask) + self._modulus
        delta = ((value - self._last + self._half) & self._mask) - self._half
        return self._last + delta

    def unwrap(self, value: int) -> int:
        """The extended value of ``value``; the reference moves to it."""
        extended = self.peek(value)
        self._last = extended
        return extended


@dataclass(frozen=True, slots=True)
class RtpPacket:
    """One RTP packet (RFC 3550 §5.1).

    ``extensions`` holds RFC 8285 elements as ``(id, data)`` pairs, written with
    ``extension_profile`` (one-byte ``0xBEDE``, two-byte ``0x100X``, or ``None`` to pick
    the one-byte form when every element fits it). A header extension with any other
    profile is kept raw in ``extension_data`` (RFC 3550 §5.3.1). ``padding`` is the number
    of padding bytes on the wire (RFC 3550 §5.1, P bit); they are not part of ``payload``.
    """

    payload_type: int
    sequence_number: int
    timestamp: int
    ssrc: int
    payload: bytes = b""
    marker: bool = False
    csrcs: tuple[int, ...] = ()
    extensions: tuple[tuple[int, bytes], ...] = ()
    extension_profile: int | None = None
    extension_data: bytes = field(default=b"", repr=False)
    padding: int = 0

    def extension(self, ext_id: int) -> bytes | None:
        """The data of the first header-extension element with this ID, if any."""
        for eid, data in self.extensions:
            if eid == ext_id:
                return data
        return None

    def serialize(self) -> bytes:
        """The packet on the wire. Raises ``LocalProtocolError`` for impossible fields."""
        if not 0 <= self.payload_type <= 127:
            raise LocalProtocolError(f"payload type {self.payload_type} out of range")
        if len(self.csrcs) > 15:
            raise LocalProtocolError("at most 15 CSRCs")
        if not 0 <= self.padding <= 255:
            raise LocalProtocolError("padding is 0-255 bytes")
        ext = _encode_extension(self)
        first = RTP_VERSION << 6 | len(self.csrcs)
        if self.padding:
            first |= 0x20
        if ext:
            first |= 0x10
        parts = [
            _HEADER.pack(
                first,
                (0x80 if self.marker else 0) | self.payload_type,
                self.sequence_number & 0xFFFF,
                self.timestamp & 0xFFFFFFFF,
                self.ssrc & 0xFFFFFFFF,
            )
        ]
        parts.extend(_U32.pack(c & 0xFFFFFFFF) for c in self.csrcs)
        parts.append(ext)
        parts.append(self.payload)
        if self.padding:
            parts.append(bytes(self.padding - 1) + bytes((self.padding,)))
        return b"".join(parts)

    @property
    def header_size(self) -> int:
        """Bytes before the payload on the wire (fixed header, CSRCs, extension)."""
        return RTP_HEADER_SIZE + 4 * len(self.csrcs) + len(_encode_extension(self))


def _encode_extension(packet: RtpPacket) -> bytes:
    profile = packet.extension_profile
    if not packet.extensions:
        if profile is None:
            return b""
        body = packet.extension_data
        if len(body) % 4 or len(body) > 4 * 0xFFFF or not 0 <= profile <= 0xFFFF:
            raise LocalProtocolError("raw header extension must be whole 32-bit words")
        return _EXT_HEADER.pack(profile, len(body) // 4) + body
    if profile is None:
        one_byte = all(1 <= i <= 14 and 1 <= len(d) <= 16 for i, d in packet.extensions)
        profile = EXTENSION_PROFILE_ONE_BYTE if one_byte else EXTENSION_PROFILE_TWO_BYTE
    out = bytearray()
    if profile == EXTENSION_PROFILE_ONE_BYTE:
        for ext_id, data in packet.extensions:
            if not 1 <= ext_id <= 14 or not 1 <= len(data) <= 16:
                raise LocalProtocolError(f"one-byte extension {ext_id} cannot carry it")
            out.append(ext_id << 4 | (len(data) - 1))
            out += data
    elif profile & _TWO_BYTE_MASK == EXTENSION_PROFILE_TWO_BYTE:
        for ext_id, data in packet.extensions:
            if not 1 <= ext_id <= 255 or len(data) > 255:
                raise LocalProtocolError(f"two-byte extension {ext_id} cannot carry it")
            out.append(ext_id)
            out.append(len(data))
            out += data
    else:
        raise LocalProtocolError(f"extension elements need profile 0xBEDE or 0x100X: {profile:#x}")
    out += bytes(-len(out) % 4)
    if len(out) > 4 * 0xFFFF:
        raise LocalProtocolError("header extension too long")
    return _EXT_HEADER.pack(profile, len(out) // 4) + bytes(out)


def _parse_elements(body: memoryview, two_byte: bool) -> tuple[tuple[int, bytes], ...]:
    elements: list[tuple[int, bytes]] = []
    pos = 0
    end = len(body)
    while pos < end:
        first = body[pos]
        if first == 0:  # padding between elements (RFC 8285 §4.2, §4.3)
            pos += 1
            continue
        if two_byte:
            if pos + 2 > end:
                raise RtpParseError("truncated two-byte header extension element")
            ext_id, length = first, body[pos + 1]
            pos += 2
        else:
            ext_id, length = first >> 4, (first & 0x0F) + 1
            if ext_id == 15:  # reserved: stop processing the extension (RFC 8285 §4.2)
                break
            pos += 1
        if pos + length > end:
            raise RtpParseError(f"header extension element {ext_id} overruns the block")
        elements.append((ext_id, bytes(body[pos : pos + length])))
        pos += length
    return tuple(elements)


def parse_rtp(data: Buffer) -> RtpPacket:
    """Parse one RTP packet; raises :class:`RtpParseError` (and nothing else)."""
    view = memoryview(data)
    if view.ndim != 1 or view.itemsize != 1:
        view = view.cast("B")
    size = len(view)
    if size < RTP_HEADER_SIZE:
        raise RtpParseError(f"RTP packet of {size} bytes is shorter than its header")
    first, second, seq, timestamp, ssrc = _HEADER.unpack_from(view, 0)
    if first >> 6 != RTP_VERSION:
        raise RtpParseError(f"RTP version {first >> 6}, expected 2")
    cc = first & 0x0F
    pos = RTP_HEADER_SIZE + 4 * cc
    if pos > size:
        raise RtpParseError("CSRC list overruns the packet")
    csrcs: tuple[int, ...] = _CSRCS[cc].unpack_from(view, RTP_HEADER_SIZE) if cc else ()
    extensions: tuple[tuple[int, bytes], ...] = ()
    profile: int | None = None
    raw_extension = b""
    if first & 0x10:
        if pos + 4 > size:
            raise RtpParseError("header extension overruns the packet")
        profile, words = _EXT_HEADER.unpack_from(view, pos)
        pos += 4
        end = pos + 4 * words
        if end > size:
            raise RtpParseError("header extension overruns the packet")
        body = view[pos:end]
        if profile == EXTENSION_PROFILE_ONE_BYTE:
            extensions = _parse_elements(body, two_byte=False)
        elif profile & _TWO_BYTE_MASK == EXTENSION_PROFILE_TWO_BYTE:
            extensions = _parse_elements(body, two_byte=True)
        else:
            raw_extension = bytes(body)
        pos = end
    padding = 0
    end = size
    if first & 0x20:
        padding = view[size - 1]
        if padding == 0 or pos + padding > size:
            raise RtpParseError(f"invalid RTP padding count {padding}")
        end = size - padding
    return RtpPacket(
        second & 0x7F,
        seq,
        timestamp,
        ssrc,
        bytes(view[pos:end]),
        second >= 0x80,
        csrcs,
        extensions,
        profile,
        raw_extension,
        padding,
    )
