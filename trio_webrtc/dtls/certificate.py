"""Self-signed DTLS certificates and their SDP fingerprints.

Implements:

* RFC 8122 §5 — the ``a=fingerprint`` value: a hash of the DER certificate, upper-case
  hex octets joined by colons, for the hash functions of the TLS HashAlgorithm registry
  (sha-1, sha-224, sha-256, sha-384, sha-512).
* RFC 8827 §6.5 — WebRTC endpoints authenticate with self-signed certificates whose
  fingerprints travel in SDP; certificates are short-lived and may be reused across
  connections (:meth:`Certificate.default` generates one per process).

I/O-free: the only clock read is the wall-clock date baked into a new certificate.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import secrets
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509 import Certificate as X509Certificate
from cryptography.x509.oid import NameOID

__all__ = [
    "SUPPORTED_FINGERPRINT_ALGORITHMS",
    "Certificate",
    "fingerprint_of_der",
    "fingerprint_strength",
]

KeyType = Literal["ecdsa-p256", "rsa-2048"]
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

#: SDP hash names (RFC 8122 §5, lower-case) mapped to hashlib names.
SUPPORTED_FINGERPRINT_ALGORITHMS: dict[str, str] = {
    "sha-1": "sha1",
    "sha-224": "sha224",
    "sha-256": "sha256",
    "sha-384": "sha384",
    "sha-512": "sha512",
}

_VALIDITY = datetime.timedelta(days=30)
_BACKDATE = datetime.timedelta(days=1)


def _hashlib_name(algorithm: str) -> str:
    """Map ``sha-256``/``SHA256``/``sha256`` to hashlib's name; ValueError if unsupported."""
    name = algorithm.strip().lower()
    if name in SUPPORTED_FINGERPRINT_ALGORITHMS:
        return SUPPORTED_FINGERPRINT_ALGORITHMS[name]
    if name.startswith("sha") and "sha-" + name[3:] in SUPPORTED_FINGERPRINT_ALGORITHMS:
        return SUPPORTED_FINGERPRINT_ALGORITHMS["sha-" + name[3:]]
    raise ValueError(f"unsupported fingerprint hash algorithm {algorithm!r}")


def fingerprint_strength(algorithm: str) -> int:
    """The digest size in bytes of a fingerprint hash (``sha-256`` -> 32), which ranks hash
    functions for RFC 8122 §5; ValueError if unsupported."""
    return hashlib.new(_hashlib_name(algorithm)).digest_size


def fingerprint_of_der(der: bytes, algorithm: str = "sha-256") -> str:
    """Return the RFC 8122 fingerprint of a DER certificate: ``"AB:CD:..."``.

    ``algorithm`` is case-insensitive (``sha-256``, ``SHA-256`` and ``sha256`` are
    equal). Raises :class:`ValueError` for an unsupported algorithm.
    """
    digest = hashlib.new(_hashlib_name(algorithm), der).digest()
    return digest.hex(":").upper()


class Certificate:
    """An immutable private key plus self-signed X.509 certificate for DTLS.

    Create with :meth:`generate`, :meth:`default` or :meth:`from_pem`.
    """

    __slots__ = ("_cert", "_der", "_key")

    def __init__(self, cert: X509Certificate, key: PrivateKey) -> None:
        """Wrap ``cert`` and its private ``key``; ValueError if they do not match."""
        if not isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):
            raise ValueError("only ECDSA and RSA keys are supported")
        public_format = serialization.PublicFormat.SubjectPublicKeyInfo
        if cert.public_key().public_bytes(
            serialization.Encoding.DER, public_format
        ) != key.public_key().public_bytes(serialization.Encoding.DER, public_format):
            raise ValueError("private key does not match the certificate")
        self._cert = cert
        self._key = key
        self._der = cert.public_bytes(serialization.Encoding.DER)

    @classmethod
    def generate(cls, *, key_type: KeyType = "ecdsa-p256") -> Certificate:
        """Generate a self-signed certificate: random CN, 30 days valid from a day ago."""
        key: PrivateKey
        if key_type == "ecdsa-p256":
            key = ec.generate_private_key(ec.SECP256R1())
        elif key_type == "rsa-2048":
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        else:
            raise ValueError(f"unsupported key type {key_type!r}")
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, secrets.token_hex(8))])
        not_before = datetime.datetime.now(datetime.timezone.utc) - _BACKDATE
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_before + _VALIDITY)
            .sign(key, hashes.SHA256())
        )
        return cls(cert, key)

    @classmethod
    def default(cls) -> Certificate:
        """The process-wide ECDSA P-256 certificate, generated on first use."""
        return _default_certificate()

    @classmethod
    def from_pem(cls, cert_pem: bytes | str, key_pem: bytes | str) -> Certificate:
        """Load a PEM certificate and unencrypted PEM private key (ValueError if bad)."""
        if isinstance(cert_pem, str):
            cert_pem = cert_pem.encode("ascii")
        if isinstance(key_pem, str):
            key_pem = key_pem.encode("ascii")
        cert = x509.load_pem_x509_certificate(cert_pem)
        key = serialization.load_pem_private_key(key_pem, password=None)
        if not isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):
            raise ValueError("only ECDSA and RSA keys are supported")
        return cls(cert, key)

    def to_pem(self) -> tuple[bytes, bytes]:
        """Return ``(certificate_pem, pkcs8_private_key_pem)``, the key unencrypted."""
        cert_pem = self._cert.public_bytes(serialization.Encoding.PEM)
        key_pem = self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return cert_pem, key_pem

    @property
    def der(self) -> bytes:
        """The certificate in DER form (what fingerprints hash)."""
        return self._der

    @property
    def x509(self) -> X509Certificate:
        """The ``cryptography`` certificate."""
        return self._cert

    @property
    def private_key(self) -> PrivateKey:
        """The ``cryptography`` private key."""
        return self._key

    def fingerprint(self, algorithm: str = "sha-256") -> str:
        """RFC 8122 fingerprint of this certificate (upper-case hex with colons)."""
        return fingerprint_of_der(self._der, algorithm)

    def fingerprints(self) -> list[tuple[str, str]]:
        """The ``(algorithm, value)`` pairs to advertise in SDP: sha-256 only."""
        return [("sha-256", self.fingerprint("sha-256"))]

    def to_openssl(self) -> tuple[X509Certificate, PrivateKey]:
        """The pair for pyOpenSSL's ``Context.use_certificate``/``use_privatekey``.

        pyOpenSSL >= 24.3 takes ``cryptography`` objects directly (passing its own
        ``X509``/``PKey`` wrappers is deprecated), so these are returned as they are.
        """
        return self._cert, self._key

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Certificate):
            return NotImplemented
        return self._der == other._der

    def __hash__(self) -> int:
        return hash(self._der)

    def __repr__(self) -> str:
        return f"<Certificate sha-256 {self.fingerprint()[:23]}...>"


@functools.cache
def _default_certificate() -> Certificate:
    return Certificate.generate()
