"""Causes that name what is missing when a connection fails.

The texts of :attr:`~trio_webrtc.core.PeerConnectionCore.failure_reason`, which the faces
put in :class:`~trio_webrtc.errors.ConnectionFailedError` and the logs: ICE (RFC 8445
§8.1, no pair succeeded; RFC 7675 §5.1, consent lost on the selected pair), TURN
allocations refused (RFC 8656 §7.3, with the server's error code) and DTLS failures
(RFC 6347 handshake timeouts and alerts, RFC 8122 §5 fingerprint mismatches). Pure
functions of the layers' state; no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..ice import IceAgent

__all__ = ["explain_dtls_failure", "ice_failure_cause", "ice_failure_reason"]


def ice_failure_cause(ice: IceAgent, consent_timeout: float) -> str:
    """Why ICE failed: consent lost, no remote candidates, or no pair answered."""
    if ice.selected_pair is not None:
        return (
            f"ICE consent lost: the peer stopped answering consent checks for "
            f"{consent_timeout:g} s (RFC 7675; the peer vanished or the path broke)"
        )
    if not ice.pairs:
        return (
            "ICE failed: no remote candidates were added (signal the peer's candidates "
            "with add_ice_candidate(), or include them in its description)"
        )
    return (
        f"ICE failed: none of the {len(ice.pairs)} candidate pairs answered connectivity "
        "checks (are the candidates signaled both ways and the peer reachable? behind "
        "NATs, configure STUN/TURN: see docs/deployment.md)"
    )


def ice_failure_reason(ice: IceAgent, turn_failures: Sequence[str], consent_timeout: float) -> str:
    """:func:`ice_failure_cause`, with the TURN servers' refusals when no pair was found."""
    reason = ice_failure_cause(ice, consent_timeout)
    if turn_failures and ice.selected_pair is None:
        reason += "; TURN: " + "; ".join(turn_failures)
    return reason


def explain_dtls_failure(reason: str) -> str:
    """A hint to append to a DTLS failure reason in the log."""
    if "fingerprint" in reason:
        return " (the peer's certificate does not match the a=fingerprint in its SDP)"
    if "alert" in reason:
        return " (the peer sent this DTLS alert: it rejected our certificate or parameters)"
    if "timeout" in reason:
        return " (no answer from the peer's DTLS: is it reachable on the selected pair?)"
    return ""
