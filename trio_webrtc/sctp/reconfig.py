"""Stream reconfiguration for an SCTP association (sans-I/O).

Implements RFC 6525 §5.1.2 (sending an Outgoing SSN Reset Request once the streams'
queued data has been given TSNs), §5.2.2 (handling a peer's Outgoing SSN Reset Request,
deferring with "In progress" until every TSN up to its Sender's Last Assigned TSN has
arrived), §5.2.5 (Add Outgoing Streams Request, which usrsctp/Firefox send before using a
stream beyond the count their INIT announced: granted up to our MIS, else "Denied"),
§5.2.3, §5.2.4 and §5.2.6 (Incoming SSN Reset, SSN/TSN Reset and Add Incoming Streams
Requests: answered "Denied", WebRTC does not use them), §5.2.7 (Re-configuration
Response) and §5.1.1/§6 (retransmission on the RE-CONFIG timer,
sequence numbers starting at the initial TSN).
"""

from __future__ import annotations

import logging
from collections import deque

from .chunks import (
    PARAM_ADD_INCOMING_STREAMS,
    PARAM_ADD_OUTGOING_STREAMS,
    RESULT_DENIED,
    RESULT_ERROR_BAD_SEQUENCE,
    RESULT_ERROR_IN_PROGRESS,
    RESULT_IN_PROGRESS,
    RESULT_SUCCESS_NOTHING,
    RESULT_SUCCESS_PERFORMED,
    IncomingResetRequest,
    OutgoingResetRequest,
    ReconfigChunk,
    ReconfigParam,
    ReconfigResponse,
    UnknownReconfigParam,
)
from .events import OutgoingStreamsReset, SctpEvent, StreamsReset
from .inbound import Inbound
from .outbound import Outbound

__all__ = ["StreamReconfig"]

logger = logging.getLogger("trio_webrtc.sctp")

MASK32 = 0xFFFFFFFF
HALF32 = 0x80000000
MAX_STREAMS_PER_REQUEST = 256
# SSN/TSN Reset and Add Incoming Streams Requests (RFC 6525 §4.3, §4.6): each starts
# with its Re-configuration Request Sequence Number.
_DENIED_REQUESTS = frozenset({15, PARAM_ADD_INCOMING_STREAMS})


class StreamReconfig:
    """Outgoing and incoming SSN resets for one association."""

    def __init__(
        self,
        *,
        local_tsn: int,
        peer_tsn: int,
        events: deque[SctpEvent],
        log_prefix: str,
        streams_in: int = 65535,
        max_streams_in: int = 65535,
    ) -> None:
        # The peer may send on stream ids below ``streams_in`` (RFC 9260 §5.1.1); Add
        # Outgoing Streams requests raise it up to ``max_streams_in`` (our MIS).
        self.streams_in = streams_in
        self.max_streams_in = max_streams_in
        self._events = events
        self._prefix = log_prefix
        self._next_request_seq = local_tsn & MASK32
        self._peer_request_seq = peer_tsn & MASK32
        self._last_result = RESULT_SUCCESS_NOTHING
        self._pending: list[int] = []
        self._outstanding: OutgoingResetRequest | None = None
        self._deferred: OutgoingResetRequest | None = None
        self.resetting: set[int] = set()
        self.timer: float | None = None
        self._responses: list[ReconfigParam] = []
        self.due = False

    def request(self, stream_ids: tuple[int, ...]) -> None:
        for sid in stream_ids:
            if sid not in self.resetting:
                self.resetting.add(sid)
                self._pending.append(sid)

    def set_peer_tsn(self, peer_tsn: int) -> None:
        self._peer_request_seq = peer_tsn & MASK32

    # -- sending -------------------------------------------------------------------------

    def build(self, outbound: Outbound, now: float, rto: float) -> bytes | None:
        """A RE-CONFIG chunk to send now (new request and/or responses), or None."""
        params: list[ReconfigParam] = []
        if (
            self._outstanding is None
            and self._pending
            and not outbound.has_unsent(tuple(self._pending))
        ):
            streams = tuple(self._pending[:MAX_STREAMS_PER_REQUEST])
            del self._pending[:MAX_STREAMS_PER_REQUEST]
            self._outstanding = OutgoingResetRequest(
                self._next_request_seq,
                (self._peer_request_seq - 1) & MASK32,
                (outbound.next_tsn - 1) & MASK32,
                streams,
            )
            params.append(self._outstanding)
            self.timer = now + rto
        elif self.due and self._outstanding is not None:
            params.append(self._outstanding)
        self.due = False
        if self._responses:
            params.extend(self._responses[:1])
            del self._responses[:1]
            if params and len(params) < 2 and self._responses:
                params.extend(self._responses[:1])
                del self._responses[:1]
        if not params:
            return None
        return ReconfigChunk(tuple(params[:2])).encode()

    @property
    def wants_to_send(self) -> bool:
        return bool(self._pending or self._responses or self.due)

    def on_timer(self, now: float, rto: float) -> None:
        """RE-CONFIG timer expiry (RFC 6525 §5.1.1): retransmit the outstanding request."""
        if self._outstanding is None:
            self.timer = None
            return
        self.due = True
        self.timer = now + rto

    # -- receiving -----------------------------------------------------------------------

    def on_chunk(self, chunk: ReconfigChunk, inbound: Inbound, outbound: Outbound) -> None:
        for param in chunk.params:
            if isinstance(param, OutgoingResetRequest):
                self._on_outgoing_request(param, inbound)
            elif isinstance(param, IncomingResetRequest):
                self._on_incoming_request(param)
            elif isinstance(param, ReconfigResponse):
                self._on_response(param, outbound)
            elif (
                isinstance(param, UnknownReconfigParam)
                and param.type == PARAM_ADD_OUTGOING_STREAMS
                and len(param.value) >= 6
            ):
                self._on_add_outgoing(param.value)
            elif (
                isinstance(param, UnknownReconfigParam)
                and param.type in _DENIED_REQUESTS
                and len(param.value) >= 4
            ):
                # SSN/TSN Reset and Add Streams requests (§5.2.4-§5.2.6): unanswered, the
                # peer would retransmit them until it gives up on the association.
                self._deny(int.from_bytes(param.value[:4], "big"))
            else:
                logger.debug("%signoring RE-CONFIG parameter %r", self._prefix, param)

    def _respond(self, seq: int, result: int) -> None:
        if len(self._responses) < 8:
            self._responses.append(ReconfigResponse(seq, result))

    def _on_outgoing_request(self, request: OutgoingResetRequest, inbound: Inbound) -> None:
        seq = request.request_seq
        if seq == self._peer_request_seq:
            if self._reached(request.last_tsn, inbound):
                self._perform(request, inbound)
                self._respond(seq, RESULT_SUCCESS_PERFORMED)
            else:
                self._deferred = request
                self._respond(seq, RESULT_IN_PROGRESS)
        elif seq == (self._peer_request_seq - 1) & MASK32:
            self._respond(seq, self._last_result)
        else:
            self._respond(seq, RESULT_ERROR_BAD_SEQUENCE)

    def _on_add_outgoing(self, value: bytes) -> None:
        """RFC 6525 §5.2.5: the peer adds outgoing streams (our incoming). Granted when
        the total stays within our MIS; a retransmission gets the earlier answer."""
        seq = int.from_bytes(value[:4], "big")
        count = int.from_bytes(value[4:6], "big")
        if seq != self._peer_request_seq:
            self._deny(seq)  # answers a retransmission, or "bad sequence number"
            return
        if count and self.streams_in + count <= self.max_streams_in:
            self._peer_request_seq = (seq + 1) & MASK32
            self._last_result = RESULT_SUCCESS_PERFORMED
            self.streams_in += count
            logger.info(
                "%speer added %d outgoing streams: %d now", self._prefix, count, self.streams_in
            )
            self._respond(seq, RESULT_SUCCESS_PERFORMED)
            return
        logger.warning(
            "%sdenying the peer %d more streams: %d in use, our limit is %d",
            self._prefix,
            count,
            self.streams_in,
            self.max_streams_in,
        )
        self._deny(seq)

    def _on_incoming_request(self, request: IncomingResetRequest) -> None:
        self._deny(request.request_seq)

    def _deny(self, seq: int) -> None:
        """Answer a request this stack does not perform "Denied" (RFC 6525 §5.2.3-§5.2.6),
        keeping the request sequence numbers in step (§5.2.1)."""
        if seq == self._peer_request_seq:
            self._peer_request_seq = (seq + 1) & MASK32
            self._last_result = RESULT_DENIED
            self._respond(seq, RESULT_DENIED)
        elif seq == (self._peer_request_seq - 1) & MASK32:
            self._respond(seq, self._last_result)
        else:
            self._respond(seq, RESULT_ERROR_BAD_SEQUENCE)

    @staticmethod
    def _reached(last_tsn: int, inbound: Inbound) -> bool:
        delta = (last_tsn - inbound.cum_tsn) & MASK32
        return delta == 0 or delta >= HALF32

    def _perform(self, request: OutgoingResetRequest, inbound: Inbound) -> None:
        self._deferred = None
        self._peer_request_seq = (request.request_seq + 1) & MASK32
        self._last_result = RESULT_SUCCESS_PERFORMED
        inbound.reset_streams(request.streams)
        self._events.append(StreamsReset(request.streams))

    def check_deferred(self, inbound: Inbound) -> None:
        """After DATA or FORWARD TSN: perform a deferred peer request once its TSN arrived."""
        request = self._deferred
        if request is not None and self._reached(request.last_tsn, inbound):
            self._perform(request, inbound)
            self._respond(request.request_seq, RESULT_SUCCESS_PERFORMED)

    def _on_response(self, response: ReconfigResponse, outbound: Outbound) -> None:
        request = self._outstanding
        if request is None or response.response_seq != request.request_seq:
            return
        result = response.result
        if result in (RESULT_IN_PROGRESS, RESULT_ERROR_IN_PROGRESS):
            return  # the peer is busy with it (6) or with an earlier one (4): the timer retries
        self._outstanding = None
        self.timer = None
        self.due = False
        self._next_request_seq = (self._next_request_seq + 1) & MASK32
        self.resetting.difference_update(request.streams)
        if result in (RESULT_SUCCESS_PERFORMED, RESULT_SUCCESS_NOTHING):
            outbound.reset_ssns(request.streams)
        else:
            # Refused: our SSNs carry on, as the peer's expectations do, so the streams stay
            # consistent if reused; the closing channels still complete (RFC 8831 §6.7 has
            # no fallback, and a channel stuck in CLOSING helps nobody).
            logger.warning(
                "%speer refused to reset streams %r (result %d); closing them without a reset",
                self._prefix,
                request.streams,
                result,
            )
        self._events.append(OutgoingStreamsReset(request.streams))

    def has_outstanding(self) -> bool:
        return self._outstanding is not None
