"""SDP and JSEP for a data-channel peer: the session description and offer/answer.

Layer map (each module's docstring names its sections):

* :mod:`.description` — the SDP model (RFC 8866), the data-channel m-section
  (RFC 8841), ICE attributes (RFC 8839) and DTLS fingerprints/setup (RFC 8122, RFC 8842).
* :mod:`.jsep` — the JSEP signaling state machine and offer/answer generation
  (RFC 9429 §4.1.8-§4.1.10, §5.2-§5.3), DTLS roles by ``a=setup`` (RFC 8842 §5).
* :mod:`.media` — audio/video negotiation records (codecs, transceiver requests, results);
  :mod:`.media_jsep` — audio/video m-sections in offers and answers (RFC 9429, RFC 3264
  §6.1, RFC 8843 BUNDLE, RFC 5761 rtcp-mux, RFC 4588 RTX, RFC 9143 MID extension).

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
from .media import Codec, NegotiatedMedia, TransceiverRequest, default_codecs

__all__ = [
    "MAX_MEDIA_SECTIONS",
    "MAX_SDP_BYTES",
    "MAX_SDP_LINES",
    "Attribute",
    "Codec",
    "DataChannelDescription",
    "LocalParameters",
    "MediaSection",
    "NegotiatedMedia",
    "Origin",
    "SdpType",
    "SessionDescription",
    "Side",
    "SignalingState",
    "SignalingStateMachine",
    "TransceiverRequest",
    "check_ice_credentials",
    "create_answer",
    "create_offer",
    "datachannel_sctp_port",
    "default_codecs",
    "is_token",
    "negotiated_dtls_role",
    "parse_fingerprint",
    "random_session_id",
]
