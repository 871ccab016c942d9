"""The per-message fast paths give exactly what the generic STUN codec gives.

Binding requests and success responses of connectivity/consent checks are built without
the generic :func:`stun.encode` (RFC 8445 §7.1-§7.3); IPv4 literals are packed and
printed with ``inet_pton``/``inet_ntop``; address normalisation is memoised.
"""

from __future__ import annotations

import hmac
import ipaddress
import random

import pytest

from trio_webrtc.errors import LocalProtocolError
from trio_webrtc.ice import candidate, stun
from trio_webrtc.ice.messages import binding_request, binding_response, encode_binding_request

ADDRESSES = [
    ("1.2.3.4", 1),
    ("0.0.0.0", 0),
    ("255.255.255.255", 65535),
    ("::1", 5000),
    ("::ffff:1.2.3.4", 9),
    ("fe80::1%eth0", 7),
    ("2001:db8::abcd", 443),
    ("1.2.3.4%zone", 80),
]


@pytest.mark.parametrize("seed", range(20))
def test_binding_request_matches_the_generic_codec(seed: int) -> None:
    rng = random.Random(seed)
    kwargs = dict(
        username="remote:" + "u" * rng.randint(4, 40),
        priority=rng.getrandbits(32),
        controlling=bool(seed % 2),
        tie_breaker=rng.getrandbits(64),
        use_candidate=bool(seed % 3),
    )
    message = binding_request(**kwargs, rng=random.Random(seed))  # type: ignore[arg-type]
    key = b"k" * rng.randint(1, 40)
    fast = encode_binding_request(**kwargs, transaction_id=message.transaction_id, key=key)  # type: ignore[arg-type]
    assert fast == stun.encode(message, key, True)
    assert stun.verify_integrity(fast, key) and stun.verify_fingerprint(fast)


def test_binding_request_refuses_what_the_codec_refuses() -> None:
    common = dict(priority=1, controlling=True, use_candidate=False, transaction_id=b"t" * 12)
    with pytest.raises(LocalProtocolError):
        encode_binding_request(username="u" * 764, tie_breaker=1, key=b"k", **common)  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError):
        encode_binding_request(username="a:b", tie_breaker=-1, key=b"k", **common)  # type: ignore[arg-type]


@pytest.mark.parametrize("mapped", ADDRESSES)
@pytest.mark.parametrize("key", [None, b"pwd"])
def test_success_response_matches_the_generic_codec(
    mapped: tuple[str, int], key: bytes | None
) -> None:
    tid = bytes(range(12))
    generic = stun.Message(
        stun.Method.BINDING, stun.MessageClass.SUCCESS, tid, ((stun.XOR_MAPPED_ADDRESS, mapped),)
    )
    data = binding_response(tid, mapped, None, key)
    assert data == stun.encode(generic, key, True)
    decoded = stun.parse_message(data).get_address(stun.XOR_MAPPED_ADDRESS)
    host = mapped[0].partition("%")[0]
    assert decoded == (str(ipaddress.ip_address(host)), mapped[1])


@pytest.mark.parametrize("host", ["01.2.3.4", "1.2.3", "256.1.1.1", "1.2.3.4 ", "a.local", "1\x00"])
def test_bad_addresses_are_still_refused(host: str) -> None:
    with pytest.raises(LocalProtocolError):
        binding_response(b"t" * 12, (host, 1), None, None)


def test_normalisation_is_memoised_and_bounded() -> None:
    rng = random.Random(1)
    samples = ["1.2.3.4", "FE80::A%eth0", "::ffff:1.2.3.4", "Host.Local", "0:0::1"]
    samples += [str(ipaddress.IPv4Address(rng.getrandbits(32))) for _ in range(600)]
    samples += [str(ipaddress.IPv6Address(rng.getrandbits(128))).upper() for _ in range(600)]
    for _ in range(2):  # second pass from the memo (or after it was cleared)
        for text in samples:
            host, sep, zone = text.partition("%")
            try:
                ip = ipaddress.ip_address(host)
            except ValueError:
                expected, family = text.lower(), None
            else:
                expected, family = str(ip) + sep + zone, ip.version
            assert candidate.normalize_address(text) == expected
            assert candidate.normalize_endpoint((text, 5)) == (expected, 5)
            assert candidate.address_family(text) == family
    assert len(candidate._ANALYSED) <= candidate._ANALYSED_LIMIT


def test_hmac_with_keyed_states_matches_hmac_digest() -> None:
    rng = random.Random(3)
    for size in [0, 1, 22, 24, 63, 64, 65, 128, 200]:
        key = rng.randbytes(size)
        for message in (b"", rng.randbytes(20), rng.randbytes(300)):
            for algorithm in ("sha1", "sha256"):
                expected = hmac.digest(key, message, algorithm)
                assert stun._hmac(key, message, algorithm) == expected
                assert stun._hmac(bytearray(key), message, algorithm) == expected
    assert len(stun._SHA1_PADS) <= stun._SHA1_PADS_LIMIT
