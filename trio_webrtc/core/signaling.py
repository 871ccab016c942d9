"""The signaling half of the peer-connection core: JSEP offer/answer and remote candidates.

Implements RFC 9429 (JSEP) §4.1.8-4.1.10 and §5.2-5.3 on top of :mod:`trio_webrtc.sdp.jsep`:
creating offers and answers, applying local and remote descriptions (with ICE restart
detection, RFC 8445 §9, and DTLS roles kept across renegotiation, RFC 8842 §5.5), and
remote candidates, trickled or in the SDP — mDNS ``.local`` names held until resolved
(draft-ietf-mmusic-mdns-ice-candidates). :class:`SignalingMixin` is one base of
:class:`~trio_webrtc.core.PeerConnectionCore`, which owns the state it uses.

Audio/video (issue 16; SDP in :mod:`trio_webrtc.sdp.media_jsep`, RFC 9429 §5.2-5.3):

* ``add_transceiver(TransceiverRequest) -> request_index`` — before an offer or before
  answering; the next offer carries one m-section per request (after the data section,
  mids ``"1"``, ``"2"``... on a first offer; appended on re-offers), and answers match
  offered audio/video m-sections to requests by kind in order. With no request, offers
  and answers are exactly the data-channel-only ones (media offered to us: port 0).
* ``negotiated_media -> tuple[NegotiatedMedia, ...]`` — empty until an offer/answer pair
  completed; replaced at every completed renegotiation.
* ``MediaNegotiated(media)`` (:mod:`.events`) — queued when signaling goes stable, if media
  was negotiated now or before (so a removal is seen too); data-only sessions never see it.
* ``media_senders[request_index]`` — the SSRCs, CNAME and msid we signal for a request.
"""

from __future__ import annotations

import logging
import random
import secrets
from collections import deque
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from ..config import Configuration
from ..datachannel.channels import ChannelManager
from ..dtls.certificate import Certificate
from ..dtls.transport import DtlsTransport, usable_fingerprints
from ..errors import InvalidStateError, LocalProtocolError, ParseError, SdpParseError
from ..ice import Candidate, IceAgent
from ..ice.mdns import HostnameCandidates
from ..sdp.description import DataChannelDescription, SessionDescription
from ..sdp.jsep import (
    LocalParameters,
    SdpType,
    SignalingState,
    SignalingStateMachine,
    answer_transport,
    create_answer,
    create_offer,
)
from ..sdp.media import NegotiatedMedia, TransceiverRequest
from ..sdp.media_jsep import (
    MEDIA_KINDS,
    AnswerPlan,
    LocalSender,
    MediaSlot,
    add_media_to_answer,
    add_media_to_offer,
    assign_payload_types,
    negotiate,
)
from .events import GatheringState, MediaNegotiated, SignalingStateChanged

__all__ = ["SignalingMixin"]


@dataclass
class _MediaSignaling:
    """Per-connection audio/video signaling state (owned by the mixin)."""

    cname: str
    requests: list[TransceiverRequest] = field(default_factory=list)
    senders: list[LocalSender] = field(default_factory=list)
    mids: dict[str, int] = field(default_factory=dict)  # mid -> request index
    negotiated: tuple[NegotiatedMedia, ...] = ()
    stable_local: SessionDescription | None = None  # our description at the last stable
    stable_remote: SessionDescription | None = None  # and the peer's
    remote_session: SessionDescription | None = None


def _token(rng: random.Random, length: int) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(rng.choice(alphabet) for _ in range(length))


class SignalingMixin:
    """Offer/answer and remote candidates; the transports react in the core."""

    # State owned and initialised by PeerConnectionCore.
    configuration: Configuration
    certificate: Certificate
    ice: IceAgent
    dtls: DtlsTransport | None
    channels: ChannelManager
    gathering_state: GatheringState
    hostnames_pending: bool
    _signaling: SignalingStateMachine
    events: deque[object]
    _local_candidates: list[str]
    _local: DataChannelDescription | None
    _remote: DataChannelDescription | None
    _pending_local: DataChannelDescription | None
    _pending_remote: DataChannelDescription | None
    _session_id: int
    _session_version: int
    _hostnames: HostnameCandidates
    _closed: bool
    _rng: random.Random
    _media_state: _MediaSignaling | None = None
    _remote_offer: SessionDescription | None = None
    _remote_offer_mid: str = "0"
    _local_session: SessionDescription | None = None

    if TYPE_CHECKING:

        def _check_open(self) -> None: ...

        def _log(self, level: int, message: str, *args: object) -> None: ...

        def _process(self, now: float) -> None: ...

        def _start_gathering(self, now: float) -> None: ...

        def _maybe_start_transports(self, now: float) -> None: ...

    @property
    def signaling_state(self) -> SignalingState:
        return self._signaling.state

    @property
    def remote_description(self) -> DataChannelDescription | None:
        return self._remote or self._pending_remote

    @property
    def local_description(self) -> DataChannelDescription | None:
        return self._local or self._pending_local

    @property
    def _media(self) -> _MediaSignaling:
        if self._media_state is None:
            rng = getattr(self, "_rng", None) or random.Random(secrets.randbits(64))
            self._media_state = _MediaSignaling(cname=_token(rng, 16))
        return self._media_state

    def add_transceiver(self, request: TransceiverRequest) -> int:
        """Ask for an audio/video m-section; returns its request index. The next offer
        (or answer to an offer with a matching section) carries it."""
        self._check_open()
        if request.kind not in MEDIA_KINDS:
            raise LocalProtocolError(f"media kind must be audio or video, not {request.kind!r}")
        if request.direction not in ("sendrecv", "sendonly", "recvonly", "inactive"):
            raise LocalProtocolError(f"invalid direction {request.direction!r}")
        media = self._media
        rng = getattr(self, "_rng", None) or random.Random(secrets.randbits(64))
        used = {x for sender in media.senders for x in (sender.ssrc, sender.rtx_ssrc)}
        ssrcs: list[int] = []
        while len(ssrcs) < 2:
            ssrc = rng.getrandbits(32)
            if ssrc and ssrc not in used and ssrc not in ssrcs:
                ssrcs.append(ssrc)
        stream = media.senders[0].stream_id if media.senders else _token(rng, 16)
        media.senders.append(LocalSender(ssrcs[0], ssrcs[1], media.cname, stream, _token(rng, 16)))
        media.requests.append(request)
        return len(media.requests) - 1

    @property
    def negotiated_media(self) -> tuple[NegotiatedMedia, ...]:
        """The audio/video m-sections of the last completed offer/answer (empty before)."""
        return self._media_state.negotiated if self._media_state is not None else ()

    @property
    def media_senders(self) -> tuple[LocalSender, ...]:
        """What we signal for each transceiver request (by request index)."""
        return tuple(self._media.senders) if self._media_state is not None else ()

    def _offer_layout(self, data_mid: str) -> list[MediaSlot | None] | None:
        """The m-lines of our next offer (RFC 9429 §5.2.2), or None for data-only.

        The last negotiated m-lines keep their order, mids and payload types; a request
        takes an unassociated section of its kind, else recycles a rejected section (new
        mid, same index), else gets a new m-line at the end.
        """
        state = self._media_state
        if state is None or not state.requests:
            return None  # data-channel-only offers stay exactly as before
        base_sections = state.stable_local.media if state.stable_local is not None else []
        remote_sections = state.stable_remote.media if state.stable_remote is not None else []
        rejected = {
            i for i, s in enumerate(remote_sections) if s.rejected and s.kind in MEDIA_KINDS
        }
        placed = set(state.mids.values())
        negotiated = {m.mid: m for m in state.negotiated}
        used_mids = {data_mid} | {s.mid for s in base_sections if s.mid}

        def fresh_mid(index: int) -> str:
            number = len(used_mids)
            while str(number) in used_mids:
                number += 1
            used_mids.add(str(number))
            state.mids[str(number)] = index
            placed.add(index)
            return str(number)

        def unplaced(kind: str | None) -> int | None:
            for i, request in enumerate(state.requests):
                if i not in placed and kind in (None, request.kind):
                    return i
            return None

        layout: list[MediaSlot | None] = []
        for position, section in enumerate(base_sections):
            mid = section.mid or ""
            if section.kind not in MEDIA_KINDS:
                layout.append(None)
            elif section.rejected or position in rejected:  # a stopped transceiver's
                index = unplaced(None)
                if index is None:
                    slot = MediaSlot(mid, "audio", "inactive", (), None, port0=True)
                    layout.append(replace(slot, kind=section.kind))  # type: ignore[arg-type]
                else:
                    layout.append(self._slot(fresh_mid(index), index, None))
            else:
                index = state.mids.get(mid)
                if index is None:
                    index = unplaced(section.kind)
                if index is None:
                    slot = MediaSlot(mid, "audio", "inactive", (), None, port0=True)
                    layout.append(replace(slot, kind=section.kind))  # type: ignore[arg-type]
                    continue
                state.mids[mid] = index
                placed.add(index)
                layout.append(self._slot(mid, index, negotiated.get(mid)))
        if not layout:
            layout.append(None)
        for index in range(len(state.requests)):
            if index not in placed:
                layout.append(self._slot(fresh_mid(index), index, None))
        return layout

    def _slot(self, mid: str, index: int, previous: NegotiatedMedia | None) -> MediaSlot:
        state = self._media
        request = state.requests[index]
        if previous is not None:
            codecs = previous.codecs
        else:
            codecs = assign_payload_types(request.kind, request.effective_codecs())
        return MediaSlot(mid, request.kind, request.direction, codecs, state.senders[index])

    def _answer_plans(self, offer: SessionDescription) -> list[AnswerPlan]:
        state = self._media_state
        if state is None or not state.requests:
            return []
        plans = []
        taken = set(state.mids.values())
        for index, section in enumerate(offer.media):
            mid = section.mid
            if section.kind not in MEDIA_KINDS or section.rejected or not mid:
                continue
            if "RTP/" not in section.proto.upper():
                continue
            request_index = state.mids.get(mid)
            if request_index is None:
                request_index = next(
                    (
                        i
                        for i, r in enumerate(state.requests)
                        if i not in taken and r.kind == section.kind
                    ),
                    None,
                )
            if request_index is None:
                continue
            taken.add(request_index)
            state.mids[mid] = request_index
            plans.append(
                AnswerPlan(
                    index,
                    request_index,
                    state.requests[request_index],
                    state.senders[request_index],
                )
            )
        return plans

    def _media_negotiation_done(self, local_is_answer: bool) -> None:
        """Signaling went stable: compute the negotiated media from both descriptions."""
        state = self._media_state
        local, remote = self._local_session, None
        if state is not None:
            remote = state.remote_session
        if state is None or local is None or remote is None:
            return
        state.stable_local, state.stable_remote = local, remote
        media = negotiate(
            local,
            remote,
            local_is_answer=local_is_answer,
            requests=state.mids,
            cname=state.cname,
        )
        if media or state.negotiated:
            state.negotiated = media
            self.events.append(MediaNegotiated(media))

    def local_description_sdp(self) -> str | None:
        """The applied local description with every candidate gathered so far, and
        ``a=end-of-candidates`` once gathering is complete (W3C ``localDescription``):
        what a peer that does not trickle needs. None before a local description."""
        session, description = self._local_session, self.local_description
        if session is None or description is None:
            return None
        copy = SessionDescription.parse(session.serialize())
        # Every accepted m-section shares the BUNDLE transport; libwebrtc reads candidates
        # from the BUNDLE-tagged one, which is not the data section when media comes first.
        sections = [copy.media[description.mline_index]]
        sections += [s for s in copy.media if s.kind in MEDIA_KINDS and s.port != 0]
        complete = self.gathering_state is GatheringState.COMPLETE
        for section in sections:
            present = {value for name, value in section.attributes if name == "candidate"}
            for candidate in self._local_candidates:
                value = candidate.removeprefix("candidate:")
                if value not in present:
                    section.attributes.append(("candidate", value))
            if complete and not section.has_attribute("end-of-candidates"):
                section.attributes.append(("end-of-candidates", None))
        return copy.serialize()

    def _local_parameters(self, setup: str, mid: str) -> LocalParameters:
        self._session_version += 1
        fingerprints = tuple(
            (algorithm, self.certificate.fingerprint(algorithm)) for algorithm in ("sha-256",)
        )
        return LocalParameters(
            ice_ufrag=self.ice.local_ufrag,
            ice_pwd=self.ice.local_pwd,
            fingerprints=fingerprints,
            setup=setup,
            max_message_size=self.configuration.advertised_max_message_size,
            candidates=tuple(self._local_candidates),
            end_of_candidates=self.gathering_state is GatheringState.COMPLETE,
            mid=mid,
            session_id=self._session_id,
            session_version=self._session_version,
        )

    def create_offer(self) -> str:
        """Return an offer SDP for a data-channel session (not yet applied)."""
        self._check_open()
        if self.signaling_state not in (SignalingState.STABLE, SignalingState.HAVE_LOCAL_OFFER):
            raise InvalidStateError(f"cannot create an offer in {self.signaling_state.name}")
        mid = self._local.mid if self._local is not None else "0"
        offer = create_offer(self._local_parameters("actpass", mid))
        layout = self._offer_layout(mid)
        if layout is not None:
            offer = add_media_to_offer(offer, layout)
        return offer.serialize()

    def create_answer(self) -> str:
        """Return an answer SDP to the applied remote offer (not yet applied)."""
        self._check_open()
        if self.signaling_state not in (
            SignalingState.HAVE_REMOTE_OFFER,
            SignalingState.HAVE_LOCAL_PRANSWER,
        ):
            raise InvalidStateError(f"cannot create an answer in {self.signaling_state.name}")
        assert self._remote_offer is not None
        offer = self._remote_offer
        params = self._local_parameters(self._setup("active"), self._remote_offer_mid)
        answer = create_answer(offer, params, require_data=False)
        plans = self._answer_plans(offer)
        data = any(s.port != 0 and s.kind == "application" for s in answer.media)
        if plans:
            transport = () if data else answer_transport(offer, params)
            answer = add_media_to_answer(answer, offer, plans, transport=transport)
        if not data and all(s.port == 0 for s in answer.media):
            raise SdpParseError(
                "the offer has no data-channel section and no audio/video section we accept"
            )
        return answer.serialize()

    def _setup(self, initial: str) -> str:
        """a=setup for a new offer/answer: once DTLS runs, keep its role (RFC 8842 §5.5)."""
        if self.dtls is None:
            return initial
        return "active" if self.dtls.is_client else "passive"

    def set_local_description(self, sdp_type: str, sdp: str, now: float) -> None:
        """Apply our own offer/answer; starts gathering. Raises on illegal calls."""
        self._check_open()
        kind = SdpType(sdp_type) if sdp_type in ("offer", "answer", "pranswer") else None
        if kind is None:
            raise LocalProtocolError(f"unsupported local description type {sdp_type!r}")
        session = SessionDescription.parse(sdp)
        description = DataChannelDescription.from_session(session, require_data=False)
        self._apply_signaling("local", kind)
        self._local_session = session
        if kind is SdpType.OFFER:
            self._pending_local = description
        else:
            self._local = description
            self._pending_local = None
            if self._pending_remote is not None:
                self._remote, self._pending_remote = self._pending_remote, None
            if kind is SdpType.ANSWER:
                self._media_negotiation_done(local_is_answer=True)
        self._start_gathering(now)
        self._maybe_start_transports(now)

    def set_remote_description(self, sdp_type: str, sdp: str, now: float) -> None:
        """Apply the peer's offer/answer. Raises ``SdpParseError``/``InvalidStateError``."""
        self._check_open()
        if sdp_type not in ("offer", "answer", "pranswer"):
            raise LocalProtocolError(f"unsupported remote description type {sdp_type!r}")
        kind = SdpType(sdp_type)
        session = SessionDescription.parse(sdp)
        # Audio/video without a data channel only once the application asked for media
        # (without any, such an offer is refused as before: we could accept nothing).
        wants_media = self._media_state is not None and bool(self._media_state.requests)
        description = DataChannelDescription.from_session(session, require_data=not wants_media)
        if not usable_fingerprints(description.fingerprints):  # what DTLS will verify
            names = ", ".join(sorted({a for a, _ in description.fingerprints}))
            raise SdpParseError(f"no a=fingerprint with a hash function we support ({names})")
        if kind is SdpType.ANSWER and description.setup == "actpass":
            raise SdpParseError("an answer must not use a=setup:actpass")
        previous = self.remote_description
        restart = previous is not None and (
            previous.ice_ufrag != description.ice_ufrag or previous.ice_pwd != description.ice_pwd
        )
        state = self._media_state
        if kind is SdpType.ANSWER and state is not None and self._local_session is not None:
            # Check the answer's media (payload types) before it changes any state.
            negotiate(
                self._local_session,
                session,
                local_is_answer=False,
                requests=state.mids,
                cname=state.cname,
            )
        self._apply_signaling("remote", kind)
        if self._media_state is not None or any(m.kind in MEDIA_KINDS for m in session.media):
            self._media.remote_session = session
        if kind is SdpType.OFFER:
            self._remote_offer = session
            self._remote_offer_mid = description.mid
            self._pending_remote = description
            if self.dtls is None:
                self.ice.set_controlling(False)
        else:
            self._remote = description
            self._pending_remote = None
            if self._pending_local is not None:
                self._local, self._pending_local = self._pending_local, None
            if kind is SdpType.ANSWER:
                self._media_negotiation_done(local_is_answer=False)
        if description.ice_lite:
            self.ice.set_controlling(True)
        if restart and kind is SdpType.OFFER:
            self.ice.restart(now)  # RFC 8445 §9: the answerer takes new credentials too
        self.ice.set_remote_credentials(
            description.ice_ufrag, description.ice_pwd, lite=description.ice_lite
        )
        if restart:
            self._log(logging.INFO, "remote ICE restart (new ufrag %s)", description.ice_ufrag)
        self.channels.set_remote_max_message_size(description.max_message_size)
        for value in description.candidates:
            self._add_remote_candidate_value(value, now)
        if description.end_of_candidates:
            self.ice.add_remote_candidate(None, now)
        self._maybe_start_transports(now)

    def _apply_signaling(self, side: str, kind: SdpType) -> None:
        before = self._signaling.state
        after = self._signaling.apply(side, kind)
        if after is not before:
            self.events.append(SignalingStateChanged(after))

    def add_remote_candidate(
        self, candidate: str | None, sdp_mid: str | None, sdp_mline_index: int | None, now: float
    ) -> None:
        """Add a trickled remote candidate (None or "" = end-of-candidates).

        The mid and index are not checked against the remote description: with BUNDLE
        there is one transport, and peers disagree on which mid they put here.
        """
        self._check_open()
        if not candidate:
            self.ice.add_remote_candidate(None, now)
            return
        self._add_remote_candidate_value(candidate, now)
        self._process(now)

    def _add_remote_candidate_value(self, value: str, now: float) -> None:
        try:
            candidate = Candidate.from_sdp(value)
        except ParseError as exc:
            raise SdpParseError(f"bad remote candidate {value!r}: {exc}") from None
        if candidate.transport.lower() != "udp":
            self._log(logging.DEBUG, "ignoring non-UDP remote candidate %s", value)
            return
        if candidate.family is None:  # an mDNS name: held until the driver resolves it
            for resolved in self._hostnames.hold(candidate, self._remote_ufrag()):
                self.ice.add_remote_candidate(resolved, now)
            self.hostnames_pending = self._hostnames.pending
            return
        self.ice.add_remote_candidate(candidate, now)

    def hostnames_to_resolve(self) -> list[str]:
        """Remote candidates' mDNS names to resolve (each returned once); the driver
        resolves them and calls :meth:`hostname_resolved`."""
        self.hostnames_pending = False
        return self._hostnames.take()

    def hostname_resolved(self, name: str, addresses: list[str], now: float) -> None:
        """``name`` resolved to ``addresses`` (IP strings; empty when it did not): its
        candidates join ICE with each address in place of the name (an existing
        peer-reflexive candidate at that address takes their type and priority)."""
        if self._closed:
            return
        for candidate in self._hostnames.resolved(name, addresses, self._remote_ufrag()):
            self.ice.add_remote_candidate(candidate, now)
        self._process(now)

    def _remote_ufrag(self) -> str | None:
        """The ufrag of the remote ICE generation now in use (a pending offer's first)."""
        remote = self._pending_remote or self._remote
        return remote.ice_ufrag if remote is not None else None
