"""ICE states and events (W3C RTCIceTransportState; RFC 8445 §8.1 selected pair)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .stun import Address

__all__ = ["IceEvent", "IceState", "IceStateChanged", "SelectedPairChanged"]


class IceState(enum.Enum):
    """ICE transport states (W3C RTCIceTransportState)."""

    NEW = "new"
    CHECKING = "checking"
    CONNECTED = "connected"
    COMPLETED = "completed"
    DISCONNECTED = "disconnected"
    FAILED = "failed"
    CLOSED = "closed"


class IceEvent:
    """Base class of ICE events."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class IceStateChanged(IceEvent):
    state: IceState


@dataclass(frozen=True, slots=True)
class SelectedPairChanged(IceEvent):
    """Send on ``local_address`` (a base) to ``remote_address`` from now on.

    First the best valid pair, as soon as a check succeeds (RFC 8445 §12.1); later the
    nominated pair if it differs (§8.1.1). Datagrams from any valid pair stay acceptable.
    """

    local_address: Address
    remote_address: Address
