"""ICE candidate grammar (RFC 8839 §5.1), priority and foundation (RFC 8445 §5.1)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trio_webrtc.errors import ParseError
from trio_webrtc.ice import Candidate, CandidateParseError, compute_foundation, compute_priority
from trio_webrtc.ice.candidate import address_family, normalize_address

CHROME_HOST = (
    "candidate:1467250027 1 udp 2122260223 198.51.100.196 46243 typ host generation 0 "
    "ufrag Ex7e network-id 1 network-cost 10"
)
FIREFOX_SRFLX = (
    "candidate:1 1 UDP 1686052607 203.0.113.7 50000 typ srflx raddr 198.51.100.2 rport 50000"
)


def test_parse_chrome_host_with_extensions() -> None:
    candidate = Candidate.from_sdp(CHROME_HOST)
    assert candidate.foundation == "1467250027"
    assert candidate.component == 1
    assert candidate.transport == "udp"
    assert candidate.priority == 2122260223
    assert (candidate.address, candidate.port, candidate.type) == ("198.51.100.196", 46243, "host")
    assert candidate.generation == 0
    assert candidate.ufrag == "Ex7e"
    assert candidate.extensions == (("network-id", "1"), ("network-cost", "10"))
    assert candidate.to_sdp() == CHROME_HOST


@pytest.mark.parametrize("prefix", ["", "a=", "candidate:", "a=candidate:"])
def test_prefixes_are_optional(prefix: str) -> None:
    body = FIREFOX_SRFLX[len("candidate:") :]
    candidate = Candidate.from_sdp(prefix + body + "\r\n")
    assert candidate.related_address == "198.51.100.2"
    assert candidate.related_port == 50000
    assert candidate.type == "srflx"
    assert candidate.to_sdp() == FIREFOX_SRFLX


def test_ipv6_mdns_and_tcp() -> None:
    v6 = Candidate.from_sdp("candidate:2 1 udp 2122194687 2001:db8::1 9 typ host")
    assert v6.address == "2001:db8::1" and v6.family == 6
    mdns = Candidate.from_sdp(
        "candidate:3 1 udp 2113937151 0b5c2c5e-4b1f-4f0e-9d4a-8a1f0b7c2d3e.local 54321 typ host"
    )
    assert mdns.address.endswith(".local") and mdns.family is None
    tcp = Candidate.from_sdp("candidate:4 1 tcp 1518280447 198.51.100.1 9 typ host tcptype active")
    assert tcp.tcptype == "active"
    assert tcp.to_sdp().endswith("tcptype active")


@pytest.mark.parametrize(
    "value",
    [
        "",
        "candidate:1 1 udp 1 1.2.3.4 5 typ",
        "candidate:1 1 udp 1 1.2.3.4 5 type host",
        "candidate:1 0 udp 1 1.2.3.4 5 typ host",
        "candidate:1 257 udp 1 1.2.3.4 5 typ host",
        "candidate:1 1 udp 4294967296 1.2.3.4 5 typ host",
        "candidate:1 1 udp 1 1.2.3.4 65536 typ host",
        "candidate:1 1 udp 1 1.2.3.4 -1 typ host",
        "candidate:f@@ 1 udp 1 1.2.3.4 5 typ host",
        "candidate:1 1 udp 1 bad_host! 5 typ host",
        "candidate:1 1 udp 1 1.2.3.4 5 typ host raddr",
        "candidate:1 1 udp 1 1.2.3.4 5 typ srflx raddr 1.2.3.4 rport x",
        "candidate:" + "a" * 33 + " 1 udp 1 1.2.3.4 5 typ host",
    ],
)
def test_malformed_candidates(value: str) -> None:
    with pytest.raises(CandidateParseError):
        Candidate.from_sdp(value)
    assert issubclass(CandidateParseError, ParseError)


def test_priority_formula() -> None:
    assert compute_priority("host", 65535, 1) == (126 << 24) | (65535 << 8) | 255
    assert compute_priority("relay", 0, 2) == 254
    assert compute_priority("srflx", 10, 1) < compute_priority("prflx", 10, 1)
    assert Candidate.from_sdp(CHROME_HOST).local_preference == (2122260223 >> 8) & 0xFFFF
    with pytest.raises(ValueError):
        compute_priority("bogus", 1, 1)
    with pytest.raises(ValueError):
        compute_priority("host", 70000, 1)


def test_foundation_equal_for_equal_inputs() -> None:
    a = compute_foundation("srflx", "198.51.100.1", "stun.example.org:3478", "udp")
    assert a == compute_foundation("srflx", "198.51.100.1", "stun.example.org:3478", "UDP")
    assert a != compute_foundation("srflx", "198.51.100.2", "stun.example.org:3478", "udp")
    assert a != compute_foundation("host", "198.51.100.1", None, "udp")
    assert Candidate.from_sdp(f"candidate:{a} 1 udp 1 1.2.3.4 5 typ host").foundation == a


def test_address_helpers() -> None:
    assert normalize_address("0:0:0:0:0:0:0:1") == "::1"
    assert normalize_address("fe80::1%eth0") == "fe80::1%eth0"
    assert normalize_address("Host.LOCAL") == "host.local"
    assert address_family("127.0.0.1") == 4
    assert address_family("x.local") is None


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=120))
def test_fuzz_from_sdp_raises_only_parse_errors(value: str) -> None:
    try:
        candidate = Candidate.from_sdp(value)
    except CandidateParseError:
        return
    assert Candidate.from_sdp(candidate.to_sdp()) == candidate


@settings(max_examples=200, deadline=None)
@given(
    foundation=st.from_regex(r"[A-Za-z0-9+/]{1,32}", fullmatch=True),
    component=st.integers(1, 256),
    priority=st.integers(0, 2**32 - 1),
    address=st.ip_addresses().map(str),
    port=st.integers(0, 65535),
    typ=st.sampled_from(["host", "srflx", "prflx", "relay"]),
)
def test_round_trip(
    *, foundation: str, component: int, priority: int, address: str, port: int, typ: str
) -> None:
    candidate = Candidate(foundation, component, "udp", priority, address, port, typ)
    assert Candidate.from_sdp(candidate.to_sdp()) == candidate
