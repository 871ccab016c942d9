"""Property-based fuzzing of every parser that reads network or signaling input.

Each parser gets arbitrary input and structured mutations of real messages (bit flips,
truncation, extension, byte overwrites, insertions, deletions, duplicated regions; SCTP
mutations optionally get a fixed-up CRC32c so they reach the chunk parsers). The
property: only the parser's declared ``ParseError`` subclass is raised, and stateful
receivers (SCTP association, DTLS transport, the whole core) never raise at all.

Bounded for the normal suite: at most 300 examples per test, derandomized so CI runs
are reproducible; the long runs are the atheris harnesses in ``fuzz/``.
"""

from __future__ import annotations

import contextlib
import functools
import struct

import seeds
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from robust_helpers import A_ADDR, B_ADDR, EVIL_ADDR, CorePair, connected_pair

from trio_webrtc import datachannel as dcep
from trio_webrtc.dtls.transport import DtlsParseError, parse_record_headers
from trio_webrtc.errors import (
    DcepParseError,
    ParseError,
    SctpParseError,
    SdpParseError,
    StunParseError,
)
from trio_webrtc.ice import Candidate, stun
from trio_webrtc.sctp.chunks import COMMON_HEADER, encode_packet, parse_packet
from trio_webrtc.sdp.description import DataChannelDescription, SessionDescription

FUZZ = settings(
    max_examples=250,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SMALL = settings(FUZZ, max_examples=120)

# ------------------------------------------------------------------ mutations

_ops = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 1 << 16), st.integers(0, 7)),
    st.tuples(st.just("truncate"), st.integers(0, 1 << 16)),
    st.tuples(st.just("extend"), st.binary(min_size=1, max_size=64)),
    st.tuples(st.just("set"), st.integers(0, 1 << 16), st.integers(0, 255)),
    st.tuples(st.just("insert"), st.integers(0, 1 << 16), st.binary(min_size=1, max_size=16)),
    st.tuples(st.just("delete"), st.integers(0, 1 << 16), st.integers(1, 16)),
    st.tuples(st.just("dup"), st.integers(0, 1 << 16), st.integers(1, 64)),
)


def mutate(data: bytes, ops: list[tuple[object, ...]]) -> bytes:
    buf = bytearray(data)
    for op in ops:
        kind = op[0]
        size = max(len(buf), 1)
        if kind == "flip" and buf:
            buf[int(op[1]) % size] ^= 1 << int(op[2])  # type: ignore[call-overload]
        elif kind == "truncate":
            del buf[int(op[1]) % size :]  # type: ignore[call-overload]
        elif kind == "extend":
            buf += op[1]  # type: ignore[operator]
        elif kind == "set" and buf:
            buf[int(op[1]) % size] = int(op[2])  # type: ignore[call-overload]
        elif kind == "insert":
            at = int(op[1]) % size  # type: ignore[call-overload]
            buf[at:at] = op[2]  # type: ignore[index]
        elif kind == "delete":
            at = int(op[1]) % size  # type: ignore[call-overload]
            del buf[at : at + int(op[2])]  # type: ignore[call-overload]
        elif kind == "dup" and buf:
            at = int(op[1]) % size  # type: ignore[call-overload]
            buf[at:at] = buf[at : at + int(op[2])]  # type: ignore[call-overload]
    return bytes(buf)


def mutations(corpus: tuple[bytes, ...]) -> st.SearchStrategy[bytes]:
    return st.builds(mutate, st.sampled_from(corpus), st.lists(_ops, min_size=1, max_size=4))


def text_mutations(corpus: tuple[str, ...]) -> st.SearchStrategy[str]:
    """Line-level and byte-level mutations of text (decoded leniently)."""

    def lines_mutate(text: str, ops: list[tuple[int, int, str]]) -> str:
        lines = text.splitlines()
        for kind, index, junk in ops:
            i = index % max(len(lines), 1)
            if kind == 0 and lines:
                del lines[i]
            elif kind == 1 and lines:
                lines.insert(i, lines[i])
            elif kind == 2:
                lines.insert(i, junk)
            elif kind == 3 and lines:
                lines[i] = lines[i][: len(junk)] + junk
            elif kind == 4 and len(lines) > 1:
                j = (index // 7) % len(lines)
                lines[i], lines[j] = lines[j], lines[i]
        return "\r\n".join(lines) + "\r\n"

    line_ops = st.lists(
        st.tuples(st.integers(0, 4), st.integers(0, 1 << 12), st.text(max_size=40)),
        min_size=1,
        max_size=6,
    )
    by_line = st.builds(lines_mutate, st.sampled_from(corpus), line_ops)
    by_byte = st.builds(
        lambda t, ops: mutate(t.encode(), ops).decode("utf-8", "replace"),
        st.sampled_from(corpus),
        st.lists(_ops, min_size=1, max_size=4),
    )
    return st.one_of(by_line, by_byte)


# ---------------------------------------------------------------------- SDP


def _parse_sdp(text: str) -> None:
    try:
        session = SessionDescription.parse(text)
    except SdpParseError:
        return
    with contextlib.suppress(SdpParseError):
        DataChannelDescription.from_session(session)
    SessionDescription.parse(session.serialize())  # what we print we can read back


@FUZZ
@given(st.text(max_size=2000))
def test_sdp_arbitrary_text(text: str) -> None:
    _parse_sdp(text)


@FUZZ
@given(text_mutations(seeds.sdp_seeds()))
def test_sdp_mutated_vectors(text: str) -> None:
    _parse_sdp(text)


def test_sdp_vectors_are_valid() -> None:
    for text in seeds.sdp_seeds():
        DataChannelDescription.from_session(SessionDescription.parse(text))


# ---------------------------------------------------------------- candidate


def _parse_candidate(text: str) -> None:
    try:
        candidate = Candidate.from_sdp(text)
    except ParseError:
        return
    assert Candidate.from_sdp(candidate.to_sdp()) == candidate


@FUZZ
@given(st.one_of(st.text(max_size=300), text_mutations(seeds.candidate_seeds())))
def test_candidate_parser(text: str) -> None:
    _parse_candidate(text.splitlines()[0] if text.splitlines() else text)


# --------------------------------------------------------------- STUN / TURN


def _parse_stun(data: bytes) -> None:
    stun.verify_fingerprint(data)
    stun.verify_integrity(data, b"0123456789012345678901")
    stun.is_stun(data)
    try:
        message = stun.parse_message(data)
    except StunParseError:
        return
    for attr_type, _ in message.attributes:
        message.get(attr_type)
    message.error_code  # noqa: B018 - property access must not raise


def _fix_stun_length(data: bytes) -> bytes:
    if len(data) < 20:
        return data
    return data[:2] + struct.pack("!H", (len(data) - 20) & 0xFFFF) + data[4:]


@FUZZ
@given(st.one_of(st.binary(max_size=600), mutations(seeds.stun_seeds())))
def test_stun_parser(data: bytes) -> None:
    _parse_stun(data)


@FUZZ
@given(mutations(seeds.stun_seeds()))
def test_stun_parser_with_consistent_length(data: bytes) -> None:
    _parse_stun(_fix_stun_length(data))


@FUZZ
@given(mutations(seeds.turn_seeds()))
def test_turn_messages(data: bytes) -> None:
    """Send/Data indications, Allocate and ChannelBind answers, ChannelData frames."""
    _parse_stun(_fix_stun_length(data))
    parse_channel_data = getattr(stun, "parse_channel_data", None)
    if parse_channel_data is not None:  # the TURN client's ChannelData reader, if present
        with contextlib.suppress(StunParseError):
            parse_channel_data(data)


# ------------------------------------------------------------------- SCTP


def _fix_crc(data: bytes) -> bytes:
    if len(data) < 12:
        return data
    src, dst, vtag = COMMON_HEADER.unpack_from(data)
    return encode_packet(src, dst, vtag, [data[12:]])


@FUZZ
@given(st.one_of(st.binary(max_size=600), mutations(seeds.sctp_seeds())), st.booleans())
def test_sctp_packet_parser(data: bytes, fix_crc: bool) -> None:
    if fix_crc:
        data = _fix_crc(data)
    try:
        packet = parse_packet(data, check_crc=fix_crc)
    except SctpParseError:
        return
    for chunk in packet.chunks:
        chunk.encode()


@functools.cache
def _live_pair() -> CorePair:
    return connected_pair(seed=11)


def _retag(data: bytes, vtag: int) -> bytes:
    if len(data) < 12:
        return data
    return encode_packet(5000, 5000, vtag, [data[12:]])


@SMALL
@given(mutations(seeds.sctp_seeds()), st.booleans())
def test_sctp_association_survives_mutated_packets(data: bytes, right_tag: bool) -> None:
    """Mutated packets reach the peer's association through DTLS, with its verification
    tag (so they get past §8.5) or with the original one: nothing may raise."""
    pair = _live_pair()
    assert pair.a.dtls is not None and pair.b.sctp is not None
    if right_tag and pair.b.sctp.state.name != "CLOSED":
        data = _retag(data, pair.b.sctp._local_tag)
    if data and pair.a.dtls.state.name == "CONNECTED":
        pair.a.dtls.send(data)
    pair.run_for(0.02)


# -------------------------------------------------------------------- DCEP


@FUZZ
@given(st.one_of(st.binary(max_size=300), mutations(seeds.dcep_seeds())))
def test_dcep_parser(data: bytes) -> None:
    try:
        message = dcep.parse_dcep(data)
    except DcepParseError:
        return
    encoded = message.encode()  # a fixed point (RFC 8832 §5.1 zeroes reliable parameters)
    assert dcep.parse_dcep(encoded).encode() == encoded
    assert getattr(dcep.parse_dcep(encoded), "label", None) == getattr(message, "label", None)


@SMALL
@given(mutations(seeds.dcep_seeds()), st.integers(0, 40))
def test_channel_manager_survives_mutated_dcep(data: bytes, stream: int) -> None:
    """Mutated DCEP messages reach the peer's channel manager as real SCTP messages."""
    pair = _live_pair()
    sctp = pair.a.sctp
    assert sctp is not None
    if sctp.state.name == "ESTABLISHED" and data:
        sctp.send(stream, dcep.Ppid.DCEP, data, now=pair.now)
    pair.run_for(0.02)


# -------------------------------------------------------------------- DTLS


@FUZZ
@given(st.one_of(st.binary(max_size=600), mutations(seeds.dtls_seeds())))
def test_dtls_record_header_parser(data: bytes) -> None:
    try:
        headers = parse_record_headers(data)
    except DtlsParseError:
        return
    assert sum(13 + h.length for h in headers) == len(data)


@SMALL
@given(mutations(seeds.dtls_seeds()), st.booleans())
def test_core_survives_mutated_dtls(data: bytes, from_peer: bool) -> None:
    pair = _live_pair()
    pair.inject("b", data, A_ADDR if from_peer else EVIL_ADDR)
    pair.run_for(0.01)


# ------------------------------------------------- RFC 7983 demultiplexer


_ANY_DATAGRAM = st.one_of(
    st.binary(max_size=1500),
    mutations(seeds.stun_seeds() + seeds.dtls_seeds()),
    st.builds(lambda first, rest: bytes([first]) + rest, st.integers(0, 255), st.binary()),
)


@FUZZ
@given(_ANY_DATAGRAM, st.sampled_from([A_ADDR, EVIL_ADDR, ("::1", 40001)]))
def test_core_before_connection_never_raises(data: bytes, source: tuple[str, int]) -> None:
    pair = _fresh_pair()
    pair.b.receive_datagram(data, B_ADDR, source, pair.now)
    pair.pump_events()


@functools.cache
def _fresh_pair() -> CorePair:
    pair = CorePair(seed=12)
    pair.signal()
    return pair


@FUZZ
@given(_ANY_DATAGRAM, st.sampled_from([A_ADDR, EVIL_ADDR]))
def test_core_after_connection_never_raises(data: bytes, source: tuple[str, int]) -> None:
    pair = _live_pair()
    pair.inject("b", data, source)


# ------------------------------------------------------------ regressions


def test_regression_small_messages_never_overflow_the_dtls_record() -> None:
    """Found by test_channel_manager_survives_mutated_dcep: SCTP checked a chunk's
    unpadded length against the room left in a packet, so a bundle of small messages
    could exceed the DTLS cleartext MTU by up to 3 bytes and ``dtls.send`` raised
    MessageTooLargeError out of ``datagrams_to_send`` (fixed in sctp/outbound.py)."""
    pair = connected_pair(seed=5)
    info = pair.a.create_data_channel(dcep.ChannelParameters(label="small"), pair.now)
    pair.run(lambda: info.state is dcep.ChannelState.OPEN)
    sent = 0
    for size in range(1, 48):
        for _ in range(60):
            pair.a.send(info.key, bytes(size), pair.now)
            sent += 1
        pair.run_for(0.01)
    pair.run(lambda: len(pair.messages["b"]) == sent, timeout=60)
    assert [len(m) for _, m in pair.messages["b"]] == [s for s in range(1, 48) for _ in range(60)]
