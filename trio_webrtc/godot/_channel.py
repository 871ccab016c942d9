"""Godot's ``WebRTCDataChannel`` (a ``PacketPeer``) as a thin shim over the core.

No protocol logic here: the channel procedures of RFC 8831 §6.4-6.7 and RFC 8832 §6
live in :mod:`trio_webrtc.datachannel.channels`; this module maps Godot's packet API onto them.
Received messages wait in a per-channel queue until ``get_packet()`` reads them; only
then is the core told (``message_read``), so the queue is bounded by the SCTP receive
window the peer may fill (RFC 9260 §6.2).
"""

from __future__ import annotations

import enum
import logging
from collections import deque
from typing import TYPE_CHECKING

import trio

from ..datachannel import channels as _channels
from ._errors import Error, error_for
from ._signals import GodotObject, Signal

if TYPE_CHECKING:
    from .._trio.driver import CoreDriver
    from ..core import PeerConnectionCore

__all__ = ["WebRTCDataChannel"]

logger = logging.getLogger("trio_webrtc.godot")

_UNSET = 65535  # Godot's value for "no id yet" / "not set"


class _Session:
    """What one ``initialize()`` created: a core, its driver, and the pending signals.

    ``signals`` is a bounded trio memory channel of ``(signal, args)`` that ``poll()``
    drains; channel objects hold their session, so after a re-initialisation old channels
    keep talking to their (closed) core and report CLOSED.
    """

    def __init__(
        self,
        name: str,
        core: PeerConnectionCore,
        max_pending_signals: int,
    ) -> None:
        self.name = name
        self.core = core
        self.driver: CoreDriver  # attached right after construction
        self.scope = trio.CancelScope()
        send, receive = trio.open_memory_channel[tuple[Signal, tuple[object, ...]]](
            max_pending_signals
        )
        self.signal_sender = send
        self.signal_receiver = receive
        self.channels: dict[int, WebRTCDataChannel] = {}
        self.auto_answer: str | None = None
        self.closed = False

    def queue_signal(self, signal: Signal, *args: object) -> None:
        """Queue ``signal(*args)`` for the next ``poll()``; log and drop on overflow."""
        try:
            self.signal_sender.send_nowait((signal, args))
        except trio.WouldBlock:
            logger.error(
                "[%s] more than %d signals pending: dropping %s; call poll() more often",
                self.name,
                self.signal_sender.statistics().max_buffer_size,
                signal.get_name(),
            )

    def flush(self) -> None:
        if not self.closed:
            self.driver.flush()

    def flush_soon(self, nbytes: int) -> None:
        """``nbytes`` of user data were queued (0: a window update is due): let the
        driver send now or with the next bundle, as the Trio face does."""
        if not self.closed:
            self.driver.flush_soon(nbytes)

    def close(self) -> None:
        """Close the core (ABORT, close_notify) and cancel the driver's tasks."""
        if self.closed:
            return
        self.closed = True
        try:
            self.driver.close()
        finally:
            self.scope.cancel()


class WebRTCDataChannel(GodotObject):
    """One data channel, with Godot's ``WebRTCDataChannel`` and ``PacketPeer`` methods.

    Created by ``WebRTCPeerConnection.create_data_channel`` or delivered by its
    ``data_channel_received`` signal; not constructed directly. No method raises: errors
    are returned as :class:`Error` values (see :func:`error_for`) and logged.
    """

    class WriteMode(enum.IntEnum):
        WRITE_MODE_TEXT = 0
        WRITE_MODE_BINARY = 1

    WRITE_MODE_TEXT = WriteMode.WRITE_MODE_TEXT
    WRITE_MODE_BINARY = WriteMode.WRITE_MODE_BINARY

    class ChannelState(enum.IntEnum):
        STATE_CONNECTING = 0
        STATE_OPEN = 1
        STATE_CLOSING = 2
        STATE_CLOSED = 3

    STATE_CONNECTING = ChannelState.STATE_CONNECTING
    STATE_OPEN = ChannelState.STATE_OPEN
    STATE_CLOSING = ChannelState.STATE_CLOSING
    STATE_CLOSED = ChannelState.STATE_CLOSED

    def __init__(self, session: _Session, info: _channels.DataChannelInfo) -> None:
        self._session = session
        self._info = info
        self._packets: deque[tuple[bytes | str, int]] = deque()
        self._write_mode = WebRTCDataChannel.WriteMode.WRITE_MODE_BINARY
        self._was_string = False
        self._packet_error = Error.OK
        self._closed_locally = False
        self._busy = False  # an ERR_BUSY episode is under way (logged once)

    def _log_prefix(self) -> str:
        return self._session.name

    def _log(self, level: int, message: str, *args: object) -> None:
        logger.log(
            level, "[%s] channel %r: " + message, self._session.name, self.get_label(), *args
        )

    # ------------------------------------------------------------------ write mode

    @property
    def write_mode(self) -> WebRTCDataChannel.WriteMode:
        """How ``put_packet`` sends: as text (UTF-8 checked) or as binary."""
        return self._write_mode

    @write_mode.setter
    def write_mode(self, mode: int) -> None:
        self.set_write_mode(mode)

    def set_write_mode(self, write_mode: int) -> None:
        try:
            self._write_mode = WebRTCDataChannel.WriteMode(write_mode)
        except ValueError:
            self._log(logging.WARNING, "ignoring unknown write mode %r", write_mode)

    def get_write_mode(self) -> WebRTCDataChannel.WriteMode:
        return self._write_mode

    # ------------------------------------------------------------------ properties

    def get_label(self) -> str:
        return self._info.parameters.label

    def get_protocol(self) -> str:
        return self._info.parameters.protocol

    def get_id(self) -> int:
        """The SCTP stream id; 65535 until an in-band channel's id is assigned."""
        stream_id = self._info.stream_id
        return _UNSET if stream_id is None else stream_id

    def get_max_packet_life_time(self) -> int:
        """The lifetime limit in milliseconds, 65535 when not set."""
        value = self._info.parameters.max_packet_lifetime
        return _UNSET if value is None else value

    def get_max_retransmits(self) -> int:
        """The retransmission limit, 65535 when not set."""
        value = self._info.parameters.max_retransmits
        return _UNSET if value is None else value

    def is_negotiated(self) -> bool:
        return self._info.parameters.negotiated

    def is_ordered(self) -> bool:
        return self._info.parameters.ordered

    def get_ready_state(self) -> WebRTCDataChannel.ChannelState:
        return WebRTCDataChannel.ChannelState(int(self._info.state))

    def get_buffered_amount(self) -> int:
        """Bytes queued to send and not yet sent (as Godot's and W3C's bufferedAmount)."""
        if self._info.state is _channels.ChannelState.CLOSED:
            return 0
        return self._session.core.channels.buffered_amount(self._info.key)

    def was_string_packet(self) -> bool:
        """Whether the last packet ``get_packet()`` returned was sent as text."""
        return self._was_string

    def poll(self) -> Error:
        """Nothing to do: the connection's driver delivers packets. Always ``OK``."""
        return Error.OK

    def close(self) -> None:
        """Close the channel (RFC 8831 §6.7); the peer's channel goes CLOSED. Idempotent."""
        if self._closed_locally:
            return
        self._closed_locally = True
        session = self._session
        if session.closed or self._info.state is _channels.ChannelState.CLOSED:
            return
        try:
            session.core.close_channel(self._info.key, trio.current_time())
        except Exception as exc:
            self._log(logging.WARNING, "close failed: %s", exc)
            return
        session.flush()

    # ------------------------------------------------------------------ PacketPeer

    def put_packet(self, buffer: bytes | bytearray | memoryview) -> Error:
        """Send one message, as text in ``WRITE_MODE_TEXT`` (must be UTF-8) or binary.

        ``ERR_UNAVAILABLE`` unless OPEN; ``ERR_INVALID_PARAMETER`` for invalid UTF-8 in
        text mode or above the peer's max-message-size (nothing sent); ``ERR_BUSY`` when
        the SCTP send buffer is full.
        """
        session = self._session
        if session.closed or self._info.state is not _channels.ChannelState.OPEN:
            self._log(logging.WARNING, "put_packet while %s", self._info.state.name)
            return Error.ERR_UNAVAILABLE
        if not isinstance(buffer, (bytes, bytearray, memoryview)):
            self._log(logging.WARNING, "put_packet needs bytes, not %s", type(buffer).__name__)
            return Error.ERR_INVALID_PARAMETER
        data: bytes | str = bytes(buffer)
        if self._write_mode is WebRTCDataChannel.WriteMode.WRITE_MODE_TEXT:
            try:
                data = bytes(buffer).decode("utf-8")
            except UnicodeDecodeError as exc:
                self._log(logging.WARNING, "put_packet in text mode: invalid UTF-8 (%s)", exc)
                return Error.ERR_INVALID_PARAMETER
        try:
            session.core.send(self._info.key, data, trio.current_time())
        except Exception as exc:
            error = error_for(exc)
            if error is not Error.ERR_BUSY:
                self._log(logging.WARNING, "put_packet failed (%s): %s", error.name, exc)
            elif not self._busy:  # backpressure: once per episode, until a put succeeds
                self._busy = True
                self._log(logging.DEBUG, "put_packet: ERR_BUSY (%s)", exc)
            return error
        self._busy = False
        if self._info.parameters.max_packet_lifetime is not None:
            session.flush()  # a lifetime (Godot's unreliable modes: 1 ms) starts now
        else:
            session.flush_soon(len(data) or 1)
        return Error.OK

    def get_packet(self) -> bytes:
        """The next received message (text as UTF-8); ``b""`` and ``ERR_UNAVAILABLE`` from
        ``get_packet_error()`` when none is waiting."""
        if not self._packets:
            self._packet_error = Error.ERR_UNAVAILABLE
            return b""
        data, nbytes = self._packets.popleft()
        self._packet_error = Error.OK
        session = self._session
        if not session.closed and session.core.message_read(nbytes):
            session.flush_soon(0)  # a window update is due
        if isinstance(data, str):
            self._was_string = True
            return data.encode("utf-8", "surrogatepass")
        self._was_string = False
        return data

    def get_available_packet_count(self) -> int:
        return len(self._packets)

    def get_packet_error(self) -> Error:
        """The result of the last ``get_packet()``."""
        return self._packet_error

    # ------------------------------------------------------------------ plumbing

    def _deliver(self, data: bytes | str, nbytes: int) -> None:
        self._packets.append((data, nbytes))

    def __repr__(self) -> str:
        return (
            f"<WebRTCDataChannel {self.get_label()!r} id={self.get_id()} "
            f"{self.get_ready_state().name}>"
        )
