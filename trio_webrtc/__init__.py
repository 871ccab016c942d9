"""trio-webrtc: WebRTC data channels for Trio, written from scratch.

Two faces over one sans-I/O core:

* the Trio face — :class:`PeerConnection` and :class:`DataChannel`
  (``trio.abc.Channel[bytes | str]``);
* the Godot face — ``WebRTCPeerConnection``, ``WebRTCDataChannel``,
  ``WebRTCPeerConnectionExtension`` and ``Error`` in :mod:`trio_webrtc.godot`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

# Silent unless the application configures logging (the library convention).
logging.getLogger("trio_webrtc").addHandler(logging.NullHandler())

if TYPE_CHECKING:
    from .config import Configuration, IceServer
    from .core import ConnectionState, GatheringState
    from .datachannel.channels import ChannelState
    from .errors import (
        CloseTimeoutError,
        ConnectionFailedError,
        InvalidStateError,
        LocalProtocolError,
        MessageTooLargeError,
        ParseError,
        ProtocolError,
        RemoteProtocolError,
        WebRTCError,
    )
    from .ice import IceState
    from .peer_connection import (
        DataChannel,
        IceCandidate,
        PeerConnection,
        SctpTransport,
        connect_pair,
    )
    from .sdp.jsep import SignalingState

# Imported on first use, so that ``import trio_webrtc.sdp`` (say) loads only that layer.
_LAZY = {
    "ChannelState": "datachannel.channels",
    "Configuration": "config",
    "IceServer": "config",
    "ConnectionState": "core",
    "GatheringState": "core",
    "CloseTimeoutError": "errors",
    "ConnectionFailedError": "errors",
    "InvalidStateError": "errors",
    "LocalProtocolError": "errors",
    "MessageTooLargeError": "errors",
    "ParseError": "errors",
    "ProtocolError": "errors",
    "RemoteProtocolError": "errors",
    "WebRTCError": "errors",
    "DataChannel": "peer_connection",
    "IceCandidate": "peer_connection",
    "PeerConnection": "peer_connection",
    "SctpTransport": "peer_connection",
    "connect_pair": "peer_connection",
    "IceState": "ice",
    "SignalingState": "sdp.jsep",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'trio_webrtc' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


__version__ = "0.2.0.dev0"  # the one place the version is set (pyproject reads it)

__all__ = [
    "ChannelState",
    "CloseTimeoutError",
    "Configuration",
    "ConnectionFailedError",
    "ConnectionState",
    "DataChannel",
    "GatheringState",
    "IceCandidate",
    "IceServer",
    "IceState",
    "InvalidStateError",
    "LocalProtocolError",
    "MessageTooLargeError",
    "ParseError",
    "PeerConnection",
    "ProtocolError",
    "RemoteProtocolError",
    "SctpTransport",
    "SignalingState",
    "WebRTCError",
    "__version__",
    "connect_pair",
]
