"""Send side of an SCTP association: queueing, retransmission, congestion control.

Implements RFC 9260 §6.1 (transmission of DATA, rwnd, zero window probing), §6.2.1
(processing a received SACK), §6.3 (RTO calculation with Karn's algorithm, T3-rtx rules),
§6.9 (fragmentation), §7.2 (slow start, congestion avoidance, fast retransmit and fast
recovery), RFC 7053 (the I bit on a flight's last chunk) and the sender side of RFC 3758
§3.5 (PR-SCTP abandonment, Advanced.Peer.Ack.Point, FORWARD TSN generation).

Hot-path design: ``send()`` only queues the message; DATA chunks are cut from the queued
messages while packets are built (§6.9 allows fragmenting at transmission), sized to the
room left in the packet, so a message's tail and the next message's head share a packet
and no short last fragment takes a packet of its own. Messages small enough for one chunk
are never split. TSNs and the ordered SSN are assigned as chunks are cut. Sent chunks sit
in a deque ordered by TSN (TSNs are unbounded integers internally), so a SACK pops
acknowledged chunks from the left and indexes gap blocks by offset, never rescanning the
whole queue.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable

from .chunks import (
    DATA_HEADER,
    FLAG_BEGIN,
    FLAG_END,
    FLAG_IMMEDIATE,
    FLAG_UNORDERED,
    ForwardTsnChunk,
)
from .events import BufferedAmountLow, SctpEvent, SendBufferFullError

__all__ = ["Outbound"]

logger = logging.getLogger("trio_webrtc.sctp")

MASK32 = 0xFFFFFFFF
HALF32 = 0x80000000
RTO_INITIAL = 1.0
RTO_MIN = 0.2
RTO_MAX = 60.0
PEER_CHUNK_OVERHEAD = 256
"""Debited from the peer's receive window per DATA chunk on top of its payload (as
usrsctp's ``peer_chunk_oh``): receivers charge their bookkeeping per held chunk (ours:
``inbound.CHUNK_CHARGE``), so a stream of tiny messages must not be sent as if each cost
only its payload bytes of the peer's window."""
_PADS = (b"", b"\x00\x00\x00", b"\x00\x00", b"\x00")


MIN_FRAGMENT = 256
"""A message that needs fragmenting anyway is cut to fill the room left in a packet only
when at least this many payload bytes fit (a smaller fragment costs more per chunk, on
both ends, than the packet space it saves)."""


class _Message:
    __slots__ = (
        "abandoned",
        "chunks",
        "data",
        "expiry",
        "flags",
        "max_retransmits",
        "offset",
        "ordered",
        "ppid",
        "sid",
        "size",
        "ssn",
    )

    def __init__(  # noqa: PLR0917
        self,
        sid: int,
        ppid: int,
        data: bytes,
        ordered: bool,
        max_retransmits: int | None,
        expiry: float | None,
    ) -> None:
        self.sid = sid
        self.ppid = ppid
        self.data: bytes | memoryview = data
        self.size = len(data)
        self.offset = 0  # bytes already cut into chunks (given TSNs)
        self.ordered = ordered
        self.flags = 0 if ordered else FLAG_UNORDERED
        self.max_retransmits = max_retransmits
        self.expiry = expiry
        self.abandoned = False
        self.ssn = 0
        self.chunks: list[_Chunk] = []


class _Chunk:
    __slots__ = (
        "abandoned",
        "acked",
        "data",
        "flags",
        "in_flight",
        "message",
        "missing",
        "probe",
        "retransmit",
        "sent_count",
        "size",
        "tsn",
    )

    def __init__(self, message: _Message, flags: int, data: memoryview | bytes) -> None:
        self.message = message
        self.flags = flags
        self.data = data
        self.size = len(data)
        self.tsn = -1
        self.sent_count = 0
        self.acked = False
        self.abandoned = False
        self.in_flight = False
        self.retransmit = False
        self.probe = False
        self.missing = 0


Emit = Callable[[bytes, bytes | memoryview, bytes, int], None]
"""Adds one DATA chunk (header, payload, padding, padded length) to the packet being built."""


class Outbound:
    """Send-side state for one association."""

    def __init__(
        self,
        *,
        initial_tsn: int,
        mtu: int,
        max_send_buffer: int,
        events: deque[SctpEvent],
        log_prefix: str,
    ) -> None:
        self.mtu = mtu
        # The largest DATA payload: an otherwise empty packet (common header, DATA header).
        self.max_payload = (mtu - 12 - 16) & ~3
        self.max_send_buffer = max_send_buffer
        self._events = events
        self._prefix = log_prefix
        self.next_tsn = initial_tsn
        self.cum_ack = initial_tsn - 1
        self._pending: deque[_Message] = deque()  # messages with bytes not yet cut
        self._sent: deque[_Chunk] = deque()
        self._retransmits: dict[int, _Chunk] = {}
        self._late: list[_Chunk] = []  # abandoned tails to append to _sent (see _abandon)
        self._scanning = False  # a loop over _sent is running: _abandon must not append
        self.fast_pending = False
        self.flight = 0  # payload bytes in flight
        self.flight_chunks = 0  # chunks in flight
        self.peer_rwnd = 0
        self.cwnd = min(4 * mtu, max(2 * mtu, 4380))
        self.ssthresh = 1 << 30
        self._partial_acked = 0
        self._recovery_exit: int | None = None
        self.srtt: float | None = None
        self._rttvar = 0.0
        self.rto = RTO_INITIAL
        self._rtt_tsn: int | None = None
        self._rtt_sent = 0.0
        self.t3: float | None = None
        self.forward_tsn_due = False
        self.buffered: dict[int, int] = {}
        self.total_buffered = 0
        self.thresholds: dict[int, int] = {}
        self.unsent_per_stream: dict[int, int] = {}  # queued messages not fully cut
        self._next_ssn: dict[int, int] = {}
        # Padded wire bytes of what is not yet sent, each message's rest counted as one
        # chunk (exact for messages that fit a packet; the bundling hold only needs to
        # know whether the queue fills a packet).
        self.pending_wire = 0
        # The last fill left new DATA queued because cwnd or the peer's rwnd was full: a
        # SACK that opens them should be answered with DATA at once (ack clocking).
        self.window_blocked = False

    # -- user data -----------------------------------------------------------------------

    def send(  # noqa: PLR0917 - hot path: positional on purpose
        self,
        sid: int,
        ppid: int,
        data: bytes,
        ordered: bool,
        max_retransmits: int | None,
        expiry: float | None,
    ) -> int:
        """Queue one message (cut into chunks as packets are built); returns the stream's
        buffered bytes."""
        size = len(data)
        if self.total_buffered + size > self.max_send_buffer:
            raise SendBufferFullError(
                f"{self.total_buffered} bytes buffered; {size} more exceed {self.max_send_buffer}"
            )
        self._pending.append(_Message(sid, ppid, data, ordered, max_retransmits, expiry))
        self.pending_wire += (19 + size) & ~3
        self.unsent_per_stream[sid] = self.unsent_per_stream.get(sid, 0) + 1
        buffered = self.buffered.get(sid, 0) + size
        self.buffered[sid] = buffered
        self.total_buffered += size
        return buffered

    def _release(self, sid: int, size: int) -> None:
        before = self.buffered[sid]
        after = before - size
        self.buffered[sid] = after
        self.total_buffered -= size
        threshold = self.thresholds.get(sid, 0)
        if before > threshold >= after:
            self._events.append(BufferedAmountLow(sid))

    def has_unsent(self, sids: tuple[int, ...]) -> bool:
        counts = self.unsent_per_stream
        return any(counts.get(sid, 0) for sid in sids)

    def reset_ssns(self, sids: tuple[int, ...]) -> None:
        for sid in sids or tuple(self._next_ssn):
            self._next_ssn.pop(sid, None)

    @property
    def idle(self) -> bool:
        """Nothing queued and nothing outstanding (the SHUTDOWN precondition)."""
        return not self._pending and not self._sent

    @property
    def has_pending(self) -> bool:
        """Queued or to-be-retransmitted DATA exists."""
        return bool(self._pending or self._retransmits)

    @property
    def flight_charge(self) -> int:
        """What the data in flight takes of the peer's window, as we count it."""
        return self.flight + PEER_CHUNK_OVERHEAD * self.flight_chunks

    @property
    def has_outstanding(self) -> bool:
        return bool(self._sent)

    # -- PR-SCTP -------------------------------------------------------------------------

    def _should_abandon(self, chunk: _Chunk, now: float) -> bool:
        message = chunk.message
        if message.abandoned:
            return True
        if message.max_retransmits is not None and chunk.sent_count > message.max_retransmits:
            return True
        return message.expiry is not None and now >= message.expiry

    def _abandon(self, message: _Message) -> None:
        """Abandon a whole message (RFC 3758 §3.5 A5): every fragment, sent or not."""
        message.abandoned = True
        released = 0
        for chunk in message.chunks:
            if chunk.abandoned or chunk.tsn <= self.cum_ack:
                continue
            chunk.abandoned = True
            released += chunk.size
            if chunk.in_flight:
                chunk.in_flight = False
                self.flight -= chunk.size
                self.flight_chunks -= 1
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
                end = _Chunk(message, message.flags | FLAG_END, b"")
                end.tsn = self.next_tsn
                end.abandoned = True
                self.next_tsn += 1
                self._late.append(end)
            message.offset = message.size
            released += rest
            self.unsent_per_stream[message.sid] -= 1
            self.pending_wire -= (19 + rest) & ~3
        if released:
            self._release(message.sid, released)
        self.forward_tsn_due = True
        if self._late and not self._scanning:
            self._sent.extend(self._late)
            self._late.clear()
        logger.debug("%sabandoned a message on stream %d", self._prefix, message.sid)

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

    # -- transmission --------------------------------------------------------------------

    def _mark(self, chunk: _Chunk, now: float) -> None:
        """Mark an outstanding chunk for retransmission, or abandon its message."""
        if chunk.in_flight:
            chunk.in_flight = False
            self.flight -= chunk.size
            self.flight_chunks -= 1
        chunk.missing = 0
        if chunk.tsn == self._rtt_tsn:
            self._rtt_tsn = None
        if self._should_abandon(chunk, now):
            self._abandon(chunk.message)
        elif not chunk.retransmit:
            chunk.retransmit = True
            self._retransmits[chunk.tsn] = chunk

    def _encode(self, chunk: _Chunk, emit: Emit) -> None:
        message = chunk.message
        length = 16 + chunk.size
        emit(
            DATA_HEADER.pack(
                0, chunk.flags, length, chunk.tsn & MASK32, message.sid, message.ssn, message.ppid
            ),
            chunk.data,
            _PADS[length & 3],
            (length + 3) & ~3,
        )

    def fill(
        self,
        now: float,
        room: Callable[[], int],
        emit: Emit,
        new_packet: Callable[[], None],
        allow_new: bool,
        *,
        hold: int = 0,
    ) -> None:
        """Emit retransmissions then new DATA, within cwnd and the peer's rwnd.

        ``hold`` (a packet's room for chunks, or 0): new DATA that would start a packet it
        cannot fill stays queued, for a caller that will send more soon (RFC 9260 §6.1:
        bundling small messages).
        """
        self.window_blocked = False
        if self._retransmits:
            fast_budget = self.mtu if self.fast_pending else 0
            self.fast_pending = False
            for tsn in sorted(self._retransmits):
                maybe = self._retransmits.get(tsn)
                if maybe is None:
                    continue  # abandoned with an earlier fragment of its message
                chunk = maybe
                if self.flight >= self.cwnd and fast_budget <= 0:
                    break
                if self._should_abandon(chunk, now):
                    self._abandon(chunk.message)
                    continue
                if room() < (16 + chunk.size + 3) & ~3:  # padded length
                    new_packet()
                del self._retransmits[tsn]
                chunk.retransmit = False
                chunk.in_flight = True
                chunk.sent_count += 1
                self.flight += chunk.size
                self.flight_chunks += 1
                fast_budget -= chunk.size + 16
                self._encode(chunk, emit)
            if self.t3 is None:
                self.t3 = now + self.rto
        if not allow_new or self._retransmits:
            return
        pending = self._pending
        sent = self._sent
        cwnd = self.cwnd
        largest = self.max_payload
        while pending and self.flight < cwnd:
            message = pending[0]
            if message.abandoned:
                pending.popleft()  # _abandon already took it off the counts
                continue
            if message.expiry is not None and now >= message.expiry:
                self._abandon(message)
                pending.popleft()
                continue
            offset = message.offset
            size = message.size - offset
            wire = (19 + size) & ~3  # padded length of the rest as one chunk
            space = room()
            if wire <= space:
                if space >= hold > self.pending_wire:
                    break  # an empty packet we could not fill: wait for more
            elif (offset or size > largest) and space >= MIN_FRAGMENT + 16:
                size = (space - 16) & ~3  # fragmented anyway: fill this packet
                wire = size + 16
            else:
                if self.pending_wire < hold:
                    break  # the rest would not fill a packet: keep it for the next call
                new_packet()
                continue
            probe = False
            if self.peer_rwnd < size + PEER_CHUNK_OVERHEAD:
                if self.flight or sent:
                    self.window_blocked = True
                    break
                probe = True  # RFC 9260 §6.1 rule A: one zero-window probe
            data = message.data
            flags = message.flags
            end = offset + size
            if end == message.size:
                flags |= FLAG_END
                pending.popleft()
                self.pending_wire -= wire
                self.unsent_per_stream[message.sid] -= 1
                if offset:
                    data = data[offset:]
            else:
                if type(data) is bytes:
                    data = message.data = memoryview(data)
                data = data[offset:end]
                self.pending_wire -= size
            message.offset = end
            if not offset:
                flags |= FLAG_BEGIN
                if message.ordered:
                    sid = message.sid
                    ssn = self._next_ssn.get(sid, 0)
                    message.ssn = ssn
                    self._next_ssn[sid] = (ssn + 1) & 0xFFFF
            chunk = _Chunk(message, flags, data)
            message.chunks.append(chunk)
            tsn = self.next_tsn
            self.next_tsn = tsn + 1
            chunk.tsn = tsn
            chunk.in_flight = True
            chunk.sent_count = 1
            chunk.probe = probe
            self.flight += size
            self.flight_chunks += 1
            self.peer_rwnd = max(0, self.peer_rwnd - size - PEER_CHUNK_OVERHEAD)
            sent.append(chunk)
            if self._rtt_tsn is None:
                self._rtt_tsn = tsn
                self._rtt_sent = now
            if not pending:
                # RFC 7053: the queue ran dry, so ask for an immediate SACK rather than
                # have the peer's 200 ms delayed ack race our 200 ms minimum RTO.
                chunk.flags |= FLAG_IMMEDIATE
            self._encode(chunk, emit)
            if probe:
                break
        else:
            self.window_blocked = bool(pending)  # the loop stopped at cwnd
        if self.t3 is None and self.flight:
            self.t3 = now + self.rto

    # -- SACK ----------------------------------------------------------------------------

    def _update_rto(self, rtt: float) -> None:
        if self.srtt is None:
            self.srtt = rtt
            self._rttvar = rtt / 2
        else:
            self._rttvar = 0.75 * self._rttvar + 0.25 * abs(self.srtt - rtt)
            self.srtt = 0.875 * self.srtt + 0.125 * rtt
        self.rto = min(RTO_MAX, max(RTO_MIN, self.srtt + 4 * self._rttvar))

    def on_sack(
        self, wire_cum: int, a_rwnd: int, gaps: tuple[tuple[int, int], ...], now: float
    ) -> bool:
        """Process a SACK (RFC 9260 §6.2.1); False when it was stale or invalid."""
        delta = (wire_cum - self.cum_ack) & MASK32
        if delta >= HALF32:
            return False  # older than what we know: drop (§6.2.1 D i)
        cum = self.cum_ack + delta
        if cum >= self.next_tsn:
            logger.debug("%sSACK acknowledges unsent TSN %d", self._prefix, wire_cum)
            return False
        sent = self._sent
        flight_before = self.flight
        acked_bytes = 0
        rtt_tsn = self._rtt_tsn
        while sent and sent[0].tsn <= cum:
            chunk = sent.popleft()
            if chunk.abandoned:
                continue
            if chunk.in_flight:
                self.flight -= chunk.size
                self.flight_chunks -= 1
            if not chunk.acked:
                acked_bytes += chunk.size
            if chunk.retransmit:
                del self._retransmits[chunk.tsn]
            if chunk.tsn == rtt_tsn and chunk.sent_count == 1:
                self._update_rto(now - self._rtt_sent)
                self._rtt_tsn = rtt_tsn = None
            self._release(chunk.message.sid, chunk.size)
        advanced = cum > self.cum_ack
        self.cum_ack = cum
        highest_new = -1
        if gaps and sent:
            base = sent[0].tsn
            top = len(sent)
            for start, end in gaps:
                lo = cum + start - base
                hi = min(cum + end - base, top - 1)
                for index in range(max(lo, 0), hi + 1):
                    chunk = sent[index]
                    if chunk.acked or chunk.abandoned:
                        continue
                    chunk.acked = True
                    if chunk.in_flight:
                        chunk.in_flight = False
                        self.flight -= chunk.size
                        self.flight_chunks -= 1
                    if chunk.retransmit:
                        chunk.retransmit = False
                        del self._retransmits[chunk.tsn]
                    acked_bytes += chunk.size
                    highest_new = chunk.tsn
                    if chunk.tsn == rtt_tsn and chunk.sent_count == 1:
                        self._update_rto(now - self._rtt_sent)
                        self._rtt_tsn = rtt_tsn = None
            if highest_new >= 0:
                self._scanning = True
                try:
                    self._miss_indications(highest_new, now)
                finally:
                    self._scanning = False
                self._append_late()
        # Congestion control (§7.2.1, §7.2.2) and fast recovery exit (§7.2.4).
        if self._recovery_exit is not None and cum >= self._recovery_exit:
            self._recovery_exit = None
        if advanced and self._recovery_exit is None:
            if self.cwnd <= self.ssthresh:
                if flight_before + self.mtu >= self.cwnd:
                    self.cwnd += min(acked_bytes, self.mtu)
            else:
                self._partial_acked += acked_bytes
                if self._partial_acked >= self.cwnd and flight_before + self.mtu >= self.cwnd:
                    self._partial_acked -= self.cwnd
                    self.cwnd += self.mtu
        if not self.flight:
            self._partial_acked = 0
        previous_rwnd = self.peer_rwnd
        self.peer_rwnd = max(0, a_rwnd - self.flight_charge)
        if self.peer_rwnd and not previous_rwnd:
            # The window reopened: probes the peer dropped go again (usrsctp does the same).
            self._scanning = True
            try:
                for chunk in sent:
                    if chunk.probe and not chunk.acked and not chunk.abandoned:
                        chunk.probe = False
                        self._mark(chunk, now)
            finally:
                self._scanning = False
            self._append_late()
        if advanced:
            self.t3 = now + self.rto if sent else None
        if sent and sent[0].abandoned:
            self.forward_tsn_due = True
        return True

    def _append_late(self) -> None:
        if self._late:
            self._sent.extend(self._late)
            self._late.clear()
            self.forward_tsn_due = True

    def _miss_indications(self, highest_new: int, now: float) -> None:
        for chunk in self._sent:
            if chunk.tsn >= highest_new:
                break
            if chunk.acked or chunk.abandoned or not chunk.in_flight:
                continue
            chunk.missing += 1
            if chunk.missing >= 3:
                if self._recovery_exit is None:
                    self.ssthresh = max(self.cwnd // 2, 4 * self.mtu)
                    self.cwnd = self.ssthresh
                    self._partial_acked = 0
                    self._recovery_exit = self.next_tsn - 1
                self.fast_pending = True
                self._mark(chunk, now)

    # -- T3-rtx (RFC 9260 §6.3.3) --------------------------------------------------------

    def on_t3(self, now: float) -> None:
        self.rto = min(RTO_MAX, self.rto * 2)
        self.ssthresh = max(self.cwnd // 2, 4 * self.mtu)
        self.cwnd = self.mtu
        self._partial_acked = 0
        self._recovery_exit = None
        outstanding = [c for c in self._sent if not c.acked and not c.abandoned]
        if not outstanding:
            # Everything left was gap-acked yet never cumulatively acked: the peer reneged.
            outstanding = [c for c in self._sent if not c.abandoned]
            for chunk in outstanding:
                chunk.acked = False
        for chunk in outstanding:
            self._mark(chunk, now)
        if self._sent and self._sent[0].abandoned:
            self.forward_tsn_due = True
        self.t3 = now + self.rto if self._sent else None
