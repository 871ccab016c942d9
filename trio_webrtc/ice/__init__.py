"""Interactive Connectivity Establishment (RFC 8445, RFC 8838 trickle, RFC 7675 consent).

Layer map (each module's docstring names its sections):

* :mod:`.agent` — :class:`IceAgent`: checks, nomination, restart (RFC 8445 §6-§9, §12);
  :mod:`.checklist` (pairs and transactions), :mod:`.consent` (RFC 7675),
  :mod:`.messages` (Binding requests and responses), :mod:`.events`.
* :mod:`.candidate` — RFC 8839 ``a=candidate`` codec, priorities and foundations.
* :mod:`.stun` — the STUN message codec (RFC 8489), shared with TURN.
* :mod:`.turn` — a TURN client for relayed candidates (RFC 8656).
* :mod:`.srflx` and :mod:`.gathering` — server-reflexive and relayed candidate gathering
  (RFC 8445 §5.1.1).
* :mod:`.mdns` — the DNS codec for mDNS ``.local`` candidates (RFC 6762,
  draft-ietf-mmusic-mdns-ice-candidates).

Sans-I/O: :class:`IceAgent` consumes STUN datagrams with their local/remote addresses and
produces datagrams, timers and events; sockets and name lookups live in
:mod:`trio_webrtc._trio`.
"""

from __future__ import annotations

from .agent import IceAgent, IceEvent, IceState, IceStateChanged, SelectedPairChanged
from .candidate import (
    Candidate,
    CandidateParseError,
    compute_foundation,
    compute_priority,
)
from .checklist import CandidatePair, PairState

__all__ = [
    "Candidate",
    "CandidatePair",
    "CandidateParseError",
    "IceAgent",
    "IceEvent",
    "IceState",
    "IceStateChanged",
    "PairState",
    "SelectedPairChanged",
    "compute_foundation",
    "compute_priority",
]
