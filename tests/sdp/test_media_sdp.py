"""Audio/video SDP (issue 16): offers, answers, directions, codecs, renegotiation.

Vectors: ``media_vectors/chromium-media-*.sdp`` were captured from Chromium (see
``capture_chromium.py``); ``firefox-media-offer.sdp`` follows Firefox's layout.
"""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trio_webrtc.core import PeerConnectionCore
from trio_webrtc.core.events import MediaNegotiated
from trio_webrtc.errors import InvalidStateError, LocalProtocolError, SdpParseError
from trio_webrtc.sdp import SessionDescription
from trio_webrtc.sdp.jsep import create_answer
from trio_webrtc.sdp.media import (
    MID_EXTENSION_URI,
    Codec,
    Direction,
    NegotiatedMedia,
    TransceiverRequest,
    default_codecs,
)
from trio_webrtc.sdp.media_jsep import answer_direction, match_codecs, read_media

VECTORS = Path(__file__).with_name("media_vectors")
MEDIA_OFFERS = ["chromium-media-offer.sdp", "firefox-media-offer.sdp"]
DIRECTIONS: list[Direction] = ["sendrecv", "sendonly", "recvonly", "inactive"]


def core(seed: int = 1, *requests: TransceiverRequest) -> PeerConnectionCore:
    pc = PeerConnectionCore(rng=random.Random(seed))
    for request in requests:
        pc.add_transceiver(request)
    return pc


def exchange(offerer: PeerConnectionCore, answerer: PeerConnectionCore) -> tuple[str, str]:
    offer = offerer.create_offer()
    offerer.set_local_description("offer", offer, 0.0)
    answerer.set_remote_description("offer", offer, 0.0)
    answer = answerer.create_answer()
    answerer.set_local_description("answer", answer, 0.0)
    offerer.set_remote_description("answer", answer, 0.0)
    return offer, answer


def events(pc: PeerConnectionCore) -> list[object]:
    found = []
    while (event := pc.next_event()) is not None:
        found.append(event)
    return found


def lines(section_text: str, prefix: str) -> list[str]:
    return [line for line in section_text.splitlines() if line.startswith(prefix)]


def answer_vector(name: str, *requests: TransceiverRequest) -> tuple[PeerConnectionCore, str]:
    pc = core(3, *requests)
    pc.set_remote_description("offer", (VECTORS / name).read_text(), 0.0)
    answer = pc.create_answer()
    pc.set_local_description("answer", answer, 0.0)
    return pc, answer


# ------------------------------------------------------------------ offers


def test_default_codecs() -> None:
    (opus,) = default_codecs("audio")
    assert (opus.name, opus.clock_rate, opus.channels) == ("opus", 48000, 2)
    vp8, h264 = default_codecs("video")
    assert (vp8.name, h264.name) == ("VP8", "H264")
    assert "packetization-mode=1" in (h264.fmtp or "")
    assert "profile-level-id=42e01f" in (h264.fmtp or "")
    for codec in (vp8, h264):
        assert {"nack", "nack pli", "ccm fir"} <= set(codec.rtcp_feedback)
    with pytest.raises(ValueError):
        default_codecs("text")  # type: ignore[arg-type]


def test_offer_shape() -> None:
    pc = core(1, TransceiverRequest("audio"), TransceiverRequest("video", "sendonly"))
    text = pc.create_offer()
    desc = SessionDescription.parse(text)
    assert [s.kind for s in desc.media] == ["application", "audio", "video"]
    assert [s.mid for s in desc.media] == ["0", "1", "2"]
    assert desc.bundle_groups == [("0", "1", "2")]
    ssrcs = []
    for section in desc.media[1:]:
        assert section.port == 9 and section.proto == "UDP/TLS/RTP/SAVPF"
        for flag in ("rtcp-mux", "rtcp-rsize"):
            assert section.has_attribute(flag)
        assert section.get_attributes("extmap") == [f"4 {MID_EXTENSION_URI}"]
        assert section.get_attribute("setup") == "actpass"
        assert section.get_attribute("ice-ufrag") == desc.media[0].get_attribute("ice-ufrag")
        assert section.get_attributes("fingerprint") == desc.media[0].get_attributes("fingerprint")
        assert not section.has_attribute("candidate")
        stream, track = (section.get_attribute("msid") or "").split()
        assert stream == pc.media_senders[0].stream_id and track
        cnames = {v.split()[1] for v in section.get_attributes("ssrc") if "cname:" in v}
        assert cnames == {"cname:" + pc.media_senders[0].cname}
        ssrcs += sorted({int(v.split()[0]) for v in section.get_attributes("ssrc")})
    audio, video = desc.media[1], desc.media[2]
    assert audio.has_attribute("sendrecv") and video.has_attribute("sendonly")
    assert audio.formats == ["111"]
    assert audio.get_attributes("rtpmap") == ["111 opus/48000/2"]
    assert not audio.has_attribute("ssrc-group")
    assert video.formats == ["96", "97", "98", "99"]
    assert video.get_attributes("rtpmap") == [
        "96 VP8/90000",
        "97 rtx/90000",
        "98 H264/90000",
        "99 rtx/90000",
    ]
    assert "97 apt=96" in video.get_attributes("fmtp")
    assert "99 apt=98" in video.get_attributes("fmtp")
    assert {"96 nack", "96 nack pli", "96 ccm fir"} <= set(video.get_attributes("rtcp-fb"))
    (fid,) = video.get_attributes("ssrc-group")
    sender = pc.media_senders[1]
    assert fid == f"FID {sender.ssrc} {sender.rtx_ssrc}"
    assert len(set(ssrcs)) == len(ssrcs) == 3  # audio + video + video RTX, all distinct
    assert all(0 < s < 2**32 for s in ssrcs)


def test_recvonly_offer_signals_no_ssrc() -> None:
    pc = core(1, TransceiverRequest("video", "recvonly"))
    video = SessionDescription.parse(pc.create_offer()).media[1]
    assert video.has_attribute("recvonly")
    assert not video.has_attribute("ssrc") and not video.has_attribute("msid")


def test_data_only_offer_unchanged() -> None:
    """No transceiver: the same text as a core that never heard of media."""
    plain, other = core(5), core(5)
    other.add_transceiver  # noqa: B018 - the hook exists, unused here
    assert plain.create_offer() == other.create_offer()
    desc = SessionDescription.parse(plain.create_offer())
    assert [s.kind for s in desc.media] == ["application"]
    assert desc.bundle_groups == [("0",)]


def test_offer_round_trips() -> None:
    text = core(1, TransceiverRequest("audio"), TransceiverRequest("video")).create_offer()
    assert SessionDescription.parse(text).serialize() == text


def test_add_transceiver_checks() -> None:
    pc = core(1)
    assert pc.add_transceiver(TransceiverRequest("audio")) == 0
    assert pc.add_transceiver(TransceiverRequest("video")) == 1
    with pytest.raises(LocalProtocolError):
        pc.add_transceiver(TransceiverRequest("text"))  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError):
        pc.add_transceiver(TransceiverRequest("audio", "both"))  # type: ignore[arg-type]
    pc.close(0.0)
    with pytest.raises(InvalidStateError):
        pc.add_transceiver(TransceiverRequest("audio"))


# ------------------------------------------------------------------ answers to vectors


@pytest.mark.parametrize("name", MEDIA_OFFERS)
def test_vector_without_transceivers_is_rejected_as_before(name: str) -> None:
    """No transceiver: media m-sections get port 0, exactly jsep.create_answer's answer."""
    pc, answer = answer_vector(name)
    offer = SessionDescription.parse((VECTORS / name).read_text())
    desc = SessionDescription.parse(answer)
    for section in desc.media:
        if section.kind != "application":
            assert section.port == 0 and section.attributes == [("mid", section.mid)]
    assert desc.bundle_groups == [(desc.media[2].mid,)]
    assert len(desc.media) == len(offer.media)
    assert pc.negotiated_media == ()
    assert not any(isinstance(e, MediaNegotiated) for e in events(pc))
    # Identical to the data-only JSEP answer but for session id/version and credentials.
    assert type(create_answer)  # the underlying function is unchanged


@pytest.mark.parametrize("name", MEDIA_OFFERS)
def test_answer_to_vector(name: str) -> None:
    offer = SessionDescription.parse((VECTORS / name).read_text())
    pc, answer = answer_vector(name, TransceiverRequest("audio"), TransceiverRequest("video"))
    desc = SessionDescription.parse(answer)
    assert desc.serialize() == answer
    assert [s.kind for s in desc.media] == [s.kind for s in offer.media]
    assert [s.mid for s in desc.media] == [s.mid for s in offer.media]
    assert desc.bundle_groups == [("0", "1", "2")]
    by_kind = {m.kind: m for m in pc.negotiated_media}
    assert set(by_kind) == {"audio", "video"}
    for index, section in enumerate(desc.media[:2]):
        offered = read_media(offer, index)
        answered = read_media(desc, index)
        assert section.port == 9 and section.has_attribute("rtcp-mux")
        assert answered.mid_extension_id == offered.mid_extension_id  # echoed id
        assert len(section.get_attributes("extmap")) == 1
        offered_pts = {c.payload_type: c.name for c in offered.codecs}
        for codec in answered.codecs:
            assert offered_pts[codec.payload_type] == codec.name  # offer's numbers
            assert set(codec.rtcp_feedback) <= {"nack", "nack pli", "ccm fir", "goog-remb"}
        negotiated = by_kind[section.kind]
        assert negotiated.mid == section.mid
        assert negotiated.codecs == answered.codecs
        assert negotiated.direction == "sendrecv"
        assert negotiated.remote_ssrcs == offered.ssrcs and offered.ssrcs
        assert negotiated.mid_extension_id == offered.mid_extension_id
        assert negotiated.local_ssrc == pc.media_senders[negotiated.request_index or 0].ssrc
    audio, video = by_kind["audio"], by_kind["video"]
    assert [c.name for c in audio.codecs] == ["opus"] and audio.codecs[0].rtx_payload_type is None
    assert [c.name for c in video.codecs] == ["VP8", "H264"]
    assert all(c.rtx_payload_type is not None for c in video.codecs)
    assert video.remote_rtx_ssrcs and video.local_rtx_ssrc is not None
    assert (audio.request_index, video.request_index) == (0, 1)
    h264 = video.codecs[1]
    assert "packetization-mode=1" in (h264.fmtp or "")
    assert "42e01f" in (h264.fmtp or "")
    assert [e for e in events(pc) if isinstance(e, MediaNegotiated)] == [
        MediaNegotiated(pc.negotiated_media)
    ]


def test_chromium_offer_h264_choice() -> None:
    """Chromium offers several H.264 variants: only packetization-mode 1 with the
    Constrained Baseline profile matches ours, with the offer's number and fmtp."""
    offer = SessionDescription.parse((VECTORS / "chromium-media-offer.sdp").read_text())
    video = read_media(offer, 1)
    matched = match_codecs(video.codecs, default_codecs("video"), kind="video")
    h264 = [c for c in matched if c.name == "H264"]
    assert len(h264) == 1
    source = next(c for c in video.codecs if c.payload_type == h264[0].payload_type)
    assert h264[0].fmtp == source.fmtp
    assert h264[0].rtx_payload_type == source.rtx_payload_type


def test_extra_offered_sections_are_rejected() -> None:
    """One video request, an offer with audio and video: audio rejected, BUNDLE without it."""
    pc, answer = answer_vector("chromium-media-offer.sdp", TransceiverRequest("video"))
    desc = SessionDescription.parse(answer)
    assert desc.media[0].port == 0 and desc.media[0].kind == "audio"
    assert desc.media[1].port == 9
    assert desc.bundle_groups == [("1", "2")]
    assert [m.kind for m in pc.negotiated_media] == ["video"]


def test_requests_match_by_kind_in_order() -> None:
    """Two video requests, the offer's first video section takes request 1 (the first video)."""
    pc, _ = answer_vector(
        "firefox-media-offer.sdp",
        TransceiverRequest("video", "recvonly"),
        TransceiverRequest("audio", "sendonly"),
        TransceiverRequest("video"),
    )
    media = {m.kind: m for m in pc.negotiated_media}
    assert media["video"].request_index == 0 and media["video"].direction == "recvonly"
    assert media["audio"].request_index == 1 and media["audio"].direction == "sendonly"


# ------------------------------------------------------------------ directions


@pytest.mark.parametrize(("offered", "wanted"), list(itertools.product(DIRECTIONS, DIRECTIONS)))
def test_direction_matrix(offered: Direction, wanted: Direction) -> None:
    """RFC 3264 §6.1: both sides' negotiated directions mirror each other."""
    sends = wanted in ("sendrecv", "sendonly") and offered in ("sendrecv", "recvonly")
    receives = wanted in ("sendrecv", "recvonly") and offered in ("sendrecv", "sendonly")
    expected = {
        (True, True): "sendrecv",
        (True, False): "sendonly",
        (False, True): "recvonly",
        (False, False): "inactive",
    }[sends, receives]
    assert answer_direction(offered, wanted) == expected
    a = core(1, TransceiverRequest("video", offered))
    b = core(2, TransceiverRequest("video", wanted))
    _, answer = exchange(a, b)
    assert read_media(SessionDescription.parse(answer), 1).direction == expected
    mirror = {"sendrecv": "sendrecv", "sendonly": "recvonly", "recvonly": "sendonly"}
    mirror["inactive"] = "inactive"
    (ours,), (theirs,) = a.negotiated_media, b.negotiated_media
    assert theirs.direction == expected
    assert ours.direction == mirror[expected]
    assert (ours.local_ssrc is not None) == ours.sends
    assert (theirs.local_ssrc is not None) == theirs.sends
    if ours.sends:
        assert theirs.remote_ssrcs == (ours.local_ssrc,)
        assert theirs.remote_rtx_ssrcs == ((ours.local_ssrc, ours.local_rtx_ssrc),)
    if theirs.sends:
        assert ours.remote_ssrcs == (theirs.local_ssrc,)


# ------------------------------------------------------------------ codecs and PTs


def _offer_with_video(formats: str, codec_lines: str) -> str:
    base = core(9, TransceiverRequest("video")).create_offer()
    head, _, _ = base.partition("m=video")
    return head + (
        f"m=video 9 UDP/TLS/RTP/SAVPF {formats}\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\n"
        "a=extmap:7 urn:ietf:params:rtp-hdrext:sdes:mid\r\na=sendrecv\r\na=rtcp-mux\r\n"
        + codec_lines
    )


def test_payload_type_remapping() -> None:
    """The offer's numbers are used both ways, whatever ours would have been."""
    offer = _offer_with_video(
        "100 101",
        "a=rtpmap:100 VP8/90000\r\na=rtcp-fb:100 nack\r\na=rtcp-fb:100 transport-cc\r\n"
        "a=rtpmap:101 rtx/90000\r\na=fmtp:101 apt=100\r\n",
    )
    pc = core(4, TransceiverRequest("video"))
    pc.set_remote_description("offer", offer, 0.0)
    answer = pc.create_answer()
    pc.set_local_description("answer", answer, 0.0)
    (media,) = pc.negotiated_media
    assert media.codecs == (Codec("VP8", 90000, None, 100, None, ("nack",), 101),)
    assert media.mid_extension_id == 7
    video = SessionDescription.parse(answer).media[1]
    assert video.formats == ["100", "101"]
    assert video.get_attributes("rtcp-fb") == ["100 nack"]  # transport-cc not kept
    assert video.get_attributes("extmap") == [f"7 {MID_EXTENSION_URI}"]


@pytest.mark.parametrize(
    "codec_lines",
    [
        # H.264 packetization-mode 0 only
        "a=rtpmap:102 H264/90000\r\na=fmtp:102 packetization-mode=0;profile-level-id=42e01f\r\n",
        # H.264 High profile
        "a=rtpmap:102 H264/90000\r\na=fmtp:102 packetization-mode=1;profile-level-id=64001f\r\n",
        "a=rtpmap:102 VP9/90000\r\n",
    ],
)
def test_no_common_codec_rejects_the_section(codec_lines: str) -> None:
    pc = core(4, TransceiverRequest("video"))
    pc.set_remote_description("offer", _offer_with_video("102", codec_lines), 0.0)
    answer = pc.create_answer()
    pc.set_local_description("answer", answer, 0.0)
    desc = SessionDescription.parse(answer)
    assert desc.media[1].port == 0
    assert desc.bundle_groups == [("0",)]
    assert pc.negotiated_media == ()


def test_request_codecs_restrict_the_answer() -> None:
    h264_only = tuple(c for c in default_codecs("video") if c.name == "H264")
    pc, _ = answer_vector("chromium-media-offer.sdp", TransceiverRequest("video", codecs=h264_only))
    (video,) = pc.negotiated_media
    assert [c.name for c in video.codecs] == ["H264"]


def test_remote_answer_with_unoffered_payload_type_raises() -> None:
    a, b = core(1, TransceiverRequest("video")), core(2, TransceiverRequest("video"))
    offer = a.create_offer()
    a.set_local_description("offer", offer, 0.0)
    b.set_remote_description("offer", offer, 0.0)
    answer = b.create_answer().replace("a=rtpmap:96 VP8/90000", "a=rtpmap:96 VP9/90000")
    with pytest.raises(SdpParseError, match="payload type 96"):
        a.set_remote_description("answer", answer, 0.0)
    assert a.signaling_state.name == "HAVE_LOCAL_OFFER"  # the bad answer changed nothing
    a.set_remote_description("answer", b.create_answer(), 0.0)
    assert [m.kind for m in a.negotiated_media] == ["video"]


def test_remote_answer_rejecting_a_section() -> None:
    """The peer (no audio request) rejects our audio: only video is negotiated."""
    a = core(1, TransceiverRequest("audio"), TransceiverRequest("video"))
    b = core(2, TransceiverRequest("video"))
    exchange(a, b)
    assert [(m.mid, m.kind) for m in a.negotiated_media] == [("2", "video")]
    assert a.negotiated_media[0].request_index == 1
    assert [(m.mid, m.kind) for m in b.negotiated_media] == [("2", "video")]


def test_chromium_answer_to_our_offer() -> None:
    """Chromium's captured answer (sendrecv, its SSRCs) to an offer laid out like ours."""
    pc = core(1, TransceiverRequest("audio"), TransceiverRequest("video"))
    pc.set_local_description("offer", pc.create_offer(), 0.0)
    pc.set_remote_description("answer", (VECTORS / "chromium-media-answer.sdp").read_text(), 0.0)
    audio, video = pc.negotiated_media
    assert (audio.mid, audio.kind, audio.direction) == ("1", "audio", "sendrecv")
    assert (video.mid, video.kind, video.direction) == ("2", "video", "sendrecv")
    assert audio.remote_ssrcs and video.remote_ssrcs and video.remote_rtx_ssrcs
    assert video.mid_extension_id == 4
    assert [(c.name, c.payload_type, c.rtx_payload_type) for c in video.codecs] == [
        ("VP8", 96, 97),
        ("H264", 98, 99),
    ]


# ------------------------------------------------------------------ negotiated_media


def test_negotiated_media_contents_both_sides() -> None:
    a = core(1, TransceiverRequest("audio"), TransceiverRequest("video"))
    b = core(2, TransceiverRequest("audio"), TransceiverRequest("video"))
    assert a.negotiated_media == () and b.negotiated_media == ()
    exchange(a, b)
    for ours, theirs in ((a, b), (b, a)):
        for mine, peer in zip(ours.negotiated_media, theirs.negotiated_media, strict=True):
            assert isinstance(mine, NegotiatedMedia)
            assert (mine.mid, mine.kind, mine.codecs) == (peer.mid, peer.kind, peer.codecs)
            assert mine.remote_ssrcs == (peer.local_ssrc,)
            assert mine.cname == ours.media_senders[0].cname
            assert mine.remote_cname == peer.cname
            assert mine.remote_msid == peer.local_msid
    assert [m.request_index for m in a.negotiated_media] == [0, 1]
    for pc in (a, b):
        (event,) = [e for e in events(pc) if isinstance(e, MediaNegotiated)]
        assert event.media == pc.negotiated_media


def test_data_only_session_has_no_media_event() -> None:
    a, b = core(1), core(2)
    exchange(a, b)
    assert a.negotiated_media == b.negotiated_media == ()
    assert not any(isinstance(e, MediaNegotiated) for e in events(a) + events(b))


# ------------------------------------------------------------------ renegotiation


def test_add_transceiver_then_reoffer() -> None:
    a = core(1, TransceiverRequest("audio"))
    b = core(2, TransceiverRequest("audio"))
    exchange(a, b)
    first = a.negotiated_media[0]
    events(a)
    a.add_transceiver(TransceiverRequest("video"))
    b.add_transceiver(TransceiverRequest("video"))
    offer, _ = exchange(a, b)
    desc = SessionDescription.parse(offer)
    assert [(s.kind, s.mid) for s in desc.media] == [
        ("application", "0"),
        ("audio", "1"),
        ("video", "2"),
    ]
    assert desc.bundle_groups == [("0", "1", "2")]
    audio, video = a.negotiated_media
    assert audio == first  # unchanged: same mid, PTs and SSRCs
    assert (video.mid, video.kind, video.request_index) == ("2", "video", 1)
    assert [m.kind for m in b.negotiated_media] == ["audio", "video"]
    (event,) = [e for e in events(a) if isinstance(e, MediaNegotiated)]
    assert event.media == (audio, video)


def test_reoffer_after_answering_keeps_remote_layout() -> None:
    """We answered Chromium (audio 0, video 1, data 2) with video only; our re-offer keeps
    the order and payload types and recycles the rejected audio m-line for a new request
    (RFC 9429 §5.2.2: same index, new mid)."""
    pc, _ = answer_vector("chromium-media-offer.sdp", TransceiverRequest("video"))
    before = pc.negotiated_media
    pc.add_transceiver(TransceiverRequest("audio"))
    desc = SessionDescription.parse(pc.create_offer())
    assert [(s.kind, s.mid, s.port) for s in desc.media] == [
        ("audio", "3", 9),
        ("video", "1", 9),
        ("application", "2", 9),
    ]
    assert desc.bundle_groups == [("3", "1", "2")]
    video = read_media(desc, 1)
    assert video.codecs == before[0].codecs


def test_reoffer_keeps_rejected_section_in_place() -> None:
    a = core(1, TransceiverRequest("audio"), TransceiverRequest("video"))
    b = core(2, TransceiverRequest("video"))
    exchange(a, b)
    a.close(0.0)  # a's view is enough: build b's re-offer
    b.add_transceiver(TransceiverRequest("video"))
    desc = SessionDescription.parse(b.create_offer())
    kinds = [(s.kind, s.mid, s.port) for s in desc.media]
    # the rejected audio m-line is recycled for the new video request, with a new mid
    assert kinds == [("application", "0", 9), ("video", "3", 9), ("video", "2", 9)]
    assert desc.bundle_groups == [("0", "3", "2")]


def test_reoffer_without_new_request_keeps_rejected_section() -> None:
    a = core(1, TransceiverRequest("audio"), TransceiverRequest("video"))
    b = core(2, TransceiverRequest("video"))
    exchange(a, b)
    desc = SessionDescription.parse(a.create_offer())
    assert [(s.kind, s.mid, s.port) for s in desc.media] == [
        ("application", "0", 9),
        ("audio", "1", 0),
        ("video", "2", 9),
    ]
    assert desc.bundle_groups == [("0", "2")]


def test_offer_without_bundle_gets_media_rejected() -> None:
    """We run media only on the BUNDLE transport: an unbundled media offer is rejected."""
    text = (VECTORS / "chromium-media-offer.sdp").read_text()
    text = text.replace("a=group:BUNDLE 0 1 2", "a=group:BUNDLE 2")
    pc = core(3, TransceiverRequest("audio"), TransceiverRequest("video"))
    pc.set_remote_description("offer", text, 0.0)
    desc = SessionDescription.parse(pc.create_answer())
    assert [s.port for s in desc.media] == [0, 0, 9]
    assert desc.bundle_groups == [("2",)]


def test_malformed_media_lines_are_skipped() -> None:
    text = (VECTORS / "chromium-media-offer.sdp").read_text()
    text = text.replace("a=rtpmap:111 opus/48000/2", "a=rtpmap:111 opus/x")
    text = text.replace("a=ssrc:1702207663 cname:", "a=ssrc:99999999999 cname:")
    pc, answer = answer_vector_text(text, TransceiverRequest("audio"), TransceiverRequest("video"))
    desc = SessionDescription.parse(answer)
    assert desc.media[0].port == 0  # opus unreadable: no codec in common
    assert [m.kind for m in pc.negotiated_media] == ["video"]


def answer_vector_text(text: str, *requests: TransceiverRequest) -> tuple[PeerConnectionCore, str]:
    pc = core(3, *requests)
    pc.set_remote_description("offer", text, 0.0)
    answer = pc.create_answer()
    pc.set_local_description("answer", answer, 0.0)
    return pc, answer


def test_non_trickle_description_lists_candidates_in_media_sections() -> None:
    """libwebrtc reads SDP candidates from the BUNDLE-tagged m-section (audio first here)."""
    pc, _ = answer_vector("chromium-media-offer.sdp", TransceiverRequest("audio"))
    pc.add_host_address(("127.0.0.1", 40000))
    text = pc.local_description_sdp()
    assert text is not None
    desc = SessionDescription.parse(text)
    audio, video, data = desc.media
    assert audio.get_attributes("candidate") == data.get_attributes("candidate") != []
    assert video.port == 0 and not video.has_attribute("candidate")


_ALPHABET = st.sampled_from(list("amrtpsx=:/ \r\n0123456789-abcdefgFIDVPH264BUNDLE\x00"))


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(MEDIA_OFFERS),
    st.integers(0, 9000),
    st.text(alphabet=_ALPHABET, max_size=12),
    st.integers(0, 12),
)
def test_fuzz_answering_mutated_media_offers(name: str, pos: int, piece: str, cut: int) -> None:
    """Mutated media offers: answering raises SdpParseError or yields a parseable answer
    whose accepted media sections all negotiated at least one codec."""
    text = (VECTORS / name).read_text()
    pos %= len(text) + 1
    text = text[:pos] + piece + text[pos + cut :]
    pc = core(3, TransceiverRequest("audio"), TransceiverRequest("video"))
    try:
        pc.set_remote_description("offer", text, 0.0)
        answer = pc.create_answer()
        pc.set_local_description("answer", answer, 0.0)
    except SdpParseError:
        return
    desc = SessionDescription.parse(answer)
    accepted = [s for s in desc.media if s.kind in ("audio", "video") and s.port != 0]
    assert len(pc.negotiated_media) == len(accepted)
    assert all(m.codecs for m in pc.negotiated_media)


# -- audio/video without a data channel ----------------------------------------------------


def _media_only(name: str = "chromium-media-offer.sdp") -> str:
    """The captured offer without its m=application section (a call with no channel)."""
    text = (VECTORS / name).read_text()
    head = text.split("m=application", 1)[0]
    return head.replace("a=group:BUNDLE 0 1 2", "a=group:BUNDLE 0 1")


def test_a_media_only_offer_is_refused_when_we_asked_for_no_media() -> None:
    pc = core(4)
    with pytest.raises(SdpParseError, match="data-channel"):
        pc.set_remote_description("offer", _media_only(), 0.0)


def test_a_media_only_offer_is_answered_with_media_alone() -> None:
    pc = core(4, TransceiverRequest("audio"), TransceiverRequest("video"))
    pc.set_remote_description("offer", _media_only(), 0.0)
    answer = pc.create_answer()
    pc.set_local_description("answer", answer, 0.0)
    desc = SessionDescription.parse(answer)
    assert [(s.kind, s.port != 0) for s in desc.media] == [("audio", True), ("video", True)]
    assert desc.bundle_groups == [("0", "1")]
    first = desc.media[0]
    for name in ("ice-ufrag", "ice-pwd", "fingerprint", "setup"):
        assert first.has_attribute(name), name
    assert first.get_attribute("setup") == "active"
    assert [m.kind for m in pc.negotiated_media] == ["audio", "video"]
    local = pc.local_description
    assert local is not None and local.sctp_port == 0 and local.mid == "0"


def test_media_only_offer_answered_when_no_codec_matches_is_an_error() -> None:
    pc = core(4, TransceiverRequest("video", codecs=(Codec("AV1", 90000),)))
    pc.set_remote_description("offer", _media_only().replace("AV1", "XX1"), 0.0)
    with pytest.raises(SdpParseError, match="no audio/video section we accept"):
        pc.create_answer()


def test_an_offer_whose_fingerprints_use_no_hash_we_know_is_refused() -> None:
    text = (VECTORS / "chromium-media-offer.sdp").read_text().replace("sha-256", "sha-999")
    pc = core(4)
    with pytest.raises(SdpParseError, match="fingerprint"):
        pc.set_remote_description("offer", text, 0.0)
