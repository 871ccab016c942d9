"""The sans-I/O TURN client (RFC 8656) and server-reflexive gatherer (RFC 8445 §5.1.1.2)
against scripted servers, in virtual time; and the ``turnTlsCaFile`` configuration key."""

from __future__ import annotations

import logging
import struct

import pytest

from trio_webrtc.config import Configuration
from trio_webrtc.ice import stun
from trio_webrtc.ice.srflx import SrflxGatherer
from trio_webrtc.ice.turn import StreamFramer, TurnClient, TurnState, channel_data

SERVER = ("203.0.113.1", 3478)
RELAYED = ("203.0.113.1", 50000)
MAPPED = ("198.51.100.7", 40000)
PEER = ("203.0.113.5", 6000)
KEY = stun.long_term_key("user", "realm", "pass")


def _reply(
    request: bytes,
    message_class: stun.MessageClass,
    attributes: tuple[tuple[int, stun.AttributeValue], ...] = (),
    key: bytes | None = None,
) -> bytes:
    parsed = stun.parse_message(request)
    return stun.encode(
        stun.Message(parsed.method, message_class, parsed.transaction_id, attributes), key
    )


def _error(request: bytes, code: int, nonce: str = "n1") -> bytes:
    return _reply(
        request,
        stun.MessageClass.ERROR,
        (
            (stun.ERROR_CODE, stun.ErrorCode(code, "x")),
            (stun.REALM, "realm"),
            (stun.NONCE, nonce),
        ),
    )


def _allocated(client: TurnClient, now: float = 0.0) -> None:
    client.start(now)
    (first,) = client.datagrams_to_send()
    assert not stun.parse_message(first).has(stun.MESSAGE_INTEGRITY)
    client.receive(_error(first, 401), now)
    (second,) = client.datagrams_to_send()
    assert stun.verify_integrity(second, KEY)
    message = stun.parse_message(second)
    assert message.get_str(stun.USERNAME) == "user"
    assert message.get_int(stun.REQUESTED_TRANSPORT) == 17
    success = (
        (stun.XOR_RELAYED_ADDRESS, RELAYED),
        (stun.XOR_MAPPED_ADDRESS, MAPPED),
        (stun.LIFETIME, 600),
    )
    client.receive(_reply(second, stun.MessageClass.SUCCESS, success, KEY), now)
    assert client.state is TurnState.ALLOCATED


def test_allocate_with_long_term_credentials_and_stale_nonce(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "trio_webrtc.turn")
    client = TurnClient(SERVER, "user", "pass")
    client.start(0.0)
    (first,) = client.datagrams_to_send()
    client.receive(_error(first, 401), 0.0)
    (second,) = client.datagrams_to_send()
    client.receive(_error(second, 438, nonce="n2"), 0.0)  # stale nonce: silent retry
    (third,) = client.datagrams_to_send()
    assert stun.parse_message(third).get_str(stun.NONCE) == "n2"
    assert stun.verify_integrity(third, KEY)
    success = ((stun.XOR_RELAYED_ADDRESS, RELAYED), (stun.LIFETIME, 300))
    client.receive(_reply(third, stun.MessageClass.SUCCESS, success, KEY), 0.0)
    assert client.state is TurnState.ALLOCATED
    assert client.relayed_address == RELAYED
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    # Refresh before the 300 s lifetime ends, then release with lifetime 0 on close.
    timer = client.get_timer()
    assert timer is not None and 150 <= timer < 300
    client.handle_timer(timer)
    (refresh,) = client.datagrams_to_send()
    message = stun.parse_message(refresh)
    assert message.method == stun.Method.REFRESH and message.get_int(stun.LIFETIME) == 600
    client.close(timer)
    (release,) = client.datagrams_to_send()
    assert stun.parse_message(release).get_int(stun.LIFETIME) == 0
    assert client.get_timer() is None


def test_wrong_credentials_log_and_fail(caplog: pytest.LogCaptureFixture) -> None:
    client = TurnClient(SERVER, "user", "wrong", label="turn:203.0.113.1:3478")
    client.start(0.0)
    (first,) = client.datagrams_to_send()
    client.receive(_error(first, 401), 0.0)
    (second,) = client.datagrams_to_send()
    client.receive(_error(second, 401), 0.0)
    assert client.state is TurnState.FAILED
    assert "TURN authentication failed at turn:203.0.113.1:3478" in caplog.text
    assert client.get_timer() is None


def test_allocation_mismatch_is_explained(caplog: pytest.LogCaptureFixture) -> None:
    client = TurnClient(SERVER, "user", "pass")
    client.start(0.0)
    (first,) = client.datagrams_to_send()
    client.receive(_error(first, 437), 0.0)
    assert client.state is TurnState.FAILED
    assert "allocation mismatch" in caplog.text


def test_udp_retransmissions_then_failure() -> None:
    client = TurnClient(SERVER, "user", "pass")
    client.start(0.0)
    sent_at = [0.0]
    client.datagrams_to_send()
    while (timer := client.get_timer()) is not None:
        client.handle_timer(timer)
        if client.datagrams_to_send():
            sent_at.append(timer)
    assert sent_at == [0.0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5]  # RFC 8489 §6.2.1
    assert client.state is TurnState.FAILED


def test_permission_channel_and_data_framing() -> None:
    client = TurnClient(SERVER, "user", "pass")
    _allocated(client)
    assert client.send_to(PEER, b"early", 0.0) is None  # queued until permitted
    requests = [stun.parse_message(d) for d in client.datagrams_to_send()]
    methods = [m.method for m in requests]
    assert methods == [stun.Method.CREATE_PERMISSION, stun.Method.CHANNEL_BIND]
    permission, bind = client_requests = [stun.encode(m, KEY) for m in requests]
    del client_requests
    client.receive(_reply(permission, stun.MessageClass.SUCCESS, (), KEY), 1.0)
    (indication,) = client.datagrams_to_send()  # the queued datagram, as a Send indication
    message = stun.parse_message(indication)
    assert message.method == stun.Method.SEND
    assert message.message_class is stun.MessageClass.INDICATION
    assert message.get_address(stun.XOR_PEER_ADDRESS) == PEER
    assert message.get_bytes(stun.DATA) == b"early"
    channel = requests[1].get_int(stun.CHANNEL_NUMBER)
    assert channel is not None and 0x4000 <= channel <= 0x7FFF
    client.receive(_reply(bind, stun.MessageClass.SUCCESS, (), KEY), 1.0)
    assert client.send_to(PEER, b"abc", 1.0) == struct.pack("!HH", channel, 3) + b"abc"
    # Data arrives as a Data indication or as ChannelData.
    data_indication = stun.encode(
        stun.Message(
            stun.Method.DATA,
            stun.MessageClass.INDICATION,
            attributes=((stun.XOR_PEER_ADDRESS, PEER), (stun.DATA, b"hi")),
        )
    )
    assert client.receive(data_indication, 1.0) == (PEER, b"hi")
    assert client.receive(channel_data(channel, b"yo", pad=False), 1.0) == (PEER, b"yo")
    # Permission refreshed before 5 minutes, channel before 10.
    client.handle_timer(241.0)
    (refresh,) = client.datagrams_to_send()
    assert stun.parse_message(refresh).method == stun.Method.CREATE_PERMISSION
    client.handle_timer(541.0)
    rebinds = [stun.parse_message(d).method for d in client.datagrams_to_send()]
    assert stun.Method.CHANNEL_BIND in rebinds


def test_stream_framing_pads_channel_data_and_splits_messages() -> None:
    padded = channel_data(0x4001, b"abcde", pad=True)
    assert len(padded) == 12 and padded.endswith(b"\x00\x00\x00")
    binding = stun.encode(stun.Message(stun.Method.BINDING, stun.MessageClass.REQUEST))
    stream = padded + binding + channel_data(0x4002, b"xy", pad=True)
    framer = StreamFramer()
    out: list[bytes] = []
    for i in range(0, len(stream), 3):  # arbitrary TCP segmentation
        out += framer.feed(stream[i : i + 3])
    assert out == [padded[:9], binding, channel_data(0x4002, b"xy", pad=False)]
    with pytest.raises(ValueError):
        framer.feed(b"\xff\x00\x00\x00")


def test_srflx_gatherer_retransmits_within_deadline_and_dedups() -> None:
    gatherer = SrflxGatherer(deadline=5.0)
    gatherer.query(("198.51.100.1", 1000), SERVER, 0.0)
    gatherer.query(("198.51.100.1", 1000), ("203.0.113.2", 3478), 0.0)
    gatherer.query(("::1", 1000), SERVER, 0.0)  # other family: not asked
    first = gatherer.datagrams_to_send()
    assert len(first) == 2
    # The second server answers at once, the first never does.
    request = first[1][0]
    answer = _reply(request, stun.MessageClass.SUCCESS, ((stun.XOR_MAPPED_ADDRESS, MAPPED),))
    assert gatherer.receive_datagram(answer, ("198.51.100.1", 1000), ("203.0.113.2", 3478), 0.1)
    assert not gatherer.receive_datagram(answer, ("198.51.100.1", 1000), ("203.0.113.2", 3478), 0.1)
    result = gatherer.next_result()
    assert result is not None and result.mapped == MAPPED and not result.redundant
    times = [0.0]
    while (timer := gatherer.get_timer()) is not None:
        gatherer.handle_timer(timer)
        if gatherer.datagrams_to_send():
            times.append(timer)
    assert times == [0.0, 0.5, 1.5, 3.5]  # then the 5 s deadline ends it
    assert gatherer.done and gatherer.next_result() is None


def test_turn_tls_ca_file_configuration_key() -> None:
    config = Configuration.from_dict({"turnTlsCaFile": "/tmp/ca.pem"})
    assert config.turn_tls_ca_file == "/tmp/ca.pem"
    assert Configuration.from_dict({}).turn_tls_ca_file is None
