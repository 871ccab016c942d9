"""Receive-side jitter buffer: reordering, loss detection, NACK/PLI, frame reassembly.

Implements the receiver's duties of RFC 3550 §5.1 and §A.1 for one SSRC (reorder by
sequence number, frames as runs of packets sharing a timestamp, ended by the marker bit
for video), Generic NACK generation (RFC 4585 §6.2.1, §3.5: early feedback for lost
packets) and keyframe requests (PLI, RFC 4585 §6.3.1). Retransmissions (RFC 4588, after
:func:`~trio_webrtc.rtp.retransmit.unwrap_rtx`) are fed back in like any packet.

Policy (every number is a constructor argument):

* **Frames** are delivered whole, in sequence order, the moment they are complete: a run
  of consecutive packets from a known frame start to a frame end (the payload format's
  ``ends_frame``, or the next packet carrying another timestamp). A frame start is known
  when the previous packet ended a frame, or when the payload itself proves it
  (``is_frame_start``: VP8 S=1/PID=0, an H.264 SPS or AUD, every Opus packet). Payload-less
  (padding) packets only advance the sequence.
* **Bounded delay:** a frame blocked by a missing packet waits at most ``max_delay``
  seconds after the hole was seen (default 250 ms with NACK, time for a few retries;
  50 ms without, time for reordering only); then the buffer skips to the
  next known frame start, dropping what lies before it. In the same way, while no frame
  start is known (at the beginning, after a skip), the earliest packet waits at most
  ``max_delay`` for an earlier start to arrive.
* **Bounded memory:** at most ``max_pending_frames`` frames wait in the event queue
  (further complete frames stay in the packet buffer until ``next_event()`` takes some,
  which delivers them: backpressure; held frames are never skipped), at most
  ``max_packets`` packets are held (beyond that the oldest frame is dropped), at most
  ``max_nack_list`` holes are tracked (a bigger loss clears them and resynchronises on
  the next frame start), and packets more than ``max_packets`` behind the newest are
  late by definition (unless two in a row agree on a new numbering: then the sender
  restarted its sequence and the buffer starts over).
* **NACK:** each hole is NACKed when seen (plus ``nack_delay``), then again every
  ``max(rtt, 20 ms)`` up to ``max_nack_retries`` times while it is still worth having;
  holes in one pass go out in one :class:`~.events.NackRequest`. ``rtt`` is the
  constructor's, else 100 ms followed by the time from a NACK to the arrival of a packet
  NACKed once (smoothed by 1/8), until :meth:`set_rtt` gives one (from RTCP). Off by
  default for audio.
* **PLI (video only):** after a skip or a buffer overflow, decoding needs a keyframe:
  delta frames are dropped (not delivered) until one arrives, and a
  :class:`~.events.KeyframeRequest` is reported at once and again every
  ``keyframe_interval`` until it does. At the start of a stream delta frames are dropped
  too, and a request is made only if one was actually dropped (browsers begin with a
  keyframe).
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass

from ..errors import RtpParseError
from .codecs import PayloadFormat
from .events import FrameReceived, JitterEvent, KeyframeRequest, NackRequest
from .packet import RtpPacket, Unwrapper

__all__ = ["JitterBuffer", "JitterStats"]

logger = logging.getLogger("trio_webrtc.rtp")

_MIN_NACK_INTERVAL = 0.02
_DEFAULT_RTT = 0.1
_MAX_CONTROL_EVENTS = 64


@dataclass(frozen=True, slots=True)
class JitterStats:
    """Counters of one jitter buffer since it was created."""

    packets_received: int
    packets_duplicate: int
    packets_late: int
    packets_recovered: int
    frames_delivered: int
    frames_dropped: int
    keyframes_delivered: int
    nacked_packets: int
    keyframe_requests: int
    buffered_packets: int


class _Slot:
    __slots__ = ("arrival", "packet")

    def __init__(self, packet: RtpPacket, arrival: float) -> None:
        self.packet = packet
        self.arrival = arrival


class _Hole:
    __slots__ = ("detected", "next_send", "retries", "sent_at")

    def __init__(self, detected: float, next_send: float) -> None:
        self.detected = detected
        self.next_send = next_send
        self.retries = 0
        self.sent_at = 0.0  # when the last NACK for it went out


class JitterBuffer:
    """Reorders one SSRC's packets into frames (see the module docstring for policy)."""

    def __init__(
        self,
        payload_format: PayloadFormat,
        *,
        max_packets: int = 1024,
        max_delay: float | None = None,
        nack: bool | None = None,
        nack_delay: float = 0.0,
        max_nack_retries: int = 10,
        max_nack_list: int = 256,
        rtt: float | None = None,
        keyframe_interval: float = 0.5,
        max_pending_frames: int = 64,
        log_prefix: str = "",
    ) -> None:
        if max_packets < 2 or max_nack_list < 1:
            raise ValueError("max_packets must be >= 2 and max_nack_list >= 1")
        self.format = payload_format
        self.max_packets = max_packets
        self.nack = payload_format.is_video if nack is None else nack
        if max_delay is None:
            max_delay = 0.25 if self.nack else 0.05
        self.max_delay = max_delay
        self.nack_delay = nack_delay
        self.max_nack_retries = max_nack_retries
        self.max_nack_list = min(max_nack_list, max_packets)
        # A given RTT is kept until set_rtt(); unknown, it starts at 100 ms and follows
        # the NACKs' round trips.
        self.rtt = _DEFAULT_RTT if rtt is None else rtt
        self._rtt_from_reports = rtt is not None
        self._rtt_samples = 0
        self.keyframe_interval = keyframe_interval
        self.max_pending_frames = max(1, max_pending_frames)
        self._prefix = log_prefix
        self._video = payload_format.is_video

        self._unwrapper = Unwrapper(16)
        self._packets: dict[int, _Slot] = {}
        self._holes: dict[int, _Hole] = {}  # insertion order = detection order
        self._highest: int | None = None
        self._head: int | None = None  # first packet of the next frame, when known
        self._floor: int | None = None  # everything at or below was delivered or dropped
        self._floor_end: bool | None = None  # did the floor packet end a frame?
        self._floor_ts: int | None = None
        self._bad_seq: int | None = None
        self._need_keyframe = self._video
        self._keyframe_wanted = False
        self._keyframe_requested_at: float | None = None
        self._events: deque[JitterEvent] = deque()
        self._pending_frames = 0  # FrameReceived events not yet taken
        self._now = 0.0  # the latest time we were given

        self._received = 0
        self._duplicate = 0
        self._late = 0
        self._recovered = 0
        self._delivered = 0
        self._dropped_frames = 0
        self._keyframes = 0
        self._nacked = 0
        self._keyframe_requests = 0

    # -- inputs -------------------------------------------------------------------------

    def receive(self, packet: RtpPacket, now: float) -> None:
        """Take one RTP packet of this stream (or an unwrapped RTX retransmission)."""
        seq = packet.sequence_number
        if self._highest is None:
            ext = self._unwrapper.unwrap(seq)
            self._highest = ext
        else:
            ext = self._unwrapper.peek(seq)
        highest = self._highest
        if ext <= highest - self.max_packets:
            # Far behind: late, unless two packets in a row agree on a new numbering (the
            # sender restarted its sequence, RFC 3550 A.1). Then start over from them.
            if seq != self._bad_seq:
                self._bad_seq = (seq + 1) & 0xFFFF
                self._late += 1
                return
            logger.info("%sRTP sequence restarted at %d: resynchronising", self._prefix, seq)
            self._restart(packet, now)
            return
        self._bad_seq = None
        if self._floor is not None and ext <= self._floor:
            self._late += 1
            return
        if ext in self._packets:
            self._duplicate += 1
            return
        self._received += 1
        if ext > highest:
            gap = ext - highest - 1
            self._unwrapper.unwrap(seq)
            self._highest = ext
            if gap and len(self._holes) + gap > self.max_nack_list:
                logger.info(
                    "%sRTP loss of %d packets beyond the NACK list: resynchronising",
                    self._prefix,
                    gap,
                )
                self._drop_below(ext, now)
                self._head = None
                self._lost_sync(now, "too many packets lost")
            else:
                for missing in range(highest + 1, ext):
                    self._holes[missing] = _Hole(now, now + self.nack_delay)
        elif (hole := self._holes.pop(ext, None)) is not None:
            self._recovered += 1
            if hole.retries == 1 and not self._rtt_from_reports:
                self._rtt_sample(now - hole.sent_at)
        self._packets[ext] = _Slot(packet, now)
        if len(self._packets) > self.max_packets:
            lowest = min(self._packets)
            logger.info("%sjitter buffer full: dropping the oldest frame", self._prefix)
            self._skip_after(lowest, now, "jitter buffer full")
        self._process(now)

    def _restart(self, packet: RtpPacket, now: float) -> None:
        self._drop_below((self._highest or 0) + 1, now)
        self._unwrapper = Unwrapper(16)
        self._highest = None
        self._head = self._floor = self._floor_end = self._floor_ts = None
        self._lost_sync(now, "sequence numbers restarted")
        self.receive(packet, now)

    def handle_timer(self, now: float) -> None:
        """Act on deadlines: NACK retries, giving up on holes, keyframe retries."""
        self._process(now)

    def request_keyframe(self, now: float) -> None:
        """Ask for a keyframe now (the application's decoder wants one)."""
        if self._video:
            self._want_keyframe(now, "requested by the application", force=True)

    def set_rtt(self, rtt: float) -> None:
        """The round-trip time to the sender (from RTCP), pacing NACK retries. Once
        given, it replaces the estimate from NACKed packets."""
        self.rtt = max(0.0, rtt)
        self._rtt_from_reports = True

    def _rtt_sample(self, sample: float) -> None:
        """A packet NACKed once arrived ``sample`` s after the NACK: a round trip (Karn's
        rule: only holes NACKed once). A receive-only stream learns no RTT from RTCP
        (our RRs let the sender measure it, not us), so this paces its retries."""
        if sample <= 0:
            return
        if self._rtt_samples == 0:
            self.rtt = sample
        else:
            self.rtt += (sample - self.rtt) / 8  # smoothed as RFC 6298 §2 does
        self._rtt_samples += 1

    # -- outputs ------------------------------------------------------------------------

    def next_event(self) -> JitterEvent | None:
        if not self._events:
            return None
        event = self._events.popleft()
        if isinstance(event, FrameReceived):
            self._pending_frames -= 1
            if self._pending_frames == self.max_pending_frames - 1:
                self._process(self._now)  # room again: deliver what was held back
        return event

    def get_timer(self) -> float | None:
        deadlines: list[float] = []
        blocked = self._blocked_since()
        if blocked is not None and self._pending_frames < self.max_pending_frames:
            deadlines.append(blocked + self.max_delay)
        if self.nack:
            deadlines.extend(
                h.next_send for h in self._holes.values() if h.retries < self.max_nack_retries
            )
        if self._keyframe_wanted and self._keyframe_requested_at is not None:
            deadlines.append(self._keyframe_requested_at + self.keyframe_interval)
        return min(deadlines) if deadlines else None

    def stats(self) -> JitterStats:
        return JitterStats(
            packets_received=self._received,
            packets_duplicate=self._duplicate,
            packets_late=self._late,
            packets_recovered=self._recovered,
            frames_delivered=self._delivered,
            frames_dropped=self._dropped_frames,
            keyframes_delivered=self._keyframes,
            nacked_packets=self._nacked,
            keyframe_requests=self._keyframe_requests,
            buffered_packets=len(self._packets),
        )

    @property
    def missing(self) -> list[int]:
        """The 16-bit sequence numbers currently missing, oldest first."""
        return [ext & 0xFFFF for ext in sorted(self._holes)]

    # -- internals ----------------------------------------------------------------------

    def _process(self, now: float) -> None:
        self._now = now
        for _ in range(self.max_packets + 2):
            self._deliver(now)
            if not self._expire(now):
                break
        self._send_nacks(now)
        if (
            self._keyframe_wanted
            and self._keyframe_requested_at is not None
            and now >= self._keyframe_requested_at + self.keyframe_interval
        ):
            self._want_keyframe(now, "still waiting for a keyframe")

    def _ends(self, slot: _Slot, following: _Slot | None) -> bool:
        packet = slot.packet
        if not packet.payload or self.format.ends_frame(packet.marker):
            return True
        # The next packet carries another timestamp, or is padding (sent between frames).
        return following is not None and (
            following.packet.timestamp != packet.timestamp or not following.packet.payload
        )

    def _is_start(self, ext: int) -> bool:
        slot = self._packets[ext]
        payload = slot.packet.payload
        if not payload or self.format.is_frame_start(payload):
            return True
        before = self._packets.get(ext - 1)
        if before is not None:
            return self._ends(before, slot)
        if ext - 1 == self._floor:
            return bool(self._floor_end) or (
                self._floor_ts is not None and self._floor_ts != slot.packet.timestamp
            )
        return False

    def _find_start(self, after: int | None = None) -> int | None:
        for ext in sorted(self._packets):
            if (after is None or ext > after) and self._is_start(ext):
                return ext
        return None

    def _deliver(self, now: float) -> None:
        while self._packets and self._pending_frames < self.max_pending_frames:
            if self._head is None:
                start = self._find_start()
                if start is None or start != min(self._packets):
                    return  # wait for an earlier start until the deadline (_expire)
                self._head = start
            head = self._head
            first = self._packets.get(head)
            if first is None:
                return
            if not first.packet.payload:  # padding: it only advances the sequence
                self._consume(head, head)
                continue
            end = head
            while True:
                slot = self._packets[end]
                following = self._packets.get(end + 1)
                if self._ends(slot, following):
                    break
                if following is None:
                    return  # the rest of the frame has not arrived
                end += 1
            self._emit_frame(head, end, now)

    def _emit_frame(self, head: int, end: int, now: float) -> None:
        slots = [self._packets[ext] for ext in range(head, end + 1)]
        self._consume(head, end)
        first = slots[0].packet
        try:
            frame = self.format.depacketize([s.packet.payload for s in slots])
        except RtpParseError as exc:
            logger.info("%sundecodable %s frame dropped: %s", self._prefix, self.format.name, exc)
            self._dropped_frames += 1
            self._lost_sync(now, "undecodable frame")
            return
        if self._need_keyframe and not frame.keyframe:
            self._dropped_frames += 1
            self._want_keyframe(now, "delta frame while waiting for a keyframe")
            return
        if frame.keyframe and self._video:
            self._need_keyframe = False
            self._keyframe_wanted = False
            self._keyframes += 1
        self._delivered += 1
        self._pending_frames += 1
        self._events.append(
            FrameReceived(
                data=frame.data,
                timestamp=first.timestamp,
                keyframe=frame.keyframe,
                ssrc=first.ssrc,
                first_sequence_number=first.sequence_number,
                last_sequence_number=slots[-1].packet.sequence_number,
            )
        )

    def _consume(self, head: int, end: int) -> None:
        """Forget packets ``head..end`` (a delivered frame); the next frame starts after."""
        last = self._packets[end]
        for ext in range(head, end + 1):
            del self._packets[ext]
        self._set_floor(end, last, ended=True)
        self._head = end + 1

    def _set_floor(self, ext: int, slot: _Slot | None, *, ended: bool | None) -> None:
        self._floor = ext
        self._floor_end = ended
        self._floor_ts = slot.packet.timestamp if slot is not None else None
        for hole in [h for h in self._holes if h <= ext]:
            del self._holes[hole]

    def _drop_below(self, limit: int, now: float) -> None:
        """Drop every packet and hole below ``limit``; count the frames lost."""
        doomed = sorted(ext for ext in self._packets if ext < limit)
        timestamps = {self._packets[ext].packet.timestamp for ext in doomed}
        if doomed or any(h < limit for h in self._holes):
            self._dropped_frames += max(1, len(timestamps))
        last = self._packets.get(limit - 1)
        ended = self._ends(last, self._packets.get(limit)) if last is not None else None
        for ext in doomed:
            del self._packets[ext]
        self._set_floor(limit - 1, last, ended=ended)

    def _skip_after(self, position: int, now: float, reason: str) -> None:
        """Give up on everything up to the first known frame start after ``position``."""
        start = self._find_start(after=position)
        if start is None:
            limit = (self._highest or 0) + 1
            self._drop_below(limit, now)
            self._head = None
        else:
            self._drop_below(start, now)
            self._head = start
        self._lost_sync(now, reason)

    def _blocked_since(self) -> float | None:
        if self._head is not None:
            if self._holes:
                return next(iter(self._holes.values())).detected
            return None
        if not self._packets:
            return None
        return min(slot.arrival for slot in self._packets.values())

    def _expire(self, now: float) -> bool:
        if self._pending_frames >= self.max_pending_frames:
            return False  # frames are held back, not lost: never skip them
        blocked = self._blocked_since()
        if blocked is None or now < blocked + self.max_delay:
            return False
        if self._head is not None:
            first_hole = min(self._holes)
            logger.debug("%sgave up on RTP packet %d", self._prefix, first_hole & 0xFFFF)
            self._skip_after(first_hole, now, "lost packets not recovered in time")
        else:
            self._skip_after(min(self._packets), now, "no frame start in time")
        return True

    def _lost_sync(self, now: float, reason: str) -> None:
        if self._video:
            self._need_keyframe = True
            self._want_keyframe(now, reason)

    def _want_keyframe(self, now: float, reason: str, *, force: bool = False) -> None:
        self._keyframe_wanted = True
        last = self._keyframe_requested_at
        if force or last is None or now >= last + self.keyframe_interval:
            self._keyframe_requested_at = now
            self._keyframe_requests += 1
            logger.debug("%skeyframe request: %s", self._prefix, reason)
            self._control(KeyframeRequest(reason))

    def _send_nacks(self, now: float) -> None:
        if not self.nack or not self._holes:
            return
        interval = max(self.rtt, _MIN_NACK_INTERVAL)
        batch: list[int] = []
        for ext, hole in self._holes.items():
            if hole.retries < self.max_nack_retries and hole.next_send <= now:
                hole.retries += 1
                hole.next_send = now + interval
                hole.sent_at = now
                batch.append(ext & 0xFFFF)
        if batch:
            self._nacked += len(batch)
            self._control(NackRequest(tuple(batch)))

    def _control(self, event: JitterEvent) -> None:
        # Requests are repeated by their own timers: when nobody drains the events, drop
        # them rather than grow the queue.
        if len(self._events) < self.max_pending_frames + _MAX_CONTROL_EVENTS:
            self._events.append(event)
