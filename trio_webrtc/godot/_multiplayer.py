"""Godot's ``MultiplayerPeer`` and ``WebRTCMultiplayerPeer``: a mesh or client/server of
``WebRTCPeerConnection`` objects for Godot's high-level multiplayer.

No protocol of its own: each connection carries negotiated data channels (RFC 8831 §6.5,
"negotiated" out of band, so no DCEP) with the ids, labels and reliability Godot 4's
``modules/webrtc/webrtc_multiplayer_peer.cpp`` uses, and packets go on the wire exactly
as the application passed them -- Godot prepends no header (relaying and peer exchange
belong to the ``MultiplayerAPI`` layer above), so this interoperates with Godot games.

Per peer, ``add_peer`` creates, in this order (the ``channels`` list of ``get_peer``):

====  ============  =========  ===========================  ==========================
 id   label         ordered    maxPacketLifetime (ms)       transfer mode
====  ============  =========  ===========================  ==========================
  1   "reliable"    yes        --                           TRANSFER_MODE_RELIABLE
  2   "ordered"     yes        ``unreliable_lifetime``      TRANSFER_MODE_UNRELIABLE_ORDERED
  3   "unreliable"  no         ``unreliable_lifetime``      TRANSFER_MODE_UNRELIABLE
 3+n  "3+n"         per mode   1 unless RELIABLE            ``channels_config[n-1]``
====  ============  =========  ===========================  ==========================

``transfer_channel`` 0 picks one of the first three by ``transfer_mode``; channel
``n > 0`` is the extra channel with id ``3 + n``.

The object owns no tasks: each connection must be used inside its own ``async with``,
and the application's ``poll()`` drives everything (it polls every connection and
channel, then emits ``peer_connected``/``peer_disconnected``). A peer counts as connected
once its connection is CONNECTED and all its channels are OPEN; it is removed when its
connection is DISCONNECTED, FAILED or CLOSED, or any of its channels closes.

Where Godot relies on reference counting (a connection dropped from the peer map is
freed, hence closed), this module closes it explicitly: ``remove_peer``,
``disconnect_peer(id, True)``, ``close()`` and replacing a peer id close the connection,
so the other side notices (a replaced connected peer also gets ``peer_disconnected``).
"""

from __future__ import annotations

import enum
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ._channel import WebRTCDataChannel
from ._errors import Error
from ._peer import WebRTCPeerConnection
from ._signals import GodotObject, SignalDescriptor

__all__ = ["MultiplayerPeer", "WebRTCMultiplayerPeer"]

logger = logging.getLogger("trio_webrtc.godot")

_MAX_ID = 0x7FFFFFFF  # Godot: ~(1 << 31)
_CH_RELIABLE = 0
_CH_ORDERED = 1
_CH_UNRELIABLE = 2
_CH_RESERVED_MAX = 3
_MAX_PACKET_SIZE = 1200  # Godot's WebRTCMultiplayerPeer::get_max_packet_size()


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class MultiplayerPeer(GodotObject):
    """Godot's abstract ``MultiplayerPeer``: enums, constants, the ``transfer_mode``,
    ``transfer_channel`` and ``refuse_new_connections`` properties, and the
    ``peer_connected(id)`` / ``peer_disconnected(id)`` signals."""

    class ConnectionStatus(enum.IntEnum):
        CONNECTION_DISCONNECTED = 0
        CONNECTION_CONNECTING = 1
        CONNECTION_CONNECTED = 2

    CONNECTION_DISCONNECTED = ConnectionStatus.CONNECTION_DISCONNECTED
    CONNECTION_CONNECTING = ConnectionStatus.CONNECTION_CONNECTING
    CONNECTION_CONNECTED = ConnectionStatus.CONNECTION_CONNECTED

    class TransferMode(enum.IntEnum):
        TRANSFER_MODE_UNRELIABLE = 0
        TRANSFER_MODE_UNRELIABLE_ORDERED = 1
        TRANSFER_MODE_RELIABLE = 2

    TRANSFER_MODE_UNRELIABLE = TransferMode.TRANSFER_MODE_UNRELIABLE
    TRANSFER_MODE_UNRELIABLE_ORDERED = TransferMode.TRANSFER_MODE_UNRELIABLE_ORDERED
    TRANSFER_MODE_RELIABLE = TransferMode.TRANSFER_MODE_RELIABLE

    TARGET_PEER_BROADCAST = 0
    TARGET_PEER_SERVER = 1

    #: ``peer_connected(id: int)``
    peer_connected = SignalDescriptor()
    #: ``peer_disconnected(id: int)``
    peer_disconnected = SignalDescriptor()

    def __init__(self, *, name: str | None = None) -> None:
        self.name = name or f"godot-mp-{id(self) & 0xFFFFFF:06x}"
        self._transfer_mode = MultiplayerPeer.TransferMode.TRANSFER_MODE_RELIABLE
        self._transfer_channel = 0
        self._refuse_connections = False

    def _log(self, level: int, message: str, *args: object) -> None:
        logger.log(level, "[%s] " + message, self.name, *args)

    # ------------------------------------------------------------ properties

    @property
    def transfer_mode(self) -> MultiplayerPeer.TransferMode:
        """How ``put_packet`` sends when ``transfer_channel`` is 0 (default RELIABLE)."""
        return self._transfer_mode

    @transfer_mode.setter
    def transfer_mode(self, mode: int) -> None:
        self.set_transfer_mode(mode)

    def set_transfer_mode(self, mode: int) -> None:
        try:
            self._transfer_mode = MultiplayerPeer.TransferMode(mode)
        except ValueError:
            self._log(logging.WARNING, "set_transfer_mode: ignoring unknown mode %r", mode)

    def get_transfer_mode(self) -> MultiplayerPeer.TransferMode:
        return self._transfer_mode

    @property
    def transfer_channel(self) -> int:
        """0: the channel of ``transfer_mode``; n > 0: the n-th extra channel."""
        return self._transfer_channel

    @transfer_channel.setter
    def transfer_channel(self, channel: int) -> None:
        self.set_transfer_channel(channel)

    def set_transfer_channel(self, channel: int) -> None:
        if not _is_int(channel) or not 0 <= channel <= 255:
            self._log(logging.WARNING, "set_transfer_channel: ignoring %r (0..255)", channel)
            return
        self._transfer_channel = channel

    def get_transfer_channel(self) -> int:
        return self._transfer_channel

    @property
    def refuse_new_connections(self) -> bool:
        """While true, ``add_peer`` returns ``ERR_UNAUTHORIZED``."""
        return self._refuse_connections

    @refuse_new_connections.setter
    def refuse_new_connections(self, enable: bool) -> None:
        self.set_refuse_new_connections(enable)

    def set_refuse_new_connections(self, enable: bool) -> None:
        self._refuse_connections = bool(enable)

    def is_refusing_new_connections(self) -> bool:
        return self._refuse_connections

    # ------------------------------------------------------------ base behaviour

    def generate_unique_id(self) -> int:
        """A random id usable by ``create_client``/``create_mesh``: 2 .. 2**31 - 1."""
        while True:
            value = secrets.randbits(31)
            if value > 1:
                return value

    def is_server_relay_supported(self) -> bool:
        return False


@dataclass(eq=False)
class _ConnectedPeer:
    connection: WebRTCPeerConnection
    channels: list[WebRTCDataChannel] = field(default_factory=list)
    connected: bool = False


class _NetworkMode(enum.Enum):
    NONE = 0
    SERVER = 1
    CLIENT = 2
    MESH = 3


class WebRTCMultiplayerPeer(MultiplayerPeer):
    """Godot's ``WebRTCMultiplayerPeer``: name for name, value for value (see the module
    docstring for the channels). No method raises; errors are returned as :class:`Error`
    values and logged with this object's ``name``.
    """

    def __init__(self, *, name: str | None = None) -> None:
        super().__init__(name=name)
        self._peers: dict[int, _ConnectedPeer] = {}
        self._extra_channels: list[dict[str, Any]] = []
        self._channel_modes: list[MultiplayerPeer.TransferMode] = []
        self._unique_id = 0
        self._target_peer = 0
        self._status = MultiplayerPeer.ConnectionStatus.CONNECTION_DISCONNECTED
        self._next_packet_peer = 0
        self._next_packet_channel = 0
        self._mode = _NetworkMode.NONE
        self._packet_error = Error.OK

    # ------------------------------------------------------------ set up

    def create_server(self, channels_config: Sequence[int] = ()) -> Error:
        """Become the server (id 1); status CONNECTED at once. ``channels_config`` lists
        a :class:`~MultiplayerPeer.TransferMode` per extra channel."""
        return self._initialize(1, _NetworkMode.SERVER, channels_config, "create_server")

    def create_client(self, peer_id: int, channels_config: Sequence[int] = ()) -> Error:
        """Become client ``peer_id`` (2 .. 2**31 - 1); status CONNECTING until the server
        (added as peer 1) is connected."""
        if peer_id == 1:
            self._log(logging.ERROR, "create_client: clients cannot have ID 1")
            return Error.ERR_INVALID_PARAMETER
        return self._initialize(peer_id, _NetworkMode.CLIENT, channels_config, "create_client")

    def create_mesh(self, peer_id: int, channels_config: Sequence[int] = ()) -> Error:
        """Become mesh member ``peer_id`` (1 .. 2**31 - 1); status CONNECTED at once."""
        return self._initialize(peer_id, _NetworkMode.MESH, channels_config, "create_mesh")

    def _initialize(
        self, self_id: int, mode: _NetworkMode, channels_config: Sequence[int], method: str
    ) -> Error:
        # Like Godot, calling create_* again re-configures (peers already added keep the
        # channels they were created with).
        if not _is_int(self_id) or not 1 <= self_id <= _MAX_ID:
            self._log(logging.ERROR, "%s: peer id %r not in 1..%d", method, self_id, _MAX_ID)
            return Error.ERR_INVALID_PARAMETER
        if isinstance(channels_config, (str, bytes)) or not isinstance(channels_config, Sequence):
            self._log(logging.ERROR, "%s: channels_config must be an array", method)
            return Error.ERR_INVALID_PARAMETER
        configs: list[dict[str, Any]] = []
        modes = [
            MultiplayerPeer.TRANSFER_MODE_RELIABLE,
            MultiplayerPeer.TRANSFER_MODE_UNRELIABLE_ORDERED,
            MultiplayerPeer.TRANSFER_MODE_UNRELIABLE,
        ]
        for index, value in enumerate(channels_config):
            if not _is_int(value) or not 0 <= value <= 2:
                self._log(
                    logging.ERROR,
                    "%s: channels_config must contain only MultiplayerPeer.TransferMode "
                    "values, got %r",
                    method,
                    value,
                )
                return Error.ERR_INVALID_PARAMETER
            transfer = MultiplayerPeer.TransferMode(value)
            config: dict[str, Any] = {
                "id": _CH_RESERVED_MAX + index + 1,
                "negotiated": True,
                "ordered": transfer is not MultiplayerPeer.TRANSFER_MODE_UNRELIABLE,
            }
            if transfer is not MultiplayerPeer.TRANSFER_MODE_RELIABLE:
                config["maxPacketLifetime"] = 1
            configs.append(config)
            modes.append(transfer)
        self._extra_channels = configs
        self._channel_modes = modes
        self._unique_id = self_id
        self._mode = mode
        self._status = (
            MultiplayerPeer.CONNECTION_CONNECTING
            if mode is _NetworkMode.CLIENT
            else MultiplayerPeer.CONNECTION_CONNECTED
        )
        self._log(logging.INFO, "%s: id %d, %d extra channels", method, self_id, len(configs))
        return Error.OK

    # ------------------------------------------------------------ the peer map

    def add_peer(
        self, peer: WebRTCPeerConnection, peer_id: int, unreliable_lifetime: int = 1
    ) -> Error:
        """Add ``peer`` (in ``STATE_NEW``) as ``peer_id`` and create its channels; the
        application still does the offer/answer. ``unreliable_lifetime`` (ms) is the
        ``maxPacketLifetime`` of channels 2 and 3. A peer already under ``peer_id`` is
        replaced (and closed)."""
        if self._mode is _NetworkMode.NONE:
            self._log(logging.ERROR, "add_peer: ERR_UNCONFIGURED (call create_* first)")
            return Error.ERR_UNCONFIGURED
        if self._mode is _NetworkMode.CLIENT and peer_id != 1:
            self._log(logging.ERROR, "add_peer: a client may only add the server (id 1)")
            return Error.ERR_INVALID_PARAMETER
        if self._mode is _NetworkMode.SERVER and peer_id == 1:
            self._log(logging.ERROR, "add_peer: a server cannot add a peer with id 1")
            return Error.ERR_INVALID_PARAMETER
        if not _is_int(peer_id) or not 1 <= peer_id <= _MAX_ID:
            self._log(logging.ERROR, "add_peer: peer id %r not in 1..%d", peer_id, _MAX_ID)
            return Error.ERR_INVALID_PARAMETER
        if not _is_int(unreliable_lifetime) or unreliable_lifetime < 0:
            self._log(logging.ERROR, "add_peer: bad unreliable_lifetime %r", unreliable_lifetime)
            return Error.ERR_INVALID_PARAMETER
        if self._refuse_connections:
            self._log(logging.ERROR, "add_peer: refusing new connections")
            return Error.ERR_UNAUTHORIZED
        if not isinstance(peer, WebRTCPeerConnection):
            self._log(logging.ERROR, "add_peer: %r is not a WebRTCPeerConnection", peer)
            return Error.ERR_INVALID_PARAMETER
        if peer.get_connection_state() is not WebRTCPeerConnection.STATE_NEW:
            self._log(
                logging.ERROR,
                "add_peer: the connection must be in STATE_NEW, not %s",
                peer.get_connection_state().name,
            )
            return Error.ERR_INVALID_PARAMETER
        lifetime = unreliable_lifetime
        configs: list[tuple[str, dict[str, Any]]] = [
            ("reliable", {"negotiated": True, "ordered": True, "id": 1}),
            (
                "ordered",
                {"negotiated": True, "ordered": True, "id": 2, "maxPacketLifetime": lifetime},
            ),
            (
                "unreliable",
                {"negotiated": True, "ordered": False, "id": 3, "maxPacketLifetime": lifetime},
            ),
        ]
        configs.extend((str(config["id"]), dict(config)) for config in self._extra_channels)
        connected = _ConnectedPeer(peer)
        for label, config in configs:
            channel = peer.create_data_channel(label, config)
            if channel is None:
                self._log(logging.ERROR, "add_peer: could not create channel %r", label)
                return Error.FAILED
            connected.channels.append(channel)
        replaced = self._peers.get(peer_id)
        self._peers[peer_id] = connected  # keeps its place in the round robin
        if replaced is not None:
            self._drop(peer_id, replaced, "replaced by add_peer")
        self._log(logging.INFO, "add_peer: peer %d (%s)", peer_id, peer.name)
        return Error.OK

    def _drop(self, peer_id: int, peer: _ConnectedPeer, why: str) -> None:
        """Close a peer no longer in the map; signal it if it was connected."""
        peer.connection.close()
        self._log(logging.INFO, "peer %d removed (%s)", peer_id, why)
        if not peer.connected:
            return
        peer.connected = False
        self.peer_disconnected.emit(peer_id)
        if self._mode is _NetworkMode.CLIENT and peer_id == MultiplayerPeer.TARGET_PEER_SERVER:
            self._status = MultiplayerPeer.CONNECTION_DISCONNECTED

    def remove_peer(self, peer_id: int) -> None:
        """Remove ``peer_id`` and close its connection; ``peer_disconnected(peer_id)``
        fires now if ``peer_connected`` had fired for it."""
        peer = self._peers.pop(peer_id, None)
        if peer is None:
            self._log(logging.ERROR, "remove_peer: no peer %r", peer_id)
            return
        self._drop(peer_id, peer, "remove_peer")

    def has_peer(self, peer_id: int) -> bool:
        """Whether ``peer_id`` is in the map (connected or not)."""
        return peer_id in self._peers

    @staticmethod
    def _peer_to_dict(peer: _ConnectedPeer) -> dict[str, Any]:
        return {
            "connection": peer.connection,
            "connected": peer.connected,
            "channels": list(peer.channels),
        }

    def get_peer(self, peer_id: int) -> dict[str, Any]:
        """``{"connection", "connected", "channels"}`` for ``peer_id``; ``{}`` if absent."""
        peer = self._peers.get(peer_id)
        if peer is None:
            self._log(logging.ERROR, "get_peer: no peer %r", peer_id)
            return {}
        return self._peer_to_dict(peer)

    def get_peers(self) -> dict[int, dict[str, Any]]:
        """Every peer id mapped to its :meth:`get_peer` dictionary."""
        return {peer_id: self._peer_to_dict(peer) for peer_id, peer in self._peers.items()}

    # ------------------------------------------------------------ MultiplayerPeer

    def set_target_peer(self, id: int) -> None:
        """0: everyone; n > 0: peer n; -n: everyone but peer n."""
        self._target_peer = id

    def get_unique_id(self) -> int:
        """Our id; 1 (logged) while disconnected, as Godot."""
        if self._status is MultiplayerPeer.CONNECTION_DISCONNECTED:
            self._log(logging.ERROR, "get_unique_id: not connected")
            return 1
        return self._unique_id

    def is_server(self) -> bool:
        return self._unique_id == MultiplayerPeer.TARGET_PEER_SERVER

    def is_server_relay_supported(self) -> bool:
        return self._mode in (_NetworkMode.SERVER, _NetworkMode.CLIENT)

    def get_connection_status(self) -> MultiplayerPeer.ConnectionStatus:
        return self._status

    def get_packet_peer(self) -> int:
        """The peer the next ``get_packet()`` reads from (0 when none)."""
        return self._next_packet_peer

    def get_packet_channel(self) -> int:
        """The ``transfer_channel`` of the next packet (0 for the three default ones)."""
        index = self._next_packet_channel
        return 0 if index < _CH_RESERVED_MAX else index - _CH_RESERVED_MAX + 1

    def get_packet_mode(self) -> MultiplayerPeer.TransferMode:
        """The transfer mode of the next packet."""
        index = self._next_packet_channel
        if not 0 <= index < len(self._channel_modes):
            self._log(logging.ERROR, "get_packet_mode: no packet channel %d", index)
            return MultiplayerPeer.TRANSFER_MODE_RELIABLE
        return self._channel_modes[index]

    def get_max_packet_size(self) -> int:
        return _MAX_PACKET_SIZE

    def poll(self) -> None:
        """Poll every connection and channel; remove peers whose connection or a channel
        closed (``peer_disconnected``), then announce newly connected ones
        (``peer_connected``). Connection signals fire inside this call."""
        if not self._peers:
            return
        remove: list[tuple[int, _ConnectedPeer]] = []
        add: list[tuple[int, _ConnectedPeer]] = []
        for peer_id, peer in list(self._peers.items()):
            if self._peers.get(peer_id) is not peer:
                continue  # a callback removed or replaced it
            peer.connection.poll()
            for channel in peer.channels:
                channel.poll()
            state = peer.connection.get_connection_state()
            if state in (WebRTCPeerConnection.STATE_NEW, WebRTCPeerConnection.STATE_CONNECTING):
                continue
            if state is not WebRTCPeerConnection.STATE_CONNECTED:
                remove.append((peer_id, peer))
                continue
            ready = 0
            for channel in peer.channels:
                channel_state = channel.get_ready_state()
                if channel_state is WebRTCDataChannel.STATE_OPEN:
                    ready += 1
                elif channel_state is not WebRTCDataChannel.STATE_CONNECTING:
                    remove.append((peer_id, peer))
                    break
            if ready == len(peer.channels) and not peer.connected:
                peer.connected = True
                add.append((peer_id, peer))
        for peer_id, peer in remove:
            if self._peers.get(peer_id) is peer:
                del self._peers[peer_id]
                self._drop(
                    peer_id, peer, f"connection {peer.connection.get_connection_state().name}"
                )
            if self._next_packet_peer == peer_id:
                self._next_packet_peer = 0
        for peer_id, peer in add:
            if self._peers.get(peer_id) is not peer or not peer.connected:
                continue
            self._log(logging.INFO, "peer %d connected", peer_id)
            if self._mode is _NetworkMode.CLIENT:
                self._status = MultiplayerPeer.CONNECTION_CONNECTED
            self.peer_connected.emit(peer_id)
        if self._next_packet_peer == 0:
            self._find_next_peer()

    def _find_next_peer(self) -> None:
        """Round robin: the first connected peer after the current one with a packet."""
        ids = list(self._peers)
        current = self._next_packet_peer
        if current in self._peers:
            start = ids.index(current) + 1
            ids = ids[start:] + ids[:start]
        for peer_id in ids:
            peer = self._peers[peer_id]
            if not peer.connected:
                continue
            for index, channel in enumerate(peer.channels):
                if channel.get_available_packet_count():
                    self._next_packet_peer = peer_id
                    self._next_packet_channel = index
                    return
        self._next_packet_peer = 0
        self._next_packet_channel = 0

    def disconnect_peer(self, peer: int, force: bool = False) -> None:
        """Close the connection to ``peer``: ``peer_disconnected`` fires in the next
        ``poll()``; with ``force`` it is dropped at once without a signal."""
        connected = self._peers.get(peer)
        if connected is None:
            self._log(logging.ERROR, "disconnect_peer: no peer %r", peer)
            return
        if force:
            del self._peers[peer]
            connected.connection.close()
            if self._mode is _NetworkMode.CLIENT and peer == MultiplayerPeer.TARGET_PEER_SERVER:
                self._status = MultiplayerPeer.CONNECTION_DISCONNECTED
        else:
            connected.connection.close()  # removed during the next poll()

    def close(self) -> None:
        """Close every connection and forget them without signals; DISCONNECTED."""
        peers = list(self._peers.values())
        self._peers.clear()
        for peer in peers:
            peer.connection.close()
        self._extra_channels = []
        self._unique_id = 0
        self._next_packet_peer = 0
        self._next_packet_channel = 0
        self._target_peer = 0
        self._mode = _NetworkMode.NONE
        self._status = MultiplayerPeer.CONNECTION_DISCONNECTED

    # ------------------------------------------------------------ PacketPeer

    def get_available_packet_count(self) -> int:
        """Packets waiting from connected peers; 0 until ``poll()`` found the first."""
        if self._next_packet_peer == 0:
            return 0
        return sum(
            channel.get_available_packet_count()
            for peer in self._peers.values()
            if peer.connected
            for channel in peer.channels
        )

    def get_packet(self) -> bytes:
        """The next packet (from ``get_packet_peer()`` on ``get_packet_channel()``);
        ``b""`` and ``get_packet_error()`` ``ERR_UNAVAILABLE`` when none."""
        peer_id = self._next_packet_peer
        peer = self._peers.get(peer_id)
        if peer_id == 0 or peer is None:
            self._find_next_peer()
            self._log(logging.ERROR, "get_packet: no packet available")
            self._packet_error = Error.ERR_UNAVAILABLE
            return b""
        # The channel get_packet_channel()/get_packet_mode() announced, then (as Godot)
        # the first one holding a packet.
        index = self._next_packet_channel
        candidates = list(peer.channels)
        if 0 <= index < len(candidates):
            candidates.insert(0, candidates[index])
        for channel in candidates:
            if channel.get_available_packet_count():
                data = channel.get_packet()
                self._packet_error = channel.get_packet_error()
                self._find_next_peer()
                return data
        self._find_next_peer()
        self._log(logging.ERROR, "get_packet: the channels of peer %d are empty", peer_id)
        self._packet_error = Error.ERR_BUG
        return b""

    def get_packet_error(self) -> Error:
        """The result of the last ``get_packet()``."""
        return self._packet_error

    def put_packet(self, buffer: bytes | bytearray | memoryview) -> Error:
        """Send ``buffer`` as is to the target peer(s) on the channel chosen by
        ``transfer_channel``/``transfer_mode``. Targeted: the channel's result;
        broadcast: ``OK`` (failures are logged per peer)."""
        if self._status is MultiplayerPeer.CONNECTION_DISCONNECTED:
            self._log(logging.ERROR, "put_packet: ERR_UNCONFIGURED (not connected)")
            return Error.ERR_UNCONFIGURED
        if not isinstance(buffer, (bytes, bytearray, memoryview)):
            self._log(logging.ERROR, "put_packet needs bytes, not %s", type(buffer).__name__)
            return Error.ERR_INVALID_PARAMETER
        index = self._transfer_channel
        if index == 0:
            index = {
                MultiplayerPeer.TRANSFER_MODE_RELIABLE: _CH_RELIABLE,
                MultiplayerPeer.TRANSFER_MODE_UNRELIABLE_ORDERED: _CH_ORDERED,
                MultiplayerPeer.TRANSFER_MODE_UNRELIABLE: _CH_UNRELIABLE,
            }[self._transfer_mode]
        else:
            index += _CH_RESERVED_MAX - 1
        target = self._target_peer
        if target > 0:
            peer = self._peers.get(target)
            if peer is None:
                self._log(logging.ERROR, "put_packet: invalid target peer %d", target)
                return Error.ERR_INVALID_PARAMETER
            if index >= len(peer.channels):
                self._log(
                    logging.ERROR,
                    "put_packet: no channel %d (peer %d has %d)",
                    index,
                    target,
                    len(peer.channels),
                )
                return Error.ERR_INVALID_PARAMETER
            return peer.channels[index].put_packet(buffer)
        exclude = -target
        for peer_id, peer in list(self._peers.items()):
            if target != 0 and peer_id == exclude:
                continue
            if index >= len(peer.channels):
                self._log(logging.ERROR, "put_packet: peer %d has no channel %d", peer_id, index)
                continue
            peer.channels[index].put_packet(buffer)
        return Error.OK

    def __repr__(self) -> str:
        return (
            f"<WebRTCMultiplayerPeer {self.name} {self._mode.name.lower()} "
            f"id={self._unique_id} peers={sorted(self._peers)}>"
        )
