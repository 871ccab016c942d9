"""Per-stream send queues for the SCTP sender, served by deficit round robin.

RFC 8260 §3.2-§3.3 (round-robin and weighted fair queueing schedulers) in spirit: every
stream with queued messages sits in a ring; each turn adds ``QUANTUM * weight`` bytes to
the first stream's deficit, and it sends whole messages while they fit (without I-DATA a
message's fragments need consecutive TSNs, RFC 9260 §6.9), then goes to the back of the
ring. Streams thus share bytes in proportion to their weights (their priority; 1 unless
set), and a message on an idle stream waits for at most about one message of each busy
stream, never for another stream's backlog. With one busy stream none of this runs.

Messages with a PR-SCTP lifetime (RFC 3758 §3.1 "timed reliability") also sit in a heap
by expiry, so that every queued message, not only a stream's head, is abandoned when it
expires (:meth:`SendQueues.pop_expired`).

The queues count, per stream, ``unsent`` bytes (W3C ``bufferedAmount``: queued and not yet
transmitted) and ``held`` bytes (queued or in flight, not yet acknowledged or abandoned),
the latter bounded per association by ``max_send_buffer``.
"""

from __future__ import annotations

import heapq
from collections import deque

from .chunks import FLAG_UNORDERED
from .events import BufferedAmountLow

__all__ = ["CHARGED_BELOW", "QUANTUM", "Chunk", "Message", "SendQueues", "SendStream"]

QUANTUM = 1172
"""Bytes a weight-1 stream's deficit gains per turn (a packet's payload at MTU 1200)."""


CHARGED_BELOW = 1024
"""Chunks this large or larger are charged their payload only: of the receivers we meet
only usrsctp charges per chunk (about 256 bytes, ``outbound.PEER_CHUNK_OVERHEAD``), at
most a quarter of such a chunk, while a flat 256 per full chunk held a trio_webrtc sender
to ~80 % of the window of every other receiver (trio -> aiortc and -> libdatachannel on
``far``: 29.7 Mbit/s with it, 35.5 without; aiortc <-> aiortc 33.4)."""


_NO_CHUNKS: list[Chunk] = []
"""Shared by every reliable message (never appended to: see ``Message.chunks``)."""


class Message:
    """One queued user message; cut into chunks as packets are built."""

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
        "stream",
    )

    def __init__(  # noqa: PLR0917
        self,
        stream: SendStream,
        ppid: int,
        data: bytes,
        size: int,
        ordered: bool,
        max_retransmits: int | None,
        expiry: float | None,
    ) -> None:
        """``size``: ``len(data)``, which the caller has at hand."""
        self.stream = stream
        self.sid = stream.sid
        self.ppid = ppid
        self.data: bytes | memoryview = data
        self.size = size
        self.offset = 0  # bytes already cut into chunks (given TSNs)
        self.ordered = ordered
        self.flags = 0 if ordered else FLAG_UNORDERED
        self.max_retransmits = max_retransmits
        self.expiry = expiry
        self.abandoned = False
        self.ssn = 0
        # Its chunks once cut, kept only for a PR-SCTP message (the only kind that can be
        # abandoned): a reliable message and its chunks form no reference cycle, so they
        # are freed by reference counting when acknowledged, not left to the cyclic GC
        # (which cost ~20 % of sctp_loop small when every message was in a cycle).
        self.chunks: list[Chunk] = (
            [] if max_retransmits is not None or expiry is not None else _NO_CHUNKS
        )


class Chunk:
    """One DATA chunk cut from a message: a TSN, its payload and its send state."""

    cause: str
    rtx_order: float
    rtx_time: float
    __slots__ = (
        "abandoned",
        "acked",
        "cause",
        "data",
        "flags",
        "in_flight",
        "message",
        "missing",
        "probe",
        "retransmit",
        "rtx_order",
        "rtx_time",
        "sent_count",
        "size",
        "tsn",
    )

    def __init__(
        self, message: Message, flags: int, data: memoryview | bytes, tsn: int, sent: bool
    ) -> None:
        """``sent``: it is being sent now (in flight, sent once), as ``fill`` cuts it."""
        self.message = message
        self.flags = flags
        self.data = data
        self.size = len(data)
        self.tsn = tsn
        self.sent_count = 1 if sent else 0
        self.acked = False
        self.abandoned = False
        self.in_flight = sent
        self.retransmit = False
        self.probe = False
        self.missing = 0
        # Set when needed: ``cause`` (why it waits for retransmission), ``rtx_order``,
        # a retransmission's place in transmission order, between the TSNs sent before
        # and after it (a first transmission's place is its TSN), and ``rtx_time``, when
        # the latest retransmission left.


class SendStream:
    """One outgoing stream: its queue, byte counts, threshold and next SSN."""

    __slots__ = (
        "active",
        "deficit",
        "held",
        "low_event",
        "next_ssn",
        "queue",
        "sid",
        "threshold",
        "unsent",
        "weight",
    )

    def __init__(self, sid: int) -> None:
        self.sid = sid
        self.queue: deque[Message] = deque()
        self.active = False  # in the ring
        self.unsent = 0  # bytes queued, not yet cut into chunks (W3C bufferedAmount)
        self.held = 0  # bytes queued or in flight (not acknowledged, not abandoned)
        self.threshold = 0
        self.next_ssn = 0
        self.weight = 1  # quanta per turn (priority)
        self.deficit = 0  # bytes the stream may still send in this round (DRR)
        # Events are immutable: one instance serves every time the amount falls low.
        self.low_event = BufferedAmountLow(sid)


class SendQueues:
    """The streams, the round-robin ring of those with queued messages, expiries."""

    def __init__(self) -> None:
        self.streams: dict[int, SendStream] = {}
        self.ring: deque[SendStream] = deque()
        self.expiring: list[tuple[float, int, Message]] = []
        self._order = 0

    def stream(self, sid: int) -> SendStream:
        stream = self.streams.get(sid)
        if stream is None:
            stream = self.streams[sid] = SendStream(sid)
        return stream

    def push(self, message: Message) -> None:
        stream = message.stream
        stream.queue.append(message)
        if not stream.active:
            stream.active = True
            self.ring.append(stream)
        if message.expiry is not None:
            self._order += 1
            heapq.heappush(self.expiring, (message.expiry, self._order, message))

    def next_expiry(self) -> float | None:
        return self.expiring[0][0] if self.expiring else None

    def pop_expired(self, now: float) -> list[Message]:
        """Messages whose lifetime ended by ``now`` (some may be abandoned or done)."""
        heap = self.expiring
        out: list[Message] = []
        while heap and heap[0][0] <= now:
            out.append(heapq.heappop(heap)[2])
        return out

    def done_with_head(self, stream: SendStream) -> None:
        """The stream's head message was cut to its end (or dropped): serve the next
        stream, this one goes to the back of the ring (or leaves it when empty)."""
        stream.queue.popleft()
        ring = self.ring
        if not stream.queue:
            stream.active = False
            stream.deficit = 0
            ring.popleft()
        elif len(ring) > 1 and stream.queue[0].size > stream.deficit:
            ring.rotate(-1)
