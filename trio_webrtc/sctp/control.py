"""Control chunks of an established association, for :class:`~.association.SctpAssociation`.

Implements the receiver's side of RFC 9260 §8.3 (HEARTBEAT, HEARTBEAT ACK: a round-trip
sample), §9.1 (ABORT), §9.2 (SHUTDOWN, SHUTDOWN ACK, SHUTDOWN COMPLETE: the graceful
close once nothing is outstanding), RFC 3758 §3.6 (FORWARD TSN) and RFC 6525 (RE-CONFIG,
handed to :mod:`.reconfig`); COOKIE ACK, INIT ACK and ERROR go to :mod:`.handshake`. A
mixin of the association, which holds the state it declares; DATA and SACK, the hot
paths, are parsed in place by the association itself.
"""

from __future__ import annotations

import struct

from .chunks import (
    AbortChunk,
    CookieAckChunk,
    ErrorChunk,
    ForwardTsnChunk,
    HeartbeatAckChunk,
    HeartbeatChunk,
    InitAckChunk,
    ReconfigChunk,
    ShutdownAckChunk,
    ShutdownChunk,
    ShutdownCompleteChunk,
)
from .events import AssociationState
from .handshake import Handshake, logger

__all__ = ["HEARTBEAT_INFO", "RECEIVE_STATES", "ControlChunks"]

_CAUSE_USER_INITIATED_ABORT = 12  # RFC 9260 §3.3.10.12
HEARTBEAT_INFO = struct.Struct("!dQ")  # our HEARTBEAT's info: when sent, a nonce

S = AssociationState
RECEIVE_STATES = frozenset(
    {S.COOKIE_ECHOED, S.ESTABLISHED, S.SHUTDOWN_PENDING, S.SHUTDOWN_SENT, S.SHUTDOWN_RECEIVED}
)


class ControlChunks(Handshake):
    """Dispatch of the control chunks above (see the module docstring)."""

    _t1_count: int
    _t2: float | None
    _t2_count: int
    _errors: int
    _heartbeat_nonce: int | None
    _sack_due: bool
    _sack_can_wait: bool

    def _on_control(self, chunk: object, now: float) -> None:
        state = self.state
        inbound = self._inbound
        if isinstance(chunk, InitAckChunk):
            self._on_init_ack(chunk, now)
        elif isinstance(chunk, CookieAckChunk):
            if state is S.COOKIE_ECHOED:
                if not self._t1_count:  # sent once: a round trip (Karn)
                    self._setup_rtt = now - self._cookie_sent
                self._established(now)
        elif isinstance(chunk, HeartbeatAckChunk):
            if len(chunk.info) == HEARTBEAT_INFO.size:
                sent, nonce = HEARTBEAT_INFO.unpack(chunk.info)
                if nonce == self._heartbeat_nonce:
                    self._heartbeat_nonce = None
                    self._errors = 0
                    self._outbound._update_rto(max(0.0, now - sent))
        elif isinstance(chunk, HeartbeatChunk):
            self._queue(HeartbeatAckChunk(chunk.info).encode())
        elif isinstance(chunk, ForwardTsnChunk):
            if inbound is not None and state in RECEIVE_STATES:
                inbound.on_forward_tsn(chunk.new_cum_tsn, chunk.streams)
                self._sack_due = True
                self._sack_can_wait = False
        elif isinstance(chunk, ReconfigChunk):
            if inbound is not None and self._reconfig is not None and state in RECEIVE_STATES:
                self._reconfig.on_chunk(chunk, inbound, self._outbound)
        elif isinstance(chunk, ShutdownChunk):
            self._on_shutdown(chunk, now)
        elif isinstance(chunk, ShutdownAckChunk):
            if state in (S.SHUTDOWN_SENT, S.SHUTDOWN_ACK_SENT):
                self._queue(ShutdownCompleteChunk().encode())
                self._close("shutdown complete", error=False)
        elif isinstance(chunk, ShutdownCompleteChunk):
            if state is S.SHUTDOWN_ACK_SENT:
                self._close("shutdown complete", error=False)
        elif isinstance(chunk, AbortChunk):
            reason = "; ".join(f"cause {c}: {v[:64]!r}" for c, v in chunk.causes)
            user_initiated = all(code == _CAUSE_USER_INITIATED_ABORT for code, _ in chunk.causes)
            self._close(
                f"aborted by peer ({reason})" if reason else "aborted by peer",
                error=True,
                expected=user_initiated,
            )
        elif isinstance(chunk, ErrorChunk):
            self._on_error_chunk(chunk, now)
        else:
            logger.debug("%signoring chunk %r", self._prefix, chunk)

    def _on_shutdown(self, chunk: ShutdownChunk, now: float) -> None:
        state = self.state
        if state not in (S.ESTABLISHED, S.SHUTDOWN_PENDING, S.SHUTDOWN_SENT, S.SHUTDOWN_RECEIVED):
            return
        # SHUTDOWN carries a cumulative TSN ack (§9.2).
        out = self._outbound
        out.on_sack(chunk.cum_tsn, out.peer_rwnd + out.flight_charge, (), now)
        if state is S.SHUTDOWN_SENT:
            self.state = S.SHUTDOWN_ACK_SENT
            self._queue(ShutdownAckChunk().encode())
            self._t2, self._t2_count = now + out.rto, 0
            return
        if state is not S.SHUTDOWN_RECEIVED:
            self.state = S.SHUTDOWN_RECEIVED
        self._check_shutdown(now)

    def _check_shutdown(self, now: float) -> None:
        if not self._outbound.idle:
            return
        if self.state is S.SHUTDOWN_PENDING:
            self.state = S.SHUTDOWN_SENT
            self._send_shutdown(now)
        elif self.state is S.SHUTDOWN_RECEIVED:
            self.state = S.SHUTDOWN_ACK_SENT
            self._queue(ShutdownAckChunk().encode())
            self._t2, self._t2_count = now + self._outbound.rto, 0

    def _send_shutdown(self, now: float) -> None:
        assert self._inbound is not None
        self._queue(ShutdownChunk(self._inbound.cum_tsn & 0xFFFFFFFF).encode())
        self._t2, self._t2_count = now + self._outbound.rto, 0
