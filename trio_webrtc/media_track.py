"""The Trio face of media: :class:`MediaSender`, :class:`MediaReceiver`, :class:`Frame`.

``sender = pc.add_track("video")`` (before ``create_offer``/``accept_offer``) asks for an
m-section (RFC 9429 §5.2.2 transceivers); once offer/answer and DTLS-SRTP are done,
``await sender.send_frame(data, timestamp)`` packetizes one encoded frame (Opus, VP8 or
H.264 packetization-mode 1; the RTP timestamp is in the codec's clock) and sends it.
``receiver = await pc.accept_track()`` returns when negotiation shows the peer sends on
an m-section; ``async for frame in receiver`` yields whole frames from its jitter buffer
(reordered, retransmissions waited for, keyframe requested after a loss it could not
repair), or ``await receiver.receive_rtp()`` raw packets.

Close semantics follow :class:`~trio_webrtc.DataChannel`: ``trio.EndOfChannel`` after
an orderly end (the peer's RTCP BYE, its DTLS close, or a renegotiation that stops the
peer sending), ``trio.BrokenResourceError`` (chained to ``ConnectionFailedError``) when
the connection failed, ``trio.ClosedResourceError`` after our own close. Buffers are
bounded: media is real time, so a receiver that falls ``max_frames`` behind loses its
oldest frame (counted in ``frames_dropped``; a video receiver then asks for a keyframe)
rather than stalling the connection.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import trio

from .core.events import ConnectionState, MediaNegotiated
from .core.media import (
    KeyframeRequested,
    MediaEngine,
    MediaEvent,
    MediaFrame,
    MediaRtp,
    RemoteSourceEnded,
)
from .errors import InvalidStateError
from .rtp import RtpPacket
from .sdp.media import Codec, Direction, MediaKind, NegotiatedMedia, TransceiverRequest

if TYPE_CHECKING:
    from .peer_connection import PeerConnection

__all__ = ["Frame", "MediaReceiver", "MediaSender"]

_ENDED = (ConnectionState.FAILED, ConnectionState.CLOSED)


@dataclass(frozen=True, slots=True)
class Frame:
    """One encoded frame: ``timestamp`` is its RTP timestamp (codec clock)."""

    data: bytes
    timestamp: int
    keyframe: bool
    codec: str = ""
    ssrc: int = 0


class _Track:
    def __init__(self, tracks: MediaTracks, kind: MediaKind) -> None:
        self._tracks = tracks
        self._pc = tracks.pc
        self.kind = kind
        self.mid: str | None = None
        self._lot = trio.lowlevel.ParkingLot()
        self._ended = False

    def _wake(self) -> None:
        self._lot.unpark_all()

    def _connection_error(self) -> BaseException | None:
        """The error for a track whose connection is over, or None while it runs."""
        pc = self._pc
        if pc._closed:
            return trio.ClosedResourceError("the peer connection is closed")
        if pc._failure is not None or pc.connection_state is ConnectionState.FAILED:
            error = trio.BrokenResourceError("the connection failed")
            error.__cause__ = pc._failure or pc._failure_error()
            return error
        return None


class MediaSender(_Track):
    """What :meth:`PeerConnection.add_track` returns: sends frames on one m-section."""

    def __init__(self, tracks: MediaTracks, kind: MediaKind, request_index: int) -> None:
        super().__init__(tracks, kind)
        self.request_index = request_index
        self.codec: Codec | None = None
        #: PLIs and FIRs the peer sent for this track (see :meth:`wait_keyframe_request`).
        self.keyframe_requests = 0

    def _engine(self) -> MediaEngine | None:
        engine = self._pc._core.media
        if engine is None or self.mid is None:
            return None
        media = engine.section(self.mid)
        return engine if media is not None and media.sends else None

    def _ended_error(self) -> BaseException | None:
        """Why this sender can no longer send, or None: ``ClosedResourceError`` after our
        close, ``BrokenResourceError`` after a failure, the peer's close (as a data
        channel's send raises) or a negotiation that stopped this track sending."""
        error = self._connection_error()
        if error is not None:
            return error
        engine = self._pc._core.media
        if self._pc.connection_state is ConnectionState.CLOSED or (
            engine is not None and engine.closed
        ):
            return trio.BrokenResourceError("the peer closed the connection")
        if self._ended and self._engine() is None:
            return trio.BrokenResourceError("the track does not send (rejected or stopped)")
        return None

    async def wait_ready(self) -> None:
        """Wait until frames can be sent: negotiated as sending, DTLS-SRTP keyed.
        Raises like :meth:`send_frame`."""
        while True:
            error = self._ended_error()
            if error is not None:
                raise error
            if self._engine() is not None:
                return
            await self._lot.park()

    async def send_frame(self, data: bytes, timestamp: int, *, marker: bool | None = None) -> None:
        """Send one encoded frame (waits for the connection first). ``marker`` marks the
        first packet of an audio talkspurt (RFC 3551 §4.1); video sets it itself. Raises
        ``ClosedResourceError`` after our close, ``BrokenResourceError`` once the
        connection failed or the peer closed it."""
        await self.wait_ready()
        engine = self._engine()
        assert engine is not None and self.mid is not None
        engine.send_frame(self.mid, data, timestamp, trio.current_time(), marker=marker)
        self._pc._flush()
        await trio.lowlevel.checkpoint()

    async def send_rtp(self, packet: RtpPacket) -> None:
        """Send one RTP packet as is, on this track's SSRC (with its MID extension)."""
        await self.wait_ready()
        engine = self._engine()
        assert engine is not None and self.mid is not None
        engine.send_rtp(self.mid, packet, trio.current_time())
        self._pc._flush()
        await trio.lowlevel.checkpoint()

    async def wait_keyframe_request(self) -> None:
        """Wait until the peer asks for a keyframe (PLI or FIR) on this track."""
        seen = self.keyframe_requests
        while self.keyframe_requests == seen:
            error = self._ended_error()
            if error is not None:
                raise error
            await self._lot.park()

    def __repr__(self) -> str:
        return f"<MediaSender {self.kind} mid={self.mid}>"


class MediaReceiver(_Track):
    """What :meth:`PeerConnection.accept_track` returns: frames the peer sends on one
    m-section (``async for frame in receiver``)."""

    def __init__(
        self, tracks: MediaTracks, media: NegotiatedMedia, *, max_frames: int = 64
    ) -> None:
        super().__init__(tracks, media.kind)
        self.mid = media.mid
        self.codec: Codec | None = media.codecs[0] if media.codecs else None
        self.codecs: Sequence[Codec] = media.codecs
        self.max_frames = max_frames
        self._frames: deque[Frame] = deque()
        self._packets: deque[RtpPacket] = deque()
        self._raw = False
        self._keyframe_asked = False
        self.frames_dropped = 0

    def _deliver(self, event: MediaFrame) -> None:
        frame = event.frame
        if frame.keyframe:
            self._keyframe_asked = False
        if len(self._frames) >= self.max_frames:
            self._frames.popleft()
            self.frames_dropped += 1
            if self.kind == "video" and not self._keyframe_asked:
                # Once until a keyframe comes (the jitter buffer repeats the request
                # every keyframe_interval meanwhile): not a PLI per dropped frame.
                self._keyframe_asked = True
                self.request_keyframe()
        self._frames.append(
            Frame(frame.data, frame.timestamp, frame.keyframe, event.codec, frame.ssrc)
        )
        self._wake()

    def _deliver_rtp(self, packet: RtpPacket) -> None:
        if len(self._packets) >= self.max_frames * 8:
            self._packets.popleft()
            self.frames_dropped += 1
        self._packets.append(packet)
        self._wake()

    def _end(self) -> None:
        self._ended = True
        self._wake()

    def _end_error(self) -> BaseException | None:
        error = self._connection_error()
        if error is not None:
            return error
        if self._ended or self._pc.connection_state is ConnectionState.CLOSED:
            return trio.EndOfChannel()
        return None

    async def receive(self) -> Frame:
        """The next whole frame. Raises ``EndOfChannel``, ``BrokenResourceError`` or
        ``ClosedResourceError`` as the module docstring says."""
        if self._raw:
            raise InvalidStateError("this receiver is in raw RTP mode")
        while not self._frames:
            error = self._end_error()
            if error is not None:
                raise error
            await self._lot.park()
        if self._pc._closed:
            raise trio.ClosedResourceError("the peer connection is closed")
        return self._frames.popleft()

    async def receive_rtp(self) -> RtpPacket:
        """The next RTP packet as received (RTX unwrapped, SRTP removed, not reordered).
        The first call switches this receiver to raw mode for good (no jitter buffer,
        no NACK or PLI: the application owns recovery)."""
        if not self._raw:
            self._raw = True
            engine = self._pc._core.media
            if engine is not None and self.mid is not None:
                engine.set_raw(self.mid, True)
            self._tracks.raw_mids.add(self.mid or "")
        while not self._packets:
            error = self._end_error()
            if error is not None:
                raise error
            await self._lot.park()
        if self._pc._closed:  # as receive(): nothing more after our own close
            raise trio.ClosedResourceError("the peer connection is closed")
        return self._packets.popleft()

    def request_keyframe(self) -> None:
        """Ask the peer for a keyframe now (RTCP PLI, RFC 4585 §6.3.1)."""
        engine = self._pc._core.media
        if engine is not None and self.mid is not None and not self._pc._closed:
            engine.request_keyframe(self.mid, trio.current_time())
            self._pc._flush()

    def __aiter__(self) -> MediaReceiver:
        return self

    async def __anext__(self) -> Frame:
        try:
            return await self.receive()
        except trio.EndOfChannel:
            raise StopAsyncIteration from None

    def __repr__(self) -> str:
        return f"<MediaReceiver {self.kind} mid={self.mid}>"


class MediaTracks:
    """A peer connection's senders and receivers (owned by ``PeerConnection``)."""

    def __init__(self, pc: PeerConnection) -> None:
        self.pc = pc
        self.senders: list[MediaSender] = []
        self.receivers: dict[str, MediaReceiver] = {}
        self.incoming: deque[MediaReceiver] = deque()
        self.raw_mids: set[str] = set()
        self._lot = trio.lowlevel.ParkingLot()

    def add_track(
        self, kind: MediaKind, codecs: Sequence[Codec] | None, direction: Direction
    ) -> MediaSender:
        index = self.pc._core.add_transceiver(
            TransceiverRequest(kind, direction, tuple(codecs or ()))
        )
        sender = MediaSender(self, kind, index)
        self.senders.append(sender)
        return sender

    async def accept_track(self) -> MediaReceiver:
        pc = self.pc
        while not self.incoming:
            if pc._closed:
                raise trio.ClosedResourceError("the peer connection is closed")
            if pc._failure is not None or pc.connection_state is ConnectionState.FAILED:
                raise trio.BrokenResourceError("no more tracks") from (
                    pc._failure or pc._failure_error()
                )
            if pc.connection_state is ConnectionState.CLOSED:
                raise trio.BrokenResourceError("no more tracks: the connection closed")
            await self._lot.park()
        return self.incoming.popleft()

    def on_event(self, event: object) -> None:
        if isinstance(event, MediaFrame):
            receiver = self.receivers.get(event.mid)
            if receiver is not None:
                receiver._deliver(event)
        elif isinstance(event, MediaRtp):
            receiver = self.receivers.get(event.mid)
            if receiver is not None:
                receiver._deliver_rtp(event.packet)
        elif isinstance(event, KeyframeRequested):
            for sender in self.senders:
                if sender.mid == event.mid:
                    sender.keyframe_requests += 1
                    sender._wake()
        elif isinstance(event, RemoteSourceEnded):
            receiver = self.receivers.get(event.mid)
            if receiver is not None:
                receiver._end()
        elif isinstance(event, MediaNegotiated):
            self._negotiated(event.media)

    def _negotiated(self, media: tuple[NegotiatedMedia, ...]) -> None:
        by_index = {m.request_index: m for m in media if m.request_index is not None}
        for sender in self.senders:
            negotiated = by_index.get(sender.request_index)
            if negotiated is None:
                sender._ended = sender.mid is not None
                continue
            sender.mid = negotiated.mid
            sender._ended = False
            sendable = [c for c in negotiated.codecs if c.payload_type is not None]
            sender.codec = sendable[0] if sendable else None
            sender._wake()
        receiving = {m.mid: m for m in media if m.receives}
        for mid, receiver in list(self.receivers.items()):
            if mid not in receiving:
                receiver._end()
                del self.receivers[mid]
        engine = self.pc._core.media
        for mid, item in receiving.items():
            if mid not in self.receivers:
                receiver = MediaReceiver(self, item)
                self.receivers[mid] = receiver
                self.incoming.append(receiver)
                if mid in self.raw_mids and engine is not None:
                    engine.set_raw(mid, True)
        self.wake()

    def wake(self) -> None:
        """The connection's state changed: every waiting task re-checks."""
        self._lot.unpark_all()
        for sender in self.senders:
            sender._wake()
        for receiver in self.receivers.values():
            receiver._wake()


MEDIA_EVENTS = (MediaEvent, MediaNegotiated)
