"""Events an :class:`~trio_webrtc.sctp.SctpAssociation` reports through ``next_event()``.

Implements the upper-layer notifications of RFC 9260 §11.2 (COMMUNICATION UP with the
negotiated stream counts of §5.1.1, DATA ARRIVE, RESTART of §5.2.4 A, COMMUNICATION
LOST, SHUTDOWN COMPLETE) and RFC 6525 §6.1 (stream reset events),
shaped for WebRTC data channels (RFC 8831 §6).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ..errors import LocalProtocolError

__all__ = [
    "AssociationClosed",
    "AssociationEstablished",
    "AssociationRestarted",
    "AssociationState",
    "BufferedAmountLow",
    "DataReceived",
    "MessageTooLarge",
    "OutgoingStreamsReset",
    "SctpEvent",
    "SendBufferFullError",
    "StreamsReset",
]


class AssociationState(enum.Enum):
    """Association states of RFC 9260 §4."""

    CLOSED = "closed"
    COOKIE_WAIT = "cookie-wait"
    COOKIE_ECHOED = "cookie-echoed"
    ESTABLISHED = "established"
    SHUTDOWN_PENDING = "shutdown-pending"
    SHUTDOWN_SENT = "shutdown-sent"
    SHUTDOWN_RECEIVED = "shutdown-received"
    SHUTDOWN_ACK_SENT = "shutdown-ack-sent"


class SendBufferFullError(LocalProtocolError):
    """``send()`` would buffer more than ``max_send_buffer`` bytes; nothing was queued."""


@dataclass(frozen=True, slots=True)
class SctpEvent:
    """Base class of SCTP association events."""


@dataclass(frozen=True, slots=True)
class AssociationEstablished(SctpEvent):
    """The association reached ESTABLISHED; ``send()`` data now flows.

    ``outbound_streams``: stream ids we may send on are below it (the peer's MIS);
    ``inbound_streams``: the peer may send on ids below it (its OS, our MIS)."""

    outbound_streams: int = 65535
    inbound_streams: int = 65535


@dataclass(frozen=True, slots=True)
class AssociationRestarted(SctpEvent):
    """The peer restarted the association (RFC 9260 §5.2.4 A): new tags and TSNs, queued
    data dropped, every stream's SSNs back at 0; it is ESTABLISHED again."""

    outbound_streams: int = 65535
    inbound_streams: int = 65535


@dataclass(frozen=True, slots=True)
class MessageTooLarge(SctpEvent):
    """A message on ``stream_id`` grew beyond ``limit`` bytes and was discarded."""

    stream_id: int
    limit: int


@dataclass(frozen=True, slots=True)
class DataReceived(SctpEvent):
    """One complete user message. Call ``data_consumed(len(data))`` once it is read."""

    stream_id: int
    ppid: int
    data: bytes
    unordered: bool


_new = object.__new__
_SET_DATA_RECEIVED = tuple(
    DataReceived.__dict__[name].__set__ for name in ("stream_id", "ppid", "data", "unordered")
)


def data_received(stream_id: int, ppid: int, data: bytes, unordered: bool) -> DataReceived:
    """``DataReceived(stream_id, ppid, data, unordered)`` for the receive hot path: the
    frozen dataclass's ``__init__`` calls ``object.__setattr__`` per field, setting the
    slots through their descriptors costs about half (one event per message)."""
    event = _new(DataReceived)
    set_sid, set_ppid, set_data, set_unordered = _SET_DATA_RECEIVED
    set_sid(event, stream_id)
    set_ppid(event, ppid)
    set_data(event, data)
    set_unordered(event, unordered)
    return event


@dataclass(frozen=True, slots=True)
class StreamsReset(SctpEvent):
    """The peer reset these outgoing streams of its own (our incoming streams)."""

    stream_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class OutgoingStreamsReset(SctpEvent):
    """Our ``reset_streams()`` request was performed by the peer."""

    stream_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class BufferedAmountLow(SctpEvent):
    """The stream's buffered amount fell from above its threshold to at most it."""

    stream_id: int


@dataclass(frozen=True, slots=True)
class AssociationClosed(SctpEvent):
    """The association is gone. ``error`` is False only after a graceful SHUTDOWN."""

    reason: str
    error: bool
