"""Interactive Connectivity Establishment (RFC 8445, RFC 8838 trickle, RFC 7675 consent).

Sans-I/O: :class:`IceAgent` consumes STUN datagrams with their local/remote addresses and
produces datagrams, timers and events; :class:`Candidate` parses and serialises RFC 8839
candidate attributes.
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
