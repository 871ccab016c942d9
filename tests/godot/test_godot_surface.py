"""The Godot face matches Godot 4's class reference name for name and value for value.

The expected surface is hard-coded here from Godot's class reference (WebRTCPeerConnection,
WebRTCPeerConnectionExtension, WebRTCDataChannel, PacketPeer, @GlobalScope.Error).
"""

from __future__ import annotations

import enum
import inspect
import logging
from collections.abc import Iterator
from typing import Any

import pytest

import trio_webrtc.godot as godot_module
from trio_webrtc import errors
from trio_webrtc.godot import Error, GodotObject, Signal, SignalDescriptor, error_for

GLOBAL_SCOPE_ERROR = {
    "OK": 0,
    "FAILED": 1,
    "ERR_UNAVAILABLE": 2,
    "ERR_UNCONFIGURED": 3,
    "ERR_UNAUTHORIZED": 4,
    "ERR_PARAMETER_RANGE_ERROR": 5,
    "ERR_OUT_OF_MEMORY": 6,
    "ERR_FILE_NOT_FOUND": 7,
    "ERR_FILE_BAD_DRIVE": 8,
    "ERR_FILE_BAD_PATH": 9,
    "ERR_FILE_NO_PERMISSION": 10,
    "ERR_FILE_ALREADY_IN_USE": 11,
    "ERR_FILE_CANT_OPEN": 12,
    "ERR_FILE_CANT_WRITE": 13,
    "ERR_FILE_CANT_READ": 14,
    "ERR_FILE_UNRECOGNIZED": 15,
    "ERR_FILE_CORRUPT": 16,
    "ERR_FILE_MISSING_DEPENDENCIES": 17,
    "ERR_FILE_EOF": 18,
    "ERR_CANT_OPEN": 19,
    "ERR_CANT_CREATE": 20,
    "ERR_QUERY_FAILED": 21,
    "ERR_ALREADY_IN_USE": 22,
    "ERR_LOCKED": 23,
    "ERR_TIMEOUT": 24,
    "ERR_CANT_CONNECT": 25,
    "ERR_CANT_RESOLVE": 26,
    "ERR_CONNECTION_ERROR": 27,
    "ERR_CANT_ACQUIRE_RESOURCE": 28,
    "ERR_CANT_FORK": 29,
    "ERR_INVALID_DATA": 30,
    "ERR_INVALID_PARAMETER": 31,
    "ERR_ALREADY_EXISTS": 32,
    "ERR_DOES_NOT_EXIST": 33,
    "ERR_DATABASE_CANT_READ": 34,
    "ERR_DATABASE_CANT_WRITE": 35,
    "ERR_COMPILATION_FAILED": 36,
    "ERR_METHOD_NOT_FOUND": 37,
    "ERR_LINK_FAILED": 38,
    "ERR_SCRIPT_FAILED": 39,
    "ERR_CYCLIC_LINK": 40,
    "ERR_INVALID_DECLARATION": 41,
    "ERR_DUPLICATE_SYMBOL": 42,
    "ERR_PARSE_ERROR": 43,
    "ERR_BUSY": 44,
    "ERR_SKIP": 45,
    "ERR_HELP": 46,
    "ERR_BUG": 47,
    "ERR_PRINTER_ON_FIRE": 48,
}

PC_ENUMS = {
    "ConnectionState": {
        "STATE_NEW": 0,
        "STATE_CONNECTING": 1,
        "STATE_CONNECTED": 2,
        "STATE_DISCONNECTED": 3,
        "STATE_FAILED": 4,
        "STATE_CLOSED": 5,
    },
    "GatheringState": {
        "GATHERING_STATE_NEW": 0,
        "GATHERING_STATE_GATHERING": 1,
        "GATHERING_STATE_COMPLETE": 2,
    },
    "SignalingState": {
        "SIGNALING_STATE_STABLE": 0,
        "SIGNALING_STATE_HAVE_LOCAL_OFFER": 1,
        "SIGNALING_STATE_HAVE_REMOTE_OFFER": 2,
        "SIGNALING_STATE_HAVE_LOCAL_PRANSWER": 3,
        "SIGNALING_STATE_HAVE_REMOTE_PRANSWER": 4,
        "SIGNALING_STATE_CLOSED": 5,
    },
}

# Method name -> parameter names, from the seed page's method table.
PC_METHODS = {
    "add_ice_candidate": ["media", "index", "name"],
    "close": [],
    "create_data_channel": ["label", "options"],
    "create_offer": [],
    "get_connection_state": [],
    "get_gathering_state": [],
    "get_signaling_state": [],
    "initialize": ["configuration"],
    "poll": [],
    "set_local_description": ["type", "sdp"],
    "set_remote_description": ["type", "sdp"],
}
PC_SIGNALS = ["data_channel_received", "ice_candidate_created", "session_description_created"]

EXTENSION_VIRTUALS = {
    "_add_ice_candidate": ["sdp_mid_name", "sdp_mline_index", "sdp_name"],
    "_close": [],
    "_create_data_channel": ["label", "config"],
    "_create_offer": [],
    "_get_connection_state": [],
    "_get_gathering_state": [],
    "_get_signaling_state": [],
    "_initialize": ["p_config"],
    "_poll": [],
    "_set_local_description": ["type", "sdp"],
    "_set_remote_description": ["type", "sdp"],
}

DC_ENUMS = {
    "WriteMode": {"WRITE_MODE_TEXT": 0, "WRITE_MODE_BINARY": 1},
    "ChannelState": {
        "STATE_CONNECTING": 0,
        "STATE_OPEN": 1,
        "STATE_CLOSING": 2,
        "STATE_CLOSED": 3,
    },
}
DC_METHODS = {
    "close": [],
    "get_buffered_amount": [],
    "get_id": [],
    "get_label": [],
    "get_max_packet_life_time": [],
    "get_max_retransmits": [],
    "get_protocol": [],
    "get_ready_state": [],
    "is_negotiated": [],
    "is_ordered": [],
    "poll": [],
    "was_string_packet": [],
    "set_write_mode": ["write_mode"],
    "get_write_mode": [],
    # PacketPeer
    "put_packet": ["buffer"],
    "get_packet": [],
    "get_available_packet_count": [],
    "get_packet_error": [],
}


def _params(function: Any) -> list[str]:
    return [p for p in inspect.signature(function).parameters if p != "self"]


def _check_enums(cls: type, expected: dict[str, dict[str, int]]) -> None:
    for enum_name, members in expected.items():
        nested = getattr(cls, enum_name)
        assert issubclass(nested, enum.IntEnum)
        assert {m.name: m.value for m in nested} == members
        for name, value in members.items():
            attribute = getattr(cls, name)
            assert attribute == value
            assert attribute is nested[name]
            assert nested[name] == value


# ------------------------------------------------------------------------ Error


def test_error_values_exactly() -> None:
    assert issubclass(Error, enum.IntEnum)
    assert {member.name: member.value for member in Error} == GLOBAL_SCOPE_ERROR


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (errors.MessageTooLargeError("big"), Error.ERR_INVALID_PARAMETER),
        (errors.InvalidStateError("not now"), Error.ERR_UNAVAILABLE),
        (errors.SdpParseError("bad sdp"), Error.ERR_INVALID_PARAMETER),
        (errors.LocalProtocolError("bad type"), Error.ERR_INVALID_PARAMETER),
        (ValueError("bad option"), Error.ERR_INVALID_PARAMETER),
        (TypeError("bad option"), Error.ERR_INVALID_PARAMETER),
        (errors.ConnectionFailedError("down"), Error.ERR_CONNECTION_ERROR),
        (errors.DtlsError("handshake"), Error.ERR_CONNECTION_ERROR),
        (OSError("cannot bind"), Error.ERR_CANT_CREATE),
        (RuntimeError("bug"), Error.FAILED),
    ],
)
def test_error_mapping_table(exc: BaseException, expected: Error) -> None:
    assert error_for(exc) is expected


def test_send_buffer_full_maps_to_busy() -> None:
    from trio_webrtc.sctp.events import SendBufferFullError

    assert error_for(SendBufferFullError("full")) is Error.ERR_BUSY


# ----------------------------------------------------------------------- Signal


class _Emitter(GodotObject):
    something_happened = SignalDescriptor()


def test_signal_connect_emit_disconnect() -> None:
    emitter = _Emitter()
    signal = emitter.something_happened
    assert isinstance(signal, Signal)
    assert emitter.something_happened is signal  # one Signal per instance
    assert _Emitter().something_happened is not signal
    calls: list[tuple[str, object]] = []

    def first(value: object) -> None:
        calls.append(("first", value))

    def second(value: object) -> None:
        calls.append(("second", value))

    assert signal.connect(first) == Error.OK
    assert signal.connect(first) == Error.ERR_INVALID_PARAMETER
    assert emitter.connect("something_happened", second) == Error.OK
    assert signal.is_connected(first) and emitter.is_connected("something_happened", second)
    signal.emit(1)
    assert calls == [("first", 1), ("second", 1)]
    signal.disconnect(first)
    assert not signal.is_connected(first)
    assert emitter.emit_signal("something_happened", 2) == Error.OK
    assert calls[-1] == ("second", 2) and len(calls) == 3
    emitter.disconnect("something_happened", second)
    signal.disconnect(second)  # not connected: logged, not raised
    signal.emit(3)
    assert len(calls) == 3


def test_signal_by_unknown_name() -> None:
    emitter = _Emitter()
    assert emitter.has_signal("something_happened")
    assert not emitter.has_signal("nope")
    assert emitter.connect("nope", print) == Error.ERR_INVALID_PARAMETER
    assert emitter.emit_signal("nope") == Error.ERR_UNAVAILABLE
    assert not emitter.is_connected("nope", print)
    assert emitter.something_happened.connect(42) == Error.ERR_INVALID_PARAMETER  # type: ignore[arg-type]


def test_bound_methods_compare_equal_for_connection() -> None:
    class Listener:
        def __init__(self) -> None:
            self.seen: list[int] = []

        def on_event(self, value: int) -> None:
            self.seen.append(value)

    emitter = _Emitter()
    listener = Listener()
    emitter.something_happened.connect(listener.on_event)
    assert emitter.something_happened.is_connected(listener.on_event)
    emitter.something_happened.emit(5)
    emitter.something_happened.disconnect(listener.on_event)
    emitter.something_happened.emit(6)
    assert listener.seen == [5]


# ------------------------------------------------------- classes (need the core)


@pytest.fixture
def godot() -> Iterator[Any]:
    """The package, with the connection classes loaded (they need the protocol stack)."""
    godot_module.WebRTCPeerConnection.set_default_extension(None)
    yield godot_module
    godot_module.WebRTCPeerConnection.set_default_extension(None)


def test_peer_connection_enums(godot: Any) -> None:
    _check_enums(godot.WebRTCPeerConnection, PC_ENUMS)
    pc = godot.WebRTCPeerConnection
    assert pc.STATE_CONNECTED == pc.ConnectionState.STATE_CONNECTED == 2


def test_peer_connection_methods_and_parameters(godot: Any) -> None:
    cls = godot.WebRTCPeerConnection
    for name, params in PC_METHODS.items():
        assert callable(getattr(cls, name)), name
        assert _params(getattr(cls, name)) == params, name
    static = inspect.getattr_static(cls, "set_default_extension")
    assert isinstance(static, staticmethod)
    assert _params(cls.set_default_extension) == ["extension_class"]
    assert inspect.signature(cls.initialize).parameters["configuration"].default in ({}, None)
    assert inspect.signature(cls.create_data_channel).parameters["options"].default in ({}, None)


def test_peer_connection_signals(godot: Any) -> None:
    pc = godot.WebRTCPeerConnection()
    for name in PC_SIGNALS:
        assert isinstance(getattr(pc, name), Signal), name
        assert pc.has_signal(name)
        assert getattr(pc, name).get_name() == name


def test_extension_virtuals_and_parameters(godot: Any) -> None:
    ext = godot.WebRTCPeerConnectionExtension
    assert issubclass(ext, godot.WebRTCPeerConnection)
    for name, params in EXTENSION_VIRTUALS.items():
        assert _params(getattr(ext, name)) == params, name
    for name, params in PC_METHODS.items():
        assert _params(getattr(ext, name)) == params, name


def test_data_channel_surface(godot: Any) -> None:
    cls = godot.WebRTCDataChannel
    _check_enums(cls, DC_ENUMS)
    for name, params in DC_METHODS.items():
        assert _params(getattr(cls, name)) == params, name
    assert isinstance(inspect.getattr_static(cls, "write_mode"), property)


def test_outside_async_with_returns_unconfigured(
    godot: Any, caplog: pytest.LogCaptureFixture
) -> None:
    pc = godot.WebRTCPeerConnection(name="outside")
    with caplog.at_level(logging.WARNING, logger="trio_webrtc.godot"):
        assert pc.initialize({"bindAddress": "127.0.0.1"}) is Error.ERR_UNCONFIGURED
        assert pc.create_offer() is Error.ERR_UNCONFIGURED
        assert pc.poll() is Error.ERR_UNCONFIGURED
        assert pc.set_local_description("offer", "v=0") is Error.ERR_UNCONFIGURED
        assert pc.set_remote_description("offer", "v=0") is Error.ERR_UNCONFIGURED
        assert pc.add_ice_candidate("0", 0, "") is Error.ERR_UNCONFIGURED
        assert pc.create_data_channel("x") is None
        pc.close()
        pc.close()
    assert any(
        "[outside]" in r.getMessage() and "async with" in r.getMessage() for r in caplog.records
    )
    assert pc.get_connection_state() is pc.STATE_NEW
    assert pc.get_gathering_state() is pc.GATHERING_STATE_NEW
    assert pc.get_signaling_state() is pc.SIGNALING_STATE_STABLE


def test_set_default_extension(godot: Any) -> None:
    class Custom(godot.WebRTCPeerConnectionExtension):  # type: ignore[misc]
        def _create_offer(self) -> Error:
            return Error.ERR_SKIP

    base = godot.WebRTCPeerConnection
    assert type(base()) is base
    base.set_default_extension(Custom)
    pc = base(name="custom")
    assert type(pc) is Custom and pc.name == "custom"
    assert pc.create_offer() is Error.ERR_SKIP
    # The non-overridden virtuals keep the built-in behaviour.
    assert pc.poll() is Error.ERR_UNCONFIGURED
    # Subclasses are constructed as themselves.
    assert type(godot.WebRTCPeerConnectionExtension()) is godot.WebRTCPeerConnectionExtension
    base.set_default_extension(int)  # not an extension: logged and ignored
    assert type(base()) is Custom
    base.set_default_extension(None)
    assert type(base()) is base


# ----------------------------------------------------- create_data_channel options


def test_channel_options(godot: Any) -> None:
    make = godot.channel_parameters
    p = make("chat", {})
    assert (p.label, p.ordered, p.negotiated, p.max_retransmits, p.max_packet_lifetime) == (
        "chat",
        True,
        False,
        None,
        None,
    )
    p = make("a", {"negotiated": True, "id": 7, "ordered": False, "protocol": "proto"})
    assert (p.negotiated, p.id, p.ordered, p.protocol) == (True, 7, False, "proto")
    assert make("a", {"maxRetransmits": 3}).max_retransmits == 3
    assert make("a", {"maxPacketLifeTime": 100}).max_packet_lifetime == 100
    assert make("a", {"maxPacketLifetime": 150.0}).max_packet_lifetime == 150
    assert make("a", {"id": 4}).id is None  # id is honoured only for negotiated channels


@pytest.mark.parametrize(
    "options",
    [
        {"maxRetransmits": 1, "maxPacketLifeTime": 100},
        {"maxRetransmits": 1, "maxPacketLifetime": 100},
        {"negotiated": True},
        {"negotiated": True, "id": 70000},
        {"maxRetransmits": "3"},
        {"maxRetransmits": 1.5},
        {"ordered": "yes"},
        {"protocol": 5},
        {"maxPacketLifeTime": 1, "maxPacketLifetime": 2},
        {"maxRetransmits": float("inf")},
        {"maxRetransmits": True},
    ],
)
def test_bad_channel_options(godot: Any, options: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        godot.channel_parameters("x", options)
