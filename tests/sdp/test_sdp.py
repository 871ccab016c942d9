"""Tests for trio_webrtc.sdp.description: the SDP model, vectors from real stacks, bounds
and fuzzing."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trio_webrtc.errors import SdpParseError
from trio_webrtc.sdp.description import (
    MAX_MEDIA_SECTIONS,
    DataChannelDescription,
    MediaSection,
    Origin,
    SessionDescription,
    parse_fingerprint,
)

VECTORS = Path(__file__).resolve().parent.parent / "vectors" / "sdp"
VECTOR_NAMES = sorted(p.name for p in VECTORS.glob("*.sdp"))


def load(name: str) -> str:
    return (VECTORS / name).read_bytes().decode("utf-8")


def test_vectors_present() -> None:
    assert len(VECTOR_NAMES) == 11
    assert "libdatachannel-offer.sdp" in VECTOR_NAMES


@pytest.mark.parametrize("name", VECTOR_NAMES)
def test_vector_parses_and_round_trips(name: str) -> None:
    text = load(name)
    desc = SessionDescription.parse(text)
    assert desc.version == 0
    assert desc.timing == (0, 0)
    assert len(desc.media) == 1
    assert desc.media[0].kind == "application"
    assert desc.media[0].proto == "UDP/DTLS/SCTP"
    assert desc.media[0].formats == ["webrtc-datachannel"]
    serialized = desc.serialize()
    assert serialized.endswith("\r\n")
    assert "\n" not in serialized.replace("\r\n", "")
    assert SessionDescription.parse(serialized) == desc
    # These vectors are canonical, so serialization is byte-exact.
    assert serialized == text


@pytest.mark.parametrize("name", VECTOR_NAMES)
def test_vector_lf_line_ends(name: str) -> None:
    text = load(name)
    assert SessionDescription.parse(text.replace("\r\n", "\n")) == SessionDescription.parse(text)


# name: (ufrag, pwd, fingerprint algorithms, fingerprint prefix, setup, max-message-size,
#        candidate count, end-of-candidates, ice-options)
EXPECTED = {
    "aiortc-answer.sdp": (
        "w1Kq", "wEOctTdd50fZkfunjI3apo", ("sha-256", "sha-384", "sha-512"), "5F:F1:2C",
        "active", 262144, 1, True, (),
    ),
    "aiortc-offer.sdp": (
        "RxX5", "MRpmIBueWQe6OBljFnCWXX", ("sha-256", "sha-384", "sha-512"), "24:1B:47",
        "actpass", 262144, 1, True, (),
    ),
    "chromium-answer.sdp": (
        "52hd", "gyMWKPvmsNahlnPvzIZz4TFS", ("sha-256",), "2E:6E:65",
        "active", 262144, 0, False, ("trickle",),
    ),
    "chromium-offer.sdp": (
        "W7vY", "Ys2YTr/0Xs7cuRDZNG4sX6sn", ("sha-256",), "BA:77:91",
        "actpass", 262144, 0, False, ("trickle",),
    ),
    "libdatachannel-answer.sdp": (
        "MYFb", "4DIc5ujAq6Q7ByHI8SApPx", ("sha-256",), "FC:69:3E",
        "active", 262144, 0, False, ("ice2", "trickle"),
    ),
    "libdatachannel-offer.sdp": (
        "Utnr", "0BY5SCQXAZzsvMNRTKxETW", ("sha-256",), "22:EA:3E",
        "actpass", 262144, 0, False, ("ice2", "trickle"),
    ),
    "libwebrtc-answer.sdp": (
        "P2Wx", "IyOCBG4S0Kp0879b9wi14jLd", ("sha-256",), "9F:3B:F3",
        "active", 262144, 1, False, ("trickle",),
    ),
    "libwebrtc-offer.sdp": (
        "XE0P", "Haskza9BGeMCtNTC+fBKWPwK", ("sha-256",), "BD:B5:C2",
        "actpass", 262144, 1, False, ("trickle",),
    ),
    "libwebrtc-offer.unfiltered.sdp": (
        "XE0P", "Haskza9BGeMCtNTC+fBKWPwK", ("sha-256",), "BD:B5:C2",
        "actpass", 262144, 4, False, ("trickle",),
    ),
    "werift-answer.sdp": (
        "1d0b", "1e93e8f9ad718c53ab8fd3", ("sha-256",), "D6:26:38",
        "active", 65536, 1, True, ("trickle",),
    ),
    "werift-offer.sdp": (
        "e029", "7b85082edf711b564de401", ("sha-256",), "6A:ED:D2",
        "actpass", 65536, 1, True, ("trickle",),
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", VECTOR_NAMES)
def test_datachannel_description_of_vector(name: str) -> None:
    ufrag, pwd, algorithms, prefix, setup, mms, n_cand, eoc, options = EXPECTED[name]
    dc = DataChannelDescription.from_session(SessionDescription.parse(load(name)))
    assert dc.mid == "0"
    assert dc.mline_index == 0
    assert dc.ice_ufrag == ufrag
    assert dc.ice_pwd == pwd
    assert dc.ice_lite is False
    assert dc.ice_options == options
    assert tuple(algo for algo, _ in dc.fingerprints) == algorithms
    assert dc.fingerprints[0][1].startswith(prefix)
    for _, value in dc.fingerprints:
        assert value == value.upper()
        assert len(value.split(":")) in (32, 48, 64)
    assert dc.setup == setup
    assert dc.sctp_port == 5000
    assert dc.max_message_size == mms
    assert len(dc.candidates) == n_cand
    assert all(c.startswith("candidate:") for c in dc.candidates)
    assert dc.end_of_candidates is eoc
    assert dc.legacy_sctpmap is False
    assert dc.bundle_mids == ("0",)


def test_libdatachannel_session_level_fallbacks() -> None:
    desc = SessionDescription.parse(load("libdatachannel-offer.sdp"))
    section = desc.media[0]
    assert not section.has_attribute("fingerprint")
    assert not section.has_attribute("ice-options")
    assert desc.get_attribute("ice-options") == "ice2 trickle"
    dc = DataChannelDescription.from_session(desc)
    assert dc.fingerprints == (
        (
            "sha-256",
            "22:EA:3E:29:58:E3:98:01:4C:48:84:C5:F4:7D:94:FD:"
            "1B:97:02:BE:D5:F2:DC:3D:1B:13:67:7C:8C:F8:66:C6",
        ),
    )
    assert dc.ice_options == ("ice2", "trickle")
    # Media level wins over session level.
    section.attributes.append(("ice-options", "trickle"))
    assert DataChannelDescription.from_session(desc).ice_options == ("trickle",)


def test_model_fields_of_chromium_offer() -> None:
    desc = SessionDescription.parse(load("chromium-offer.sdp"))
    assert desc.origin == Origin("-", 5720263684455892246, 2, "IN", "IP4", "127.0.0.1")
    assert desc.session_name == "-"
    assert desc.attributes == [
        ("group", "BUNDLE 0"),
        ("extmap-allow-mixed", None),
        ("msid-semantic", " WMS"),
    ]
    assert desc.bundle_groups == [("0",)]
    section = desc.media[0]
    assert section.port == 9
    assert section.connection == "IN IP4 0.0.0.0"
    assert section.mid == "0"
    assert section.get_attribute("ICE-UFRAG") == "W7vY"  # lookups ignore case
    assert section.get_attributes("sctp-port") == ["5000"]
    assert desc.media_by_mid("0") is section
    assert desc.media_by_mid("1") is None


UNUSUAL = (
    "v=0\n"
    "o=jdoe 2890844526 2890842807 IN IP4 10.47.16.5\n"
    "s=SDP Seminar\n"
    "i=A Seminar on the session description protocol\n"
    "u=http://www.example.com/seminars/sdp.pdf\n"
    "e=j.doe@example.com (Jane Doe)\n"
    "c=IN IP4 224.2.17.12/127\n"
    "b=AS:128\n"
    "t=2873397496 2873404696\n"
    "r=7d 1h 0 25h\n"
    "t=0 0\n"
    "z=2882844526 -1h\n"
    "x=an unknown line type\n"
    "a=recvonly\n"
    "a=x-custom:with:colons\n"
    "a=empty:\n"
    "m=audio 49170/2 RTP/AVP 0 8\n"
    "i=audio stream\n"
    "c=IN IP4 224.2.17.12/127\n"
    "c=IN IP4 224.2.17.13/127\n"
    "b=AS:64\n"
    "a=rtpmap:0 PCMU/8000\n"
    "m=video 51372 RTP/AVP 99\n"
    "a=rtpmap:99 h263-1998/90000\n"
)


def test_unknown_lines_and_attributes_are_kept() -> None:
    desc = SessionDescription.parse(UNUSUAL)
    assert desc.origin.username == "jdoe"
    assert desc.session_name == "SDP Seminar"
    assert desc.connection == "IN IP4 224.2.17.12/127"
    assert desc.timing == (2873397496, 2873404696)
    assert ("x", "an unknown line type") in desc.extra_lines
    assert ("r", "7d 1h 0 25h") in desc.extra_lines
    assert desc.attributes == [
        ("recvonly", None),
        ("x-custom", "with:colons"),
        ("empty", ""),
    ]
    audio, video = desc.media
    assert (audio.kind, audio.port, audio.port_count, audio.formats) == (
        "audio",
        49170,
        2,
        ["0", "8"],
    )
    assert audio.connection == "IN IP4 224.2.17.12/127"
    assert audio.extra_lines == [
        ("i", "audio stream"),
        ("c", "IN IP4 224.2.17.13/127"),
        ("b", "AS:64"),
    ]
    assert video.port_count is None
    text = desc.serialize()
    assert SessionDescription.parse(text) == desc
    lines = text.split("\r\n")
    # RFC 8866 order is kept: i u e before c, b before t, r/t/z/unknown after t.
    order = [line[0] for line in lines if line]
    assert order[:13] == ["v", "o", "s", "i", "u", "e", "c", "b", "t", "r", "t", "z", "x"]
    assert "a=empty:" in lines
    assert "a=recvonly" in lines
    assert "m=audio 49170/2 RTP/AVP 0 8" in lines
    with pytest.raises(SdpParseError, match="no usable data-channel"):
        DataChannelDescription.from_session(desc)


def test_out_of_order_extra_lines_round_trip() -> None:
    text = (
        "v=0\no=- 1 1 IN IP4 0.0.0.0\ns=-\nt=0 0\nb=AS:1\ni=late info\n"
        "m=audio 1 RTP/AVP 0\nb=AS:2\ni=x\n"
    )
    desc = SessionDescription.parse(text)
    assert desc.extra_lines == [("i", "late info"), ("b", "AS:1")]
    assert desc.media[0].extra_lines == [("i", "x"), ("b", "AS:2")]
    assert SessionDescription.parse(desc.serialize()) == desc


def test_blank_lines_and_missing_timing_tolerated() -> None:
    desc = SessionDescription.parse("v=0\r\n\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\n\r\n\r\n")
    assert desc.timing == (0, 0)
    assert desc.media == []
    assert desc.serialize() == "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"


def test_constructed_model_serializes() -> None:
    desc = SessionDescription(
        origin=Origin("-", 7, 3),
        attributes=[("ice-lite", None)],
        media=[
            MediaSection(
                kind="application",
                port=9,
                proto="UDP/DTLS/SCTP",
                formats=["webrtc-datachannel"],
                attributes=[("mid", "data")],
            )
        ],
    )
    assert desc.serialize() == (
        "v=0\r\no=- 7 3 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=ice-lite\r\n"
        "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:data\r\n"
    )
    assert str(desc) == desc.serialize()
    assert SessionDescription.parse(desc.serialize()) == desc


# ---------------------------------------------------------------- DataChannelDescription


BASE = (
    "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
    "a=group:BUNDLE 0\r\n"
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=mid:0\r\n"
    "a=ice-ufrag:abcd\r\na=ice-pwd:0123456789abcdefghijkl\r\n"
    "a=fingerprint:SHA-256 ab:cd:ef\r\na=setup:actpass\r\n"
)


def dc_of(text: str) -> DataChannelDescription:
    return DataChannelDescription.from_session(SessionDescription.parse(text))


def test_defaults_when_optional_attributes_absent() -> None:
    dc = dc_of(BASE)
    assert dc.fingerprints == (("sha-256", "AB:CD:EF"),)  # normalised case
    assert dc.sctp_port == 5000  # RFC 8841 default
    assert dc.max_message_size is None
    assert dc.candidates == ()
    assert dc.ice_options == ()
    dc = dc_of(BASE.replace("a=setup:actpass\r\n", "") + "a=sctp-port:5001\r\n")
    assert dc.setup == "actpass"
    assert dc.sctp_port == 5001


def test_session_level_ice_and_dtls_attributes() -> None:
    text = (
        "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
        "a=ice-lite\r\na=ice-ufrag:sess\r\na=ice-pwd:sessionpasswordsession\r\n"
        "a=fingerprint:sha-1 00:11\r\na=setup:passive\r\na=end-of-candidates\r\n"
        "m=application 5000 UDP/DTLS/SCTP webrtc-datachannel\r\na=max-message-size:0\r\n"
    )
    dc = dc_of(text)
    assert (dc.ice_ufrag, dc.ice_pwd) == ("sess", "sessionpasswordsession")
    assert dc.ice_lite is True
    assert dc.fingerprints == (("sha-1", "00:11"),)
    assert dc.setup == "passive"
    assert dc.end_of_candidates is True
    assert dc.max_message_size == 0
    assert dc.mid == ""
    assert dc.bundle_mids == ()


def test_rejected_sections_are_skipped() -> None:
    dead = "m=application 0 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:dead\r\n"
    audio = "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:a\r\n"
    head, sep, tail = BASE.partition("m=application")
    dc = dc_of(head + audio + dead + sep + tail)
    assert dc.mline_index == 2
    assert dc.mid == "0"
    with pytest.raises(SdpParseError, match="no usable data-channel"):
        dc_of(BASE.replace("m=application 9", "m=application 0"))


def test_bundle_only_section_uses_tagged_section_transport() -> None:
    text = (
        "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE a d\r\n"
        "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:a\r\n"
        "a=ice-ufrag:tagd\r\na=ice-pwd:taggedpasswordtaggedpw\r\n"
        "a=fingerprint:sha-256 AA:BB\r\na=setup:active\r\n"
        "a=candidate:1 1 udp 1 127.0.0.1 5000 typ host\r\na=end-of-candidates\r\n"
        "m=application 0 UDP/DTLS/SCTP webrtc-datachannel\r\na=bundle-only\r\na=mid:d\r\n"
    )
    dc = dc_of(text)
    assert dc.mline_index == 1
    assert dc.mid == "d"
    assert dc.bundle_mids == ("a", "d")
    assert dc.ice_ufrag == "tagd"
    assert dc.fingerprints == (("sha-256", "AA:BB"),)
    assert dc.setup == "active"
    assert dc.candidates == ("candidate:1 1 udp 1 127.0.0.1 5000 typ host",)
    assert dc.end_of_candidates is True


@pytest.mark.parametrize(
    "proto", ["DTLS/SCTP", "UDP/DTLS/SCTP", "TCP/DTLS/SCTP"], ids=lambda p: p.replace("/", "_")
)
def test_legacy_sctpmap_section(proto: str) -> None:
    text = (
        BASE.replace("UDP/DTLS/SCTP webrtc-datachannel", f"{proto} 5002")
        + "a=sctpmap:5002 webrtc-datachannel 1024\r\n"
    )
    dc = dc_of(text)
    assert dc.legacy_sctpmap is True
    assert dc.sctp_port == 5002
    # An sctpmap for another protocol or format is not a data channel.
    with pytest.raises(SdpParseError):
        dc_of(text.replace("sctpmap:5002 webrtc-datachannel", "sctpmap:5002 other"))
    with pytest.raises(SdpParseError):
        dc_of(text.replace("sctpmap:5002", "sctpmap:5003"))


def test_tcp_dtls_sctp_modern() -> None:
    dc = dc_of(BASE.replace("UDP/DTLS/SCTP", "TCP/DTLS/SCTP"))
    assert dc.legacy_sctpmap is False


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("a=ice-ufrag:abcd\r\n", "", "ice-ufrag"),
        ("a=ice-pwd:0123456789abcdefghijkl\r\n", "", "ice-pwd"),
        ("a=fingerprint:SHA-256 ab:cd:ef\r\n", "", "fingerprint"),
        ("ab:cd:ef", "ab:cd:xy", "hex"),
        ("SHA-256 ab:cd:ef", "SHA-256", "fingerprint"),
        ("a=ice-pwd:0123456789abcdefghijkl", "a=ice-pwd:short", "ice-pwd"),
        ("a=ice-ufrag:abcd", "a=ice-ufrag:ab", "ice-ufrag"),
        ("a=ice-ufrag:abcd", "a=ice-ufrag:ab;cd", "ice-ufrag"),
        ("a=setup:actpass", "a=setup:sideways", "setup"),
        ("a=mid:0", "a=mid:0@", "mid"),
        ("a=setup:actpass\r\n", "a=setup:actpass\r\na=max-message-size:lots\r\n", "max-message"),
        ("a=setup:actpass\r\n", "a=setup:actpass\r\na=max-message-size:-1\r\n", "max-message"),
        ("a=setup:actpass\r\n", "a=setup:actpass\r\na=sctp-port:0\r\n", "SCTP port"),
        ("a=setup:actpass\r\n", "a=setup:actpass\r\na=sctp-port:65536\r\n", "SCTP port"),
        ("a=setup:actpass\r\n", "a=setup:actpass\r\na=sctp-port:x\r\n", "SCTP port"),
        ("webrtc-datachannel\r\n", "webrtc-datachannelx\r\n", "no usable"),
        ("m=application", "m=text", "no usable"),
    ],
)
def test_unusable_datachannel_descriptions(old: str, new: str, message: str) -> None:
    assert old in BASE or old in BASE + "a=setup:actpass\r\n"
    with pytest.raises(SdpParseError, match=message):
        dc_of(BASE.replace(old, new))


def test_parse_fingerprint() -> None:
    assert parse_fingerprint("SHA-256 aa:0b") == ("sha-256", "AA:0B")
    for bad in ("", "sha-256", "sha-256 a:b", "sha-256 aa:bb:", "sha-256 aabb", "x y z"):
        with pytest.raises(SdpParseError):
            parse_fingerprint(bad)


# ---------------------------------------------------------------- malformed input


GOOD = load("chromium-offer.sdp")


MALFORMED = {
    "empty": "",
    "only-whitespace": "\r\n  \r\n",
    "missing-v": GOOD.replace("v=0\r\n", ""),
    "v-not-first": "s=-\r\n" + GOOD.replace("s=-\r\n", ""),
    "version-1": GOOD.replace("v=0", "v=1"),
    "version-text": GOOD.replace("v=0", "v=zero"),
    "duplicate-v": GOOD.replace("s=-", "v=0\r\ns=-"),
    "missing-o": GOOD.replace("o=- 5720263684455892246 2 IN IP4 127.0.0.1\r\n", ""),
    "missing-s": GOOD.replace("s=-\r\n", ""),
    "duplicate-o": GOOD.replace("s=-", "o=- 1 1 IN IP4 0.0.0.0\r\ns=-"),
    "short-o": GOOD.replace("o=- 5720263684455892246 2 IN IP4 127.0.0.1", "o=- 1 2 IN"),
    "o-bad-id": GOOD.replace("5720263684455892246", "57x"),
    "o-huge-id": GOOD.replace("5720263684455892246", "9" * 30),
    "garbage-line": GOOD.replace("a=mid:0", "this is not sdp"),
    "uppercase-type": GOOD.replace("a=mid:0", "A=mid:0"),
    "no-equals": GOOD.replace("a=mid:0", "a"),
    "space-before-type": GOOD.replace("a=mid:0", " a=mid:0"),
    "empty-attribute-name": GOOD.replace("a=mid:0", "a=:0"),
    "bad-attribute-name": GOOD.replace("a=mid:0", "a=m id:0"),
    "bad-m-line": GOOD.replace("m=application 9 UDP/DTLS/SCTP webrtc-datachannel", "m=application"),
    "m-two-fields": GOOD.replace("9 UDP/DTLS/SCTP webrtc-datachannel", "9"),
    "bad-port": GOOD.replace("m=application 9", "m=application nine"),
    "negative-port": GOOD.replace("m=application 9", "m=application -9"),
    "port-too-big": GOOD.replace("m=application 9", "m=application 70000"),
    "bad-port-count": GOOD.replace("m=application 9", "m=application 9/x"),
    "unicode-digit-port": GOOD.replace("m=application 9", "m=application \u0669"),
    "bad-proto": GOOD.replace("UDP/DTLS/SCTP", "UDP//SCTP"),
    "bad-t": GOOD.replace("t=0 0", "t=0"),
    "bad-t-number": GOOD.replace("t=0 0", "t=0 x"),
    "bad-c": GOOD.replace("c=IN IP4 0.0.0.0", "c=IN IP4"),
    "t-in-media": GOOD + "t=0 0\r\n",
    "o-in-media": GOOD + "o=- 1 1 IN IP4 0.0.0.0\r\n",
    "nul-byte": GOOD.replace("a=mid:0", "a=mid:0\x00"),
    "lone-cr": GOOD.replace("\r\na=mid:0", "\ra=mid:0"),
    "escape-char": GOOD.replace("a=mid:0", "a=mid:\x1b[31m"),
    "100KiB": GOOD + "a=x:" + "y" * (100 * 1024) + "\r\n",
    "big-multibyte": GOOD + "a=x:" + "\u00e9" * 40000 + "\r\n",
    "2000-lines": GOOD + "a=x\r\n" * 2000,
    "too-many-m-sections": GOOD + "m=audio 0 RTP/AVP 0\r\n" * MAX_MEDIA_SECTIONS,
    "binary-junk": bytes(range(256)).decode("latin-1") * 4,
    "utf8-junk": "\u2603\ufffd\U0001f600=\x01\x02",
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_sdp_raises_parse_error(name: str) -> None:
    with pytest.raises(SdpParseError) as info:
        SessionDescription.parse(MALFORMED[name])
    assert str(info.value)


def test_error_messages_name_the_line() -> None:
    with pytest.raises(SdpParseError, match=r"line 8: port must be a decimal integer"):
        SessionDescription.parse(MALFORMED["bad-port"])
    with pytest.raises(SdpParseError, match=r"line 15: expected '<letter>=<value>'"):
        SessionDescription.parse(MALFORMED["garbage-line"])
    with pytest.raises(SdpParseError, match="larger than 65536 bytes"):
        SessionDescription.parse(MALFORMED["100KiB"])
    with pytest.raises(SdpParseError, match="more than 1000 lines"):
        SessionDescription.parse(MALFORMED["2000-lines"])
    with pytest.raises(SdpParseError, match="more than 64 m-sections"):
        SessionDescription.parse(MALFORMED["too-many-m-sections"])


def test_limits_are_inclusive() -> None:
    # Exactly 64 m-sections and 1000 lines are fine.
    lines = GOOD + "m=audio 0 RTP/AVP 0\r\n" * (MAX_MEDIA_SECTIONS - 1)
    lines += "a=x\r\n" * (1000 - lines.count("\n"))
    desc = SessionDescription.parse(lines)
    assert len(desc.media) == MAX_MEDIA_SECTIONS
    assert lines.count("\n") == 1000


def test_non_str_input() -> None:
    with pytest.raises(SdpParseError, match="must be str"):
        SessionDescription.parse(GOOD.encode())  # type: ignore[arg-type]


# ---------------------------------------------------------------- fuzzing


def check_only_parse_errors(text: str) -> None:
    """Parsing and extraction raise nothing but SdpParseError, and round-trip on success."""
    try:
        desc = SessionDescription.parse(text)
    except SdpParseError:
        return
    assert SessionDescription.parse(desc.serialize()) == desc
    with contextlib.suppress(SdpParseError):
        DataChannelDescription.from_session(desc)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_fuzz_random_text(text: str) -> None:
    check_only_parse_errors(text)


_SDP_ALPHABET = st.sampled_from(list("vosctmaib= :/\r\n0123456789-xyzABC\x00\t\u00e9"))


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet=_SDP_ALPHABET, max_size=200).map(lambda body: "v=0\r\n" + body),
)
def test_fuzz_sdp_like_text(text: str) -> None:
    check_only_parse_errors(text)


@st.composite
def mutated_vector(draw: st.DrawFn) -> str:
    text = load(draw(st.sampled_from(VECTOR_NAMES)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["delete", "insert", "replace", "drop-line", "dup-line"]))
        if op in ("drop-line", "dup-line"):
            lines = text.split("\r\n")
            i = draw(st.integers(0, len(lines) - 1))
            if op == "drop-line":
                del lines[i]
            else:
                lines.insert(i, lines[i])
            text = "\r\n".join(lines)
            continue
        pos = draw(st.integers(0, len(text)))
        piece = draw(st.text(alphabet=_SDP_ALPHABET, min_size=1, max_size=8))
        if op == "delete":
            text = text[:pos] + text[pos + len(piece) :]
        elif op == "insert":
            text = text[:pos] + piece + text[pos:]
        else:
            text = text[:pos] + piece + text[pos + len(piece) :]
    return text


@settings(max_examples=200, deadline=None)
@given(mutated_vector())
def test_fuzz_mutated_vectors(text: str) -> None:
    check_only_parse_errors(text)
