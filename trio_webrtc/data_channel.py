"""The Trio face's data channel: ``trio.abc.Channel[bytes | str]`` over RFC 8831.

Close semantics (RFC 8831 §6.7): :meth:`DataChannel.close` resets our outgoing stream
once every queued message is sent; :meth:`DataChannel.aclose` also waits until both
directions are reset. ``receive()`` raises ``trio.EndOfChannel`` only after an orderly
close by the peer (its stream reset after all its data, SCTP SHUTDOWN, DTLS close_notify)
and every message was read; a broken transport (ICE failure or consent loss, DTLS
failure, SCTP ABORT) raises ``trio.BrokenResourceError`` chained to a
:class:`~trio_webrtc.errors.ConnectionFailedError` naming the cause; our own close gives
``trio.ClosedResourceError``. See ``docs/errors.md``.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

import trio

from .datachannel.channels import ChannelState, DataChannelInfo
from .errors import ConnectionFailedError, InvalidStateError, MessageTooLargeError
from .sctp.events import SendBufferFullError

if TYPE_CHECKING:
    from .peer_connection import PeerConnection

__all__ = ["DataChannel"]

logger = logging.getLogger("trio_webrtc.api")

_DEFAULT_HIGH_WATER = 1 << 20
# Read bytes are reported to SCTP (reopening its window) when the queue runs empty or
# this much was read: one call per burst rather than per message.
_REPORT_READ_BYTES = 64 << 10
_OPEN = ChannelState.OPEN
_ENDED = (ChannelState.CLOSING, ChannelState.CLOSED)


class DataChannel(trio.abc.Channel["bytes | str"]):
    """One data channel. Text stays ``str``, binary stays ``bytes``, empty stays empty.

    ``send`` waits while more than ``high_water`` bytes (default 1 MiB) are queued on
    the channel, and while the association's send buffer (16 MiB over every channel) is
    full, in FIFO order across channels; :meth:`send_nowait` raises ``trio.WouldBlock``
    instead.
    """

    def __init__(self, pc: PeerConnection, info: DataChannelInfo) -> None:
        self._pc = pc
        self._info = info
        self._messages: deque[tuple[bytes | str, int]] = deque()
        self._lot = trio.lowlevel.ParkingLot()
        self._send_lock = trio.StrictFIFOLock()
        self._closed_locally = False
        # The failure that ended this channel (None: open, or closed in order).
        self._broken: ConnectionFailedError | None = None
        self._undelivered = 0  # bytes still held when the failure ended the channel
        self.high_water = _DEFAULT_HIGH_WATER
        self.last_was_string = False
        # The buffered amount after our last send: an upper bound (sending lowers it),
        # so send() checks high_water without asking SCTP while it is below.
        self._buffered_hint = 0
        self._parked = 0  # tasks parked in self._lot (so a delivery wakes only if needed)
        self._read_unreported = 0  # bytes read, not yet reported to SCTP
        # ``now`` matters to a send only for a channel with a lifetime (PR-SCTP expiry).
        self._timed = info.parameters.max_packet_lifetime is not None

    # -------------------------------------------------------------- properties

    @property
    def label(self) -> str:
        return self._info.parameters.label

    @property
    def protocol(self) -> str:
        return self._info.parameters.protocol

    @property
    def id(self) -> int | None:
        """The SCTP stream id, None until assigned."""
        return self._info.stream_id

    @property
    def ordered(self) -> bool:
        return self._info.parameters.ordered

    @property
    def negotiated(self) -> bool:
        return self._info.parameters.negotiated

    @property
    def max_retransmits(self) -> int | None:
        return self._info.parameters.max_retransmits

    @property
    def max_packet_lifetime(self) -> int | None:
        return self._info.parameters.max_packet_lifetime

    @property
    def priority(self) -> int:
        """The DCEP priority (RFC 8832 §5.1; 256 is W3C "low", the default)."""
        return self._info.parameters.priority

    @property
    def state(self) -> ChannelState:
        return self._info.state

    @property
    def buffered_amount(self) -> int:
        """Bytes queued to send and not yet sent (W3C ``bufferedAmount``); bytes in flight
        count against the association's send buffer (16 MiB), not here."""
        return self._pc._core.channels.buffered_amount(self._info.key)

    @property
    def available(self) -> int:
        """Messages received and not yet read."""
        return len(self._messages)

    # ------------------------------------------------------------------- errors

    def _closed_error(self) -> trio.ClosedResourceError | None:
        if self._closed_locally:
            return trio.ClosedResourceError(f"channel {self.label!r} was closed")
        if self._pc._closed and self._broken is None:
            return trio.ClosedResourceError("the peer connection was closed")
        return None

    def _broken_error(self, what: str) -> trio.BrokenResourceError:
        """``BrokenResourceError`` (its ``__cause__`` the connection's failure)."""
        failure = self._broken
        if failure is None:
            error = trio.BrokenResourceError(f"channel {self.label!r}: {what}")
        else:
            lost = f"; {self._undelivered} bytes were not delivered" if self._undelivered else ""
            error = trio.BrokenResourceError(f"channel {self.label!r}: {failure}{lost}")
            error.__cause__ = failure
        return error

    def _raise_if_unusable(self, what: str) -> None:
        closed = self._closed_error()
        if closed is not None:
            raise closed
        if self._info._state is not _OPEN:
            error = self._broken_error(what)
            raise error from error.__cause__

    # ------------------------------------------------------------------- waits

    async def _park(self) -> None:
        self._parked += 1
        try:
            await self._lot.park()
        finally:
            self._parked -= 1

    async def _wait_until(self, predicate: Callable[[], object]) -> None:
        while not predicate():
            await self._park()

    async def wait_open(self) -> None:
        """Wait until the channel is open; ``trio.BrokenResourceError`` if it closed first
        (chained to the connection's failure), ``ClosedResourceError`` after our close."""
        await self._wait_until(lambda: self.state is not ChannelState.CONNECTING)
        if self.state is not ChannelState.OPEN:
            self._raise_if_unusable("closed before opening")

    async def wait_closed(self) -> None:
        """Wait until both directions are closed (state CLOSED), whatever closed them."""
        await self._wait_until(lambda: self.state is ChannelState.CLOSED)

    async def wait_buffered_amount_low(self, threshold: int = 0) -> None:
        """Wait until at most ``threshold`` bytes remain queued; raises
        ``BrokenResourceError`` if the connection broke meanwhile."""
        key = self._info.key
        self._pc._core.channels.set_buffered_amount_low_threshold(key, threshold)
        await self._wait_until(
            lambda: self.buffered_amount <= threshold or self.state is ChannelState.CLOSED
        )
        if self._broken is not None:
            self._raise_if_unusable("broken")

    # ------------------------------------------------------------- send/receive

    async def send(self, value: bytes | bytearray | memoryview | str) -> None:
        """Send one message, waiting while more than ``high_water`` bytes are queued or
        the association's send buffer is full (never raising for either).

        Raises ``MessageTooLargeError`` (nothing sent) for messages over the peer's
        max-message-size, ``trio.ClosedResourceError`` after our close and
        ``trio.BrokenResourceError`` after the peer's close or a failure (chained to a
        ``ConnectionFailedError`` naming it).
        """
        if type(value) is not bytes and not isinstance(value, (bytearray, memoryview, str)):
            raise TypeError("a data channel carries bytes or str")
        lock = self._send_lock
        pc = self._pc
        if (
            self._buffered_hint <= self.high_water
            and self._info._state is _OPEN
            and not self._closed_locally
            and not lock.locked()
            and not pc._space_waiters
        ):
            # Fast path (nothing to wait for): one cancel point before and one schedule
            # point after, as trio's own channels do, instead of the lock's round trip.
            await trio.lowlevel.checkpoint_if_cancelled()
            try:
                self._queue(value)
            except SendBufferFullError:
                pass  # the association's buffer is full: wait below, in turn
            else:
                await trio.lowlevel.cancel_shielded_checkpoint()
                return
        async with lock:
            if self.state is ChannelState.CONNECTING:
                await self.wait_open()
            self._raise_if_unusable("closed by the peer")
            if self.buffered_amount > self.high_water:
                await self.wait_buffered_amount_low(self.high_water // 2)
                self._raise_if_unusable("closed by the peer")
            await pc._queue_when_room(self, value)
        await trio.lowlevel.checkpoint()

    def send_nowait(self, value: bytes | bytearray | memoryview | str) -> None:
        """Send one message now or raise ``trio.WouldBlock`` (above ``high_water`` or the
        association's send buffer full, or the channel not open yet); otherwise the
        errors of :meth:`send`."""
        if self._info._state is ChannelState.CONNECTING and not self._closed_locally:
            raise trio.WouldBlock
        self._raise_if_unusable("closed by the peer")
        if self.buffered_amount > self.high_water or self._pc._space_waiters:
            raise trio.WouldBlock
        try:
            self._queue(value)
        except SendBufferFullError:
            raise trio.WouldBlock from None

    def _queue(self, value: bytes | bytearray | memoryview | str) -> None:
        data = value if type(value) is bytes or isinstance(value, str) else bytes(value)
        pc = self._pc
        try:
            self._buffered_hint = pc._core.send(
                self._info._key, data, trio.current_time() if self._timed else 0.0
            )
        except MessageTooLargeError as exc:
            logger.warning("[%s] channel %r: %s; nothing sent", pc.name, self.label, exc)
            raise
        except SendBufferFullError:
            raise
        except InvalidStateError as exc:  # the association is shutting down or gone
            self._raise_if_unusable("closed by the peer")
            raise trio.BrokenResourceError(f"channel {self.label!r}: {exc}") from exc
        driver = pc._driver
        if driver is None:
            return
        if self._timed:
            driver.flush()  # its lifetime runs from now: no bundling delay
        else:
            driver.flush_soon(len(data) or 1)

    async def receive(self) -> bytes | str:
        """Next message; ``EndOfChannel`` once the peer closed in order and all was read,
        ``BrokenResourceError`` if the connection broke, ``ClosedResourceError`` after our
        own close."""
        while not self._messages:
            closed = self._closed_error()
            if closed is not None:
                raise closed
            if self._info._state in _ENDED:
                if self._broken is not None and not self._info._in_reset:
                    error = self._broken_error("broken")
                    raise error from error.__cause__
                raise trio.EndOfChannel
            await self._park()
        await trio.lowlevel.checkpoint_if_cancelled()
        message, nbytes = self._messages.popleft()
        self.last_was_string = type(message) is str
        unreported = self._read_unreported + nbytes
        if unreported >= _REPORT_READ_BYTES or not self._messages:
            self._report_read(unreported)
        else:
            self._read_unreported = unreported
        return message

    def receive_nowait(self) -> bytes | str:
        """The next message if one is waiting, else raise ``trio.WouldBlock``."""
        if not self._messages:
            raise trio.WouldBlock
        message, nbytes = self._messages.popleft()
        self.last_was_string = type(message) is str
        self._report_read(self._read_unreported + nbytes)
        return message

    def _report_read(self, nbytes: int) -> None:
        """Tell SCTP ``nbytes`` were read (its window reopens); flush a window update."""
        self._read_unreported = 0
        pc = self._pc
        if pc._core.message_read(nbytes):
            pc._flush_soon(0)  # a window update is due

    def close(self) -> None:
        """Start closing (RFC 8831 §6.7): queued messages are still delivered. Idempotent;
        never raises because of the connection's state."""
        if self._closed_locally:
            return
        self._closed_locally = True
        pc = self._pc
        if not pc._closed:
            pc._core.close_channel(self._info.key, trio.current_time())
            pc._flush()
        self._lot.unpark_all()

    async def aclose(self) -> None:
        """Close and wait until the close completed both ways (RFC 8831 §6.7: every
        message we queued was delivered before our stream reset). Raises
        ``trio.BrokenResourceError`` saying how many bytes were not delivered if the
        connection broke first. Bound it with ``trio.fail_after`` if the peer may stall."""
        self.close()
        await self._wait_until(
            lambda: self.state is ChannelState.CLOSED or self._pc._closed or self._broken
        )
        if self._broken is not None and self._undelivered:
            error = self._broken_error("broken")
            raise error from error.__cause__
        await trio.lowlevel.checkpoint()

    # --------------------------------------------------------- event plumbing

    def _deliver(self, data: bytes | str, nbytes: int) -> None:
        self._messages.append((data, nbytes))
        if self._parked:
            self._lot.unpark_all()

    def _break(self, failure: ConnectionFailedError, undelivered: int) -> None:
        if self._broken is None:
            self._broken = failure
            self._undelivered = undelivered
        self._lot.unpark_all()

    def _wake(self) -> None:
        self._lot.unpark_all()

    def __repr__(self) -> str:
        return f"<DataChannel {self.label!r} id={self.id} {self.state.name}>"
