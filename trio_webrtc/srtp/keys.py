"""DTLS-SRTP keying (RFC 5764 §4.1.2 protection profiles, §4.2 key derivation).

The exporter output (RFC 5705, label ``EXTRACTOR-dtls_srtp``, no context) is
``client_write_key | server_write_key | client_write_salt | server_write_salt``
(RFC 5764 §4.2), with the key and salt lengths of the negotiated profile:
AES_CM_128_HMAC_SHA1_80 16 + 14 bytes (RFC 5764 §4.1.2), AEAD_AES_128_GCM 16 + 12
(RFC 7714 §14.2). libsrtp takes each direction's master key as key || salt.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..errors import LocalProtocolError

__all__ = ["EXPORTER_LABEL", "PROFILES", "SrtpKeys", "SrtpProfile", "derive_keys"]

#: RFC 5764 §4.2.
EXPORTER_LABEL = b"EXTRACTOR-dtls_srtp"


@dataclass(frozen=True, slots=True)
class SrtpProfile:
    """One DTLS-SRTP protection profile: its OpenSSL name, libsrtp number, lengths."""

    name: str  # as OpenSSL's get_selected_srtp_profile() names it
    libsrtp_profile: int  # pylibsrtp.Policy.SRTP_PROFILE_*
    key_length: int
    salt_length: int
    #: Bytes SRTP adds to an RTP packet (auth tag, or the GCM tag).
    rtp_overhead: int


# pylibsrtp's constants (srtp_profile_t): AES128_CM_SHA1_80 = 1, AEAD_AES_128_GCM = 7.
PROFILES: dict[str, SrtpProfile] = {
    "SRTP_AES128_CM_SHA1_80": SrtpProfile("SRTP_AES128_CM_SHA1_80", 1, 16, 14, 10),
    "SRTP_AEAD_AES_128_GCM": SrtpProfile("SRTP_AEAD_AES_128_GCM", 7, 16, 12, 16),
}


@dataclass(frozen=True, slots=True)
class SrtpKeys:
    """Both directions' master key || salt, and which one is ours."""

    profile: SrtpProfile
    client_master: bytes  # client_write_key || client_write_salt
    server_master: bytes

    def local(self, is_client: bool) -> bytes:
        return self.client_master if is_client else self.server_master

    def remote(self, is_client: bool) -> bytes:
        return self.server_master if is_client else self.client_master


def split_keying_material(profile: SrtpProfile, material: bytes) -> SrtpKeys:
    """Split the exporter's output (RFC 5764 §4.2) into both directions' masters."""
    k, s = profile.key_length, profile.salt_length
    if len(material) != 2 * (k + s):
        raise LocalProtocolError(f"{profile.name} needs {2 * (k + s)} bytes of keying material")
    client_key, server_key = material[:k], material[k : 2 * k]
    client_salt, server_salt = material[2 * k : 2 * k + s], material[2 * k + s :]
    return SrtpKeys(profile, client_key + client_salt, server_key + server_salt)


def derive_keys(profile_name: str, export: Callable[[bytes, int], bytes]) -> SrtpKeys:
    """Keys for the negotiated ``profile_name`` from ``export(label, length)`` (the DTLS
    transport's :meth:`export_keying_material`). Raises ``LocalProtocolError`` for a
    profile we do not implement."""
    profile = PROFILES.get(profile_name)
    if profile is None:
        raise LocalProtocolError(f"unsupported SRTP profile {profile_name!r}")
    length = 2 * (profile.key_length + profile.salt_length)
    return split_keying_material(profile, export(EXPORTER_LABEL, length))
