"""The signaling half of the peer-connection core: JSEP offer/answer and remote candidates.

Implements RFC 9429 (JSEP) §4.1.8-4.1.10 and §5.2-5.3 on top of :mod:`trio_webrtc.sdp.jsep`:
creating offers and answers, applying local and remote descriptions (with ICE restart
detection, RFC 8445 §9, and DTLS roles kept across renegotiation, RFC 8842 §5.5), and
remote candidates, trickled or in the SDP — mDNS ``.local`` names held until resolved
(draft-ietf-mmusic-mdns-ice-candidates). :class:`SignalingMixin` is one base of
:class:`~trio_webrtc.core.PeerConnectionCore`, which owns the state it uses.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import TYPE_CHECKING

from ..config import Configuration
from ..datachannel.channels import ChannelManager
from ..dtls.certificate import Certificate
from ..dtls.transport import DtlsTransport
from ..errors import InvalidStateError, LocalProtocolError, ParseError, SdpParseError
from ..ice import Candidate, IceAgent
from ..ice.mdns import HostnameCandidates
from ..sdp.description import DataChannelDescription, SessionDescription
from ..sdp.jsep import (
    LocalParameters,
    SdpType,
    SignalingState,
    SignalingStateMachine,
    create_answer,
    create_offer,
)
from .events import GatheringState, SignalingStateChanged

__all__ = ["SignalingMixin"]


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
    _events: deque[object]
    _local_candidates: list[str]
    _local: DataChannelDescription | None
    _remote: DataChannelDescription | None
    _pending_local: DataChannelDescription | None
    _pending_remote: DataChannelDescription | None
    _session_id: int
    _session_version: int
    _hostnames: HostnameCandidates
    _closed: bool
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

    def local_description_sdp(self) -> str | None:
        """The applied local description with every candidate gathered so far, and
        ``a=end-of-candidates`` once gathering is complete (W3C ``localDescription``):
        what a peer that does not trickle needs. None before a local description."""
        session, description = self._local_session, self.local_description
        if session is None or description is None:
            return None
        copy = SessionDescription.parse(session.serialize())
        section = copy.media[description.mline_index]
        present = {value for name, value in section.attributes if name == "candidate"}
        for candidate in self._local_candidates:
            value = candidate.removeprefix("candidate:")
            if value not in present:
                section.attributes.append(("candidate", value))
        complete = self.gathering_state is GatheringState.COMPLETE
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
        return create_offer(self._local_parameters("actpass", mid)).serialize()

    def create_answer(self) -> str:
        """Return an answer SDP to the applied remote offer (not yet applied)."""
        self._check_open()
        if self.signaling_state not in (
            SignalingState.HAVE_REMOTE_OFFER,
            SignalingState.HAVE_LOCAL_PRANSWER,
        ):
            raise InvalidStateError(f"cannot create an answer in {self.signaling_state.name}")
        assert self._remote_offer is not None
        params = self._local_parameters(self._setup("active"), self._remote_offer_mid)
        return create_answer(self._remote_offer, params).serialize()

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
        description = DataChannelDescription.from_session(session)
        self._apply_signaling("local", kind)
        self._local_session = session
        if kind is SdpType.OFFER:
            self._pending_local = description
        else:
            self._local = description
            self._pending_local = None
            if self._pending_remote is not None:
                self._remote, self._pending_remote = self._pending_remote, None
        self._start_gathering(now)
        self._maybe_start_transports(now)

    def set_remote_description(self, sdp_type: str, sdp: str, now: float) -> None:
        """Apply the peer's offer/answer. Raises ``SdpParseError``/``InvalidStateError``."""
        self._check_open()
        if sdp_type not in ("offer", "answer", "pranswer"):
            raise LocalProtocolError(f"unsupported remote description type {sdp_type!r}")
        kind = SdpType(sdp_type)
        session = SessionDescription.parse(sdp)
        description = DataChannelDescription.from_session(session)
        if kind is SdpType.ANSWER and description.setup == "actpass":
            raise SdpParseError("an answer must not use a=setup:actpass")
        previous = self.remote_description
        restart = previous is not None and (
            previous.ice_ufrag != description.ice_ufrag or previous.ice_pwd != description.ice_pwd
        )
        self._apply_signaling("remote", kind)
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
            self._events.append(SignalingStateChanged(after))

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
