"""WebRTC data channels: DCEP and the channel manager over an SCTP association.

Layer map (each module's docstring names its sections):

* :mod:`.dcep` — the Data Channel Establishment Protocol codec (RFC 8832 §5, §8) and
  the payload protocol identifiers (RFC 8831 §8). It imports nothing from this package.
* :mod:`.channels` — the channel lifecycle (RFC 8831 §6, RFC 8832 §6): opening in-band
  and negotiated, stream ids by DTLS role, reliability, close by stream reset (RFC 8831
  §6.7, RFC 6525), max-message-size (RFC 8841 §6), channel limits.
* :mod:`.incoming` — receiving DCEP (RFC 8832 §6: ACK, or refusal by stream reset) and
  early data for channels not yet created.
* :mod:`.records` — channel parameters, states and events (RFC 8831 §6.4).

Sans-I/O: calls, SCTP events and ``now`` in; SCTP sends and channel events out.
"""

from __future__ import annotations

from .channels import (
    DEFAULT_MAX_CHANNELS,
    DEFAULT_MAX_MESSAGE_SIZE,
    ChannelBufferedAmountLow,
    ChannelClosed,
    ChannelClosing,
    ChannelEvent,
    ChannelManager,
    ChannelMessage,
    ChannelOpened,
    ChannelParameters,
    ChannelState,
    DataChannelInfo,
    IncomingChannel,
    InvalidParametersError,
    SctpTransport,
)
from .dcep import (
    MAX_DCEP_MESSAGE_SIZE,
    ChannelType,
    DataChannelAck,
    DataChannelOpen,
    MessageType,
    Ppid,
    Priority,
    parse_dcep,
)

__all__ = [
    "DEFAULT_MAX_CHANNELS",
    "DEFAULT_MAX_MESSAGE_SIZE",
    "MAX_DCEP_MESSAGE_SIZE",
    "ChannelBufferedAmountLow",
    "ChannelClosed",
    "ChannelClosing",
    "ChannelEvent",
    "ChannelManager",
    "ChannelMessage",
    "ChannelOpened",
    "ChannelParameters",
    "ChannelState",
    "ChannelType",
    "DataChannelAck",
    "DataChannelInfo",
    "DataChannelOpen",
    "IncomingChannel",
    "InvalidParametersError",
    "MessageType",
    "Ppid",
    "Priority",
    "SctpTransport",
    "parse_dcep",
]
