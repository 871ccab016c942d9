"""Compound RTCP codec (RFC 3550 §6, RFC 4585, REMB, RFC 5506): vectors, round trips,
aiortc as a witness both ways, and fuzzing (only RtpParseError)."""

from __future__ import annotations

import contextlib

import pytest
from aiortc import rtp as artp
from hypothesis import given, settings
from hypothesis import strategies as st

from trio_webrtc.errors import LocalProtocolError, RtpParseError
from trio_webrtc.rtp.rtcp import (
    SDES_CNAME,
    Bye,
    GenericNack,
    PictureLossIndication,
    ReceiverEstimatedMaxBitrate,
    ReceiverReport,
    ReportBlock,
    SdesChunk,
    SenderReport,
    SourceDescription,
    UnknownRtcp,
    encode_rtcp,
    is_rtcp,
    nack_pairs,
    parse_rtcp,
)

BLOCK = ReportBlock(0x11223344, 25, -3, 0x0001FFFF, 1234, 0xAABBCCDD, 65536)
SR = SenderReport(0x01020304, 0xE0000000_80000000, 90000, 10, 12000, (BLOCK,))
RR = ReceiverReport(0x05060708, (BLOCK, ReportBlock(9, 0, 8_000_000, 5, 0, 0, 0)))
SDES = SourceDescription(
    (SdesChunk(0x01020304, ((SDES_CNAME, b"host@example"), (6, b"tool"))), SdesChunk(7, ()))
)

ALL = [
    SR,
    RR,
    SDES,
    Bye((1, 2), b"shutting down"),
    Bye(()),
    GenericNack(1, 2, (100, 101, 116, 117, 200)),
    PictureLossIndication(3, 4),
    ReceiverEstimatedMaxBitrate(5, 250_000, (6, 7)),
    UnknownRtcp(204, 3, b"nameDATA"),
    UnknownRtcp(206, 4, b"\x00\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00\x03\x01\x00\x00\x00"),
]


@pytest.mark.parametrize("packet", ALL, ids=lambda p: type(p).__name__)
def test_round_trip(packet: object) -> None:
    wire = encode_rtcp([packet])  # type: ignore[list-item]
    assert len(wire) % 4 == 0
    assert parse_rtcp(wire) == [packet]
    assert is_rtcp(wire)


def test_compound_round_trip_and_rtp_demux() -> None:
    wire = encode_rtcp(ALL)  # type: ignore[arg-type]
    assert parse_rtcp(wire) == ALL
    assert not is_rtcp(bytes.fromhex("80600001"))  # RTP PT 96
    assert not is_rtcp(bytes.fromhex("80e00001"))  # RTP PT 96 with the marker (224)
    assert is_rtcp(bytes.fromhex("81c90001"))


def test_rr_vector() -> None:
    # An RR with one block, written out by hand from RFC 3550 §6.4.2.
    wire = bytes.fromhex(
        "81c90007"  # V=2 RC=1 PT=201 length=7
        "00000001"  # SSRC of sender
        "00000002"  # SSRC_1
        "80fffffe"  # fraction 128, cumulative lost -2
        "00010005"  # extended highest sequence number
        "00000010"  # jitter
        "12345678"  # LSR
        "00008000"  # DLSR (0.5 s)
    )
    (rr,) = parse_rtcp(wire)
    assert rr == ReceiverReport(1, (ReportBlock(2, 128, -2, 0x10005, 16, 0x12345678, 0x8000),))
    assert rr.encode() == wire


def test_pli_and_nack_vectors() -> None:
    assert PictureLossIndication(1, 2).encode() == bytes.fromhex("81ce00020000000100000002")
    # PID 1000, BLP bits 0 and 15 -> 1001 and 1016.
    nack = bytes.fromhex("81cd0003000000010000000203e88001")
    assert parse_rtcp(nack) == [GenericNack(1, 2, (1000, 1001, 1016))]
    assert GenericNack(1, 2, (1000, 1001, 1016)).encode() == nack


def test_nack_pairs_across_wrap_and_duplicates() -> None:
    assert nack_pairs([65534, 65535, 0, 1, 1]) == [(65534, 0b111)]
    assert nack_pairs([10, 27, 28]) == [(10, 0), (27, 1)]
    assert nack_pairs([]) == []


def test_cumulative_lost_clamped() -> None:
    big = ReportBlock(1, 0, 10**9, 0, 0, 0, 0)
    (rr,) = parse_rtcp(ReceiverReport(2, (big,)).encode())
    assert isinstance(rr, ReceiverReport) and rr.reports[0].packets_lost == 0x7FFFFF


def test_remb_mantissa_exponent() -> None:
    remb = ReceiverEstimatedMaxBitrate(1, 123_456_789, (2,))
    (parsed,) = parse_rtcp(remb.encode())
    assert isinstance(parsed, ReceiverEstimatedMaxBitrate)
    assert parsed.bitrate <= 123_456_789 and parsed.bitrate > 123_456_789 * 0.9999
    assert artp.unpack_remb_fci(remb.encode()[12:]) == (parsed.bitrate, [2])
    theirs = artp.pack_rtcp_packet(
        206, 15, b"\x00\x00\x00\x09\x00\x00\x00\x00" + artp.pack_remb_fci(4_000_000, [3, 4])
    )
    assert parse_rtcp(theirs) == [ReceiverEstimatedMaxBitrate(9, 4_000_000, (3, 4))]


def test_reduced_size_feedback_alone_and_padding() -> None:
    # RFC 5506: a lone PLI is a valid datagram; padding on a non-final packet accepted.
    pli = PictureLossIndication(1, 2).encode()
    padded = bytes([pli[0] | 0x20]) + pli[1:3] + bytes([pli[3] + 1]) + pli[4:] + b"\x00\x00\x00\x04"
    assert parse_rtcp(padded + pli) == [PictureLossIndication(1, 2)] * 2


def test_aiortc_parses_ours() -> None:
    # One SDES chunk: aiortc 1.x does not realign to 32 bits between chunks (§6.5).
    one_chunk = SourceDescription(SDES.chunks[:1])
    wire = encode_rtcp([SR, RR, one_chunk, Bye((1, 2)), GenericNack(1, 2, (5, 6, 40))])
    sr, rr, sdes, bye, nack = artp.RtcpPacket.parse(wire)
    assert sr.ssrc == SR.ssrc and sr.sender_info.ntp_timestamp == SR.ntp_timestamp
    assert sr.sender_info.octet_count == 12000 and sr.reports[0].packets_lost == -3
    assert sr.reports[0].lsr == 0xAABBCCDD and sr.reports[0].dlsr == 65536
    assert [r.packets_lost for r in rr.reports] == [-3, 8_000_000]
    assert sdes.chunks[0].items == [(1, b"host@example"), (6, b"tool")]
    assert bye.sources == [1, 2]
    assert nack.lost == [5, 6, 40] and nack.media_ssrc == 2


def test_we_parse_aiortc() -> None:
    info = artp.RtcpReceiverInfo(9, 12, -1, 70000, 33, 44, 55)
    sr = artp.RtcpSrPacket(1, artp.RtcpSenderInfo(2**40, 3, 4, 5), [info])
    rr = artp.RtcpRrPacket(6, [info])
    sdes = artp.RtcpSdesPacket([artp.RtcpSourceInfo(7, [(1, b"cname-x")])])
    nack = artp.RtcpRtpfbPacket(fmt=1, ssrc=8, media_ssrc=9, lost=[1, 2, 3, 30])
    pli = artp.RtcpPsfbPacket(fmt=1, ssrc=10, media_ssrc=11)
    bye = artp.RtcpByePacket([12])
    wire = b"".join(bytes(p) for p in (sr, rr, sdes, nack, pli, bye))
    block = ReportBlock(9, 12, -1, 70000, 33, 44, 55)
    assert parse_rtcp(wire) == [
        SenderReport(1, 2**40, 3, 4, 5, (block,)),
        ReceiverReport(6, (block,)),
        SourceDescription((SdesChunk(7, ((1, b"cname-x"),)),)),
        GenericNack(8, 9, (1, 2, 3, 30)),
        PictureLossIndication(10, 11),
        Bye((12,)),
    ]
    assert parse_rtcp(wire)[2].chunks[0].cname == "cname-x"  # type: ignore[union-attr]


def test_cname_helper() -> None:
    sdes = SourceDescription.cname(42, "peer-connection-1")
    (parsed,) = parse_rtcp(sdes.encode())
    assert isinstance(parsed, SourceDescription)
    assert parsed.chunks[0].cname == "peer-connection-1"


@pytest.mark.parametrize(
    "wire",
    [
        b"\x81\xc9\x00",  # short
        bytes.fromhex("41c90001") + b"\x00" * 4,  # version 1
        bytes.fromhex("81c90002") + b"\x00" * 4,  # length overruns
        bytes.fromhex("81c90001") + b"\x00" * 4,  # RR claims a block it lacks
        bytes.fromhex("81c80001") + b"\x00" * 4,  # SR without sender info
        bytes.fromhex("a1c90001") + b"\x00\x00\x00\x09",  # padding too long
        bytes.fromhex("a1c90000"),  # padding bit, no room for a count
        bytes.fromhex("81ca0002") + b"\x00\x00\x00\x01\x01\x09ab",  # SDES item overruns
        bytes.fromhex("81ca0001") + b"\x00\x00\x00\x01",  # SDES not terminated
        bytes.fromhex("82cb0001") + b"\x00\x00\x00\x01",  # BYE list overrun
        bytes.fromhex("81cb0002") + b"\x00\x00\x00\x01\x09abc",  # BYE reason overrun
        bytes.fromhex("81cd0001") + b"\x00\x00\x00\x01",  # feedback header cut
        bytes.fromhex("81cd0003") + b"\x00" * 12 + b"\x00",  # trailing byte
        bytes.fromhex("8fce0003") + b"\x00" * 8 + b"REMB",  # REMB cut
        bytes.fromhex("8fce0004") + b"\x00" * 8 + b"REMB\x02\x00\x00\x00",  # REMB SSRCs
    ],
)
def test_malformed(wire: bytes) -> None:
    with pytest.raises(RtpParseError):
        parse_rtcp(wire)


def test_encode_limits() -> None:
    with pytest.raises(LocalProtocolError):
        Bye(tuple(range(32))).encode()
    with pytest.raises(LocalProtocolError):
        Bye((1,), b"x" * 256).encode()
    with pytest.raises(LocalProtocolError):
        SourceDescription((SdesChunk(1, ((1, b"x" * 256),)),)).encode()
    with pytest.raises(LocalProtocolError):
        UnknownRtcp(210, 0, b"abc").encode()
    with pytest.raises(LocalProtocolError):
        ReceiverEstimatedMaxBitrate(1, -1).encode()


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz_raw(data: bytes) -> None:
    with contextlib.suppress(RtpParseError):
        parse_rtcp(data)


@settings(max_examples=500, deadline=None)
@given(
    st.integers(0, 31),
    st.integers(192, 223),
    st.binary(max_size=120),
    st.booleans(),
)
def test_fuzz_well_framed(count: int, ptype: int, body: bytes, padded: bool) -> None:
    body = body[: len(body) - len(body) % 4]
    first = 0x80 | count | (0x20 if padded else 0)
    wire = bytes([first, ptype]) + (len(body) // 4).to_bytes(2, "big") + body
    with contextlib.suppress(RtpParseError):
        for packet in parse_rtcp(wire):
            if not isinstance(packet, UnknownRtcp | SourceDescription | Bye):
                packet.encode()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 65535), min_size=1, max_size=60))
def test_nack_round_trip_property(lost: list[int]) -> None:
    (parsed,) = parse_rtcp(GenericNack(1, 2, tuple(lost)).encode())
    assert isinstance(parsed, GenericNack)
    assert set(parsed.lost) == set(lost)


u32 = st.integers(0, 2**32 - 1)
blocks = st.builds(
    ReportBlock,
    u32,
    st.integers(0, 255),
    st.integers(-0x800000, 0x7FFFFF),
    u32,
    u32,
    u32,
    u32,
)
block_lists = st.lists(blocks, max_size=31).map(tuple)
words = st.binary(max_size=16).map(lambda b: b[: len(b) - len(b) % 4])
any_packet = st.one_of(
    st.builds(SenderReport, u32, st.integers(0, 2**64 - 1), u32, u32, u32, block_lists, words),
    st.builds(ReceiverReport, u32, block_lists, words),
    st.builds(
        SourceDescription,
        st.lists(
            st.builds(
                SdesChunk,
                u32,
                st.lists(st.tuples(st.integers(1, 255), st.binary(max_size=255)), max_size=3).map(
                    tuple
                ),
            ),
            max_size=4,
        ).map(tuple),
    ),
    st.builds(Bye, st.lists(u32, max_size=31).map(tuple), st.binary(max_size=255)),
    st.builds(PictureLossIndication, u32, u32),
    st.builds(
        ReceiverEstimatedMaxBitrate,
        u32,
        st.integers(0, 0x3FFFF).flatmap(lambda m: st.integers(0, 40).map(lambda e: m << e)),
        st.lists(u32, max_size=8).map(tuple),
    ),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(any_packet, min_size=1, max_size=5))
def test_compound_round_trip_property(packets: list[object]) -> None:
    wire = encode_rtcp(packets)  # type: ignore[arg-type]
    assert parse_rtcp(wire) == packets
