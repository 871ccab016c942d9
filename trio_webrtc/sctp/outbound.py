"""Send side of an SCTP association: queueing, retransmission, loss recovery.

Implements RFC 9260 §6.1 (transmission of DATA, rwnd, zero window probing, rule D:
Max.Burst), §6.2.1 (processing a received SACK), §6.3 (RTO calculation with Karn's
algorithm, T3-rtx rules; E3: one packet at expiry), §6.9 (fragmentation), §7.2 (slow
start, congestion avoidance, cwnd decay after idle, fast retransmit at most once per TSN
per loss event, New-Reno-style fast recovery until the cumulative ack passes the recovery
point) and RFC 7053 (the I bit on a flight's last chunk). The window arithmetic is in
:mod:`.congestion` (Reno or CUBIC, per association), the per-stream queues and their
round-robin service in :mod:`.scheduler`, PR-SCTP abandonment and FORWARD TSN (RFC 3758
§3.5) in :mod:`.prsctp`, the opt-in trace in :mod:`.trace`.

Loss detection: the three-miss-indication rule of §7.2.4, counted only from chunks
*sent after* the missing one (RACK's ordering, RFC 8985 §6.1, applied to miss
indications): a fast retransmission is declared lost again only when three SACKs report
later-sent data beyond it, which is a new loss event for that TSN; within one loss event
a TSN is fast-retransmitted once. A retransmitted chunk acknowledged sooner than the
least measured round trip after its latest transmission was an earlier copy (RFC 8985
§6.2 step 2) and counts by its TSN, not as later-sent data. Timers stay as RFC 9260
§6.3 (RTO from measured RTT); we do not add TLP: SCTP's I bit (RFC 7053) already draws
an immediate SACK for a flight's last chunk, which is what a tail probe buys TCP.

Max.Burst (§6.1 D): each transmission opportunity may send, beyond the bytes acknowledged
by the SACKs since the previous one, at most :data:`MAX_BURST` packets of new DATA per
such SACK (a driver that reads several SACKs before it sends gets what it would have
sent after each; slow start needs twice what was acked); :data:`LAN_MAX_BURST` (32) once
a round trip under 5 ms was measured (loopback bulk, 16 KiB messages: 0.0332 CPU s/MB
and 48.5 driver flushes/MB with 4, 0.0295 and 21.4 with 64, as before Max.Burst), so a
window that opens at once (peer rwnd reopening, cwnd left large while app-limited) is not
sent at line rate into a shallow queue or a slow receiver's socket buffer.

Hot-path design: ``send()`` only queues the message; DATA chunks are cut from the queued
messages while packets are built (§6.9 allows fragmenting at transmission), sized to the
room left in the packet, so a message's tail and the next message's head share a packet
and no short last fragment takes a packet of its own. Messages small enough for one chunk
are never split. TSNs and the ordered SSN are assigned as chunks are cut. Sent chunks sit
in a deque ordered by TSN (TSNs are unbounded integers internally), so a SACK pops
acknowledged chunks from the left and indexes gap blocks by offset; missing chunks are
kept in a short list of holes, so miss indications never rescan the whole window.
"""

from __future__ import annotations

import logging
from bisect import bisect_right
from collections import deque
from typing import TYPE_CHECKING

from .chunks import (
    DATA_HEADER,
    FLAG_BEGIN,
    FLAG_END,
    FLAG_IMMEDIATE,
)
from .congestion import make_controller
from .events import SctpEvent, SendBufferFullError
from .prsctp import Abandonment
from .scheduler import CHARGED_BELOW, QUANTUM, Chunk, Message, SendQueues, SendStream
from .trace import TraceCallback

if TYPE_CHECKING:
    from .packets import PacketBuilder

__all__ = ["Outbound"]

logger = logging.getLogger("trio_webrtc.sctp")

MASK32 = 0xFFFFFFFF
HALF32 = 0x80000000
RTO_INITIAL = 1.0
RTO_MIN = 0.2
RTO_MAX = 60.0
MAX_BURST = 4
"""RFC 9260 §15 Max.Burst: packets of new DATA per transmission opportunity beyond what
the SACKs since the last one acknowledged."""
LAN_MAX_BURST = 32
"""Max.Burst where the least measured round trip is under :data:`LAN_RTT`: a 38 KB burst
drains in well under a round trip's worth of any queue on such a path, and each packet
of burst costs a driver wakeup on loopback (module doc)."""
LAN_RTT = 0.005
PEER_CHUNK_OVERHEAD = 256
"""Debited from the peer's receive window per DATA chunk under :data:`CHARGED_BELOW`
bytes on top of its payload (as usrsctp's ``peer_chunk_oh``): receivers charge their
bookkeeping per held chunk (ours: ``inbound.CHUNK_CHARGE``), so a stream of tiny messages
must not be sent as if each cost only its payload bytes of the peer's window."""
_PADS = (b"", b"\x00\x00\x00", b"\x00\x00", b"\x00")


MIN_FRAGMENT = 256
"""A message that needs fragmenting anyway is cut to fill the room left in a packet only
when at least this many payload bytes fit (a smaller fragment costs more per chunk, on
both ends, than the packet space it saves)."""


class Outbound(Abandonment):
    """Send-side state for one association.

    ``max_send_buffer`` bounds the bytes held per association (queued or in flight, not
    yet acknowledged or abandoned): ``send()`` raises :class:`SendBufferFullError` past
    it. ``buffered_amount(sid)`` is W3C's bufferedAmount: queued and not yet sent.
    ``congestion_control`` is ``"reno"`` or ``"cubic"`` (see :mod:`.congestion`);
    ``trace`` receives send-path records (see :mod:`.trace`).
    """

    def __init__(
        self,
        *,
        initial_tsn: int,
        mtu: int,
        max_send_buffer: int,
        events: deque[SctpEvent],
        log_prefix: str,
        congestion_control: str = "cubic",
        trace: TraceCallback | None = None,
    ) -> None:
        self.mtu = mtu
        # The largest DATA payload: an otherwise empty packet (common header, DATA header).
        self.max_payload = (mtu - 12 - 16) & ~3
        self.max_send_buffer = max_send_buffer
        self._events = events
        self._prefix = log_prefix
        self.cc = make_controller(congestion_control)
        self.trace = trace
        self.next_tsn = initial_tsn
        self.cum_ack = initial_tsn - 1
        self._queues = SendQueues()
        self._pending = self._queues.ring  # streams with bytes not yet cut
        self._sent: deque[Chunk] = deque()
        self._retransmits: dict[int, Chunk] = {}
        self._late: list[Chunk] = []  # abandoned tails to append to _sent (see _abandon)
        self._scanning = False  # a loop over _sent is running: _abandon must not append
        self._holes: list[Chunk] = []  # unacked chunks below a gap-acked one, by TSN
        self._hole_top = initial_tsn - 1  # holes are known up to this TSN
        self._gap_ends: dict[int, int] = {}  # the last SACK's gap blocks: first -> last TSN
        self.fast_pending = False
        # E3: after T3 one packet goes (1), then nothing until a SACK arrives (2).
        self._t3_state = 0
        self._backed_off = False
        self._rtx_base = initial_tsn  # transmission order of retransmissions (see Chunk)
        self._rtx_count = 0
        self.flight = 0  # payload bytes in flight
        self.flight_small_chunks = 0  # chunks in flight under CHARGED_BELOW bytes
        self.peer_rwnd = 0
        self.cwnd = min(4 * mtu, max(2 * mtu, 4380))
        self.ssthresh = 1 << 30
        self._recovery_exit: int | None = None
        # Max.Burst: bytes of new DATA that may go before the next SACK (see fill).
        self.max_burst = MAX_BURST  # LAN_MAX_BURST once a round trip under LAN_RTT is seen
        self.burst_credit = MAX_BURST * self.max_payload
        self._acked_since_fill = 0
        self._acking_sacks = 0  # SACKs since the last fill that acknowledged new data
        self._active_at: float | None = None  # last DATA sent or acknowledged
        self.srtt: float | None = None
        self._cwnd_full = False  # the latest transmission filled cwnd
        #: The least round trip measured (0 until the first sample).
        self.min_rtt = 0.0
        self._rttvar = 0.0
        self.rto = RTO_INITIAL
        self._rtt_tsn: int | None = None
        # When new DATA left, per transmission opportunity (first TSN, time): a round-trip
        # sample per SACK for the congestion controller (RFC 9260's RTO keeps Karn's one
        # timed chunk per round trip).
        self._sent_tsns: list[int] = []
        self._sent_times: list[float] = []
        self._sent_head = 0
        self._rtt_sent = 0.0
        self.t3: float | None = None
        self.forward_tsn_due = False
        self.total_buffered = 0  # bytes held: queued or in flight
        # Padded wire bytes of what is not yet sent, each message's rest counted as one
        # chunk (exact for messages that fit a packet; the bundling hold only needs to
        # know whether the queue fills a packet).
        self.pending_wire = 0
        # The last fill left new DATA queued because cwnd, Max.Burst or the peer's rwnd
        # stopped it: a SACK should be answered with DATA at once (ack clocking).
        self.window_blocked = False
        self.fast_retransmits = 0
        self.t3_expiries = 0

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
        buffered amount (bytes queued and not yet sent)."""
        size = len(data)
        if self.total_buffered + size > self.max_send_buffer:
            raise SendBufferFullError(
                f"{self.total_buffered} bytes held; {size} more exceed {self.max_send_buffer}"
            )
        queues = self._queues
        stream = queues.streams.get(sid) or queues.stream(sid)
        message = Message(stream, ppid, data, size, ordered, max_retransmits, expiry)
        if expiry is None:  # queues.push(message), the common case inlined
            stream.queue.append(message)
            if not stream.active:
                stream.active = True
                self._pending.append(stream)
        else:
            queues.push(message)
        self.pending_wire += (19 + size) & ~3
        stream.held += size
        stream.unsent = unsent = stream.unsent + size
        self.total_buffered += size
        return unsent

    def buffered_amount(self, sid: int) -> int:
        """Bytes queued on the stream and not yet sent (W3C ``bufferedAmount``)."""
        stream = self._queues.streams.get(sid)
        return 0 if stream is None else stream.unsent

    def held_amount(self, sid: int) -> int:
        """Bytes of the stream queued or in flight (not acknowledged, not abandoned)."""
        stream = self._queues.streams.get(sid)
        return 0 if stream is None else stream.held

    def set_priority(self, sid: int, weight: int) -> None:
        """The stream's share of the link among busy streams (deficit round robin)."""
        if weight < 1:
            raise ValueError("a stream's weight is at least 1")
        self._queues.stream(sid).weight = weight

    def set_threshold(self, sid: int, threshold: int) -> None:
        self._queues.stream(sid).threshold = threshold

    def _unqueue(self, stream: SendStream, size: int) -> None:
        """``size`` bytes of the stream left the queue (sent, or abandoned unsent)."""
        before = stream.unsent
        stream.unsent = after = before - size
        if before > stream.threshold >= after:
            self._events.append(stream.low_event)

    def _release(self, stream: SendStream, size: int) -> None:
        stream.held -= size
        self.total_buffered -= size

    def has_unsent(self, sids: tuple[int, ...]) -> bool:
        streams = self._queues.streams
        return any((s := streams.get(sid)) is not None and s.unsent > 0 for sid in sids)

    def reset_ssns(self, sids: tuple[int, ...]) -> None:
        streams = self._queues.streams
        for sid in sids or tuple(streams):
            stream = streams.get(sid)
            if stream is not None:
                stream.next_ssn = 0

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
        """What the data in flight takes of the peer's window, as we count it
        (each chunk in flight under :data:`CHARGED_BELOW` bytes costs it
        :data:`PEER_CHUNK_OVERHEAD` more)."""
        return self.flight + PEER_CHUNK_OVERHEAD * self.flight_small_chunks

    @property
    def has_outstanding(self) -> bool:
        return bool(self._sent)

    @property
    def congestion_control(self) -> str:
        return self.cc.name

    def _trace(self, now: float, ev: str, **fields: object) -> None:
        trace = self.trace
        if trace is not None:
            trace(
                {
                    "t": now,
                    "ev": ev,
                    **fields,
                    "cwnd": self.cwnd,
                    "ssthresh": self.ssthresh,
                    "flight": self.flight,
                    "rwnd": self.peer_rwnd,
                    "srtt": self.srtt,
                    "rto": self.rto,
                }
            )

    # -- transmission --------------------------------------------------------------------

    def _mark(self, chunk: Chunk, now: float, cause: str) -> None:
        """Mark an outstanding chunk for retransmission, or abandon its message."""
        if chunk.in_flight:
            chunk.in_flight = False
            self.flight -= chunk.size
            self.flight_small_chunks -= chunk.size < CHARGED_BELOW
        chunk.missing = 0
        if chunk.tsn == self._rtt_tsn:
            self._rtt_tsn = None
        if self._should_abandon(chunk, now):
            self._abandon(chunk.message)
        elif not chunk.retransmit:
            chunk.retransmit = True
            chunk.cause = cause
            self._retransmits[chunk.tsn] = chunk

    def _encode(self, chunk: Chunk, packets: PacketBuilder) -> None:
        message = chunk.message
        length = 16 + chunk.size
        packets.emit(
            DATA_HEADER.pack(
                0, chunk.flags, length, chunk.tsn & MASK32, message.sid, message.ssn, message.ppid
            ),
            chunk.data,
            _PADS[length & 3],
            (length + 3) & ~3,
        )

    def _retransmit(self, now: float, packets: PacketBuilder) -> None:
        """Retransmissions first (§6.3.3 E3, §7.2.4 step 3): a fast retransmission gets one
        packet regardless of cwnd; after T3 exactly one packet goes."""
        fast_budget = self.mtu if self.fast_pending else 0
        self.fast_pending = False
        single = self._t3_state == 1
        started = False
        if self._rtx_base != self.next_tsn:
            self._rtx_base = self.next_tsn
            self._rtx_count = 0
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
            if packets.room() < (16 + chunk.size + 3) & ~3:  # padded length
                if single and started:
                    break
                packets.flush()
            started = True
            if single:
                self._t3_state = 2
            del self._retransmits[tsn]
            chunk.retransmit = False
            chunk.in_flight = True
            chunk.sent_count += 1
            # Strictly between the TSNs sent before and after, and after earlier ones.
            self._rtx_count = count = self._rtx_count + 1
            chunk.rtx_order = self._rtx_base - 1 + count / (count + 1)
            chunk.rtx_time = now
            self.flight += chunk.size
            self.flight_small_chunks += chunk.size < CHARGED_BELOW
            fast_budget -= chunk.size + 16
            if self.trace is not None:
                self._trace(now, "rtx", tsn=tsn & MASK32, cause=chunk.cause, n=chunk.sent_count - 1)
            self._encode(chunk, packets)
        if self.t3 is None:
            self.t3 = now + self.rto

    def fill(self, now: float, packets: PacketBuilder, allow_new: bool, hold: int = 0) -> None:
        """Emit retransmissions then new DATA, within cwnd, Max.Burst and the peer's rwnd.

        ``hold`` (a packet's room for chunks, or 0): new DATA that would start a packet it
        cannot fill stays queued, for a caller that will send more soon (RFC 9260 §6.1:
        bundling small messages).
        """
        self.window_blocked = False
        if self._t3_state == 2:
            return  # §6.3.3 E3: the one packet went; the rest waits for a SACK
        if self._retransmits:
            self._retransmit(now, packets)
        if not allow_new or self._retransmits:
            return
        queues = self._queues
        expiring = queues.expiring
        if expiring and now >= expiring[0][0]:
            self._expire(now)
        # In locals through the loop, stored back after it (and around _abandon).
        started = flight = self.flight
        if not flight and self._active_at is not None:
            idle = now - self._active_at
            if idle > self.rto:  # §7.2.1: cwnd decays per RTO without DATA
                before = self.cwnd
                self.cc.on_idle(self, int(idle / self.rto))
                if self.trace is not None and self.cwnd != before:
                    self._trace(now, "idle", idle=idle)
        pending, sent, cwnd = self._pending, self._sent, self.cwnd
        # Max.Burst (§6.1 D): new DATA up to the credit the SACKs brought.
        burst = self.max_burst * self.max_payload
        credit = self.burst_credit
        if not flight and credit < burst:
            self.burst_credit = credit = burst  # nothing in flight: no SACK brings credit
        limit = flight + credit
        limit = cwnd if limit > cwnd else limit  # (min() is a call: ~200 ns on the hot path)
        self._acked_since_fill = self._acking_sacks = 0
        largest, events = self.max_payload, self._events
        small_chunks, peer_rwnd = self.flight_small_chunks, self.peer_rwnd
        first_tsn = next_tsn = self.next_tsn
        pending_wire = self.pending_wire
        cut = 0  # bytes cut from the current message since its stream's count was updated
        parts = packets.parts  # packets.emit(), inlined below (flush() keeps the list)
        pack = DATA_HEADER.pack
        while pending and flight < limit:
            stream = pending[0]
            message = stream.queue[0]
            if message.abandoned:
                queues.done_with_head(stream)  # _abandon already took it off the counts
                continue
            if message.expiry is not None and now >= message.expiry:
                if cut:
                    self._unqueue(stream, cut)
                    cut = 0
                self.flight, self.flight_small_chunks = flight, small_chunks
                self.next_tsn, self.pending_wire = next_tsn, pending_wire
                self._abandon(message)
                flight, small_chunks = self.flight, self.flight_small_chunks
                next_tsn, pending_wire = self.next_tsn, self.pending_wire
                queues.done_with_head(stream)
                continue
            offset = message.offset
            size = message.size - offset
            wire = (19 + size) & ~3  # padded length of the rest as one chunk
            space = packets.limit - packets.size  # packets.room(), inlined
            if wire <= space:
                if space >= hold > pending_wire:
                    break  # an empty packet we could not fill: wait for more
            elif (offset or size > largest) and space >= MIN_FRAGMENT + 16:
                size = (space - 16) & ~3  # fragmented anyway: fill this packet
                wire = size + 16
            else:
                if pending_wire < hold:
                    break  # the rest would not fill a packet: keep it for the next call
                packets.flush()
                continue
            probe = False
            small = size < CHARGED_BELOW
            charge = size + PEER_CHUNK_OVERHEAD if small else size  # of the peer's window
            if peer_rwnd < charge:
                if flight or sent:
                    self.window_blocked = True
                    break
                probe = True  # RFC 9260 §6.1 rule A: one zero-window probe
            if not offset and len(pending) > 1:
                # Deficit round robin between busy streams (see .scheduler).
                deficit = stream.deficit
                if deficit < message.size:
                    deficit = stream.deficit = deficit + QUANTUM * stream.weight
                    if deficit < message.size:
                        pending.rotate(-1)  # its turn is over: the message waits
                        continue
                stream.deficit = deficit - message.size
            data = message.data
            flags = message.flags
            end = offset + size
            if end == message.size:
                flags |= FLAG_END
                queue = stream.queue  # queues.done_with_head(stream), inlined
                queue.popleft()
                if not queue:
                    stream.active = False
                    stream.deficit = 0
                    pending.popleft()
                elif len(pending) > 1 and queue[0].size > stream.deficit:
                    pending.rotate(-1)
                pending_wire -= wire
                if offset:
                    data = data[offset:]
                unsent = stream.unsent  # the message left the queue: W3C bufferedAmount
                left = stream.unsent = unsent - cut - size
                cut = 0
                if unsent > stream.threshold >= left:
                    events.append(stream.low_event)
            else:
                if type(data) is bytes:
                    data = message.data = memoryview(data)
                data = data[offset:end]
                pending_wire -= size
                cut += size
            message.offset = end
            if not offset:
                flags |= FLAG_BEGIN
                if message.ordered:
                    ssn = stream.next_ssn
                    message.ssn = ssn
                    stream.next_ssn = (ssn + 1) & 0xFFFF
            if not pending:
                # RFC 7053: the queue ran dry, so ask for an immediate SACK rather than
                # have the peer's 200 ms delayed ack race our 200 ms minimum RTO.
                flags |= FLAG_IMMEDIATE
            tsn = next_tsn
            next_tsn = tsn + 1
            chunk = Chunk(message, flags, data, tsn, True)
            if message.max_retransmits is not None or message.expiry is not None:
                message.chunks.append(chunk)  # for _abandon (see Message.chunks)
            if probe:
                chunk.probe = True
            flight += size
            small_chunks += small
            peer_rwnd = peer_rwnd - charge if peer_rwnd > charge else 0
            sent.append(chunk)
            if self._rtt_tsn is None:
                self._rtt_tsn = tsn
                self._rtt_sent = now
            length = 16 + size  # self._encode(chunk, packets), inlined
            header = pack(0, flags, length, tsn & MASK32, message.sid, message.ssn, message.ppid)
            parts.append(header)
            parts.append(data)
            if length & 3:
                parts.append(_PADS[length & 3])
            packets.size += (length + 3) & ~3
            if probe:
                break
        else:
            self.window_blocked = bool(pending)  # the loop stopped at cwnd or Max.Burst
        self.flight, self.flight_small_chunks, self.peer_rwnd = flight, small_chunks, peer_rwnd
        self.next_tsn, self.pending_wire = next_tsn, pending_wire
        if cut:
            self._unqueue(pending[0], cut)  # a message partly cut
        if next_tsn != first_tsn:
            times = self._sent_times
            if not times or times[-1] != now:
                self._sent_tsns.append(first_tsn)
                times.append(now)
        if flight != started:
            self._active_at = now
            credit -= flight - started
            self.burst_credit = credit if credit > 0 else 0
        # Whether this transmission filled cwnd: every SACK until the next one may grow
        # it (§7.2.1 "fully utilized"), also the later ones of a burst of SACKs read
        # before we could send again (each sees less in flight than was sent).
        self._cwnd_full = flight + self.mtu >= cwnd
        if self.t3 is None and flight:
            self.t3 = now + self.rto

    # -- SACK ----------------------------------------------------------------------------

    def _update_rto(self, rtt: float) -> None:
        if rtt < self.min_rtt or not self.min_rtt:
            self.min_rtt = rtt
            if rtt < LAN_RTT:
                self.max_burst = LAN_MAX_BURST
        if self.srtt is None:
            self.srtt = rtt
            self._rttvar = rtt / 2
        else:
            error = self.srtt - rtt
            self._rttvar = 0.75 * self._rttvar + 0.25 * (error if error > 0 else -error)
            self.srtt = 0.875 * self.srtt + 0.125 * rtt
        rto = self.srtt + 4 * self._rttvar
        self.rto = RTO_MIN if rto < RTO_MIN else RTO_MAX if rto > RTO_MAX else rto

    def _rtt_sample(self, tsn: int, cum: int, now: float) -> None:
        """The round trip of the newest acknowledged chunk (sent once) for the controller."""
        tsns = self._sent_tsns
        head = self._sent_head
        index = bisect_right(tsns, tsn, head) - 1
        if index >= head:
            self.cc.on_rtt(now - self._sent_times[index], now)
        # Entries wholly below the cumulative ack are done with.
        done = bisect_right(tsns, cum + 1, head) - 1
        head = done if done > head else head
        if head > 256 and head * 2 > len(tsns):
            del tsns[:head]
            del self._sent_times[:head]
            head = 0
        self._sent_head = head

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
        self._t3_state = 0
        flight_before = self.flight
        acked_bytes = 0
        newest = -1.0  # the latest transmission order among newly acknowledged chunks
        rtt_tsn = self._rtt_tsn
        while sent and sent[0].tsn <= cum:
            chunk = sent.popleft()
            if chunk.abandoned:
                continue
            if chunk.in_flight:
                self.flight -= chunk.size
                self.flight_small_chunks -= chunk.size < CHARGED_BELOW
            if not chunk.acked:
                acked_bytes += chunk.size
            if chunk.retransmit:
                del self._retransmits[chunk.tsn]
            if chunk.tsn == rtt_tsn and chunk.sent_count == 1:
                self._update_rto(now - self._rtt_sent)
                self._rtt_tsn = rtt_tsn = None
            chunk.message.stream.held -= chunk.size  # self._release(), inlined
            self.total_buffered -= chunk.size
        advanced = cum > self.cum_ack
        self.cum_ack = cum
        sample = chunk if advanced else None  # the newest chunk acknowledged
        highest_new = -1
        if gaps and sent:
            base = sent[0].tsn
            top = len(sent)
            # Proportional to what changed: a block starting where one of the previous
            # SACK's did is walked only beyond that one's end (those chunks are acked).
            seen = self._gap_ends
            ends = self._gap_ends = {}
            for start, end in gaps:
                first = cum + start
                ends[first] = last = cum + end
                lo = max(first, seen.get(first, first - 1) + 1) - base
                hi = min(last - base, top - 1)
                for index in range(max(lo, 0), hi + 1):
                    chunk = sent[index]
                    if chunk.acked or chunk.abandoned:
                        continue
                    chunk.acked = True
                    if chunk.in_flight:
                        chunk.in_flight = False
                        self.flight -= chunk.size
                        self.flight_small_chunks -= chunk.size < CHARGED_BELOW
                    if chunk.retransmit:
                        chunk.retransmit = False
                        del self._retransmits[chunk.tsn]
                    acked_bytes += chunk.size
                    highest_new = chunk.tsn
                    sample = chunk
                    if chunk.sent_count == 1 or now - chunk.rtx_time < self.min_rtt:
                        # A retransmitted chunk acknowledged sooner than any round trip
                        # was an earlier copy (RFC 8985 §6.2 step 2): it is no evidence
                        # about what was sent after its latest retransmission.
                        newest = max(newest, chunk.tsn)
                    else:
                        newest = max(newest, chunk.rtx_order)
                    if chunk.tsn == rtt_tsn and chunk.sent_count == 1:
                        self._update_rto(now - self._rtt_sent)
                        self._rtt_tsn = rtt_tsn = None
        if sample is not None and sample.sent_count == 1 and not sample.abandoned:
            self._rtt_sample(sample.tsn, cum, now)
        if advanced and gaps and self._recovery_exit is not None and highest_new < 0:
            # §7.2.4: in fast recovery a SACK that advances the cumulative ack counts a
            # miss for every TSN it still reports missing.
            highest_new = cum + gaps[-1][1]
            newest = max(newest, float(highest_new))
        if highest_new >= 0:
            self._scanning = True
            try:
                self._miss_indications(highest_new, newest, now)
            finally:
                self._scanning = False
            self._append_late()
        # Congestion control (§7.2.1, §7.2.2) and fast recovery exit (§7.2.4).
        cc = self.cc
        recovery = self._recovery_exit
        if recovery is not None and cum >= recovery:
            self._recovery_exit = recovery = None
        if recovery is None and (advanced or (acked_bytes and cc.grows_on_gap_acks())):
            cc.on_ack(self, acked_bytes, self.cwnd if self._cwnd_full else flight_before, now)
        if self._pending:
            # Max.Burst: what the SACKs since the last transmission opportunity
            # acknowledged, plus MAX_BURST packets per SACK that acknowledged anything
            # (a burst of SACKs read at once allows what they would one by one).
            self._acked_since_fill = acked = self._acked_since_fill + acked_bytes
            sacks = self._acking_sacks
            if acked_bytes:
                self._acking_sacks = sacks = sacks + 1
            self.burst_credit = acked + self.max_burst * self.max_payload * (sacks or 1)
        else:
            self.burst_credit = self.max_burst * self.max_payload
        flight = self.flight
        if not flight:
            cc.on_flight_empty()
        if acked_bytes:
            self._active_at = now
        previous_rwnd = self.peer_rwnd
        rwnd = a_rwnd - flight - PEER_CHUNK_OVERHEAD * self.flight_small_chunks
        self.peer_rwnd = rwnd if rwnd > 0 else 0  # a_rwnd - flight_charge, at least 0
        if rwnd > 0 and not previous_rwnd:
            # The window reopened: probes the peer dropped go again (usrsctp does the same).
            self._scanning = True
            try:
                for chunk in sent:
                    if chunk.probe and not chunk.acked and not chunk.abandoned:
                        chunk.probe = False
                        self._mark(chunk, now, "probe")
            finally:
                self._scanning = False
            self._append_late()
        if advanced:
            if self.srtt is not None and self._backed_off:
                # New data acknowledged: the path works again, so the T3 backoff ends
                # here rather than at the next RTT sample, which Karn's rule may delay
                # for many round trips after a timeout (as BSD stacks reset rxtshift).
                self._backed_off = False
                self.rto = min(RTO_MAX, max(RTO_MIN, self.srtt + 4 * self._rttvar))
            self.t3 = now + self.rto if sent else None
        elif self.t3 is not None and self.t3 > now + self.rto:
            self.t3 = now + self.rto  # started with an RTO since measured down
        expiring = self._queues.expiring
        if expiring and now >= expiring[0][0]:
            self._expire(now)  # also while retransmissions keep fill() from new DATA
        if sent and sent[0].abandoned:
            self.forward_tsn_due = True
        if self.trace is not None:
            self._trace(
                now,
                "sack",
                cum=wire_cum,
                gaps=[list(g) for g in gaps],
                acked=acked_bytes,
                recovery=self._recovery_exit is not None,
            )
        return True

    def _miss_indications(self, highest_new: int, newest: float, now: float) -> None:
        """§7.2.4 with the HTNA rule, counting a miss only against chunks sent before the
        newest newly acknowledged one (so a retransmission is not marked again by SACKs
        for data sent before it: once per TSN per loss event)."""
        cum = self.cum_ack
        holes = self._holes
        if highest_new > self._hole_top:
            # New holes: unacked chunks between the known ones and the highest gap-acked.
            sent = self._sent
            base = sent[0].tsn if sent else cum + 1
            start = max(self._hole_top, cum) + 1
            for index in range(max(start - base, 0), min(highest_new - base, len(sent))):
                chunk = sent[index]
                if not chunk.acked and not chunk.abandoned:
                    holes.append(chunk)
            self._hole_top = highest_new
        kept: list[Chunk] = []
        for chunk in holes:
            if chunk.acked or chunk.abandoned or chunk.tsn <= cum:
                continue
            kept.append(chunk)
            if chunk.tsn >= highest_new or not chunk.in_flight:
                continue
            if (chunk.tsn if chunk.sent_count == 1 else chunk.rtx_order) >= newest:
                continue  # sent after the newest acknowledged: no evidence yet
            chunk.missing += 1
            if chunk.missing >= 3:
                if self._recovery_exit is None:
                    if self.cc.on_loss(self, now):
                        self._recovery_exit = self.next_tsn - 1
                    if self.trace is not None:
                        self._trace(
                            now,
                            "loss",
                            tsn=chunk.tsn & MASK32,
                            congestion=self._recovery_exit is not None,
                        )
                self.cc.on_lost(chunk.size)
                self.fast_pending = True
                self.fast_retransmits += 1
                self._mark(chunk, now, "fast")
        self._holes = kept
        self._hole_top = max(self._hole_top, cum)

    # -- T3-rtx (RFC 9260 §6.3.3) --------------------------------------------------------

    def on_t3(self, now: float) -> None:
        self._cwnd_full = False
        self.rto = min(RTO_MAX, self.rto * 2)
        self._backed_off = True
        self.cc.on_timeout(self, now)
        self._recovery_exit = None
        self.t3_expiries += 1
        outstanding = [c for c in self._sent if not c.acked and not c.abandoned]
        if not outstanding:
            # Everything left was gap-acked yet never cumulatively acked: the peer reneged.
            outstanding = [c for c in self._sent if not c.abandoned]
            for chunk in outstanding:
                chunk.acked = False
            self._gap_ends = {}
            self._hole_top = self.cum_ack
            self._holes = []
        for chunk in outstanding:
            if chunk.in_flight:
                self.cc.on_lost(chunk.size)
            self._mark(chunk, now, "t3")
        self._t3_state = 1
        if self._sent and self._sent[0].abandoned:
            self.forward_tsn_due = True
        self._trace(now, "t3", outstanding=len(outstanding))
        self.t3 = now + self.rto if self._sent else None
