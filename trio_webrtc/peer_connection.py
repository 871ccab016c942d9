"""The Trio face: peer connections and data channels in Trio's idiom.

``async with PeerConnection(config) as pc:`` owns a nursery that runs the connection (a
task per UDP socket and one timer). Leaving the block normally is a graceful close
(:meth:`PeerConnection.aclose`): every queued message on every channel is delivered,
then SCTP SHUTDOWN (RFC 9260 §9.2) and DTLS close_notify (RFC 5246 §7.2.1), bounded by
``close_timeout``; leaving it with an exception (cancellation included) aborts at once
(SCTP ABORT, RFC 9260 §9.1). Exceptions leave the block as themselves, never wrapped in
an ``ExceptionGroup``. Offer/answer and state changes are awaitable; a
:class:`DataChannel` is a ``trio.abc.Channel[bytes | str]`` (see :mod:`.data_channel`).
Errors, cancellation and close are described in ``docs/errors.md``.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING

import trio

from ._trio.driver import CoreDriver, DatagramSocket, bind_udp_sockets
from .config import Configuration
from .core import (
    ConnectionBroken,
    ConnectionState,
    ConnectionStateChanged,
    GatheringState,
    LocalCandidate,
    PeerConnectionCore,
)
from .data_channel import DataChannel
from .datachannel.channels import (
    ChannelBufferedAmountLow,
    ChannelClosed,
    ChannelClosing,
    ChannelMessage,
    ChannelOpened,
    ChannelParameters,
    IncomingChannel,
)
from .dtls.certificate import Certificate
from .errors import CloseTimeoutError, ConnectionFailedError, InvalidStateError
from .ice import IceState
from .media_track import MEDIA_EVENTS, MediaReceiver, MediaSender, MediaTracks
from .sctp.events import SendBufferFullError
from .sdp.jsep import SignalingState
from .sdp.media import Codec, Direction, MediaKind

if TYPE_CHECKING:
    from ._trio.mdns_resolver import Resolver
    from .stats import PeerConnectionStats
    from .testing import MemoryNetwork

__all__ = ["DataChannel", "IceCandidate", "PeerConnection", "SctpTransport", "connect_pair"]

logger = logging.getLogger("trio_webrtc.api")

_ENDED = (ConnectionState.FAILED, ConnectionState.CLOSED)


@dataclass(frozen=True)
class IceCandidate:
    """A local candidate to signal; ``candidate`` None means end-of-candidates."""

    candidate: str | None
    sdp_mid: str
    sdp_mline_index: int


@dataclass(frozen=True)
class SctpTransport:
    """What W3C ``RTCSctpTransport`` tells (``pc.sctp``): ``max_message_size`` is the
    largest message ``send`` accepts (the peer's a=max-message-size, RFC 8841; 0 means
    no limit), ``max_channels`` how many channels may be open, ``state`` the
    association's RFC 9260 state."""

    max_message_size: int
    max_channels: int
    state: str


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
        self._remote_sdp: str | None = None
        # The transport's failure once it broke (ICE, DTLS, SCTP ABORT), else None.
        self._failure: ConnectionFailedError | None = None
        # Senders waiting for room in the association's send buffer (FIFO across
        # channels), and the lot woken after every flush of the driver while they wait.
        self._space_lock = trio.StrictFIFOLock()
        self._space_waiters = 0
        self._settle_lot = trio.lowlevel.ParkingLot()
        self._media = MediaTracks(self)

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
        self._driver.on_settle = self._on_settle
        manager = trio.open_nursery()
        nursery = await manager.__aenter__()
        self._nursery_manager = manager
        self._nursery = nursery
        try:
            await nursery.start(self._run_driver)
        except BaseException:
            self._closed = True
            await self._stop_tasks()
            raise
        return self

    async def _run_driver(self, *, task_status: trio.TaskStatus[None]) -> None:
        """The driver, with a crash turned into a FAILED connection (so that no internal
        error escapes the ``async with`` block wrapped in an ``ExceptionGroup``)."""
        driver = self._driver
        assert driver is not None
        try:
            await driver.run(task_status=task_status)
        except Exception as exc:
            if not driver.started:
                raise
            logger.error("[%s] connection driver crashed: %r", self.name, exc, exc_info=exc)
            self._core.fail(f"internal error: {type(exc).__name__}: {exc}")
            driver._dispatch()
            self._lot.unpark_all()

    async def _stop_tasks(self) -> None:
        """Cancel the connection's tasks and wait for them (they end at once)."""
        manager = self._nursery_manager
        nursery = self._nursery
        if manager is None or nursery is None:
            return
        self._nursery_manager = self._nursery = None
        nursery.cancel_scope.cancel()
        try:
            await manager.__aexit__(None, None, None)
        except BaseException as group:  # a BaseExceptionGroup (the backport's on 3.10)
            # Only an outer cancellation while the (cancelled) tasks finish, or a crash
            # while starting: raise the one exception, never a group around it.
            if not hasattr(group, "exceptions"):
                raise
            leaves = list(_leaves(group))
            errors = [leaf for leaf in leaves if not isinstance(leaf, trio.Cancelled)]
            if len(errors) > 1:
                raise
            raise (errors or leaves)[0] from None

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        """Graceful close if the block ended normally, else abort; the block's exception
        (cancellation included) propagates unchanged."""
        try:
            if exc is None:
                await self.aclose()
            else:
                self.close()
        finally:
            self.close()
            try:
                await self._stop_tasks()
            except trio.Cancelled:
                if exc is None:
                    raise
                # The block's own exception wins (an outer cancellation is delivered
                # again at the next checkpoint), as it would with a plain nursery.
        return False

    def close(self) -> None:
        """Abort now (SCTP ABORT, DTLS close_notify): queued messages not yet delivered are
        lost. Idempotent; never raises because of the connection's state. Prefer
        :meth:`aclose` (or leaving the ``async with`` block), which delivers them first."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._driver is not None:
                self._driver.close()
            else:
                self._core.close(0.0)
        finally:
            for channel in self._channels.values():
                channel._wake()
            self._lot.unpark_all()
            self._settle_lot.unpark_all()
            self._media.wake()

    async def aclose(self) -> None:
        """Graceful close: deliver every queued message on every channel, then SCTP
        SHUTDOWN (RFC 9260 §9.2) and DTLS close_notify. Bounded by the configuration's
        ``close_timeout`` (default 10 s), after which the association is aborted with a
        WARNING; if messages were then left undelivered it raises
        :class:`~trio_webrtc.errors.CloseTimeoutError` saying how many bytes. Cancellation
        aborts at once. Idempotent."""
        if self._closed or self._driver is None:
            self.close()
            await trio.lowlevel.checkpoint()
            return
        core = self._core
        try:
            if core.shutdown(trio.current_time()):
                self._flush()
                timeout = self.configuration.close_timeout
                with trio.move_on_after(timeout) as scope:
                    self._space_waiters += 1
                    try:
                        while not core.association_done and self.connection_state not in _ENDED:
                            await self._settle_lot.park()
                    finally:
                        self._space_waiters -= 1
                if scope.cancelled_caught:
                    undelivered = core.undelivered_bytes()
                    logger.warning(
                        "[%s] graceful close did not complete within closeTimeout %g s; "
                        "aborting (%d bytes not delivered)",
                        self.name,
                        timeout,
                        undelivered,
                    )
                    if undelivered:
                        raise CloseTimeoutError(
                            f"{self.name}: the graceful close did not complete within "
                            f"{timeout:g} s; aborted with {undelivered} bytes not delivered"
                        )
        finally:
            self.close()
        await trio.lowlevel.checkpoint()

    async def _queue_when_room(
        self, channel: DataChannel, value: bytes | bytearray | memoryview | str
    ) -> None:
        """Queue on ``channel``, waiting (FIFO across channels) while the association's
        send buffer is full."""
        self._space_waiters += 1
        try:
            async with self._space_lock:
                while True:
                    channel._raise_if_unusable("closed by the peer")
                    try:
                        channel._queue(value)
                        return
                    except SendBufferFullError:
                        await self._settle_lot.park()
        finally:
            self._space_waiters -= 1

    def _on_settle(self) -> None:
        """The driver flushed (acks may have made room, the association may be done)."""
        if self._space_waiters:
            self._settle_lot.unpark_all()

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

    def _wait_error(self, what: str) -> BaseException:
        """What a wait that can no longer succeed raises."""
        if self._failure is not None:
            error = trio.BrokenResourceError(f"{self.name}: {self._failure}; {what}")
            error.__cause__ = self._failure
            return error
        if self._closed:
            return trio.ClosedResourceError(f"{self.name}: the peer connection was closed")
        return trio.BrokenResourceError(
            f"{self.name}: connection {self.connection_state.name}; {what}"
        )

    def _failure_error(self) -> ConnectionFailedError:
        reason = self._core.failure_reason
        detail = f": {reason}" if reason else ""
        return ConnectionFailedError(
            f"{self.name}: connection {self.connection_state.name}{detail}"
        )

    # ---------------------------------------------------------------- states

    @property
    def connection_state(self) -> ConnectionState:
        return self._core.connection_state

    @property
    def gathering_state(self) -> GatheringState:
        return self._core.gathering_state

    @property
    def signaling_state(self) -> SignalingState:
        return self._core.signaling_state

    @property
    def ice_connection_state(self) -> IceState:
        """W3C ``iceConnectionState``: the ICE agent's state (RFC 8445)."""
        return self._core.ice.state

    @property
    def remote_description(self) -> str | None:
        """The SDP of the peer's last applied offer or answer (W3C ``remoteDescription``)."""
        return self._remote_sdp

    @property
    def sctp(self) -> SctpTransport | None:
        """The SCTP transport's facts (W3C ``sctp``), None before a remote description."""
        core = self._core
        if core.remote_description is None:
            return None
        sctp = core.sctp
        return SctpTransport(
            max_message_size=core.channels.max_message_size,
            max_channels=self.configuration.max_channels,
            state="new" if sctp is None else sctp.state.value,
        )

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

    async def _wait_for(self, predicate: Callable[[], object]) -> None:
        while not predicate():
            await self._lot.park()

    def _reachable(self, state: ConnectionState) -> bool:
        """Can the connection still reach ``state``? (FAILED leads only to CLOSED.)"""
        current = self.connection_state
        if current is state:
            return True
        if current is ConnectionState.CLOSED:
            return False
        if current is ConnectionState.FAILED:
            return state is ConnectionState.CLOSED
        return True

    async def wait_for_state(self, state: ConnectionState) -> None:
        """Wait until the connection reaches ``state``; raise ``ConnectionFailedError``
        (naming the cause) as soon as it no longer can (CONNECTED after FAILED or CLOSED)."""
        await self._wait_for(lambda: not self._reachable(state) or self.connection_state is state)
        if self.connection_state is not state:
            raise self._failure_error()

    async def wait_connected(self) -> None:
        """Wait for CONNECTED; raise ``ConnectionFailedError`` on FAILED or CLOSED."""
        await self._wait_for(
            lambda: (
                self.connection_state is ConnectionState.CONNECTED
                or self.connection_state in _ENDED
            )
        )
        if self.connection_state is not ConnectionState.CONNECTED:
            raise self._failure_error()

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
        self._remote_sdp = sdp
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
        self._remote_sdp = sdp
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
        ``trio.ClosedResourceError`` after our :meth:`close`, and
        ``trio.BrokenResourceError`` once no channel can come any more: chained to a
        ``ConnectionFailedError`` naming the cause if the connection broke, plain if the
        peer closed it in order."""

        def ended() -> bool:
            return (
                self._closed
                or self._failure is not None
                or self.connection_state in _ENDED
                or self._core.shutdown_complete
            )

        await self._wait_for(lambda: self._incoming or ended())
        if not self._incoming:
            if self._failure is None and self.connection_state is ConnectionState.FAILED:
                self._failure = self._failure_error()
            error = self._wait_error("no more channels")
            raise error from error.__cause__
        return self._incoming.popleft()

    # ----------------------------------------------------------------- media

    def add_track(
        self,
        kind: MediaKind,
        codecs: Sequence[Codec] | None = None,
        direction: Direction = "sendrecv",
    ) -> MediaSender:
        """Ask for an audio or video m-section (before :meth:`create_offer` or
        :meth:`accept_offer`); see :mod:`trio_webrtc.media_track`. ``codecs`` default to
        Opus, or VP8 then H.264 (``trio_webrtc.sdp.media.default_codecs``)."""
        return self._media.add_track(kind, codecs, direction)

    async def accept_track(self) -> MediaReceiver:
        """Wait for the next m-section the peer sends on (after negotiation). Raises
        ``trio.ClosedResourceError`` after our close, ``trio.BrokenResourceError`` once
        no track can come any more."""
        return await self._media.accept_track()

    # ---------------------------------------------------------------- events

    def _on_event(self, event: object) -> None:
        if type(event) is ChannelMessage:  # the common case first, without isinstance
            channel = self._channels.get(event.key)
            if channel is not None:
                channel._deliver(event.data, event.nbytes)
            else:
                self._core.message_read(event.nbytes)
            return
        if isinstance(event, MEDIA_EVENTS):
            self._media.on_event(event)
            self._lot.unpark_all()
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
            self._lot.unpark_all()
        elif isinstance(event, (ChannelOpened, ChannelClosing, ChannelBufferedAmountLow)):
            channel = self._channels.get(event.key)
            if channel is not None:
                channel._wake()
        elif isinstance(event, LocalCandidate):
            self._candidates.append(
                IceCandidate(event.candidate, event.sdp_mid, event.sdp_mline_index)
            )
            self._lot.unpark_all()
        elif isinstance(event, ConnectionBroken):
            self._on_broken(event.reason)
        elif isinstance(event, ConnectionStateChanged):
            self._media.wake()
            if event.state in _ENDED:
                for channel in self._channels.values():
                    channel._wake()
            self._lot.unpark_all()
            self._settle_lot.unpark_all()
        else:
            self._lot.unpark_all()

    def _on_broken(self, reason: str) -> None:
        """The transport broke: every channel still open or closing is broken (channels
        closed in order before are already forgotten, see ChannelClosed)."""
        failure = ConnectionFailedError(f"{self.name}: {reason}")
        self._failure = failure
        sctp = self._core.sctp
        for channel in self._channels.values():
            stream_id = channel.id
            held = 0
            if sctp is not None and stream_id is not None:
                held = sctp.held_amount(stream_id)
            channel._break(failure, held)
        self._lot.unpark_all()
        self._settle_lot.unpark_all()
        self._media.wake()

    def __repr__(self) -> str:
        return f"<PeerConnection {self.name} {self.connection_state.name}>"


def _leaves(exc: BaseException) -> Iterator[BaseException]:
    """The exceptions in a (nested) exception group, duck-typed for 3.10's backport."""
    children: tuple[BaseException, ...] | None = getattr(exc, "exceptions", None)
    if children is None:
        yield exc
        return
    for child in children:
        yield from _leaves(child)


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
