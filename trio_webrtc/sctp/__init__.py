"""SCTP over DTLS for WebRTC data channels (RFC 9260, RFC 8261, RFC 3758, RFC 6525).

Sans-I/O: :class:`SctpAssociation` takes packets and time, and hands back packets,
timer deadlines and :class:`SctpEvent` objects. See ``docs/architecture.md``.
"""

from __future__ import annotations

from .association import SctpAssociation
from .events import (
    AssociationClosed,
    AssociationEstablished,
    AssociationState,
    BufferedAmountLow,
    DataReceived,
    OutgoingStreamsReset,
    SctpEvent,
    SendBufferFullError,
    StreamsReset,
)

__all__ = [
    "AssociationClosed",
    "AssociationEstablished",
    "AssociationState",
    "BufferedAmountLow",
    "DataReceived",
    "OutgoingStreamsReset",
    "SctpAssociation",
    "SctpEvent",
    "SendBufferFullError",
    "StreamsReset",
]
