"""Data-channel manager: channel lifecycle on top of an SCTP association (sans-I/O).

Implements RFC 8831 §6.4 (channel parameters and reliability), §6.5 (opening in-band and
negotiated channels), §6.6 (user data: string/binary PPIDs, empty messages padded to one
byte), §6.7 (closing by resetting both directions of the stream); RFC 8832 §6 (DCEP
procedures: stream-id parity by DTLS role, OPEN/ACK handshake; the receiving side, with
refusal by stream reset and early data, is in :mod:`.incoming`); and the max-message-size
rule of RFC 8841 §6: ours is enforced on receipt (a larger message is counted in
``messages_discarded``, logged at WARNING and, on a reliable channel, closes the channel:
a gap in a reliable stream would be silent corruption).

Channel limits: at most ``max_channels`` channels that are not CLOSED (default 65,534, as
browsers allow), stream ids below the peer's inbound stream count (RFC 9260 §5.1.1). Per
channel the manager keeps one record and dictionary entries, nothing preallocated per
stream; CLOSED records are kept for statistics up to :data:`MAX_CLOSED_RECORDS`.

The manager never touches the network: it calls the :class:`SctpTransport` methods and
is fed by the core, which translates SCTP events into the ``on_*`` methods. Outputs are
:class:`ChannelEvent` objects from :meth:`ChannelManager.next_event`.

Open-state rule (as libdatachannel, which Godot uses): the opener of an in-band channel
goes OPEN when the DATA_CHANNEL_ACK arrives or when any user message arrives on the stream
(RFC 8832 §6: any message implies the peer processed the OPEN); the receiver goes OPEN as
soon as it accepts the OPEN and sends the ACK. Negotiated channels go OPEN when the
association is established.
"""

from __future__ import annotations

import logging
import types
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Protocol

from ..errors import (
    InvalidStateError,
    LocalProtocolError,
    MessageTooLargeError,
)
from .dcep import Ppid
from .incoming import DEFAULT_MAX_EARLY_DATA, IncomingOpens
from .records import (
    MAX_STREAM_ID,
    ChannelBufferedAmountLow,
    ChannelClosed,
    ChannelClosing,
    ChannelEvent,
    ChannelMessage,
    ChannelOpened,
    ChannelParameters,
    ChannelState,
    IncomingChannel,
    InvalidParametersError,
)

__all__ = [
    "DEFAULT_MAX_CHANNELS",
    "DEFAULT_MAX_MESSAGE_SIZE",
    "MAX_CLOSED_RECORDS",
    "ChannelBufferedAmountLow",
    "ChannelClosed",
    "ChannelClosing",
    "ChannelEvent",
    "ChannelManager",
    "ChannelMessage",
    "ChannelOpened",
    "ChannelParameters",
    "ChannelState",
    "DataChannelInfo",
    "IncomingChannel",
    "InvalidParametersError",
    "SctpTransport",
]

logger = logging.getLogger("trio_webrtc.dcep")

#: The peer's max-message-size when its SDP has no a=max-message-size (RFC 8841 §6).
DEFAULT_MAX_MESSAGE_SIZE = 65536

#: Default limit on channels that are not CLOSED: what Chromium and Firefox allow.
DEFAULT_MAX_CHANNELS = 65534
#: CLOSED channel records kept (for statistics), oldest forgotten first.
MAX_CLOSED_RECORDS = 1024
# Plain ints on the data path: comparing and hashing IntEnum members is several times slower.
_PPID_DCEP = int(Ppid.DCEP)
_PPID_STRING = int(Ppid.STRING)
_PPID_BINARY = int(Ppid.BINARY)
_PPID_STRING_EMPTY = int(Ppid.STRING_EMPTY)
_PPID_BINARY_EMPTY = int(Ppid.BINARY_EMPTY)
_USER_PPIDS = frozenset({_PPID_STRING, _PPID_BINARY, _PPID_STRING_EMPTY, _PPID_BINARY_EMPTY})


class SctpTransport(Protocol):
    """The part of ``sctp.SctpAssociation`` the manager calls."""

    def send(
        self,
        stream_id: int,
        ppid: int,
        data: bytes | bytearray | memoryview,
        *,
        ordered: bool = True,
        max_retransmits: int | None = None,
        lifetime: float | None = None,
        now: float,
    ) -> int | None:
        """Queue one message; may return the stream's buffered amount after it."""

    def buffered_amount(self, stream_id: int) -> int: ...

    def set_buffered_amount_low_threshold(self, stream_id: int, threshold: int) -> None: ...

    def data_consumed(self, nbytes: int) -> bool | None:
        """Reopen the receive window; True when a window update is now due."""

    def reset_streams(self, stream_ids: Sequence[int], now: float) -> None: ...


_OPEN = ChannelState.OPEN


class DataChannelInfo:
    """The manager's record of one channel; read-only for users.

    ``key`` is a local handle that never changes (stream ids are assigned late and
    reused). The record stays readable after the channel is CLOSED.
    """

    __slots__ = (
        "_awaiting_ack",
        "_bytes_received",
        "_bytes_sent",
        "_in_reset",
        "_key",
        "_low_threshold",
        "_messages_discarded",
        "_messages_received",
        "_messages_sent",
        "_out_reset_done",
        "_out_reset_requested",
        "_parameters",
        "_remote",
        "_sctp",
        "_state",
        "_stream_id",
    )

    def __init__(
        self, key: int, parameters: ChannelParameters, sctp: SctpTransport, *, remote: bool
    ) -> None:
        self._key = key
        self._parameters = parameters
        self._sctp = sctp
        self._remote = remote
        self._stream_id: int | None = None
        self._state = ChannelState.CONNECTING
        self._awaiting_ack = False
        self._out_reset_requested = False
        self._out_reset_done = False
        self._in_reset = False
        self._low_threshold = 0
        self._messages_sent = 0
        self._bytes_sent = 0
        self._messages_received = 0
        self._messages_discarded = 0
        self._bytes_received = 0

    @property
    def key(self) -> int:
        return self._key

    @property
    def parameters(self) -> ChannelParameters:
        return self._parameters

    @property
    def label(self) -> str:
        return self._parameters.label

    @property
    def protocol(self) -> str:
        return self._parameters.protocol

    @property
    def remote(self) -> bool:
        """True when the peer opened this channel in-band."""
        return self._remote

    @property
    def stream_id(self) -> int | None:
        """The SCTP stream id, or None until assigned (in-band, DTLS role unknown)."""
        return self._stream_id

    @property
    def state(self) -> ChannelState:
        return self._state

    @property
    def buffered_amount(self) -> int:
        """Bytes of user messages queued in SCTP and not yet sent (0 unless OPEN/CLOSING)."""
        if self._stream_id is None or self._state not in (ChannelState.OPEN, ChannelState.CLOSING):
            return 0
        return self._sctp.buffered_amount(self._stream_id)

    @property
    def buffered_amount_low_threshold(self) -> int:
        return self._low_threshold

    @property
    def messages_sent(self) -> int:
        return self._messages_sent

    @property
    def bytes_sent(self) -> int:
        return self._bytes_sent

    @property
    def messages_received(self) -> int:
        return self._messages_received

    @property
    def messages_discarded(self) -> int:
        """Messages from the peer dropped for exceeding our max-message-size (RFC 8841)."""
        return self._messages_discarded

    @property
    def bytes_received(self) -> int:
        return self._bytes_received

    def __repr__(self) -> str:
        return (
            f"<DataChannelInfo key={self._key} stream_id={self._stream_id} "
            f"label={self._parameters.label!r} state={self._state.name}>"
        )


def _encode_text(text: str) -> bytes:
    """UTF-8 of ``text``; lone surrogates become U+FFFD (as USVString conversion)."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        fixed = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
        return fixed.encode("utf-8")


class ChannelManager(IncomingOpens):
    """Creates, opens, carries and closes data channels over one SCTP association.

    Call :meth:`set_dtls_role` before :meth:`on_association_established`. Channels may be
    created at any time before the association closes. ``max_channels`` bounds channels
    that are not CLOSED (local creation beyond it raises; remote OPENs beyond it are
    refused by resetting the stream); at most :data:`MAX_CLOSED_RECORDS` CLOSED records
    are kept (oldest forgotten first). ``max_message_size_remote`` is the peer's SDP
    max-message-size (None: absent, 65536; 0: no limit); ``max_message_size_local`` is
    ours (0: not enforced here). ``max_early_data`` bounds the bytes held for streams
    whose channel does not exist yet (:mod:`.incoming`).
    """

    def __init__(
        self,
        sctp: SctpTransport,
        *,
        log_prefix: str = "",
        max_channels: int = DEFAULT_MAX_CHANNELS,
        max_message_size_remote: int | None = None,
        max_message_size_local: int = 0,
        max_early_data: int = DEFAULT_MAX_EARLY_DATA,
    ) -> None:
        if max_channels < 1:
            raise ValueError("max_channels must be at least 1")
        if max_message_size_local < 0 or max_early_data < 0:
            raise ValueError("sizes cannot be negative")
        self._sctp = sctp
        self._log_prefix = log_prefix
        self._max_channels = max_channels
        self._remote_max_message_size: int | None = None
        self.set_remote_max_message_size(max_message_size_remote)
        self._local_max_message_size = max_message_size_local
        self._is_client: bool | None = None
        self._established = False
        self._association_closed = False
        self._next_key = 1
        self._channels: dict[int, DataChannelInfo] = {}
        self._by_stream: dict[int, DataChannelInfo] = {}
        self._active = 0
        self._closed_keys: deque[int] = deque()
        # Remote streams we refused and whose outgoing reset is not yet confirmed.
        self._refused: set[int] = set()
        #: Pending events, oldest first (``next_event`` pops them; the core moves them
        #: to its own queue in one ``extend``).
        self.events: deque[ChannelEvent] = deque()
        # Usable stream ids are below this (the peer's inbound stream count, RFC 9260
        # §5.1.1); the lowest possibly free id of each parity, so allocation is not O(n).
        self._stream_limit = MAX_STREAM_ID + 1
        self._free_hint = [0, 1]
        self._early: dict[int, list[tuple[int, bytes]]] = {}
        self._early_bytes = 0
        self._max_early_data = max_early_data
        self._early_dropped = 0
        self._oversized = 0

    @property
    def max_channels(self) -> int:
        """The limit on channels that are not CLOSED."""
        return self._max_channels

    @property
    def stream_limit(self) -> int:
        """Stream ids usable for channels are below this (65,535 until negotiated)."""
        return self._stream_limit

    @property
    def oversized_messages(self) -> int:
        """Messages the peer sent above our max-message-size (RFC 8841), all channels."""
        return self._oversized

    # -- configuration -------------------------------------------------------------------

    def set_dtls_role(self, is_client: bool) -> None:
        """Fix the DTLS role: the client uses even stream ids, the server odd (RFC 8832
        §6). Assigns ids to in-band channels created earlier. The role cannot change."""
        if self._is_client is not None:
            if self._is_client != is_client:
                raise InvalidStateError("the DTLS role is already set and cannot change")
            return
        self._is_client = is_client
        for info in self._channels.values():
            if info._state is ChannelState.CONNECTING and info._stream_id is None:
                self._bind(info, self._allocate_stream_id())

    def set_remote_max_message_size(self, value: int | None) -> None:
        """The peer's a=max-message-size: None when absent (means 65536), 0 = no limit."""
        if value is not None and value < 0:
            raise ValueError("max-message-size cannot be negative")
        self._remote_max_message_size = value

    @property
    def max_message_size(self) -> int:
        """Largest message :meth:`send` accepts, in bytes; 0 means unlimited."""
        if self._remote_max_message_size is None:
            return DEFAULT_MAX_MESSAGE_SIZE
        return self._remote_max_message_size

    # -- queries -------------------------------------------------------------------------

    @property
    def channels(self) -> Mapping[int, DataChannelInfo]:
        """Read-only view: key -> record, for every live and recently closed channel."""
        return types.MappingProxyType(self._channels)

    def get(self, key: int) -> DataChannelInfo | None:
        return self._channels.get(key)

    def buffered_amount(self, key: int) -> int:
        """The channel's queued bytes (0 for a CLOSED or forgotten channel)."""
        info = self._channels.get(key)
        return 0 if info is None else info.buffered_amount

    def next_event(self) -> ChannelEvent | None:
        """Pop the oldest pending event, or None."""
        return self.events.popleft() if self.events else None

    # -- user calls ----------------------------------------------------------------------

    def create_channel(self, params: ChannelParameters, now: float) -> DataChannelInfo:
        """Create a channel in state CONNECTING and start opening it if possible.

        Raises :class:`LocalProtocolError` when the id is taken or not below the
        negotiated stream count, or ``max_channels`` is reached;
        :class:`InvalidStateError` after the association closed.
        """
        if self._association_closed:
            raise InvalidStateError("the SCTP association is closed")
        if self._active >= self._max_channels:
            raise LocalProtocolError(f"too many data channels (limit {self._max_channels})")
        if params.negotiated:
            assert params.id is not None  # checked by ChannelParameters
            if params.id in self._by_stream:
                raise LocalProtocolError(f"stream id {params.id} is already in use")
            if params.id >= self._stream_limit:
                raise LocalProtocolError(
                    f"stream id {params.id} is not below the peer's {self._stream_limit} "
                    "inbound streams"
                )
        if not params.negotiated and self._is_client is not None:
            stream_id: int | None = self._allocate_stream_id()
        else:
            stream_id = params.id if params.negotiated else None
        info = self._new_info(params, remote=False)
        if stream_id is not None:
            self._bind(info, stream_id)
        self._debug("created channel %s (%r)", info.key, params.label)
        if self._established and stream_id is not None:
            self._start_open(info, now)
        return info

    def send(self, key: int, data: bytes | bytearray | memoryview | str, now: float) -> int:
        """Send one message: ``str`` as text (PPID 51/56), bytes-like as binary (53/57).
        Returns the channel's buffered amount after it.

        Raises :class:`InvalidStateError` unless the channel is OPEN and
        :class:`MessageTooLargeError` (nothing sent) above the peer's max-message-size.
        """
        info = self._channels.get(key)
        if info is None:
            raise LocalProtocolError(f"unknown data channel {key}")
        if info._state is not _OPEN:
            raise InvalidStateError(f"channel {key} is {info._state.name}, not OPEN")
        if type(data) is bytes:
            payload = data
            ppid = _PPID_BINARY
        elif isinstance(data, str):
            payload = _encode_text(data)
            ppid = _PPID_STRING
        else:
            payload = bytes(data)
            ppid = _PPID_BINARY
        size = len(payload)
        limit = self._remote_max_message_size
        if limit is None:
            limit = DEFAULT_MAX_MESSAGE_SIZE
        if size > limit > 0:
            raise MessageTooLargeError(
                f"message of {size} bytes exceeds the peer's max-message-size of {limit} bytes"
            )
        if not size:
            payload = b"\x00"  # RFC 8831 §6.6: empty messages carry one byte
            ppid = _PPID_STRING_EMPTY if ppid == _PPID_STRING else _PPID_BINARY_EMPTY
        params = info._parameters
        lifetime = params.max_packet_lifetime
        stream_id = info._stream_id
        assert stream_id is not None
        buffered = self._sctp.send(
            stream_id,
            ppid,
            payload,
            ordered=params.ordered,
            max_retransmits=params.max_retransmits,
            lifetime=None if lifetime is None else lifetime / 1000.0,
            now=now,
        )
        info._messages_sent += 1
        info._bytes_sent += size
        return self._sctp.buffered_amount(stream_id) if buffered is None else buffered

    def close(self, key: int, now: float) -> None:
        """Start closing (RFC 8831 §6.7): CLOSING, then CLOSED once both directions of the
        stream are reset. A channel without a stream in use closes at once. Idempotent."""
        info = self._require(key)
        if info._state in (ChannelState.CLOSING, ChannelState.CLOSED):
            return
        if info._stream_id is None or not self._established:
            self._finish_close(info)
            return
        self._set_closing(info)
        self._request_reset(info, now)

    def set_buffered_amount_low_threshold(self, key: int, threshold: int) -> None:
        """When the channel's send buffer falls to ``threshold`` bytes, emit
        :class:`ChannelBufferedAmountLow`."""
        if threshold < 0:
            raise InvalidParametersError("threshold cannot be negative")
        info = self._require(key)
        info._low_threshold = threshold
        if info._stream_id is not None and info._state is not ChannelState.CLOSED:
            self._sctp.set_buffered_amount_low_threshold(info._stream_id, threshold)

    def message_read(self, nbytes: int) -> bool:
        """The application consumed a delivered message of ``nbytes`` (its
        ``ChannelMessage.nbytes``): reopen that much of the SCTP receive window. True
        when a window update is now due (something to send)."""
        return nbytes > 0 and bool(self._sctp.data_consumed(nbytes))

    # -- inputs from SCTP (translated by the core) ---------------------------------------

    def on_association_established(
        self, now: float, *, outbound_streams: int | None = None
    ) -> None:
        """The association is up: open negotiated channels, announce in-band ones.

        ``outbound_streams`` is the negotiated count of our outgoing streams (the peer's
        MIS, RFC 9260 §5.1.1): channels on stream ids at or above it cannot be used and
        are closed, with a WARNING."""
        if self._is_client is None:
            raise InvalidStateError("set_dtls_role() must be called before establishment")
        if self._established or self._association_closed:
            return
        self._established = True
        if outbound_streams is not None:
            self._stream_limit = min(MAX_STREAM_ID + 1, outbound_streams)
        for info in list(self._channels.values()):
            if info._state is not ChannelState.CONNECTING or info._stream_id is None:
                continue
            if info._stream_id >= self._stream_limit:
                self._warning(
                    "closing channel %s: stream %s is not below the peer's %s streams",
                    info._key,
                    info._stream_id,
                    self._stream_limit,
                )
                self._finish_close(info)
            else:
                self._start_open(info, now)

    def on_association_restarted(self, now: float, *, outbound_streams: int | None = None) -> None:
        """The peer restarted the association (RFC 9260 §5.2.4 A): it kept none of our
        channels, so every channel is CLOSED at once (no stream reset: SSNs restarted on
        both sides), early data is dropped, and the association stays usable for new
        channels, on stream ids below the newly negotiated ``outbound_streams``."""
        self._warning("the peer restarted the SCTP association: closing every channel")
        if outbound_streams is not None:
            self._stream_limit = min(MAX_STREAM_ID + 1, outbound_streams)
        for info in list(self._channels.values()):
            if info._state is not ChannelState.CLOSED:
                self._finish_close(info)
        self._refused.clear()
        self._drop_early()

    def on_message_too_large(self, stream_id: int, limit: int, now: float) -> None:
        """SCTP discarded a message above its reassembly limit on ``stream_id``."""
        self._oversized_message(self._by_stream.get(stream_id), stream_id, limit, now)

    def on_data(
        self, stream_id: int, ppid: int, data: bytes | bytearray | memoryview, now: float
    ) -> None:
        """A complete user message arrived. Never raises for peer input."""
        if type(data) is not bytes:
            data = bytes(data)
        nbytes = len(data)
        if ppid == _PPID_DCEP:
            self._consume(nbytes)
            if not self._association_closed:
                self._handle_dcep(stream_id, data, now)
            return
        info = self._by_stream.get(stream_id)
        if ppid not in _USER_PPIDS:
            self._warning("dropping message with PPID %s on stream %s", ppid, stream_id)
            self._consume(nbytes)
            return
        limit = self._local_max_message_size
        if nbytes > limit > 0:
            self._consume(nbytes)
            self._oversized_message(info, stream_id, limit, now)
            return
        if info is None:
            if not self._association_closed:
                self._buffer_early(stream_id, ppid, data)
            return
        if info._state is ChannelState.CONNECTING and info._awaiting_ack:
            # Any message from the peer proves it accepted our OPEN (RFC 8832 §6).
            info._awaiting_ack = False
            self._set_open(info)
        if info._state is not _OPEN:
            self._debug("dropping %s bytes on stream %s: no open channel", nbytes, stream_id)
            self._consume(nbytes)
            return
        self._deliver(info, ppid, data)

    def _deliver(self, info: DataChannelInfo, ppid: int, data: bytes) -> None:
        nbytes = len(data)
        payload: bytes | str
        if ppid == _PPID_BINARY:
            payload = data
            size = nbytes
        elif ppid == _PPID_STRING:
            try:
                payload = data.decode("utf-8")
            except UnicodeDecodeError:
                self._warning("invalid UTF-8 text on stream %s; replacing", info._stream_id)
                payload = data.decode("utf-8", "replace")
            size = nbytes
        else:
            payload = "" if ppid == _PPID_STRING_EMPTY else b""
            size = 0
        info._messages_received += 1
        info._bytes_received += size
        self.events.append(ChannelMessage(info._key, payload, nbytes))

    def on_streams_reset(self, stream_ids: Sequence[int], now: float) -> None:
        """The peer reset its outgoing streams (our incoming): close those channels."""
        for stream_id in stream_ids:
            info = self._by_stream.get(stream_id)
            if info is None:
                continue
            info._in_reset = True
            if info._state in (ChannelState.CONNECTING, ChannelState.OPEN):
                self._set_closing(info)
            self._request_reset(info, now)
            if info._out_reset_done:
                self._finish_close(info)

    def on_outgoing_streams_reset(self, stream_ids: Sequence[int], now: float) -> None:
        """Our reset of these outgoing streams was performed."""
        for stream_id in stream_ids:
            self._refused.discard(stream_id)
            info = self._by_stream.get(stream_id)
            if info is None or not info._out_reset_requested:
                continue
            info._out_reset_done = True
            if info._in_reset:
                self._finish_close(info)

    def on_buffered_amount_low(self, stream_id: int) -> None:
        info = self._by_stream.get(stream_id)
        if info is not None and info._state in (ChannelState.OPEN, ChannelState.CLOSING):
            self.events.append(ChannelBufferedAmountLow(info._key))

    def on_association_closed(self) -> None:
        """The association is gone: every channel becomes CLOSED."""
        self._established = False
        self._association_closed = True
        for info in list(self._channels.values()):
            if info._state is not ChannelState.CLOSED:
                self._finish_close(info)
        self._refused.clear()
        self._drop_early()

    # -- internals -----------------------------------------------------------------------

    def _require(self, key: int) -> DataChannelInfo:
        info = self._channels.get(key)
        if info is None:
            raise LocalProtocolError(f"unknown data channel {key}")
        return info

    def _new_info(self, params: ChannelParameters, *, remote: bool) -> DataChannelInfo:
        info = DataChannelInfo(self._next_key, params, self._sctp, remote=remote)
        self._next_key += 1
        self._channels[info._key] = info
        self._active += 1
        return info

    def _allocate_stream_id(self) -> int:
        """Lowest free stream id with our parity (even: DTLS client, odd: server) below
        the negotiated stream count; amortised O(1) through the per-parity hint."""
        parity = 0 if self._is_client else 1
        by_stream = self._by_stream
        for stream_id in range(self._free_hint[parity], self._stream_limit, 2):
            if stream_id not in by_stream:
                self._free_hint[parity] = stream_id + 2
                return stream_id
        raise LocalProtocolError(f"no free SCTP stream id below {self._stream_limit}")

    def _bind(self, info: DataChannelInfo, stream_id: int) -> None:
        info._stream_id = stream_id
        self._by_stream[stream_id] = info
        if info._low_threshold:
            self._sctp.set_buffered_amount_low_threshold(stream_id, info._low_threshold)

    def _start_open(self, info: DataChannelInfo, now: float) -> None:
        assert info._stream_id is not None
        if info._parameters.negotiated:
            self._set_open(info)
            return
        message = info._parameters.to_open_message().encode()
        # RFC 8832 §6: DCEP messages are sent reliable and ordered.
        self._sctp.send(info._stream_id, Ppid.DCEP, message, ordered=True, now=now)
        info._awaiting_ack = True
        self._debug("sent DATA_CHANNEL_OPEN on stream %s", info._stream_id)

    def _set_open(self, info: DataChannelInfo) -> None:
        info._state = ChannelState.OPEN
        self.events.append(ChannelOpened(info._key))
        if self._early:
            self._flush_early(info)

    def _oversized_message(
        self, info: DataChannelInfo | None, stream_id: int, limit: int, now: float
    ) -> None:
        """RFC 8841 §6.1: the peer sent more than our max-message-size. Visible: counted,
        a WARNING and, for a reliable channel, the channel closed (a silent gap in a
        reliable stream would be worse)."""
        self._oversized += 1
        if info is None or info._state is ChannelState.CLOSED:
            self._warning(
                "peer sent a message above our max-message-size (%s bytes) on stream %s",
                limit,
                stream_id,
            )
            return
        info._messages_discarded += 1
        params = info._parameters
        reliable = params.max_retransmits is None and params.max_packet_lifetime is None
        self._warning(
            "peer sent a message above our max-message-size (%s bytes) on channel %s (stream %s)%s",
            limit,
            info._key,
            stream_id,
            "; closing the reliable channel" if reliable else "; dropped",
        )
        if reliable:
            self.close(info._key, now)

    def _set_closing(self, info: DataChannelInfo) -> None:
        info._state = ChannelState.CLOSING
        self.events.append(ChannelClosing(info._key))

    def _request_reset(self, info: DataChannelInfo, now: float) -> None:
        if info._out_reset_requested or info._stream_id is None:
            return
        info._out_reset_requested = True
        self._sctp.reset_streams([info._stream_id], now)

    def _finish_close(self, info: DataChannelInfo) -> None:
        info._state = ChannelState.CLOSED
        info._awaiting_ack = False
        self._active -= 1
        stream_id = info._stream_id
        if stream_id is not None and self._by_stream.get(stream_id) is info:
            del self._by_stream[stream_id]
            self._free_hint[stream_id & 1] = min(self._free_hint[stream_id & 1], stream_id)
            if info._low_threshold and not self._association_closed:
                self._sctp.set_buffered_amount_low_threshold(stream_id, 0)
        self.events.append(ChannelClosed(info._key))
        self._debug("channel %s closed (stream %s)", info._key, stream_id)
        self._closed_keys.append(info._key)
        while len(self._closed_keys) > MAX_CLOSED_RECORDS:
            self._channels.pop(self._closed_keys.popleft(), None)

    def _consume(self, nbytes: int) -> None:
        if nbytes > 0:
            self._sctp.data_consumed(nbytes)

    def _debug(self, msg: str, *args: object) -> None:
        logger.debug("%s" + msg, self._log_prefix, *args)

    def _warning(self, msg: str, *args: object) -> None:
        logger.warning("%s" + msg, self._log_prefix, *args)
