"""Tests for trio_webrtc.sdp.jsep: signaling state machine, offers, answers and DTLS roles."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trio_webrtc.errors import InvalidStateError, LocalProtocolError, SdpParseError
from trio_webrtc.sdp.description import DataChannelDescription, SessionDescription
from trio_webrtc.sdp.jsep import (
    TRANSITIONS,
    LocalParameters,
    SdpType,
    SignalingState,
    SignalingStateMachine,
    create_answer,
    create_offer,
    negotiated_dtls_role,
    random_session_id,
)

VECTORS = Path(__file__).resolve().parent.parent / "vectors" / "sdp"
OFFER_VECTORS = sorted(p.name for p in VECTORS.glob("*-offer*.sdp"))

S = SignalingState
T = SdpType
SIDES = ("local", "remote")

# Written out independently of jsep.TRANSITIONS (W3C webrtc-pc §4.3.1 state diagram).
LEGAL = {
    (S.STABLE, "local", T.OFFER): S.HAVE_LOCAL_OFFER,
    (S.STABLE, "remote", T.OFFER): S.HAVE_REMOTE_OFFER,
    (S.HAVE_LOCAL_OFFER, "local", T.OFFER): S.HAVE_LOCAL_OFFER,
    (S.HAVE_LOCAL_OFFER, "remote", T.ANSWER): S.STABLE,
    (S.HAVE_LOCAL_OFFER, "remote", T.PRANSWER): S.HAVE_REMOTE_PRANSWER,
    (S.HAVE_LOCAL_OFFER, "local", T.ROLLBACK): S.STABLE,
    (S.HAVE_LOCAL_OFFER, "remote", T.ROLLBACK): S.STABLE,
    (S.HAVE_REMOTE_OFFER, "remote", T.OFFER): S.HAVE_REMOTE_OFFER,
    (S.HAVE_REMOTE_OFFER, "local", T.ANSWER): S.STABLE,
    (S.HAVE_REMOTE_OFFER, "local", T.PRANSWER): S.HAVE_LOCAL_PRANSWER,
    (S.HAVE_REMOTE_OFFER, "local", T.ROLLBACK): S.STABLE,
    (S.HAVE_REMOTE_OFFER, "remote", T.ROLLBACK): S.STABLE,
    (S.HAVE_LOCAL_PRANSWER, "local", T.PRANSWER): S.HAVE_LOCAL_PRANSWER,
    (S.HAVE_LOCAL_PRANSWER, "local", T.ANSWER): S.STABLE,
    (S.HAVE_REMOTE_PRANSWER, "remote", T.PRANSWER): S.HAVE_REMOTE_PRANSWER,
    (S.HAVE_REMOTE_PRANSWER, "remote", T.ANSWER): S.STABLE,
}

# Shortest path of (side, type) inputs from STABLE to each state.
PATHS: dict[SignalingState, list[tuple[str, SdpType]]] = {
    S.STABLE: [],
    S.HAVE_LOCAL_OFFER: [("local", T.OFFER)],
    S.HAVE_REMOTE_OFFER: [("remote", T.OFFER)],
    S.HAVE_LOCAL_PRANSWER: [("remote", T.OFFER), ("local", T.PRANSWER)],
    S.HAVE_REMOTE_PRANSWER: [("local", T.OFFER), ("remote", T.PRANSWER)],
}


def machine_in(state: SignalingState) -> SignalingStateMachine:
    machine = SignalingStateMachine(log_prefix="[test] ")
    if state is S.CLOSED:
        machine.close()
    else:
        for side, kind in PATHS[state]:
            machine.apply(side, kind)
    assert machine.state is state
    return machine


def test_enum_values() -> None:
    assert [int(s) for s in S] == [0, 1, 2, 3, 4, 5]
    assert S.HAVE_LOCAL_PRANSWER.w3c_name == "have-local-pranswer"
    assert [t.value for t in T] == ["offer", "pranswer", "answer", "rollback"]
    assert T("offer") is T.OFFER
    assert T.parse("ANSWER") is T.ANSWER
    assert T.parse(T.ROLLBACK) is T.ROLLBACK
    assert isinstance(T.OFFER, str)


@pytest.mark.parametrize("bad", ["", "offerx", "commit", "rollback "])
def test_unknown_sdp_type(bad: str) -> None:
    with pytest.raises(LocalProtocolError, match="unknown SDP type"):
        T.parse(bad)
    with pytest.raises(LocalProtocolError):
        T(bad)


def test_table_matches_reference() -> None:
    assert dict(TRANSITIONS) == LEGAL


@pytest.mark.parametrize(
    ("state", "side", "kind"),
    list(itertools.product(list(S), SIDES, list(T))),
    ids=lambda v: getattr(v, "name", v),
)
def test_every_transition(state: SignalingState, side: str, kind: SdpType) -> None:
    machine = machine_in(state)
    expected = LEGAL.get((state, side, kind))
    assert machine.can_apply(side, kind) is (expected is not None)
    if expected is None:
        with pytest.raises(InvalidStateError) as info:
            machine.apply(side, kind.value)
        assert state.w3c_name in str(info.value)
        assert kind.value in str(info.value)
        assert side in str(info.value)
        assert machine.state is state
    else:
        assert machine.apply(side, kind.value) is expected
        assert machine.state is expected


def test_rollback_from_offer_states_only() -> None:
    for state in S:
        for side in SIDES:
            machine = machine_in(state)
            if state in (S.HAVE_LOCAL_OFFER, S.HAVE_REMOTE_OFFER):
                assert machine.apply(side, T.ROLLBACK) is S.STABLE
            else:
                with pytest.raises(InvalidStateError):
                    machine.apply(side, T.ROLLBACK)


def test_close_is_final_and_idempotent() -> None:
    machine = machine_in(S.HAVE_LOCAL_OFFER)
    machine.close()
    machine.close()
    assert machine.state is S.CLOSED
    with pytest.raises(InvalidStateError, match="closed"):
        machine.apply("remote", T.ANSWER)


def test_bad_side() -> None:
    with pytest.raises(LocalProtocolError, match="side"):
        SignalingStateMachine().apply("sideways", T.OFFER)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(SIDES), st.sampled_from(list(T)), st.booleans()),
        max_size=30,
    )
)
def test_random_sequences_follow_reference(
    steps: list[tuple[str, SdpType, bool]],
) -> None:
    machine = SignalingStateMachine()
    state = S.STABLE
    for side, kind, close in steps:
        if close and side == "remote" and kind is T.ROLLBACK:
            machine.close()
            state = S.CLOSED
            continue
        expected = LEGAL.get((state, side, kind))
        if expected is None:
            with pytest.raises(InvalidStateError):
                machine.apply(side, kind)
        else:
            state = expected
            assert machine.apply(side, kind) is state
        assert machine.state is state


# ---------------------------------------------------------------- offers and answers

FP = "AB:" * 31 + "CD"


def params(**overrides: object) -> LocalParameters:
    values: dict[str, object] = {
        "ice_ufrag": "ours",
        "ice_pwd": "ourpasswordourpassword",
        "fingerprints": (("sha-256", FP),),
        "session_id": 1234567890123,
    }
    values.update(overrides)
    return LocalParameters(**values)  # type: ignore[arg-type]


def test_create_offer_exact_text() -> None:
    offer = create_offer(
        params(
            candidates=("candidate:1 1 udp 2130706431 127.0.0.1 4000 typ host",),
            end_of_candidates=True,
        )
    )
    assert offer.serialize() == (
        "v=0\r\n"
        "o=- 1234567890123 2 IN IP4 127.0.0.1\r\n"
        "s=-\r\n"
        "t=0 0\r\n"
        "a=group:BUNDLE 0\r\n"
        "a=msid-semantic: WMS\r\n"
        "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
        "c=IN IP4 0.0.0.0\r\n"
        "a=mid:0\r\n"
        "a=ice-ufrag:ours\r\n"
        "a=ice-pwd:ourpasswordourpassword\r\n"
        "a=ice-options:trickle\r\n"
        f"a=fingerprint:sha-256 {FP}\r\n"
        "a=setup:actpass\r\n"
        "a=sctp-port:5000\r\n"
        "a=max-message-size:262144\r\n"
        "a=candidate:1 1 udp 2130706431 127.0.0.1 4000 typ host\r\n"
        "a=end-of-candidates\r\n"
    )


def test_offer_parses_back() -> None:
    p = params(
        mid="data",
        setup="active",  # offers always say actpass
        ice_lite=True,
        max_message_size=65536,
        sctp_port=5001,
        fingerprints=(("SHA-256", FP.lower()), ("sha-1", "00:11")),
        candidates=("a=candidate:2 1 udp 1 ::1 4001 typ host", "3 1 udp 1 ::1 4002 typ host"),
    )
    dc = DataChannelDescription.from_session(SessionDescription.parse(create_offer(p).serialize()))
    assert dc.mid == "data"
    assert dc.bundle_mids == ("data",)
    assert dc.setup == "actpass"
    assert dc.ice_lite is True
    assert dc.ice_options == ("trickle",)
    assert (dc.ice_ufrag, dc.ice_pwd) == (p.ice_ufrag, p.ice_pwd)
    assert dc.fingerprints == (("sha-256", FP), ("sha-1", "00:11"))
    assert dc.sctp_port == 5001
    assert dc.max_message_size == 65536
    assert dc.candidates == (
        "candidate:2 1 udp 1 ::1 4001 typ host",
        "candidate:3 1 udp 1 ::1 4002 typ host",
    )
    assert dc.end_of_candidates is False


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"ice_ufrag": "abc"}, "ice-ufrag"),
        ({"ice_pwd": "tooshort"}, "ice-pwd"),
        ({"ice_pwd": "has space in the password"}, "ice-pwd"),
        ({"fingerprints": ()}, "fingerprint"),
        ({"fingerprints": (("sha-256", "zz"),)}, "hex"),
        ({"setup": "holdconn"}, "setup"),
        ({"sctp_port": 0}, "sctp_port"),
        ({"sctp_port": 65536}, "sctp_port"),
        ({"max_message_size": -1}, "max_message_size"),
        ({"session_id": 2**63}, "session_id"),
        ({"session_id": -1}, "session_id"),
        ({"mid": "a@b"}, "mid"),
        ({"mid": "a b"}, "mid"),
        ({"candidates": ("candidate:1\r\na=evil",)}, "candidate"),
    ],
)
def test_invalid_local_parameters(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(LocalProtocolError, match=message):
        params(**overrides)


@pytest.mark.parametrize("name", OFFER_VECTORS)
def test_answer_to_every_offer_vector(name: str) -> None:
    offer = SessionDescription.parse((VECTORS / name).read_text())
    theirs = DataChannelDescription.from_session(offer)
    answer = create_answer(offer, params(mid="ignored"), log_prefix="[t] ")
    text = answer.serialize()
    ours = DataChannelDescription.from_session(SessionDescription.parse(text))
    assert ours.mid == theirs.mid == "0"
    assert ours.mline_index == theirs.mline_index
    assert ours.bundle_mids == ("0",)
    assert ours.setup == "active"
    assert ours.fingerprints == (("sha-256", FP),)
    assert (ours.ice_ufrag, ours.ice_pwd) == ("ours", "ourpasswordourpassword")
    assert ours.sctp_port == 5000
    assert ours.max_message_size == 262144
    assert ours.legacy_sctpmap is False
    assert "a=sctp-port:5000\r\n" in text
    assert "a=group:BUNDLE 0\r\n" in text
    assert "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n" in text
    # The answerer took the active role: it is the DTLS client, the offerer the server.
    assert negotiated_dtls_role(ours.setup, theirs.setup) is True
    assert negotiated_dtls_role(theirs.setup, ours.setup) is False


def test_answer_setup_choices() -> None:
    base = create_offer(params(ice_ufrag="them"))

    def answer_setup(offer_setup: str, wanted: str) -> str:
        offer = SessionDescription.parse(base.serialize().replace("actpass", offer_setup))
        answer = create_answer(offer, params(setup=wanted))
        return DataChannelDescription.from_session(answer).setup

    assert answer_setup("actpass", "actpass") == "active"
    assert answer_setup("actpass", "active") == "active"
    assert answer_setup("actpass", "passive") == "passive"
    assert answer_setup("active", "actpass") == "passive"
    assert answer_setup("active", "active") == "passive"  # incompatible wish ignored
    assert answer_setup("passive", "actpass") == "active"
    assert answer_setup("passive", "passive") == "active"  # incompatible wish ignored
    with pytest.raises(SdpParseError, match="holdconn"):
        answer_setup("holdconn", "actpass")


def test_offer_answer_loop_gives_complementary_roles() -> None:
    alice = params(ice_ufrag="alic", session_id=1)
    bob = params(ice_ufrag="bobb", session_id=2, fingerprints=(("sha-256", "01:02"),))
    offer_text = create_offer(alice).serialize()
    answer_text = create_answer(SessionDescription.parse(offer_text), bob).serialize()
    offer_dc = DataChannelDescription.from_session(SessionDescription.parse(offer_text))
    answer_dc = DataChannelDescription.from_session(SessionDescription.parse(answer_text))
    assert offer_dc.ice_ufrag == "alic"
    assert answer_dc.ice_ufrag == "bobb"
    assert answer_dc.fingerprints == (("sha-256", "01:02"),)
    alice_client = negotiated_dtls_role("actpass", answer_dc.setup)
    bob_client = negotiated_dtls_role(answer_dc.setup, offer_dc.setup)
    assert alice_client != bob_client


AUDIO = (
    "m=audio 9 UDP/TLS/RTP/SAVPF 111 63\r\nc=IN IP4 0.0.0.0\r\na=mid:{mid}\r\n"
    "a=sendrecv\r\na=rtpmap:111 opus/48000/2\r\n"
)
VIDEO = "m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\nc=IN IP4 0.0.0.0\r\na=mid:{mid}\r\na=recvonly\r\n"
DATA = "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=mid:{mid}\r\n"


@pytest.mark.parametrize("order", list(itertools.permutations(["audio", "video", "data"])))
def test_answer_keeps_mline_indexes(order: tuple[str, str, str]) -> None:
    templates = {"audio": AUDIO, "video": VIDEO, "data": DATA}
    mids = {"audio": "a0", "video": "v1", "data": "d2"}
    head = (
        "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
        f"a=group:BUNDLE {' '.join(mids[k] for k in order)}\r\n"
        "a=ice-ufrag:brow\r\na=ice-pwd:browserpasswordbrowser\r\n"
        "a=fingerprint:sha-256 AA:BB\r\na=setup:actpass\r\n"
    )
    offer = SessionDescription.parse(
        head + "".join(templates[k].format(mid=mids[k]) for k in order)
    )
    answer = SessionDescription.parse(create_answer(offer, params()).serialize())
    assert len(answer.media) == 3
    data_index = order.index("data")
    for index, (offered, answered) in enumerate(zip(offer.media, answer.media, strict=True)):
        assert answered.mid == offered.mid
        assert answered.kind == offered.kind
        assert answered.proto == offered.proto
        assert answered.formats == offered.formats
        if index == data_index:
            assert answered.port == 9
            assert answered.get_attribute("setup") == "active"
        else:
            assert answered.port == 0
            assert answered.rejected
            assert not answered.has_attribute("ice-ufrag")
    assert answer.bundle_groups == [("d2",)]
    dc = DataChannelDescription.from_session(answer)
    assert dc.mline_index == data_index
    assert dc.mid == "d2"


def test_legacy_sctpmap_offer_gets_legacy_answer() -> None:
    offer_text = (
        "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
        "a=group:BUNDLE data\r\n"
        "m=application 9 DTLS/SCTP 5000\r\nc=IN IP4 0.0.0.0\r\n"
        "a=ice-ufrag:olds\r\na=ice-pwd:oldstackpasswordoldsta\r\n"
        "a=fingerprint:sha-256 AA:BB\r\na=setup:actpass\r\na=mid:data\r\n"
        "a=sctpmap:5000 webrtc-datachannel 1024\r\n"
    )
    offer = SessionDescription.parse(offer_text)
    assert DataChannelDescription.from_session(offer).legacy_sctpmap is True
    answer = create_answer(offer, params())
    text = answer.serialize()
    assert "m=application 9 DTLS/SCTP 5000\r\n" in text
    assert "a=sctpmap:5000 webrtc-datachannel 1024\r\n" in text
    assert "a=sctp-port" not in text
    assert "a=mid:data\r\n" in text
    dc = DataChannelDescription.from_session(SessionDescription.parse(text))
    assert dc.legacy_sctpmap is True
    assert dc.sctp_port == 5000
    assert dc.bundle_mids == ("data",)


def test_answer_without_bundle_or_mid() -> None:
    offer_text = (
        "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
        "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
        "a=ice-ufrag:olds\r\na=ice-pwd:oldstackpasswordoldsta\r\n"
        "a=fingerprint:sha-256 AA:BB\r\na=setup:active\r\n"
    )
    answer = create_answer(SessionDescription.parse(offer_text), params())
    assert answer.bundle_groups == []
    assert answer.media[0].mid is None
    dc = DataChannelDescription.from_session(answer)
    assert dc.setup == "passive"
    assert dc.mid == ""


def test_answer_to_offer_without_data_channel() -> None:
    offer = SessionDescription.parse(
        "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n" + AUDIO.format(mid="0")
    )
    with pytest.raises(SdpParseError, match="no usable data-channel"):
        create_answer(offer, params())


@pytest.mark.parametrize(
    ("local", "remote", "client"),
    [
        ("active", "passive", True),
        ("active", "actpass", True),
        ("actpass", "passive", True),
        ("passive", "active", False),
        ("passive", "actpass", False),
        ("actpass", "active", False),
        ("ACTIVE", " passive", True),
    ],
)
def test_negotiated_dtls_role(local: str, remote: str, client: bool) -> None:
    assert negotiated_dtls_role(local, remote) is client


@pytest.mark.parametrize(
    ("local", "remote"),
    [
        ("active", "active"),
        ("passive", "passive"),
        ("actpass", "actpass"),
        ("holdconn", "active"),
        ("active", "holdconn"),
        ("active", ""),
        ("bogus", "passive"),
    ],
)
def test_incompatible_dtls_roles(local: str, remote: str) -> None:
    with pytest.raises(LocalProtocolError, match="incompatible"):
        negotiated_dtls_role(local, remote)


def test_random_session_id() -> None:
    assert random_session_id(random.Random(1)) == random_session_id(random.Random(1))
    ids = {random_session_id() for _ in range(20)}
    assert len(ids) == 20
    assert all(0 <= i < 2**63 for i in ids)


# ---------------------------------------------------------------- fuzzing create_answer


_ALPHABET = st.sampled_from(list("ams=:/ \r\n0123456789-abcdefgpassivctBUNDLE\x00"))


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(OFFER_VECTORS),
    st.integers(0, 4000),
    st.text(alphabet=_ALPHABET, max_size=12),
    st.integers(0, 12),
)
def test_fuzz_answering_mutated_offers(name: str, pos: int, piece: str, cut: int) -> None:
    text = (VECTORS / name).read_text()
    pos %= len(text) + 1
    text = text[:pos] + piece + text[pos + cut :]
    try:
        offer = SessionDescription.parse(text)
        answer = create_answer(offer, params())
    except SdpParseError:
        return
    again = SessionDescription.parse(answer.serialize())
    assert DataChannelDescription.from_session(again).fingerprints == (("sha-256", FP),)


def test_offer_without_mid() -> None:
    offer = create_offer(params(mid=""))
    assert offer.bundle_groups == []
    assert offer.media[0].mid is None
    assert DataChannelDescription.from_session(offer).mid == ""
