"""Tests for trio_webrtc.dtls.certificate: generation, PEM round trip, RFC 8122 fingerprints."""

from __future__ import annotations

import datetime
import hashlib
import re

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from OpenSSL import SSL

from trio_webrtc.dtls.certificate import (
    SUPPORTED_FINGERPRINT_ALGORITHMS,
    Certificate,
    fingerprint_of_der,
)

SHA256_FINGERPRINT = re.compile(r"^([0-9A-F]{2}:){31}[0-9A-F]{2}$")


def _common_name(cert: Certificate) -> str:
    value = cert.x509.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert isinstance(value, str)
    return value


def test_generate_ecdsa_is_self_signed_and_valid_30_days() -> None:
    cert = Certificate.generate()
    assert isinstance(cert.private_key, ec.EllipticCurvePrivateKey)
    assert isinstance(cert.private_key.curve, ec.SECP256R1)
    assert cert.x509.issuer == cert.x509.subject
    now = datetime.datetime.now(datetime.timezone.utc)
    not_before = cert.x509.not_valid_before_utc
    not_after = cert.x509.not_valid_after_utc
    assert not_after - not_before == datetime.timedelta(days=30)
    assert (
        now - datetime.timedelta(days=1, minutes=5)
        < not_before
        < now - datetime.timedelta(hours=23)
    )
    # Self-signed: the certificate's own key verifies its signature.
    cert.x509.verify_directly_issued_by(cert.x509)


def test_generate_rsa_2048() -> None:
    cert = Certificate.generate(key_type="rsa-2048")
    assert isinstance(cert.private_key, rsa.RSAPrivateKey)
    assert cert.private_key.key_size == 2048
    cert.x509.verify_directly_issued_by(cert.x509)


def test_generate_uses_random_common_names_and_serials() -> None:
    a, b = Certificate.generate(), Certificate.generate()
    assert _common_name(a) != _common_name(b)
    assert a.x509.serial_number != b.x509.serial_number
    assert a != b
    assert a.fingerprint() != b.fingerprint()


def test_generate_rejects_unknown_key_type() -> None:
    with pytest.raises(ValueError):
        Certificate.generate(key_type="dsa-1024")  # type: ignore[arg-type]


def test_default_is_generated_once() -> None:
    first = Certificate.default()
    assert Certificate.default() is first
    assert isinstance(first.private_key, ec.EllipticCurvePrivateKey)


@pytest.mark.parametrize("key_type", ["ecdsa-p256", "rsa-2048"])
def test_pem_round_trip(key_type: str) -> None:
    cert = Certificate.generate(key_type=key_type)  # type: ignore[arg-type]
    cert_pem, key_pem = cert.to_pem()
    assert cert_pem.startswith(b"-----BEGIN CERTIFICATE-----")
    assert key_pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    loaded = Certificate.from_pem(cert_pem, key_pem)
    assert loaded == cert
    assert hash(loaded) == hash(cert)
    assert loaded.der == cert.der
    assert loaded.fingerprint("sha-512") == cert.fingerprint("sha-512")
    # str input is accepted too
    assert Certificate.from_pem(cert_pem.decode(), key_pem.decode()) == cert


def test_from_pem_rejects_mismatched_key() -> None:
    cert_pem, _ = Certificate.generate().to_pem()
    _, other_key_pem = Certificate.generate().to_pem()
    with pytest.raises(ValueError):
        Certificate.from_pem(cert_pem, other_key_pem)


def test_from_pem_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        Certificate.from_pem(b"not a certificate", b"not a key")


def test_fingerprint_format_and_value() -> None:
    cert = Certificate.generate()
    value = cert.fingerprint()
    assert SHA256_FINGERPRINT.match(value)
    assert value == ":".join(f"{b:02X}" for b in hashlib.sha256(cert.der).digest())
    assert cert.fingerprints() == [("sha-256", value)]


def test_fingerprint_of_der_known_vectors() -> None:
    assert fingerprint_of_der(b"abc", "sha-256") == (
        "BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:"
        "B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:15:AD"
    )
    assert fingerprint_of_der(b"abc", "sha-1") == (
        "A9:99:3E:36:47:06:81:6A:BA:3E:25:71:78:50:C2:6C:9C:D0:D8:9D"
    )


@pytest.mark.parametrize(
    ("algorithm", "size"),
    [("sha-1", 20), ("sha-224", 28), ("sha-256", 32), ("sha-384", 48), ("sha-512", 64)],
)
def test_fingerprint_of_der_lengths(algorithm: str, size: int) -> None:
    value = fingerprint_of_der(b"\x30\x03\x02\x01\x01", algorithm)
    octets = value.split(":")
    assert len(octets) == size
    assert all(re.fullmatch(r"[0-9A-F]{2}", octet) for octet in octets)
    assert algorithm in SUPPORTED_FINGERPRINT_ALGORITHMS


@pytest.mark.parametrize("spelling", ["SHA-256", "Sha-256", "sha256", " sha-256 "])
def test_fingerprint_algorithm_names_are_case_insensitive(spelling: str) -> None:
    assert fingerprint_of_der(b"x", spelling) == fingerprint_of_der(b"x", "sha-256")


@pytest.mark.parametrize("algorithm", ["md5", "md2", "sha-3", "", "sha-257"])
def test_fingerprint_rejects_unsupported_algorithms(algorithm: str) -> None:
    with pytest.raises(ValueError):
        fingerprint_of_der(b"x", algorithm)


def test_to_openssl_loads_into_a_context() -> None:
    cert = Certificate.generate()
    x509_cert, pkey = cert.to_openssl()
    ctx = SSL.Context(SSL.DTLS_METHOD)
    ctx.use_certificate(x509_cert)
    ctx.use_privatekey(pkey)
    ctx.check_privatekey()  # raises if the pair does not match
    assert x509_cert == cert.x509
    assert isinstance(x509_cert, x509.Certificate)
    assert pkey is cert.private_key
