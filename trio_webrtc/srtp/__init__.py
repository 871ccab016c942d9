"""SRTP for the media transport, sans-I/O (RFC 3711, RFC 5764, RFC 7714).

* :mod:`.keys` — RFC 5764 §4.2 key derivation from the DTLS exporter
  (``EXTRACTOR-dtls_srtp``): the client and server master keys and salts of the
  negotiated protection profile (RFC 5764 §4.1.2; AEAD_AES_128_GCM per RFC 7714 §14.2).
* :mod:`.session` — :class:`SrtpContext`, the two pylibsrtp sessions of one connection
  (outbound with our keys, inbound with the peer's, replay protection on): protect and
  unprotect RTP and RTCP; failures are counted and logged, never raised.

Nothing here does I/O or reads a clock.
"""

from __future__ import annotations

from .keys import PROFILES, SrtpKeys, SrtpProfile, derive_keys
from .session import SrtpContext, SrtpStats

__all__ = ["PROFILES", "SrtpContext", "SrtpKeys", "SrtpProfile", "SrtpStats", "derive_keys"]
