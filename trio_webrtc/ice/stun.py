"""STUN message codec (sans-I/O).

Implements RFC 8489 §5 (message structure), §6 (header, magic cookie), §14 (attributes:
MAPPED-ADDRESS, XOR-MAPPED-ADDRESS, USERNAME, MESSAGE-INTEGRITY, MESSAGE-INTEGRITY-SHA256,
FINGERPRINT, ERROR-CODE, REALM, NONCE, UNKNOWN-ATTRIBUTES, SOFTWARE, ALTERNATE-SERVER),
§9.2.2 (long-term key = MD5(username ":" realm ":" password), realm and password prepared
with the OpaqueString profile of RFC 8265 §4.2), §6.3.1.1/§6.3.3 (which comprehension-required
attributes are unknown); RFC 8445 §16.1 (PRIORITY, USE-CANDIDATE, ICE-CONTROLLED, ICE-CONTROLLING);
RFC 8656 §18 (CHANNEL-NUMBER, LIFETIME, XOR-PEER-ADDRESS, DATA, XOR-RELAYED-ADDRESS,
REQUESTED-TRANSPORT) and the TURN methods of §17; RFC 7983 §7 (demultiplexing test).

Unknown attributes are preserved as raw ``bytes``. :func:`parse_message` raises only
:class:`~trio_webrtc.errors.StunParseError`; :func:`verify_integrity` and
:func:`verify_fingerprint` never raise.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import ipaddress
import random
import secrets
import socket
import struct
import unicodedata
import zlib
from dataclasses import dataclass, field

from ..errors import LocalProtocolError, StunParseError

__all__ = [
    "ALTERNATE_SERVER",
    "CHANNEL_NUMBER",
    "DATA",
    "ERROR_CODE",
    "FINGERPRINT",
    "ICE_CONTROLLED",
    "ICE_CONTROLLING",
    "LIFETIME",
    "MAGIC_COOKIE",
    "MAPPED_ADDRESS",
    "MESSAGE_INTEGRITY",
    "MESSAGE_INTEGRITY_SHA256",
    "NONCE",
    "PRIORITY",
    "REALM",
    "REQUESTED_TRANSPORT",
    "SOFTWARE",
    "UNKNOWN_ATTRIBUTES",
    "USERNAME",
    "USE_CANDIDATE",
    "XOR_MAPPED_ADDRESS",
    "XOR_PEER_ADDRESS",
    "XOR_RELAYED_ADDRESS",
    "Address",
    "AttributeValue",
    "ErrorCode",
    "Message",
    "MessageClass",
    "Method",
    "encode",
    "finish",
    "is_stun",
    "long_term_key",
    "opaque_string",
    "parse_message",
    "random_transaction_id",
    "unknown_comprehension_required",
    "verify_fingerprint",
    "verify_integrity",
    "xor_address_value",
]

Address = tuple[str, int]
"""An (IP address string, port) pair."""

MAGIC_COOKIE = 0x2112A442
_COOKIE_BYTES = struct.pack("!I", MAGIC_COOKIE)
_FINGERPRINT_XOR = 0x5354554E
_HEADER_LENGTH = 20
_TYPE_LENGTH = struct.Struct("!HH")
_UINT32 = struct.Struct("!I")
_UINT64 = struct.Struct("!Q")


class Method(enum.IntEnum):
    """STUN methods (RFC 8489 §18.2, RFC 8656 §17)."""

    BINDING = 0x001
    ALLOCATE = 0x003
    REFRESH = 0x004
    SEND = 0x006
    DATA = 0x007
    CREATE_PERMISSION = 0x008
    CHANNEL_BIND = 0x009


class MessageClass(enum.IntEnum):
    """STUN message classes (RFC 8489 §5)."""

    REQUEST = 0
    INDICATION = 1
    SUCCESS = 2
    ERROR = 3


_CLASSES = tuple(MessageClass)
_METHODS: dict[int, int] = {int(m): m for m in Method}

# Attribute types (RFC 8489 §18.3, RFC 8445 §16.1, RFC 8656 §18).
MAPPED_ADDRESS = 0x0001
USERNAME = 0x0006
MESSAGE_INTEGRITY = 0x0008
ERROR_CODE = 0x0009
UNKNOWN_ATTRIBUTES = 0x000A
CHANNEL_NUMBER = 0x000C
LIFETIME = 0x000D
XOR_PEER_ADDRESS = 0x0012
DATA = 0x0013
REALM = 0x0014
NONCE = 0x0015
XOR_RELAYED_ADDRESS = 0x0016
REQUESTED_TRANSPORT = 0x0019
MESSAGE_INTEGRITY_SHA256 = 0x001C
XOR_MAPPED_ADDRESS = 0x0020
PRIORITY = 0x0024
USE_CANDIDATE = 0x0025
SOFTWARE = 0x8022
ALTERNATE_SERVER = 0x8023
FINGERPRINT = 0x8028
ICE_CONTROLLED = 0x8029
ICE_CONTROLLING = 0x802A


@dataclass(frozen=True)
class ErrorCode:
    """ERROR-CODE value (RFC 8489 §14.8): ``code`` is 300-699."""

    code: int
    reason: str = ""


AttributeValue = Address | str | bytes | int | ErrorCode | tuple[int, ...] | None
"""Decoded attribute value; the Python type depends on the attribute (see ``_KINDS``)."""

_ADDRESS, _XOR_ADDRESS, _TEXT, _U32, _U64, _FLAG, _ERROR, _UNKNOWN, _TRANSPORT, _CHANNEL = range(10)
_KINDS: dict[int, int] = {
    MAPPED_ADDRESS: _ADDRESS,
    ALTERNATE_SERVER: _ADDRESS,
    XOR_MAPPED_ADDRESS: _XOR_ADDRESS,
    XOR_PEER_ADDRESS: _XOR_ADDRESS,
    XOR_RELAYED_ADDRESS: _XOR_ADDRESS,
    USERNAME: _TEXT,
    REALM: _TEXT,
    NONCE: _TEXT,
    SOFTWARE: _TEXT,
    PRIORITY: _U32,
    LIFETIME: _U32,
    FINGERPRINT: _U32,
    ICE_CONTROLLED: _U64,
    ICE_CONTROLLING: _U64,
    USE_CANDIDATE: _FLAG,
    ERROR_CODE: _ERROR,
    UNKNOWN_ATTRIBUTES: _UNKNOWN,
    REQUESTED_TRANSPORT: _TRANSPORT,
    CHANNEL_NUMBER: _CHANNEL,
}
# MESSAGE-INTEGRITY(-SHA256), DATA and every unknown attribute are raw bytes.
_FINGERPRINT_HEAD = struct.pack("!HH", FINGERPRINT, 4)
_UNDERSTOOD = frozenset(_KINDS) | {MESSAGE_INTEGRITY, MESSAGE_INTEGRITY_SHA256, DATA}

_TEXT_LIMIT = 763  # RFC 8489 §14.3/14.9/14.10/14.14: at most 763 octets (513 for USERNAME).


def random_transaction_id(rng: random.Random | None = None) -> bytes:
    """Return a 96-bit transaction id from ``rng`` if given, else from ``secrets``."""
    if rng is not None:
        return rng.getrandbits(96).to_bytes(12, "big")
    return secrets.token_bytes(12)


@dataclass(frozen=True)
class Message:
    """A STUN message: method, class, 12-byte transaction id and ordered attributes.

    ``attributes`` holds ``(type, value)`` pairs in wire order; duplicates are kept but
    the accessors return the first occurrence (RFC 8489 §14).
    """

    method: int
    message_class: MessageClass
    transaction_id: bytes = field(default_factory=random_transaction_id)
    attributes: tuple[tuple[int, AttributeValue], ...] = ()

    def __post_init__(self) -> None:
        if len(self.transaction_id) != 12:
            raise LocalProtocolError("STUN transaction id must be 12 bytes")
        if not 0 <= self.method <= 0xFFF:
            raise LocalProtocolError("STUN method must fit 12 bits")

    def has(self, attr_type: int) -> bool:
        """True when the attribute is present."""
        return any(t == attr_type for t, _ in self.attributes)

    def get(self, attr_type: int) -> AttributeValue:
        """The first value of ``attr_type``, or ``None`` when absent."""
        for t, value in self.attributes:
            if t == attr_type:
                return value
        return None

    def get_str(self, attr_type: int) -> str | None:
        """A text attribute (USERNAME, REALM, NONCE, SOFTWARE)."""
        value = self.get(attr_type)
        return value if isinstance(value, str) else None

    def get_int(self, attr_type: int) -> int | None:
        """An integer attribute (PRIORITY, LIFETIME, ICE-CONTROLL(ED|ING), ...)."""
        value = self.get(attr_type)
        return value if isinstance(value, int) else None

    def get_bytes(self, attr_type: int) -> bytes | None:
        """A raw attribute (DATA, MESSAGE-INTEGRITY, unknown types)."""
        value = self.get(attr_type)
        return value if isinstance(value, bytes) else None

    def get_address(self, attr_type: int) -> Address | None:
        """An address attribute (MAPPED-ADDRESS, XOR-*-ADDRESS, ALTERNATE-SERVER)."""
        value = self.get(attr_type)
        if isinstance(value, tuple) and len(value) == 2:
            host, port = value
            if isinstance(host, str) and isinstance(port, int):
                return (host, port)
        return None

    @property
    def error_code(self) -> ErrorCode | None:
        """The ERROR-CODE attribute, if any."""
        value = self.get(ERROR_CODE)
        return value if isinstance(value, ErrorCode) else None


def unknown_comprehension_required(message: Message) -> tuple[int, ...]:
    """The comprehension-required attribute types (below 0x8000) of ``message`` that this
    codec does not understand, each once, in wire order (RFC 8489 §14, §6.3.1.1: a request
    carrying any is answered 420 with them in UNKNOWN-ATTRIBUTES; §6.3.3/§6.3.4: a response
    carrying any is discarded and its transaction fails). Browsers' own extensions (e.g.
    libwebrtc's GOOG-* and DTLS-in-STUN attributes, 0xC057-0xC071) are all
    comprehension-optional and never count."""
    unknown: list[int] = []
    for attr_type, _ in message.attributes:
        if attr_type < 0x8000 and attr_type not in _UNDERSTOOD and attr_type not in unknown:
            unknown.append(attr_type)
    return tuple(unknown)


# PRECIS FreeformClass (RFC 8264 §9): general categories that are never valid, and
# code points disallowed beyond them (old Hangul jamo, default-ignorable code points).
_DISALLOWED_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"})
_DISALLOWED_RANGES = (
    (0x034F, 0x034F),  # COMBINING GRAPHEME JOINER
    (0x1100, 0x11FF),  # Hangul Jamo (conjoining, RFC 5892 OldHangulJamo)
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),  # Mongolian variation selectors
    (0x3164, 0x3164),  # HANGUL FILLER
    (0xA960, 0xA97F),  # Hangul Jamo Extended-A
    (0xD7B0, 0xD7FF),  # Hangul Jamo Extended-B
    (0xFDD0, 0xFDEF),  # noncharacters
    (0xFE00, 0xFE0F),  # variation selectors
    (0xFFA0, 0xFFA0),  # HALFWIDTH HANGUL FILLER
    (0xE0000, 0xE0FFF),  # tags and variation selectors supplement
)
_JOIN_CONTROLS = ("\u200c", "\u200d")
_VIRAMA = 9  # canonical combining class of a virama (RFC 5892 Appendix A.1/A.2)


def opaque_string(value: str, what: str = "password") -> str:
    """Prepare ``value`` with the PRECIS OpaqueString profile (RFC 8265 §4.2).

    Non-ASCII spaces (Zs) become U+0020, the result is NFC-normalised (no width or case
    mapping), and it must be non-empty and made only of FreeformClass code points (RFC
    8264 §9): controls, format characters other than a ZWJ/ZWNJ after a virama (the
    CONTEXTJ rule), private-use, surrogates, unassigned and noncharacters, line and
    paragraph separators, old Hangul jamo and default-ignorable code points are refused
    with ``ValueError`` naming the code point.
    """
    mapped = "".join(" " if unicodedata.category(c) == "Zs" else c for c in value)
    prepared = unicodedata.normalize("NFC", mapped)
    if not prepared:
        raise ValueError(f"{what} must not be empty (RFC 8265 §4.2)")
    for index, char in enumerate(prepared):
        if not _freeform(prepared, index):
            name = unicodedata.name(char, "unnamed")
            raise ValueError(
                f"{what} contains U+{ord(char):04X} {name}, not allowed by OpaqueString"
                " (RFC 8265 §4.2)"
            )
    return prepared


def _freeform(text: str, index: int) -> bool:
    """Whether ``text[index]`` is valid in the PRECIS FreeformClass (RFC 8264 §9)."""
    char = text[index]
    if char in _JOIN_CONTROLS:  # CONTEXTJ: only after a virama
        return index > 0 and unicodedata.combining(text[index - 1]) == _VIRAMA
    point = ord(char)
    if (point & 0xFFFE) == 0xFFFE or unicodedata.category(char) in _DISALLOWED_CATEGORIES:
        return False
    return not any(low <= point <= high for low, high in _DISALLOWED_RANGES)


def long_term_key(username: str, realm: str, password: str) -> bytes:
    """Long-term credential key (RFC 8489 §9.2.2):
    ``MD5(username ":" OpaqueString(realm) ":" OpaqueString(password))``.

    Raises ``ValueError`` when the realm or password holds a code point OpaqueString
    refuses (see :func:`opaque_string`).
    """
    prepared = f"{username}:{opaque_string(realm, 'realm')}:{opaque_string(password)}"
    return hashlib.md5(prepared.encode(), usedforsecurity=False).digest()


def is_stun(data: bytes) -> bool:
    """RFC 7983 demultiplexing plus the magic cookie: first byte 0-3, cookie present."""
    return len(data) >= _HEADER_LENGTH and data[0] < 4 and data[4:8] == _COOKIE_BYTES


# ---------------------------------------------------------------------------------------
# Encoding


def _encode_address(value: AttributeValue, xor: bool, transaction_id: bytes) -> bytes:
    if not (isinstance(value, tuple) and len(value) == 2):
        raise LocalProtocolError(f"expected (host, port) address, got {value!r}")
    host, port = value
    if not isinstance(host, str) or not isinstance(port, int) or not 0 <= port <= 0xFFFF:
        raise LocalProtocolError(f"bad address {value!r}")
    family, packed = _pack_ip(host)
    if xor:
        port ^= MAGIC_COOKIE >> 16
        packed = _xor(packed, transaction_id)
    return struct.pack("!BBH", 0, family, port) + packed


def _pack_ip(host: str) -> tuple[int, bytes]:
    """(STUN address family, packed address) of an IP literal (a zone is ignored)."""
    try:  # fast path: an IPv4 address in canonical dotted-quad form
        packed = socket.inet_pton(socket.AF_INET, host)
        if socket.inet_ntop(socket.AF_INET, packed) == host:
            return 1, packed
    except (OSError, ValueError):
        pass
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError as exc:
        raise LocalProtocolError(f"bad IP address {host!r}") from exc
    return (1 if ip.version == 4 else 2), ip.packed


def _xor(packed: bytes, transaction_id: bytes) -> bytes:
    """An address XORed with the magic cookie (IPv4) or cookie + transaction id (IPv6)."""
    mask = _COOKIE_BYTES if len(packed) == 4 else _COOKIE_BYTES + transaction_id
    size = len(packed)
    value = int.from_bytes(packed, "big") ^ int.from_bytes(mask[:size], "big")
    return value.to_bytes(size, "big")


def _encode_value(attr_type: int, value: AttributeValue, transaction_id: bytes) -> bytes:
    kind = _KINDS.get(attr_type)
    if kind == _ADDRESS:
        return _encode_address(value, False, transaction_id)
    if kind == _XOR_ADDRESS:
        return _encode_address(value, True, transaction_id)
    if kind == _TEXT:
        if not isinstance(value, str):
            raise LocalProtocolError(f"attribute 0x{attr_type:04x} needs str")
        raw = value.encode()
        if len(raw) > _TEXT_LIMIT:
            raise LocalProtocolError(f"attribute 0x{attr_type:04x} too long")
        return raw
    if kind in (_U32, _U64, _CHANNEL, _TRANSPORT):
        if not isinstance(value, int) or value < 0:
            raise LocalProtocolError(f"attribute 0x{attr_type:04x} needs a non-negative int")
        if kind == _U32:
            return struct.pack("!I", value & 0xFFFFFFFF)
        if kind == _U64:
            return struct.pack("!Q", value & 0xFFFFFFFFFFFFFFFF)
        if kind == _CHANNEL:
            return struct.pack("!HH", value & 0xFFFF, 0)
        return struct.pack("!B3x", value & 0xFF)
    if kind == _FLAG:
        return b""
    if kind == _ERROR:
        if not isinstance(value, ErrorCode) or not 300 <= value.code <= 699:
            raise LocalProtocolError("ERROR-CODE needs an ErrorCode with code 300-699")
        return struct.pack("!HBB", 0, value.code // 100, value.code % 100) + value.reason.encode()
    if kind == _UNKNOWN:
        if not isinstance(value, tuple):
            raise LocalProtocolError("UNKNOWN-ATTRIBUTES needs a tuple of ints")
        return b"".join(struct.pack("!H", t & 0xFFFF) for t in value if isinstance(t, int))
    if not isinstance(value, bytes):
        raise LocalProtocolError(f"attribute 0x{attr_type:04x} needs bytes")
    return value


def _tlv(attr_type: int, body: bytes, pad: bytes) -> bytes:
    padding = (-len(body)) % 4
    return struct.pack("!HH", attr_type, len(body)) + body + pad * padding


def _message_type(method: int, message_class: int) -> int:
    return (
        (method & 0x000F)
        | ((method & 0x0070) << 1)
        | ((method & 0x0F80) << 2)
        | ((message_class & 1) << 4)
        | ((message_class & 2) << 7)
    )


def encode(
    message: Message,
    integrity_key: bytes | None = None,
    fingerprint: bool = False,
    *,
    sha256: bool = False,
    pad: bytes = b"\x00",
) -> bytes:
    """Serialise ``message``.

    MESSAGE-INTEGRITY (HMAC-SHA1, or MESSAGE-INTEGRITY-SHA256 when ``sha256``) keyed with
    ``integrity_key`` and FINGERPRINT are appended when asked; such attributes already in
    ``message.attributes`` are dropped (they are recomputed). ``pad`` is the padding byte
    (RFC 5769 vectors use spaces). Raises ``LocalProtocolError`` on ill-typed values.
    """
    if len(pad) != 1:
        raise LocalProtocolError("pad must be one byte")
    body = bytearray()
    for attr_type, value in message.attributes:
        if attr_type in (MESSAGE_INTEGRITY, MESSAGE_INTEGRITY_SHA256, FINGERPRINT):
            continue
        if not 0 <= attr_type <= 0xFFFF:
            raise LocalProtocolError(f"attribute type {attr_type} out of range")
        body += _tlv(attr_type, _encode_value(attr_type, value, message.transaction_id), pad)
    msg_type = _message_type(message.method, message.message_class)
    return finish(
        msg_type, message.transaction_id, bytes(body), integrity_key, fingerprint, sha256=sha256
    )


_SHA1_PADS: dict[bytes, tuple[hashlib._Hash, hashlib._Hash]] = {}
_SHA1_PADS_LIMIT = 256


def _hmac(key: bytes, message: bytes, algorithm: str) -> bytes:
    """HMAC (RFC 2104). For SHA-1, the one of every ICE check, the keyed inner and outer
    hash states are made once per key (a bounded memo: keys are per-connection ICE
    passwords) and copied, about half the cost of :func:`hmac.digest` each time."""
    if algorithm != "sha1":
        return hmac.digest(key, message, algorithm)
    key = bytes(key)  # hashable (no copy for bytes)
    pads = _SHA1_PADS.get(key)
    if pads is None:
        block = (hashlib.sha1(key).digest() if len(key) > 64 else key).ljust(64, b"\x00")
        inner = hashlib.sha1(bytes(b ^ 0x36 for b in block))
        outer = hashlib.sha1(bytes(b ^ 0x5C for b in block))
        if len(_SHA1_PADS) >= _SHA1_PADS_LIMIT:
            _SHA1_PADS.clear()
        pads = _SHA1_PADS[key] = (inner, outer)
    inner = pads[0].copy()
    inner.update(message)
    outer = pads[1].copy()
    outer.update(inner.digest())
    return outer.digest()


def finish(
    msg_type: int,
    transaction_id: bytes,
    body: bytes,
    integrity_key: bytes | None,
    fingerprint: bool,
    *,
    sha256: bool = False,
) -> bytes:
    """Header + already encoded attributes ``body``, then MESSAGE-INTEGRITY (or -SHA256)
    keyed with ``integrity_key`` and FINGERPRINT when asked (RFC 8489 §14.5-§14.7)."""
    head = _TYPE_LENGTH.pack
    tail = _COOKIE_BYTES + transaction_id
    if integrity_key is not None:
        attr, digest_size = (MESSAGE_INTEGRITY_SHA256, 32) if sha256 else (MESSAGE_INTEGRITY, 20)
        signed = head(msg_type, len(body) + 4 + digest_size) + tail + body
        body += head(attr, digest_size) + _hmac(
            integrity_key, signed, "sha256" if sha256 else "sha1"
        )
    if fingerprint:
        crc = zlib.crc32(head(msg_type, len(body) + 8) + tail + body)
        body += _FINGERPRINT_HEAD + _UINT32.pack(crc ^ _FINGERPRINT_XOR)
    if len(body) > 0xFFFF - _HEADER_LENGTH:
        raise LocalProtocolError("STUN message too long")
    return head(msg_type, len(body)) + tail + body


def xor_address_value(address: Address, transaction_id: bytes) -> bytes:
    """The value of an XOR-MAPPED-ADDRESS (or XOR-PEER/RELAYED-ADDRESS) attribute."""
    return _encode_address(address, True, transaction_id)


# ---------------------------------------------------------------------------------------
# Parsing


def _decode_address(body: bytes, xor: bool, transaction_id: bytes) -> Address:
    if len(body) < 4:
        raise StunParseError("address attribute too short")
    family = body[1]
    port = struct.unpack_from("!H", body, 2)[0]
    raw = body[4:]
    if family == 1:
        if len(raw) != 4:
            raise StunParseError("IPv4 address attribute must be 8 bytes")
    elif family == 2:
        if len(raw) != 16:
            raise StunParseError("IPv6 address attribute must be 20 bytes")
    else:
        raise StunParseError(f"unknown address family {family}")
    if xor:
        port ^= MAGIC_COOKIE >> 16
        raw = _xor(raw, transaction_id)
    if family == 1:  # inet_ntop's dotted quad is str(IPv4Address) exactly
        return (socket.inet_ntop(socket.AF_INET, raw), port)
    return (str(ipaddress.IPv6Address(raw)), port)


def _decode_text(body: bytes, attr_type: int) -> str:
    if len(body) > _TEXT_LIMIT:
        raise StunParseError(f"attribute 0x{attr_type:04x} too long")
    try:
        return body.decode()
    except UnicodeDecodeError as exc:
        raise StunParseError(f"attribute 0x{attr_type:04x} is not UTF-8") from exc


def _decode_fixed(body: bytes, size: int, attr_type: int) -> None:
    if len(body) != size:
        raise StunParseError(f"attribute 0x{attr_type:04x} must be {size} bytes")


def _decode_value(attr_type: int, body: bytes, transaction_id: bytes) -> AttributeValue:
    kind = _KINDS.get(attr_type)
    if kind == _ADDRESS:
        return _decode_address(body, False, transaction_id)
    if kind == _XOR_ADDRESS:
        return _decode_address(body, True, transaction_id)
    if kind == _TEXT:
        return _decode_text(body, attr_type)
    if kind == _U32:
        _decode_fixed(body, 4, attr_type)
        return int(struct.unpack("!I", body)[0])
    if kind == _U64:
        _decode_fixed(body, 8, attr_type)
        return int(struct.unpack("!Q", body)[0])
    if kind == _CHANNEL:
        _decode_fixed(body, 4, attr_type)
        return int(struct.unpack("!H", body[:2])[0])
    if kind == _TRANSPORT:
        _decode_fixed(body, 4, attr_type)
        return body[0]
    if kind == _FLAG:
        _decode_fixed(body, 0, attr_type)
        return None
    if kind == _ERROR:
        if len(body) < 4:
            raise StunParseError("ERROR-CODE too short")
        error_class, number = body[2] & 0x07, body[3]
        if not 3 <= error_class <= 6 or number > 99:
            raise StunParseError("ERROR-CODE out of range")
        return ErrorCode(error_class * 100 + number, _decode_text(body[4:], attr_type))
    if kind == _UNKNOWN:
        if len(body) % 2:
            raise StunParseError("UNKNOWN-ATTRIBUTES length must be even")
        return tuple(struct.unpack(f"!{len(body) // 2}H", body))
    if attr_type == MESSAGE_INTEGRITY:
        _decode_fixed(body, 20, attr_type)
    elif attr_type == MESSAGE_INTEGRITY_SHA256 and not 16 <= len(body) <= 32:
        raise StunParseError("MESSAGE-INTEGRITY-SHA256 must be 16-32 bytes")
    return bytes(body)


def _split_header(data: bytes) -> tuple[int, int, bytes]:
    """Validate the header; return (message type, length, transaction id)."""
    if len(data) < _HEADER_LENGTH:
        raise StunParseError("STUN message shorter than its header")
    msg_type, length = _TYPE_LENGTH.unpack_from(data)
    if msg_type & 0xC000:
        raise StunParseError("first two bits of a STUN message must be zero")
    if data[4:8] != _COOKIE_BYTES:
        raise StunParseError("bad magic cookie")
    if length % 4 or len(data) != _HEADER_LENGTH + length:
        raise StunParseError("STUN length does not match the datagram")
    return msg_type, length, bytes(data[8:20])


def parse_message(data: bytes) -> Message:
    """Parse one STUN message; raise only ``StunParseError``.

    Attributes after MESSAGE-INTEGRITY other than MESSAGE-INTEGRITY-SHA256 and
    FINGERPRINT are ignored, and nothing may follow FINGERPRINT (RFC 8489 §14.5, §14.7).
    """
    if not isinstance(data, bytes):
        data = bytes(data)  # slices of it are then bytes too
    try:
        msg_type, _, transaction_id = _split_header(data)
        method = (msg_type & 0x000F) | ((msg_type & 0x00E0) >> 1) | ((msg_type & 0x3E00) >> 2)
        message_class = _CLASSES[((msg_type & 0x0010) >> 4) | ((msg_type & 0x0100) >> 7)]
        attributes: list[tuple[int, AttributeValue]] = []
        after_integrity = False
        seen_fingerprint = False
        offset, size, unpack = _HEADER_LENGTH, len(data), _TYPE_LENGTH.unpack_from
        while offset < size:  # attributes; runs for every STUN message
            if offset + 4 > size:
                raise StunParseError("truncated attribute header")
            attr_type, attr_len = unpack(data, offset)
            start = offset + 4
            end = start + attr_len
            if end > size:
                raise StunParseError("attribute runs past the end of the message")
            offset = end + (-attr_len) % 4
            if seen_fingerprint:
                raise StunParseError("attribute after FINGERPRINT")
            if attr_type == FINGERPRINT:
                seen_fingerprint = True
            elif after_integrity and attr_type != MESSAGE_INTEGRITY_SHA256:
                continue
            kind = _KINDS.get(attr_type)
            value: AttributeValue
            if kind == _U32 and attr_len == 4:
                value = _UINT32.unpack_from(data, start)[0]
            elif kind == _U64 and attr_len == 8:
                value = _UINT64.unpack_from(data, start)[0]
            else:
                value = _decode_value(attr_type, data[start:end], transaction_id)
            attributes.append((attr_type, value))
            if attr_type in (MESSAGE_INTEGRITY, MESSAGE_INTEGRITY_SHA256):
                after_integrity = True
        return Message(
            _METHODS.get(method, method),
            message_class,
            transaction_id,
            tuple(attributes),
        )
    except StunParseError:
        raise
    except (ValueError, struct.error, IndexError) as exc:  # defensive: never leak others
        raise StunParseError(f"malformed STUN message: {exc}") from exc


def verify_integrity(data: bytes, key: bytes) -> bool:
    """Check MESSAGE-INTEGRITY (or, if absent, MESSAGE-INTEGRITY-SHA256) with ``key``.

    False when the attribute is missing, the message is malformed or the HMAC differs.
    """
    if not isinstance(data, bytes):
        data = bytes(data)
    try:
        _split_header(data)
    except StunParseError:
        return False
    offset, size, unpack = _HEADER_LENGTH, len(data), _TYPE_LENGTH.unpack_from
    while offset + 4 <= size:  # attributes, as in parse_message
        attr_type, attr_len = unpack(data, offset)
        end = offset + 4 + attr_len
        if end > size:
            return False
        if attr_type in (MESSAGE_INTEGRITY, MESSAGE_INTEGRITY_SHA256):
            if attr_type == MESSAGE_INTEGRITY and attr_len != 20:
                return False
            if attr_type == MESSAGE_INTEGRITY_SHA256 and not 16 <= attr_len <= 32:
                return False
            algorithm = "sha1" if attr_type == MESSAGE_INTEGRITY else "sha256"
            length = end - _HEADER_LENGTH
            signed = data[:2] + length.to_bytes(2, "big") + data[4:offset]
            mac = _hmac(key, signed, algorithm)[:attr_len]
            return hmac.compare_digest(mac, data[offset + 4 : end])
        offset = end + (-attr_len) % 4
    return False


def verify_fingerprint(data: bytes) -> bool:
    """True when the message ends with a FINGERPRINT attribute whose CRC-32 matches."""
    try:
        _split_header(data)
    except StunParseError:
        return False
    if len(data) < _HEADER_LENGTH + 8:
        return False
    attr_type, attr_len = struct.unpack_from("!HH", data, len(data) - 8)
    if attr_type != FINGERPRINT or attr_len != 4:
        return False
    expected = struct.unpack_from("!I", data, len(data) - 4)[0]
    return bool(zlib.crc32(data[:-8]) ^ _FINGERPRINT_XOR == expected)
