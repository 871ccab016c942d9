"""Local candidate gathering in the peer-connection core (RFC 8445 §5.1, RFC 8838 trickle).

Host candidates from the driver's bound sockets (RFC 8445 §5.1.1.1: priority from the
type preference 126 and the address's local preference, §5.1.2), server-reflexive and
relayed ones as :class:`~trio_webrtc.ice.gathering.IceGathering` learns them from
STUN/TURN servers (RFC 8489, RFC 8656), each signalled as a ``LocalCandidate`` event, then
end-of-candidates (RFC 8838 §4) and ``GatheringStateChanged``. The driver's side of
gathering is here too: resolving STUN/TURN host names and carrying TURN over TCP/TLS
streams. :class:`GatheringMixin` is one base of
:class:`~trio_webrtc.core.PeerConnectionCore`, which owns the state it uses.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from ..config import Configuration
from ..ice import Candidate, IceAgent
from ..ice.gathering import Address, IceGathering, StreamTarget
from ..sdp.description import DataChannelDescription
from .events import GatheringState, GatheringStateChanged, LocalCandidate


class GatheringMixin:
    """Local candidates and the gathering state; ICE pairs them in the core."""

    # State owned and initialised by PeerConnectionCore.
    configuration: Configuration
    ice: IceAgent
    gathering_state: GatheringState
    events: deque[object]
    _host_addresses: list[Address]
    _local_candidates: list[str]
    _gathering: IceGathering
    _closed: bool

    if TYPE_CHECKING:

        @property
        def local_description(self) -> DataChannelDescription | None: ...

        def fail(self, reason: str) -> None: ...

        def receive_datagram(
            self, data: bytes, local: Address, remote: Address, now: float
        ) -> None: ...

    def add_host_address(self, address: Address) -> None:
        """The driver bound a UDP socket at ``address``; it becomes a host candidate."""
        if address in self._host_addresses:
            return
        self._host_addresses.append(address)
        if self.gathering_state is not GatheringState.NEW:
            self._gather_host(address)
            self._gathering.add_base(address)

    def _gather_host(self, address: Address) -> None:
        if self.configuration.ice_transport_policy == "relay":
            return  # only relayed candidates are signalled and paired
        index = self._host_addresses.index(address)
        local_preference = 65535 - index
        priority = (126 << 24) + (local_preference << 8) + 255
        candidate = Candidate(
            foundation=str(1 + index),
            component=1,
            transport="udp",
            priority=priority,
            address=address[0],
            port=address[1],
            type="host",
        )
        self.ice.add_local_candidate(candidate)
        value = candidate.to_sdp()
        self._local_candidates.append(value)
        mid, index_ = self._candidate_mid()
        self.events.append(LocalCandidate(value, mid, index_))

    def _candidate_mid(self) -> tuple[str, int]:
        description = self.local_description
        if description is None:
            return "0", 0
        return description.mid, description.mline_index

    def _start_gathering(self, now: float) -> None:
        if self.gathering_state is not GatheringState.NEW:
            return
        self._set_gathering_state(GatheringState.GATHERING)
        for address in self._host_addresses:
            self._gather_host(address)
        # Server-reflexive and relayed candidates follow as the servers answer.
        self._gathering.start(self._host_addresses, now)
        self._drain_gathering()

    def _drain_gathering(self) -> None:
        """Signal new server-reflexive/relayed candidates; end-of-candidates when done."""
        gathering = self._gathering
        while (candidate := gathering.next_candidate()) is not None:
            if candidate.type == "relay" and not self._closed:
                self.ice.add_local_candidate(candidate)
            if self.gathering_state is GatheringState.COMPLETE:
                continue  # too late to signal: the peer learns it as peer-reflexive
            value = candidate.to_sdp()
            self._local_candidates.append(value)
            mid, index = self._candidate_mid()
            self.events.append(LocalCandidate(value, mid, index))
        if gathering.complete and self.gathering_state is GatheringState.GATHERING:
            self.end_of_local_candidates()
            turn = gathering.turn_failures
            if turn and self.configuration.ice_transport_policy == "relay" and not gathering.relays:
                # Only relayed candidates may be used and no TURN server gave one.
                self.fail(f"TURN server refused: {'; '.join(turn)} (iceTransportPolicy relay)")

    # The driver's side of gathering: name resolution and TURN over TCP/TLS streams.

    def ice_server_hosts_to_resolve(self) -> list[str]:
        """Host names in STUN/TURN URLs; the driver resolves them and calls
        :meth:`ice_server_resolved` (tests use IP literals: nothing to resolve)."""
        return self._gathering.hosts_to_resolve()

    def ice_server_resolved(self, host: str, addresses: list[str], now: float) -> None:
        """``host`` resolved to ``addresses`` (IP strings; empty when it failed)."""
        if not self._closed:
            self._gathering.resolved(host, addresses, now)
            self._drain_gathering()

    def turn_stream_target(self, key: Address) -> StreamTarget | None:
        """Where the pseudo local address ``key`` (from :meth:`datagrams_to_send`) must
        connect: a TURN server over TCP or TLS; None for unknown keys."""
        return self._gathering.stream_target(key)

    def receive_turn_stream(self, key: Address, data: bytes, now: float) -> None:
        """Bytes received on the TURN stream ``key``."""
        if self._closed:
            return
        relayed = self._gathering.receive_stream(key, data, now)
        self._drain_gathering()
        for payload, local, peer in relayed:
            self.receive_datagram(payload, local, peer, now)

    def turn_stream_failed(self, key: Address, reason: str, now: float) -> None:
        """The TURN stream ``key`` could not connect or broke."""
        self._gathering.stream_failed(key, reason, now)
        self._drain_gathering()

    def end_of_local_candidates(self) -> None:
        """Gathering finished: signal end-of-candidates and GATHERING_STATE_COMPLETE."""
        if self.gathering_state is GatheringState.COMPLETE:
            return
        mid, index = self._candidate_mid()
        self.events.append(LocalCandidate(None, mid, index))
        self._set_gathering_state(GatheringState.COMPLETE)

    def _set_gathering_state(self, state: GatheringState) -> None:
        if state is not self.gathering_state:
            self.gathering_state = state
            self.events.append(GatheringStateChanged(state))
