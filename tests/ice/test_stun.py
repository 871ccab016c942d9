"""STUN codec: RFC 5769 vectors byte for byte, attribute round trips, fuzzing."""

from __future__ import annotations

import contextlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trio_webrtc.errors import LocalProtocolError, StunParseError
from trio_webrtc.ice import stun


def _hex(text: str) -> bytes:
    return bytes.fromhex("".join(text.split()))


# RFC 5769 §2.1-§2.4 (padding in §2.1-§2.3 is 0x20, as in the RFC).
SAMPLE_REQUEST = _hex("""
    00 01 00 58 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
    80 22 00 10 53 54 55 4e 20 74 65 73 74 20 63 6c 69 65 6e 74
    00 24 00 04 6e 00 01 ff
    80 29 00 08 93 2f f9 b1 51 26 3b 36
    00 06 00 09 65 76 74 6a 3a 68 36 76 59 20 20 20
    00 08 00 14 9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49 c1 b5 71 a2
    80 28 00 04 e5 7a 3b cf
""")
SAMPLE_IPV4_RESPONSE = _hex("""
    01 01 00 3c 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
    80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
    00 20 00 08 00 01 a1 47 e1 12 a6 43
    00 08 00 14 2b 91 f5 99 fd 9e 90 c3 8c 74 89 f9 2a f9 ba 53 f0 6b e7 d7
    80 28 00 04 c0 7d 4c 96
""")
SAMPLE_IPV6_RESPONSE = _hex("""
    01 01 00 48 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
    80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
    00 20 00 14 00 02 a1 47 01 13 a9 fa a5 d3 f1 79 bc 25 f4 b5 be d2 b9 d9
    00 08 00 14 a3 82 95 4e 4b e6 7b f1 17 84 c9 7c 82 92 c2 75 bf e3 ed 41
    80 28 00 04 c8 fb 0b 4c
""")
SAMPLE_LONG_TERM_REQUEST = _hex("""
    00 01 00 60 21 12 a4 42 78 ad 34 33 c6 ad 72 c0 29 da 41 2e
    00 06 00 12 e3 83 9e e3 83 88 e3 83 aa e3 83 83 e3 82 af e3 82 b9 00 00
    00 15 00 1c 66 2f 2f 34 39 39 6b 39 35 34 64 36 4f 4c 33 34
                6f 4c 39 46 53 54 76 79 36 34 73 41
    00 14 00 0b 65 78 61 6d 70 6c 65 2e 6f 72 67 00
    00 08 00 14 f6 70 24 65 6d d6 4a 3e 02 b8 e0 71 2e 85 c9 a2 8c a8 96 66
""")
PASSWORD = b"VOkJxbRl1RmTxUk/WvJxBt"
TRANSACTION_ID = _hex("b7 e7 a7 01 bc 34 d6 86 fa 87 df ae")


def test_rfc5769_sample_request() -> None:
    message = stun.parse_message(SAMPLE_REQUEST)
    assert message.method == stun.Method.BINDING
    assert message.message_class is stun.MessageClass.REQUEST
    assert message.transaction_id == TRANSACTION_ID
    assert message.get_str(stun.SOFTWARE) == "STUN test client"
    assert message.get_int(stun.PRIORITY) == 0x6E0001FF
    assert message.get_int(stun.ICE_CONTROLLED) == 0x932FF9B151263B36
    assert message.get_str(stun.USERNAME) == "evtj:h6vY"
    assert stun.verify_integrity(SAMPLE_REQUEST, PASSWORD)
    assert not stun.verify_integrity(SAMPLE_REQUEST, b"VOkJxbRl1RmTxUk/WvJxBr")
    assert stun.verify_fingerprint(SAMPLE_REQUEST)
    assert stun.encode(message, PASSWORD, True, pad=b" ") == SAMPLE_REQUEST


@pytest.mark.parametrize(
    ("data", "address"),
    [
        (SAMPLE_IPV4_RESPONSE, ("192.0.2.1", 32853)),
        (SAMPLE_IPV6_RESPONSE, ("2001:db8:1234:5678:11:2233:4455:6677", 32853)),
    ],
)
def test_rfc5769_sample_responses(data: bytes, address: tuple[str, int]) -> None:
    message = stun.parse_message(data)
    assert message.message_class is stun.MessageClass.SUCCESS
    assert message.get_address(stun.XOR_MAPPED_ADDRESS) == address
    assert message.get_str(stun.SOFTWARE) == "test vector"
    assert stun.verify_integrity(data, PASSWORD)
    assert stun.verify_fingerprint(data)
    rebuilt = stun.Message(
        stun.Method.BINDING,
        stun.MessageClass.SUCCESS,
        TRANSACTION_ID,
        ((stun.SOFTWARE, "test vector"), (stun.XOR_MAPPED_ADDRESS, address)),
    )
    assert stun.encode(rebuilt, PASSWORD, True, pad=b" ") == data


def test_rfc5769_long_term_request() -> None:
    message = stun.parse_message(SAMPLE_LONG_TERM_REQUEST)
    username = "\u30de\u30c8\u30ea\u30c3\u30af\u30b9"
    assert message.get_str(stun.USERNAME) == username
    assert message.get_str(stun.NONCE) == "f//499k954d6OL34oL9FSTvy64sA"
    assert message.get_str(stun.REALM) == "example.org"
    key = stun.long_term_key(username, "example.org", "TheMatrIX")
    assert stun.verify_integrity(SAMPLE_LONG_TERM_REQUEST, key)
    assert not stun.verify_integrity(SAMPLE_LONG_TERM_REQUEST, PASSWORD)
    assert not stun.verify_fingerprint(SAMPLE_LONG_TERM_REQUEST)  # it has none
    assert stun.encode(message, key, False) == SAMPLE_LONG_TERM_REQUEST


def test_every_attribute_round_trips() -> None:
    attributes: tuple[tuple[int, stun.AttributeValue], ...] = (
        (stun.MAPPED_ADDRESS, ("198.51.100.1", 1234)),
        (stun.XOR_MAPPED_ADDRESS, ("::1", 5)),
        (stun.XOR_PEER_ADDRESS, ("192.0.2.9", 65535)),
        (stun.XOR_RELAYED_ADDRESS, ("2001:db8::7", 0)),
        (stun.USERNAME, "a:b"),
        (stun.REALM, "realm"),
        (stun.NONCE, "nonce"),
        (stun.SOFTWARE, "trio-webrtc"),
        (stun.PRIORITY, 0xFFFFFFFF),
        (stun.USE_CANDIDATE, None),
        (stun.ICE_CONTROLLING, 2**64 - 1),
        (stun.ICE_CONTROLLED, 7),
        (stun.ERROR_CODE, stun.ErrorCode(487, "Role Conflict")),
        (stun.UNKNOWN_ATTRIBUTES, (0x0031, 0x7FFF, 0x0002)),
        (stun.LIFETIME, 600),
        (stun.DATA, b"\x00\x01\x02"),
        (stun.REQUESTED_TRANSPORT, 17),
        (stun.CHANNEL_NUMBER, 0x4000),
        (0x7777, b"unknown comprehension-required"),
        (0xC001, b"unknown optional"),
    )
    for method in stun.Method:
        for cls in stun.MessageClass:
            message = stun.Message(method, cls, bytes(range(12)), attributes)
            for key, fingerprint in ((None, False), (b"k", True), (b"k", False)):
                data = stun.encode(message, key, fingerprint)
                parsed = stun.parse_message(data)
                assert parsed.method == method
                assert parsed.message_class is cls
                assert parsed.attributes[: len(attributes)] == attributes
                assert stun.verify_fingerprint(data) is fingerprint
                assert stun.verify_integrity(data, b"k") is (key is not None)
                assert stun.is_stun(data)


def test_message_integrity_sha256() -> None:
    message = stun.Message(stun.Method.BINDING, stun.MessageClass.REQUEST, bytes(12))
    data = stun.encode(message, b"secret", True, sha256=True)
    parsed = stun.parse_message(data)
    assert len(parsed.get_bytes(stun.MESSAGE_INTEGRITY_SHA256) or b"") == 32
    assert stun.verify_integrity(data, b"secret")
    assert not stun.verify_integrity(data, b"other")


def test_integrity_detects_tampering() -> None:
    data = bytearray(SAMPLE_REQUEST)
    data[30] ^= 1  # inside SOFTWARE
    assert not stun.verify_integrity(bytes(data), PASSWORD)
    assert not stun.verify_fingerprint(bytes(data))


def test_attributes_after_integrity_are_ignored() -> None:
    message = stun.Message(stun.Method.BINDING, stun.MessageClass.REQUEST, bytes(12))
    signed = stun.encode(message, b"k")
    extra = struct.pack("!HH", stun.SOFTWARE, 4) + b"evil"
    data = bytearray(signed + extra)
    data[2:4] = struct.pack("!H", len(data) - 20)
    parsed = stun.parse_message(bytes(data))
    assert not parsed.has(stun.SOFTWARE)
    assert stun.verify_integrity(bytes(data), b"k")


def test_transaction_id_from_rng_is_reproducible() -> None:
    import random

    assert stun.random_transaction_id(random.Random(1)) == stun.random_transaction_id(
        random.Random(1)
    )
    assert len(stun.random_transaction_id()) == 12


@pytest.mark.parametrize(
    "data",
    [
        b"",
        SAMPLE_REQUEST[:19],
        b"\x40" + SAMPLE_REQUEST[1:],  # top bits set
        SAMPLE_REQUEST[:4] + b"\x00\x00\x00\x00" + SAMPLE_REQUEST[8:],  # bad cookie
        SAMPLE_REQUEST[:-1],  # length mismatch
        SAMPLE_REQUEST[:2] + b"\x00\x59" + SAMPLE_REQUEST[4:] + b"\x00",  # not multiple of 4
        SAMPLE_REQUEST + b"\x00\x00\x00\x00",  # trailing attribute after FINGERPRINT
        _hex("0001 0008 2112a442 000000000000000000000000 0020 0008 0003 0000 00000000"),
        _hex("0001 0004 2112a442 000000000000000000000000 0024 0008"),  # truncated
        _hex("0001 0008 2112a442 000000000000000000000000 0006 0002 ff fe 0000"),  # not utf-8
        _hex("0001 0008 2112a442 000000000000000000000000 0009 0004 0000 0263"),  # class 2
    ],
)
def test_malformed_messages_raise_stun_parse_error(data: bytes) -> None:
    with pytest.raises(StunParseError):
        stun.parse_message(data)
    assert not stun.verify_integrity(data, PASSWORD) or data == SAMPLE_REQUEST


def test_is_stun_demultiplexing() -> None:
    assert stun.is_stun(SAMPLE_REQUEST)
    assert not stun.is_stun(b"\x16\xfe\xfd" + bytes(30))  # DTLS
    assert not stun.is_stun(SAMPLE_REQUEST[:4] + b"\x00" * 16)  # no magic cookie
    assert not stun.is_stun(b"\x00\x01")


def test_encode_rejects_ill_typed_values() -> None:
    bad_values: list[tuple[int, stun.AttributeValue]] = [
        (stun.USERNAME, b"bytes"),
        (stun.PRIORITY, "1"),
        (stun.XOR_MAPPED_ADDRESS, ("not-an-ip", 1)),
        (stun.ERROR_CODE, stun.ErrorCode(200)),
        (stun.DATA, "text"),
    ]
    for attr, value in bad_values:
        message = stun.Message(stun.Method.BINDING, stun.MessageClass.REQUEST, bytes(12))
        bad = stun.Message(message.method, message.message_class, bytes(12), ((attr, value),))
        with pytest.raises(LocalProtocolError):
            stun.encode(bad)
    with pytest.raises(LocalProtocolError):
        stun.Message(stun.Method.BINDING, stun.MessageClass.REQUEST, b"short")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz_parse_raises_only_stun_parse_error(data: bytes) -> None:
    with contextlib.suppress(StunParseError):
        stun.parse_message(data)
    stun.verify_integrity(data, b"k")
    stun.verify_fingerprint(data)
    stun.is_stun(data)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=120), st.integers(min_value=20, max_value=140))
def test_fuzz_mutated_valid_messages(noise: bytes, cut: int) -> None:
    """Valid headers with random attribute bytes: the hard case for a parser."""
    body = noise + b"\x00" * ((-len(noise)) % 4)
    data = SAMPLE_REQUEST[:2] + struct.pack("!H", len(body)) + SAMPLE_REQUEST[4:20] + body
    for candidate in (data, data[:cut]):
        with contextlib.suppress(StunParseError):
            stun.parse_message(candidate)
        stun.verify_integrity(candidate, PASSWORD)
