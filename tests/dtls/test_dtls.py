"""Tests for trio_webrtc.dtls.transport: handshake, data, fingerprints, retransmission,
bad input."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trio_webrtc.dtls import transport as dtls
from trio_webrtc.dtls.certificate import Certificate
from trio_webrtc.dtls.transport import (
    ApplicationData,
    DtlsClosed,
    DtlsEvent,
    DtlsFailed,
    DtlsParseError,
    DtlsState,
    DtlsTransport,
    HandshakeCompleted,
    parse_record_headers,
)
from trio_webrtc.errors import InvalidStateError, LocalProtocolError, MessageTooLargeError
from trio_webrtc.testing import LinkConditions, VirtualLink

ECDSA_A = Certificate.generate()
ECDSA_B = Certificate.generate()
RSA = Certificate.generate(key_type="rsa-2048")

CONNECTED = DtlsState.CONNECTED


def make_pair(
    client_cert: Certificate = ECDSA_A,
    server_cert: Certificate = ECDSA_B,
    *,
    client_expects: list[tuple[str, str]] | None = None,
    server_expects: list[tuple[str, str]] | None = None,
    **kwargs: object,
) -> tuple[DtlsTransport, DtlsTransport]:
    client = DtlsTransport(
        client_cert,
        is_client=True,
        remote_fingerprints=server_cert.fingerprints()
        if client_expects is None
        else client_expects,
        log_prefix="[client] ",
        **kwargs,  # type: ignore[arg-type]
    )
    server = DtlsTransport(
        server_cert,
        is_client=False,
        remote_fingerprints=client_cert.fingerprints()
        if server_expects is None
        else server_expects,
        log_prefix="[server] ",
        **kwargs,  # type: ignore[arg-type]
    )
    return client, server


def both_connected(a: DtlsTransport, b: DtlsTransport) -> Callable[[], bool]:
    return lambda: a.state is CONNECTED and b.state is CONNECTED


def events(transport: DtlsTransport) -> list[DtlsEvent]:
    out = []
    while (event := transport.next_event()) is not None:
        out.append(event)
    return out


def connect(
    client: DtlsTransport, server: DtlsTransport, conditions: LinkConditions | None = None
) -> VirtualLink:
    link = VirtualLink(client, server, conditions)
    client.start(0.0)
    server.start(0.0)
    link.run(both_connected(client, server), timeout=10)
    return link


def connected_pair(**kwargs: object) -> tuple[DtlsTransport, DtlsTransport]:
    client, server = make_pair(**kwargs)  # type: ignore[arg-type]
    connect(client, server)
    events(client)
    events(server)
    return client, server


def deliver(source: DtlsTransport, target: DtlsTransport, now: float = 0.0) -> int:
    datagrams = source.datagrams_to_send(now)
    for datagram in datagrams:
        target.receive_datagram(datagram, now)
    return len(datagrams)


def tamper(fingerprint: str) -> str:
    first = fingerprint[0]
    return ("0" if first != "0" else "1") + fingerprint[1:]


# --- handshake -----------------------------------------------------------------------


def test_handshake_ecdsa_both_ways() -> None:
    client, server = make_pair()
    assert client.state is DtlsState.NEW
    link = connect(client, server)
    for transport, peer_cert in ((client, ECDSA_B), (server, ECDSA_A)):
        assert events(transport) == [HandshakeCompleted("SRTP_AEAD_AES_128_GCM")]
        assert transport.remote_certificate_der == peer_cert.der
        assert transport.selected_srtp_profile == "SRTP_AEAD_AES_128_GCM"
        assert transport.get_timer() is None
    assert client.is_client and not server.is_client
    assert link.now < 0.1  # one round trip and a half on a clean 5 ms link


@pytest.mark.parametrize("rsa_side", ["client", "server", "both"])
def test_handshake_with_rsa_certificate(rsa_side: str) -> None:
    client_cert = RSA if rsa_side in ("client", "both") else ECDSA_A
    server_cert = RSA if rsa_side in ("server", "both") else ECDSA_B
    client, server = make_pair(client_cert, server_cert)
    connect(client, server)
    assert client.remote_certificate_der == server_cert.der
    assert server.remote_certificate_der == client_cert.der
    assert isinstance(events(client)[0], HandshakeCompleted)
    assert isinstance(events(server)[0], HandshakeCompleted)


def test_handshake_datagrams_fit_the_mtu() -> None:
    for mtu in (1200, 400):
        client, server = make_pair(RSA, RSA, mtu=mtu)
        sizes: list[int] = []

        class Recorder:
            def __init__(self, inner: DtlsTransport, sizes: list[int]) -> None:
                self.inner = inner
                self.sizes = sizes

            def receive_datagram(self, data: bytes, now: float) -> None:
                self.inner.receive_datagram(data, now)

            def datagrams_to_send(self, now: float) -> list[bytes]:
                out = self.inner.datagrams_to_send(now)
                self.sizes.extend(len(d) for d in out)
                return out

            def get_timer(self) -> float | None:
                return self.inner.get_timer()

            def handle_timer(self, now: float) -> None:
                self.inner.handle_timer(now)

        link = VirtualLink(
            Recorder(client, sizes), Recorder(server, sizes), LinkConditions(mtu=mtu)
        )
        client.start(0.0)
        server.start(0.0)
        link.run(both_connected(client, server), timeout=10)
        assert max(sizes) <= mtu
        assert sum(sizes) > 2 * mtu  # RSA flights really were split
        if mtu == 400:
            assert len(sizes) > 6


def test_server_starts_itself_on_first_datagram_and_client_drops_early_input() -> None:
    client, server = make_pair()
    client.receive_datagram(b"\x16\xfe\xfd" + bytes(10), 0.0)
    assert client.state is DtlsState.NEW
    client.start(0.0)
    hello = client.datagrams_to_send(0.0)
    server.receive_datagram(b"\x16\xfe\xfd" + bytes(10), 0.0)  # not a ClientHello
    assert server.state is DtlsState.NEW
    for datagram in hello:
        server.receive_datagram(datagram, 0.0)
    assert server.get_timer() == 1.0  # started: flight 4 sent, retransmit timer armed
    server.start(0.0)  # no-op after an early ClientHello
    with pytest.raises(InvalidStateError):
        server.start(0.0)
    link = VirtualLink(client, server)
    link.run(both_connected(client, server), timeout=5)


def test_start_twice_and_bad_arguments() -> None:
    client, _ = make_pair()
    client.start(0.0)
    with pytest.raises(InvalidStateError):
        client.start(0.0)
    with pytest.raises(ValueError):
        DtlsTransport(ECDSA_A, is_client=True, remote_fingerprints=[])
    with pytest.raises(ValueError):
        DtlsTransport(ECDSA_A, is_client=True, remote_fingerprints=[("md5", "AB:CD")])
    with pytest.raises(ValueError):
        DtlsTransport(ECDSA_A, is_client=True, remote_fingerprints=ECDSA_B.fingerprints(), mtu=100)


# --- application data ----------------------------------------------------------------


def test_application_data_both_ways() -> None:
    client, server = connected_pair()
    limit = client.cleartext_mtu
    assert 1100 < limit < 1200
    assert server.cleartext_mtu == limit
    for sender, receiver in ((client, server), (server, client)):
        payloads = [b"\x01", b"hello", bytes(range(256)) * 4, b"z" * 1200, b"m" * limit]
        payloads = [p[:limit] for p in payloads]
        for payload in payloads:
            sender.send(payload)
            datagrams = sender.datagrams_to_send(0.0)
            assert len(datagrams) == 1  # exactly one record, one datagram
            assert len(datagrams[0]) <= 1200
            assert datagrams[0][0] == 23  # application_data
            receiver.receive_datagram(datagrams[0], 0.0)
        assert events(receiver) == [ApplicationData(p) for p in payloads]
        assert sender.get_timer() is None and receiver.get_timer() is None


def test_send_size_limits() -> None:
    client, _ = connected_pair()
    with pytest.raises(MessageTooLargeError):
        client.send(b"x" * (client.cleartext_mtu + 1))
    with pytest.raises(LocalProtocolError):
        client.send(b"")
    assert client.datagrams_to_send(0.0) == []


def test_send_before_connected_raises() -> None:
    client, server = make_pair()
    with pytest.raises(InvalidStateError):
        client.send(b"early")
    client.start(0.0)
    server.start(0.0)
    with pytest.raises(InvalidStateError):
        client.send(b"early")
    with pytest.raises(InvalidStateError):
        server.send(b"early")
    with pytest.raises(InvalidStateError):
        _ = client.cleartext_mtu


def test_replayed_record_is_delivered_once() -> None:
    client, server = connected_pair()
    client.send(b"once")
    (datagram,) = client.datagrams_to_send(0.0)
    server.receive_datagram(datagram, 0.0)
    server.receive_datagram(datagram, 0.0)
    assert events(server) == [ApplicationData(b"once")]


# --- fingerprints --------------------------------------------------------------------


@pytest.mark.parametrize("checker", ["client", "server"])
def test_fingerprint_mismatch_fails_and_delivers_nothing(checker: str) -> None:
    wrong_server = [("sha-256", tamper(ECDSA_B.fingerprint()))]
    wrong_client = [("sha-256", tamper(ECDSA_A.fingerprint()))]
    client, server = make_pair(
        client_expects=wrong_server if checker == "client" else None,
        server_expects=wrong_client if checker == "server" else None,
    )
    link = VirtualLink(client, server)
    client.start(0.0)
    server.start(0.0)
    link.run(lambda: client.state is not DtlsState.CONNECTING, timeout=70)
    link.run(lambda: server.state is not DtlsState.CONNECTING, timeout=70)
    checking, other = (client, server) if checker == "client" else (server, client)
    assert events(checking) == [DtlsFailed("fingerprint mismatch")]
    other_events = events(other)
    # The checker's bad_certificate alert fails the peer at once (no 60 s timeout).
    assert len(other_events) == 1 and isinstance(other_events[0], DtlsFailed)
    assert "alert" in other_events[0].reason
    assert link.now < 1.0
    for transport in (client, server):
        assert transport.state is DtlsState.FAILED
        assert transport.remote_certificate_der is None
        assert transport.get_timer() is None
        with pytest.raises(InvalidStateError):
            transport.send(b"secret")
        with pytest.raises(InvalidStateError):
            transport.export_keying_material(b"EXTRACTOR-dtls_srtp", 60)


def test_post_handshake_fingerprint_check_alone_blocks_the_peer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Disable the verify-callback check: the check after the handshake must still refuse
    # to complete, and must never send the final flight, so the client never connects.
    monkeypatch.setattr(dtls._FingerprintVerifier, "__call__", lambda *args: True)
    client, server = make_pair(server_expects=[("sha-256", tamper(ECDSA_A.fingerprint()))])
    link = VirtualLink(client, server)
    client.start(0.0)
    server.start(0.0)
    link.run(lambda: client.state is DtlsState.FAILED, timeout=70)
    assert events(server) == [DtlsFailed("fingerprint mismatch")]
    assert events(client) == [DtlsFailed("handshake timeout")]
    assert link.now == 60.0


@pytest.mark.parametrize("algorithm", ["sha-384", "sha-512", "SHA-512", "sha-1", "sha-224"])
def test_other_fingerprint_algorithms_accepted(algorithm: str) -> None:
    client, server = make_pair(
        client_expects=[(algorithm, ECDSA_B.fingerprint(algorithm).lower())],
        server_expects=[(algorithm, ECDSA_A.fingerprint(algorithm))],
    )
    connect(client, server)


def test_any_matching_fingerprint_suffices() -> None:
    client, server = make_pair(
        client_expects=[
            ("sha-256", tamper(ECDSA_B.fingerprint())),
            ("md5", "00:11"),
            ("sha-384", ECDSA_B.fingerprint("sha-384")),
        ]
    )
    connect(client, server)


# --- retransmission ------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(20))
def test_handshake_over_terrible_network(seed: int) -> None:
    client, server = make_pair()
    conditions = LinkConditions(
        loss=0.2, duplicate=0.1, reorder=0.2, delay=0.02, jitter=0.05, reorder_delay=0.1, mtu=1200
    )
    link = VirtualLink(client, server, conditions, seed=seed)
    client.start(0.0)
    server.start(0.0)
    finished = link.run(both_connected(client, server), timeout=60)
    assert finished < 20.0
    assert client.get_timer() is None and server.get_timer() is None
    # Data flows afterwards (unreliably: DTLS does not retransmit application data).
    for i in range(20):
        client.send(b"after the storm %d" % i)
    while link.step():  # no timers remain: runs until the wire is empty
        pass
    server_events = events(server)
    assert server_events[0] == HandshakeCompleted("SRTP_AEAD_AES_128_GCM")
    received = server_events[1:]
    assert 10 <= len(received) <= 20
    assert all(isinstance(e, ApplicationData) for e in received)


def test_total_loss_retransmits_with_backoff_then_fails_at_60s() -> None:
    client, server = make_pair()
    client.start(0.0)
    server.start(0.0)
    (first,) = client.datagrams_to_send(0.0)
    assert server.get_timer() == 60.0  # a server only waits for the ClientHello
    expected = [1.0, 3.0, 7.0, 15.0, 31.0, 60.0]
    timers = []
    resends = []
    while client.state is DtlsState.CONNECTING:
        timer = client.get_timer()
        assert timer is not None
        timers.append(timer)
        client.handle_timer(timer)
        resends.extend(client.datagrams_to_send(timer))
    assert timers == expected
    assert len(resends) == 5
    for resend in resends:
        # same ClientHello, new record sequence number each time
        assert resend[:5] == first[:5] and resend[11:] == first[11:]
    assert len({r[5:11] for r in [first, *resends]}) == 6
    assert events(client) == [DtlsFailed("handshake timeout")]
    assert client.state is DtlsState.FAILED and client.get_timer() is None
    server.handle_timer(60.0)
    assert events(server) == [DtlsFailed("handshake timeout")]


def test_total_loss_on_virtual_link_fails_at_expected_time() -> None:
    client, server = make_pair(initial_retransmit=0.5, handshake_timeout=20.0)
    link = VirtualLink(client, server, LinkConditions(loss=1.0))
    client.start(0.0)
    server.start(0.0)
    assert client.get_timer() == 0.5
    failed_at = link.run(lambda: client.state is DtlsState.FAILED, timeout=30)
    assert failed_at == 20.0
    assert server.state is DtlsState.FAILED
    assert events(client) == [DtlsFailed("handshake timeout")]


def test_lost_server_flight_is_answered_when_client_retransmits() -> None:
    client, server = make_pair()
    client.start(0.0)
    server.start(0.0)
    hello = client.datagrams_to_send(0.0)
    for datagram in hello:
        server.receive_datagram(datagram, 0.01)
        server.receive_datagram(datagram, 0.01)  # a network duplicate: no extra answer
    assert len(server.datagrams_to_send(0.01)) == 1  # flight 4, sent once; now lost
    assert server.get_timer() == pytest.approx(1.01)
    client.handle_timer(1.0)  # client retransmits its ClientHello
    assert deliver(client, server, 1.01) == 1
    # The server recognises a retransmission and answers before its own timer fires.
    assert deliver(server, client, 1.02) == 1
    assert deliver(client, server, 1.03) == 1
    assert deliver(server, client, 1.04) == 1
    assert client.state is CONNECTED and server.state is CONNECTED


def test_lost_final_flight_is_resent_on_peer_retransmission() -> None:
    client, server = make_pair()
    client.start(0.0)
    server.start(0.0)
    deliver(client, server, 0.01)
    deliver(server, client, 0.02)
    flight5 = client.datagrams_to_send(0.02)
    for datagram in flight5:
        server.receive_datagram(datagram, 0.03)
    assert server.state is CONNECTED and server.get_timer() is None
    assert len(server.datagrams_to_send(0.03)) == 1  # final flight; lost
    assert client.get_timer() == pytest.approx(1.02)
    client.handle_timer(1.02)
    retransmitted = client.datagrams_to_send(1.02)
    assert len(retransmitted) == len(flight5)
    for datagram in retransmitted:
        server.receive_datagram(datagram, 1.03)
    final = server.datagrams_to_send(1.03)
    assert final, "server must resend its final flight"
    for datagram in final:
        client.receive_datagram(datagram, 1.04)
    assert client.state is CONNECTED
    assert client.get_timer() is None and server.get_timer() is None


def test_openssl_own_retransmissions_are_discarded() -> None:
    # OpenSSL's DTLS timer runs on the real clock: after a real second it resends by
    # itself on the next call. Those resends must not reach the wire or replace flights.
    client, server = make_pair()
    client.start(0.0)
    server.start(0.0)
    deliver(client, server, 0.01)
    deliver(server, client, 0.02)
    flight5 = client.datagrams_to_send(0.02)
    time.sleep(1.3)  # let both OpenSSL timers expire (real time)
    for datagram in flight5:
        server.receive_datagram(datagram, 0.03)
    final = server.datagrams_to_send(0.03)
    assert server.state is CONNECTED
    assert len(final) == 1 and len(final[0]) < 200  # CCS + Finished, no flight-4 resend
    for datagram in final:
        client.receive_datagram(datagram, 0.04)
    assert client.state is CONNECTED
    assert client.datagrams_to_send(0.04) == []


# --- close, exporter, SRTP -----------------------------------------------------------


def test_close_notify() -> None:
    client, server = connected_pair()
    client.close()
    assert client.state is DtlsState.CLOSED
    assert deliver(client, server) == 1
    assert events(server) == [DtlsClosed()]
    assert server.state is DtlsState.CLOSED
    client.close()  # idempotent
    assert client.datagrams_to_send(0.0) == []
    for transport in (client, server):
        assert transport.get_timer() is None
        with pytest.raises(InvalidStateError):
            transport.send(b"late")
    deliver(server, client)  # the server's answering close_notify is harmless
    assert events(client) == []


def test_close_before_handshake() -> None:
    client, _ = make_pair()
    client.start(0.0)
    client.datagrams_to_send(0.0)
    client.close()
    assert client.state is DtlsState.CLOSED
    assert client.get_timer() is None
    assert client.datagrams_to_send(0.0) == []


def test_export_keying_material_and_srtp_profile() -> None:
    client, server = make_pair()
    with pytest.raises(InvalidStateError):
        client.export_keying_material(b"EXTRACTOR-dtls_srtp", 60)
    connect(client, server)
    key_client = client.export_keying_material(b"EXTRACTOR-dtls_srtp", 60)
    key_server = server.export_keying_material(b"EXTRACTOR-dtls_srtp", 60)
    assert key_client == key_server and len(key_client) == 60
    assert client.export_keying_material(b"EXPERIMENTAL-other", 60) != key_client
    assert client.selected_srtp_profile == server.selected_srtp_profile
    assert client.selected_srtp_profile == "SRTP_AEAD_AES_128_GCM"
    with pytest.raises(LocalProtocolError):
        client.export_keying_material(b"EXTRACTOR-dtls_srtp", 0)


@pytest.mark.parametrize(("client_srtp", "server_srtp"), [(False, False), (True, False)])
def test_no_srtp_profile_without_both_sides(client_srtp: bool, server_srtp: bool) -> None:
    client = DtlsTransport(
        ECDSA_A, is_client=True, remote_fingerprints=ECDSA_B.fingerprints(), srtp=client_srtp
    )
    server = DtlsTransport(
        ECDSA_B, is_client=False, remote_fingerprints=ECDSA_A.fingerprints(), srtp=server_srtp
    )
    connect(client, server)
    assert client.selected_srtp_profile is None and server.selected_srtp_profile is None
    assert events(client) == [HandshakeCompleted(None)]


# --- bad input -----------------------------------------------------------------------

GARBAGE = [
    b"",
    b"\x00",
    b"\xff" * 50,
    b"\x16\xfe\xfd",  # truncated header
    b"\x16\xfe\xfd" + bytes(8) + b"\x00\x40" + b"short",  # truncated record
    b"\x17\xfe\xfd\x00\x01" + bytes(6) + b"\x00\x20" + bytes(32),  # bogus epoch-1 record
    b"\x17\xfe\xfd\x00\x01" + bytes(6) + b"\x40\x00",  # app record header, no body
    b"\x14\xfe\xfd\x00\x00" + bytes(6) + b"\x00\x01\x01",  # stray ChangeCipherSpec
    b"\x80" + bytes(40),  # RTP-looking
    bytes(range(256)),
]
# A well-formed plaintext fatal alert is not garbage during the handshake (DTLS 1.2
# cannot authenticate epoch-0 alerts; it is how a peer reports a fingerprint mismatch),
# but after the handshake it is from an old epoch and must be ignored.
EPOCH0_FATAL_ALERT = b"\x15\xfe\xfd\x00\x00" + bytes(6) + b"\x00\x02\x02\x28"


def test_garbage_before_and_during_handshake_is_ignored() -> None:
    client, server = make_pair()
    for datagram in GARBAGE:
        server.receive_datagram(datagram, 0.0)
        client.receive_datagram(datagram, 0.0)
    assert server.state is DtlsState.NEW and client.state is DtlsState.NEW
    client.start(0.0)
    server.start(0.0)
    for datagram in GARBAGE:
        server.receive_datagram(datagram, 0.0)
        client.receive_datagram(datagram, 0.0)
    link = VirtualLink(client, server)
    link.run(both_connected(client, server), timeout=5)
    assert isinstance(events(client)[0], HandshakeCompleted)
    assert isinstance(events(server)[0], HandshakeCompleted)


def test_garbage_and_old_epoch_records_after_handshake_are_ignored() -> None:
    client, server = make_pair()
    client.start(0.0)
    server.start(0.0)
    handshake_datagrams: list[bytes] = []
    for _ in range(3):
        for source, target in ((client, server), (server, client)):
            for datagram in source.datagrams_to_send(0.0):
                handshake_datagrams.append(datagram)
                target.receive_datagram(datagram, 0.0)
    assert client.state is CONNECTED and server.state is CONNECTED
    events(client)
    events(server)
    client.send(b"first")
    (app_record,) = client.datagrams_to_send(0.0)
    junk = [
        *GARBAGE,
        EPOCH0_FATAL_ALERT,
        *handshake_datagrams,
        app_record[:-1],
        app_record[:20],
        app_record + b"x",
    ]
    for datagram in junk:
        server.receive_datagram(datagram, 0.0)
        client.receive_datagram(datagram, 0.0)
    client.datagrams_to_send(0.0)
    server.datagrams_to_send(0.0)
    assert client.state is CONNECTED and server.state is CONNECTED
    assert [e for e in events(server) if not isinstance(e, ApplicationData)] == []
    assert events(client) == []
    client.send(b"still works")
    deliver(client, server)
    assert events(server) == [ApplicationData(b"still works")]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.sampled_from([20, 21, 22, 23, 0, 128]))
def test_fuzz_receive_after_handshake(data: bytes, first: int) -> None:
    client, server = FUZZ_PAIR
    server.receive_datagram(bytes([first]) + data, 0.0)
    client.receive_datagram(data, 0.0)
    assert server.state is CONNECTED and client.state is CONNECTED
    server.datagrams_to_send(0.0)
    client.datagrams_to_send(0.0)
    assert events(server) == []


FUZZ_PAIR = connected_pair()


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz_receive_during_handshake(data: bytes) -> None:
    client, server = make_pair()
    client.start(0.0)
    server.receive_datagram(data, 0.0)
    client.receive_datagram(data, 0.0)
    assert client.state is DtlsState.CONNECTING
    # garbage never counts as a ClientHello
    assert server.datagrams_to_send(0.0) == []


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=100))
def test_fuzz_parse_record_headers_raises_only_parse_error(data: bytes) -> None:
    try:
        headers = parse_record_headers(data)
    except DtlsParseError:
        return
    assert headers
    assert headers[-1].offset + headers[-1].length == len(data)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([20, 21, 22, 23]),
            st.integers(0, 3),
            st.integers(0, 2**48 - 1),
            st.binary(max_size=40),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_parse_record_headers_round_trip(records: list[tuple[int, int, int, bytes]]) -> None:
    datagram = b"".join(
        bytes([ctype])
        + b"\xfe\xfd"
        + epoch.to_bytes(2, "big")
        + seq.to_bytes(6, "big")
        + len(body).to_bytes(2, "big")
        + body
        for ctype, epoch, seq, body in records
    )
    headers = parse_record_headers(datagram)
    assert [(h.content_type, h.epoch, h.sequence_number) for h in headers] == [
        (c, e, s) for c, e, s, _ in records
    ]
    assert [datagram[h.offset : h.offset + h.length] for h in headers] == [b for *_, b in records]
    assert all(h.version == 0xFEFD for h in headers)


def test_log_lines_carry_the_prefix(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="trio_webrtc.dtls")
    client, server = make_pair()
    connect(client, server)
    client.receive_datagram(b"\xff" * 20, 1.0)
    records = [r for r in caplog.records if r.name == "trio_webrtc.dtls"]
    assert records
    assert all(r.getMessage().startswith(("[client] ", "[server] ")) for r in records)
