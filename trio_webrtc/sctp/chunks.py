"""SCTP packet and chunk codec (sans-I/O, pure functions and frozen dataclasses).

Implements the wire formats of RFC 9260 §3 (common header, chunk layout, padding, DATA,
INIT, INIT ACK, SACK, HEARTBEAT, HEARTBEAT ACK, ABORT, SHUTDOWN, SHUTDOWN ACK, ERROR,
COOKIE ECHO, COOKIE ACK, SHUTDOWN COMPLETE, error causes), the CRC32c checksum of RFC 9260
Appendix A (placed little-endian, as every stack does), FORWARD TSN of RFC 3758 §3.2 and
RE-CONFIG with its request/response parameters of RFC 6525 §3-§4.

Every parse function raises only :class:`~trio_webrtc.errors.SctpParseError`. The
association parses DATA chunks straight from the packet buffer on its hot path; the
:class:`DataChunk` class here exists for tests and tools.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from crc32c import crc32c

from ..errors import SctpParseError

__all__ = [
    "CHUNK_ABORT",
    "CHUNK_COOKIE_ACK",
    "CHUNK_COOKIE_ECHO",
    "CHUNK_DATA",
    "CHUNK_ERROR",
    "CHUNK_FORWARD_TSN",
    "CHUNK_HEARTBEAT",
    "CHUNK_HEARTBEAT_ACK",
    "CHUNK_INIT",
    "CHUNK_INIT_ACK",
    "CHUNK_RECONFIG",
    "CHUNK_SACK",
    "CHUNK_SHUTDOWN",
    "CHUNK_SHUTDOWN_ACK",
    "CHUNK_SHUTDOWN_COMPLETE",
    "AbortChunk",
    "Chunk",
    "CookieAckChunk",
    "CookieEchoChunk",
    "DataChunk",
    "ErrorChunk",
    "ForwardTsnChunk",
    "HeartbeatAckChunk",
    "HeartbeatChunk",
    "IncomingResetRequest",
    "InitAckChunk",
    "InitChunk",
    "OutgoingResetRequest",
    "Packet",
    "ReconfigChunk",
    "ReconfigParam",
    "ReconfigResponse",
    "SackChunk",
    "ShutdownAckChunk",
    "ShutdownChunk",
    "ShutdownCompleteChunk",
    "UnknownChunk",
    "UnknownReconfigParam",
    "checksum_seed",
    "encode_packet",
    "iter_chunks",
    "parse_chunk",
    "parse_packet",
    "parse_sack",
    "verify_checksum",
]

CHUNK_DATA = 0
CHUNK_INIT = 1
CHUNK_INIT_ACK = 2
CHUNK_SACK = 3
CHUNK_HEARTBEAT = 4
CHUNK_HEARTBEAT_ACK = 5
CHUNK_ABORT = 6
CHUNK_SHUTDOWN = 7
CHUNK_SHUTDOWN_ACK = 8
CHUNK_ERROR = 9
CHUNK_COOKIE_ECHO = 10
CHUNK_COOKIE_ACK = 11
CHUNK_SHUTDOWN_COMPLETE = 14
CHUNK_RECONFIG = 0x82
CHUNK_FORWARD_TSN = 0xC0

# DATA chunk flags (RFC 9260 §3.3.1).
FLAG_END = 0x01
FLAG_BEGIN = 0x02
FLAG_UNORDERED = 0x04
FLAG_IMMEDIATE = 0x08
# ABORT / SHUTDOWN COMPLETE: the verification tag is the sender's own (reflected).
FLAG_T = 0x01

# INIT / INIT ACK parameters (RFC 9260 §3.3.2, RFC 3758 §3.1, RFC 5061 §4.2.7).
PARAM_HEARTBEAT_INFO = 1
PARAM_IPV4 = 5
PARAM_IPV6 = 6
PARAM_STATE_COOKIE = 7
PARAM_UNRECOGNIZED = 8
PARAM_COOKIE_PRESERVATIVE = 9
PARAM_HOST_NAME = 11
PARAM_SUPPORTED_ADDRESS_TYPES = 12
PARAM_FORWARD_TSN_SUPPORTED = 0xC000
PARAM_SUPPORTED_EXTENSIONS = 0x8008

# RE-CONFIG parameters (RFC 6525 §4).
PARAM_OUTGOING_RESET = 13
PARAM_INCOMING_RESET = 14
PARAM_RECONFIG_RESPONSE = 16
PARAM_ADD_OUTGOING_STREAMS = 17
PARAM_ADD_INCOMING_STREAMS = 18

# Error causes (RFC 9260 §3.3.10).
CAUSE_INVALID_STREAM = 1
CAUSE_STALE_COOKIE = 3
CAUSE_UNRECOGNIZED_CHUNK = 6
CAUSE_INVALID_MANDATORY_PARAMETER = 7
CAUSE_UNRECOGNIZED_PARAMETERS = 8
CAUSE_NO_USER_DATA = 9
CAUSE_COOKIE_WHILE_SHUTTING_DOWN = 10
CAUSE_PROTOCOL_VIOLATION = 13
CAUSE_USER_ABORT = 12

COMMON_HEADER = struct.Struct("!HHI")  # ports and verification tag; checksum packed apart
CHECKSUM = struct.Struct("<I")
CHUNK_HEADER = struct.Struct("!BBH")
DATA_HEADER = struct.Struct("!BBHIHHI")  # type, flags, length, tsn, stream, ssn, ppid
DATA_FIELDS = struct.Struct("!IHHI")
_INIT = struct.Struct("!IIHHI")
SACK_FIELDS = _SACK = struct.Struct("!IIHH")  # cum TSN ack, a_rwnd, gap blocks, duplicates
_U32 = struct.Struct("!I")
_U16PAIR = struct.Struct("!HH")
_PARAM = struct.Struct("!HH")
_OUT_RESET = struct.Struct("!III")
_RESPONSE = struct.Struct("!II")
_RESPONSE_TSNS = struct.Struct("!IIII")

_ZERO4 = b"\x00\x00\x00\x00"
_PAD = (b"", b"\x00\x00\x00", b"\x00\x00", b"\x00")


def _padding(length: int) -> bytes:
    return _PAD[length & 3]


def _chunk(ctype: int, flags: int, value: bytes) -> bytes:
    length = 4 + len(value)
    return CHUNK_HEADER.pack(ctype, flags, length) + value + _padding(length)


def _encode_params(params: tuple[tuple[int, bytes], ...]) -> bytes:
    out = []
    for ptype, pvalue in params:
        length = 4 + len(pvalue)
        out.append(_PARAM.pack(ptype, length) + pvalue + _padding(length))
    return b"".join(out)


def _parse_params(data: bytes) -> tuple[tuple[int, bytes], ...]:
    """Parse a TLV parameter (or error cause) list; trailing padding is tolerated."""
    out: list[tuple[int, bytes]] = []
    offset = 0
    end = len(data)
    while offset + 4 <= end:
        ptype, length = _PARAM.unpack_from(data, offset)
        if length < 4 or offset + length > end:
            raise SctpParseError(f"bad parameter length {length}")
        out.append((ptype, bytes(data[offset + 4 : offset + length])))
        offset += (length + 3) & ~3
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Chunk:
    """Base class of every decoded chunk."""

    def encode(self) -> bytes:  # pragma: no cover - every subclass overrides
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class DataChunk(Chunk):
    """DATA (RFC 9260 §3.3.1). ``flags`` holds the U/B/E/I bits."""

    flags: int
    tsn: int
    stream_id: int
    ssn: int
    ppid: int
    user_data: bytes

    def encode(self) -> bytes:
        length = 16 + len(self.user_data)
        return (
            DATA_HEADER.pack(
                CHUNK_DATA, self.flags, length, self.tsn, self.stream_id, self.ssn, self.ppid
            )
            + self.user_data
            + _padding(length)
        )


@dataclass(frozen=True, slots=True)
class InitChunk(Chunk):
    """INIT (RFC 9260 §3.3.2); ``params`` are raw (type, value) pairs."""

    initiate_tag: int
    a_rwnd: int
    outbound_streams: int
    inbound_streams: int
    initial_tsn: int
    params: tuple[tuple[int, bytes], ...] = ()

    TYPE = CHUNK_INIT

    def encode(self) -> bytes:
        value = _INIT.pack(
            self.initiate_tag,
            self.a_rwnd,
            self.outbound_streams,
            self.inbound_streams,
            self.initial_tsn,
        ) + _encode_params(self.params)
        return _chunk(self.TYPE, 0, value)

    def param(self, ptype: int) -> bytes | None:
        """The value of the first parameter of type ``ptype``, or ``None``."""
        for t, v in self.params:
            if t == ptype:
                return v
        return None


@dataclass(frozen=True, slots=True)
class InitAckChunk(InitChunk):
    """INIT ACK (RFC 9260 §3.3.3); carries the State Cookie parameter."""

    TYPE = CHUNK_INIT_ACK


@dataclass(frozen=True, slots=True)
class SackChunk(Chunk):
    """SACK (RFC 9260 §3.3.4). Gap blocks are (start, end) offsets from ``cum_tsn``."""

    cum_tsn: int
    a_rwnd: int
    gaps: tuple[tuple[int, int], ...] = ()
    duplicates: tuple[int, ...] = ()

    def encode(self) -> bytes:
        parts = [_SACK.pack(self.cum_tsn, self.a_rwnd, len(self.gaps), len(self.duplicates))]
        parts.extend(_U16PAIR.pack(s, e) for s, e in self.gaps)
        parts.extend(_U32.pack(d) for d in self.duplicates)
        return _chunk(CHUNK_SACK, 0, b"".join(parts))


@dataclass(frozen=True, slots=True)
class HeartbeatChunk(Chunk):
    """HEARTBEAT (RFC 9260 §3.3.5) with one Heartbeat Info parameter."""

    info: bytes

    TYPE = CHUNK_HEARTBEAT

    def encode(self) -> bytes:
        return _chunk(self.TYPE, 0, _encode_params(((PARAM_HEARTBEAT_INFO, self.info),)))


@dataclass(frozen=True, slots=True)
class HeartbeatAckChunk(HeartbeatChunk):
    """HEARTBEAT ACK (RFC 9260 §3.3.6): echoes the Heartbeat Info."""

    TYPE = CHUNK_HEARTBEAT_ACK


@dataclass(frozen=True, slots=True)
class AbortChunk(Chunk):
    """ABORT (RFC 9260 §3.3.7); ``causes`` are raw (code, value) pairs."""

    flags: int = 0
    causes: tuple[tuple[int, bytes], ...] = ()

    def encode(self) -> bytes:
        return _chunk(CHUNK_ABORT, self.flags, _encode_params(self.causes))


@dataclass(frozen=True, slots=True)
class ShutdownChunk(Chunk):
    """SHUTDOWN (RFC 9260 §3.3.8)."""

    cum_tsn: int

    def encode(self) -> bytes:
        return _chunk(CHUNK_SHUTDOWN, 0, _U32.pack(self.cum_tsn))


@dataclass(frozen=True, slots=True)
class ShutdownAckChunk(Chunk):
    """SHUTDOWN ACK (RFC 9260 §3.3.9)."""

    def encode(self) -> bytes:
        return _chunk(CHUNK_SHUTDOWN_ACK, 0, b"")


@dataclass(frozen=True, slots=True)
class ErrorChunk(Chunk):
    """ERROR (RFC 9260 §3.3.10)."""

    causes: tuple[tuple[int, bytes], ...] = ()

    def encode(self) -> bytes:
        return _chunk(CHUNK_ERROR, 0, _encode_params(self.causes))


@dataclass(frozen=True, slots=True)
class CookieEchoChunk(Chunk):
    """COOKIE ECHO (RFC 9260 §3.3.11)."""

    cookie: bytes

    def encode(self) -> bytes:
        return _chunk(CHUNK_COOKIE_ECHO, 0, self.cookie)


@dataclass(frozen=True, slots=True)
class CookieAckChunk(Chunk):
    """COOKIE ACK (RFC 9260 §3.3.12)."""

    def encode(self) -> bytes:
        return _chunk(CHUNK_COOKIE_ACK, 0, b"")


@dataclass(frozen=True, slots=True)
class ShutdownCompleteChunk(Chunk):
    """SHUTDOWN COMPLETE (RFC 9260 §3.3.13)."""

    flags: int = 0

    def encode(self) -> bytes:
        return _chunk(CHUNK_SHUTDOWN_COMPLETE, self.flags, b"")


@dataclass(frozen=True, slots=True)
class ForwardTsnChunk(Chunk):
    """FORWARD TSN (RFC 3758 §3.2); ``streams`` are (stream id, SSN) pairs."""

    new_cum_tsn: int
    streams: tuple[tuple[int, int], ...] = ()

    def encode(self) -> bytes:
        value = _U32.pack(self.new_cum_tsn) + b"".join(_U16PAIR.pack(s, n) for s, n in self.streams)
        return _chunk(CHUNK_FORWARD_TSN, 0, value)


@dataclass(frozen=True, slots=True)
class ReconfigParam:
    """Base class of RE-CONFIG parameters (RFC 6525 §4)."""

    def encode(self) -> bytes:  # pragma: no cover - every subclass overrides
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class OutgoingResetRequest(ReconfigParam):
    """Outgoing SSN Reset Request (RFC 6525 §4.1); no streams means all streams."""

    request_seq: int
    response_seq: int
    last_tsn: int
    streams: tuple[int, ...] = ()

    def encode(self) -> bytes:
        value = _OUT_RESET.pack(self.request_seq, self.response_seq, self.last_tsn)
        value += b"".join(struct.pack("!H", s) for s in self.streams)
        return _encode_params(((PARAM_OUTGOING_RESET, value),))


@dataclass(frozen=True, slots=True)
class IncomingResetRequest(ReconfigParam):
    """Incoming SSN Reset Request (RFC 6525 §4.2)."""

    request_seq: int
    streams: tuple[int, ...] = ()

    def encode(self) -> bytes:
        value = _U32.pack(self.request_seq) + b"".join(struct.pack("!H", s) for s in self.streams)
        return _encode_params(((PARAM_INCOMING_RESET, value),))


@dataclass(frozen=True, slots=True)
class ReconfigResponse(ReconfigParam):
    """Re-configuration Response (RFC 6525 §4.4); ``result`` is one of RESULT_*."""

    response_seq: int
    result: int

    def encode(self) -> bytes:
        return _encode_params(
            ((PARAM_RECONFIG_RESPONSE, _RESPONSE.pack(self.response_seq, self.result)),)
        )


@dataclass(frozen=True, slots=True)
class UnknownReconfigParam(ReconfigParam):
    """A RE-CONFIG parameter this stack does not implement (e.g. Add Streams)."""

    type: int
    value: bytes

    def encode(self) -> bytes:
        return _encode_params(((self.type, self.value),))


RESULT_SUCCESS_NOTHING = 0
RESULT_SUCCESS_PERFORMED = 1
RESULT_DENIED = 2
RESULT_ERROR_WRONG_SSN = 3
RESULT_ERROR_IN_PROGRESS = 4
RESULT_ERROR_BAD_SEQUENCE = 5
RESULT_IN_PROGRESS = 6


@dataclass(frozen=True, slots=True)
class ReconfigChunk(Chunk):
    """RE-CONFIG (RFC 6525 §3.1): one or two parameters."""

    params: tuple[ReconfigParam, ...]

    def encode(self) -> bytes:
        return _chunk(CHUNK_RECONFIG, 0, b"".join(p.encode() for p in self.params))


@dataclass(frozen=True, slots=True)
class UnknownChunk(Chunk):
    """A chunk type this stack does not implement, kept raw."""

    type: int
    flags: int
    value: bytes

    def encode(self) -> bytes:
        return _chunk(self.type, self.flags, self.value)


def _stream_list(data: bytes, offset: int) -> tuple[int, ...]:
    count = (len(data) - offset) // 2
    return struct.unpack_from(f"!{count}H", data, offset)


def _parse_reconfig_params(value: bytes) -> tuple[ReconfigParam, ...]:
    out: list[ReconfigParam] = []
    for ptype, pvalue in _parse_params(value):
        if ptype == PARAM_OUTGOING_RESET:
            if len(pvalue) < 12 or len(pvalue) % 2:
                raise SctpParseError("bad outgoing reset request")
            req, resp, last = _OUT_RESET.unpack_from(pvalue)
            out.append(OutgoingResetRequest(req, resp, last, _stream_list(pvalue, 12)))
        elif ptype == PARAM_INCOMING_RESET:
            if len(pvalue) < 4 or len(pvalue) % 2:
                raise SctpParseError("bad incoming reset request")
            out.append(IncomingResetRequest(_U32.unpack_from(pvalue)[0], _stream_list(pvalue, 4)))
        elif ptype == PARAM_RECONFIG_RESPONSE:
            if len(pvalue) not in (8, 16):
                raise SctpParseError("bad re-configuration response")
            out.append(ReconfigResponse(*_RESPONSE.unpack_from(pvalue)))
        else:
            out.append(UnknownReconfigParam(ptype, pvalue))
    if not out:
        raise SctpParseError("RE-CONFIG without parameters")
    return tuple(out)


def parse_sack(data: bytes, start: int, end: int) -> tuple[int, int, tuple[tuple[int, int], ...]]:
    """(cumulative TSN ack, a_rwnd, gap blocks) of the SACK whose value is
    ``data[start:end]``, read in place (no chunk object; duplicates are not needed)."""
    if end - start < 12:
        raise SctpParseError("SACK too short")
    cum, rwnd, ngaps, ndups = _SACK.unpack_from(data, start)
    if end - start < 12 + 4 * (ngaps + ndups):
        raise SctpParseError("SACK truncated")
    if not ngaps:
        return cum, rwnd, ()
    first = start + 12
    return (
        cum,
        rwnd,
        tuple(_U16PAIR.unpack_from(data, at) for at in range(first, first + 4 * ngaps, 4)),
    )


def parse_chunk(ctype: int, flags: int, value: bytes) -> Chunk:
    """Decode one chunk's value (without its 4-byte header and padding)."""
    n = len(value)
    try:
        if ctype == CHUNK_DATA:
            if n <= 12:
                raise SctpParseError("DATA chunk without user data")
            tsn, sid, ssn, ppid = DATA_FIELDS.unpack_from(value)
            return DataChunk(flags, tsn, sid, ssn, ppid, bytes(value[12:]))
        if ctype in (CHUNK_INIT, CHUNK_INIT_ACK):
            if n < 16:
                raise SctpParseError("INIT too short")
            cls = InitChunk if ctype == CHUNK_INIT else InitAckChunk
            tag, rwnd, nos, mis, itsn = _INIT.unpack_from(value)
            return cls(tag, rwnd, nos, mis, itsn, _parse_params(value[16:]))
        if ctype == CHUNK_SACK:
            if n < 12:
                raise SctpParseError("SACK too short")
            cum, rwnd, ngaps, ndups = _SACK.unpack_from(value)
            if n < 12 + 4 * ngaps + 4 * ndups:
                raise SctpParseError("SACK truncated")
            gaps = tuple(_U16PAIR.unpack_from(value, 12 + 4 * i) for i in range(ngaps))
            base = 12 + 4 * ngaps
            dups = tuple(_U32.unpack_from(value, base + 4 * i)[0] for i in range(ndups))
            return SackChunk(cum, rwnd, gaps, dups)
        if ctype in (CHUNK_HEARTBEAT, CHUNK_HEARTBEAT_ACK):
            params = _parse_params(value)
            if not params or params[0][0] != PARAM_HEARTBEAT_INFO:
                raise SctpParseError("HEARTBEAT without Heartbeat Info")
            hb = HeartbeatChunk if ctype == CHUNK_HEARTBEAT else HeartbeatAckChunk
            return hb(params[0][1])
        if ctype == CHUNK_ABORT:
            return AbortChunk(flags, _parse_params(value))
        if ctype == CHUNK_SHUTDOWN:
            if n != 4:
                raise SctpParseError("bad SHUTDOWN length")
            return ShutdownChunk(_U32.unpack(value)[0])
        if ctype == CHUNK_SHUTDOWN_ACK:
            return ShutdownAckChunk()
        if ctype == CHUNK_ERROR:
            return ErrorChunk(_parse_params(value))
        if ctype == CHUNK_COOKIE_ECHO:
            return CookieEchoChunk(bytes(value))
        if ctype == CHUNK_COOKIE_ACK:
            return CookieAckChunk()
        if ctype == CHUNK_SHUTDOWN_COMPLETE:
            return ShutdownCompleteChunk(flags)
        if ctype == CHUNK_FORWARD_TSN:
            if n < 4 or n % 4:
                raise SctpParseError("bad FORWARD TSN length")
            pairs = tuple(_U16PAIR.unpack_from(value, off) for off in range(4, n, 4))
            return ForwardTsnChunk(_U32.unpack_from(value)[0], pairs)
        if ctype == CHUNK_RECONFIG:
            return ReconfigChunk(_parse_reconfig_params(value))
    except struct.error as exc:  # defensive: every length is checked above
        raise SctpParseError(str(exc)) from exc
    return UnknownChunk(ctype, flags, bytes(value))


def iter_chunks(data: bytes, offset: int = 12) -> Iterator[tuple[int, int, int, int]]:
    """Yield ``(type, flags, value_start, value_end)`` for each chunk in a packet.

    Raises :class:`SctpParseError` (lazily, at the bad chunk) on a malformed length.
    """
    end = len(data)
    unpack = CHUNK_HEADER.unpack_from
    while offset < end:
        if offset + 4 > end:
            raise SctpParseError("truncated chunk header")
        ctype, flags, length = unpack(data, offset)
        if length < 4 or offset + length > end:
            raise SctpParseError(f"bad chunk length {length}")
        yield ctype, flags, offset + 4, offset + length
        offset += (length + 3) & ~3


def checksum_seed(src_port: int, dst_port: int, vtag: int) -> int:
    """The CRC32c of a common header with a zero checksum field: the state to resume from
    over the chunks (a packet's CRC is ``crc32c(chunks, checksum_seed(...))``). Fixed per
    association and direction, so callers cache it rather than hash the header each time."""
    return int(crc32c(COMMON_HEADER.pack(src_port, dst_port, vtag) + _ZERO4))


def verify_checksum(data: bytes) -> bool:
    """True when the packet's CRC32c (RFC 9260 Appendix A) is correct."""
    if len(data) < 12:
        return False
    expected = CHECKSUM.unpack_from(data, 8)[0]
    crc = crc32c(memoryview(data)[12:], crc32c(data[:8] + _ZERO4))
    return bool(crc == expected)


def encode_packet(
    src_port: int, dst_port: int, vtag: int, chunks: Sequence[bytes | memoryview]
) -> bytes:
    """Join encoded chunks under a common header and fill in the CRC32c."""
    header = COMMON_HEADER.pack(src_port, dst_port, vtag)
    body = b"".join(chunks)
    crc = crc32c(body, crc32c(header + _ZERO4))
    return header + CHECKSUM.pack(crc) + body


@dataclass(frozen=True, slots=True)
class Packet:
    """A decoded SCTP packet (RFC 9260 §3.1)."""

    src_port: int
    dst_port: int
    vtag: int
    chunks: tuple[Chunk, ...]


def parse_packet(data: bytes, *, check_crc: bool = True) -> Packet:
    """Decode a whole packet, every chunk included (for tests and tools)."""
    if len(data) < 12:
        raise SctpParseError("packet shorter than the common header")
    if check_crc and not verify_checksum(data):
        raise SctpParseError("bad CRC32c")
    src, dst, vtag = COMMON_HEADER.unpack_from(data)
    chunks = tuple(
        parse_chunk(ctype, flags, data[start:end]) for ctype, flags, start, end in iter_chunks(data)
    )
    return Packet(src, dst, vtag, chunks)
