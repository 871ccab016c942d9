"""PR-SCTP on the send side (RFC 3758 §3.5): abandoning messages and FORWARD TSN.

Implements RFC 3758 §3.5 A5 (abandon a whole message, every fragment, sent or not, with
its uncut rest given one never-sent TSN so the FORWARD TSN covers it), §3.5 C1-C3
(Advanced.Peer.Ack.Point and the FORWARD TSN with each ordered stream's last skipped
SSN) and the two PR-SCTP policies of RFC 8831 §6.1: a message's lifetime ("timed
reliability", applied to every queued message through the scheduler's expiry heap) and
a limit on retransmissions. A mixin of :class:`~.outbound.Outbound`, which holds the
state it declares.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from .chunks import FLAG_END, ForwardTsnChunk
from .scheduler import CHARGED_BELOW, Chunk, Message, SendQueues, SendStream

if TYPE_CHECKING:
    from .trace import TraceCallback

__all__ = ["Abandonment"]

logger = logging.getLogger("trio_webrtc.sctp")

MASK32 = 0xFFFFFFFF


class Abandonment:
    """The PR-SCTP part of the sender (see the module docstring)."""

    cum_ack: int
    next_tsn: int
    flight: int
    flight_small_chunks: int
    pending_wire: int
    forward_tsn_due: bool
    trace: TraceCallback | None
    _prefix: str
    _queues: SendQueues
    _sent: deque[Chunk]
    _retransmits: dict[int, Chunk]
    _late: list[Chunk]
    _scanning: bool
    _rtt_tsn: int | None
    _unqueue: Callable[[SendStream, int], None]
    _release: Callable[[SendStream, int], None]
    _trace: Callable[..., None]

    def _should_abandon(self, chunk: Chunk, now: float) -> bool:
        message = chunk.message
        if message.abandoned:
            return True
        if message.max_retransmits is not None and chunk.sent_count > message.max_retransmits:
            return True
        return message.expiry is not None and now >= message.expiry

    def _abandon(self, message: Message) -> None:
        """Abandon a whole message (RFC 3758 §3.5 A5): every fragment, sent or not."""
        message.abandoned = True
        stream = message.stream
        released = 0
        for chunk in message.chunks:
            if chunk.abandoned or chunk.tsn <= self.cum_ack:
                continue
            chunk.abandoned = True
            released += chunk.size
            if chunk.in_flight:
                chunk.in_flight = False
                self.flight -= chunk.size
                self.flight_small_chunks -= chunk.size < CHARGED_BELOW
            if chunk.retransmit:
                chunk.retransmit = False
                self._retransmits.pop(chunk.tsn, None)
            if chunk.tsn == self._rtt_tsn:
                self._rtt_tsn = None
        rest = message.size - message.offset
        if rest:  # never cut: no TSN, and no SSN unless its first fragment went
            if message.offset:
                # Its first fragments went: give the uncut rest one TSN, never sent, so
                # that the FORWARD TSN covers it even when every fragment sent so far was
                # acknowledged; the receiver then drops them and skips the SSN (RFC 3758
                # §3.5 A5, §3.6). Appended after the caller's scan of the sent queue.
                end = Chunk(message, message.flags | FLAG_END, b"", self.next_tsn, False)
                end.rtx_order = self.next_tsn
                end.abandoned = True
                self.next_tsn += 1
                self._late.append(end)
            message.offset = message.size
            released += rest
            self._unqueue(stream, rest)
            self.pending_wire -= (19 + rest) & ~3
        if released:
            self._release(stream, released)
        self.forward_tsn_due = True
        if self._late and not self._scanning:
            self._sent.extend(self._late)
            self._late.clear()
        logger.debug("%sabandoned a message on stream %d", self._prefix, message.sid)

    def _expire(self, now: float) -> None:
        """Abandon every message whose lifetime ended, queued anywhere or in flight."""
        for message in self._queues.pop_expired(now):
            if message.abandoned:
                continue
            chunks = message.chunks
            if message.offset == message.size and chunks and chunks[-1].tsn <= self.cum_ack:
                continue  # delivered
            if self.trace is not None:
                self._trace(now, "expire", sid=message.sid, size=message.size)
            self._abandon(message)

    def forward_tsn(self) -> bytes | None:
        """The FORWARD TSN to send now (RFC 3758 §3.5 C1-C3), or None when not needed."""
        self.forward_tsn_due = False
        point = self.cum_ack
        streams: dict[int, int] = {}
        for chunk in self._sent:
            if not chunk.abandoned:
                break
            point = chunk.tsn
            message = chunk.message
            if message.ordered:
                streams[message.sid] = message.ssn
        if point == self.cum_ack:
            return None
        return ForwardTsnChunk(point & MASK32, tuple(sorted(streams.items()))).encode()

    def _append_late(self) -> None:
        if self._late:
            self._sent.extend(self._late)
            self._late.clear()
            self.forward_tsn_due = True
