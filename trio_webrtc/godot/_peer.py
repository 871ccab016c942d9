"""Godot's ``WebRTCPeerConnection`` and ``WebRTCPeerConnectionExtension`` over the core.

A thin shim: offer/answer (RFC 9429 §4.1.8-4.1.10 via :mod:`trio_webrtc.sdp.jsep`), trickle
ICE candidates (RFC 8838 §4, candidate syntax of RFC 8839 §5.1) and data channels
(RFC 8831) are all done by :class:`~trio_webrtc.core.PeerConnectionCore`; this module
only translates Godot's synchronous, signal-based API onto it.

Lifetime: ``async with WebRTCPeerConnection() as pc:`` owns a nursery; ``initialize()``
(or the first call that needs a connection) creates a core and runs its driver in its own
cancel scope inside that nursery. The driver's event callback queues Godot signals in a
bounded trio memory channel which ``poll()`` drains, so callbacks run only inside
``poll()``, in the order the events happened. Received messages go straight to their
channel's packet queue. Errors are returned as :class:`Error` values (mapping in
:mod:`._errors`), logged at WARNING with the connection's name; nothing raises.
"""

from __future__ import annotations

import enum
import functools
import logging
import random
import secrets
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Any, ClassVar

import trio

from .._trio.driver import CoreDriver, bind_udp_sockets
from ..config import Configuration
from ..core import ConnectionState, LocalCandidate, PeerConnectionCore
from ..datachannel import channels as _channels
from ._channel import WebRTCDataChannel, _Session
from ._errors import Error, error_for
from ._signals import GodotObject, SignalDescriptor

__all__ = ["WebRTCPeerConnection", "WebRTCPeerConnectionExtension"]

logger = logging.getLogger("trio_webrtc.godot")

_MAX_PENDING_SIGNALS = 4096
_ENDED = (ConnectionState.FAILED, ConnectionState.CLOSED)
_DESCRIPTION_TYPES = ("offer", "answer", "pranswer")
_CHANNEL_OPTIONS = frozenset(
    {
        "negotiated",
        "id",
        "maxRetransmits",
        "maxPacketLifeTime",
        "maxPacketLifetime",
        "ordered",
        "protocol",
    }
)


def _as_int(options: Mapping[str, Any], key: str) -> int | None:
    value = options.get(key)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise ValueError(f"option {key!r} must be an integer, not {value!r}")


def channel_parameters(
    label: str, options: Mapping[str, Any], log_prefix: str = ""
) -> _channels.ChannelParameters:
    """Translate Godot's ``create_data_channel`` options; raise ``ValueError`` if invalid.

    Keys: ``negotiated``, ``id``, ``maxRetransmits``, ``maxPacketLifeTime`` (also spelt
    ``maxPacketLifetime``, milliseconds), ``ordered``, ``protocol``. Unknown keys are
    ignored (as Godot does) with a warning.
    """
    if not isinstance(options, Mapping):
        raise ValueError("options must be a dictionary")
    unknown = set(options) - _CHANNEL_OPTIONS
    if unknown:
        logger.warning(
            "[%s] create_data_channel: ignoring unknown options %s", log_prefix, sorted(unknown)
        )
    lifetime = _as_int(options, "maxPacketLifeTime")
    other_spelling = _as_int(options, "maxPacketLifetime")
    if lifetime is not None and other_spelling is not None and lifetime != other_spelling:
        raise ValueError("maxPacketLifeTime and maxPacketLifetime disagree")
    if lifetime is None:
        lifetime = other_spelling
    retransmits = _as_int(options, "maxRetransmits")
    if lifetime is not None and retransmits is not None:
        raise ValueError("only one of maxRetransmits and maxPacketLifeTime may be set")
    negotiated = options.get("negotiated", False)
    ordered = options.get("ordered", True)
    protocol = options.get("protocol", "")
    if not isinstance(negotiated, bool) or not isinstance(ordered, bool):
        raise ValueError("options 'negotiated' and 'ordered' must be booleans")
    if not isinstance(protocol, str) or not isinstance(label, str):
        raise ValueError("label and option 'protocol' must be strings")
    channel_id = _as_int(options, "id")
    if negotiated and channel_id is None:
        raise ValueError("a negotiated channel needs an 'id'")
    return _channels.ChannelParameters(
        label=label,
        protocol=protocol,
        ordered=ordered,
        max_retransmits=retransmits,
        max_packet_lifetime=lifetime,
        negotiated=negotiated,
        id=channel_id if negotiated else None,
    )


def _normalize_candidate(name: str) -> str:
    """``a=candidate:...``, ``candidate:...`` or the bare fields -> ``candidate:...``."""
    text = name.strip()
    if text.startswith("a="):
        text = text[2:]
    if not text.lower().startswith("candidate:"):
        text = "candidate:" + text
    return text


class WebRTCPeerConnection(GodotObject):
    """Godot's ``WebRTCPeerConnection``: methods, signals and enums by the same names and
    values. Use inside ``async with``; outside it every method returns
    ``ERR_UNCONFIGURED``. ``name`` prefixes every log line.
    """

    class ConnectionState(enum.IntEnum):
        STATE_NEW = 0
        STATE_CONNECTING = 1
        STATE_CONNECTED = 2
        STATE_DISCONNECTED = 3
        STATE_FAILED = 4
        STATE_CLOSED = 5

    STATE_NEW = ConnectionState.STATE_NEW
    STATE_CONNECTING = ConnectionState.STATE_CONNECTING
    STATE_CONNECTED = ConnectionState.STATE_CONNECTED
    STATE_DISCONNECTED = ConnectionState.STATE_DISCONNECTED
    STATE_FAILED = ConnectionState.STATE_FAILED
    STATE_CLOSED = ConnectionState.STATE_CLOSED

    class GatheringState(enum.IntEnum):
        GATHERING_STATE_NEW = 0
        GATHERING_STATE_GATHERING = 1
        GATHERING_STATE_COMPLETE = 2

    GATHERING_STATE_NEW = GatheringState.GATHERING_STATE_NEW
    GATHERING_STATE_GATHERING = GatheringState.GATHERING_STATE_GATHERING
    GATHERING_STATE_COMPLETE = GatheringState.GATHERING_STATE_COMPLETE

    class SignalingState(enum.IntEnum):
        SIGNALING_STATE_STABLE = 0
        SIGNALING_STATE_HAVE_LOCAL_OFFER = 1
        SIGNALING_STATE_HAVE_REMOTE_OFFER = 2
        SIGNALING_STATE_HAVE_LOCAL_PRANSWER = 3
        SIGNALING_STATE_HAVE_REMOTE_PRANSWER = 4
        SIGNALING_STATE_CLOSED = 5

    SIGNALING_STATE_STABLE = SignalingState.SIGNALING_STATE_STABLE
    SIGNALING_STATE_HAVE_LOCAL_OFFER = SignalingState.SIGNALING_STATE_HAVE_LOCAL_OFFER
    SIGNALING_STATE_HAVE_REMOTE_OFFER = SignalingState.SIGNALING_STATE_HAVE_REMOTE_OFFER
    SIGNALING_STATE_HAVE_LOCAL_PRANSWER = SignalingState.SIGNALING_STATE_HAVE_LOCAL_PRANSWER
    SIGNALING_STATE_HAVE_REMOTE_PRANSWER = SignalingState.SIGNALING_STATE_HAVE_REMOTE_PRANSWER
    SIGNALING_STATE_CLOSED = SignalingState.SIGNALING_STATE_CLOSED

    #: ``session_description_created(type: str, sdp: str)``
    session_description_created = SignalDescriptor()
    #: ``ice_candidate_created(media: str, index: int, name: str)``
    ice_candidate_created = SignalDescriptor()
    #: ``data_channel_received(channel: WebRTCDataChannel)``
    data_channel_received = SignalDescriptor()

    _default_extension: ClassVar[type[WebRTCPeerConnectionExtension] | None] = None

    def __new__(cls, *args: Any, **kwargs: Any) -> WebRTCPeerConnection:
        extension = WebRTCPeerConnection._default_extension
        if cls is WebRTCPeerConnection and extension is not None:
            return object.__new__(extension)
        return object.__new__(cls)

    def __init__(self, *, name: str | None = None) -> None:
        self.name = name or f"godot-pc-{id(self) & 0xFFFFFF:06x}"
        self._nursery_manager: AbstractAsyncContextManager[trio.Nursery] | None = None
        self._nursery: trio.Nursery | None = None
        self._exited = False
        self._session: _Session | None = None
        self._initialize_called = False

    @staticmethod
    def set_default_extension(extension_class: type[WebRTCPeerConnection] | str | None) -> None:
        """Make later ``WebRTCPeerConnection()`` calls construct ``extension_class`` (a
        :class:`WebRTCPeerConnectionExtension` subclass, or its class name as Godot's
        ``StringName``); ``None`` restores the default."""
        if isinstance(extension_class, str):
            name = extension_class
            extension_class = _extension_by_name(name)
            if extension_class is None:
                logger.error(
                    "[WebRTCPeerConnection] set_default_extension: no "
                    "WebRTCPeerConnectionExtension subclass is named %r",
                    name,
                )
                return
        if extension_class is not None and not (
            isinstance(extension_class, type)
            and issubclass(extension_class, WebRTCPeerConnectionExtension)
        ):
            logger.error(
                "[WebRTCPeerConnection] set_default_extension: %r is not a "
                "WebRTCPeerConnectionExtension subclass",
                extension_class,
            )
            return
        WebRTCPeerConnection._default_extension = extension_class

    def _log(self, level: int, message: str, *args: object) -> None:
        logger.log(level, "[%s] " + message, self.name, *args)

    # ------------------------------------------------------------------ lifetime

    async def __aenter__(self) -> WebRTCPeerConnection:
        if self._nursery is not None or self._exited:
            raise RuntimeError("a WebRTCPeerConnection can be entered only once")
        manager = trio.open_nursery()
        self._nursery = await manager.__aenter__()
        self._nursery_manager = manager
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        manager, nursery = self._nursery_manager, self._nursery
        assert manager is not None and nursery is not None
        self._exited = True
        try:
            session = self._session
            if session is not None:
                if exc is None:
                    await self._close_gracefully(session)
                self._abort(session)
        finally:
            nursery.cancel_scope.cancel()
        return await manager.__aexit__(exc_type, exc, tb)

    async def _close_gracefully(self, session: _Session) -> None:
        """Leaving ``async with`` normally: deliver what every channel queued, then SCTP
        SHUTDOWN (RFC 9260 §9.2) and DTLS close_notify, as the Trio face does. Bounded by
        the configuration's ``closeTimeout``; then the caller aborts and says what was
        lost. Cancellation aborts at once."""
        core = session.core
        if session.closed or not core.shutdown(trio.current_time()):
            return
        settled = trio.Event()

        def on_settle() -> None:
            settled.set()

        session.driver.on_settle = on_settle
        session.flush()
        timeout = core.configuration.close_timeout
        with trio.move_on_after(timeout):
            while not core.association_done and core.connection_state not in _ENDED:
                await settled.wait()
                settled = trio.Event()
        session.driver.on_settle = None

    def _abort(self, session: _Session) -> None:
        """Close the session now, with a WARNING if queued messages are lost by it."""
        if session.closed:
            return
        undelivered = session.core.undelivered_bytes()
        if undelivered:
            self._log(
                logging.WARNING,
                "closed with %d bytes queued on its channels not delivered "
                "(leave 'async with' normally for a graceful close)",
                undelivered,
            )
        session.close()

    def _running(self, method: str) -> bool:
        if self._nursery is None or self._exited:
            self._log(
                logging.WARNING,
                "%s: ERR_UNCONFIGURED (use the connection inside 'async with')",
                method,
            )
            return False
        return True

    def _ready_session(self, method: str) -> _Session | Error:
        """The current session; initialises lazily with an empty configuration unless an
        explicit ``initialize()`` failed (then ``ERR_UNCONFIGURED``)."""
        if not self._running(method):
            return Error.ERR_UNCONFIGURED
        if self._session is None:
            if self._initialize_called:
                self._log(logging.WARNING, "%s: ERR_UNCONFIGURED (initialize failed)", method)
                return Error.ERR_UNCONFIGURED
            result = self._impl_initialize({})
            if result != Error.OK or self._session is None:
                return result
        return self._session

    def _fail(self, method: str, exc: BaseException) -> Error:
        error = error_for(exc)
        level = logging.ERROR if error is Error.FAILED else logging.WARNING
        self._log(level, "%s: %s (%s: %s)", method, error.name, type(exc).__name__, exc)
        return error

    async def _run_driver(self, driver: CoreDriver, scope: trio.CancelScope) -> None:
        with scope:
            try:
                await driver.run()
            except Exception as exc:
                # Never lost: logged with its traceback, and the connection goes FAILED
                # (its channels CLOSED), which the next poll() reports.
                logger.exception("[%s] the connection's driver crashed", self.name)
                core = driver.core
                core.fail(f"internal error: {type(exc).__name__}: {exc}")
                session = self._session
                if session is not None and session.driver is driver:
                    while (event := core.next_event()) is not None:
                        self._on_event(session, event)

    # -------------------------------------------------- public API (Godot names)

    def add_ice_candidate(self, media: str, index: int, name: str) -> Error:
        """Add a remote candidate; ``name`` with or without ``candidate:``/``a=`` prefix,
        empty for end-of-candidates. ``media``/``index`` are not checked (BUNDLE)."""
        return self._impl_add_ice_candidate(media, index, name)

    def close(self) -> None:
        """Close the connection and every channel now, as Godot does; idempotent. Bytes
        still queued are lost, with a WARNING saying how many: leaving ``async with``
        normally closes gracefully instead (every queued message delivered first)."""
        self._impl_close()

    def create_data_channel(
        self, label: str, options: Mapping[str, Any] | None = None
    ) -> WebRTCDataChannel | None:
        """A new channel, or ``None`` (logged) unless in ``STATE_NEW`` with valid options."""
        return self._impl_create_data_channel(label, {} if options is None else options)

    def create_offer(self) -> Error:
        """Create an offer; ``session_description_created("offer", sdp)`` fires in the next
        ``poll()`` and the caller must apply it with ``set_local_description``."""
        return self._impl_create_offer()

    def get_connection_state(self) -> WebRTCPeerConnection.ConnectionState:
        return self._impl_get_connection_state()

    def get_gathering_state(self) -> WebRTCPeerConnection.GatheringState:
        return self._impl_get_gathering_state()

    def get_signaling_state(self) -> WebRTCPeerConnection.SignalingState:
        return self._impl_get_signaling_state()

    def get_stats(self) -> dict[str, Any]:
        """Not in Godot: a snapshot of states and counters as a dictionary (see
        :class:`trio_webrtc.stats.PeerConnectionStats`); empty before ``initialize()``."""
        from ..stats import collect_stats

        session = self._session
        if session is None:
            return {}
        driver = session.driver
        return collect_stats(
            session.core,
            timestamp=trio.current_time(),
            datagrams_sent=driver.datagrams_sent,
            datagrams_received=driver.datagrams_received,
        ).to_dict()

    def initialize(self, configuration: Mapping[str, Any] | None = None) -> Error:
        """(Re)initialise: close any previous connection and start afresh in STATE_NEW.

        A bad configuration returns ``ERR_INVALID_PARAMETER`` and keeps the previous
        connection; a socket that cannot be bound returns ``ERR_CANT_CREATE``.
        """
        return self._impl_initialize({} if configuration is None else configuration)

    def poll(self) -> Error:
        """Emit the signals queued since the last call, in order; ``OK`` or
        ``ERR_UNCONFIGURED``. Exceptions raised by callbacks propagate."""
        return self._impl_poll()

    def set_local_description(self, type: str, sdp: str) -> Error:
        """Apply our offer (from ``session_description_created``). The answer is applied
        automatically by ``set_remote_description``; re-applying it is accepted."""
        return self._impl_set_local_description(type, sdp)

    def set_remote_description(self, type: str, sdp: str) -> Error:
        """Apply the peer's description; for an ``"offer"`` also create and apply our
        answer and emit ``session_description_created("answer", sdp)``."""
        return self._impl_set_remote_description(type, sdp)

    # ------------------------------------------------------------ implementation

    def _impl_initialize(self, configuration: Mapping[str, Any]) -> Error:
        if not self._running("initialize"):
            return Error.ERR_UNCONFIGURED
        assert self._nursery is not None
        self._initialize_called = True
        try:
            if not isinstance(configuration, Mapping):
                raise ValueError("configuration must be a dictionary")
            config = Configuration.from_dict(configuration)
        except Exception as exc:
            return self._fail("initialize", exc)
        if self._session is not None:
            self._session.close()
            self._session = None
        rng = random.Random(secrets.randbits(64))
        try:
            core = PeerConnectionCore(config, rng=rng, log_prefix=self.name)
            sockets = bind_udp_sockets(config, rng)
        except Exception as exc:
            return self._fail("initialize", exc)
        session = _Session(self.name, core, _MAX_PENDING_SIGNALS)
        try:
            session.driver = CoreDriver(core, sockets, functools.partial(self._on_event, session))
        except Exception as exc:
            for sock in sockets:
                sock.close()
            return self._fail("initialize", exc)
        self._session = session
        self._nursery.start_soon(self._run_driver, session.driver, session.scope)
        return Error.OK

    def _impl_close(self) -> None:
        if self._session is not None:
            self._abort(self._session)

    def _impl_poll(self) -> Error:
        if not self._running("poll"):
            return Error.ERR_UNCONFIGURED
        session = self._session
        if session is None:
            return Error.OK
        receiver = session.signal_receiver
        # Only what was queued before this call: signals queued by callbacks wait for the
        # next poll(), so a callback cannot keep one poll() running forever.
        for _ in range(receiver.statistics().current_buffer_used):
            if self._session is not session:  # a callback re-initialised us
                break
            try:
                signal, args = receiver.receive_nowait()
            except trio.WouldBlock:
                break
            signal.emit(*args)
        return Error.OK

    def _impl_get_connection_state(self) -> WebRTCPeerConnection.ConnectionState:
        if self._session is None:
            closed = self._exited
            return self.STATE_CLOSED if closed else self.STATE_NEW
        return WebRTCPeerConnection.ConnectionState(int(self._session.core.connection_state))

    def _impl_get_gathering_state(self) -> WebRTCPeerConnection.GatheringState:
        if self._session is None:
            return self.GATHERING_STATE_NEW
        return WebRTCPeerConnection.GatheringState(int(self._session.core.gathering_state))

    def _impl_get_signaling_state(self) -> WebRTCPeerConnection.SignalingState:
        if self._session is None:
            return self.SIGNALING_STATE_CLOSED if self._exited else self.SIGNALING_STATE_STABLE
        return WebRTCPeerConnection.SignalingState(int(self._session.core.signaling_state))

    def _impl_create_offer(self) -> Error:
        session = self._ready_session("create_offer")
        if isinstance(session, Error):
            return session
        core = session.core
        if core.signaling_state.name != "STABLE" or (
            core.connection_state is not ConnectionState.NEW
        ):
            self._log(
                logging.WARNING,
                "create_offer: ERR_UNAVAILABLE in %s/%s (only before connecting, when stable)",
                core.connection_state.name,
                core.signaling_state.name,
            )
            return Error.ERR_UNAVAILABLE
        try:
            sdp = core.create_offer()
        except Exception as exc:
            return self._fail("create_offer", exc)
        session.queue_signal(self.session_description_created, "offer", sdp)
        return Error.OK

    def _impl_set_local_description(self, type: str, sdp: str) -> Error:
        session = self._ready_session("set_local_description")
        if isinstance(session, Error):
            return session
        if type not in _DESCRIPTION_TYPES or not isinstance(sdp, str):
            self._log(logging.WARNING, "set_local_description: bad type %r or non-string SDP", type)
            return Error.ERR_INVALID_PARAMETER
        auto_answer = session.auto_answer
        if type == "answer" and auto_answer is not None and sdp.strip() == auto_answer.strip():
            session.auto_answer = None
            return Error.OK  # already applied by set_remote_description("offer")
        try:
            session.core.set_local_description(type, sdp, trio.current_time())
        except Exception as exc:
            return self._fail("set_local_description", exc)
        session.flush()
        return Error.OK

    def _impl_set_remote_description(self, type: str, sdp: str) -> Error:
        session = self._ready_session("set_remote_description")
        if isinstance(session, Error):
            return session
        if type not in _DESCRIPTION_TYPES or not isinstance(sdp, str):
            self._log(
                logging.WARNING, "set_remote_description: bad type %r or non-string SDP", type
            )
            return Error.ERR_INVALID_PARAMETER
        core = session.core
        try:
            core.set_remote_description(type, sdp, trio.current_time())
            if type == "offer":
                answer = core.create_answer()
                core.set_local_description("answer", answer, trio.current_time())
                session.auto_answer = answer
                session.queue_signal(self.session_description_created, "answer", answer)
        except Exception as exc:
            return self._fail("set_remote_description", exc)
        finally:
            session.flush()
        return Error.OK

    def _impl_add_ice_candidate(self, media: str, index: int, name: str) -> Error:
        session = self._ready_session("add_ice_candidate")
        if isinstance(session, Error):
            return session
        if not isinstance(name, str):
            self._log(logging.WARNING, "add_ice_candidate: name must be a string")
            return Error.ERR_INVALID_PARAMETER
        value = _normalize_candidate(name) if name.strip() else None
        try:
            session.core.add_remote_candidate(value, str(media), int(index), trio.current_time())
        except Exception as exc:
            return self._fail("add_ice_candidate", exc)
        session.flush()
        return Error.OK

    def _impl_create_data_channel(
        self, label: str, options: Mapping[str, Any]
    ) -> WebRTCDataChannel | None:
        session = self._ready_session("create_data_channel")
        if isinstance(session, Error):
            return None
        core = session.core
        if session.closed or core.connection_state is not ConnectionState.NEW:
            self._log(
                logging.WARNING,
                "create_data_channel: only possible in STATE_NEW, not %s",
                core.connection_state.name,
            )
            return None
        try:
            params = channel_parameters(label, options, self.name)
            info = core.create_data_channel(params, trio.current_time())
        except Exception as exc:
            self._fail("create_data_channel", exc)
            return None
        channel = WebRTCDataChannel(session, info)
        session.channels[info.key] = channel
        session.flush()
        return channel

    # ------------------------------------------------------------------ events

    def _on_event(self, session: _Session, event: object) -> None:
        """The driver's callback: route messages, queue signals for ``poll()``."""
        if isinstance(event, _channels.ChannelMessage):
            channel = session.channels.get(event.key)
            if channel is not None:
                channel._deliver(event.data, event.nbytes)
            else:
                session.core.message_read(event.nbytes)
        elif isinstance(event, _channels.ChannelClosed):
            # No event follows CLOSED and keys are never reused: forget the channel, or a
            # peer opening and closing channels would grow this map without bound.
            session.channels.pop(event.key, None)
        elif session is not self._session:
            return  # a previous initialize()'s connection, closing down
        elif isinstance(event, _channels.IncomingChannel):
            info = session.core.channels.get(event.key)
            if info is None:
                return
            channel = WebRTCDataChannel(session, info)
            session.channels[event.key] = channel
            session.queue_signal(self.data_channel_received, channel)
        elif isinstance(event, LocalCandidate) and event.candidate is not None:
            # Godot signals no end-of-candidates, only GATHERING_STATE_COMPLETE.
            session.queue_signal(
                self.ice_candidate_created,
                event.sdp_mid,
                event.sdp_mline_index,
                event.candidate,
            )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {self.get_connection_state().name}>"


class WebRTCPeerConnectionExtension(WebRTCPeerConnection):
    """Base for user backends: the public methods call the ``_virtual`` methods below,
    whose defaults are the built-in implementation, so a subclass overrides only some.
    Install one with :meth:`WebRTCPeerConnection.set_default_extension`.
    """

    # Virtual methods (Godot's names), defaulting to the built-in implementation.

    def _add_ice_candidate(self, sdp_mid_name: str, sdp_mline_index: int, sdp_name: str) -> Error:
        return self._impl_add_ice_candidate(sdp_mid_name, sdp_mline_index, sdp_name)

    def _close(self) -> None:
        self._impl_close()

    def _create_data_channel(
        self, label: str, config: Mapping[str, Any]
    ) -> WebRTCDataChannel | None:
        return self._impl_create_data_channel(label, config)

    def _create_offer(self) -> Error:
        return self._impl_create_offer()

    def _get_connection_state(self) -> WebRTCPeerConnection.ConnectionState:
        return self._impl_get_connection_state()

    def _get_gathering_state(self) -> WebRTCPeerConnection.GatheringState:
        return self._impl_get_gathering_state()

    def _get_signaling_state(self) -> WebRTCPeerConnection.SignalingState:
        return self._impl_get_signaling_state()

    def _initialize(self, p_config: Mapping[str, Any]) -> Error:
        return self._impl_initialize(p_config)

    def _poll(self) -> Error:
        return self._impl_poll()

    def _set_local_description(self, type: str, sdp: str) -> Error:
        return self._impl_set_local_description(type, sdp)

    def _set_remote_description(self, type: str, sdp: str) -> Error:
        return self._impl_set_remote_description(type, sdp)

    # Public methods dispatch to the virtuals.

    def add_ice_candidate(self, media: str, index: int, name: str) -> Error:
        return Error(self._add_ice_candidate(media, index, name))

    def close(self) -> None:
        self._close()

    def create_data_channel(
        self, label: str, options: Mapping[str, Any] | None = None
    ) -> WebRTCDataChannel | None:
        return self._create_data_channel(label, {} if options is None else options)

    def create_offer(self) -> Error:
        return Error(self._create_offer())

    def get_connection_state(self) -> WebRTCPeerConnection.ConnectionState:
        return WebRTCPeerConnection.ConnectionState(self._get_connection_state())

    def get_gathering_state(self) -> WebRTCPeerConnection.GatheringState:
        return WebRTCPeerConnection.GatheringState(self._get_gathering_state())

    def get_signaling_state(self) -> WebRTCPeerConnection.SignalingState:
        return WebRTCPeerConnection.SignalingState(self._get_signaling_state())

    def initialize(self, configuration: Mapping[str, Any] | None = None) -> Error:
        return Error(self._initialize({} if configuration is None else configuration))

    def poll(self) -> Error:
        return Error(self._poll())

    def set_local_description(self, type: str, sdp: str) -> Error:
        return Error(self._set_local_description(type, sdp))

    def set_remote_description(self, type: str, sdp: str) -> Error:
        return Error(self._set_remote_description(type, sdp))


def _extension_by_name(name: str) -> type[WebRTCPeerConnection] | None:
    """The WebRTCPeerConnectionExtension subclass with this class name, if one exists."""
    pending: list[type[WebRTCPeerConnection]] = [WebRTCPeerConnectionExtension]
    while pending:
        cls = pending.pop()
        if cls.__name__ == name:
            return cls
        pending.extend(cls.__subclasses__())
    return None
