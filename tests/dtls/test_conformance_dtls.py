"""Conformance of DTLS fingerprint checking to RFC 8122 §5 / RFC 8842 §5 (issue 14): with
several ``a=fingerprint`` lines only those of the strongest hash function offered count."""

from __future__ import annotations

import pytest
from test_dtls import ECDSA_A, ECDSA_B, connect, events, make_pair, tamper

from trio_webrtc.dtls.transport import DtlsFailed, DtlsState, HandshakeCompleted
from trio_webrtc.testing import VirtualLink


def _run(client_expects: list[tuple[str, str]]) -> tuple[DtlsState, list[object]]:
    client, server = make_pair(client_expects=client_expects)
    link = VirtualLink(client, server)
    client.start(0.0)
    server.start(0.0)
    link.run(lambda: client.state is not DtlsState.CONNECTING, timeout=70)
    return client.state, list(events(client))


def test_matching_sha1_with_mismatching_sha256_fails_the_handshake() -> None:
    state, client_events = _run(
        [("sha-1", ECDSA_B.fingerprint("sha-1")), ("sha-256", tamper(ECDSA_B.fingerprint()))]
    )
    assert state is DtlsState.FAILED
    assert client_events == [DtlsFailed("fingerprint mismatch")]


@pytest.mark.parametrize("weak", ["sha-1", "sha-224", "sha-256", "sha-384"])
def test_only_the_strongest_hash_offered_counts(weak: str) -> None:
    # A matching sha-512 with a wrong weaker one connects; the weaker one is not used.
    state, client_events = _run(
        [(weak, tamper(ECDSA_B.fingerprint(weak))), ("SHA-512", ECDSA_B.fingerprint("sha-512"))]
    )
    assert state is DtlsState.CONNECTED
    assert [type(e) for e in client_events] == [HandshakeCompleted]


def test_several_values_of_the_strongest_hash_any_may_match() -> None:
    # Two certificates announced with sha-256 (e.g. one per candidate certificate).
    client, server = make_pair(
        client_expects=[
            ("sha-256", ECDSA_A.fingerprint()),
            ("sha-256", ECDSA_B.fingerprint()),
            ("sha-1", tamper(ECDSA_B.fingerprint("sha-1"))),
        ]
    )
    connect(client, server)


def test_unsupported_hashes_do_not_count_as_strongest() -> None:
    # md5 and an unknown name are skipped (RFC 8842 §5), then sha-256 is the strongest.
    client, server = make_pair(
        client_expects=[
            ("md5", "00:11"),
            ("sha-3000", "AA"),
            ("sha-256", ECDSA_B.fingerprint()),
            ("sha-1", tamper(ECDSA_B.fingerprint("sha-1"))),
        ]
    )
    connect(client, server)
