"""PeerConnectionCore: the sans-I/O composition of every layer.

One object per peer connection. It owns the JSEP signaling state machine (RFC 9429), the
ICE agent (RFC 8445), the DTLS transport (RFC 6347, roles per RFC 8842), the SCTP
association (RFC 9260 over DTLS per RFC 8261) and the data-channel manager (RFC 8831,
RFC 8832), and demultiplexes datagrams by their first byte (RFC 7983 §7). Like every layer
it does no I/O and reads no clock: the trio driver (``_trio/driver.py``) feeds it datagrams and
``now`` and sends what ``datagrams_to_send`` returns.

Connection states follow W3C ``RTCPeerConnectionState`` (and so Godot's ``ConnectionState``):
NEW until ICE starts checking; CONNECTING while ICE checks or DTLS handshakes; CONNECTED
when ICE has a pair and DTLS is up; DISCONNECTED while ICE consent is overdue; FAILED when
ICE or DTLS failed; CLOSED after ``close()`` or the peer's DTLS close_notify.

The package: this module holds the transport side (demultiplexing, layer plumbing,
states); :mod:`.signaling` the JSEP side (offer/answer, remote candidates);
:mod:`.events` the states and events; :mod:`.sctp_proxy` the stand-in association the
channel manager uses until DTLS is up.
"""

from __future__ import annotations

import logging
import random
import secrets
from collections import deque

from ..config import Configuration
from ..datachannel.channels import (
    ChannelManager,
    ChannelParameters,
    ChannelState,
    DataChannelInfo,
)
from ..dtls.certificate import Certificate
from ..dtls.transport import (
    ApplicationData,
    DtlsClosed,
    DtlsFailed,
    DtlsState,
    DtlsTransport,
    HandshakeCompleted,
)
from ..errors import InvalidStateError
from ..ice import (
    IceAgent,
    IceState,
    IceStateChanged,
    SelectedPairChanged,
    mdns,
)
from ..ice.gathering import IceGathering
from ..sctp import (
    AssociationClosed,
    AssociationEstablished,
    AssociationRestarted,
    AssociationState,
    BufferedAmountLow,
    DataReceived,
    MessageTooLarge,
    OutgoingStreamsReset,
    SctpAssociation,
    StreamsReset,
)
from ..sdp.description import DataChannelDescription
from ..sdp.jsep import SignalingStateMachine, negotiated_dtls_role
from .events import (
    ConnectionBroken,
    ConnectionState,
    ConnectionStateChanged,
    CoreEvent,
    GatheringState,
    GatheringStateChanged,
    LocalCandidate,
    SignalingStateChanged,
)
from .failures import explain_dtls_failure, ice_failure_reason
from .gathering import GatheringMixin
from .media import MediaMixin
from .sctp_proxy import PendingAssociation
from .signaling import SignalingMixin

__all__ = [
    "ConnectionBroken",
    "ConnectionState",
    "ConnectionStateChanged",
    "CoreEvent",
    "GatheringState",
    "GatheringStateChanged",
    "LocalCandidate",
    "PeerConnectionCore",
    "SignalingStateChanged",
]

logger = logging.getLogger("trio_webrtc.core")

Address = tuple[str, int]

_MAX_EARLY_DTLS = 16
#: Seconds after both descriptions are applied within which ICE must select a pair;
#: past it the connection FAILS naming what is missing (no remote candidates, checks
#: unanswered). The DTLS handshake then has 60 s (``DtlsTransport.handshake_timeout``).
CONNECT_TIMEOUT = 30.0
_ICE_UNUSABLE = (IceState.FAILED, IceState.CLOSED)
# DISCONNECTED may recover (consent overdue, not yet lost): a graceful close still tries.
_CAN_SHUT_DOWN = (ConnectionState.CONNECTED, ConnectionState.DISCONNECTED)
_CLOSED = ChannelState.CLOSED


class PeerConnectionCore(SignalingMixin, GatheringMixin, MediaMixin):
    """Sans-I/O peer connection: signaling calls, datagrams and ``now`` in; datagrams,
    one timer deadline and events out.

    The driver calls :meth:`add_host_address` for every UDP socket it bound, then routes
    every received datagram to :meth:`receive_datagram`, sends what
    :meth:`datagrams_to_send` returns from the socket bound to the given local address,
    and calls :meth:`handle_timer` at :meth:`get_timer`.
    """

    def __init__(
        self,
        configuration: Configuration | None = None,
        *,
        certificate: Certificate | None = None,
        rng: random.Random | None = None,
        log_prefix: str = "pc",
    ) -> None:
        self.configuration = configuration or Configuration()
        self.certificate = certificate or Certificate.default()
        self._rng = rng or random.Random(secrets.randbits(64))
        self.log_prefix = log_prefix
        # Ta 5 ms: the lowest RFC 8445 §14.2 allows; 50 ms made setup wait for the
        # nomination check (paced behind the first check) on every connection.
        # Consent (RFC 7675 §5.1): checks every 5 s, expiry after ``consent_timeout``
        # (configurable: 30 s by default); shorter timeouts check proportionally more often.
        consent = self.configuration.consent_timeout
        self.ice = IceAgent(
            controlling=True,
            rng=self._rng,
            log_prefix=log_prefix,
            ta=0.005,
            consent_interval=min(5.0, consent / 4),
            disconnected_timeout=min(3.0, consent / 2),
            consent_timeout=consent,
        )
        # JSEP, DTLS, SCTP and the channel manager prepend their prefix verbatim.
        self._layer_prefix = f"[{log_prefix}] "
        self._signaling = SignalingStateMachine(log_prefix=self._layer_prefix)
        self._sctp_proxy = PendingAssociation()
        self.channels = ChannelManager(
            self._sctp_proxy,
            log_prefix=self._layer_prefix,
            max_channels=self.configuration.max_channels,
            max_message_size_local=self.configuration.advertised_max_message_size,
        )
        self.dtls: DtlsTransport | None = None
        self.sctp: SctpAssociation | None = None
        self.connection_state = ConnectionState.NEW
        self.gathering_state = GatheringState.NEW
        #: Pending events, oldest first (``next_event`` pops them): a driver may drain
        #: this deque itself, one method call fewer per event on the hot path.
        self.events: deque[object] = deque()
        self._host_addresses: list[Address] = []
        # STUN/TURN gathering and relaying (gathering.py); the two dicts are its tables
        # for the one-lookup demultiplexing and wrapping tests on the data path.
        self._gathering = IceGathering(self.configuration, rng=self._rng, log_prefix=log_prefix)
        self._server_routes = self._gathering.server_routes
        self._relays = self._gathering.relays
        self._local_candidates: list[str] = []
        self._local: DataChannelDescription | None = None
        self._remote: DataChannelDescription | None = None
        self._pending_local: DataChannelDescription | None = None
        self._pending_remote: DataChannelDescription | None = None
        self._session_id = self._rng.getrandbits(62)
        self._session_version = 1
        self._early_dtls: deque[tuple[bytes, Address, Address]] = deque(maxlen=_MAX_EARLY_DTLS)
        self._dtls_route: tuple[Address, Address] | None = None
        self._closed = False
        # Remote mDNS ``.local`` candidates until the driver resolves their names; the
        # flag tells the driver's flush() a name awaits resolution.
        self._hostnames = mdns.HostnameCandidates(log_prefix=log_prefix)
        self.hostnames_pending = False

    # ------------------------------------------------------------------ states

    def _log(self, level: int, message: str, *args: object) -> None:
        logger.log(level, "[%s] " + message, self.log_prefix, *args)

    def restart_ice(self, now: float) -> None:
        """ICE restart (RFC 8445 §9, RFC 9429 §4.1.8): new local ufrag/pwd, which the next
        :meth:`create_offer` carries. The selected pair keeps DTLS and SCTP going until the
        new generation selects one; the gathered candidates are signalled again in the
        offer (they are the same transport addresses)."""
        self._check_open()
        ufrag, _ = self.ice.restart(now)
        self._log(logging.INFO, "local ICE restart (new ufrag %s)", ufrag)
        self._process(now)

    def _maybe_start_transports(self, now: float) -> None:
        if self.dtls is not None or self._local is None or self._remote is None:
            self._process(now)
            return
        is_client = negotiated_dtls_role(self._local.setup, self._remote.setup)
        self._log(
            logging.INFO,
            "negotiated: DTLS %s, ICE %s",
            "client" if is_client else "server",
            "controlling" if self.ice.controlling else "controlled",
        )
        self.dtls = DtlsTransport(
            self.certificate,
            is_client=is_client,
            remote_fingerprints=self._remote.fingerprints,
            mtu=self.configuration.mtu,
            log_prefix=self._layer_prefix,
        )
        self.channels.set_dtls_role(is_client)
        self._connect_deadline = now + CONNECT_TIMEOUT
        if not is_client:
            self.dtls.start(now)
        if self.ice.selected_pair is not None:
            self._on_selected_pair(now)
        self._update_connection_state()
        self._process(now)

    # ----------------------------------------------------------------- channels

    def create_data_channel(self, params: ChannelParameters, now: float) -> DataChannelInfo:
        """Create a channel (in-band or negotiated); raises on bad parameters."""
        self._check_open()
        info = self.channels.create_channel(params, now)
        self._process(now)
        return info

    def send(self, key: int, data: bytes | str, now: float) -> int:
        """Queue one message on a channel and return the channel's buffered amount after
        it; raises ``MessageTooLargeError`` etc."""
        return self.channels.send(key, data, now)

    def close_channel(self, key: int, now: float) -> None:
        """Start closing a channel (RFC 8831 §6.7). Never raises because of the
        association's state: once it is shutting down or gone, the channel closes with it."""
        sctp = self.sctp
        if self._closed or (sctp is not None and sctp.state is not AssociationState.ESTABLISHED):
            info = self.channels.get(key)
            if info is not None and info.state is not ChannelState.CLOSED:
                self._log(logging.DEBUG, "channel %s closes with the association", key)
            return
        self.channels.close(key, now)
        self._process(now)

    # ------------------------------------------------------------------ shutdown

    def shutdown(self, now: float) -> bool:
        """Begin the graceful close (RFC 9260 §9.2): SHUTDOWN once every queued message
        is acknowledged. True if it started (or is under way); False when there is no
        association to shut down (the caller then just :meth:`close` s)."""
        sctp = self.sctp
        if self._closed or sctp is None or self.connection_state not in _CAN_SHUT_DOWN:
            return False
        if sctp.state is AssociationState.ESTABLISHED:
            self._log(logging.INFO, "graceful close: SCTP SHUTDOWN once queued data is acked")
            sctp.shutdown(now)
            self._process(now)
        elif sctp.state in (AssociationState.COOKIE_WAIT, AssociationState.COOKIE_ECHOED):
            # Still in its handshake: shut down as soon as it is established.
            self._shutdown_when_established = True
        return sctp.state is not AssociationState.CLOSED or self._shutdown_complete

    @property
    def shutdown_complete(self) -> bool:
        """The association ended by a graceful SHUTDOWN (ours or the peer's)."""
        return self._shutdown_complete

    @property
    def association_done(self) -> bool:
        """No association carries data any more (never started, shut down or aborted)."""
        sctp = self.sctp
        return sctp is None or sctp.state is AssociationState.CLOSED

    def undelivered_bytes(self) -> int:
        """Bytes queued or in flight, not yet acknowledged, on every channel the
        application sent on (a channel that only carries its DCEP handshake counts 0)."""
        sctp = self.sctp
        if sctp is None or sctp.state is AssociationState.CLOSED:
            return 0
        total = 0
        for info in self.channels.channels.values():
            stream_id = info.stream_id
            if stream_id is not None and info.messages_sent and info.state is not _CLOSED:
                total += sctp.held_amount(stream_id)
        return total

    def message_read(self, nbytes: int) -> bool:
        """The application consumed a delivered message: reopen the SCTP window. True
        when a window update became due (the driver should flush soon)."""
        return self.channels.message_read(nbytes)

    # ---------------------------------------------------------------- datagrams

    def receive_datagram(self, data: bytes, local: Address, remote: Address, now: float) -> None:
        """Demultiplex one datagram (RFC 7983 §7) and feed the layer it belongs to."""
        if self._closed or not data:
            return
        if self._server_routes and remote in self._server_routes:
            unwrapped = self._gathering.receive_from_server(data, local, remote, now)
            if unwrapped is not None:  # a STUN/TURN server's answer, or relayed data
                self._drain_gathering()
                for payload, relayed, peer in unwrapped:
                    self.receive_datagram(payload, relayed, peer, now)
                return
        first = data[0]
        if first < 4:
            self.ice.receive_datagram(data, local, remote, now)
            self._process(now)
        elif 20 <= first < 64:
            dtls = self.dtls
            if dtls is None:
                self._early_dtls.append((data, local, remote))
                return
            route = self._dtls_route
            # Fast path: the route we last validated, while it is still the selected pair
            # (is_valid_remote normalizes both addresses: too slow to do per datagram).
            if (
                route is None
                or route[1] != remote
                or route[0] != local
                or route != self.ice.selected_pair
                or self.ice.state in _ICE_UNUSABLE
            ):
                if not self.ice.is_valid_remote(local, remote):
                    self._early_dtls.append((data, local, remote))
                    return
                self._dtls_route = (local, remote)
            plaintext = dtls.receive_record(data, now)
            if plaintext is None:
                self._process(now)  # handshake, alerts, several records: the event path
                return
            sctp = self.sctp  # the data phase: one record straight into SCTP
            if sctp is not None:
                sctp.receive_datagram(plaintext, now)
                self._process_sctp_events(now)
        elif 127 < first < 192:  # RTP/RTCP: SRTP-authenticated, so no route check
            self._receive_media(data, now)
        else:
            self._log(logging.DEBUG, "dropping datagram with first byte %d from %s", first, remote)

    def datagrams_to_send(
        self, now: float, *, hold: bool = False
    ) -> list[tuple[bytes, Address, Address]]:
        """Drain everything every layer has to send, as (data, local, remote).

        ``hold``: the caller flushes again soon with more messages, so user data that
        would only partly fill an SCTP packet may stay queued until then (bundling).
        """
        out = self.ice.datagrams_to_send(now)
        dtls = self.dtls
        if dtls is None:
            return self._relay_outgoing(out, now) if self._gathering.has_servers else out
        sctp = self.sctp
        if sctp is not None and dtls.state is DtlsState.CONNECTED:
            send = dtls.send
            for packet in sctp.datagrams_to_send(now, hold=hold):
                send(packet)
            if sctp.has_events:
                self._process_sctp_events(now)
        records = dtls.datagrams_to_send(now)
        if self.media is not None:
            records += self.media.datagrams_to_send()
        if records:
            route = self.ice.selected_pair or self._dtls_route
            if route is not None:
                local, remote = route
                out.extend((record, local, remote) for record in records)
        return self._relay_outgoing(out, now) if self._gathering.has_servers else out

    def _relay_outgoing(
        self, out: list[tuple[bytes, Address, Address]], now: float
    ) -> list[tuple[bytes, Address, Address]]:
        """Wrap what is sent from relayed addresses for its TURN server; add the STUN and
        TURN requests of gathering."""
        relays = self._relays
        gathering = self._gathering
        if relays:
            wrapped: list[tuple[bytes, Address, Address]] = []
            for data, local, remote in out:
                if local in relays:
                    item = gathering.wrap(data, local, remote, now)
                    if item is not None:
                        wrapped.append(item)
                else:
                    wrapped.append((data, local, remote))
            out = wrapped
        if self._closed and not gathering.closed:
            gathering.close(now)  # after wrapping the last records: Refresh lifetime 0
        out.extend(gathering.datagrams_to_send(now))
        return out

    def ack_can_wait(self) -> bool:
        """The only thing due is a SACK the peer asked for on its one packet of DATA: a
        driver may hold it for a moment so that the application's reply carries it."""
        sctp = self.sctp
        return sctp is not None and sctp.sack_can_wait

    def has_data_in_flight(self) -> bool:
        """True while sent DATA awaits acknowledgement: a driver may then hold a small
        send back for a moment to bundle it with the next ones (RFC 9260 §6.10)."""
        sctp = self.sctp
        return sctp is not None and sctp.has_outstanding_data

    def get_timer(self) -> float | None:
        """The earliest deadline of any layer (absolute, the caller's clock), or None.
        Called after every flush: no allocation on the common path."""
        best = self.ice.get_timer()
        if self.dtls is not None:
            deadline = self.dtls.get_timer()
            if deadline is not None and (best is None or deadline < best):
                best = deadline
        if self.sctp is not None:
            deadline = self.sctp.get_timer()
            if deadline is not None and (best is None or deadline < best):
                best = deadline
        if self.media is not None:
            deadline = self.media.get_timer()
            if deadline is not None and (best is None or deadline < best):
                best = deadline
        if self._gathering.has_servers:
            deadline = self._gathering.get_timer()
            if deadline is not None and (best is None or deadline < best):
                best = deadline
        if self._connect_deadline is not None:
            if self.ice.selected_pair is not None or self._closed:
                self._connect_deadline = None
            elif best is None or self._connect_deadline < best:
                best = self._connect_deadline
        return best

    _connect_deadline: float | None = None

    def handle_timer(self, now: float) -> None:
        deadline = self._connect_deadline
        if deadline is not None and now >= deadline:
            self._connect_deadline = None
            if self.ice.selected_pair is None and self.connection_state not in (
                ConnectionState.FAILED,
                ConnectionState.CLOSED,
            ):
                self.fail(self._ice_failure_reason())
        for layer in (self.ice, self.dtls, self.sctp, self.media):
            if layer is None:
                continue
            deadline = layer.get_timer()
            if deadline is not None and deadline <= now:
                layer.handle_timer(now)
        gathering = self._gathering
        if gathering.has_servers:
            deadline = gathering.get_timer()
            if deadline is not None and deadline <= now:
                gathering.handle_timer(now)
                self._drain_gathering()
        self._process(now)

    def next_event(self) -> object | None:
        """The next core or channel event, in the order they happened; None when none."""
        return self.events.popleft() if self.events else None

    def close(self, now: float) -> None:
        """Close everything: ABORT the association, send close_notify, state CLOSED."""
        if self._closed:
            return
        if self.sctp is not None:
            self.sctp.abort("peer connection closed")
            if self.dtls is not None and self.dtls.state.name == "CONNECTED":
                for packet in self.sctp.datagrams_to_send(now):
                    self.dtls.send(packet)
        if self.media is not None:
            self.media.close()
        if self.dtls is not None:
            self.dtls.close()
        self.channels.on_association_closed()
        self._drain_channel_events()
        self._closed = True
        self.ice.close()
        self._signaling.close()
        self._set_connection_state(ConnectionState.CLOSED)

    def _check_open(self) -> None:
        if self._closed:
            raise InvalidStateError("the peer connection is closed")

    # ------------------------------------------------------------ event plumbing

    def _process(self, now: float) -> None:
        """Route events from lower layers to upper layers until quiescent."""
        ice = self.ice
        while (event := ice.next_event()) is not None:
            if isinstance(event, SelectedPairChanged):
                self._on_selected_pair(now)
            elif isinstance(event, IceStateChanged):
                self._log(logging.INFO, "ICE state %s", event.state.name)
                self._update_connection_state()
        dtls = self.dtls
        if dtls is not None:
            sctp = self.sctp
            while (dtls_event := dtls.next_event()) is not None:
                if isinstance(dtls_event, ApplicationData):
                    if sctp is not None:
                        sctp.receive_datagram(dtls_event.data, now)
                elif isinstance(dtls_event, HandshakeCompleted):
                    self._log(logging.INFO, "DTLS connected")
                    self._update_connection_state()
                    sctp = self._start_sctp(dtls, now)
                    self._start_media(dtls, now)
                elif isinstance(dtls_event, DtlsFailed):
                    explanation = explain_dtls_failure(dtls_event.reason)
                    self._log(logging.WARNING, "DTLS failed: %s%s", dtls_event.reason, explanation)
                    if self.failure_reason is None:
                        self.failure_reason = self._dtls_failure_reason(
                            dtls_event.reason, explanation
                        )
                    self._broken(self.failure_reason)
                    self._update_connection_state()
                elif isinstance(dtls_event, DtlsClosed):
                    self._log(logging.INFO, "peer sent DTLS close_notify")
                    self.channels.on_association_closed()
                    self._closed_by_peer = True
                    self._update_connection_state()
            self._process_sctp_events(now)
        self._drain_channel_events()
        self._sync_media(now)

    _closed_by_peer = False
    _shutdown_complete = False
    _shutdown_when_established = False
    #: Why the connection broke or went FAILED (ICE, DTLS or SCTP), for logs and exceptions.
    failure_reason: str | None = None
    #: Why the transport broke (set with the :class:`ConnectionBroken` event), else None.
    broken_reason: str | None = None

    def _broken(self, reason: str) -> None:
        """The transport broke: emit :class:`ConnectionBroken` (once) before the channels
        close, then close them."""
        if self.broken_reason is None and not self._closed:
            self.broken_reason = reason
            if self.failure_reason is None:
                self.failure_reason = reason
            self.events.append(ConnectionBroken(reason))
        self.channels.on_association_closed()
        self._drain_channel_events()

    def _dtls_failure_reason(self, reason: str, explanation: str) -> str:
        if "timeout" in reason and self.ice.selected_pair is None:
            return self._ice_failure_reason()
        return f"DTLS failed: {reason}{explanation}"

    def _ice_failure_reason(self) -> str:
        """Name what is missing when ICE (or a handshake waiting on it) fails."""
        return ice_failure_reason(
            self.ice, self._gathering.turn_failures, self.configuration.consent_timeout
        )

    def _start_sctp(self, dtls: DtlsTransport, now: float) -> SctpAssociation | None:
        """DTLS is up: start the association, with packets sized to fit one record; none
        when the descriptions negotiated no data channel (audio/video only): then every
        data channel the application made closes."""
        if self.sctp is not None:
            return self.sctp
        assert self._remote is not None
        if not self._remote.sctp_port:
            self._log(logging.INFO, "no data channel negotiated (audio/video only): no SCTP")
            self.channels.on_association_closed()
            return None
        max_message = self.configuration.advertised_max_message_size
        receive_window = self.configuration.receive_window
        self.sctp = SctpAssociation(
            is_client=dtls.is_client,
            remote_port=self._remote.sctp_port,
            mtu=dtls.cleartext_mtu,
            max_receive_message_size=max_message,
            receive_window=receive_window,
            congestion_control=self.configuration.congestion_control,
            rng=self._rng,
            log_prefix=self._layer_prefix,
        )
        self._sctp_proxy.attach(self.sctp)
        self.sctp.start(now)
        return self.sctp

    def _process_sctp_events(self, now: float) -> None:
        sctp = self.sctp
        if sctp is None:
            return
        channels = self.channels
        while (event := sctp.next_event()) is not None:
            if isinstance(event, DataReceived):
                channels.on_data(event.stream_id, event.ppid, event.data, now)
            elif isinstance(event, BufferedAmountLow):
                channels.on_buffered_amount_low(event.stream_id)
            elif isinstance(event, StreamsReset):
                channels.on_streams_reset(event.stream_ids, now)
            elif isinstance(event, OutgoingStreamsReset):
                channels.on_outgoing_streams_reset(event.stream_ids, now)
            elif isinstance(event, AssociationEstablished):
                self._log(logging.INFO, "SCTP association established")
                channels.on_association_established(now, outbound_streams=event.outbound_streams)
                if self._shutdown_when_established:
                    self._shutdown_when_established = False
                    self._log(logging.INFO, "graceful close: SCTP SHUTDOWN once data is acked")
                    sctp.shutdown(now)
            elif isinstance(event, AssociationRestarted):
                channels.on_association_restarted(now, outbound_streams=event.outbound_streams)
            elif isinstance(event, MessageTooLarge):
                channels.on_message_too_large(event.stream_id, event.limit, now)
            elif isinstance(event, AssociationClosed):
                self._log(logging.INFO, "SCTP association closed: %s", event.reason)
                if not event.error:
                    self._shutdown_complete = True
                elif not self._closed and not event.reason.startswith("aborted locally"):
                    self._broken(f"SCTP association ended: {event.reason}")
                channels.on_association_closed()
        self._drain_channel_events()

    def _drain_channel_events(self) -> None:
        pending = self.channels.events
        if pending:
            self.events.extend(pending)
            pending.clear()

    def _on_selected_pair(self, now: float) -> None:
        pair = self.ice.selected_pair
        if pair is None or self.dtls is None:
            return
        self._log(logging.INFO, "selected pair %s -> %s", pair[0], pair[1])
        if self._early_dtls:
            early = list(self._early_dtls)
            self._early_dtls.clear()
            for data, local, remote in early:
                if self.ice.is_valid_remote(local, remote):
                    self._dtls_route = (local, remote)
                    self.dtls.receive_datagram(data, now)
        if self.dtls.state.name == "NEW":
            self.dtls.start(now)

    def fail(self, reason: str) -> None:
        """An internal error ended the connection (its driver crashed): FAILED, with every
        channel CLOSED and ``reason`` in ``failure_reason``."""
        if self._closed:
            return
        self.failure_reason = reason
        self._internal_failure = True
        self._broken(reason)
        self._update_connection_state()

    _internal_failure = False

    def _update_connection_state(self) -> None:
        if self._closed or self._closed_by_peer:
            state = ConnectionState.CLOSED
        elif self._internal_failure:
            state = ConnectionState.FAILED
        else:
            ice_state = self.ice.state
            dtls_state = self.dtls.state.name if self.dtls is not None else "NEW"
            if ice_state is IceState.FAILED or dtls_state == "FAILED":
                state = ConnectionState.FAILED
                if ice_state is IceState.FAILED and self.failure_reason is None:
                    self.failure_reason = self._ice_failure_reason()
            elif ice_state is IceState.DISCONNECTED:
                state = ConnectionState.DISCONNECTED
            elif ice_state in (IceState.CONNECTED, IceState.COMPLETED) and (
                dtls_state == "CONNECTED"
            ):
                state = ConnectionState.CONNECTED
            elif ice_state is IceState.NEW and dtls_state == "NEW":
                state = ConnectionState.NEW
            else:
                state = ConnectionState.CONNECTING
        self._set_connection_state(state)

    def _set_connection_state(self, state: ConnectionState) -> None:
        if state is not self.connection_state:
            if state is ConnectionState.FAILED:
                self._log(logging.WARNING, "connection state FAILED: %s", self.failure_reason)
            else:
                self._log(logging.INFO, "connection state %s", state.name)
            self.connection_state = state
            self.events.append(ConnectionStateChanged(state))
            if state is ConnectionState.FAILED:
                # Nothing can be delivered any more: every channel is CLOSED now, and the
                # layers above ICE are torn down so that stats show their real state.
                self._broken(self.failure_reason or "connection failed")
                if self.sctp is not None:
                    self.sctp.abort(self.failure_reason or "connection failed")
                if self.dtls is not None and self.dtls.state is DtlsState.CONNECTED:
                    self.dtls.close()
