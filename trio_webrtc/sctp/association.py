"""The SCTP association state machine, sans-I/O, for WebRTC data channels.

Implements RFC 9260 §4 (states), §5.1 (four-way handshake with a signed, time-stamped
State Cookie; stateless INIT ACK), §5.2.1/§5.2.4 (INIT collision: both ends may send
INIT, as Chromium and usrsctp do), §6.2/§6.7 (SACK generation: every second DATA
packet even within a receive burst, at once on gaps and duplicates, delayed otherwise;
the policy in :mod:`.acks`), §6.3 (T1, T3 timers), §8.1-§8.3 (error counting,
HEARTBEAT), §8.5 (verification tags, including the T bit), §9 (ABORT, graceful
SHUTDOWN), RFC 8261 §4-§5 (SCTP over DTLS: one packet per DTLS record, CRC32c, no IP
addresses) and the association-level parts of RFC 3758 (FORWARD TSN) and RFC 6525
(RE-CONFIG), as profiled by RFC 8831 §6. Send and receive paths live in :mod:`.outbound`
and :mod:`.inbound`, stream resets in :mod:`.reconfig`, association setup in
:mod:`.handshake`, control chunks and shutdown in :mod:`.control`, cookies in
:mod:`.cookie`.
"""

from __future__ import annotations

import logging
import random
import secrets
import struct
from collections import deque
from collections.abc import Sequence

from crc32c import crc32c

from ..errors import InvalidStateError, LocalProtocolError, SctpParseError
from .acks import (
    COALESCE_RTT,
    DELAYED_ACK,
    MAX_QUEUED_SACKS,
    MAX_QUEUED_SACKS_PATH,
    coalesce_in_burst,
    window_update_due,
)
from .chunks import (
    CAUSE_INVALID_STREAM,
    CAUSE_NO_USER_DATA,
    CAUSE_PROTOCOL_VIOLATION,
    CAUSE_UNRECOGNIZED_CHUNK,
    CAUSE_USER_ABORT,
    CHECKSUM,
    CHUNK_ABORT,
    CHUNK_COOKIE_ECHO,
    CHUNK_DATA,
    CHUNK_FORWARD_TSN,
    CHUNK_HEADER,
    CHUNK_INIT,
    CHUNK_RECONFIG,
    CHUNK_SACK,
    CHUNK_SHUTDOWN_COMPLETE,
    COMMON_HEADER,
    DATA_FIELDS,
    FLAG_T,
    SACK_FIELDS,
    AbortChunk,
    ErrorChunk,
    HeartbeatChunk,
    ShutdownAckChunk,
    checksum_seed,
    parse_chunk,
    parse_sack,
)
from .control import HEARTBEAT_INFO, RECEIVE_STATES, ControlChunks
from .cookie import CookieJar
from .events import (
    AssociationClosed,
    AssociationState,
    OutgoingStreamsReset,
    SctpEvent,
    StreamsReset,
)
from .handshake import HEARTBEAT_INTERVAL, STREAMS
from .inbound import Inbound
from .outbound import RTO_INITIAL, RTO_MAX, Outbound
from .packets import PacketBuilder
from .reconfig import StreamReconfig
from .trace import TraceCallback

__all__ = ["SctpAssociation"]

_LARGEST_DCEP_MESSAGE = 12 + 2 * 0xFFFF  # RFC 8832 §5.1

logger = logging.getLogger("trio_webrtc.sctp")

MAX_ASSOCIATION_RETRANSMITS = 10
MAX_CONTROL_QUEUE = 32
# Chunk types this stack implements; any other is handled by its two upper bits (§3.2).
_KNOWN_CHUNKS = frozenset({*range(12), CHUNK_SHUTDOWN_COMPLETE, CHUNK_RECONFIG, CHUNK_FORWARD_TSN})

S = AssociationState
# Hot paths compare against these: reading a member through its class (S.CLOSED) costs
# ~150 ns on CPython 3.11, a module global ~15.
_CLOSED = S.CLOSED
_ESTABLISHED = S.ESTABLISHED
_SHUTDOWN_SENT = S.SHUTDOWN_SENT
_SHUTDOWN_ACK_SENT = S.SHUTDOWN_ACK_SENT
_DATA_STATES = frozenset({S.ESTABLISHED, S.SHUTDOWN_PENDING, S.SHUTDOWN_RECEIVED})
_SEND_STATES = frozenset({S.COOKIE_WAIT, S.COOKIE_ECHOED, S.ESTABLISHED})


class SctpAssociation(ControlChunks):
    """One SCTP association over DTLS; see the module docstring for the RFCs.

    ``is_client`` is the DTLS role, kept for logging: either or both ends may ``start()``.
    Feed packets with ``receive_datagram``, drain ``datagrams_to_send`` and
    ``next_event``, and call ``handle_timer`` at ``get_timer()``.

    ``congestion_control``: ``"cubic"`` (the default: RFC 9438 with loss differentiation)
    or ``"reno"`` (RFC 9260 §7.2), see :mod:`.congestion`. ``trace``: a callable receiving the
    send path's records (dicts, JSON-ready; e.g. a :class:`.trace.TraceBuffer`), see
    ``docs/tracing.md``. ``max_send_buffer`` bounds the bytes queued plus in flight.
    """

    def __init__(
        self,
        *,
        is_client: bool,
        local_port: int = 5000,
        remote_port: int = 5000,
        mtu: int = 1200,
        max_receive_message_size: int = 262144,
        receive_window: int = 1 << 20,
        max_send_buffer: int = 16 << 20,
        rng: random.Random | None = None,
        log_prefix: str = "",
        congestion_control: str = "cubic",
        trace: TraceCallback | None = None,
    ) -> None:
        if mtu < 256:
            raise ValueError("mtu must be at least 256")
        self.is_client = is_client
        self.state = AssociationState.CLOSED
        self._local_port = local_port
        self._remote_port = remote_port
        self._mtu = mtu
        # A DATA_CHANNEL_OPEN with 65,535-byte label and protocol must reassemble whatever
        # max-message-size is advertised (RFC 8832 §5.1); the channels enforce that one.
        self._max_message = max(max_receive_message_size, _LARGEST_DCEP_MESSAGE)
        self._window = receive_window
        self._rng = rng or random.Random(secrets.randbits(128))
        self._prefix = log_prefix
        self._events: deque[SctpEvent] = deque()
        self._local_tag = self._rng.randrange(1, 1 << 32)
        self._local_tsn = self._rng.randrange(0, 1 << 32)
        self._peer_tag = 0
        self._peer_tsn = 0
        self._cookies = CookieJar(
            secrets.token_bytes(32) if rng is None else self._rng.randbytes(32)
        )
        self._outbound = Outbound(
            initial_tsn=self._local_tsn,
            mtu=mtu,
            max_send_buffer=max_send_buffer,
            events=self._events,
            log_prefix=log_prefix,
            congestion_control=congestion_control,
            trace=trace,
        )
        self._inbound: Inbound | None = None
        self._reconfig: StreamReconfig | None = None
        self._control: list[tuple[bytes, int | None, bool]] = []
        self._started = False
        self._closed_event = False
        self._errors = 0
        self._t1: float | None = None
        self._t1_count = 0
        self._t1_rto = RTO_INITIAL
        self._cookie_echo: bytes | None = None
        self._cookie_sent = 0.0
        # Negotiated in the handshake (RFC 9260 §5.1.1, RFC 3758 §3.3, RFC 6525 §4).
        self._streams_out = STREAMS
        self._peer_forward_tsn = True
        self._peer_reconfig = True
        self._t2: float | None = None
        self._t2_count = 0
        self._delayed_ack: float | None = None
        self._sack_due = False
        # The SACK is due only because one packet's DATA asked for it (RFC 7053 I bit):
        # a driver may hold it a moment so that a reply's DATA carries it.
        self._sack_can_wait = False
        self._data_packets = 0
        self._sack_queue: list[bytes] = []  # SACKs frozen within a receive burst (acks.py)
        self._sack_every = 2  # DATA packets per SACK; doubles when the queue is full
        self._setup_rtt: float | None = None  # the handshake's round trip (acks.py)
        self._lan = False  # see _on_lan
        self._heartbeat: float | None = None
        self._heartbeat_nonce: int | None = None
        self.dropped_packets = 0
        self._rx_vtag: int | None = None  # the tag _rx_seed is for (receive_datagram)
        self._rx_seed = 0
        # (vtag, common header, its CRC32c state) of the last packet sent (PacketBuilder).
        self._tx_header: tuple[int | None, bytes, int] = (None, b"", 0)

    # -- public API ----------------------------------------------------------------------

    def start(self, now: float) -> None:
        """Send INIT (RFC 9260 §5.1 A). Ignored unless the association is still CLOSED."""
        if self._started or self.state is not _CLOSED:
            return
        self._started = True
        self.state = S.COOKIE_WAIT
        self._t1_count = 0
        self._t1_rto = RTO_INITIAL
        self._queue_init()
        self._t1 = now + self._t1_rto

    def next_event(self) -> SctpEvent | None:
        return self._events.popleft() if self._events else None

    def get_timer(self) -> float | None:
        # Called after every flush and receive: compares the few timers in place (no
        # tuple, no loop); T1 and T2 run only during setup and shutdown.
        if self.state is _CLOSED:
            return None
        best = self._outbound.t3
        t = self._heartbeat
        if t is not None and (best is None or t < best):
            best = t
        t = self._delayed_ack
        if t is not None and (best is None or t < best):
            best = t
        if self._reconfig is not None:
            t = self._reconfig.timer
            if t is not None and (best is None or t < best):
                best = t
        if self._t1 is not None or self._t2 is not None:
            for t in (self._t1, self._t2):
                if t is not None and (best is None or t < best):
                    best = t
        return best

    def send(
        self,
        stream_id: int,
        ppid: int,
        data: bytes | bytearray | memoryview,
        *,
        ordered: bool = True,
        max_retransmits: int | None = None,
        lifetime: float | None = None,
        now: float,
    ) -> int:
        """Queue one message and return the stream's buffered amount after it. Raises
        InvalidStateError, SendBufferFullError, LocalProtocolError."""
        state = self.state
        if state is not _ESTABLISHED and state not in _SEND_STATES:  # (enum hash is slow)
            raise InvalidStateError(f"cannot send in state {self.state.value}")
        if not 0 <= stream_id < self._streams_out:
            raise LocalProtocolError(
                f"invalid stream id {stream_id}: the peer accepts {self._streams_out} streams"
            )
        if not self._peer_forward_tsn:  # RFC 3758 §3.3: it cannot skip abandoned data
            max_retransmits = lifetime = None
        reconfig = self._reconfig
        if reconfig is not None and reconfig.resetting and stream_id in reconfig.resetting:
            raise InvalidStateError(f"stream {stream_id} is being reset")
        payload = data if type(data) is bytes else bytes(data)
        if not payload:
            raise LocalProtocolError("SCTP cannot send an empty message")
        return self._outbound.send(
            stream_id,
            ppid & 0xFFFFFFFF,
            payload,
            ordered,
            max_retransmits,
            None if lifetime is None else now + lifetime,
        )

    def buffered_amount(self, stream_id: int) -> int:
        """Bytes queued on the stream and not yet sent (W3C ``bufferedAmount``); the
        association's own bound, ``max_send_buffer``, is on queued plus in-flight bytes
        (:meth:`held_amount`)."""
        return self._outbound.buffered_amount(stream_id)

    def held_amount(self, stream_id: int) -> int:
        """Bytes of the stream queued or in flight (not yet acknowledged or abandoned)."""
        return self._outbound.held_amount(stream_id)

    @property
    def sack_can_wait(self) -> bool:
        """A SACK is due only because the peer's last packet asked for one (the I bit of
        RFC 7053) and no second packet, gap or duplicate awaits acknowledgement: it may
        wait for the reply the application is about to send, and leave bundled with it."""
        return self._sack_due and self._sack_can_wait

    @property
    def only_new_data_pending(self) -> bool:
        """Nothing is due but new DATA that cwnd and the peer's rwnd have room for: no
        control chunk, SACK, retransmission, FORWARD TSN or RE-CONFIG. A driver whose
        senders are still queueing may then let a received SACK go unanswered and send
        the DATA with their next batch (it answers at once when the window was full)."""
        out = self._outbound
        return not (
            self._control
            or self._sack_due
            or self._sack_queue
            or out._retransmits
            or out.forward_tsn_due
            or out.window_blocked
            or (self._reconfig is not None and self._reconfig.wants_to_send)
        )

    @property
    def has_events(self) -> bool:
        """Events wait for :meth:`next_event` (a cheap test for the hot path)."""
        return bool(self._events)

    @property
    def smoothed_rtt(self) -> float | None:
        """SRTT in seconds (RFC 9260 §6.3.1), None until a round trip was measured."""
        return self._outbound.srtt

    @property
    def has_outstanding_data(self) -> bool:
        """DATA was sent and is not yet acknowledged (drivers bundle sends meanwhile)."""
        return self._outbound.has_outstanding

    def set_buffered_amount_low_threshold(self, stream_id: int, threshold: int) -> None:
        if threshold < 0:
            raise LocalProtocolError("threshold must not be negative")
        self._outbound.set_threshold(stream_id, threshold)

    def set_stream_priority(self, stream_id: int, weight: int) -> None:
        """The stream's weight (>= 1) in the deficit round robin between busy streams: its
        share of the sending rate is proportional to it (RFC 8831 §6.4 priorities, e.g.
        very-low 1, low 2, medium 4, high 8). Raises ValueError below 1."""
        self._outbound.set_priority(stream_id, weight)

    def data_consumed(self, nbytes: int) -> bool:
        """The application read ``nbytes`` of delivered data: reopen the advertised window.
        True when that made a window update due (a SACK to send)."""
        inbound = self._inbound
        if inbound is None:
            return False
        inbound.consume(nbytes)
        if (inbound.last_advertised - inbound.arrived) * 2 >= self._window:
            return False  # the sender's view is at least half open (acks.py): the usual case
        if window_update_due(
            self._window, inbound.last_advertised, inbound.arrived, inbound.a_rwnd(), self._mtu
        ):
            self._sack_due = True  # window update (RFC 9260 §6.2, acks.py)
            self._sack_can_wait = False
            return True
        return False

    def reset_streams(self, stream_ids: Sequence[int], now: float) -> None:
        """Reset our outgoing streams (RFC 6525 §5.1.2) once their queued data is sent."""
        if self.state is not S.ESTABLISHED or self._reconfig is None:
            raise InvalidStateError(f"cannot reset streams in state {self.state.value}")
        sids = tuple(stream_ids)
        if any(not 0 <= s < self._streams_out for s in sids):
            raise LocalProtocolError("invalid stream id")
        if not self._peer_reconfig:
            # RFC 6525 not announced: no RE-CONFIG goes out. Both directions count as reset
            # at once (SSNs carry on on both sides, so a reused stream stays consistent).
            self._events.append(OutgoingStreamsReset(sids))
            self._events.append(StreamsReset(sids))
            return
        self._reconfig.request(sids)

    def shutdown(self, now: float) -> None:
        """Begin a graceful shutdown (RFC 9260 §9.2) once queued data is acknowledged."""
        if self.state in (S.COOKIE_WAIT, S.COOKIE_ECHOED):
            self._close("shutdown before establishment", error=False)
        elif self.state is S.ESTABLISHED:
            self.state = S.SHUTDOWN_PENDING
            self._check_shutdown(now)

    def abort(self, reason: str = "") -> None:
        """Send ABORT with a User-Initiated Abort cause and close (RFC 9260 §9.1)."""
        if self.state is _CLOSED:
            return
        if self.state is not S.COOKIE_WAIT:
            cause = ((CAUSE_USER_ABORT, reason.encode("utf-8")[:256]),)
            self._queue(AbortChunk(0, cause).encode())
        self._close(
            f"aborted locally: {reason}" if reason else "aborted locally",
            error=True,
            expected=True,
        )

    # -- internals: control queue, closing -----------------------------------------------

    def _queue(self, chunk: bytes, vtag: int | None = None, alone: bool = False) -> None:
        if len(self._control) < MAX_CONTROL_QUEUE:
            self._control.append((chunk, vtag, alone))

    def _close(self, reason: str, *, error: bool, expected: bool = False) -> None:
        """Close with an ``AssociationClosed`` event; ``expected`` errors (an ABORT our
        user asked for, or the peer's user-initiated ABORT) are logged at INFO."""
        if self.state is _CLOSED and self._closed_event:
            return
        level = logging.WARNING if error and not expected else logging.INFO
        logger.log(level, "%sassociation closed: %s", self._prefix, reason)
        self.state = _CLOSED
        self._t1 = self._t2 = self._delayed_ack = self._heartbeat = None
        self._outbound.t3 = None
        if self._reconfig is not None:
            self._reconfig.timer = None
        if not self._closed_event:
            self._closed_event = True
            self._events.append(AssociationClosed(reason, error))

    def _is_closed(self) -> bool:
        return self.state is _CLOSED

    def _count_error(self, what: str) -> None:
        self._errors += 1
        if self._errors > MAX_ASSOCIATION_RETRANSMITS:
            self._queue(
                AbortChunk(0, ((CAUSE_PROTOCOL_VIOLATION, b"too many retransmissions"),)).encode()
            )
            self._close(f"too many retransmissions ({what})", error=True)

    # -- timers --------------------------------------------------------------------------

    def handle_timer(self, now: float) -> None:
        if self.state is _CLOSED:
            return
        if self._t1 is not None and now >= self._t1:
            self._on_t1(now)
            if self._is_closed():
                return
        out = self._outbound
        if out.t3 is not None and now >= out.t3:
            out.on_t3(now)
            self._count_error("T3-rtx")
        if self._t2 is not None and now >= self._t2:
            self._count_error("T2-shutdown")
            if self._is_closed():
                return
            out.rto = min(RTO_MAX, out.rto * 2)
            self._t2 = now + out.rto
            if self.state is S.SHUTDOWN_SENT:
                self._send_shutdown(now)
                self._t2 = now + out.rto
            elif self.state is S.SHUTDOWN_ACK_SENT:
                self._queue(ShutdownAckChunk().encode())
        if self._delayed_ack is not None and now >= self._delayed_ack:
            self._delayed_ack = None
            self._sack_due = True
            self._sack_can_wait = False
        recon = self._reconfig
        if recon is not None and recon.timer is not None and now >= recon.timer:
            if recon.has_outstanding():
                self._count_error("RE-CONFIG")
            recon.on_timer(now, out.rto)
        if self._heartbeat is not None and now >= self._heartbeat:
            self._heartbeat = now + HEARTBEAT_INTERVAL + out.rto
            if self._heartbeat_nonce is not None:
                self._count_error("HEARTBEAT")
            if not self._is_closed() and not out.has_outstanding:
                self._heartbeat_nonce = self._rng.getrandbits(64)
                info = HEARTBEAT_INFO.pack(now, self._heartbeat_nonce)
                self._queue(HeartbeatChunk(info).encode())

    # -- output --------------------------------------------------------------------------

    def datagrams_to_send(self, now: float, *, hold: bool = False) -> list[bytes]:
        """Drain pending packets: control chunks, one SACK, FORWARD TSN, RE-CONFIG, DATA.

        ``hold``: the caller will call again soon with more messages, so new DATA that
        would only partly fill a packet stays queued (RFC 9260 §6.1 bundling); everything
        else (control chunks, SACK, retransmissions, full packets of DATA) goes now.
        """
        out = self._outbound
        if not (
            self._control
            or self._sack_due
            or self._sack_queue
            or out._pending
            or out._retransmits
            or out.forward_tsn_due
            or (self._reconfig is not None and self._reconfig.wants_to_send)
        ):
            return []  # the common case of a flush with nothing new: no packet builder
        packets = PacketBuilder(self, self._mtu)
        if self._control:
            for chunk, vtag, alone in self._control:
                packets.add(chunk, vtag, alone)
            self._control = []
        inbound = self._inbound
        if self.state is not _CLOSED and inbound is not None:
            state = self.state
            data_state = state is _ESTABLISHED or state in _DATA_STATES
            queue = self._sack_queue
            # A SACK is due; or DATA was received since the last one and a packet leaves
            # anyway (our DATA, or frozen SACKs): the last SACK sent is always current.
            fresh = self._sack_due or (
                self._delayed_ack is not None and (bool(queue) or (data_state and out.has_pending))
            )
            if queue:  # one packet each; the last may carry DATA unless a fresh SACK does
                self._sack_queue = []
                self._sack_every = 2
                last = len(queue) - 1
                for index, sack in enumerate(queue):
                    packets.add(sack, alone=fresh or index < last)
            if fresh:
                packets.add(inbound.build_sack(self._mtu - 12))
                self._sack_due = self._sack_can_wait = False
                self._delayed_ack = None
                self._data_packets = 0
            if out.forward_tsn_due:
                forward = out.forward_tsn()
                if forward is not None:
                    packets.add(forward)
            recon = self._reconfig
            if recon is not None and recon.wants_to_send:
                reconfig_chunk = recon.build(out, now, out.rto)
                if reconfig_chunk is not None:
                    packets.add(reconfig_chunk)
            if data_state or state is _SHUTDOWN_SENT:
                out.fill(now, packets, data_state, packets.limit if hold else 0)
        packets.flush()
        return packets.packets

    # -- input ---------------------------------------------------------------------------

    def _drop(self, why: str) -> None:
        self.dropped_packets += 1
        logger.debug("%sdropped packet: %s", self._prefix, why)

    def receive_datagram(self, data: bytes, now: float) -> None:
        """Process one SCTP packet. Never raises for bad input: it is counted and dropped."""
        if self.state is _CLOSED and self._closed_event:
            return
        if len(data) < 16:
            self._drop("too short")
            return
        src, dst, vtag = COMMON_HEADER.unpack_from(data)
        if dst != self._local_port or src != self._remote_port:
            self._drop(f"wrong ports {src}->{dst}")
            return
        # verify_checksum() with the header's CRC state cached per verification tag (the
        # ports are ours, checked above): one crc32c call over the chunks per packet.
        if vtag != self._rx_vtag:
            self._rx_seed = checksum_seed(src, dst, vtag)
            self._rx_vtag = vtag
        if crc32c(data[12:], self._rx_seed) != CHECKSUM.unpack_from(data, 8)[0]:
            self._drop("bad checksum")
            return
        try:
            self._process(data, vtag, now)
        except SctpParseError as exc:
            self._drop(f"malformed: {exc}")
        recon = self._reconfig
        if (
            recon is not None
            and recon._deferred is not None  # (the call is only needed with one waiting)
            and self._inbound is not None
            and self.state is not _CLOSED
        ):
            recon.check_deferred(self._inbound)

    def _process(self, data: bytes, vtag: int, now: float) -> None:
        first_type = data[12]
        if first_type == CHUNK_INIT:
            self._on_init(data, vtag, now)
            return
        if first_type == CHUNK_COOKIE_ECHO:
            if not self._on_cookie_echo(data, vtag, now):
                return
        elif first_type in (CHUNK_ABORT, CHUNK_SHUTDOWN_COMPLETE):
            expected = self._peer_tag if data[13] & FLAG_T else self._local_tag
            if vtag != expected or (self._peer_tag == 0 and data[13] & FLAG_T):
                self._drop("bad verification tag on ABORT/SHUTDOWN COMPLETE")
                return
        elif vtag != self._local_tag or (self.state is _CLOSED and not self._started):
            self._drop("bad verification tag")
            return
        had_data = False
        inbound = self._inbound
        streams_in = self._reconfig.streams_in if self._reconfig is not None else STREAMS
        unpack_data = DATA_FIELDS.unpack_from
        unpack_header = CHUNK_HEADER.unpack_from
        # iter_chunks(), inlined (a generator costs more than the rest for a small packet);
        # a malformed length raises at the bad chunk, after the chunks before it.
        size = len(data)
        offset = 12
        while offset < size:
            if offset + 4 > size:
                raise SctpParseError("truncated chunk header")
            ctype, flags, length = unpack_header(data, offset)
            if length < 4 or offset + length > size:
                raise SctpParseError(f"bad chunk length {length}")
            start = offset + 4
            end = offset + length
            offset += (length + 3) & ~3
            if ctype == CHUNK_DATA:
                if inbound is None or (
                    self.state is not _ESTABLISHED and self.state not in RECEIVE_STATES
                ):
                    continue
                if end - start <= 12:
                    if end - start < 12:
                        raise SctpParseError("truncated DATA chunk")
                    self._abort_no_user_data(data[start : start + 4])
                    return
                if (
                    not had_data
                    and self._sack_due
                    and not self._sack_can_wait
                    and not (
                        self._sack_queue
                        and (self._lan or self._on_lan())
                        and coalesce_in_burst(inbound)
                    )
                ):
                    self._freeze_sack(inbound)  # it covers the packets before this one
                tsn, sid, ssn, ppid = unpack_data(data, start)
                if sid >= streams_in:
                    self._invalid_stream(inbound, tsn, sid)
                    had_data = True
                    continue
                inbound.on_data(flags, tsn, sid, ssn, ppid, data[start + 12 : end])
                had_data = True
                continue
            if ctype == CHUNK_SACK:
                self._on_sack(data, start, end, now)
            elif ctype == CHUNK_COOKIE_ECHO:
                continue  # handled above
            elif ctype == CHUNK_INIT:
                raise SctpParseError("INIT bundled with other chunks")
            elif ctype not in _KNOWN_CHUNKS:
                # RFC 9260 §3.2: bit 0x40 asks for an "Unrecognized Chunk Type" report, and
                # with bit 0x80 clear the rest of the packet is discarded.
                if ctype & 0x40 and self._peer_tag:
                    unknown = data[start - 4 : min(end, start + 508)]  # bounded report
                    self._queue(ErrorChunk(((CAUSE_UNRECOGNIZED_CHUNK, unknown),)).encode())
                if not ctype & 0x80:
                    logger.debug(
                        "%sunrecognized chunk type %d ends the packet", self._prefix, ctype
                    )
                    break
                continue
            else:
                self._on_control(parse_chunk(ctype, flags, data[start:end]), now)
                if self._is_closed():
                    return
            inbound = self._inbound
        if had_data and inbound is not None:
            self._data_packets += 1
            if inbound.sack_now or self._data_packets >= self._sack_every:
                # Every second packet, a gap, a duplicate, a filled gap (RFC 9260 §6.2,
                # §6.7); frozen if more DATA arrives before it leaves (acks.py).
                self._sack_due = True
                self._sack_can_wait = False
            elif inbound.immediate:  # RFC 7053
                if not self._sack_due:
                    self._sack_can_wait = True
                self._sack_due = True
            elif self._delayed_ack is None:
                self._delayed_ack = now + DELAYED_ACK

    def _on_lan(self) -> bool:
        """The least round trip measured (the handshake's or any of DATA) is under
        acks.COALESCE_RTT; once true it stays so (a least RTT only falls)."""
        setup, least = self._setup_rtt, self._outbound.cc.min_rtt
        rtt = least if setup is None else setup if least is None else min(setup, least)
        self._lan = rtt is not None and rtt < COALESCE_RTT
        return self._lan

    def _freeze_sack(self, inbound: Inbound) -> None:
        """A SACK is due and unsent while more DATA arrives (a receive burst): build it
        now, as of the packets before, to leave in a packet of its own (acks.py)."""
        queue = self._sack_queue
        if len(queue) >= MAX_QUEUED_SACKS and (
            len(queue) >= MAX_QUEUED_SACKS_PATH or self._lan or self._on_lan()
        ):  # a long burst: keep every second one
            del queue[::2]
            self._sack_every *= 2
        queue.append(inbound.build_sack(self._mtu - 12))
        self._sack_due = self._sack_can_wait = False
        self._delayed_ack = None
        self._data_packets = 0

    def _abort_no_user_data(self, tsn: bytes) -> None:
        """RFC 9260 §6.2: a DATA chunk without user data ends the association."""
        self._queue(AbortChunk(0, ((CAUSE_NO_USER_DATA, tsn),)).encode())
        self._close("peer sent a DATA chunk without user data", error=True)

    def _invalid_stream(self, inbound: Inbound, tsn: int, sid: int) -> None:
        """RFC 9260 §6.5: acknowledge, report Invalid Stream Identifier, discard."""
        if inbound.skip(tsn):
            logger.warning("%sDATA on stream %d, beyond the peer's streams", self._prefix, sid)
            cause = ((CAUSE_INVALID_STREAM, struct.pack("!HH", sid, 0)),)
            self._queue(ErrorChunk(cause).encode())

    def _restarted(self, now: float) -> None:
        """After a peer restart (handshake.py): timers and counters start afresh."""
        self._t1 = self._t2 = self._delayed_ack = None
        self._sack_due = self._sack_can_wait = False
        self._data_packets = 0
        self._sack_queue = []
        self._sack_every = 2
        self._errors = 0
        self._heartbeat_nonce = None
        self._cookie_echo = None
        self.state = S.ESTABLISHED
        self._heartbeat = now + HEARTBEAT_INTERVAL + self._outbound.rto

    def _on_sack(self, data: bytes, start: int, end: int, now: float) -> None:
        gaps: tuple[tuple[int, int], ...]
        if end - start == 12:  # no gap blocks, no duplicates: parse_sack() inlined
            cum, a_rwnd, ngaps, ndups = SACK_FIELDS.unpack_from(data, start)
            if ngaps or ndups:
                raise SctpParseError("SACK truncated")
            gaps = ()
        else:
            cum, a_rwnd, gaps = parse_sack(data, start, end)
        state = self.state
        if self._inbound is None or (
            state is not _ESTABLISHED  # (enum hash is slow)
            and state not in RECEIVE_STATES
            and state is not _SHUTDOWN_ACK_SENT
        ):
            return
        if self._outbound.on_sack(cum, a_rwnd, gaps, now):
            self._errors = 0
            if state is not _ESTABLISHED:  # (it acts in SHUTDOWN-PENDING/RECEIVED only)
                self._check_shutdown(now)
