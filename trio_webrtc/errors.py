"""Exception hierarchy shared by every layer.

Protocol layers split errors the way h11 does: :class:`LocalProtocolError` when our
caller asked for something the protocol forbids, :class:`RemoteProtocolError` when the
peer (or the network) sent something malformed or illegal. Parsers raise a subclass of
:class:`ParseError`, never anything else, for any input bytes.
"""

from __future__ import annotations

__all__ = [
    "CloseTimeoutError",
    "ConnectionFailedError",
    "DcepParseError",
    "DtlsError",
    "FingerprintMismatchError",
    "InvalidStateError",
    "LocalProtocolError",
    "MessageTooLargeError",
    "ParseError",
    "ProtocolError",
    "RemoteProtocolError",
    "RtpParseError",
    "SctpParseError",
    "SdpParseError",
    "StunParseError",
    "WebRTCError",
]


class WebRTCError(Exception):
    """Base class of every exception trio_webrtc raises on purpose."""


class ProtocolError(WebRTCError):
    """A protocol rule was broken, locally or remotely."""


class LocalProtocolError(ProtocolError):
    """Our caller asked for something the protocol or current state forbids."""


class RemoteProtocolError(ProtocolError):
    """The peer or the network sent something malformed or illegal."""


class ParseError(RemoteProtocolError, ValueError):
    """Input bytes or text could not be parsed; the only exception parsers raise."""


class SdpParseError(ParseError):
    """Malformed SDP (RFC 8866) or JSEP-level content."""


class StunParseError(ParseError):
    """Malformed STUN message (RFC 8489)."""


class SctpParseError(ParseError):
    """Malformed SCTP packet or chunk (RFC 9260)."""


class DcepParseError(ParseError):
    """Malformed DCEP message (RFC 8832)."""


class RtpParseError(ParseError):
    """Malformed RTP or RTCP packet (RFC 3550, RFC 4585) or RTP payload (RFC 6184, 7741)."""


class InvalidStateError(LocalProtocolError):
    """The call is not allowed in the object's current state."""


class MessageTooLargeError(LocalProtocolError, ValueError):
    """A message exceeds the peer's max-message-size (RFC 8841); nothing was sent."""


class DtlsError(ProtocolError):
    """The DTLS handshake or record layer failed."""


class FingerprintMismatchError(DtlsError, RemoteProtocolError):
    """The peer's certificate does not match the fingerprint in its SDP."""


class ConnectionFailedError(WebRTCError):
    """The peer connection failed (ICE, DTLS or SCTP) and cannot carry data; the message
    names the cause (no remote candidates, checks unanswered, consent lost, TURN refused,
    DTLS alert, fingerprint mismatch, SCTP ABORT). The Trio face raises it from
    ``wait_connected``/``wait_for_state`` and chains it as the ``__cause__`` of the
    ``trio.BrokenResourceError`` raised by channel operations."""


class CloseTimeoutError(WebRTCError):
    """A graceful close (leaving ``async with PeerConnection``, ``aclose()``) did not
    complete within ``close_timeout``: the association was aborted and the message says
    how many queued bytes were not delivered."""
