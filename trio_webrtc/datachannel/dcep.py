"""DCEP codec: DATA_CHANNEL_OPEN and DATA_CHANNEL_ACK, channel types and PPIDs.

Implements RFC 8832 §5 (message formats: §5.1 DATA_CHANNEL_OPEN, §5.2 DATA_CHANNEL_ACK)
and §8 (message-type and channel-type registries), and the SCTP payload protocol
identifiers of RFC 8831 §8. Pure functions and value objects; the channel procedures of
RFC 8832 §6 live in :mod:`trio_webrtc.datachannel.channels`, which imports this module
(never the other way round).
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

from ..errors import DcepParseError, LocalProtocolError

__all__ = [
    "MAX_DCEP_MESSAGE_SIZE",
    "ChannelType",
    "DataChannelAck",
    "DataChannelOpen",
    "MessageType",
    "Ppid",
    "Priority",
    "parse_dcep",
]

#: Largest DCEP message there is: a DATA_CHANNEL_OPEN with a 65,535-byte label and a
#: 65,535-byte protocol (RFC 8832 §5.1). The SCTP layer reassembles messages this large
#: whatever max-message-size is advertised.
MAX_DCEP_MESSAGE_SIZE = 12 + 2 * 0xFFFF

_OPEN_HEADER = struct.Struct("!BBHIHH")
_U16_MAX = 0xFFFF
_U32_MAX = 0xFFFFFFFF


class Ppid(enum.IntEnum):
    """SCTP payload protocol identifiers used by WebRTC (RFC 8831 §8)."""

    DCEP = 50
    STRING = 51
    BINARY_PARTIAL = 52  # deprecated; never sent, dropped on receipt
    BINARY = 53
    STRING_PARTIAL = 54  # deprecated; never sent, dropped on receipt
    STRING_EMPTY = 56
    BINARY_EMPTY = 57


class MessageType(enum.IntEnum):
    """DCEP message types (RFC 8832 §8.2.1)."""

    DATA_CHANNEL_ACK = 0x02
    DATA_CHANNEL_OPEN = 0x03


class ChannelType(enum.IntEnum):
    """DCEP channel types (RFC 8832 §5.1, §8.2.2). Bit 0x80 means unordered."""

    RELIABLE = 0x00
    RELIABLE_UNORDERED = 0x80
    PARTIAL_RELIABLE_REXMIT = 0x01
    PARTIAL_RELIABLE_REXMIT_UNORDERED = 0x81
    PARTIAL_RELIABLE_TIMED = 0x02
    PARTIAL_RELIABLE_TIMED_UNORDERED = 0x82

    @property
    def ordered(self) -> bool:
        return not self.value & 0x80

    @property
    def reliability(self) -> int:
        """0 reliable, 1 limited retransmissions, 2 limited lifetime."""
        return self.value & 0x7F

    @classmethod
    def build(cls, *, ordered: bool, reliability: int) -> ChannelType:
        """The channel type for an ordering and a reliability kind (0, 1 or 2)."""
        return cls(reliability | (0 if ordered else 0x80))


class Priority(enum.IntEnum):
    """Conventional DCEP priority values (RFC 8831 §6.4, RFC 8832 §5.1)."""

    BELOW_NORMAL = 128
    NORMAL = 256
    HIGH = 512
    EXTRA_HIGH = 1024


@dataclass(frozen=True, slots=True)
class DataChannelOpen:
    """A DATA_CHANNEL_OPEN message (RFC 8832 §5.1).

    ``reliability_parameter`` is the retransmission count for the REXMIT types, the
    lifetime in milliseconds for the TIMED types, and ignored (sent as 0) otherwise.
    """

    channel_type: ChannelType = ChannelType.RELIABLE
    priority: int = Priority.NORMAL
    reliability_parameter: int = 0
    label: str = ""
    protocol: str = ""

    @property
    def ordered(self) -> bool:
        return self.channel_type.ordered

    @property
    def max_retransmits(self) -> int | None:
        """The retransmission limit, or None unless the type is PARTIAL_RELIABLE_REXMIT."""
        return self.reliability_parameter if self.channel_type.reliability == 1 else None

    @property
    def max_packet_lifetime(self) -> int | None:
        """The lifetime in ms, or None unless the type is PARTIAL_RELIABLE_TIMED."""
        return self.reliability_parameter if self.channel_type.reliability == 2 else None

    def encode(self) -> bytes:
        """Serialize; raises :class:`LocalProtocolError` if a field is out of range."""
        try:
            label = self.label.encode("utf-8")
            protocol = self.protocol.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise LocalProtocolError(f"label/protocol is not encodable as UTF-8: {exc}") from exc
        if not 0 <= self.priority <= _U16_MAX:
            raise LocalProtocolError(f"priority {self.priority} outside 0..65535")
        if not 0 <= self.reliability_parameter <= _U32_MAX:
            raise LocalProtocolError(
                f"reliability parameter {self.reliability_parameter} outside 0..2**32-1"
            )
        if len(label) > _U16_MAX or len(protocol) > _U16_MAX:
            raise LocalProtocolError("label and protocol are limited to 65535 UTF-8 bytes each")
        reliability = self.reliability_parameter if self.channel_type.reliability else 0
        header = _OPEN_HEADER.pack(
            MessageType.DATA_CHANNEL_OPEN,
            self.channel_type,
            self.priority,
            reliability,
            len(label),
            len(protocol),
        )
        return header + label + protocol


@dataclass(frozen=True, slots=True)
class DataChannelAck:
    """A DATA_CHANNEL_ACK message (RFC 8832 §5.2): a single message-type byte."""

    def encode(self) -> bytes:
        return bytes((MessageType.DATA_CHANNEL_ACK,))


def parse_dcep(data: bytes | bytearray | memoryview) -> DataChannelOpen | DataChannelAck:
    """Parse one DCEP message (the whole SCTP user message).

    Raises only :class:`DcepParseError`: empty or oversized input (above
    :data:`MAX_DCEP_MESSAGE_SIZE`, which no valid message reaches), unknown
    message or channel type, label/protocol lengths that do not exactly fill the buffer,
    trailing bytes after an ACK, or label/protocol that is not valid UTF-8.
    """
    size = memoryview(data).nbytes
    if size == 0:
        raise DcepParseError("empty DCEP message")
    if size > MAX_DCEP_MESSAGE_SIZE:
        raise DcepParseError(f"DCEP message of {size} bytes exceeds {MAX_DCEP_MESSAGE_SIZE}")
    view = bytes(data)
    message_type = view[0]
    if message_type == MessageType.DATA_CHANNEL_ACK:
        if size != 1:
            raise DcepParseError(f"DATA_CHANNEL_ACK must be 1 byte, got {size}")
        return DataChannelAck()
    if message_type != MessageType.DATA_CHANNEL_OPEN:
        raise DcepParseError(f"unknown DCEP message type 0x{message_type:02x}")
    if size < _OPEN_HEADER.size:
        raise DcepParseError(f"DATA_CHANNEL_OPEN truncated: {size} bytes")
    _, raw_type, priority, reliability, label_len, protocol_len = _OPEN_HEADER.unpack_from(view)
    try:
        channel_type = ChannelType(raw_type)
    except ValueError:
        raise DcepParseError(f"unknown DCEP channel type 0x{raw_type:02x}") from None
    end_label = _OPEN_HEADER.size + label_len
    if end_label + protocol_len != size:
        raise DcepParseError(
            f"label ({label_len}) and protocol ({protocol_len}) lengths do not match the "
            f"{size - _OPEN_HEADER.size} bytes that follow the header"
        )
    try:
        label = view[_OPEN_HEADER.size : end_label].decode("utf-8")
        protocol = view[end_label:].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DcepParseError(f"label/protocol is not valid UTF-8: {exc}") from None
    return DataChannelOpen(channel_type, priority, reliability, label, protocol)
