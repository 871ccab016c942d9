"""Signed State Cookies for stateless association setup.

Implements RFC 9260 §5.1.3 (generating a State Cookie: the association's parameters, a
timestamp and a MAC over them with a secret key) and the validation steps of §5.1.5
(MAC check; staleness is judged by the association against the cookie's lifetime,
:data:`COOKIE_LIFETIME` plus any Cookie Preservative increment of §5.2.6). The cookie
also carries the Tie-Tags of §5.2.2 (zero unless the INIT ACK answered an INIT in an
existing association), the peer's stream counts (§5.1.1) and which extensions its INIT
announced (RFC 3758 §3.3, RFC 6525 via RFC 5061 §4.2.7). The MAC is HMAC-SHA256 with a
per-association 32-byte secret.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass

__all__ = ["COOKIE_LIFETIME", "EXT_FORWARD_TSN", "EXT_RECONFIG", "CookieJar", "CookieState"]

COOKIE_LIFETIME = 60.0
_BODY = struct.Struct("!BdIIIIIIIHHBd")
_VERSION = 2
#: ``CookieState.extensions`` bits: the peer announced FORWARD TSN / RE-CONFIG.
EXT_FORWARD_TSN = 1
EXT_RECONFIG = 2
_MAC_SIZE = 32


@dataclass(frozen=True, slots=True)
class CookieState:
    """What a cookie carries: enough to build the association when it is echoed."""

    timestamp: float
    local_tag: int
    peer_tag: int
    local_tsn: int
    peer_tsn: int
    peer_rwnd: int
    local_tie_tag: int = 0
    peer_tie_tag: int = 0
    peer_outbound_streams: int = 65535
    peer_inbound_streams: int = 65535
    extensions: int = EXT_FORWARD_TSN | EXT_RECONFIG
    lifetime: float = COOKIE_LIFETIME


class CookieJar:
    """Makes and opens cookies signed with one secret key."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _mac(self, body: bytes) -> bytes:
        return hmac.new(self._secret, body, hashlib.sha256).digest()

    def make(self, state: CookieState) -> bytes:
        body = _BODY.pack(
            _VERSION,
            state.timestamp,
            state.local_tag,
            state.peer_tag,
            state.local_tsn,
            state.peer_tsn,
            state.peer_rwnd,
            state.local_tie_tag,
            state.peer_tie_tag,
            state.peer_outbound_streams,
            state.peer_inbound_streams,
            state.extensions,
            state.lifetime,
        )
        return body + self._mac(body)

    def open(self, cookie: bytes) -> CookieState | None:
        """The cookie's contents, or None when it is malformed or its MAC is wrong."""
        if len(cookie) != _BODY.size + _MAC_SIZE:
            return None
        body = cookie[: _BODY.size]
        if not hmac.compare_digest(self._mac(body), cookie[_BODY.size :]):
            return None
        version, *fields = _BODY.unpack(body)
        if version != _VERSION:
            return None
        return CookieState(*fields)
