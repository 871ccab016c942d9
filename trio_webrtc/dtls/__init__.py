"""DTLS 1.2 for WebRTC: the sans-I/O transport, record framing and certificates.

Layer map (each module's docstring names its sections):

* :mod:`.transport` — the handshake and data records over pyOpenSSL memory BIOs
  (RFC 6347), fingerprint verification (RFC 8122 §5, RFC 8842), close_notify and alerts.
* :mod:`.aead` — the data phase's record protection after the handshake (RFC 5246 §6.3
  keys, RFC 5288 AES-GCM, RFC 7905 ChaCha20-Poly1305, RFC 6347 §4.1.2.6 anti-replay).
* :mod:`.records` — record-header framing (RFC 6347 §4.1, handshake header §4.2.2).
* :mod:`.certificate` — self-signed certificates and their SDP fingerprints
  (RFC 8122 §5, RFC 8827 §6.5).

Bytes and ``now`` in; datagrams, a timer deadline and events out.
"""

from __future__ import annotations

from .certificate import (
    SUPPORTED_FINGERPRINT_ALGORITHMS,
    Certificate,
    fingerprint_of_der,
)
from .records import (
    CONTENT_ALERT,
    CONTENT_APPLICATION_DATA,
    CONTENT_CHANGE_CIPHER_SPEC,
    CONTENT_HANDSHAKE,
)
from .transport import (
    ApplicationData,
    DtlsClosed,
    DtlsEvent,
    DtlsFailed,
    DtlsParseError,
    DtlsState,
    DtlsTransport,
    HandshakeCompleted,
    RecordHeader,
    parse_record_headers,
)

__all__ = [
    "CONTENT_ALERT",
    "CONTENT_APPLICATION_DATA",
    "CONTENT_CHANGE_CIPHER_SPEC",
    "CONTENT_HANDSHAKE",
    "SUPPORTED_FINGERPRINT_ALGORITHMS",
    "ApplicationData",
    "Certificate",
    "DtlsClosed",
    "DtlsEvent",
    "DtlsFailed",
    "DtlsParseError",
    "DtlsState",
    "DtlsTransport",
    "HandshakeCompleted",
    "RecordHeader",
    "fingerprint_of_der",
    "parse_record_headers",
]
