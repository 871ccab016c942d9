"""Association setup for :class:`~trio_webrtc.sctp.SctpAssociation` (sans-I/O).

Implements RFC 9260 §5.1 (the four-way handshake: INIT, a stateless INIT ACK whose State
Cookie carries everything, COOKIE ECHO, COOKIE ACK; T1-init and T1-cookie), §5.1.5
(cookie validation and staleness), §5.2.1-§5.2.4 (INIT collisions and unexpected COOKIE
ECHOs) and the INIT parameters of RFC 3758 §3.1 and RFC 6525 §4 as profiled by RFC 8831
§6. A mixin: the methods run on the association's own state.
"""

from __future__ import annotations

import logging
from collections import deque

from .chunks import (
    CAUSE_STALE_COOKIE,
    CHUNK_FORWARD_TSN,
    CHUNK_INIT,
    CHUNK_RECONFIG,
    PARAM_FORWARD_TSN_SUPPORTED,
    PARAM_STATE_COOKIE,
    PARAM_SUPPORTED_EXTENSIONS,
    CookieAckChunk,
    CookieEchoChunk,
    ErrorChunk,
    InitAckChunk,
    InitChunk,
    iter_chunks,
    parse_chunk,
)
from .cookie import COOKIE_LIFETIME, CookieJar, CookieState
from .events import AssociationEstablished, AssociationState, SctpEvent
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
    _heartbeat: float | None

    def _queue(self, chunk: bytes, vtag: int | None = None, alone: bool = False) -> None:
        raise NotImplementedError  # pragma: no cover - SctpAssociation defines it

    def _drop(self, why: str) -> None:
        raise NotImplementedError  # pragma: no cover - SctpAssociation defines it

    def _close(self, reason: str, *, error: bool, expected: bool = False) -> None:
        raise NotImplementedError  # pragma: no cover - SctpAssociation defines it

    def _queue_init(self) -> None:
        init = InitChunk(
            self._local_tag, self._window, STREAMS, STREAMS, self._local_tsn, self._init_params()
        )
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
        self._events.append(AssociationEstablished())
        logger.info("%sassociation established", self._prefix)

    def _setup_peer(self, peer_tag: int, peer_tsn: int, a_rwnd: int) -> None:
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
        )
        self._outbound.peer_rwnd = a_rwnd
        self._outbound.ssthresh = max(a_rwnd, 4 * self._mtu)

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
        if init.initiate_tag == 0 or init.outbound_streams == 0 or init.inbound_streams == 0:
            self._drop("invalid INIT")
            return
        if self.state in (S.SHUTDOWN_ACK_SENT,):
            return
        # Stateless INIT ACK (§5.1 B): everything needed later goes into the signed cookie.
        # During an INIT collision (§5.2.1) our tag and TSN are those of our own INIT.
        cookie = self._cookies.make(
            CookieState(
                timestamp=now,
                local_tag=self._local_tag,
                peer_tag=init.initiate_tag,
                local_tsn=self._local_tsn,
                peer_tsn=init.initial_tsn,
                peer_rwnd=init.a_rwnd,
            )
        )
        ack = InitAckChunk(
            self._local_tag,
            self._window,
            STREAMS,
            STREAMS,
            self._local_tsn,
            self._init_params(cookie),
        )
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
        if now - state.timestamp > COOKIE_LIFETIME or now < state.timestamp - 1.0:
            staleness = max(0, int((now - state.timestamp - COOKIE_LIFETIME) * 1e6))
            cause = ((CAUSE_STALE_COOKIE, staleness.to_bytes(4, "big")),)
            self._queue(ErrorChunk(cause).encode(), vtag=state.peer_tag)
            self._drop("stale State Cookie")
            return False
        if self.state in (S.CLOSED, S.COOKIE_WAIT, S.COOKIE_ECHOED):
            if self.state is S.CLOSED and self._closed_event:
                return False
            self._setup_peer(state.peer_tag, state.peer_tsn, state.peer_rwnd)
            self._queue(CookieAckChunk().encode())
            self._established(now)
            return True
        if state.peer_tag == self._peer_tag:  # §5.2.4 case D: our COOKIE ACK was lost
            self._queue(CookieAckChunk().encode())
            return True
        self._drop("COOKIE ECHO from a restarted peer (restart is not supported)")
        return False

    def _on_init_ack(self, chunk: InitAckChunk, now: float) -> None:
        if self.state is not S.COOKIE_WAIT:
            return
        cookie = chunk.param(PARAM_STATE_COOKIE)
        if cookie is None or chunk.initiate_tag == 0:
            self._drop("INIT ACK without a State Cookie")
            return
        self._setup_peer(chunk.initiate_tag, chunk.initial_tsn, chunk.a_rwnd)
        self._cookie_echo = cookie
        self._queue(CookieEchoChunk(cookie).encode())
        self.state = S.COOKIE_ECHOED
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
            self._queue(CookieEchoChunk(self._cookie_echo).encode())
