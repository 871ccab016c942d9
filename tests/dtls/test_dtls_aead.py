"""Tests for trio_webrtc.dtls.aead: our own data-phase record layer (keys, PRF, nonces,
the switch-over from OpenSSL, anti-replay, epochs, authentication failures, fallback)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from trio_webrtc.core import PeerConnectionCore
from trio_webrtc.dtls import aead
from trio_webrtc.dtls import transport as dtls
from trio_webrtc.dtls.aead import (
    REPLAY_WINDOW,
    SUITES,
    RecordLayer,
    RecordOpener,
    RecordSealer,
    SequenceExhausted,
    derive_keys,
    first_safe_sequence,
    tls12_prf,
)
from trio_webrtc.dtls.certificate import Certificate
from trio_webrtc.dtls.records import parse_record_headers
from trio_webrtc.dtls.transport import (
    ApplicationData,
    DtlsClosed,
    DtlsEvent,
    DtlsFailed,
    DtlsState,
    DtlsTransport,
    HandshakeCompleted,
)
from trio_webrtc.errors import InvalidStateError
from trio_webrtc.stats import collect_stats

ECDSA_A = Certificate.generate()
ECDSA_B = Certificate.generate()
RSA_A = Certificate.generate(key_type="rsa-2048")
CONNECTED = DtlsState.CONNECTED
SUITE_CASES = [
    ("ECDHE-ECDSA-AES128-GCM-SHA256", "ecdsa"),
    ("ECDHE-ECDSA-AES256-GCM-SHA384", "ecdsa"),
    ("ECDHE-ECDSA-CHACHA20-POLY1305", "ecdsa"),
    ("ECDHE-RSA-AES128-GCM-SHA256", "rsa"),
    ("ECDHE-RSA-AES256-GCM-SHA384", "rsa"),
    ("ECDHE-RSA-CHACHA20-POLY1305", "rsa"),
]
Wire = dict[bool, list[bytes]]  # is_client -> every datagram that side put on the wire


def make_pair(
    *, kind: str = "ecdsa", client_own: bool = True, server_own: bool = True
) -> tuple[DtlsTransport, DtlsTransport]:
    client_cert, server_cert = (RSA_A, RSA_A) if kind == "rsa" else (ECDSA_A, ECDSA_B)
    client = DtlsTransport(
        client_cert,
        is_client=True,
        remote_fingerprints=server_cert.fingerprints(),
        own_record_layer=client_own,
    )
    server = DtlsTransport(
        server_cert,
        is_client=False,
        remote_fingerprints=client_cert.fingerprints(),
        own_record_layer=server_own,
    )
    return client, server


def pump(a: DtlsTransport, b: DtlsTransport, wire: Wire | None = None) -> None:
    """Deliver everything both ways until both are quiet."""
    for _ in range(50):
        moved = False
        for source, target in ((a, b), (b, a)):
            for datagram in source.datagrams_to_send(0.0):
                if wire is not None:
                    wire.setdefault(source.is_client, []).append(datagram)
                target.receive_datagram(datagram, 0.0)
                moved = True
        if not moved:
            return
    raise AssertionError("no quiescence")


def events(transport: DtlsTransport) -> list[DtlsEvent]:
    out = []
    while (event := transport.next_event()) is not None:
        out.append(event)
    return out


def handshake(
    client: DtlsTransport, server: DtlsTransport, wire: Wire | None = None
) -> tuple[DtlsTransport, DtlsTransport]:
    client.start(0.0)
    server.start(0.0)
    pump(client, server, wire)
    assert client.state is CONNECTED and server.state is CONNECTED
    assert isinstance(events(client)[0], HandshakeCompleted)
    assert isinstance(events(server)[0], HandshakeCompleted)
    return client, server


def connected(**kwargs: object) -> tuple[DtlsTransport, DtlsTransport]:
    return handshake(*make_pair(**kwargs))  # type: ignore[arg-type]


@pytest.fixture
def only_suite(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    def select(name: str) -> None:
        monkeypatch.setattr(dtls, "CIPHER_LIST", name.encode())

    yield select


def send_one(source: DtlsTransport, data: bytes) -> bytes:
    source.send(data)
    (record,) = source.datagrams_to_send(0.0)
    return record


def epoch1_records(datagrams: list[bytes]) -> list[bytes]:
    out = []
    for datagram in filter(None, datagrams):
        for h in parse_record_headers(datagram):
            if h.epoch == 1:
                out.append(datagram[h.offset - 13 : h.offset + h.length])
    return out


def renumber_epoch0(datagram: bytes, add: int) -> bytes:
    out = bytearray(datagram)
    for h in parse_record_headers(datagram):
        if h.epoch == 0:
            out[h.offset - 8 : h.offset - 2] = (h.sequence_number + add).to_bytes(6, "big")
    return bytes(out)


# --- keys and the PRF ----------------------------------------------------------------


def test_prf_matches_the_published_tls12_sha256_vector() -> None:
    # The IETF TLS list's P_SHA256 vector (mail-archive tls msg03416).
    output = tls12_prf(
        "sha256",
        bytes.fromhex("9bbe436ba940f017b17652849a71db35"),
        b"test label",
        bytes.fromhex("a0ba9f936cda311827a6f796ffd5198c"),
        100,
    )
    assert output.hex() == (
        "e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9c9a4"
        "6b4e14baf9af0fa022f7077def17abfd3797c0564bab4fbc91666e9def9b97fce34f796789baa48082d1"
        "22ee42c5a72e5a5110fff70187347b66"
    )


@pytest.mark.parametrize(("suite", "kind"), SUITE_CASES)
def test_prf_and_master_secret_match_openssl_exporter(
    suite: str, kind: str, only_suite: object
) -> None:
    # RFC 5705: the exporter is PRF(master_secret, label, client_random + server_random);
    # equal outputs prove our P_SHA256/P_SHA384 and that master_key() is the master secret
    # OpenSSL really uses (the extended master secret of RFC 7627, negotiated below).
    only_suite(suite)  # type: ignore[operator]
    wire: Wire = {}
    client, server = handshake(*make_pair(kind=kind), wire)
    server_hello = wire[False][0]
    assert b"\x00\x17\x00\x00" in server_hello  # extended_master_secret extension echoed
    ssl = client._ssl
    assert ssl.get_cipher_name() == suite
    prf_hash = SUITES[suite].prf_hash
    assert prf_hash == ("sha384" if suite.endswith("SHA384") else "sha256")
    master, randoms = ssl.master_key(), ssl.client_random() + ssl.server_random()
    assert master == server._ssl.master_key()
    ours = tls12_prf(prf_hash, master, b"EXTRACTOR-dtls_srtp", randoms, 60)
    assert ours == client.export_keying_material(b"EXTRACTOR-dtls_srtp", 60)
    assert client.record_layer is not None and server.record_layer is not None


def test_key_block_is_cut_as_rfc_5246_section_6_3() -> None:
    for name, key, iv in (
        ("ECDHE-ECDSA-AES128-GCM-SHA256", 16, 4),
        ("ECDHE-RSA-AES256-GCM-SHA384", 32, 4),
        ("ECDHE-ECDSA-CHACHA20-POLY1305", 32, 12),
    ):
        suite = SUITES[name]
        master, cr, sr = bytes(range(48)), b"c" * 32, b"s" * 32
        block = tls12_prf(suite.prf_hash, master, b"key expansion", sr + cr, 2 * (key + iv))
        c_key, c_iv, s_key, s_iv = derive_keys(suite, master, cr, sr)
        assert (c_key, s_key) == (block[:key], block[key : 2 * key])
        assert (c_iv, s_iv) == (block[2 * key : 2 * key + iv], block[2 * key + iv :])


# --- suites, both ways, against OpenSSL's own record layer ----------------------------


@pytest.mark.parametrize(("suite", "kind"), SUITE_CASES)
@pytest.mark.parametrize("own_side", ["client", "server", "both"])
def test_own_records_interoperate_with_openssl_records(
    suite: str, kind: str, own_side: str, only_suite: object
) -> None:
    only_suite(suite)  # type: ignore[operator]
    client, server = connected(
        kind=kind, client_own=own_side != "server", server_own=own_side != "client"
    )
    for transport, own in ((client, own_side != "server"), (server, own_side != "client")):
        assert (transport.record_layer is not None) is own
    for round_ in range(3):
        for source, target in ((client, server), (server, client)):
            message = f"{round_} from {'client' if source.is_client else 'server'}".encode()
            record = send_one(source, message * 20)
            assert target.receive_record(record, 0.0) == message * 20
    assert (server._tx is not None) is (own_side != "client")  # switched after client data
    client.close()
    pump(client, server)
    assert events(server) == [DtlsClosed()]
    assert server.state is DtlsState.CLOSED and client.state is DtlsState.CLOSED


def test_record_format_gcm_and_chacha(only_suite: object) -> None:
    client, server = connected()
    record = send_one(client, b"hello")
    assert record[:3] == b"\x17\xfe\xfd"
    assert record[3:11] == (1 << 48 | 1).to_bytes(8, "big")  # epoch 1, after Finished (0)
    assert record[13:21] == record[3:11]  # RFC 5288 explicit nonce = epoch ‖ seq
    assert len(record) == 13 + 8 + 5 + 16
    only_suite("ECDHE-ECDSA-CHACHA20-POLY1305")  # type: ignore[operator]
    client, server = connected()
    record = send_one(client, b"hello")
    assert len(record) == 13 + 5 + 16  # RFC 7905: no explicit nonce
    assert server.receive_record(record, 0.0) == b"hello"


# --- nonces: never reused, never shared with OpenSSL ---------------------------------


class OpenSslSpy:
    """Every record OpenSSL wrote, per writer (is_client), seen or not on the wire."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.records: Wire = {}
        original = RecordLayer.observe_openssl_output

        def spy(layer: RecordLayer, data: bytes) -> bytes:
            self.records.setdefault(layer.is_client, []).append(data)
            return original(layer, data)

        monkeypatch.setattr(RecordLayer, "observe_openssl_output", spy)


def nonce_of(record: bytes, chacha: bool) -> bytes:
    """The per-record part of the nonce (the salt/IV is fixed per writer)."""
    return record[3:11] if chacha else record[13:21]


def assert_nonces_unique(records: list[bytes], chacha: bool) -> None:
    seen: dict[bytes, bytes] = {}
    for record in records:
        nonce = nonce_of(record, chacha)
        assert seen.setdefault(nonce, record) == record, "nonce reused for another record"


@pytest.mark.parametrize(
    "suite", ["ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305"]
)
def test_no_nonce_is_used_for_two_records_by_either_side(
    suite: str, only_suite: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    only_suite(suite)  # type: ignore[operator]
    chacha = "CHACHA" in suite
    spy = OpenSslSpy(monkeypatch)
    wire: Wire = {}
    client, server = make_pair()
    handshake(client, server, wire)
    for index in range(3):  # the server seals through OpenSSL until the client speaks
        server.send(b"early %d" % index)
    pump(client, server, wire)
    assert server._tx is None
    for index in range(3):
        client.send(b"client %d" % index)
        pump(client, server, wire)
        server.send(b"server %d" % index)
        pump(client, server, wire)
    assert server._tx is not None
    client.send(b"last")
    server.close()
    pump(client, server, wire)
    for is_client in (True, False):
        from_openssl = epoch1_records(spy.records[is_client])
        on_wire = epoch1_records(wire[is_client])
        assert from_openssl  # its Finished at least (and the server's early data)
        assert_nonces_unique(from_openssl + on_wire, chacha)
        ours = [r for r in on_wire if r not in from_openssl]
        assert len(ours) == (5 if is_client else 4)  # 3 + "last" + close_notify; 3 + alert
        sequences = [int.from_bytes(r[5:11], "big") for r in ours]
        highest_openssl = max(int.from_bytes(r[5:11], "big") for r in from_openssl)
        assert sequences == list(range(highest_openssl + 1, highest_openssl + 1 + len(ours)))


def test_openssl_retransmissions_count_before_the_client_switches(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # OpenSSL re-encrypts the client's Finished by itself once a real second passed (its
    # own timer); the transport keeps that off the wire, but the nonce is spent.
    import time

    spy = OpenSslSpy(monkeypatch)
    client, server = make_pair()
    client.start(0.0)
    server.start(0.0)
    for datagram in client.datagrams_to_send(0.0):
        server.receive_datagram(datagram, 0.01)
    for datagram in server.datagrams_to_send(0.01):
        client.receive_datagram(datagram, 0.02)
    flight5 = client.datagrams_to_send(0.02)
    for datagram in flight5:
        server.receive_datagram(datagram, 0.03)
    final = server.datagrams_to_send(0.03)
    time.sleep(1.3)  # the client's OpenSSL timer expires (real time)
    for datagram in final:
        client.receive_datagram(datagram, 0.04)
    assert client.state is CONNECTED
    written = epoch1_records(spy.records[True])
    assert [int.from_bytes(r[5:11], "big") for r in written] == [0, 1]  # Finished twice
    assert epoch1_records(flight5) == written[:1]
    assert client._tx is not None and client._tx.next_sequence == 2
    assert_nonces_unique([*written, send_one(client, b"x")], chacha=False)


def test_an_openssl_nonce_inside_our_range_moves_our_start_above_it() -> None:
    assert first_safe_sequence(3, [0x5E0DE6A0B3237BCB], chacha=False) == 4
    assert first_safe_sequence(3, [1 << 48 | 500, 1 << 48 | 499], chacha=False) == 501
    assert first_safe_sequence(3, [2 << 48 | 900, 0 << 48 | 900], chacha=False) == 4
    assert first_safe_sequence(3, [1 << 48 | 500], chacha=True) == 4  # nonce follows seq
    assert first_safe_sequence(3, [1 << 48 | (1 << 48) - 5], chacha=False) is None
    # In a transport: an OpenSSL record whose explicit nonce lands at epoch 1, seq 500.
    client, server = connected()
    server.send(b"via openssl")
    (record,) = server.datagrams_to_send(0.0)
    forged = record[:13] + (1 << 48 | 500).to_bytes(8, "big") + record[21:]
    assert server._records is not None
    server._records.observe_openssl_output(forged)
    client.receive_record(record, 0.0)
    server.receive_record(send_one(client, b"hi"), 0.0)
    assert server._tx is not None and server._tx.next_sequence == 501


def test_openssl_epoch1_output_never_reaches_the_wire_after_the_switch() -> None:
    client, _server = connected()
    assert client._tx is not None and client._records is not None
    client._ssl.write(b"sealed by openssl")  # nothing in the transport does this any more
    assert client._drain_bio() == b""
    assert client._records.blocked_openssl_records == 1


def test_sequence_numbers_are_never_wrapped() -> None:
    suite = SUITES["ECDHE-ECDSA-AES128-GCM-SHA256"]
    sealer = RecordSealer(suite, bytes(16), bytes(4), (1 << 48) - 2)
    opener = RecordOpener(suite, bytes(16), bytes(4))
    assert opener.open(sealer.seal(b"last")) == b"last"
    with pytest.raises(SequenceExhausted):
        sealer.seal(b"one too many")
    client, _server = connected()
    assert client._tx is not None
    client._tx._next = (1 << 48) | ((1 << 48) - 1)
    with pytest.raises(InvalidStateError):
        client.send(b"x")
    assert events(client) == [DtlsFailed("DTLS record sequence numbers exhausted")]


# --- the switch-over rule ------------------------------------------------------------


def test_client_seals_at_completion_server_after_the_clients_first_record() -> None:
    client, server = connected()
    assert client._tx is not None and client.record_layer is not None
    assert server._tx is None and server.record_layer is not None  # opens, OpenSSL seals
    early = send_one(server, b"early")
    assert client.receive_record(early, 0.0) == b"early"
    forged = bytearray(send_one(client, b"forged"))
    forged[-1] ^= 1
    assert server.receive_record(bytes(forged), 0.0) is None
    assert server._tx is None  # an unauthenticated record proves nothing
    server.receive_datagram(send_one(client, b"now"), 0.0)
    assert events(server) == [ApplicationData(b"now")]
    assert server._tx is not None and server._tx.next_sequence == 2  # Finished 0, early 1


def test_client_finished_retransmission_is_answered_by_openssl_before_the_switch() -> None:
    client, server = make_pair()
    client.start(0.0)
    server.start(0.0)
    for datagram in client.datagrams_to_send(0.0):
        server.receive_datagram(datagram, 0.01)
    for datagram in server.datagrams_to_send(0.01):
        client.receive_datagram(datagram, 0.02)
    flight5 = client.datagrams_to_send(0.02)
    for datagram in flight5:
        server.receive_datagram(datagram, 0.03)
    assert server.state is CONNECTED and server._tx is None
    lost = server.datagrams_to_send(0.03)  # the server's CCS + Finished: lost
    client.handle_timer(1.02)
    for datagram in client.datagrams_to_send(1.02):
        server.receive_datagram(datagram, 1.03)
    resent = server.datagrams_to_send(1.03)
    assert epoch1_records(resent) == epoch1_records(lost)  # the same bytes, no new nonce
    for datagram in resent:
        client.receive_datagram(datagram, 1.04)
    assert client.state is CONNECTED and client._tx is not None
    # After the switch a late retransmission of flight 5 (its epoch-0 records under new
    # numbers) is still answered with the same bytes, and OpenSSL never sees it.
    server.receive_record(send_one(client, b"go"), 1.05)
    assert server._tx is not None
    for datagram in flight5:
        server.receive_datagram(renumber_epoch0(datagram, 100), 2.0)
    assert epoch1_records(server.datagrams_to_send(2.0)) == epoch1_records(lost)
    assert server._records is not None and server._records.blocked_openssl_records == 0


def test_application_data_before_completion_is_held_and_delivered_after() -> None:
    client, server = make_pair()
    client.start(0.0)
    server.start(0.0)
    for datagram in client.datagrams_to_send(0.0):
        server.receive_datagram(datagram, 0.0)
    for datagram in server.datagrams_to_send(0.0):
        client.receive_datagram(datagram, 0.0)
    for datagram in client.datagrams_to_send(0.0):
        server.receive_datagram(datagram, 0.0)
    assert server.state is CONNECTED
    server.send(b"overtakes the Finished")
    out = server.datagrams_to_send(0.0)
    for datagram in reversed(out):
        client.receive_datagram(datagram, 0.0)
    assert client.state is CONNECTED
    assert events(client)[1:] == [ApplicationData(b"overtakes the Finished")]


# --- anti-replay, epochs, authentication ---------------------------------------------


def test_replayed_and_reordered_records() -> None:
    client, server = connected()
    records = [send_one(client, b"%d" % i) for i in range(5)]
    assert server.receive_record(records[4], 0.0) == b"4"
    assert [server.receive_record(r, 0.0) for r in records[:4]] == [b"0", b"1", b"2", b"3"]
    assert [server.receive_record(r, 0.0) for r in records] == [None] * 5
    server.receive_datagram(records[2] + records[3], 0.0)  # the event path too
    assert events(server) == []
    layer = server.record_layer
    assert layer is not None and layer.opener is not None
    assert layer.opener.replayed == 7 and layer.opener.auth_failures == 0


def test_records_older_than_the_window_are_dropped() -> None:
    client, server = connected()
    records = [send_one(client, b"%d" % i) for i in range(REPLAY_WINDOW + 10)]
    top = len(records) - 1
    assert server.receive_record(records[top], 0.0) is not None
    assert server.receive_record(records[top - REPLAY_WINDOW], 0.0) is None  # just outside
    assert server.receive_record(records[top - REPLAY_WINDOW + 1], 0.0) is not None  # inside
    opener = server.record_layer.opener  # type: ignore[union-attr]
    assert opener is not None and opener.replayed == 1


def test_a_jump_in_sequence_numbers_clears_the_window() -> None:
    suite = SUITES["ECDHE-ECDSA-AES256-GCM-SHA384"]
    key, iv = bytes(range(32)), b"salt"
    opener = RecordOpener(suite, key, iv)
    low = RecordSealer(suite, key, iv, 7)
    first = low.seal(b"a")
    assert opener.open(first) == b"a"
    far = RecordSealer(suite, key, iv, 1 << 47)  # a huge shift must not build a huge int
    assert opener.open(far.seal(b"b")) == b"b"
    assert opener._bitmap == 1
    assert opener.open(first) is None and opener.replayed == 1
    assert opener.open(low.seal(b"c")) is None  # seq 8: far below the window


def test_records_of_other_epochs_are_dropped() -> None:
    client, server = connected()
    assert server.receive_record(send_one(client, b"switch"), 0.0) == b"switch"
    record = send_one(client, b"epoch 1")
    for epoch in (0, 2, 0xFFFF):
        moved = record[:3] + epoch.to_bytes(2, "big") + record[5:]
        assert server.receive_record(moved, 0.0) is None
        server.receive_datagram(moved, 0.0)
    assert events(server) == []
    opener = server.record_layer.opener  # type: ignore[union-attr]
    assert opener is not None and opener.wrong_epoch == 6 and opener.auth_failures == 0
    assert server.receive_record(record, 0.0) == b"epoch 1"  # the real one still counts


def test_every_tampered_byte_is_dropped_silently_and_counted() -> None:
    client, server = connected()
    record = send_one(client, b"integrity")
    opener = server.record_layer.opener  # type: ignore[union-attr]
    assert opener is not None
    for index in range(len(record)):
        tampered = bytearray(record)
        tampered[index] ^= 0x01
        assert server.receive_record(bytes(tampered), 0.0) is None
    assert events(server) == [] and server.state is CONNECTED
    # The type byte makes it a handshake record (OpenSSL's: it fails there) and the length
    # bytes break the framing: both dropped before opening. Every other byte is checked.
    assert opener.wrong_epoch == 4  # both version and both epoch bytes
    assert opener.auth_failures == len(record) - 7  # the rest but the type and length bytes
    assert server.receive_record(record, 0.0) == b"integrity"


def test_authentication_failures_reach_the_stats() -> None:
    client, server = connected()
    core = PeerConnectionCore(log_prefix="aead")
    core.dtls = server
    assert collect_stats(core).dtls_auth_failures == 0
    tampered = bytearray(send_one(client, b"x"))
    tampered[-1] ^= 0x80
    assert server.receive_record(bytes(tampered), 0.0) is None
    assert server.record_layer is not None and server.record_layer.auth_failures == 1
    assert collect_stats(core).dtls_auth_failures == 1


def test_alerts_are_sealed_and_opened_by_us() -> None:
    client, server = connected()
    server.receive_record(send_one(client, b"switch"), 0.0)
    layer = client.record_layer
    assert layer is not None
    warning = layer.seal_alert(1, 90)  # user_canceled: a warning, ignored
    server.receive_datagram(warning, 0.0)
    assert events(server) == [] and server.state is CONNECTED
    server.receive_datagram(layer.seal_alert(2, 40), 0.0)  # handshake_failure, fatal
    assert events(server) == [DtlsFailed("record layer error: alert 40")]
    client.close()
    (close_notify,) = client.datagrams_to_send(0.0)
    assert close_notify[:3] == b"\x15\xfe\xfd" and close_notify[3:5] == b"\x00\x01"


# --- the switch and the fallback -----------------------------------------------------


def test_cbc_suite_falls_back_to_openssl(only_suite: object) -> None:
    only_suite("ECDHE-ECDSA-AES128-SHA")  # type: ignore[operator]
    client, server = connected()
    assert client.record_layer is None and server.record_layer is None
    assert server.receive_record(send_one(client, b"cbc"), 0.0) == b"cbc"
    assert client.receive_record(send_one(server, b"back"), 0.0) == b"back"


def test_keys_that_do_not_open_the_finished_fall_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aead, "derive_keys", lambda *args: (bytes(16), bytes(4)) * 2)
    client, server = connected()
    assert client.record_layer is None and server.record_layer is None
    assert server.receive_record(send_one(client, b"still"), 0.0) == b"still"


def test_switch_off_by_argument_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    client, server = connected(client_own=False, server_own=False)
    assert client.record_layer is None and server.record_layer is None
    monkeypatch.setenv("TRIO_WEBRTC_DTLS_RECORDS", "openssl")
    transport = DtlsTransport(ECDSA_A, is_client=True, remote_fingerprints=ECDSA_B.fingerprints())
    assert transport._records is None
    monkeypatch.delenv("TRIO_WEBRTC_DTLS_RECORDS")
    transport = DtlsTransport(ECDSA_A, is_client=True, remote_fingerprints=ECDSA_B.fingerprints())
    assert transport._records is not None
