"""DTLS record-layer framing, parsed only as far as the transport needs it.

RFC 6347 §4.1 (record header: type, version, epoch, sequence number, length) and §4.2.2
(handshake header, for the ``message_seq`` that steers retransmission). Nothing here
decrypts: OpenSSL does that in :mod:`trio_webrtc.dtls.transport`. Parsing raises only
:class:`DtlsParseError`.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from ..errors import ParseError

__all__ = [
    "CONTENT_ALERT",
    "CONTENT_APPLICATION_DATA",
    "CONTENT_CHANGE_CIPHER_SPEC",
    "CONTENT_HANDSHAKE",
    "DtlsParseError",
    "RecordHeader",
    "parse_record_headers",
]

CONTENT_CHANGE_CIPHER_SPEC = 20
CONTENT_ALERT = 21
CONTENT_HANDSHAKE = 22
CONTENT_APPLICATION_DATA = 23
_KNOWN_CONTENT_TYPES = frozenset(
    (CONTENT_CHANGE_CIPHER_SPEC, CONTENT_ALERT, CONTENT_HANDSHAKE, CONTENT_APPLICATION_DATA)
)

_RECORD_HEADER = struct.Struct("!BHQH")  # type, version, epoch (2 bytes) + seq (6), length
RECORD_HEADER_SIZE = 13
_SEQ_MASK = (1 << 48) - 1
_HANDSHAKE_HEADER_SIZE = 12
HANDSHAKE_CLIENT_HELLO = 1
_MAX_RECORD_PAYLOAD = 2**14 + 2048  # RFC 6347 §4.1: DTLSCiphertext.length limit


class DtlsParseError(ParseError):
    """A datagram is not a sequence of well-formed DTLS 1.x records."""


class RecordHeader(NamedTuple):
    """One record of a datagram: header fields plus where its fragment lies."""

    content_type: int
    version: int
    epoch: int
    sequence_number: int
    offset: int  # index of the fragment (payload) in the datagram
    length: int


def parse_record_headers(data: bytes) -> list[RecordHeader]:
    """Split a datagram into DTLS record headers (RFC 6347 §4.1).

    Raises :class:`DtlsParseError` (only) unless every byte belongs to a complete record
    whose content type is change_cipher_spec, alert, handshake or application_data and
    whose version is a DTLS version (major byte 254).
    """
    headers: list[RecordHeader] = []
    offset = 0
    end = len(data)
    if end == 0:
        raise DtlsParseError("empty datagram")
    while offset < end:
        if end - offset < RECORD_HEADER_SIZE:
            raise DtlsParseError("truncated record header")
        content_type, version, epoch_seq, length = _RECORD_HEADER.unpack_from(data, offset)
        if content_type not in _KNOWN_CONTENT_TYPES:
            raise DtlsParseError(f"unknown content type {content_type}")
        if version >> 8 != 0xFE:
            raise DtlsParseError(f"not a DTLS version: {version:#06x}")
        if length > _MAX_RECORD_PAYLOAD:
            raise DtlsParseError("record too long")
        payload = offset + RECORD_HEADER_SIZE
        if payload + length > end:
            raise DtlsParseError("truncated record")
        headers.append(
            RecordHeader(
                content_type, version, epoch_seq >> 48, epoch_seq & _SEQ_MASK, payload, length
            )
        )
        offset = payload + length
    return headers


def handshake_message_seq(data: bytes, header: RecordHeader) -> int | None:
    """The message_seq of an epoch-0 handshake record's first fragment, else None."""
    if (
        header.content_type != CONTENT_HANDSHAKE
        or header.epoch != 0
        or header.length < _HANDSHAKE_HEADER_SIZE
    ):
        return None
    start = header.offset + 4  # after msg_type (1) and length (3)
    return (data[start] << 8) | data[start + 1]
