"""The Trio face: peer connections and data channels in Trio's idiom.

``async with PeerConnection(config) as pc:`` owns a nursery that runs the connection (a
task per UDP socket and one timer); leaving the block closes every channel, sends the
peer an SCTP ABORT and a DTLS close_notify, and ends every task. Offer/answer and state
changes are awaitable; a :class:`DataChannel` is a ``trio.abc.Channel[bytes | str]`` with
backpressure on ``send`` (it waits while more than ``high_water`` bytes are queued) and
``EndOfChannel`` once the peer has closed it and every message was read.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING

import trio

from ._trio.driver import CoreDriver, DatagramSocket, bind_udp_sockets
from .config import Configuration
from .core import (
    ConnectionState,
    ConnectionStateChanged,
    GatheringState,
    LocalCandidate,
    PeerConnectionCore,
)
from .datachannel.channels import (
    ChannelBufferedAmountLow,
    ChannelClosed,
    ChannelClosing,
    ChannelMessage,
    ChannelOpened,
    ChannelParameters,
    ChannelState,
    DataChannelInfo,
    IncomingChannel,
)
from .dtls.certificate import Certificate
from .errors import ConnectionFailedError, InvalidStateError, MessageTooLargeError

if TYPE_CHECKING:
    from ._trio.mdns_resolver import Resolver
    from .stats import PeerConnectionStats
    from .testing import MemoryNetwork

__all__ = ["DataChannel", "IceCandidate", "PeerConnection", "connect_pair"]

logger = logging.getLogger("trio_webrtc.api")

_DEFAULT_HIGH_WATER = 1 << 20
# Read bytes are reported to SCTP (reopening its window) when the queue runs empty or
# this much was read: one call per burst rather than per message.
_REPORT_READ_BYTES = 64 << 10
_OPEN = ChannelState.OPEN


@dataclass(frozen=True)
class IceCandidate:
    """A local candidate to signal; ``candidate`` None means end-of-candidates."""

    candidate: str | None
    sdp_mid: str
    sdp_mline_index: int


class DataChannel(trio.abc.Channel["bytes | str"]):
    """One data channel. Text stays ``str``, binary stays ``bytes``, empty stays empty."""

    def __init__(self, pc: PeerConnection, info: DataChannelInfo) -> None:
        self._pc = pc
        self._info = info
        self._messages: deque[tuple[bytes | str, int]] = deque()
        self._lot = trio.lowlevel.ParkingLot()
        self._send_lock = trio.StrictFIFOLock()
        self._closed_locally = False
        self.high_water = _DEFAULT_HIGH_WATER
        self.last_was_string = False
        # The buffered amount after our last send: an upper bound (acks only lower it),
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
    def state(self) -> ChannelState:
        return self._info.state

    @property
    def buffered_amount(self) -> int:
        """Bytes queued to send and not yet acknowledged by the peer."""
        return self._pc._core.channels.buffered_amount(self._info.key)

    @property
    def available(self) -> int:
        """Messages received and not yet read."""
        return len(self._messages)

    # ------------------------------------------------------------------- waits

    async def _park(self) -> None:
        self._parked += 1
        try:
            await self._lot.park()
        finally:
            self._parked -= 1

    async def _wait_until(self, predicate: object) -> None:
        assert callable(predicate)
        while not predicate():
            await self._park()

    async def wait_open(self) -> None:
        """Wait until the channel is open; raise ``trio.BrokenResourceError`` if it closed."""
        await self._wait_until(lambda: self.state is not ChannelState.CONNECTING)
        if self.state is not ChannelState.OPEN:
            raise trio.BrokenResourceError(f"channel {self.label!r} closed before opening")

    async def wait_closed(self) -> None:
        """Wait until both directions are closed (state CLOSED)."""
        await self._wait_until(lambda: self.state is ChannelState.CLOSED)

    async def wait_buffered_amount_low(self, threshold: int = 0) -> None:
        """Wait until at most ``threshold`` bytes remain queued."""
        key = self._info.key
        self._pc._core.channels.set_buffered_amount_low_threshold(key, threshold)
        await self._wait_until(
            lambda: self.buffered_amount <= threshold or self.state is ChannelState.CLOSED
        )

    # ------------------------------------------------------------- send/receive

    async def send(self, value: bytes | str) -> None:
        """Send one message, waiting while more than ``high_water`` bytes are queued.

        Raises ``MessageTooLargeError`` (nothing sent) for messages over the peer's
        max-message-size, ``trio.ClosedResourceError`` after our close and
        ``trio.BrokenResourceError`` after the peer's close or a failure.
        """
        if type(value) is not bytes and not isinstance(value, (bytearray, memoryview, str)):
            raise TypeError("a data channel carries bytes or str")
        lock = self._send_lock
        if (
            self._buffered_hint <= self.high_water
            and self._info._state is _OPEN
            and not self._closed_locally
            and not lock.locked()
        ):
            # Fast path (nothing to wait for): one cancel point before and one schedule
            # point after, as trio's own channels do, instead of the lock's round trip.
            await trio.lowlevel.checkpoint_if_cancelled()
            self._queue(value)
            await trio.lowlevel.cancel_shielded_checkpoint()
            return
        async with lock:
            if self.state is ChannelState.CONNECTING:
                await self.wait_open()
            self._check_sendable()
            if self.buffered_amount > self.high_water:
                await self.wait_buffered_amount_low(self.high_water // 2)
                self._check_sendable()
            self._queue(value)
        await trio.lowlevel.checkpoint()

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
        driver = pc._driver
        if driver is not None:
            driver.flush_soon(len(data) or 1)

    def _check_sendable(self) -> None:
        if self._closed_locally:
            raise trio.ClosedResourceError("channel closed")
        if self.state is not ChannelState.OPEN:
            raise trio.BrokenResourceError(f"channel {self.label!r} is {self.state.name}")

    async def receive(self) -> bytes | str:
        """Next message; ``EndOfChannel`` once the peer closed and all was read."""
        while not self._messages:
            if self._closed_locally:
                raise trio.ClosedResourceError("channel closed")
            if self.state in (ChannelState.CLOSING, ChannelState.CLOSED):
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
        """Start closing (RFC 8831 §6.7): queued messages are still delivered."""
        if self._closed_locally:
            return
        self._closed_locally = True
        pc = self._pc
        if not pc._closed:
            pc._core.close_channel(self._info.key, trio.current_time())
            pc._flush()
        self._lot.unpark_all()

    async def aclose(self) -> None:
        """Close our side; the peer's channel reaches CLOSED promptly."""
        self.close()
        await trio.lowlevel.checkpoint()

    # --------------------------------------------------------- event plumbing

    def _deliver(self, data: bytes | str, nbytes: int) -> None:
        self._messages.append((data, nbytes))
        if self._parked:
            self._lot.unpark_all()

    def _wake(self) -> None:
        self._lot.unpark_all()

    def __repr__(self) -> str:
        return f"<DataChannel {self.label!r} id={self.id} {self.state.name}>"


class PeerConnection:
    """A WebRTC peer connection for data channels, owning its tasks.

    Use as ``async with PeerConnection({"bindAddress": "127.0.0.1"}) as pc:``.
    ``configuration`` is a :class:`Configuration` or a Godot/W3C-style dictionary.
    ``mdns_resolver`` resolves the peer's mDNS ``.local`` host candidates: any
    ``async (name) -> list[str]``; None means an :class:`~trio_webrtc._trio.mdns_resolver.
    MdnsResolver` querying the mDNS groups (224.0.0.251 and ff02::fb, port 5353).
    """

    def __init__(
        self,
        configuration: Configuration | Mapping[str, object] | None = None,
        *,
        certificate: Certificate | None = None,
        name: str | None = None,
        network: MemoryNetwork | None = None,
        mdns_resolver: Resolver | None = None,
    ) -> None:
        if not isinstance(configuration, Configuration):
            configuration = Configuration.from_dict(configuration)
        self.configuration = configuration
        self.name = name or f"pc-{id(self) & 0xFFFFFF:06x}"
        self._core = PeerConnectionCore(
            configuration, certificate=certificate, log_prefix=self.name
        )
        self._driver: CoreDriver | None = None
        self._nursery_manager: AbstractAsyncContextManager[trio.Nursery] | None = None
        self._nursery: trio.Nursery | None = None
        self._channels: dict[int, DataChannel] = {}
        self._incoming: deque[DataChannel] = deque()
        self._candidates: list[IceCandidate] = []
        self._lot = trio.lowlevel.ParkingLot()
        self._closed = False
        self._network = network
        self._mdns_resolver = mdns_resolver

    # -------------------------------------------------------------- lifetime

    async def __aenter__(self) -> PeerConnection:
        sockets: list[DatagramSocket]
        if self._network is not None:
            sockets = [self._network.bind(self.configuration.bind_address or "127.0.0.1")]
        else:
            sockets = bind_udp_sockets(self.configuration, self._core._rng)
        try:
            self._driver = CoreDriver(
                self._core, sockets, self._on_event, mdns_resolver=self._mdns_resolver
            )
        except BaseException:
            for sock in sockets:
                sock.close()
            raise
        manager = trio.open_nursery()
        nursery = await manager.__aenter__()
        self._nursery_manager = manager
        self._nursery = nursery
        try:
            await nursery.start(self._driver.run)
        except BaseException as exc:
            nursery.cancel_scope.cancel()
            await manager.__aexit__(type(exc), exc, exc.__traceback__)
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        manager = self._nursery_manager
        assert manager is not None and self._nursery is not None
        try:
            self.close()
        except BaseException as error:  # still close the nursery, or trio's state corrupts
            self._nursery.cancel_scope.cancel()
            await manager.__aexit__(type(error), error, error.__traceback__)
            raise
        self._nursery.cancel_scope.cancel()
        return await manager.__aexit__(exc_type, exc, tb)

    def close(self) -> None:
        """Close the connection and every channel (idempotent)."""
        if self._closed:
            return
        if self._driver is not None:
            self._driver.close()
        else:
            self._core.close(0.0)
        self._closed = True
        for channel in self._channels.values():
            channel._wake()
        self._lot.unpark_all()

    async def aclose(self) -> None:
        self.close()
        await trio.lowlevel.checkpoint()

    def _flush(self) -> None:
        if self._driver is not None:
            self._driver.flush()

    def _flush_soon(self, nbytes: int) -> None:
        if self._driver is not None:
            self._driver.flush_soon(nbytes)

    def _require_running(self) -> None:
        if self._driver is None:
            raise InvalidStateError("use the PeerConnection inside 'async with'")
        if self._closed:
            raise InvalidStateError("the peer connection is closed")

    # ---------------------------------------------------------------- states

    @property
    def connection_state(self) -> ConnectionState:
        return self._core.connection_state

    @property
    def gathering_state(self) -> GatheringState:
        return self._core.gathering_state

    @property
    def signaling_state(self) -> object:
        return self._core.signaling_state

    @property
    def local_description(self) -> str | None:
        """Our applied offer or answer with every candidate gathered so far (and
        ``a=end-of-candidates`` once gathering is complete): send this instead of
        trickling to a peer that does not take trickled candidates."""
        return self._core.local_description_sdp()

    @property
    def local_addresses(self) -> list[tuple[str, int]]:
        return [] if self._driver is None else self._driver.local_addresses

    def get_stats(self) -> PeerConnectionStats:
        """A frozen snapshot of states, counters, the selected pair and SCTP's RTT."""
        from .stats import collect_stats

        driver = self._driver
        return collect_stats(
            self._core,
            timestamp=trio.current_time(),
            datagrams_sent=0 if driver is None else driver.datagrams_sent,
            datagrams_received=0 if driver is None else driver.datagrams_received,
        )

    async def _wait_for(self, predicate: object) -> None:
        assert callable(predicate)
        while not predicate():
            await self._lot.park()

    async def wait_for_state(self, state: ConnectionState) -> None:
        """Wait until the connection reaches ``state``."""
        await self._wait_for(lambda: self.connection_state is state)

    async def wait_connected(self) -> None:
        """Wait for CONNECTED; raise ``ConnectionFailedError`` on FAILED or CLOSED."""
        bad = (ConnectionState.FAILED, ConnectionState.CLOSED)
        await self._wait_for(
            lambda: (
                self.connection_state is ConnectionState.CONNECTED or self.connection_state in bad
            )
        )
        if self.connection_state is not ConnectionState.CONNECTED:
            reason = self._core.failure_reason
            detail = f": {reason}" if reason else ""
            raise ConnectionFailedError(
                f"{self.name}: connection {self.connection_state.name}{detail}"
            )

    # ------------------------------------------------------------- signaling

    async def create_offer(self) -> str:
        """Create an offer, apply it as the local description, and return its SDP."""
        self._require_running()
        sdp = self._core.create_offer()
        self._core.set_local_description("offer", sdp, trio.current_time())
        self._flush()
        await trio.lowlevel.checkpoint()
        return sdp

    async def accept_offer(self, sdp: str) -> str:
        """Apply the peer's offer, create and apply our answer, and return its SDP."""
        self._require_running()
        now = trio.current_time()
        self._core.set_remote_description("offer", sdp, now)
        answer = self._core.create_answer()
        self._core.set_local_description("answer", answer, now)
        self._flush()
        await trio.lowlevel.checkpoint()
        return answer

    async def accept_answer(self, sdp: str) -> None:
        """Apply the peer's answer to our offer."""
        await self.set_remote_description("answer", sdp)

    async def set_local_description(self, sdp_type: str, sdp: str) -> None:
        self._require_running()
        self._core.set_local_description(sdp_type, sdp, trio.current_time())
        self._flush()
        await trio.lowlevel.checkpoint()

    async def set_remote_description(self, sdp_type: str, sdp: str) -> None:
        self._require_running()
        self._core.set_remote_description(sdp_type, sdp, trio.current_time())
        self._flush()
        await trio.lowlevel.checkpoint()

    async def add_ice_candidate(
        self, candidate: str | None, sdp_mid: str | None = "0", sdp_mline_index: int | None = 0
    ) -> None:
        """Add a remote candidate (None or "" = end-of-candidates)."""
        self._require_running()
        self._core.add_remote_candidate(candidate, sdp_mid, sdp_mline_index, trio.current_time())
        self._flush()
        await trio.lowlevel.checkpoint()

    def restart_ice(self) -> None:
        """ICE restart (RFC 8445 §9): new local ICE credentials, which the next
        :meth:`create_offer` carries; channels keep flowing on the current pair meanwhile,
        over the same DTLS and SCTP."""
        self._require_running()
        self._core.restart_ice(trio.current_time())
        self._flush()

    async def local_candidates(self) -> AsyncIterator[IceCandidate]:
        """Yield our candidates as they are gathered, ending after end-of-candidates."""
        index = 0
        while True:
            while index >= len(self._candidates):
                if self._closed:
                    return
                await self._lot.park()
            candidate = self._candidates[index]
            index += 1
            if candidate.candidate is None:
                return
            yield candidate

    # -------------------------------------------------------------- channels

    def create_data_channel(
        self,
        label: str = "",
        *,
        ordered: bool = True,
        max_retransmits: int | None = None,
        max_packet_lifetime: int | None = None,
        protocol: str = "",
        negotiated: bool = False,
        id: int | None = None,
        priority: int = 256,
    ) -> DataChannel:
        """Create a data channel; ``max_packet_lifetime`` is in milliseconds."""
        self._require_running()
        params = ChannelParameters(
            label=label,
            protocol=protocol,
            ordered=ordered,
            max_retransmits=max_retransmits,
            max_packet_lifetime=max_packet_lifetime,
            negotiated=negotiated,
            id=id,
            priority=priority,
        )
        info = self._core.create_data_channel(params, trio.current_time())
        channel = DataChannel(self, info)
        self._channels[info.key] = channel
        self._flush()
        return channel

    async def accept_channel(self) -> DataChannel:
        """Wait for the next channel the peer opened in-band. Raises
        ``trio.ClosedResourceError`` after our :meth:`close` and ``trio.BrokenResourceError``
        once the connection FAILED or the peer closed it (no channel can come any more)."""
        ended = (ConnectionState.FAILED, ConnectionState.CLOSED)
        await self._wait_for(
            lambda: self._incoming or self._closed or self.connection_state in ended
        )
        if not self._incoming:
            if self._closed:
                raise trio.ClosedResourceError("peer connection closed")
            raise trio.BrokenResourceError(
                f"{self.name}: connection {self.connection_state.name}; no more channels"
            )
        return self._incoming.popleft()

    # ---------------------------------------------------------------- events

    def _on_event(self, event: object) -> None:
        if isinstance(event, ChannelMessage):
            channel = self._channels.get(event.key)
            if channel is not None:
                channel._deliver(event.data, event.nbytes)
            else:
                self._core.message_read(event.nbytes)
            return
        if isinstance(event, IncomingChannel):
            info = self._core.channels.get(event.key)
            if info is None:
                return
            channel = DataChannel(self, info)
            self._channels[event.key] = channel
            self._incoming.append(channel)
            self._lot.unpark_all()
        elif isinstance(event, ChannelClosed):
            # The key is never reused and no event follows CLOSED: forget the channel, or
            # a peer opening and closing channels would grow this map without bound.
            channel = self._channels.pop(event.key, None)
            if channel is not None:
                channel._wake()
                if channel in self._incoming and not channel.available:
                    self._incoming.remove(channel)  # closed before it was ever accepted
        elif isinstance(event, (ChannelOpened, ChannelClosing, ChannelBufferedAmountLow)):
            channel = self._channels.get(event.key)
            if channel is not None:
                channel._wake()
        elif isinstance(event, LocalCandidate):
            self._candidates.append(
                IceCandidate(event.candidate, event.sdp_mid, event.sdp_mline_index)
            )
            self._lot.unpark_all()
        elif isinstance(event, ConnectionStateChanged):
            if event.state in (ConnectionState.FAILED, ConnectionState.CLOSED):
                for channel in self._channels.values():
                    channel._wake()
            self._lot.unpark_all()
        else:
            self._lot.unpark_all()

    def __repr__(self) -> str:
        return f"<PeerConnection {self.name} {self.connection_state.name}>"


async def connect_pair(offerer: PeerConnection, answerer: PeerConnection) -> None:
    """Signal two peer connections in one process to each other and wait until both are
    CONNECTED: offer/answer, then candidates trickled both ways as they are gathered."""
    offer = await offerer.create_offer()
    answer = await answerer.accept_offer(offer)
    await offerer.accept_answer(answer)

    async def forward(source: PeerConnection, target: PeerConnection) -> None:
        async for candidate in source.local_candidates():
            await target.add_ice_candidate(
                candidate.candidate, candidate.sdp_mid, candidate.sdp_mline_index
            )
        await target.add_ice_candidate(None)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(forward, offerer, answerer)
        nursery.start_soon(forward, answerer, offerer)
    await offerer.wait_connected()
    await answerer.wait_connected()
