"""States and events of the peer-connection core.

Connection and gathering states carry W3C ``RTCPeerConnectionState`` /
``RTCIceGatheringState`` meanings with Godot's values; the events are what the faces
consume (channel events from :mod:`trio_webrtc.datachannel.channels` are passed through
as they are).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ..sdp.jsep import SignalingState
from ..sdp.media import NegotiatedMedia

__all__ = [
    "ConnectionBroken",
    "ConnectionState",
    "ConnectionStateChanged",
    "CoreEvent",
    "GatheringState",
    "GatheringStateChanged",
    "LocalCandidate",
    "MediaNegotiated",
    "SignalingStateChanged",
]


class ConnectionState(enum.IntEnum):
    """W3C RTCPeerConnectionState, with Godot's values."""

    NEW = 0
    CONNECTING = 1
    CONNECTED = 2
    DISCONNECTED = 3
    FAILED = 4
    CLOSED = 5


class GatheringState(enum.IntEnum):
    """W3C RTCIceGatheringState, with Godot's values."""

    NEW = 0
    GATHERING = 1
    COMPLETE = 2


class CoreEvent:
    """Base of the events the core emits (channel events are passed through as-is)."""

    __slots__ = ()


@dataclass(frozen=True)
class LocalCandidate(CoreEvent):
    """A local candidate to signal; ``candidate`` None means end-of-candidates."""

    candidate: str | None
    sdp_mid: str
    sdp_mline_index: int


@dataclass(frozen=True)
class ConnectionStateChanged(CoreEvent):
    state: ConnectionState


@dataclass(frozen=True)
class GatheringStateChanged(CoreEvent):
    state: GatheringState


@dataclass(frozen=True)
class SignalingStateChanged(CoreEvent):
    state: SignalingState


@dataclass(frozen=True)
class ConnectionBroken(CoreEvent):
    """The transport broke (ICE failed or lost consent, DTLS failed, SCTP ABORT or too
    many retransmissions): emitted before the ``ChannelClosed`` events this causes, so a
    face can tell channels ended by the failure from channels closed in order before it.
    ``reason`` names the cause."""

    reason: str


@dataclass(frozen=True)
class MediaNegotiated(CoreEvent):
    """An offer/answer exchange completed (signaling went stable) with audio/video
    m-sections negotiated: every accepted one, as ``PeerConnectionCore.negotiated_media``
    now holds them (rejected and removed sections are absent)."""

    media: tuple[NegotiatedMedia, ...]
