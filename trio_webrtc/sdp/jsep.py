"""JSEP for a data-channel-only peer: signaling state machine, offers and answers.

Implements RFC 9429 (JSEP):

* §4.1.8-4.1.10 (``setLocalDescription``/``setRemoteDescription`` with the ``offer``,
  ``pranswer``, ``answer`` and ``rollback`` types; the signaling state machine, with
  rollback allowed from ``have-local-offer``/``have-remote-offer`` as in W3C webrtc-pc
  §4.4.1.5);
* §5.2 (initial offer: one ``m=application ... UDP/DTLS/SCTP webrtc-datachannel`` section,
  BUNDLE group, trickle ICE), §5.3 (initial answer: the data-channel section accepted,
  every other m-section rejected with port 0 so m-line indexes line up, BUNDLE listing only
  accepted mids), §5.5-5.6 (parsing offers and answers: delegated to :mod:`.sdp`);

plus RFC 8842 §5.2-5.3 / RFC 4145 §4.1 (``a=setup`` negotiation and the DTLS role) and
RFC 8841 §5-6 (``a=sctp-port``, ``a=max-message-size``, legacy ``a=sctpmap`` answers).
"""

from __future__ import annotations

import enum
import logging
import random
import secrets
from dataclasses import dataclass
from typing import Literal

from ..errors import InvalidStateError, LocalProtocolError, SdpParseError
from .description import (
    DataChannelDescription,
    MediaSection,
    Origin,
    SessionDescription,
    check_ice_credentials,
    is_token,
    parse_fingerprint,
)

__all__ = [
    "LocalParameters",
    "SdpType",
    "Side",
    "SignalingState",
    "SignalingStateMachine",
    "create_answer",
    "create_offer",
    "negotiated_dtls_role",
    "random_session_id",
]

logger = logging.getLogger("trio_webrtc.jsep")

Side = Literal["local", "remote"]


class SignalingState(enum.IntEnum):
    """RTCSignalingState (W3C webrtc-pc §4.3.1); ``w3c_name`` gives the spec spelling."""

    STABLE = 0
    HAVE_LOCAL_OFFER = 1
    HAVE_REMOTE_OFFER = 2
    HAVE_LOCAL_PRANSWER = 3
    HAVE_REMOTE_PRANSWER = 4
    CLOSED = 5

    @property
    def w3c_name(self) -> str:
        return self.name.lower().replace("_", "-")


class SdpType(str, enum.Enum):
    """RTCSdpType. ``SdpType("bogus")`` and :meth:`parse` raise ``LocalProtocolError``."""

    OFFER = "offer"
    PRANSWER = "pranswer"
    ANSWER = "answer"
    ROLLBACK = "rollback"

    @classmethod
    def _missing_(cls, value: object) -> SdpType:
        if isinstance(value, str):
            for member in cls:
                if member.value == value.lower():
                    return member
        raise LocalProtocolError(
            f"unknown SDP type {value!r}: expected offer, pranswer, answer or rollback"
        )

    @classmethod
    def parse(cls, value: str | SdpType) -> SdpType:
        """``value`` as an :class:`SdpType` (case-insensitive); ``LocalProtocolError`` if not."""
        return cls(value)


_S = SignalingState
_T = SdpType

#: Every legal (state, side, type) -> new state; anything absent is illegal.
TRANSITIONS: dict[tuple[SignalingState, str, SdpType], SignalingState] = {
    (_S.STABLE, "local", _T.OFFER): _S.HAVE_LOCAL_OFFER,
    (_S.STABLE, "remote", _T.OFFER): _S.HAVE_REMOTE_OFFER,
    # have-local-offer: re-offer, receive (provisional) answer, or roll back.
    (_S.HAVE_LOCAL_OFFER, "local", _T.OFFER): _S.HAVE_LOCAL_OFFER,
    (_S.HAVE_LOCAL_OFFER, "remote", _T.ANSWER): _S.STABLE,
    (_S.HAVE_LOCAL_OFFER, "remote", _T.PRANSWER): _S.HAVE_REMOTE_PRANSWER,
    (_S.HAVE_LOCAL_OFFER, "local", _T.ROLLBACK): _S.STABLE,
    (_S.HAVE_LOCAL_OFFER, "remote", _T.ROLLBACK): _S.STABLE,
    # have-remote-offer: new remote offer, send (provisional) answer, or roll back.
    (_S.HAVE_REMOTE_OFFER, "remote", _T.OFFER): _S.HAVE_REMOTE_OFFER,
    (_S.HAVE_REMOTE_OFFER, "local", _T.ANSWER): _S.STABLE,
    (_S.HAVE_REMOTE_OFFER, "local", _T.PRANSWER): _S.HAVE_LOCAL_PRANSWER,
    (_S.HAVE_REMOTE_OFFER, "local", _T.ROLLBACK): _S.STABLE,
    (_S.HAVE_REMOTE_OFFER, "remote", _T.ROLLBACK): _S.STABLE,
    # provisional answers are followed by more pranswers or the final answer.
    (_S.HAVE_LOCAL_PRANSWER, "local", _T.PRANSWER): _S.HAVE_LOCAL_PRANSWER,
    (_S.HAVE_LOCAL_PRANSWER, "local", _T.ANSWER): _S.STABLE,
    (_S.HAVE_REMOTE_PRANSWER, "remote", _T.PRANSWER): _S.HAVE_REMOTE_PRANSWER,
    (_S.HAVE_REMOTE_PRANSWER, "remote", _T.ANSWER): _S.STABLE,
}


class SignalingStateMachine:
    """The JSEP signaling state (RFC 9429 §4.1.8-4.1.10), driven by :meth:`apply`."""

    def __init__(self, *, log_prefix: str = "") -> None:
        self._state = SignalingState.STABLE
        self._log_prefix = log_prefix

    @property
    def state(self) -> SignalingState:
        return self._state

    def can_apply(self, side: Side | str, sdp_type: SdpType | str) -> bool:
        """Whether :meth:`apply` would succeed (``LocalProtocolError`` for a bad type)."""
        return (self._state, side, SdpType.parse(sdp_type)) in TRANSITIONS

    def apply(self, side: Side | str, sdp_type: SdpType | str) -> SignalingState:
        """Record setting a ``side`` description of ``sdp_type``; return the new state.

        Raises :class:`InvalidStateError` when the transition is illegal (state unchanged)
        and :class:`LocalProtocolError` for an unknown side or type.
        """
        if side not in ("local", "remote"):
            raise LocalProtocolError(f"side must be 'local' or 'remote', not {side!r}")
        kind = SdpType.parse(sdp_type)
        new_state = TRANSITIONS.get((self._state, side, kind))
        if new_state is None:
            raise InvalidStateError(
                f"cannot set {side} {kind.value} in signaling state {self._state.w3c_name}"
            )
        if new_state != self._state:
            logger.debug(
                "%ssignaling state %s -> %s (%s %s)",
                self._log_prefix,
                self._state.w3c_name,
                new_state.w3c_name,
                side,
                kind.value,
            )
        self._state = new_state
        return new_state

    def close(self) -> None:
        """Enter CLOSED (idempotent); every later :meth:`apply` raises."""
        if self._state != SignalingState.CLOSED:
            logger.debug("%ssignaling state %s -> closed", self._log_prefix, self._state.w3c_name)
        self._state = SignalingState.CLOSED


def random_session_id(rng: random.Random | None = None) -> int:
    """A fresh ``o=`` session id: 62 random bits (RFC 9429 §5.2.1 wants < 2**63)."""
    if rng is None:
        return secrets.randbits(62)
    return rng.getrandbits(62)


@dataclass(frozen=True, kw_only=True)
class LocalParameters:
    """Our side of a data-channel session, as put into offers and answers.

    ``fingerprints`` are ``(algorithm, hex)`` pairs; ``candidates`` are ``a=candidate``
    values (with or without the ``candidate:`` prefix); ``mid=""`` omits ``a=mid`` and the
    BUNDLE group (for answering an offer without mids). Invalid values raise
    :class:`LocalProtocolError` at construction.
    """

    ice_ufrag: str
    ice_pwd: str
    fingerprints: tuple[tuple[str, str], ...]
    setup: str = "actpass"
    sctp_port: int = 5000
    max_message_size: int = 262144
    candidates: tuple[str, ...] = ()
    end_of_candidates: bool = False
    mid: str = "0"
    session_id: int
    session_version: int = 2
    ice_lite: bool = False

    def __post_init__(self) -> None:
        problem = check_ice_credentials(self.ice_ufrag, self.ice_pwd)
        if problem is not None:
            raise LocalProtocolError(problem)
        if not self.fingerprints:
            raise LocalProtocolError("at least one certificate fingerprint is required")
        for algorithm, value in self.fingerprints:
            try:
                parse_fingerprint(f"{algorithm} {value}")
            except SdpParseError as exc:
                raise LocalProtocolError(str(exc)) from None
        if self.setup not in ("actpass", "active", "passive"):
            raise LocalProtocolError(f"setup must be actpass, active or passive: {self.setup!r}")
        if not 0 < self.sctp_port <= 65535:
            raise LocalProtocolError(f"sctp_port out of range: {self.sctp_port}")
        if self.max_message_size < 0:
            raise LocalProtocolError("max_message_size must be >= 0 (0 = no limit)")
        if not 0 <= self.session_id < 2**63 or not 0 <= self.session_version < 2**63:
            raise LocalProtocolError("session_id and session_version must be in [0, 2**63)")
        if self.mid and not is_token(self.mid):
            raise LocalProtocolError(f"invalid mid {self.mid!r}")
        for candidate in self.candidates:
            if not candidate or any(c in candidate for c in "\r\n\x00"):
                raise LocalProtocolError(f"invalid candidate {candidate[:60]!r}")

    def _transport_attributes(self, setup: str, mid: str) -> list[tuple[str, str | None]]:
        attributes: list[tuple[str, str | None]] = [("mid", mid)] if mid else []
        attributes += [
            ("ice-ufrag", self.ice_ufrag),
            ("ice-pwd", self.ice_pwd),
            ("ice-options", "trickle"),
        ]
        attributes += [("fingerprint", f"{a.lower()} {v.upper()}") for a, v in self.fingerprints]
        attributes.append(("setup", setup))
        return attributes

    def _candidate_attributes(self) -> list[tuple[str, str | None]]:
        attributes: list[tuple[str, str | None]] = []
        for candidate in self.candidates:
            value = candidate.removeprefix("a=").removeprefix("candidate:")
            attributes.append(("candidate", value))
        if self.end_of_candidates:
            attributes.append(("end-of-candidates", None))
        return attributes


def _session(params: LocalParameters, mids: list[str]) -> SessionDescription:
    attributes: list[tuple[str, str | None]] = []
    if params.ice_lite:
        attributes.append(("ice-lite", None))
    if mids:
        attributes.append(("group", " ".join(["BUNDLE", *mids])))
    attributes.append(("msid-semantic", " WMS"))
    return SessionDescription(
        origin=Origin("-", params.session_id, params.session_version, "IN", "IP4", "127.0.0.1"),
        session_name="-",
        timing=(0, 0),
        attributes=attributes,
    )


def create_offer(params: LocalParameters) -> SessionDescription:
    """An initial offer (RFC 9429 §5.2.1) with one data-channel m-section, setup actpass."""
    desc = _session(params, [params.mid] if params.mid else [])
    attributes = params._transport_attributes("actpass", params.mid)
    attributes += [
        ("sctp-port", str(params.sctp_port)),
        ("max-message-size", str(params.max_message_size)),
    ]
    attributes += params._candidate_attributes()
    desc.media.append(
        MediaSection(
            kind="application",
            port=9,
            proto="UDP/DTLS/SCTP",
            formats=["webrtc-datachannel"],
            connection="IN IP4 0.0.0.0",
            attributes=attributes,
        )
    )
    return desc


def _answer_setup(offer_setup: str, wanted: str, log_prefix: str) -> str:
    if offer_setup == "actpass":
        return wanted if wanted in ("active", "passive") else "active"
    if offer_setup in ("active", "passive"):
        setup = "passive" if offer_setup == "active" else "active"
        if wanted not in ("actpass", setup):
            logger.debug(
                "%sremote offered setup %s; ignoring our preferred %s",
                log_prefix,
                offer_setup,
                wanted,
            )
        return setup
    raise SdpParseError(f"offer has a=setup:{offer_setup}; a DTLS connection is impossible")


def answer_transport(
    offer: SessionDescription, params: LocalParameters, *, log_prefix: str = ""
) -> list[tuple[str, str | None]]:
    """The transport attributes (ICE credentials, fingerprints, ``a=setup``, candidates)
    an answer to ``offer`` carries in its BUNDLE-tagged section, for answers without a
    data-channel section (audio/video only); the caller adds ``a=mid``."""
    remote = DataChannelDescription.from_session(offer, require_data=False)
    setup = _answer_setup(remote.setup, params.setup, log_prefix)
    return params._transport_attributes(setup, "") + params._candidate_attributes()


def create_answer(
    offer: SessionDescription,
    params: LocalParameters,
    *,
    log_prefix: str = "",
    require_data: bool = True,
) -> SessionDescription:
    """An answer (RFC 9429 §5.3.1) accepting ``offer``'s data-channel m-section.

    Every other m-section is rejected (port 0, same kind/proto/formats, ``a=mid`` kept).
    The answer uses the offer's mid (``params.mid`` is ignored) and proto; a legacy
    ``a=sctpmap`` offer gets a legacy answer. ``a=setup`` is ``active`` unless the offer
    is ``active`` (then ``passive``) or it is ``actpass`` and ``params.setup`` is
    ``passive``. Raises :class:`SdpParseError` if the offer has no usable data-channel
    section, unless ``require_data`` is false: then an offer of audio/video only gets an
    answer rejecting every section, for :func:`.media_jsep.add_media_to_answer` to accept
    the media it wants (with :func:`answer_transport`).
    """
    remote = DataChannelDescription.from_session(offer, require_data=require_data)
    setup = _answer_setup(remote.setup, params.setup, log_prefix)
    offered = offer.media[remote.mline_index]
    data = remote.sctp_port != 0
    accepted = [remote.mid] if data and remote.mid and remote.bundle_mids else []
    desc = _session(params, accepted)

    for index, section in enumerate(offer.media):
        if index != remote.mline_index or not data:
            mid = section.mid
            desc.media.append(
                MediaSection(
                    kind=section.kind,
                    port=0,
                    proto=section.proto,
                    formats=list(section.formats),
                    connection="IN IP4 0.0.0.0",
                    attributes=[] if mid is None else [("mid", mid)],
                )
            )
            continue
        attributes = params._transport_attributes(setup, remote.mid)
        if remote.legacy_sctpmap:
            formats = [str(params.sctp_port)]
            attributes.append(("sctpmap", f"{params.sctp_port} webrtc-datachannel 1024"))
        else:
            formats = ["webrtc-datachannel"]
            attributes += [
                ("sctp-port", str(params.sctp_port)),
                ("max-message-size", str(params.max_message_size)),
            ]
        attributes += params._candidate_attributes()
        desc.media.append(
            MediaSection(
                kind="application",
                port=9,
                proto=offered.proto,
                formats=formats,
                connection="IN IP4 0.0.0.0",
                attributes=attributes,
            )
        )
    logger.debug(
        "%sanswering data-channel mid %r (m-line %d) with setup %s",
        log_prefix,
        remote.mid,
        remote.mline_index,
        setup,
    )
    return desc


_ROLES: dict[tuple[str, str], bool] = {
    ("active", "passive"): True,
    ("active", "actpass"): True,
    ("actpass", "passive"): True,
    ("passive", "active"): False,
    ("passive", "actpass"): False,
    ("actpass", "active"): False,
}


def negotiated_dtls_role(local_setup: str, remote_setup: str) -> bool:
    """Whether we are the DTLS client, from both ``a=setup`` values (RFC 8842 §5.3).

    ``active`` connects (client); ``actpass`` takes the role opposite the peer's choice.
    Raises :class:`LocalProtocolError` for incompatible pairs (active/active,
    passive/passive, actpass/actpass, holdconn, unknown values).
    """
    role = _ROLES.get((local_setup.strip().lower(), remote_setup.strip().lower()))
    if role is None:
        raise LocalProtocolError(
            f"incompatible DTLS setup: local {local_setup!r}, remote {remote_setup!r}"
        )
    return role
