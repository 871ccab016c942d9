"""SDP and JSEP for a data-channel peer: the session description and offer/answer.

Layer map (each module's docstring names its sections):

* :mod:`.description` — the SDP model (RFC 8866), the data-channel m-section
  (RFC 8841), ICE attributes (RFC 8839) and DTLS fingerprints/setup (RFC 8122, RFC 8842).
* :mod:`.jsep` — the JSEP signaling state machine and offer/answer generation
  (RFC 9429 §4.1.8-§4.1.10, §5.2-§5.3), DTLS roles by ``a=setup`` (RFC 8842 §5).

Pure functions and value objects: no I/O, no clock.
"""

from __future__ import annotations

from .description import (
    MAX_MEDIA_SECTIONS,
    MAX_SDP_BYTES,
    MAX_SDP_LINES,
    Attribute,
    DataChannelDescription,
    MediaSection,
    Origin,
    SessionDescription,
    check_ice_credentials,
    datachannel_sctp_port,
    is_token,
    parse_fingerprint,
)
from .jsep import (
    LocalParameters,
    SdpType,
    Side,
    SignalingState,
    SignalingStateMachine,
    create_answer,
    create_offer,
    negotiated_dtls_role,
    random_session_id,
)

__all__ = [
    "MAX_MEDIA_SECTIONS",
    "MAX_SDP_BYTES",
    "MAX_SDP_LINES",
    "Attribute",
    "DataChannelDescription",
    "LocalParameters",
    "MediaSection",
    "Origin",
    "SdpType",
    "SessionDescription",
    "Side",
    "SignalingState",
    "SignalingStateMachine",
    "check_ice_credentials",
    "create_answer",
    "create_offer",
    "datachannel_sctp_port",
    "is_token",
    "negotiated_dtls_role",
    "parse_fingerprint",
    "random_session_id",
]
