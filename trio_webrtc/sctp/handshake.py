"""Association setup for :class:`~trio_webrtc.sctp.SctpAssociation` (sans-I/O).

Implements RFC 9260 §5.1 (the four-way handshake: INIT, a stateless INIT ACK whose State
Cookie carries everything, COOKIE ECHO, COOKIE ACK; T1-init and T1-cookie), §5.1.1 (the
negotiated stream counts), §3.3.2 (an INIT with zero streams is answered with ABORT),
§3.2.1/§3.2.2 (unrecognized parameters with the report bits set are echoed in the INIT
ACK, or in an ERROR after the COOKIE ECHO), §5.1.5 (cookie validation and staleness),
§5.2.1-§5.2.2 (INIT collisions; an INIT in an existing association gets a new Initiate
Tag, with Tie-Tags in the cookie), §5.2.4 (unexpected COOKIE ECHOs: A, a peer restart, and
D), §5.2.6 (Stale Cookie: a new INIT with a Cookie Preservative) and the INIT parameters
of RFC 3758 §3.3 and RFC 6525 §4 via RFC 5061 §4.2.7 as profiled by RFC 8831 §6.

A peer restart keeps the association ESTABLISHED under the new tags; queued data is
dropped and :class:`AssociationRestarted` tells the data channels, which close every
channel (the peer lost them). A peer that announced no FORWARD TSN gets partially
reliable messages fully reliably; one that announced no RE-CONFIG cannot have streams
reset, so closing a channel completes locally (see ``SctpAssociation.reset_streams``).

A mixin: the methods run on the association's own state.
"""

from __future__ import annotations

import logging
import random
from collections import deque

from .chunks import (
    _PARAM as _PARAM_HEADER,
)
from .chunks import (
    _U32,
    CAUSE_COOKIE_WHILE_SHUTTING_DOWN,
    CAUSE_INVALID_MANDATORY_PARAMETER,
    CAUSE_STALE_COOKIE,
    CAUSE_UNRECOGNIZED_PARAMETERS,
    CHUNK_FORWARD_TSN,
    CHUNK_INIT,
    CHUNK_RECONFIG,
    PARAM_COOKIE_PRESERVATIVE,
    PARAM_FORWARD_TSN_SUPPORTED,
    PARAM_HOST_NAME,
    PARAM_IPV4,
    PARAM_IPV6,
    PARAM_STATE_COOKIE,
    PARAM_SUPPORTED_ADDRESS_TYPES,
    PARAM_SUPPORTED_EXTENSIONS,
    PARAM_UNRECOGNIZED,
    AbortChunk,
    CookieAckChunk,
    CookieEchoChunk,
    ErrorChunk,
    InitAckChunk,
    InitChunk,
    ShutdownAckChunk,
    iter_chunks,
    parse_chunk,
)
from .cookie import COOKIE_LIFETIME, EXT_FORWARD_TSN, EXT_RECONFIG, CookieJar, CookieState
from .events import (
    AssociationEstablished,
    AssociationRestarted,
    AssociationState,
    SctpEvent,
)
from .inbound import Inbound
from .outbound import RTO_MAX, Outbound
from .reconfig import StreamReconfig

__all__ = ["MAX_INIT_RETRANSMITS", "STREAMS", "Handshake"]

logger = logging.getLogger("trio_webrtc.sctp")

MAX_INIT_RETRANSMITS = 8
HEARTBEAT_INTERVAL = 30.0
STREAMS = 65535
_EXTENSIONS = bytes([CHUNK_FORWARD_TSN, CHUNK_RECONFIG])

S = AssociationState


class Handshake:
    """The association's setup half; :class:`SctpAssociation` inherits it."""

    # Owned by SctpAssociation.__init__; declared here for the type checker.
    state: AssociationState
    _prefix: str
    _events: deque[SctpEvent]
    _window: int
    _mtu: int
    _max_message: int
    _local_tag: int
    _local_tsn: int
    _peer_tag: int
    _peer_tsn: int
    _cookies: CookieJar
    _outbound: Outbound
    _inbound: Inbound | None
    _reconfig: StreamReconfig | None
    _closed_event: bool
    _t1: float | None
    _t1_count: int
    _t1_rto: float
    _cookie_echo: bytes | None
    _cookie_sent: float
    _setup_rtt: float | None
    _heartbeat: float | None
    _rng: random.Random
    _streams_out: int
    _peer_forward_tsn: bool
    _peer_reconfig: bool

    def _queue(self, chunk: bytes, vtag: int | None = None, alone: bool = False) -> None:
        raise NotImplementedError  # pragma: no cover - SctpAssociation defines it

    def _drop(self, why: str) -> None:
        raise NotImplementedError  # pragma: no cover - SctpAssociation defines it

    def _close(self, reason: str, *, error: bool, expected: bool = False) -> None:
        raise NotImplementedError  # pragma: no cover - SctpAssociation defines it

    def _queue_init(self, preservative_ms: int = 0) -> None:
        params = self._init_params()
        if preservative_ms:  # §5.2.6: ask for a longer cookie life
            params = ((PARAM_COOKIE_PRESERVATIVE, _U32.pack(preservative_ms)), *params)
        init = InitChunk(self._local_tag, self._window, STREAMS, STREAMS, self._local_tsn, params)
        self._queue(init.encode(), vtag=0, alone=True)

    def _init_params(self, cookie: bytes | None = None) -> tuple[tuple[int, bytes], ...]:
        params: tuple[tuple[int, bytes], ...] = (
            (PARAM_FORWARD_TSN_SUPPORTED, b""),
            (PARAM_SUPPORTED_EXTENSIONS, _EXTENSIONS),
        )
        if cookie is not None:
            params = ((PARAM_STATE_COOKIE, cookie), *params)
        return params

    def _established(self, now: float) -> None:
        self.state = S.ESTABLISHED
        self._t1 = None
        self._cookie_echo = None
        self._heartbeat = now + HEARTBEAT_INTERVAL + self._outbound.rto
        self._events.append(AssociationEstablished(self._streams_out, self._streams_in()))
        logger.info(
            "%sassociation established (streams: %d out, %d in)",
            self._prefix,
            self._streams_out,
            self._streams_in(),
        )

    def _streams_in(self) -> int:
        return STREAMS if self._reconfig is None else self._reconfig.streams_in

    def _setup_peer(  # noqa: PLR0917
        self,
        peer_tag: int,
        peer_tsn: int,
        a_rwnd: int,
        peer_os: int = STREAMS,
        peer_mis: int = STREAMS,
        extensions: int = EXT_FORWARD_TSN | EXT_RECONFIG,
    ) -> None:
        self._streams_out = min(STREAMS, peer_mis)  # §5.1.1: our OS against its MIS
        self._peer_forward_tsn = bool(extensions & EXT_FORWARD_TSN)
        self._peer_reconfig = bool(extensions & EXT_RECONFIG)
        if self._inbound is not None and self._peer_tag == peer_tag:
            return
        self._peer_tag = peer_tag
        self._peer_tsn = peer_tsn
        self._inbound = Inbound(
            initial_tsn=peer_tsn,
            receive_window=self._window,
            max_message_size=self._max_message,
            events=self._events,
            log_prefix=self._prefix,
        )
        self._reconfig = StreamReconfig(
            local_tsn=self._local_tsn,
            peer_tsn=peer_tsn,
            events=self._events,
            log_prefix=self._prefix,
            streams_in=min(STREAMS, peer_os),
            max_streams_in=STREAMS,
        )
        self._outbound.peer_rwnd = a_rwnd
        self._outbound.ssthresh = max(a_rwnd, 4 * self._mtu)
        if not self._peer_forward_tsn:
            logger.warning(
                "%speer does not support FORWARD TSN (RFC 3758): partially reliable "
                "channels are sent fully reliable",
                self._prefix,
            )
        if not self._peer_reconfig:
            logger.warning(
                "%speer does not support RE-CONFIG (RFC 6525): closing a channel cannot "
                "reset its stream and completes locally",
                self._prefix,
            )

    def _on_init(self, data: bytes, vtag: int, now: float) -> None:
        if vtag != 0:
            self._drop("INIT with a non-zero verification tag")
            return
        chunks = list(iter_chunks(data))
        if len(chunks) != 1:
            self._drop("INIT bundled with other chunks")
            return
        _, flags, start, end = chunks[0]
        init = parse_chunk(CHUNK_INIT, flags, data[start:end])
        assert isinstance(init, InitChunk)
        if init.initiate_tag == 0:
            self._drop("INIT with a zero Initiate Tag")  # §3.3.2: silently discarded
            return
        if init.outbound_streams == 0 or init.inbound_streams == 0:
            # §3.3.2: discard, answer with ABORT under the INIT's tag, keep our state.
            which = "outbound" if init.outbound_streams == 0 else "inbound"
            abort = AbortChunk(0, ((CAUSE_INVALID_MANDATORY_PARAMETER, b""),))
            self._queue(abort.encode(), vtag=init.initiate_tag, alone=True)
            self._drop(f"INIT with zero {which} streams: answered with ABORT")
            return
        if self.state is S.SHUTDOWN_ACK_SENT:
            return
        extensions, preservative, unrecognized = _scan_params(init.params)
        # Stateless INIT ACK (§5.1 B): everything needed later goes into the signed cookie.
        # During an INIT collision (§5.2.1) our tag and TSN are those of our own INIT; in
        # an existing association (§5.2.2) they are new, with the current tags as Tie-Tags.
        local_tag, local_tsn = self._local_tag, self._local_tsn
        local_tie = peer_tie = 0
        if self.state not in (S.CLOSED, S.COOKIE_WAIT, S.COOKIE_ECHOED):
            local_tag = self._rng.randrange(1, 1 << 32)
            local_tsn = self._rng.randrange(0, 1 << 32)
            local_tie, peer_tie = self._local_tag, self._peer_tag
        cookie = self._cookies.make(
            CookieState(
                timestamp=now,
                local_tag=local_tag,
                peer_tag=init.initiate_tag,
                local_tsn=local_tsn,
                peer_tsn=init.initial_tsn,
                peer_rwnd=init.a_rwnd,
                local_tie_tag=local_tie,
                peer_tie_tag=peer_tie,
                peer_outbound_streams=init.outbound_streams,
                peer_inbound_streams=init.inbound_streams,
                extensions=extensions,
                lifetime=COOKIE_LIFETIME + min(preservative / 1000.0, COOKIE_LIFETIME),
            )
        )
        params = self._init_params(cookie) + tuple(
            (PARAM_UNRECOGNIZED, raw) for raw in unrecognized
        )
        ack = InitAckChunk(local_tag, self._window, STREAMS, STREAMS, local_tsn, params)
        self._queue(ack.encode(), vtag=init.initiate_tag, alone=True)

    def _on_cookie_echo(self, data: bytes, vtag: int, now: float) -> bool:
        """Validate COOKIE ECHO (§5.1.5, §5.2.4); True to go on with bundled chunks."""
        _, _, start, end = next(iter_chunks(data))
        state = self._cookies.open(data[start:end])
        if state is None:
            self._drop("forged or corrupt State Cookie")
            return False
        if state.local_tag != vtag:
            self._drop("COOKIE ECHO verification tag does not match its cookie")
            return False
        if now - state.timestamp > state.lifetime or now < state.timestamp - 1.0:
            staleness = max(0, int((now - state.timestamp - state.lifetime) * 1e6))
            cause = ((CAUSE_STALE_COOKIE, _U32.pack(min(staleness, 0xFFFFFFFF))),)
            self._queue(ErrorChunk(cause).encode(), vtag=state.peer_tag)
            self._drop("stale State Cookie")
            return False
        peer = (state.peer_outbound_streams, state.peer_inbound_streams, state.extensions)
        if self.state in (S.CLOSED, S.COOKIE_WAIT, S.COOKIE_ECHOED):
            if self.state is S.CLOSED and self._closed_event:
                return False
            self._setup_peer(state.peer_tag, state.peer_tsn, state.peer_rwnd, *peer)
            self._queue(CookieAckChunk().encode())
            if now >= state.timestamp:  # our INIT ACK to this COOKIE ECHO: a round trip
                self._setup_rtt = now - state.timestamp
            self._established(now)
            return True
        same_local = state.local_tag == self._local_tag
        same_peer = state.peer_tag == self._peer_tag
        if same_local and same_peer:  # §5.2.4 D: our COOKIE ACK was lost
            self._queue(CookieAckChunk().encode())
            return True
        if (
            not same_local
            and not same_peer
            and state.local_tie_tag == self._local_tag
            and state.peer_tie_tag == self._peer_tag
        ):
            self._restart(state, now)  # §5.2.4 A
            return True
        self._drop("COOKIE ECHO that matches neither this association nor a restart of it")
        return False

    def _restart(self, state: CookieState, now: float) -> None:
        """§5.2.4 A: the peer restarted. Take the cookie's new tags and TSNs, drop what was
        queued (the peer kept none of it), reset congestion control and every stream's
        SSNs, answer COOKIE ACK and report AssociationRestarted."""
        if self.state is S.SHUTDOWN_ACK_SENT:
            # §5.2.4 A: no new association while shutting down.
            self._queue(ShutdownAckChunk().encode())
            self._queue(ErrorChunk(((CAUSE_COOKIE_WHILE_SHUTTING_DOWN, b""),)).encode())
            return
        logger.warning("%speer restarted the association (RFC 9260 §5.2.4 A)", self._prefix)
        old = self._outbound
        self._local_tag = state.local_tag
        self._local_tsn = state.local_tsn
        # The same arguments as SctpAssociation.__init__ gives it (keep the two in step).
        self._outbound = Outbound(
            initial_tsn=state.local_tsn,
            mtu=old.mtu,
            max_send_buffer=old.max_send_buffer,
            events=self._events,
            log_prefix=self._prefix,
        )
        self._inbound = None
        self._reconfig = None
        self._setup_peer(
            state.peer_tag,
            state.peer_tsn,
            state.peer_rwnd,
            state.peer_outbound_streams,
            state.peer_inbound_streams,
            state.extensions,
        )
        self._queue(CookieAckChunk().encode())
        self._restarted(now)
        self._events.append(AssociationRestarted(self._streams_out, self._streams_in()))

    def _restarted(self, now: float) -> None:
        raise NotImplementedError  # pragma: no cover - SctpAssociation defines it

    def _on_init_ack(self, chunk: InitAckChunk, now: float) -> None:
        if self.state is not S.COOKIE_WAIT:
            return
        cookie = chunk.param(PARAM_STATE_COOKIE)
        if cookie is None or chunk.initiate_tag == 0:
            self._drop("INIT ACK without a State Cookie")
            return
        if chunk.outbound_streams == 0 or chunk.inbound_streams == 0:
            # §3.3.3: destroy the association and send ABORT.
            abort = AbortChunk(0, ((CAUSE_INVALID_MANDATORY_PARAMETER, b""),))
            self._queue(abort.encode(), vtag=chunk.initiate_tag)
            self._close("peer's INIT ACK announced zero streams", error=True)
            return
        extensions, _, unrecognized = _scan_params(chunk.params)
        self._setup_peer(
            chunk.initiate_tag,
            chunk.initial_tsn,
            chunk.a_rwnd,
            chunk.outbound_streams,
            chunk.inbound_streams,
            extensions,
        )
        self._cookie_echo = cookie
        self._cookie_sent = now
        self._queue(CookieEchoChunk(cookie).encode())
        if unrecognized:  # §3.2.2: reported in an ERROR bundled after the COOKIE ECHO
            causes = tuple((CAUSE_UNRECOGNIZED_PARAMETERS, raw) for raw in unrecognized)
            self._queue(ErrorChunk(causes).encode())
        self.state = S.COOKIE_ECHOED
        self._t1 = now + self._t1_rto

    def _on_error_chunk(self, chunk: ErrorChunk, now: float) -> None:
        """ERROR (§3.3.10). A Stale Cookie while COOKIE-ECHOED (§5.2.6): start over with a
        new INIT carrying a Cookie Preservative for the measured round trip plus the
        staleness (at most 1 s of it), instead of echoing the same stale cookie."""
        stale = next((v for c, v in chunk.causes if c == CAUSE_STALE_COOKIE), None)
        if stale is None or self.state is not S.COOKIE_ECHOED:
            logger.warning("%speer reported errors: %r", self._prefix, chunk.causes)
            return
        staleness_us = _U32.unpack(stale[:4])[0] if len(stale) >= 4 else 0
        rtt_ms = max(0, int((now - self._cookie_sent) * 1000))
        preservative = rtt_ms + min(1000, -(-staleness_us // 1000))
        logger.info(
            "%sstale cookie (%d us too old): new INIT with a %d ms Cookie Preservative",
            self._prefix,
            staleness_us,
            preservative,
        )
        self._t1_count += 1
        if self._t1_count > MAX_INIT_RETRANSMITS:
            self._close("association setup failed: stale cookies", error=True)
            return
        self.state = S.COOKIE_WAIT
        self._cookie_echo = None
        self._inbound = None
        self._reconfig = None
        self._peer_tag = 0
        self._queue_init(preservative)
        self._t1 = now + self._t1_rto

    def _on_t1(self, now: float) -> None:
        """T1-init / T1-cookie expiry (RFC 9260 §5.1 C, §6.3.3 back-off)."""
        self._t1_count += 1
        if self._t1_count > MAX_INIT_RETRANSMITS:
            self._close("association setup timed out", error=True)
            return
        self._t1_rto = min(RTO_MAX, self._t1_rto * 2)
        self._t1 = now + self._t1_rto
        if self.state is S.COOKIE_WAIT:
            self._queue_init()
        elif self._cookie_echo is not None:
            self._cookie_sent = now
            self._queue(CookieEchoChunk(self._cookie_echo).encode())


_KNOWN_PARAMS = frozenset(
    {
        PARAM_IPV4,
        PARAM_IPV6,
        PARAM_STATE_COOKIE,
        PARAM_UNRECOGNIZED,
        PARAM_COOKIE_PRESERVATIVE,
        PARAM_HOST_NAME,
        PARAM_SUPPORTED_ADDRESS_TYPES,
        PARAM_FORWARD_TSN_SUPPORTED,
        PARAM_SUPPORTED_EXTENSIONS,
    }
)
_MAX_REPORTED = 512  # bytes of unrecognized parameters echoed back (INIT ACK fits a packet)


def _scan_params(params: tuple[tuple[int, bytes], ...]) -> tuple[int, int, list[bytes]]:
    """Read an INIT's (or INIT ACK's) optional parameters (§3.2.1, §3.3.2): the
    extensions announced (RFC 3758 §3.3 Forward-TSN-Supported, RFC 5061 §4.2.7 Supported
    Extensions), the Cookie Preservative increment in ms, and the unrecognized
    parameters to report (upper bits 01 and 11; 00 and 01 also end processing)."""
    extensions = preservative = 0
    report: list[bytes] = []
    room = _MAX_REPORTED
    for ptype, value in params:
        if ptype == PARAM_FORWARD_TSN_SUPPORTED:
            extensions |= EXT_FORWARD_TSN
        elif ptype == PARAM_SUPPORTED_EXTENSIONS:
            if CHUNK_FORWARD_TSN in value:
                extensions |= EXT_FORWARD_TSN
            if CHUNK_RECONFIG in value:
                extensions |= EXT_RECONFIG
        elif ptype == PARAM_COOKIE_PRESERVATIVE and len(value) >= 4:
            preservative = _U32.unpack(value[:4])[0]
        elif ptype not in _KNOWN_PARAMS:
            if ptype & 0x4000:
                raw = _PARAM_HEADER.pack(ptype, 4 + len(value)) + value
                if len(raw) + 8 <= room:
                    report.append(raw)
                    room -= len(raw) + 8
            if not ptype & 0x8000:
                break
    return extensions, preservative, report
