"""SCTP chunk and packet codec: round trips, checksums, and fuzzing (only SctpParseError)."""

from __future__ import annotations

import contextlib
import struct

import pytest
from crc32c import crc32c
from hypothesis import given, settings
from hypothesis import strategies as st

from trio_webrtc.errors import SctpParseError
from trio_webrtc.sctp import chunks as c

ALL_CHUNKS: list[c.Chunk] = [
    c.DataChunk(c.FLAG_BEGIN | c.FLAG_END, 0xFFFFFFFF, 7, 65535, 51, b"hello"),
    c.DataChunk(c.FLAG_UNORDERED, 1, 0, 0, 53, b"x" * 1001),
    c.InitChunk(0xDEADBEEF, 1 << 20, 65535, 65535, 12345, ((0xC000, b""), (0x8008, b"\xc0\x82"))),
    c.InitAckChunk(1, 2, 3, 4, 5, ((7, b"cookie-bytes"),)),
    c.SackChunk(100, 5000, ((2, 3), (5, 9)), (42, 43)),
    c.SackChunk(0xFFFFFFFF, 0),
    c.HeartbeatChunk(b"info123"),
    c.HeartbeatAckChunk(b"info1234"),
    c.AbortChunk(c.FLAG_T, ((12, b"bye"),)),
    c.ShutdownChunk(77),
    c.ShutdownAckChunk(),
    c.ErrorChunk(((3, b"\x00\x00\x00\x10"),)),
    c.CookieEchoChunk(b"opaque cookie"),
    c.CookieAckChunk(),
    c.ShutdownCompleteChunk(c.FLAG_T),
    c.ForwardTsnChunk(99, ((1, 5), (2, 65535))),
    c.ReconfigChunk((c.OutgoingResetRequest(10, 20, 30, (1, 3, 5)),)),
    c.ReconfigChunk(
        (c.ReconfigResponse(10, c.RESULT_SUCCESS_PERFORMED), c.IncomingResetRequest(11, (2,)))
    ),
    c.ReconfigChunk((c.UnknownReconfigParam(17, b"\x00\x02\x00\x00"),)),
    c.UnknownChunk(0x3F, 5, b"abc"),
]


@pytest.mark.parametrize("chunk", ALL_CHUNKS, ids=lambda ch: type(ch).__name__)
def test_chunk_round_trip(chunk: c.Chunk) -> None:
    encoded = chunk.encode()
    assert len(encoded) % 4 == 0
    packet = c.encode_packet(5000, 5001, 0x01020304, [encoded, encoded])
    parsed = c.parse_packet(packet)
    assert (parsed.src_port, parsed.dst_port, parsed.vtag) == (5000, 5001, 0x01020304)
    assert parsed.chunks == (chunk, chunk)
    assert parsed.chunks[0].encode() == encoded


def test_checksum_is_crc32c_little_endian() -> None:
    packet = c.encode_packet(5000, 5000, 1, [c.CookieAckChunk().encode()])
    assert c.verify_checksum(packet)
    # CRC32c of the packet with a zeroed checksum field, stored little-endian.
    zeroed = packet[:8] + b"\x00" * 4 + packet[12:]
    assert struct.unpack("<I", packet[8:12])[0] == crc32c(zeroed)
    corrupted = packet[:-1] + bytes([packet[-1] ^ 1])
    assert not c.verify_checksum(corrupted)
    with pytest.raises(SctpParseError):
        c.parse_packet(corrupted)


@pytest.mark.parametrize(
    "packet",
    [
        b"",
        b"\x00" * 11,
        c.encode_packet(1, 2, 3, [b"\x00\x00\x00\x02"]),  # chunk length 2
        c.encode_packet(1, 2, 3, [b"\x00\x03\x00\x40"]),  # length beyond the packet
        c.encode_packet(1, 2, 3, [b"\x00\x03\x00\x08\x00\x00\x00\x00"]),  # DATA, no payload
        c.encode_packet(1, 2, 3, [b"\x03\x00\x00\x10" + b"\x00" * 8 + b"\x00\x05\x00\x00"]),
        c.encode_packet(1, 2, 3, [b"\x07\x00\x00\x06\x00\x00\x00\x00"]),  # SHUTDOWN length 6
        c.encode_packet(1, 2, 3, [b"\x82\x00\x00\x04"]),  # RE-CONFIG without params
        c.encode_packet(1, 2, 3, [b"\x04\x00\x00\x04"]),  # HEARTBEAT without info
    ],
)
def test_malformed_packets_raise_parse_error(packet: bytes) -> None:
    with pytest.raises(SctpParseError):
        c.parse_packet(packet)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_random_bytes_only_raise_parse_error(data: bytes) -> None:
    with contextlib.suppress(SctpParseError):
        c.parse_packet(data, check_crc=False)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(ALL_CHUNKS),
    st.integers(min_value=0, max_value=200),
    st.integers(min_value=0, max_value=255),
    st.integers(min_value=0, max_value=40),
)
def test_fuzz_mutated_chunks_only_raise_parse_error(
    chunk: c.Chunk, position: int, value: int, cut: int
) -> None:
    body = bytearray(chunk.encode())
    if position < len(body):
        body[position] = value
    packet = c.encode_packet(5000, 5000, 1, [bytes(body[: max(0, len(body) - cut)])])
    try:
        parsed = c.parse_packet(packet)
    except SctpParseError:
        return
    for parsed_chunk in parsed.chunks:
        parsed_chunk.encode()


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=255), st.integers(0, 15), st.binary(max_size=64))
def test_fuzz_chunk_values(ctype: int, flags: int, value: bytes) -> None:
    with contextlib.suppress(SctpParseError):
        c.parse_chunk(ctype, flags, value)
