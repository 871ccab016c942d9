"""Statistics: a frozen snapshot of one peer connection, built from its sans-I/O core.

Modelled on the W3C "Identifiers for WebRTC's Statistics API" (``RTCPeerConnectionStats``,
``RTCDataChannelStats``, ``RTCIceCandidatePairStats``, ``RTCTransportStats``), reduced to
what a data-channel-only stack knows. The round-trip time is SCTP's smoothed RTT
(RFC 9260 §6.3.1), measured on acknowledged DATA chunks; it is ``None`` until the first
measurement. Like every layer this module does no I/O and reads no clock: the caller
passes ``timestamp`` (and the datagram counters its driver keeps).

``PeerConnection.get_stats()`` (Trio face) returns a :class:`PeerConnectionStats`;
``WebRTCPeerConnection.get_stats()`` (Godot face) returns :meth:`PeerConnectionStats.to_dict`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .core import PeerConnectionCore

__all__ = ["CandidatePairStats", "DataChannelStats", "PeerConnectionStats", "collect_stats"]

Address = tuple[str, int]


@dataclass(frozen=True)
class DataChannelStats:
    """Counters of one data channel (W3C ``RTCDataChannelStats``).

    Byte counts are user payload bytes (an empty message counts 0); ``buffered_amount``
    is what is queued to send and not yet acknowledged. ``messages_discarded`` counts
    messages the peer sent above our max-message-size (RFC 8841), dropped on receipt.
    """

    label: str
    protocol: str
    stream_id: int | None
    state: str
    messages_sent: int
    bytes_sent: int
    messages_received: int
    bytes_received: int
    buffered_amount: int
    messages_discarded: int = 0


@dataclass(frozen=True)
class CandidatePairStats:
    """The selected ICE candidate pair (W3C ``RTCIceCandidatePairStats``)."""

    local_address: Address
    remote_address: Address
    local_type: str | None
    remote_type: str | None
    nominated: bool


@dataclass(frozen=True)
class PeerConnectionStats:
    """A snapshot of one peer connection; every field is a plain value.

    ``timestamp`` is the caller's clock (``trio.current_time()`` in both faces).
    ``messages_*``/``bytes_*`` sum the channels still known to the connection (closed
    ones are kept until 1024 newer ones replace them). ``datagrams_*`` count UDP
    datagrams of every layer (STUN, DTLS), as the driver saw them. ``rtt`` is in
    seconds.
    """

    name: str
    timestamp: float
    connection_state: str
    signaling_state: str
    gathering_state: str
    ice_state: str
    ice_role: str
    dtls_state: str
    dtls_role: str | None
    sctp_state: str
    selected_pair: CandidatePairStats | None
    rtt: float | None
    datagrams_sent: int
    datagrams_received: int
    messages_sent: int
    bytes_sent: int
    messages_received: int
    bytes_received: int
    channels_opened: int
    channels: tuple[DataChannelStats, ...]
    messages_discarded: int = 0
    """Messages above our max-message-size, on any stream (with or without a channel)."""
    dtls_auth_failures: int = 0
    """DTLS data records that failed authentication, dropped (0 while OpenSSL opens them)."""

    def to_dict(self) -> dict[str, Any]:
        """Plain dictionaries, lists and scalars (JSON-serialisable)."""
        result = asdict(self)
        result["channels"] = [dict(channel) for channel in result["channels"]]
        pair = result["selected_pair"]
        if pair is not None:
            pair["local_address"] = list(pair["local_address"])
            pair["remote_address"] = list(pair["remote_address"])
        return result


def _sctp_srtt(core: PeerConnectionCore) -> float | None:
    """SCTP's smoothed RTT, if the association exists and has measured one."""
    return None if core.sctp is None else core.sctp.smoothed_rtt


def _selected_pair(core: PeerConnectionCore) -> CandidatePairStats | None:
    selected = core.ice.selected_pair
    if selected is None:
        return None
    local, remote = selected
    for pair in core.ice.pairs:
        if pair.key == selected:
            return CandidatePairStats(
                local, remote, pair.local.type, pair.remote.type, bool(pair.nominated)
            )
    return CandidatePairStats(local, remote, None, None, False)


def collect_stats(
    core: PeerConnectionCore,
    *,
    timestamp: float = 0.0,
    datagrams_sent: int = 0,
    datagrams_received: int = 0,
) -> PeerConnectionStats:
    """Build a :class:`PeerConnectionStats` from ``core`` as it is now."""
    channels: list[DataChannelStats] = []
    opened = 0
    for info in core.channels.channels.values():
        channels.append(
            DataChannelStats(
                label=info.label,
                protocol=info.protocol,
                stream_id=info.stream_id,
                state=info.state.name.lower(),
                messages_sent=info.messages_sent,
                bytes_sent=info.bytes_sent,
                messages_received=info.messages_received,
                bytes_received=info.bytes_received,
                buffered_amount=info.buffered_amount,
                messages_discarded=info.messages_discarded,
            )
        )
        if info.state.name != "CONNECTING":
            opened += 1
    dtls = core.dtls
    sctp = core.sctp
    return PeerConnectionStats(
        name=core.log_prefix,
        timestamp=timestamp,
        connection_state=core.connection_state.name.lower(),
        signaling_state=core.signaling_state.name.lower(),
        gathering_state=core.gathering_state.name.lower(),
        ice_state=core.ice.state.value,
        ice_role="controlling" if core.ice.controlling else "controlled",
        dtls_state="new" if dtls is None else dtls.state.value,
        dtls_role=None if dtls is None else ("client" if dtls.is_client else "server"),
        sctp_state="new" if sctp is None else sctp.state.value,
        selected_pair=_selected_pair(core),
        rtt=_sctp_srtt(core),
        datagrams_sent=datagrams_sent,
        datagrams_received=datagrams_received,
        messages_sent=sum(c.messages_sent for c in channels),
        bytes_sent=sum(c.bytes_sent for c in channels),
        messages_received=sum(c.messages_received for c in channels),
        bytes_received=sum(c.bytes_received for c in channels),
        channels_opened=opened,
        channels=tuple(channels),
        messages_discarded=core.channels.oversized_messages,
        dtls_auth_failures=0
        if dtls is None or dtls.record_layer is None
        else dtls.record_layer.auth_failures,
    )
