"""ChannelManager tests over an in-memory fake SCTP (RFC 8831 §6, RFC 8832 §6)."""

from __future__ import annotations

import struct

import pytest
from fake_sctp import FakePair, FakeSctp, SentMessage, drain
from hypothesis import given, settings
from hypothesis import strategies as st

from trio_webrtc.datachannel.channels import (
    MAX_CLOSED_RECORDS,
    ChannelBufferedAmountLow,
    ChannelClosed,
    ChannelClosing,
    ChannelManager,
    ChannelMessage,
    ChannelOpened,
    ChannelParameters,
    ChannelState,
    DataChannelInfo,
    IncomingChannel,
    InvalidParametersError,
)
from trio_webrtc.datachannel.dcep import ChannelType, DataChannelOpen, Ppid, parse_dcep
from trio_webrtc.errors import InvalidStateError, LocalProtocolError, MessageTooLargeError


def open_pair(max_channels: int = 1024) -> FakePair:
    pair = FakePair(max_channels=max_channels)
    pair.establish()
    return pair


def connected_channel(pair: FakePair, params: ChannelParameters | None = None) -> tuple[int, int]:
    """Open an in-band channel from a to b; return (key on a, key on b)."""
    info = pair.a.create_channel(params or ChannelParameters(label="chat"), 0.0)
    pair.pump()
    events_b = drain(pair.b)
    assert isinstance(events_b[0], IncomingChannel)
    assert events_b[1] == ChannelOpened(events_b[0].key)
    assert drain(pair.a) == [ChannelOpened(info.key)]
    return info.key, events_b[0].key


def state(info: DataChannelInfo) -> ChannelState:
    """Read the state through a call, so mypy does not narrow it across transitions."""
    return info.state


def open_message(**kwargs: object) -> bytes:
    return DataChannelOpen(**kwargs).encode()  # type: ignore[arg-type]


# -- opening ------------------------------------------------------------------------------


def test_in_band_open_uses_parity_and_open_ack() -> None:
    pair = open_pair()
    c0 = pair.a.create_channel(ChannelParameters(label="x", protocol="p", priority=512), 1.0)
    c1 = pair.a.create_channel(ChannelParameters(label="y"), 1.0)
    s0 = pair.b.create_channel(ChannelParameters(label="z"), 1.0)
    assert (c0.stream_id, c1.stream_id, s0.stream_id) == (0, 2, 1)
    assert c0.state is ChannelState.CONNECTING
    first = pair.sctp_a.sent[0]
    assert (first.stream_id, first.ppid, first.ordered) == (0, Ppid.DCEP, True)
    assert parse_dcep(first.data) == DataChannelOpen(ChannelType.RELIABLE, 512, 0, "x", "p")
    pair.pump()
    assert [m.data for m in pair.sctp_b.sent if m.stream_id in (0, 2)] == [b"\x02", b"\x02"]
    assert state(c0) is ChannelState.OPEN
    # Deliveries interleave: b's OPEN reaches a before a's ACKs come back.
    assert drain(pair.a) == [
        IncomingChannel(3),
        ChannelOpened(3),
        ChannelOpened(c0.key),
        ChannelOpened(c1.key),
    ]
    events_b = drain(pair.b)
    assert ChannelOpened(s0.key) in events_b  # b's own channel acked by a
    incoming = [e for e in events_b if isinstance(e, IncomingChannel)]
    assert [pair.b.channels[e.key].label for e in incoming] == ["x", "y"]
    remote = pair.b.channels[incoming[0].key]
    assert remote.remote and remote.stream_id == 0 and remote.state is ChannelState.OPEN
    assert remote.parameters == ChannelParameters(label="x", protocol="p", id=0, priority=512)
    # DCEP bytes were returned to the SCTP window by the manager itself.
    assert pair.sctp_b.consumed == len(first.data) + len(pair.sctp_a.sent[1].data) + 1


def test_remote_reliability_parameters_are_reconstructed() -> None:
    pair = open_pair()
    params = ChannelParameters(label="u", ordered=False, max_packet_lifetime=250)
    _, key_b = connected_channel(pair, params)
    got = pair.b.channels[key_b].parameters
    assert (got.ordered, got.max_packet_lifetime, got.max_retransmits) == (False, 250, None)


def test_negotiated_channels_open_on_both_sides_with_same_id() -> None:
    pair = FakePair()
    a = pair.a.create_channel(ChannelParameters(label="n", negotiated=True, id=7), 0.0)
    b = pair.b.create_channel(ChannelParameters(label="n", negotiated=True, id=7), 0.0)
    assert a.stream_id == b.stream_id == 7
    assert a.state is ChannelState.CONNECTING
    pair.establish()
    assert drain(pair.a) == [ChannelOpened(a.key)]
    assert drain(pair.b) == [ChannelOpened(b.key)]
    assert pair.sctp_a.sent == []  # no DCEP for negotiated channels
    pair.a.send(a.key, "hi", 0.0)
    pair.pump()
    assert drain(pair.b) == [ChannelMessage(b.key, "hi", 2)]
    # Created after establishment: OPEN immediately.
    late = pair.a.create_channel(ChannelParameters(negotiated=True, id=100), 0.0)
    assert late.state is ChannelState.OPEN
    assert drain(pair.a) == [ChannelOpened(late.key)]


def test_channels_created_before_dtls_role_is_known() -> None:
    pair = FakePair(role_known=False)
    early = pair.a.create_channel(ChannelParameters(label="early"), 0.0)
    neg = pair.a.create_channel(ChannelParameters(negotiated=True, id=0), 0.0)
    early_b = pair.b.create_channel(ChannelParameters(label="early-b"), 0.0)
    assert early.stream_id is None and early_b.stream_id is None
    assert neg.stream_id == 0
    with pytest.raises(InvalidStateError):
        pair.a.on_association_established(0.0)
    pair.set_roles()
    assert early.stream_id == 2  # even (client), skipping the negotiated id 0
    assert early_b.stream_id == 1
    with pytest.raises(InvalidStateError):
        pair.a.set_dtls_role(False)
    pair.a.set_dtls_role(True)  # same role again is fine
    pair.establish()
    assert early.state is early_b.state is neg.state is ChannelState.OPEN


def test_in_band_id_is_ignored_unless_negotiated() -> None:
    pair = open_pair()
    info = pair.a.create_channel(ChannelParameters(id=41), 0.0)
    assert info.stream_id == 0


def test_opener_goes_open_when_data_arrives_before_ack() -> None:
    pair = open_pair()
    info = pair.a.create_channel(ChannelParameters(), 0.0)
    assert info.stream_id is not None
    with pytest.raises(InvalidStateError):
        pair.a.send(info.key, "too early", 0.0)
    pair.a.on_data(info.stream_id, Ppid.STRING, b"hello", 0.0)
    assert drain(pair.a) == [ChannelOpened(info.key), ChannelMessage(info.key, "hello", 5)]
    pair.a.on_data(info.stream_id, Ppid.DCEP, b"\x02", 0.0)  # late ACK: no second event
    assert drain(pair.a) == []
    assert info.state is ChannelState.OPEN


# -- messages -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "ppid", "wire", "nbytes"),
    [
        ("", Ppid.STRING_EMPTY, b"\x00", 1),
        (b"", Ppid.BINARY_EMPTY, b"\x00", 1),
        ("a\x00b", Ppid.STRING, b"a\x00b", 3),
        ("𝄞", Ppid.STRING, "𝄞".encode(), 4),
        (b"\x00\xff\x01", Ppid.BINARY, b"\x00\xff\x01", 3),
    ],
)
def test_message_types(data: bytes | str, ppid: Ppid, wire: bytes, nbytes: int) -> None:
    pair = open_pair()
    key_a, key_b = connected_channel(pair)
    pair.a.send(key_a, data, 0.0)
    sent = pair.sctp_a.sent[-1]
    assert (sent.ppid, sent.data) == (ppid, wire)
    pair.pump()
    (event,) = drain(pair.b)
    assert event == ChannelMessage(key_b, data, nbytes)
    assert type(event.data) is type(data)
    info_a, info_b = pair.a.channels[key_a], pair.b.channels[key_b]
    assert info_a.messages_sent == info_b.messages_received == 1
    assert info_a.bytes_sent == info_b.bytes_received == len(wire) - (nbytes == 1 and not data)
    consumed = pair.sctp_b.consumed
    pair.b.message_read(event.nbytes)
    assert pair.sctp_b.consumed == consumed + nbytes


def test_bytearray_and_memoryview_are_sent_as_binary_copies() -> None:
    pair = open_pair()
    key_a, _ = connected_channel(pair)
    buffer = bytearray(b"abc")
    pair.a.send(key_a, buffer, 0.0)
    buffer[0] = 0x7A
    pair.a.send(key_a, memoryview(b"xyz"), 0.0)
    pair.pump()
    assert [e.data for e in drain(pair.b) if isinstance(e, ChannelMessage)] == [b"abc", b"xyz"]


def test_lone_surrogate_is_sent_as_replacement_character() -> None:
    pair = open_pair()
    key_a, _ = connected_channel(pair)
    pair.a.send(key_a, "a\ud800b", 0.0)
    assert pair.sctp_a.sent[-1].data == "a\ufffdb".encode()


def test_invalid_utf8_text_from_peer_is_replaced() -> None:
    pair = open_pair()
    _, key_b = connected_channel(pair)
    pair.b.on_data(0, Ppid.STRING, b"a\xffb", 0.0)
    assert drain(pair.b) == [ChannelMessage(key_b, "a\ufffdb", 3)]


def test_deprecated_and_unknown_ppids_are_dropped_but_consumed() -> None:
    pair = open_pair()
    connected_channel(pair)
    before = pair.sctp_b.consumed
    pair.b.on_data(0, Ppid.STRING_PARTIAL, b"abcd", 0.0)
    pair.b.on_data(0, Ppid.BINARY_PARTIAL, b"ab", 0.0)
    pair.b.on_data(0, 9999, b"a", 0.0)
    pair.b.on_data(42, Ppid.BINARY, b"abcdef", 0.0)  # held for a channel not yet created
    assert drain(pair.b) == []
    assert pair.sctp_b.consumed == before + 7


def test_max_message_size_default_is_65536_when_absent() -> None:
    pair = open_pair()
    key_a, _ = connected_channel(pair)
    assert pair.a.max_message_size == 65536
    sent = len(pair.sctp_a.sent)
    pair.a.send(key_a, b"x" * 65536, 0.0)
    with pytest.raises(MessageTooLargeError, match=r"65537 bytes.*65536 bytes"):
        pair.a.send(key_a, b"x" * 65537, 0.0)
    with pytest.raises(MessageTooLargeError):
        pair.a.send(key_a, "é" * 32769, 0.0)  # 65538 UTF-8 bytes, 32769 characters
    assert len(pair.sctp_a.sent) == sent + 1
    assert pair.a.channels[key_a].messages_sent == 1


def test_max_message_size_zero_means_unlimited_and_explicit_values_apply() -> None:
    pair = open_pair()
    key_a, _ = connected_channel(pair)
    pair.a.set_remote_max_message_size(0)
    pair.a.send(key_a, b"x" * 300_000, 0.0)
    pair.a.set_remote_max_message_size(10)
    pair.a.send(key_a, "0123456789", 0.0)
    with pytest.raises(MessageTooLargeError):
        pair.a.send(key_a, "0123456789a", 0.0)
    pair.a.set_remote_max_message_size(None)
    assert pair.a.max_message_size == 65536
    manager = ChannelManager(FakeSctp(), max_message_size_remote=1000)
    assert manager.max_message_size == 1000


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (ChannelParameters(), (True, None, None)),
        (ChannelParameters(ordered=False), (False, None, None)),
        (ChannelParameters(max_retransmits=0), (True, 0, None)),
        (ChannelParameters(ordered=False, max_retransmits=3), (False, 3, None)),
        (ChannelParameters(max_packet_lifetime=1500), (True, None, 1.5)),
        (ChannelParameters(ordered=False, max_packet_lifetime=20), (False, None, 0.02)),
    ],
)
def test_reliability_parameters_map_onto_sctp_send(
    params: ChannelParameters, expected: tuple[bool, int | None, float | None]
) -> None:
    pair = open_pair()
    key_a, _ = connected_channel(pair, params)
    pair.a.send(key_a, b"d", 5.0)
    sent = pair.sctp_a.sent[-1]
    assert (sent.ordered, sent.max_retransmits, sent.lifetime) == expected
    # The OPEN itself always goes reliable and ordered.
    assert pair.sctp_a.sent[0] == SentMessage(
        0, Ppid.DCEP, params.to_open_message().encode(), True, None, None
    )


# -- closing ------------------------------------------------------------------------------


@pytest.mark.parametrize("closer", ["a", "b"])
def test_close_from_either_side(closer: str) -> None:
    pair = open_pair()
    key_a, key_b = connected_channel(pair)
    local, remote = (pair.a, pair.b) if closer == "a" else (pair.b, pair.a)
    local_key, remote_key = (key_a, key_b) if closer == "a" else (key_b, key_a)
    local.close(local_key, 0.0)
    assert local.channels[local_key].state is ChannelState.CLOSING
    assert drain(local) == [ChannelClosing(local_key)]
    local.close(local_key, 0.0)  # idempotent: no second reset
    assert len((pair.sctp_a if closer == "a" else pair.sctp_b).resets) == 1
    pair.pump()
    assert drain(local) == [ChannelClosed(local_key)]
    assert drain(remote) == [ChannelClosing(remote_key), ChannelClosed(remote_key)]
    assert pair.sctp_a.resets == [(0,)] and pair.sctp_b.resets == [(0,)]
    for manager, key in ((pair.a, key_a), (pair.b, key_b)):
        info = manager.channels[key]
        assert info.state is ChannelState.CLOSED
        assert info.buffered_amount == 0
        with pytest.raises(InvalidStateError):
            manager.send(key, "late", 0.0)
    local.close(local_key, 0.0)
    assert drain(local) == []
    # The stream id is free again.
    reopened = pair.a.create_channel(ChannelParameters(label="again"), 0.0)
    assert reopened.stream_id == 0
    pair.pump()
    assert reopened.state is ChannelState.OPEN


def test_data_queued_before_close_is_delivered_then_dropped_after() -> None:
    pair = open_pair()
    key_a, key_b = connected_channel(pair)
    pair.a.send(key_a, "last", 0.0)
    pair.a.close(key_a, 0.0)
    pair.pump()
    assert drain(pair.b) == [
        ChannelMessage(key_b, "last", 4),
        ChannelClosing(key_b),
        ChannelClosed(key_b),
    ]


def test_close_without_stream_in_use_is_immediate() -> None:
    pair = FakePair(role_known=False)
    info = pair.a.create_channel(ChannelParameters(), 0.0)
    pair.a.close(info.key, 0.0)
    assert info.state is ChannelState.CLOSED
    assert drain(pair.a) == [ChannelClosed(info.key)]
    neg = pair.a.create_channel(ChannelParameters(negotiated=True, id=3), 0.0)
    pair.a.close(neg.key, 0.0)  # not established yet: nothing to reset
    assert neg.state is ChannelState.CLOSED
    assert pair.sctp_a.resets == []
    pair.a.create_channel(ChannelParameters(negotiated=True, id=3), 0.0)  # id free again


def test_peer_refusing_our_open_closes_the_channel() -> None:
    pair = open_pair()
    info = pair.a.create_channel(ChannelParameters(), 0.0)
    pair.sctp_a.outbox.clear()  # the OPEN is lost; the peer resets the stream instead
    pair.a.on_streams_reset([0], 0.0)
    assert info.state is ChannelState.CLOSING
    pair.a.on_outgoing_streams_reset([0], 0.0)
    assert state(info) is ChannelState.CLOSED
    assert drain(pair.a) == [ChannelClosing(info.key), ChannelClosed(info.key)]


def test_association_closed_closes_everything() -> None:
    pair = open_pair()
    key_a, _ = connected_channel(pair)
    closing_key, _ = connected_channel(pair)
    pair.a.close(closing_key, 0.0)
    connecting = pair.a.create_channel(ChannelParameters(), 0.0)
    drain(pair.a)
    pair.a.on_association_closed()
    assert sorted(e.key for e in drain(pair.a)) == sorted([key_a, connecting.key, closing_key])
    assert all(i.state is ChannelState.CLOSED for i in pair.a.channels.values())
    pair.a.on_association_closed()
    assert drain(pair.a) == []
    with pytest.raises(InvalidStateError):
        pair.a.create_channel(ChannelParameters(), 0.0)


# -- limits and hostile peers -------------------------------------------------------------


def test_remote_channels_beyond_max_channels_are_refused_and_memory_is_bounded() -> None:
    pair = open_pair(max_channels=4)
    for stream_id in range(1, 2000, 2):  # the peer (DTLS server) uses odd ids
        pair.a.on_data(stream_id, Ppid.DCEP, open_message(label=str(stream_id)), 0.0)
    assert len(pair.a.channels) == 4
    assert len([e for e in drain(pair.a) if isinstance(e, IncomingChannel)]) == 4
    refused = [ids for ids in pair.sctp_a.resets]
    assert len(refused) == 996 and refused[0] == (9,)
    # A second OPEN on a refused stream is not refused twice.
    pair.a.on_data(9, Ppid.DCEP, open_message(), 0.0)
    assert len(pair.sctp_a.resets) == 996
    with pytest.raises(LocalProtocolError, match="too many"):
        pair.a.create_channel(ChannelParameters(), 0.0)


def test_closed_records_are_forgotten_beyond_max_closed_records() -> None:
    pair = open_pair(max_channels=3)
    keys = []
    for _ in range(MAX_CLOSED_RECORDS + 7):
        key_a, _ = connected_channel(pair)
        keys.append(key_a)
        pair.a.close(key_a, 0.0)
        pair.pump()
        drain(pair.a)
        drain(pair.b)
    assert len(pair.a.channels) == MAX_CLOSED_RECORDS
    assert len(pair.b.channels) == MAX_CLOSED_RECORDS
    assert pair.a.get(keys[6]) is None
    assert pair.a.get(keys[7]) is not None
    assert pair.a.get(keys[-1]) is not None


def test_remote_open_on_reserved_stream_is_ignored() -> None:
    pair = open_pair()
    resets = list(pair.sctp_a.resets)
    pair.a.on_data(65535, Ppid.DCEP, open_message(), 0.0)  # reserved
    assert drain(pair.a) == []
    assert pair.sctp_a.resets == resets
    assert pair.sctp_a.sent == []


@pytest.mark.parametrize(
    "garbage",
    [b"", b"\x03", b"\x04abc", b"\x02\x02", b"\x03\x05" + b"\x00" * 10, b"\xff" * 100],
)
def test_garbage_on_dcep_ppid_resets_the_stream_without_ack(garbage: bytes) -> None:
    pair = open_pair()
    before = pair.sctp_a.consumed
    pair.a.on_data(1, Ppid.DCEP, garbage, 0.0)
    assert drain(pair.a) == []
    assert pair.sctp_a.sent == []
    assert pair.sctp_a.resets == [(1,)]
    assert pair.sctp_a.consumed == before + len(garbage)


def test_unexpected_ack_is_ignored() -> None:
    pair = open_pair()
    pair.a.on_data(1, Ppid.DCEP, b"\x02", 0.0)
    key_a, _ = connected_channel(pair)
    pair.a.on_data(0, Ppid.DCEP, b"\x02", 0.0)
    assert drain(pair.a) == []
    assert pair.a.channels[key_a].state is ChannelState.OPEN


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 70000),
            st.sampled_from([0, 50, 51, 52, 53, 54, 56, 57, 4242]),
            st.one_of(
                st.binary(max_size=40),
                st.builds(
                    lambda t, label: struct.pack("!BBHIHH", 3, t, 256, 0, len(label), 0) + label,
                    st.integers(0, 255),
                    st.binary(max_size=8),
                ),
            ),
        ),
        max_size=30,
    )
)
def test_fuzz_peer_input_never_raises(messages: list[tuple[int, int, bytes]]) -> None:
    pair = open_pair(max_channels=5)
    connected_channel(pair)
    for stream_id, ppid, data in messages:
        pair.a.on_data(stream_id, ppid, data, 0.0)
        pair.a.on_streams_reset([stream_id], 0.0)
        pair.a.on_outgoing_streams_reset([stream_id], 0.0)
        pair.a.on_buffered_amount_low(stream_id)
    assert len([i for i in pair.a.channels.values() if i.state is not ChannelState.CLOSED]) <= 5
    assert len(pair.a.channels) <= 10


# -- parameters, thresholds, misc ---------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_retransmits": 1, "max_packet_lifetime": 1},
        {"negotiated": True},
        {"negotiated": True, "id": 65535},
        {"id": -1},
        {"max_retransmits": -1},
        {"max_packet_lifetime": 2**32},
        {"priority": 70000},
        {"label": "x" * 65536},
        {"protocol": "é" * 32768},
        {"label": "\udc00"},
    ],
)
def test_invalid_parameters(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidParametersError):
        ChannelParameters(**kwargs)  # type: ignore[arg-type]
    assert issubclass(InvalidParametersError, LocalProtocolError)
    assert issubclass(InvalidParametersError, ValueError)


def test_local_id_conflict_is_refused() -> None:
    pair = open_pair()
    key_a, _ = connected_channel(pair)  # stream 0
    with pytest.raises(LocalProtocolError, match="in use"):
        pair.a.create_channel(ChannelParameters(negotiated=True, id=0), 0.0)
    assert len(pair.a.channels) == 1
    with pytest.raises(LocalProtocolError):
        pair.a.send(12345, "no such channel", 0.0)
    assert pair.a.get(key_a) is pair.a.channels[key_a]


def test_buffered_amount_and_low_threshold() -> None:
    pair = open_pair()
    pending = pair.a.create_channel(ChannelParameters(), 0.0)
    pair.a.set_buffered_amount_low_threshold(pending.key, 100)
    assert pair.sctp_a.thresholds == {0: 100}
    pair.pump()
    drain(pair.a)
    drain(pair.b)
    pair.sctp_a.buffered[0] = 1234
    assert pending.buffered_amount == 1234
    assert pending.buffered_amount_low_threshold == 100
    pair.a.on_buffered_amount_low(0)
    pair.a.on_buffered_amount_low(77)  # unknown stream: nothing
    assert drain(pair.a) == [ChannelBufferedAmountLow(pending.key)]
    with pytest.raises(InvalidParametersError):
        pair.a.set_buffered_amount_low_threshold(pending.key, -1)
    pair.a.close(pending.key, 0.0)
    pair.pump()
    assert pair.sctp_a.thresholds == {0: 0}  # reset for the next user of stream 0
    assert pending.buffered_amount == 0


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["create", "close", "send", "pump"]),
            st.sampled_from(["a", "b"]),
            st.integers(0, 7),
        ),
        max_size=40,
    )
)
def test_random_operations_keep_both_sides_consistent(ops: list[tuple[str, str, int]]) -> None:
    """Interleaved creates/closes/sends from both sides settle into agreeing states."""
    pair = open_pair(max_channels=6)
    for op, side, index in ops:
        manager = pair.a if side == "a" else pair.b
        live = [i for i in manager.channels.values() if i.state is not ChannelState.CLOSED]
        if op == "create" and len(live) < 6:
            manager.create_channel(ChannelParameters(label=f"{side}{index}"), 0.0)
        elif op == "close" and live:
            manager.close(live[index % len(live)].key, 0.0)
        elif op == "send" and live:
            info = live[index % len(live)]
            if state(info) is ChannelState.OPEN:
                manager.send(info.key, str(index), 0.0)
            else:
                with pytest.raises(InvalidStateError):
                    manager.send(info.key, str(index), 0.0)
        elif op == "pump":
            pair.pump()
    pair.pump()
    streams = []
    for manager in (pair.a, pair.b):
        drain(manager)
        states = {i.state for i in manager.channels.values()}
        assert states <= {ChannelState.OPEN, ChannelState.CLOSED}
        streams.append(
            {
                i.stream_id: i.label
                for i in manager.channels.values()
                if i.state is ChannelState.OPEN
            }
        )
    assert streams[0] == streams[1]
