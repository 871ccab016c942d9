"""RTP header codec (RFC 3550 §5.1, RFC 8285): vectors, round trips, aiortc as a witness,
serial-number helpers, and fuzzing (only RtpParseError)."""

from __future__ import annotations

import contextlib
import struct

import pytest
from aiortc import rtp as aiortc_rtp
from hypothesis import given, settings
from hypothesis import strategies as st

from trio_webrtc.errors import LocalProtocolError, RtpParseError
from trio_webrtc.rtp.packet import (
    EXTENSION_PROFILE_ONE_BYTE,
    EXTENSION_PROFILE_TWO_BYTE,
    RtpPacket,
    Unwrapper,
    parse_rtp,
    seq_distance,
    seq_newer,
    ts_distance,
    ts_newer,
)


def test_fixed_header_vector() -> None:
    # V=2, no P/X/CC; M=1, PT=96; seq 0x1234; ts 0xDEADBEEF; SSRC 0x01020304; payload.
    data = bytes.fromhex("80e01234deadbeef01020304") + b"hello"
    packet = parse_rtp(data)
    assert packet == RtpPacket(96, 0x1234, 0xDEADBEEF, 0x01020304, b"hello", marker=True)
    assert packet.serialize() == data
    assert packet.header_size == 12


def test_csrcs_padding_and_memoryview() -> None:
    packet = RtpPacket(111, 65535, 1, 7, b"\x01\x02\x03", csrcs=(1, 2, 0xFFFFFFFF), padding=5)
    wire = packet.serialize()
    assert wire[0] == 0x80 | 0x20 | 3
    assert wire[-1] == 5 and len(wire) == 12 + 12 + 3 + 5
    assert parse_rtp(memoryview(bytearray(wire))) == packet
    assert parse_rtp(memoryview(wire)[0:]) == packet


def test_one_byte_extensions_vector_from_rfc8285() -> None:
    # RFC 8285 §4.2 example shape: ID 1 (1 byte), ID 2 (2 bytes), padding, ID 3 (4 bytes).
    body = bytes([0x10, 0xAA, 0x21, 0xBB, 0xBB, 0x00, 0x00, 0x33, 0xCC, 0xCC, 0xCC, 0xCC])
    data = bytes.fromhex("90600001000000020000000a") + struct.pack("!HH", 0xBEDE, 3) + body
    packet = parse_rtp(data + b"pay")
    assert packet.extensions == ((1, b"\xaa"), (2, b"\xbb\xbb"), (3, b"\xcc" * 4))
    assert packet.extension_profile == EXTENSION_PROFILE_ONE_BYTE
    assert packet.payload == b"pay"
    assert packet.extension(2) == b"\xbb\xbb" and packet.extension(9) is None
    # Re-encoding packs the elements without the inner padding, still one-byte.
    again = parse_rtp(packet.serialize())
    assert again.extensions == packet.extensions


def test_one_byte_id_15_stops_parsing() -> None:
    body = bytes([0x10, 0x01, 0xF0, 0x22, 0x00, 0x00, 0x00, 0x00])
    data = bytes.fromhex("90600001000000020000000a") + struct.pack("!HH", 0xBEDE, 2) + body
    assert parse_rtp(data).extensions == ((1, b"\x01"),)


def test_two_byte_extensions_round_trip() -> None:
    packet = RtpPacket(
        100,
        1,
        2,
        3,
        b"x",
        extensions=((1, b""), (200, b"y" * 255), (3, b"zz")),
        extension_profile=EXTENSION_PROFILE_TWO_BYTE | 0x5,
    )
    parsed = parse_rtp(packet.serialize())
    assert parsed.extensions == packet.extensions
    assert parsed.extension_profile == 0x1005


def test_auto_profile_choice_and_limits() -> None:
    short = RtpPacket(96, 1, 2, 3, extensions=((14, b"a" * 16),))
    assert parse_rtp(short.serialize()).extension_profile == EXTENSION_PROFILE_ONE_BYTE
    long = RtpPacket(96, 1, 2, 3, extensions=((15, b"a"),))
    assert parse_rtp(long.serialize()).extension_profile == EXTENSION_PROFILE_TWO_BYTE
    with pytest.raises(LocalProtocolError):
        RtpPacket(96, 1, 2, 3, extensions=((15, b"a"),), extension_profile=0xBEDE).serialize()
    with pytest.raises(LocalProtocolError):
        RtpPacket(96, 1, 2, 3, extensions=((1, b"a"),), extension_profile=0x1234).serialize()
    with pytest.raises(LocalProtocolError):
        RtpPacket(128, 1, 2, 3).serialize()
    with pytest.raises(LocalProtocolError):
        RtpPacket(96, 1, 2, 3, csrcs=tuple(range(16))).serialize()


def test_raw_extension_profile_kept() -> None:
    packet = RtpPacket(96, 1, 2, 3, b"p", extension_profile=0xABCD, extension_data=b"12345678")
    parsed = parse_rtp(packet.serialize())
    assert parsed.extension_profile == 0xABCD
    assert parsed.extension_data == b"12345678" and parsed.extensions == ()
    assert parsed == packet


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"\x80\x60\x00", "short"),
        (bytes.fromhex("40600001000000020000000a"), "version 1"),
        (bytes.fromhex("83600001000000020000000a") + b"\x00" * 8, "CSRC overrun"),
        (bytes.fromhex("90600001000000020000000a") + b"\xbe\xde", "ext header cut"),
        (bytes.fromhex("90600001000000020000000a") + b"\xbe\xde\x00\x02\x10\x00", "ext overrun"),
        (
            bytes.fromhex("90600001000000020000000a") + b"\xbe\xde\x00\x01\x13\x00\x00\x00",
            "element overrun",
        ),
        (bytes.fromhex("a0600001000000020000000a") + b"ab\x00", "padding zero"),
        (bytes.fromhex("a0600001000000020000000a") + b"ab\x09", "padding too big"),
    ],
)
def test_malformed(data: bytes, why: str) -> None:
    with pytest.raises(RtpParseError):
        parse_rtp(data)


def test_aiortc_reads_ours_and_we_read_theirs() -> None:
    ours = RtpPacket(
        97,
        40000,
        123456789,
        0xCAFEBABE,
        b"media" * 20,
        marker=True,
        csrcs=(5, 6),
        extensions=((1, b"\x01\x02"), (4, b"mid0")),
    )
    theirs = aiortc_rtp.RtpPacket.parse(ours.serialize())
    assert (theirs.payload_type, theirs.sequence_number, theirs.timestamp, theirs.ssrc) == (
        97,
        40000,
        123456789,
        0xCAFEBABE,
    )
    assert theirs.marker == 1 and theirs.csrc == [5, 6] and theirs.payload == b"media" * 20
    profile, value = aiortc_rtp.pack_header_extensions([(1, b"\x01\x02"), (4, b"mid0")])
    assert aiortc_rtp.unpack_header_extensions(profile, value) == list(ours.extensions)

    packet = aiortc_rtp.RtpPacket(payload_type=111, marker=0, sequence_number=7, timestamp=9)
    packet.ssrc = 42
    packet.payload = b"\xfc" * 30
    packet.csrc = [77]
    parsed = parse_rtp(packet.serialize())
    assert parsed == RtpPacket(111, 7, 9, 42, b"\xfc" * 30, csrcs=(77,))


def test_serial_number_helpers() -> None:
    assert seq_distance(1, 65535) == 2
    assert seq_distance(65535, 1) == -2
    assert seq_newer(0, 65535) and not seq_newer(65535, 0)
    assert seq_distance(32768, 0) == -32768
    assert ts_distance(5, 0xFFFFFFFE) == 7
    assert ts_newer(0, 0xFFFFFFFF) and not ts_newer(0xFFFFFFFF, 0)


def test_unwrapper_across_wraps() -> None:
    u = Unwrapper(16)
    assert u.last is None
    first = u.unwrap(65530)
    values = [u.unwrap(s) for s in (65534, 65535, 0, 1, 65533, 2)]
    assert [v - first for v in values] == [4, 5, 6, 7, 3, 8]
    assert u.peek(65535) - first == 5
    t = Unwrapper(32)
    base = t.unwrap(0xFFFFFF00)
    assert t.unwrap(0x100) - base == 0x200
    assert t.unwrap(0xFFFFFFFF) - base == 0xFF


rtp_packets = st.builds(
    RtpPacket,
    payload_type=st.integers(0, 127),
    sequence_number=st.integers(0, 65535),
    timestamp=st.integers(0, 2**32 - 1),
    ssrc=st.integers(0, 2**32 - 1),
    payload=st.binary(max_size=64),
    marker=st.booleans(),
    csrcs=st.lists(st.integers(0, 2**32 - 1), max_size=15).map(tuple),
    extensions=st.lists(
        st.tuples(st.integers(1, 14), st.binary(min_size=1, max_size=16)), max_size=4
    ).map(tuple),
    padding=st.integers(0, 255),
)


@settings(max_examples=300, deadline=None)
@given(rtp_packets)
def test_round_trip_property(packet: RtpPacket) -> None:
    wire = packet.serialize()
    parsed = parse_rtp(wire)
    expected_profile = EXTENSION_PROFILE_ONE_BYTE if packet.extensions else None
    assert parsed == RtpPacket(
        packet.payload_type,
        packet.sequence_number,
        packet.timestamp,
        packet.ssrc,
        packet.payload,
        packet.marker,
        packet.csrcs,
        packet.extensions,
        expected_profile,
        b"",
        packet.padding,
    )
    assert parsed.serialize() == wire


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz_parse_rtp_raises_only_rtp_parse_error(data: bytes) -> None:
    try:
        packet = parse_rtp(data)
    except RtpParseError:
        return
    assert len(packet.payload) <= len(data)


@settings(max_examples=300, deadline=None)
@given(
    st.integers(0, 15),
    st.sampled_from([0xBEDE, 0x1000, 0x1003, 0x0001]),
    st.binary(max_size=60),
    st.binary(max_size=20),
)
def test_fuzz_extension_blocks(cc: int, profile: int, body: bytes, tail: bytes) -> None:
    words = len(body) // 4
    data = (
        bytes([0x90 | cc, 96])
        + b"\x00\x01\x00\x00\x00\x02\x00\x00\x00\x03"
        + b"\x00" * (4 * cc)
        + struct.pack("!HH", profile, words)
        + body[: 4 * words]
        + tail
    )
    with contextlib.suppress(RtpParseError):
        parse_rtp(data)
