"""Statistics: a frozen snapshot of one peer connection, built from its sans-I/O core.

Modelled on the W3C "Identifiers for WebRTC's Statistics API" (``RTCPeerConnectionStats``,
``RTCDataChannelStats``, ``RTCIceCandidatePairStats``, ``RTCTransportStats``), reduced to
what this stack knows; media adds one :class:`RtpStreamStats` per RTP stream. The
connection's round-trip time is SCTP's smoothed RTT (RFC 9260 §6.3.1), measured on
acknowledged DATA chunks; it is ``None`` until the first measurement. Like every layer
this module does no I/O and reads no clock: the caller
passes ``timestamp`` (and the datagram counters its driver keeps).

``PeerConnection.get_stats()`` (Trio face) returns a :class:`PeerConnectionStats`;
``WebRTCPeerConnection.get_stats()`` (Godot face) returns :meth:`PeerConnectionStats.to_dict`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .core import PeerConnectionCore

__all__ = [
    "CandidatePairStats",
    "DataChannelStats",
    "PeerConnectionStats",
    "RtpStreamStats",
    "collect_stats",
]

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
class RtpStreamStats:
    """One RTP stream of the media engine (W3C ``RTCInboundRtpStreamStats`` and
    ``RTCOutboundRtpStreamStats`` with the remote report's figures folded in).

    ``type`` is ``"inbound-rtp"`` (a remote source we receive) or ``"outbound-rtp"``
    (our source). Byte counts are RTP payload bytes (RFC 3550 §6.4.1's octet count).
    Inbound: ``packets_lost``, ``fraction_lost`` and ``jitter`` are our own measurements
    (RFC 3550 A.3, A.8; ``fraction_lost`` over the last report interval), ``nack_count``
    and ``pli_count`` the Generic NACKs and PLIs we sent, ``frames`` the whole frames the
    jitter buffer delivered (``keyframes`` of them keyframes), ``frames_dropped`` those
    it gave up on (unrecoverable loss, or delta frames while waiting for a keyframe),
    ``packets_recovered`` the holes a retransmission filled. Outbound: the same loss
    figures from the peer's last report block, ``nack_count``/``pli_count`` received
    (FIRs count as PLIs), ``frames`` sent, ``round_trip_time`` from the peer's report
    (RFC 3550 §6.4.1; ``None`` until one echoes one of our SRs). Seconds throughout.
    """

    type: str
    ssrc: int
    kind: str
    mid: str
    codec: str
    packets_sent: int = 0
    bytes_sent: int = 0
    packets_retransmitted: int = 0
    bytes_retransmitted: int = 0
    packets_received: int = 0
    bytes_received: int = 0
    packets_lost: int = 0
    fraction_lost: float = 0.0
    packets_recovered: int = 0
    nack_count: int = 0
    pli_count: int = 0
    frames: int = 0
    keyframes: int = 0
    frames_dropped: int = 0
    jitter: float = 0.0
    round_trip_time: float | None = None


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
    rtp_streams: tuple[RtpStreamStats, ...] = ()
    """Every RTP stream of the media engine, outbound then inbound per m-section."""

    def to_dict(self) -> dict[str, Any]:
        """Plain dictionaries, lists and scalars (JSON-serialisable)."""
        result = asdict(self)
        result["channels"] = [dict(channel) for channel in result["channels"]]
        result["rtp_streams"] = [dict(stream) for stream in result["rtp_streams"]]
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


def _rtp_streams(core: PeerConnectionCore) -> tuple[RtpStreamStats, ...]:
    """The media engine's streams (none before DTLS-SRTP keyed it)."""
    engine = core.media
    if engine is None:
        return ()
    streams: list[RtpStreamStats] = []
    for item in engine.stats():
        out, inbound, jitter = item.outbound, item.inbound, item.jitter_buffer
        if out is not None:
            streams.append(
                RtpStreamStats(
                    type="outbound-rtp",
                    ssrc=item.ssrc,
                    kind=item.kind,
                    mid=item.mid,
                    codec=item.codec,
                    packets_sent=out.packets_sent,
                    bytes_sent=out.bytes_sent,
                    packets_retransmitted=out.packets_retransmitted,
                    bytes_retransmitted=out.bytes_retransmitted,
                    packets_lost=out.remote_packets_lost,
                    fraction_lost=out.remote_fraction_lost,
                    nack_count=item.nacks_received,
                    pli_count=item.plis_received,
                    frames=item.frames_sent,
                    jitter=out.remote_jitter,
                    round_trip_time=out.round_trip_time,
                )
            )
        elif inbound is not None:
            streams.append(
                RtpStreamStats(
                    type="inbound-rtp",
                    ssrc=item.ssrc,
                    kind=item.kind,
                    mid=item.mid,
                    codec=item.codec,
                    packets_received=inbound.packets_received,
                    bytes_received=inbound.bytes_received,
                    packets_lost=inbound.packets_lost,
                    fraction_lost=inbound.fraction_lost,
                    packets_recovered=0 if jitter is None else jitter.packets_recovered,
                    nack_count=item.nacks_sent,
                    pli_count=item.plis_sent,
                    frames=0 if jitter is None else jitter.frames_delivered,
                    keyframes=0 if jitter is None else jitter.keyframes_delivered,
                    frames_dropped=0 if jitter is None else jitter.frames_dropped,
                    jitter=inbound.jitter,
                )
            )
    return tuple(streams)


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
        rtp_streams=_rtp_streams(core),
    )
