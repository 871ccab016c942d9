"""Data-channel value types: parameters, ready states and the manager's events.

Implements the channel parameters of RFC 8831 §6.4 (reliability: reliable, limited
retransmissions, limited lifetime; ordering; priority) as the W3C ``RTCDataChannelInit``
carries them, their mapping onto DATA_CHANNEL_OPEN (RFC 8832 §5.1: label and protocol up
to 65,535 UTF-8 bytes each), and the stream-id range of RFC 8831 §6.5 (65,535 is
reserved). :mod:`.channels` re-exports every name.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ..errors import LocalProtocolError
from .dcep import ChannelType, DataChannelOpen

__all__ = [
    "MAX_STREAM_ID",
    "ChannelBufferedAmountLow",
    "ChannelClosed",
    "ChannelClosing",
    "ChannelEvent",
    "ChannelMessage",
    "ChannelOpened",
    "ChannelParameters",
    "ChannelState",
    "IncomingChannel",
    "InvalidParametersError",
]

MAX_STREAM_ID = 65534  # 65535 is reserved (RFC 8831 §6.5)
_MAX_STREAM_ID = MAX_STREAM_ID
_U16_MAX = 0xFFFF
_U32_MAX = 0xFFFFFFFF


class InvalidParametersError(LocalProtocolError, ValueError):
    """Channel parameters the protocol cannot express (RFC 8831 §6.4, RFC 8832 §5.1)."""


class ChannelState(enum.IntEnum):
    """Channel ready state; values match Godot's ``WebRTCDataChannel.ChannelState``."""

    CONNECTING = 0
    OPEN = 1
    CLOSING = 2
    CLOSED = 3


@dataclass(frozen=True, slots=True)
class ChannelParameters:
    """What the application asks for when creating a channel (RTCDataChannelInit).

    ``max_packet_lifetime`` is in milliseconds. ``id`` is honoured only for negotiated
    channels (as in the W3C spec); in-band channels get an id by DTLS role. Raises
    :class:`InvalidParametersError` for contradictory or out-of-range values.
    """

    label: str = ""
    protocol: str = ""
    ordered: bool = True
    max_retransmits: int | None = None
    max_packet_lifetime: int | None = None
    negotiated: bool = False
    id: int | None = None
    priority: int = 256

    def __post_init__(self) -> None:
        if self.max_retransmits is not None and self.max_packet_lifetime is not None:
            raise InvalidParametersError(
                "max_retransmits and max_packet_lifetime are mutually exclusive"
            )
        for name, value in (
            ("max_retransmits", self.max_retransmits),
            ("max_packet_lifetime", self.max_packet_lifetime),
        ):
            if value is not None and not 0 <= value <= _U32_MAX:
                raise InvalidParametersError(f"{name}={value} outside 0..2**32-1")
        if self.negotiated and self.id is None:
            raise InvalidParametersError("a negotiated channel needs an id")
        if self.id is not None and not 0 <= self.id <= _MAX_STREAM_ID:
            raise InvalidParametersError(f"id {self.id} outside 0..{_MAX_STREAM_ID}")
        if not 0 <= self.priority <= _U16_MAX:
            raise InvalidParametersError(f"priority {self.priority} outside 0..65535")
        for name, text in (("label", self.label), ("protocol", self.protocol)):
            try:
                size = len(text.encode("utf-8"))
            except UnicodeEncodeError:
                raise InvalidParametersError(f"{name} is not encodable as UTF-8") from None
            if size > _U16_MAX:
                raise InvalidParametersError(f"{name} is {size} UTF-8 bytes; the limit is 65535")

    def to_open_message(self) -> DataChannelOpen:
        """The DATA_CHANNEL_OPEN announcing a channel with these parameters."""
        if self.max_retransmits is not None:
            reliability, parameter = 1, self.max_retransmits
        elif self.max_packet_lifetime is not None:
            reliability, parameter = 2, self.max_packet_lifetime
        else:
            reliability, parameter = 0, 0
        return DataChannelOpen(
            ChannelType.build(ordered=self.ordered, reliability=reliability),
            self.priority,
            parameter,
            self.label,
            self.protocol,
        )

    @classmethod
    def from_open_message(cls, message: DataChannelOpen, stream_id: int) -> ChannelParameters:
        """The parameters of a channel the peer announced on ``stream_id``."""
        return cls(
            label=message.label,
            protocol=message.protocol,
            ordered=message.ordered,
            max_retransmits=message.max_retransmits,
            max_packet_lifetime=message.max_packet_lifetime,
            negotiated=False,
            id=stream_id,
            priority=message.priority,
        )


@dataclass(frozen=True, slots=True)
class ChannelEvent:
    """Base class of the manager's events; ``key`` is the channel's local handle."""

    key: int


@dataclass(frozen=True, slots=True)
class IncomingChannel(ChannelEvent):
    """The peer opened a channel in-band; ``ChannelOpened`` for it follows."""


@dataclass(frozen=True, slots=True)
class ChannelOpened(ChannelEvent):
    """The channel is OPEN: messages can be sent and will be delivered."""


@dataclass(frozen=True, slots=True)
class ChannelMessage(ChannelEvent):
    """A user message. ``nbytes`` is what it occupies in the SCTP receive window (an
    empty message counts its one padding byte); pass it to ``message_read`` once read."""

    data: bytes | str
    nbytes: int


@dataclass(frozen=True, slots=True)
class ChannelClosing(ChannelEvent):
    """Closing started (locally or by the peer's stream reset)."""


@dataclass(frozen=True, slots=True)
class ChannelClosed(ChannelEvent):
    """The channel is CLOSED; its stream id is free again."""


@dataclass(frozen=True, slots=True)
class ChannelBufferedAmountLow(ChannelEvent):
    """The SCTP send buffer of the channel fell to its low threshold."""
