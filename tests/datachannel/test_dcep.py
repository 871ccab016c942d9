"""DCEP codec tests (RFC 8832 §5): round trips, exact wire bytes, every malformed path."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trio_webrtc.datachannel.dcep import (
    MAX_DCEP_MESSAGE_SIZE,
    ChannelType,
    DataChannelAck,
    DataChannelOpen,
    Ppid,
    Priority,
    parse_dcep,
)
from trio_webrtc.errors import DcepParseError, LocalProtocolError


def open_bytes(
    channel_type: int = 0,
    priority: int = 256,
    reliability: int = 0,
    label: bytes = b"",
    protocol: bytes = b"",
    *,
    label_len: int | None = None,
    protocol_len: int | None = None,
) -> bytes:
    header = struct.pack(
        "!BBHIHH",
        0x03,
        channel_type,
        priority,
        reliability,
        len(label) if label_len is None else label_len,
        len(protocol) if protocol_len is None else protocol_len,
    )
    return header + label + protocol


def test_ppid_and_type_values() -> None:
    assert [int(p) for p in Ppid] == [50, 51, 52, 53, 54, 56, 57]
    assert {t.name: int(t) for t in ChannelType} == {
        "RELIABLE": 0x00,
        "RELIABLE_UNORDERED": 0x80,
        "PARTIAL_RELIABLE_REXMIT": 0x01,
        "PARTIAL_RELIABLE_REXMIT_UNORDERED": 0x81,
        "PARTIAL_RELIABLE_TIMED": 0x02,
        "PARTIAL_RELIABLE_TIMED_UNORDERED": 0x82,
    }
    assert ChannelType.build(ordered=False, reliability=2) is (
        ChannelType.PARTIAL_RELIABLE_TIMED_UNORDERED
    )


def test_open_wire_format() -> None:
    message = DataChannelOpen(
        ChannelType.PARTIAL_RELIABLE_REXMIT_UNORDERED, Priority.HIGH, 7, "chat", "json"
    )
    wire = message.encode()
    assert wire == bytes.fromhex("03 81 0200 00000007 0004 0004") + b"chatjson"
    assert parse_dcep(wire) == message
    assert message.max_retransmits == 7
    assert message.max_packet_lifetime is None
    assert not message.ordered


def test_ack_wire_format() -> None:
    assert DataChannelAck().encode() == b"\x02"
    assert parse_dcep(b"\x02") == DataChannelAck()
    assert parse_dcep(bytearray(b"\x02")) == DataChannelAck()
    assert parse_dcep(memoryview(b"\x02")) == DataChannelAck()


def test_reliable_type_sends_zero_reliability_parameter() -> None:
    wire = DataChannelOpen(ChannelType.RELIABLE, 256, 99, "x", "").encode()
    assert wire[4:8] == b"\x00\x00\x00\x00"
    parsed = parse_dcep(wire)
    assert isinstance(parsed, DataChannelOpen)
    assert parsed.max_retransmits is None
    assert parsed.max_packet_lifetime is None


def test_timed_type_properties() -> None:
    message = DataChannelOpen(ChannelType.PARTIAL_RELIABLE_TIMED, 256, 1500, "t", "")
    parsed = parse_dcep(message.encode())
    assert isinstance(parsed, DataChannelOpen)
    assert parsed.max_packet_lifetime == 1500
    assert parsed.ordered


def test_unicode_label_and_protocol_round_trip() -> None:
    message = DataChannelOpen(label="𝄞 a\x00b é", protocol="proto/ü")
    assert parse_dcep(message.encode()) == message


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"\x01", "unknown DCEP message type"),
        (b"\xff" * 20, "unknown DCEP message type"),
        (b"\x02\x00", "must be 1 byte"),
        (b"\x03", "truncated"),
        (open_bytes()[:11], "truncated"),
        (open_bytes(channel_type=0x03), "unknown DCEP channel type"),
        (open_bytes(channel_type=0x83), "unknown DCEP channel type"),
        (open_bytes(channel_type=0x40), "unknown DCEP channel type"),
        (open_bytes(label=b"abc", label_len=4), "do not match"),
        (open_bytes(label=b"abc", label_len=2), "do not match"),
        (open_bytes(protocol=b"abc", protocol_len=0xFFFF), "do not match"),
        (open_bytes(label=b"a") + b"trailing", "do not match"),
        (open_bytes(label=b"\xff\xfe"), "not valid UTF-8"),
        (open_bytes(protocol=b"\xc3"), "not valid UTF-8"),
        (open_bytes(label=b"\xed\xa0\x80"), "not valid UTF-8"),  # encoded surrogate
    ],
)
def test_malformed(data: bytes, reason: str) -> None:
    with pytest.raises(DcepParseError, match=reason):
        parse_dcep(data)


def test_size_limit_boundary() -> None:
    assert MAX_DCEP_MESSAGE_SIZE == 12 + 2 * 65535
    parsed = parse_dcep(open_bytes(label=b"x" * 65535, protocol=b"y" * 65535))
    assert isinstance(parsed, DataChannelOpen)
    assert (len(parsed.label), len(parsed.protocol)) == (65535, 65535)
    with pytest.raises(DcepParseError, match="exceeds"):
        parse_dcep(open_bytes(label=b"x" * 65535, protocol=b"y" * 65535) + b"z")


@pytest.mark.parametrize(
    "message",
    [
        DataChannelOpen(priority=-1),
        DataChannelOpen(priority=0x10000),
        DataChannelOpen(ChannelType.PARTIAL_RELIABLE_REXMIT, 256, -1),
        DataChannelOpen(ChannelType.PARTIAL_RELIABLE_REXMIT, 256, 2**32),
        DataChannelOpen(label="x" * 0x10000),
        DataChannelOpen(protocol="y" * 0x10000),
        DataChannelOpen(label="\ud800"),
    ],
)
def test_encode_rejects_out_of_range(message: DataChannelOpen) -> None:
    with pytest.raises(LocalProtocolError):
        message.encode()


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_parse_raises_only_dcep_parse_error(data: bytes) -> None:
    try:
        result = parse_dcep(data)
    except DcepParseError:
        return
    assert isinstance(result, (DataChannelOpen, DataChannelAck))
    wire = result.encode()
    assert len(wire) == len(data)
    assert parse_dcep(wire).encode() == wire


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(list(ChannelType)),
    st.integers(0, 0xFFFF),
    st.integers(0, 0xFFFFFFFF),
    st.binary(max_size=40),
    st.binary(max_size=40),
)
def test_fuzz_open_header_mutations(
    channel_type: ChannelType, priority: int, reliability: int, label: bytes, protocol: bytes
) -> None:
    """Valid-looking headers with arbitrary payload bytes: parse or DcepParseError only."""
    data = open_bytes(channel_type, priority, reliability, label, protocol)
    try:
        result = parse_dcep(data)
    except DcepParseError:
        return
    assert isinstance(result, DataChannelOpen)
    assert result.label.encode() == label
    assert result.protocol.encode() == protocol
    assert result.channel_type is channel_type


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(list(ChannelType)),
    st.integers(0, 0xFFFF),
    st.integers(0, 0xFFFFFFFF),
    st.text(max_size=30),
    st.text(max_size=30),
)
def test_fuzz_round_trip(
    channel_type: ChannelType, priority: int, reliability: int, label: str, protocol: str
) -> None:
    try:
        message = DataChannelOpen(channel_type, priority, reliability, label, protocol)
        wire = message.encode()
    except LocalProtocolError:
        assert any(0xD800 <= ord(c) <= 0xDFFF for c in label + protocol)
        return
    parsed = parse_dcep(wire)
    assert isinstance(parsed, DataChannelOpen)
    assert parsed.label == label
    assert parsed.protocol == protocol
    assert parsed.priority == priority
    assert parsed.channel_type is channel_type
    expected = reliability if channel_type.reliability else 0
    assert parsed.reliability_parameter == expected
