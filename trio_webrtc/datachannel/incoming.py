"""The receiving half of DCEP and early data, for :class:`~.channels.ChannelManager`.

Implements RFC 8832 §6 on the receiving side: a valid DATA_CHANNEL_OPEN on a free stream
of the peer's parity is answered with DATA_CHANNEL_ACK and opens the channel; one that
fails the checks (the opener's stream-id parity by DTLS role, a stream already in use, a
malformed message, parameters out of range) is answered with no ACK and the stream is
closed by an outgoing SSN reset (RFC 8831 §6.7, RFC 6525 §5.1.2), so the opener learns
at once instead of staying "connecting". A DATA_CHANNEL_ACK completes our own OPEN.

Early data (as Firefox does): user messages on a stream no channel uses yet are kept
until the application creates the negotiated channel (RFC 8831 §6.5) or a peer's OPEN
binds it, then delivered in order after ``ChannelOpened``. They stay charged to the SCTP
receive window until the application reads them (the sender is flow-controlled, not
dropped), and are bounded: at most ``max_early_data`` bytes in all; beyond that, and when
the association closes, they are discarded with a WARNING and counted
(:attr:`ChannelManager.early_messages_dropped`).

A mixin: the methods run on the manager's own state.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import TYPE_CHECKING

from ..errors import DcepParseError, LocalProtocolError
from .dcep import DataChannelAck, DataChannelOpen, Ppid, parse_dcep
from .records import (
    MAX_STREAM_ID,
    ChannelEvent,
    ChannelOpened,
    ChannelParameters,
    ChannelState,
    IncomingChannel,
)

if TYPE_CHECKING:
    from .channels import DataChannelInfo, SctpTransport

__all__ = ["DEFAULT_MAX_EARLY_DATA", "IncomingOpens"]

logger = logging.getLogger("trio_webrtc.dcep")

#: Default bound on early data held for channels not yet created (bytes, all streams).
DEFAULT_MAX_EARLY_DATA = 256 * 1024
# Lifecycle events a peer can provoke between two drains are bounded by refusing new
# incoming channels while this many events are pending (the core drains after each input).
MAX_PENDING_EVENTS = 65536
_ACK = DataChannelAck().encode()


class IncomingOpens:
    """DCEP receiving and early data; :class:`ChannelManager` inherits it."""

    # Owned by ChannelManager.__init__; declared here for the type checker.
    _sctp: SctpTransport
    _is_client: bool | None
    _by_stream: dict[int, DataChannelInfo]
    _refused: set[int]
    _active: int
    _max_channels: int
    events: deque[ChannelEvent]
    _association_closed: bool
    _early: dict[int, list[tuple[int, bytes]]]
    _early_bytes: int
    _max_early_data: int
    _early_dropped: int

    def _new_info(self, params: ChannelParameters, *, remote: bool) -> DataChannelInfo:
        raise NotImplementedError  # pragma: no cover - ChannelManager defines it

    def _bind(self, info: DataChannelInfo, stream_id: int) -> None:
        raise NotImplementedError  # pragma: no cover - ChannelManager defines it

    def _set_open(self, info: DataChannelInfo) -> None:
        raise NotImplementedError  # pragma: no cover - ChannelManager defines it

    def _deliver(self, info: DataChannelInfo, ppid: int, data: bytes) -> None:
        raise NotImplementedError  # pragma: no cover - ChannelManager defines it

    def close(self, key: int, now: float) -> None:
        raise NotImplementedError  # pragma: no cover - ChannelManager defines it

    def _consume(self, nbytes: int) -> None:
        raise NotImplementedError  # pragma: no cover - ChannelManager defines it

    def _debug(self, msg: str, *args: object) -> None:
        raise NotImplementedError  # pragma: no cover - ChannelManager defines it

    def _warning(self, msg: str, *args: object) -> None:
        raise NotImplementedError  # pragma: no cover - ChannelManager defines it

    @property
    def early_messages_dropped(self) -> int:
        """Early messages discarded: over ``max_early_data``, or never claimed."""
        return self._early_dropped

    # -- DCEP ----------------------------------------------------------------------------

    def _handle_dcep(self, stream_id: int, data: bytes, now: float) -> None:
        try:
            message = parse_dcep(data)
        except DcepParseError as exc:
            self._refuse(stream_id, f"malformed DCEP message ({exc})", now)
            return
        if isinstance(message, DataChannelAck):
            info = self._by_stream.get(stream_id)
            if info is None or not info._awaiting_ack:
                self._debug("ignoring unexpected DATA_CHANNEL_ACK on stream %s", stream_id)
                return
            info._awaiting_ack = False
            if info._state is ChannelState.CONNECTING:
                self._set_open(info)
            return
        self._handle_remote_open(stream_id, message, now)

    def _handle_remote_open(self, stream_id: int, message: DataChannelOpen, now: float) -> None:
        if self._is_client is not None and stream_id % 2 == (0 if self._is_client else 1):
            self._refuse(stream_id, "the stream id has our parity, not the opener's", now)
            return
        if stream_id in self._by_stream or stream_id in self._refused:
            self._refuse(stream_id, "the stream is already in use", now)
            return
        if self._active >= self._max_channels or len(self.events) >= MAX_PENDING_EVENTS:
            self._refuse(stream_id, f"too many channels (limit {self._max_channels})", now)
            return
        try:
            params = ChannelParameters.from_open_message(message, stream_id)
            self._sctp.send(stream_id, Ppid.DCEP, _ACK, ordered=True, now=now)
        except LocalProtocolError as exc:
            self._refuse(stream_id, str(exc), now)
            return
        info = self._new_info(params, remote=True)
        self._bind(info, stream_id)
        info._state = ChannelState.OPEN
        self._debug("peer opened channel %s (%r) on stream %s", info._key, message.label, stream_id)
        self.events.append(IncomingChannel(info._key))
        self.events.append(ChannelOpened(info._key))
        self._flush_early(info)

    def _refuse(self, stream_id: int, why: str, now: float) -> None:
        """RFC 8832 §6: no ACK; close the stream (the channel on it, if any)."""
        if not 0 <= stream_id <= MAX_STREAM_ID:
            self._warning("ignoring DCEP message on reserved stream %s: %s", stream_id, why)
            return
        info = self._by_stream.get(stream_id)
        if info is not None:
            self._warning(
                "invalid DCEP message on stream %s: %s; closing channel %s",
                stream_id,
                why,
                info._key,
            )
            self.close(info._key, now)
            return
        if stream_id in self._refused:
            self._debug("stream %s is already being reset (%s)", stream_id, why)
            return
        self._warning("refusing DATA_CHANNEL_OPEN on stream %s: %s; resetting it", stream_id, why)
        self._drop_early(stream_id)
        try:
            self._sctp.reset_streams([stream_id], now)
        except LocalProtocolError as exc:
            self._warning("cannot reset stream %s: %s", stream_id, exc)
            return
        self._refused.add(stream_id)

    # -- early data ----------------------------------------------------------------------

    def _buffer_early(self, stream_id: int, ppid: int, data: bytes) -> None:
        """A user message on a stream without a channel (yet): keep it, bounded."""
        nbytes = len(data)
        if stream_id in self._refused or not 0 <= stream_id <= MAX_STREAM_ID:
            self._debug("dropping %s bytes on refused stream %s", nbytes, stream_id)
            self._consume(nbytes)
            return
        if self._early_bytes + nbytes > self._max_early_data:
            self._early_dropped += 1
            self._warning(
                "dropping %s bytes on stream %s: no channel, and %s bytes already wait "
                "for channels not yet created (limit %s)",
                nbytes,
                stream_id,
                self._early_bytes,
                self._max_early_data,
            )
            self._consume(nbytes)
            return
        self._early.setdefault(stream_id, []).append((ppid, data))
        self._early_bytes += nbytes
        self._debug("holding %s bytes on stream %s until its channel exists", nbytes, stream_id)

    def _flush_early(self, info: DataChannelInfo) -> None:
        """The channel on this stream is OPEN: deliver what arrived before it existed."""
        stream_id = info._stream_id
        if stream_id is None or not self._early:
            return
        held = self._early.pop(stream_id, None)
        if not held:
            return
        for ppid, data in held:
            self._early_bytes -= len(data)
            if info._state is ChannelState.OPEN:
                self._deliver(info, ppid, data)
            else:
                self._consume(len(data))

    def _drop_early(self, stream_id: int | None = None) -> None:
        """Discard early data of one stream, or of every stream (association gone)."""
        streams = list(self._early) if stream_id is None else [stream_id]
        for sid in streams:
            held = self._early.pop(sid, None)
            if not held:
                continue
            size = sum(len(data) for _, data in held)
            self._early_bytes -= size
            self._early_dropped += len(held)
            self._warning(
                "discarding %s early messages (%s bytes) on stream %s: no channel claimed them",
                len(held),
                size,
                sid,
            )
            if not self._association_closed:
                self._consume(size)
