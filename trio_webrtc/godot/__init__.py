"""The Godot face: Godot 4's WebRTC classes, name for name and value for value.

``WebRTCPeerConnection``, ``WebRTCPeerConnectionExtension``, ``WebRTCDataChannel``,
``WebRTCMultiplayerPeer`` (and its base ``MultiplayerPeer``), ``Error``
(``@GlobalScope.Error``) and ``Signal``, as a thin shim over
:class:`~trio_webrtc.core.PeerConnectionCore` (RFC 8831/8832 data channels, RFC 9429
signaling; the RFC sections are named in the submodules). Use a connection inside
``async with WebRTCPeerConnection() as pc:``, call ``pc.poll()`` regularly; signal
callbacks run only inside ``poll()``.

``Error`` and ``Signal`` import without the protocol stack; the connection classes are
loaded on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._errors import Error, error_for
from ._signals import GodotObject, Signal, SignalDescriptor

if TYPE_CHECKING:
    from ._channel import WebRTCDataChannel
    from ._multiplayer import MultiplayerPeer, WebRTCMultiplayerPeer
    from ._peer import WebRTCPeerConnection, WebRTCPeerConnectionExtension, channel_parameters

_LAZY = {
    "MultiplayerPeer": "_multiplayer",
    "WebRTCMultiplayerPeer": "_multiplayer",
    "WebRTCDataChannel": "_channel",
    "WebRTCPeerConnection": "_peer",
    "WebRTCPeerConnectionExtension": "_peer",
    "channel_parameters": "_peer",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'trio_webrtc.godot' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "Error",
    "GodotObject",
    "MultiplayerPeer",
    "Signal",
    "SignalDescriptor",
    "WebRTCDataChannel",
    "WebRTCMultiplayerPeer",
    "WebRTCPeerConnection",
    "WebRTCPeerConnectionExtension",
    "channel_parameters",
    "error_for",
]
