"""SRTP/SRTCP protection of one connection through pylibsrtp (RFC 3711, RFC 7714).

:class:`SrtpContext` holds two libsrtp sessions: outbound (our master key, any outbound
SSRC) and inbound (the peer's master key, any inbound SSRC). Replay protection stays on
(RFC 3711 §3.3.2) with a window of ``replay_window`` packets; ``allow_repeat_tx`` lets us
protect an RTP packet again with the same index, which only happens when an application
sends a packet twice (retransmissions go out through RTX with their own sequence).

Bad peer input never raises: a packet that fails authentication, replays or does not
parse is counted in :class:`SrtpStats`, logged at DEBUG (the first of each kind at INFO)
and dropped (``None``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pylibsrtp

from .keys import SrtpKeys

__all__ = ["SrtpContext", "SrtpStats"]

logger = logging.getLogger("trio_webrtc.srtp")


@dataclass(frozen=True, slots=True)
class SrtpStats:
    protected: int
    unprotected: int
    unprotect_failures: int
    protect_failures: int


class SrtpContext:
    """Protect what we send and unprotect what we receive, for one DTLS-SRTP session."""

    def __init__(
        self,
        keys: SrtpKeys,
        *,
        is_client: bool,
        replay_window: int = 1024,
        log_prefix: str = "",
    ) -> None:
        self.profile = keys.profile
        self._prefix = log_prefix
        self._outbound = pylibsrtp.Session(
            self._policy(keys.local(is_client), pylibsrtp.Policy.SSRC_ANY_OUTBOUND, 0)
        )
        self._inbound = pylibsrtp.Session(
            self._policy(keys.remote(is_client), pylibsrtp.Policy.SSRC_ANY_INBOUND, replay_window)
        )
        self._protected = 0
        self._unprotected = 0
        self._unprotect_failures = 0
        self._protect_failures = 0

    def _policy(self, key: bytes, ssrc_type: int, window: int) -> pylibsrtp.Policy:
        policy = pylibsrtp.Policy(
            key=key, ssrc_type=ssrc_type, srtp_profile=self.profile.libsrtp_profile
        )
        policy.allow_repeat_tx = True
        if window:
            policy.window_size = window
        return policy

    @property
    def rtp_overhead(self) -> int:
        return self.profile.rtp_overhead

    def protect_rtp(self, packet: bytes) -> bytes | None:
        try:
            out: bytes = self._outbound.protect(packet)
        except pylibsrtp.Error as exc:
            self._protect_failed("RTP", exc)
            return None
        self._protected += 1
        return out

    def protect_rtcp(self, packet: bytes) -> bytes | None:
        try:
            out: bytes = self._outbound.protect_rtcp(packet)
        except pylibsrtp.Error as exc:
            self._protect_failed("RTCP", exc)
            return None
        self._protected += 1
        return out

    def unprotect_rtp(self, packet: bytes) -> bytes | None:
        try:
            out: bytes = self._inbound.unprotect(packet)
        except pylibsrtp.Error as exc:
            self._unprotect_failed("SRTP", exc)
            return None
        self._unprotected += 1
        return out

    def unprotect_rtcp(self, packet: bytes) -> bytes | None:
        try:
            out: bytes = self._inbound.unprotect_rtcp(packet)
        except pylibsrtp.Error as exc:
            self._unprotect_failed("SRTCP", exc)
            return None
        self._unprotected += 1
        return out

    def _protect_failed(self, what: str, exc: Exception) -> None:
        self._protect_failures += 1
        logger.warning("%scannot protect %s packet: %s", self._prefix, what, exc)

    def _unprotect_failed(self, what: str, exc: Exception) -> None:
        self._unprotect_failures += 1
        level = logging.INFO if self._unprotect_failures == 1 else logging.DEBUG
        logger.log(level, "%sdropping %s packet: %s", self._prefix, what, exc)

    def stats(self) -> SrtpStats:
        return SrtpStats(
            self._protected, self._unprotected, self._unprotect_failures, self._protect_failures
        )
