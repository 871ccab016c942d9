"""Receive side of an SCTP association: TSN tracking, reassembly, ordering, rwnd.

Implements RFC 9260 §6.2 (acknowledgement on reception, gap ack blocks, duplicate TSN
reports, receive window), §6.5 (stream identifier and SSN, ordered delivery), §6.6
(unordered delivery), §6.9 (reassembly), RFC 3758 §3.6 (receiving FORWARD TSN), RFC 7053
(SACK-IMMEDIATELY) and the receiver side of RFC 6525 §5.2.2 (incoming SSN reset).

TSNs are kept internally as unbounded integers ("unwrapped" against the cumulative TSN),
so no serial-number arithmetic is needed past the point where a wire value is read.
Memory is bounded: accepted TSNs lie within 65,535 of the cumulative TSN (the reach of a
gap ack block) and held bytes (reassembly, ordering, delivered-but-unconsumed) within the
receive window, with one exception: the next expected TSN is always admitted while data
above a gap waits for it (RFC 9260 §6.2 lets a receiver drop DATA when its buffer is full,
but refusing the chunk that every held chunk waits on deadlocks the association: the
held data can never be delivered, so the window never reopens). A conforming sender's
gap plus held data fit one advertised window, so filling the gap needs at most about one
window more; :data:`GAP_FILL_LIMIT` windows bound it against a peer that ignores ours.
Bookkeeping is charged too, like Linux's ``truesize``: a chunk held for reassembly or
ordering counts at least ``CHUNK_CHARGE`` bytes and every TSN held above the cumulative
TSN ``TSN_CHARGE`` more, both in the window check and in the advertised a_rwnd, so a
flood of tiny chunks costs a few times the window at most, not hundreds of times.
"""

from __future__ import annotations

import logging
import struct
from collections import deque

from .chunks import (
    _SACK,
    _U16PAIR,
    _U32,
    CHUNK_HEADER,
    CHUNK_SACK,
    FLAG_BEGIN,
    FLAG_END,
    FLAG_IMMEDIATE,
)
from .events import MessageTooLarge, SctpEvent, data_received

__all__ = ["Inbound"]

logger = logging.getLogger("trio_webrtc.sctp")

MASK32 = 0xFFFFFFFF
HALF32 = 0x80000000
MAX_TSN_AHEAD = 0xFFFF
MAX_DUPLICATES = 16
FLAG_BE = FLAG_BEGIN | FLAG_END
_PLAIN_SACK = struct.Struct("!BBHIIHH")  # a SACK without gap blocks or duplicates
CHUNK_CHARGE = 256
"""The least a chunk held for reassembly or ordering is charged: its objects (the bytes,
the fragment run or the queued message, dictionary slots) take ~100-330 bytes whatever
its payload. Full-size fragments are charged their payload alone, so a message as large
as the window still fits it."""
TSN_CHARGE = 64
"""Charged per TSN recorded above the cumulative TSN (an int in a set)."""
GAP_FILL_LIMIT = 4
"""While data above a gap waits, the next expected TSN is admitted until the charged bytes
held reach this many windows (tiny chunks are charged several times their size)."""


def _charge(size: int) -> int:
    return size if size > CHUNK_CHARGE else CHUNK_CHARGE


class _Partial:
    """A run of consecutive fragments of one message, possibly incomplete at either end."""

    __slots__ = (
        "begun",
        "discard",
        "ended",
        "first",
        "held",
        "last",
        "parts",
        "ppid",
        "sid",
        "size",
        "ssn",
        "unordered",
    )

    def __init__(  # noqa: PLR0917
        self, tsn: int, flags: int, sid: int, ssn: int, ppid: int, data: bytes, charge: int
    ) -> None:
        self.first = tsn
        self.last = tsn
        self.begun = bool(flags & FLAG_BEGIN)
        self.ended = bool(flags & FLAG_END)
        self.unordered = bool(flags & 0x04)
        self.sid = sid
        self.ssn = ssn
        self.ppid = ppid
        self.parts = [data]
        self.size = len(data)
        self.held = charge  # charged bytes (see CHUNK_CHARGE)
        self.discard = False


def _ssn_le(a: int, b: int) -> bool:
    """Serial-number ``a <= b`` for 16-bit SSNs (RFC 1982)."""
    return ((b - a) & 0xFFFF) < 0x8000


class Inbound:
    """Receive-side state for one association; ``events`` is the association's queue."""

    def __init__(
        self,
        *,
        initial_tsn: int,
        receive_window: int,
        max_message_size: int,
        events: deque[SctpEvent],
        log_prefix: str,
    ) -> None:
        self.cum_tsn = initial_tsn - 1  # unwrapped; the wire value is this & MASK32
        self.window = receive_window
        self.max_message_size = max_message_size
        self._events = events
        self._prefix = log_prefix
        self._above: set[int] = set()
        self._duplicates: list[int] = []
        self._by_first: dict[int, _Partial] = {}
        self._by_last: dict[int, _Partial] = {}
        self._ordered: dict[int, dict[int, tuple[int, bytes] | None]] = {}
        self._next_ssn: dict[int, int] = {}
        self.held = 0  # charged bytes in reassembly and ordering queues (CHUNK_CHARGE)
        self.unconsumed = 0  # bytes delivered as events, not yet data_consumed()
        self.sack_now = False  # a gap or duplicate was seen: SACK without delay
        self.immediate = False  # the sender asked for a SACK without delay (RFC 7053)
        self.last_advertised = receive_window
        self.arrived = 0  # DATA bytes accepted since the last SACK (see acks.py)
        self.dropped_for_window = 0

    # -- receive window ------------------------------------------------------------------

    def a_rwnd(self) -> int:
        """The window to advertise: RFC 9260 §6.2 with application back-pressure and the
        bookkeeping charges."""
        rwnd = self.window - self.unconsumed - self.held - TSN_CHARGE * len(self._above)
        return rwnd if rwnd > 0 else 0

    @property
    def has_gaps(self) -> bool:
        """DATA above a missing TSN is held (the next SACK reports gap blocks)."""
        return bool(self._above)

    def consume(self, nbytes: int) -> None:
        unconsumed = self.unconsumed - nbytes
        self.unconsumed = unconsumed if unconsumed > 0 else 0

    # -- DATA ----------------------------------------------------------------------------

    def on_data(  # noqa: PLR0917 - hot path: positional on purpose
        self, flags: int, wire_tsn: int, sid: int, ssn: int, ppid: int, data: bytes
    ) -> bool:
        """Process one DATA chunk; False when it was dropped (duplicate, window, range)."""
        cum = self.cum_tsn
        delta = (wire_tsn - cum) & MASK32
        if delta >= HALF32:
            delta -= 1 << 32
        if delta <= 0 or (delta > 1 and (cum + delta) in self._above):
            if len(self._duplicates) < MAX_DUPLICATES:
                self._duplicates.append(wire_tsn)
            self.sack_now = True
            return False
        if delta > MAX_TSN_AHEAD:
            self.sack_now = True
            return False
        size = len(data)
        above = self._above
        used = self.unconsumed + self.held + TSN_CHARGE * len(above)
        if used + (size if size > CHUNK_CHARGE else CHUNK_CHARGE) > self.window and not (
            delta == 1
            and (
                # Held data waits for this chunk: never refuse it (module doc).
                (above and used <= GAP_FILL_LIMIT * self.window)
                # Nothing unread: one chunk beyond the window, not one after another.
                or (not self.unconsumed and used <= self.window)
            )
        ):
            # RFC 9260 §6.2: no room; the sender learns our window from the SACK.
            self.dropped_for_window += 1
            self.sack_now = True
            return False
        self.arrived += size
        tsn = cum + delta
        if flags & FLAG_IMMEDIATE:
            self.immediate = True  # RFC 7053
        if delta == 1:
            cum = tsn
            if above:
                while cum + 1 in above:
                    cum += 1
                    above.discard(cum)
                self.sack_now = True  # a hole was (partly) filled: tell the sender now
            self.cum_tsn = cum
        else:
            above.add(tsn)
            self.sack_now = True
        if flags & FLAG_BE == FLAG_BE:
            if not flags & 0x04 and not self._ordered:
                # _complete() for the common case, inlined: an ordered message, no other
                # held out of order on any stream.
                expected = self._next_ssn.get(sid, 0)
                if ssn == expected:
                    self.unconsumed += size
                    self._events.append(data_received(sid, ppid, data, False))
                    self._next_ssn[sid] = (expected + 1) & 0xFFFF
                    return True
            self._complete(sid, ssn, ppid, data, bool(flags & 0x04))
        else:
            self._fragment(tsn, flags, sid, ssn, ppid, data)
        return True

    def skip(self, wire_tsn: int) -> bool:
        """Count a DATA chunk as received but keep nothing of it (an invalid stream id,
        RFC 9260 §6.5: acknowledged as usual, then discarded). False for a duplicate."""
        cum = self.cum_tsn
        delta = (wire_tsn - cum) & MASK32
        if delta >= HALF32:
            delta -= 1 << 32
        self.sack_now = True
        if delta <= 0 or delta > MAX_TSN_AHEAD or (cum + delta) in self._above:
            return False
        if delta == 1:
            cum += 1
            while cum + 1 in self._above:
                cum += 1
                self._above.discard(cum)
            self.cum_tsn = cum
        else:
            self._above.add(cum + delta)
        return True

    def _fragment(  # noqa: PLR0917
        self, tsn: int, flags: int, sid: int, ssn: int, ppid: int, data: bytes
    ) -> None:
        unordered = bool(flags & 0x04)
        size = len(data)
        charge = size if size > CHUNK_CHARGE else CHUNK_CHARGE
        part: _Partial | None = None
        if not flags & FLAG_BEGIN:
            left = self._by_last.get(tsn - 1)
            if (
                left is not None
                and not left.ended
                and left.sid == sid
                and left.unordered == unordered
                and (unordered or left.ssn == ssn)
            ):
                del self._by_last[tsn - 1]
                left.last = tsn
                left.ended = bool(flags & FLAG_END)
                left.size += size
                left.parts.append(data)
                left.held += charge
                part = left
        if part is None:
            part = _Partial(tsn, flags, sid, ssn, ppid, data, charge)
            self._by_first[tsn] = part
        self.held += charge
        if not part.ended:
            right = self._by_first.get(tsn + 1)
            if (
                right is not None
                and not right.begun
                and right.sid == sid
                and right.unordered == unordered
                and (unordered or right.ssn == ssn)
            ):
                del self._by_first[tsn + 1]
                del self._by_last[right.last]
                part.last = right.last
                part.ended = right.ended
                part.size += right.size
                part.parts.extend(right.parts)
                part.held += right.held
                part.discard = part.discard or right.discard
        if not part.discard and part.size > self.max_message_size:
            logger.warning(
                "%sdiscarding message on stream %d: larger than %d bytes",
                self._prefix,
                sid,
                self.max_message_size,
            )
            self._events.append(MessageTooLarge(sid, self.max_message_size))
            part.discard = True
        if part.discard and part.held:
            self.held -= part.held
            part.held = 0
            part.parts = []
        if part.begun and part.ended:
            del self._by_first[part.first]
            self.held -= part.held
            if part.discard:
                if not part.unordered:
                    self._complete_ordered(part.sid, part.ssn, None)
            else:
                message = b"".join(part.parts)
                self._complete(part.sid, part.ssn, part.ppid, message, part.unordered)
        else:
            self._by_last[part.last] = part

    def _complete(self, sid: int, ssn: int, ppid: int, data: bytes, unordered: bool) -> None:
        if unordered:
            self.unconsumed += len(data)
            self._events.append(data_received(sid, ppid, data, True))
            return
        expected = self._next_ssn.get(sid, 0)
        if ssn == expected:
            self.unconsumed += len(data)
            self._events.append(data_received(sid, ppid, data, False))
            expected = (expected + 1) & 0xFFFF
            self._next_ssn[sid] = expected
            pending = self._ordered.get(sid)
            if pending:
                self._drain(sid, expected, pending)
        else:
            self._complete_ordered(sid, ssn, (ppid, data))

    def _complete_ordered(self, sid: int, ssn: int, message: tuple[int, bytes] | None) -> None:
        """Queue an ordered message (``None``: discarded) and deliver what is now in order."""
        pending = self._ordered.setdefault(sid, {})
        if ssn in pending or not _ssn_le(self._next_ssn.get(sid, 0), ssn):
            return  # a peer bug: same SSN twice, or an SSN already delivered
        pending[ssn] = message
        if message is not None:
            self.held += _charge(len(message[1]))
        self._drain(sid, self._next_ssn.get(sid, 0), pending)

    def _drain(self, sid: int, expected: int, pending: dict[int, tuple[int, bytes] | None]) -> None:
        events = self._events
        while expected in pending:
            message = pending.pop(expected)
            if message is not None:
                size = len(message[1])
                self.held -= size if size > CHUNK_CHARGE else CHUNK_CHARGE
                self.unconsumed += size
                events.append(data_received(sid, message[0], message[1], False))
            expected = (expected + 1) & 0xFFFF
        self._next_ssn[sid] = expected
        if not pending:
            del self._ordered[sid]

    # -- FORWARD TSN (RFC 3758 §3.6) ------------------------------------------------------

    def on_forward_tsn(self, wire_tsn: int, streams: tuple[tuple[int, int], ...]) -> None:
        cum = self.cum_tsn
        delta = (wire_tsn - cum) & MASK32
        self.sack_now = True
        if delta >= HALF32:
            delta -= 1 << 32
            if delta < -MAX_TSN_AHEAD:
                return
        elif delta > MAX_TSN_AHEAD:
            return
        new_cum = cum + delta
        # Fragments of abandoned messages: every partial starting at or below the new
        # cumulative TSN (even when in-order fragments already moved cum that far).
        for first, part in list(self._by_first.items()):
            if first <= new_cum:
                del self._by_first[first]
                self._by_last.pop(part.last, None)
                self.held -= part.held
        if new_cum > cum:
            self._above = {t for t in self._above if t > new_cum}
            while new_cum + 1 in self._above:
                new_cum += 1
                self._above.discard(new_cum)
            self.cum_tsn = new_cum
        for sid, ssn in streams:
            pending = self._ordered.get(sid, {})
            expected = self._next_ssn.get(sid, 0)
            if not _ssn_le(expected, ssn):
                continue
            # Deliver complete messages up to the skipped SSN in order, then skip past it.
            while True:
                if expected in pending:
                    message = pending.pop(expected)
                    if message is not None:
                        self.held -= _charge(len(message[1]))
                        self.unconsumed += len(message[1])
                        self._events.append(data_received(sid, message[0], message[1], False))
                if expected == ssn:
                    break
                expected = (expected + 1) & 0xFFFF
            self._next_ssn[sid] = (ssn + 1) & 0xFFFF
            if pending:
                self._drain(sid, (ssn + 1) & 0xFFFF, pending)
            else:
                self._ordered.pop(sid, None)

    # -- incoming stream reset (RFC 6525 §5.2.2) -----------------------------------------

    def reset_streams(self, stream_ids: tuple[int, ...]) -> None:
        """Restart the incoming SSNs of these streams (all streams when empty) at 0."""
        sids = stream_ids or tuple(set(self._next_ssn) | set(self._ordered))
        for sid in sids:
            self._next_ssn.pop(sid, None)
            pending = self._ordered.pop(sid, None)
            if pending:
                self.held -= sum(_charge(len(m[1])) for m in pending.values() if m is not None)

    # -- SACK (RFC 9260 §3.3.4, §6.2) ----------------------------------------------------

    def build_sack(self, max_size: int) -> bytes:
        """Encode a SACK chunk no larger than ``max_size`` and clear the pending reports."""
        cum = self.cum_tsn
        dups = self._duplicates
        if not dups and not self._above:  # the common case: one pack, no lists
            rwnd = self.window - self.unconsumed - self.held  # a_rwnd() without gaps
            rwnd = rwnd if rwnd > 0 else 0
            self.last_advertised = rwnd
            self.sack_now = self.immediate = False
            self.arrived = 0
            return _PLAIN_SACK.pack(CHUNK_SACK, 0, 16, cum & MASK32, rwnd, 0, 0)
        room = (max_size - 16) // 4 - len(dups)
        gaps: list[bytes] = []
        if self._above and room > 0:
            start = end = -1
            for tsn in sorted(self._above):
                offset = tsn - cum
                if offset == end + 1:
                    end = offset
                    continue
                if start >= 0:
                    gaps.append(_U16PAIR.pack(start, end))
                    if len(gaps) >= room:
                        start = -1
                        break
                start = end = offset
            if start >= 0:
                gaps.append(_U16PAIR.pack(start, end))
        rwnd = self.a_rwnd()
        self.last_advertised = rwnd
        length = 16 + 4 * len(gaps) + 4 * len(dups)
        out = b"".join(
            [
                CHUNK_HEADER.pack(CHUNK_SACK, 0, length),
                _SACK.pack(cum & MASK32, rwnd, len(gaps), len(dups)),
                *gaps,
                *(_U32.pack(d) for d in dups),
            ]
        )
        self._duplicates = []
        self.sack_now = self.immediate = False
        self.arrived = 0
        return out
