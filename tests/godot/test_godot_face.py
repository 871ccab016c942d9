"""End to end: two Godot-face connections in one process over 127.0.0.1, wired only
through signals, exactly as a Godot script would do it."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio

import trio_webrtc.godot._peer as godot_peer
from trio_webrtc.config import Configuration
from trio_webrtc.godot import (
    Error,
    WebRTCDataChannel,
    WebRTCPeerConnection,
    WebRTCPeerConnectionExtension,
)

LOOPBACK = {"bindAddress": "127.0.0.1"}
PC = WebRTCPeerConnection
DC = WebRTCDataChannel


@pytest.fixture(autouse=True)
def _reset_default_extension() -> Iterator[None]:
    WebRTCPeerConnection.set_default_extension(None)
    yield
    WebRTCPeerConnection.set_default_extension(None)


class Wiring:
    """Connects ``a`` and ``b`` through their signals and records what fired."""

    def __init__(self, a: WebRTCPeerConnection, b: WebRTCPeerConnection) -> None:
        self.fired: list[tuple[str, str, tuple[Any, ...]]] = []
        self.received: dict[str, list[WebRTCDataChannel]] = {"a": [], "b": []}
        self.pcs = {"a": a, "b": b}
        self.candidate_format: dict[str, Callable[[str], str]] = {
            "a": lambda name: name,
            "b": lambda name: name,
        }
        for side, source, target in (("a", a, b), ("b", b, a)):
            self._wire(side, source, target)

    def _wire(self, side: str, source: WebRTCPeerConnection, target: WebRTCPeerConnection) -> None:
        def on_description(type: str, sdp: str) -> None:
            self.fired.append((side, "session_description_created", (type, sdp)))
            assert source.set_local_description(type, sdp) is Error.OK
            assert target.set_remote_description(type, sdp) is Error.OK

        def on_candidate(media: str, index: int, name: str) -> None:
            self.fired.append((side, "ice_candidate_created", (media, index, name)))
            formatted = self.candidate_format[side](name)
            assert target.add_ice_candidate(media, index, formatted) is Error.OK

        def on_channel(channel: WebRTCDataChannel) -> None:
            self.fired.append((side, "data_channel_received", (channel,)))
            self.received[side].append(channel)

        source.session_description_created.connect(on_description)
        source.connect("ice_candidate_created", on_candidate)
        source.data_channel_received.connect(on_channel)

    async def pump(self, until: Callable[[], bool], timeout: float = 10) -> None:
        """poll() both sides every 10 ms until ``until()`` holds."""
        with trio.fail_after(timeout):
            while True:
                for pc in self.pcs.values():
                    assert pc.poll() is Error.OK
                if until():
                    return
                await trio.sleep(0.01)

    def connected(self) -> bool:
        return all(pc.get_connection_state() is PC.STATE_CONNECTED for pc in self.pcs.values())


@asynccontextmanager
async def pair() -> AsyncIterator[tuple[WebRTCPeerConnection, WebRTCPeerConnection, Wiring]]:
    async with WebRTCPeerConnection(name="A") as a, WebRTCPeerConnection(name="B") as b:
        assert a.initialize(LOOPBACK) is Error.OK
        assert b.initialize(LOOPBACK) is Error.OK
        yield a, b, Wiring(a, b)


def open_(channel: WebRTCDataChannel) -> Callable[[], bool]:
    return lambda: channel.get_ready_state() is DC.STATE_OPEN


async def connect(a: WebRTCPeerConnection, wiring: Wiring) -> None:
    assert a.create_offer() is Error.OK
    await wiring.pump(wiring.connected)


async def established(
    wiring: Wiring,
) -> tuple[WebRTCDataChannel, WebRTCDataChannel]:
    """Connect with one in-band channel; return (A's channel, B's received channel)."""
    a = wiring.pcs["a"]
    chat = a.create_data_channel("chat")
    assert chat is not None
    await connect(a, wiring)
    await wiring.pump(lambda: bool(wiring.received["b"]) and open_(wiring.received["b"][0])())
    await wiring.pump(open_(chat))
    return chat, wiring.received["b"][0]


PAYLOADS_TEXT = ["", "a\x00b", "héllo wörld ✓ 🎉", "x" * 65536]
PAYLOADS_BINARY = [b"", b"\x00", b"a\x00b\xff", bytes(range(256)) * 256]


async def roundtrip(wiring: Wiring, sender: WebRTCDataChannel, receiver: WebRTCDataChannel) -> None:
    sender.write_mode = DC.WRITE_MODE_TEXT
    for text in PAYLOADS_TEXT:
        assert sender.put_packet(text.encode()) is Error.OK
    sender.set_write_mode(DC.WRITE_MODE_BINARY)
    assert sender.get_write_mode() is DC.WRITE_MODE_BINARY
    for data in PAYLOADS_BINARY:
        assert sender.put_packet(data) is Error.OK
    total = len(PAYLOADS_TEXT) + len(PAYLOADS_BINARY)
    await wiring.pump(lambda: receiver.get_available_packet_count() == total)
    for text in PAYLOADS_TEXT:
        assert receiver.get_packet() == text.encode()
        assert receiver.was_string_packet() is True
        assert receiver.get_packet_error() is Error.OK
    for data in PAYLOADS_BINARY:
        assert receiver.get_packet() == data
        assert receiver.was_string_packet() is False
    assert receiver.get_available_packet_count() == 0
    assert receiver.get_packet() == b""
    assert receiver.get_packet_error() is Error.ERR_UNAVAILABLE


async def test_connect_through_signals_and_exchange_packets() -> None:
    async with pair() as (a, b, wiring):
        chat = a.create_data_channel("chat", {"protocol": "json", "ordered": True})
        a_neg = a.create_data_channel("neg", {"negotiated": True, "id": 5})
        b_neg = b.create_data_channel("neg", {"negotiated": True, "id": 5})
        assert chat is not None and a_neg is not None and b_neg is not None
        assert chat.get_ready_state() is DC.STATE_CONNECTING
        assert chat.get_id() == 65535  # in-band id not assigned before the DTLS role
        assert a_neg.get_id() == 5 and a_neg.is_negotiated()
        assert a.get_connection_state() is PC.STATE_NEW
        assert a.create_offer() is Error.OK
        assert a.get_signaling_state() is PC.SIGNALING_STATE_STABLE  # offer not applied yet
        await trio.sleep(0.05)
        assert wiring.fired == []  # signals fire only inside poll()

        await wiring.pump(wiring.connected)
        kinds = [(side, name) for side, name, _ in wiring.fired]
        assert kinds[0] == ("a", "session_description_created")
        assert wiring.fired[0][2][0] == "offer"
        answers = [f for f in wiring.fired if f[1] == "session_description_created" and f[0] == "b"]
        assert [f[2][0] for f in answers] == ["answer"]
        candidates = [f[2] for f in wiring.fired if f[1] == "ice_candidate_created"]
        assert candidates, "no candidates were signalled"
        for media, index, name in candidates:
            assert (media, index) == ("0", 0)
            assert name.startswith("candidate:") and "127.0.0.1" in name
        for pc in (a, b):
            assert pc.get_signaling_state() is PC.SIGNALING_STATE_STABLE
            assert pc.get_gathering_state() is PC.GATHERING_STATE_COMPLETE

        await wiring.pump(lambda: bool(wiring.received["b"]))
        (received,) = wiring.received["b"]
        assert wiring.received["a"] == []  # negotiated channels are not "received"
        for channel in (chat, received, a_neg, b_neg):
            await wiring.pump(open_(channel))
        assert received.get_label() == "chat" and received.get_protocol() == "json"
        assert received.is_ordered() and not received.is_negotiated()
        assert received.get_id() == chat.get_id() != 65535
        assert received.get_max_retransmits() == 65535
        assert received.get_max_packet_life_time() == 65535
        assert received.write_mode is DC.WRITE_MODE_BINARY
        assert received.poll() is Error.OK

        await roundtrip(wiring, chat, received)
        await roundtrip(wiring, received, chat)
        await roundtrip(wiring, a_neg, b_neg)
        assert chat.get_buffered_amount() >= 0


async def test_unreliable_channel_parameters_arrive() -> None:
    async with pair() as (a, _b, wiring):
        fast = a.create_data_channel("fast", {"maxRetransmits": 0, "ordered": False})
        timed = a.create_data_channel("timed", {"maxPacketLifetime": 250})
        assert fast is not None and timed is not None
        assert fast.get_max_retransmits() == 0 and not fast.is_ordered()
        assert timed.get_max_packet_life_time() == 250
        await connect(a, wiring)
        await wiring.pump(lambda: len(wiring.received["b"]) == 2)
        by_label = {c.get_label(): c for c in wiring.received["b"]}
        assert by_label["fast"].get_max_retransmits() == 0
        assert not by_label["fast"].is_ordered()
        assert by_label["timed"].get_max_packet_life_time() == 250
        assert by_label["timed"].get_max_retransmits() == 65535


async def test_channel_close_reaches_peer() -> None:
    async with pair() as (_a, _b, wiring):
        chat, received = await established(wiring)
        chat.close()
        chat.close()  # idempotent
        await wiring.pump(lambda: received.get_ready_state() is DC.STATE_CLOSED)
        await wiring.pump(lambda: chat.get_ready_state() is DC.STATE_CLOSED)
        assert chat.put_packet(b"late") is Error.ERR_UNAVAILABLE
        assert received.put_packet(b"late") is Error.ERR_UNAVAILABLE


async def test_wrong_calls_return_errors() -> None:
    async with pair() as (a, b, wiring):
        chat, received = await established(wiring)
        assert a.create_data_channel("late") is None
        assert a.create_offer() is Error.ERR_UNAVAILABLE
        assert a.set_remote_description("bogus", "v=0") is Error.ERR_INVALID_PARAMETER
        assert a.set_local_description("bogus", "v=0") is Error.ERR_INVALID_PARAMETER
        assert a.set_remote_description("offer", "not an sdp") is Error.ERR_INVALID_PARAMETER
        assert a.set_remote_description("answer", "v=0\r\n") is Error.ERR_INVALID_PARAMETER
        assert a.add_ice_candidate("0", 0, "garbage") is Error.ERR_INVALID_PARAMETER
        assert a.add_ice_candidate("0", 0, "candidate:1 1 udp x") is Error.ERR_INVALID_PARAMETER
        assert a.add_ice_candidate("9", 3, "") is Error.OK  # end-of-candidates, any mid
        assert a.initialize({"bindAddress": "not an ip"}) is Error.ERR_INVALID_PARAMETER
        assert a.initialize({"iceServers": [{"urls": ["http://x"]}]}) is Error.ERR_INVALID_PARAMETER
        assert a.get_connection_state() is PC.STATE_CONNECTED  # bad config kept the old one
        assert a.create_data_channel("x", {"negotiated": True}) is None
        chat.set_write_mode(DC.WRITE_MODE_TEXT)
        assert chat.put_packet(b"\xff\xfe") is Error.ERR_INVALID_PARAMETER
        chat.set_write_mode(DC.WRITE_MODE_BINARY)
        assert chat.put_packet(bytes(262145)) is Error.ERR_INVALID_PARAMETER
        assert chat.put_packet("text is not bytes") is Error.ERR_INVALID_PARAMETER  # type: ignore[arg-type]
        chat.set_write_mode(7)  # unknown: ignored
        assert chat.write_mode is DC.WRITE_MODE_BINARY
        assert chat.put_packet(b"still fine") is Error.OK
        await wiring.pump(lambda: received.get_available_packet_count() == 1)
        assert received.get_packet() == b"still fine"  # nothing of the failed sends arrived

        a.close()
        a.close()  # idempotent
        assert a.get_connection_state() is PC.STATE_CLOSED
        assert a.get_signaling_state() is PC.SIGNALING_STATE_CLOSED
        assert chat.get_ready_state() is DC.STATE_CLOSED
        assert chat.put_packet(b"x") is Error.ERR_UNAVAILABLE
        assert a.create_offer() is Error.ERR_UNAVAILABLE
        assert a.create_data_channel("after-close") is None
        assert a.poll() is Error.OK
        await wiring.pump(lambda: b.get_connection_state() is PC.STATE_CLOSED)
        await wiring.pump(lambda: received.get_ready_state() is DC.STATE_CLOSED)
    assert a.poll() is Error.ERR_UNCONFIGURED
    assert a.initialize(LOOPBACK) is Error.ERR_UNCONFIGURED
    assert a.get_connection_state() is PC.STATE_CLOSED


async def test_initialize_twice_then_reconnect() -> None:
    async with pair() as (a, b, wiring):
        assert a.initialize(LOOPBACK) is Error.OK  # re-initialise before any use
        first, first_received = await established(wiring)
        await roundtrip(wiring, first, first_received)

        assert a.initialize(LOOPBACK) is Error.OK
        assert b.initialize(LOOPBACK) is Error.OK
        assert first.get_ready_state() is DC.STATE_CLOSED
        for pc in (a, b):
            assert pc.get_connection_state() is PC.STATE_NEW
            assert pc.get_signaling_state() is PC.SIGNALING_STATE_STABLE
            assert pc.get_gathering_state() is PC.GATHERING_STATE_NEW
        wiring.received["b"].clear()
        second, second_received = await established(wiring)
        assert second_received is not first_received
        await roundtrip(wiring, second_received, second)


async def test_candidate_name_formats_are_accepted() -> None:
    async with pair() as (_a, _b, wiring):
        wiring.candidate_format["a"] = lambda name: "a=" + name
        wiring.candidate_format["b"] = lambda name: name.removeprefix("candidate:")
        chat, received = await established(wiring)
        assert chat.put_packet(b"hi") is Error.OK
        await wiring.pump(lambda: received.get_available_packet_count() == 1)


async def test_default_extension_is_used() -> None:
    calls: list[str] = []

    class Recording(WebRTCPeerConnectionExtension):
        def _create_offer(self) -> Error:
            calls.append("create_offer")
            return super()._create_offer()

        def _poll(self) -> Error:
            calls.append("poll")
            return super()._poll()

    WebRTCPeerConnection.set_default_extension(Recording)
    async with pair() as (a, b, wiring):
        assert type(a) is Recording and type(b) is Recording
        chat, received = await established(wiring)
        assert calls.count("create_offer") == 1
        assert "poll" in calls
        assert chat.put_packet(b"via extension") is Error.OK
        await wiring.pump(lambda: received.get_available_packet_count() == 1)
        assert received.get_packet() == b"via extension"


async def test_lazy_initialization_and_callbacks_queueing_signals() -> None:
    async with WebRTCPeerConnection(name="lazy") as pc:
        assert pc.poll() is Error.OK  # nothing initialised yet: nothing to emit
        channel = pc.create_data_channel("x")  # initialises with an empty configuration
        assert channel is not None
        assert pc.get_connection_state() is PC.STATE_NEW
        assert pc.get_gathering_state() is PC.GATHERING_STATE_NEW
        seen: list[str] = []

        def on_description(type: str, sdp: str) -> None:
            seen.append(type)
            # A signal queued by a callback fires in the next poll(), not this one.
            assert pc.create_offer() is Error.OK

        pc.session_description_created.connect(on_description)
        assert pc.create_offer() is Error.OK
        assert pc.poll() is Error.OK
        assert seen == ["offer"]
        assert pc.poll() is Error.OK
        assert seen == ["offer", "offer"]


async def test_backpressure_busy_and_window_reopened_by_get_packet() -> None:
    async with pair() as (_a, _b, wiring):
        chat, received = await established(wiring)
        size = 262144  # the peer's max-message-size
        sent = 0
        result = Error.OK
        for index in range(100):  # 100 x 256 KiB exceeds the 16 MiB SCTP send buffer
            result = chat.put_packet(index.to_bytes(4, "big") * (size // 4))
            if result is not Error.OK:
                break
            sent += 1
        assert result is Error.ERR_BUSY
        assert 0 < sent < 100
        assert chat.get_buffered_amount() > 0
        # Nothing is read yet: the SCTP receive window bounds what is delivered.
        await wiring.pump(lambda: received.get_available_packet_count() >= 1)
        for _ in range(20):
            await wiring.pump(lambda: True)
            await trio.sleep(0.01)
        window = Configuration().receive_window
        assert received.get_available_packet_count() <= window // size + 1
        # Reading reopens the window (message_read), so everything arrives, in order.
        got: list[int] = []

        def drain() -> bool:
            while received.get_available_packet_count():
                packet = received.get_packet()
                assert len(packet) == size
                got.append(int.from_bytes(packet[:4], "big"))
            return len(got) == sent

        await wiring.pump(drain, timeout=30)
        assert got == list(range(sent))
        await wiring.pump(lambda: chat.get_buffered_amount() == 0)


async def test_pending_signals_are_bounded(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(godot_peer, "_MAX_PENDING_SIGNALS", 3)
    async with WebRTCPeerConnection(name="bounded") as pc:
        assert pc.initialize(LOOPBACK) is Error.OK
        seen: list[str] = []
        pc.session_description_created.connect(lambda type, sdp: seen.append(type))
        with caplog.at_level(logging.ERROR, logger="trio_webrtc.godot"):
            for _ in range(5):
                assert pc.create_offer() is Error.OK
        assert seen == []
        assert pc.poll() is Error.OK
        assert seen == ["offer"] * 3  # the overflow was dropped, and logged
        assert any(
            r.getMessage().startswith("[bounded]") and "dropping" in r.getMessage()
            for r in caplog.records
        )
        assert pc.get_signaling_state() is PC.SIGNALING_STATE_STABLE


async def test_failed_initialize_does_not_fall_back_to_defaults() -> None:
    async with WebRTCPeerConnection(name="badconfig") as pc:
        assert (
            pc.initialize({"portRangeBegin": 10, "portRangeEnd": 5}) is Error.ERR_INVALID_PARAMETER
        )
        assert pc.initialize({"unknownKey": 1}) is Error.ERR_INVALID_PARAMETER
        assert pc.initialize([1, 2]) is Error.ERR_INVALID_PARAMETER  # type: ignore[arg-type]
        assert pc.create_data_channel("x") is None
        assert pc.create_offer() is Error.ERR_UNCONFIGURED
        assert pc.initialize(LOOPBACK) is Error.OK
        assert pc.create_data_channel("x") is not None


def test_set_default_extension_accepts_a_class_name_like_godot() -> None:
    class NamedBackend(WebRTCPeerConnectionExtension):
        pass

    WebRTCPeerConnection.set_default_extension("NamedBackend")
    assert type(WebRTCPeerConnection()) is NamedBackend
    WebRTCPeerConnection.set_default_extension("NoSuchBackend")  # logged, ignored
    assert type(WebRTCPeerConnection()) is NamedBackend
    WebRTCPeerConnection.set_default_extension(None)
    assert type(WebRTCPeerConnection()) is WebRTCPeerConnection
