"""Sans-I/O DTLS 1.2 transport over pyOpenSSL memory BIOs.

Implements:

* RFC 6347 (DTLS 1.2): §4.1 record layer framing (parsed to steer retransmission; OpenSSL
  protects the handshake, :mod:`.aead` the data phase), §4.2.4 timeout and retransmission
  — done here in virtual time, see "Retransmission" below — and §4.2.3 handshake message
  fragmentation to the path MTU (by OpenSSL, ``set_ciphertext_mtu``).
* RFC 8842 §5 — the DTLS role comes from SDP ``a=setup`` (``is_client``), and the peer
  certificate is authenticated only by the ``a=fingerprint`` values of the strongest hash
  function offered (RFC 8122 §5; weaker ones are ignored, a match there counts for
  nothing): self-signed certificates are accepted; a certificate matching none fails the
  transport with a fatal alert (OpenSSL picks ``unknown_ca``).
* RFC 5764 §4.1.2 ``use_srtp`` negotiation and §4.2 keying material, via the RFC 5705
  exporter (:meth:`DtlsTransport.export_keying_material`, label ``EXTRACTOR-dtls_srtp``).
* RFC 8261 §5 — SCTP packets are carried one per DTLS application record: :meth:`send`
  encrypts exactly one record and queues it as one datagram.

Retransmission. OpenSSL's own DTLS timers read the real clock, so they are useless in
virtual time; this module keeps the handshake timers itself, as trio's ``_dtls.py`` does.
Every handshake flight OpenSSL writes is split into records and remembered; epoch-0
records get fresh record sequence numbers each time they are (re)sent, so that a peer's
replay window never discards a retransmission. Encrypted records (the Finished message)
are resent unchanged; a peer that already has them drops them as replays, which is
right. Retransmissions OpenSSL makes on its own (when real time passes a second between
calls) are recognised by their handshake message sequence numbers and discarded. The
timer starts at ``initial_retransmit`` seconds and doubles up to 60 s; each new flight
starts again from ``initial_retransmit`` (as OpenSSL does; RFC 6347 §4.2.4.1 only says
SHOULD retain the backed-off value, which within a 60 s budget would leave a lossy path
two or three tries). The handshake fails with ``DtlsFailed("handshake timeout")``
``handshake_timeout`` seconds after :meth:`start`. When the peer retransmits its
previous flight (records of that flight under new record numbers) we resend ours at
once, at most once per half ``initial_retransmit`` (RFC 6347 §4.2.4, figure 1); after
the handshake the side that sent the last flight answers the same way, since OpenSSL
drops epoch-0 records then. No timer remains once the handshake is over.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import os
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives.serialization import Encoding
from OpenSSL import SSL, crypto

from ..errors import (
    InvalidStateError,
    LocalProtocolError,
    MessageTooLargeError,
)
from .aead import RecordLayer, RecordSealer, SequenceExhausted
from .certificate import Certificate, fingerprint_of_der, fingerprint_strength
from .records import (
    CONTENT_ALERT,
    CONTENT_APPLICATION_DATA,
    CONTENT_CHANGE_CIPHER_SPEC,
    HANDSHAKE_CLIENT_HELLO,
    RECORD_HEADER_SIZE,
    DtlsParseError,
    RecordHeader,
    handshake_message_seq,
    parse_record_headers,
)

__all__ = [
    "ApplicationData",
    "DtlsClosed",
    "DtlsEvent",
    "DtlsFailed",
    "DtlsParseError",
    "DtlsState",
    "DtlsTransport",
    "HandshakeCompleted",
    "RecordHeader",
    "parse_record_headers",
    "usable_fingerprints",
]

logger = logging.getLogger("trio_webrtc.dtls")

DTLS1_2_VERSION = 0xFEFD
CIPHER_LIST = b":".join(
    [
        b"ECDHE-ECDSA-AES128-GCM-SHA256",
        b"ECDHE-RSA-AES128-GCM-SHA256",
        b"ECDHE-ECDSA-AES256-GCM-SHA384",
        b"ECDHE-RSA-AES256-GCM-SHA384",
        b"ECDHE-ECDSA-CHACHA20-POLY1305",
        b"ECDHE-RSA-CHACHA20-POLY1305",
        b"ECDHE-ECDSA-AES128-SHA",
        b"ECDHE-RSA-AES128-SHA",
        b"ECDHE-ECDSA-AES256-SHA",
        b"ECDHE-RSA-AES256-SHA",
    ]
)
SRTP_PROFILES = b"SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80"
MAX_RETRANSMIT_INTERVAL = 60.0

_BIO_READ_SIZE = 2**16  # more than any record; OpenSSL hands back whole records
_RECV_SIZE = 2**14  # largest DTLSPlaintext fragment
_MAX_PENDING_DATA = 4096  # ApplicationData events held for the caller
_MAX_OUTGOING = 4096  # datagrams held until datagrams_to_send()
_MAX_SEEN_RECORDS = 256  # peer epoch-0 record numbers remembered (duplicate filter)
_EXPORTER_MAX = 1024


# --- events --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DtlsEvent:
    """Base class of every event :meth:`DtlsTransport.next_event` returns."""


@dataclass(frozen=True, slots=True)
class HandshakeCompleted(DtlsEvent):
    """The handshake finished and the peer's certificate matched a fingerprint."""

    srtp_profile: str | None


@dataclass(frozen=True, slots=True)
class ApplicationData(DtlsEvent):
    """The cleartext of one application_data record."""

    data: bytes


@dataclass(frozen=True, slots=True)
class DtlsClosed(DtlsEvent):
    """The peer sent close_notify; nothing more will be received."""


@dataclass(frozen=True, slots=True)
class DtlsFailed(DtlsEvent):
    """The transport failed (alert, fingerprint mismatch, timeout); it is unusable."""

    reason: str


class DtlsState(enum.Enum):
    """Lifecycle of a :class:`DtlsTransport`."""

    NEW = "new"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    CLOSED = "closed"
    FAILED = "failed"


_CONNECTED = DtlsState.CONNECTED


# --- fingerprint check ---------------------------------------------------------------


class _FingerprintVerifier:
    """OpenSSL verify callback: accept exactly the leaf certificates SDP named."""

    __slots__ = ("expected", "mismatch")

    def __init__(self, expected: list[tuple[str, str]]) -> None:
        self.expected = expected
        self.mismatch = False

    def matches(self, der: bytes) -> bool:
        return any(fingerprint_of_der(der, algo) == value for algo, value in self.expected)

    def __call__(
        self, connection: SSL.Connection, cert: crypto.X509, errno: int, depth: int, ok: int
    ) -> bool:
        if depth != 0:
            return True  # only the leaf is authenticated (by fingerprint), not a chain
        try:
            der = cert.to_cryptography().public_bytes(Encoding.DER)
            if self.matches(der):
                return True
        except Exception:  # never let an exception escape into OpenSSL
            pass
        self.mismatch = True
        return False


def usable_fingerprints(fingerprints: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """The fingerprints of the strongest hash function offered (RFC 8122 §5: with several
    ``a=fingerprint`` attributes the verifier uses the strongest hash it supports; several
    values of that hash, e.g. for several certificates, may each match)."""
    usable: list[tuple[int, str, str]] = []
    for algorithm, value in fingerprints:
        try:
            strength = fingerprint_strength(algorithm)
        except ValueError:
            continue  # a peer may list several (RFC 8842 §5); skip hashes we lack
        usable.append((strength, algorithm.strip().lower(), value.strip().upper()))
    strongest = max((strength for strength, _, _ in usable), default=0)
    return [(algorithm, value) for strength, algorithm, value in usable if strength == strongest]


def _describe(exc: SSL.Error) -> str:
    """A short text for an OpenSSL error (its reason strings)."""
    parts: list[str] = []
    for item in exc.args[0] if exc.args and isinstance(exc.args[0], list) else ():
        if isinstance(item, tuple) and item:
            parts.append(str(item[-1]))
    return ", ".join(parts) or str(exc) or type(exc).__name__


def _make_context(
    certificate: Certificate, *, srtp: bool, verifier: _FingerprintVerifier
) -> SSL.Context:
    ctx = SSL.Context(SSL.DTLS_METHOD)
    ctx.set_min_proto_version(DTLS1_2_VERSION)
    ctx.set_max_proto_version(DTLS1_2_VERSION)
    ctx.set_options(
        SSL.OP_NO_QUERY_MTU | SSL.OP_NO_RENEGOTIATION | SSL.OP_NO_TICKET | SSL.OP_NO_COMPRESSION
    )
    ctx.set_cipher_list(CIPHER_LIST)
    if srtp:
        ctx.set_tlsext_use_srtp(SRTP_PROFILES)
    cert, key = certificate.to_openssl()
    ctx.use_certificate(cert)
    ctx.use_privatekey(key)
    ctx.set_verify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT, verifier)
    return ctx


# --- the transport -------------------------------------------------------------------


class DtlsTransport:
    """One DTLS 1.2 association, sans-I/O.

    Drive it with :meth:`start`, :meth:`receive_datagram` and :meth:`handle_timer`; drain
    :meth:`datagrams_to_send` and :meth:`next_event` after each call. ``mtu`` bounds every
    datagram this transport emits (UDP payload bytes). A server that receives a ClientHello
    before :meth:`start` starts itself (a later :meth:`start` is then a no-op); anything
    else arriving before :meth:`start` is dropped. ``own_record_layer`` (default: True
    unless the environment sets ``TRIO_WEBRTC_DTLS_RECORDS=openssl``) protects the data
    phase's records with :mod:`.aead` instead of OpenSSL.
    """

    def __init__(
        self,
        certificate: Certificate,
        *,
        is_client: bool,
        remote_fingerprints: Sequence[tuple[str, str]],
        mtu: int = 1200,
        srtp: bool = True,
        log_prefix: str = "",
        initial_retransmit: float = 1.0,
        handshake_timeout: float = 60.0,
        own_record_layer: bool | None = None,
    ) -> None:
        if mtu < 256:
            raise ValueError("mtu must be at least 256 bytes")
        if initial_retransmit <= 0 or handshake_timeout <= 0:
            raise ValueError("timeouts must be positive")
        expected = usable_fingerprints(remote_fingerprints)
        if not expected:
            raise ValueError("no remote fingerprint with a supported hash algorithm")
        self._is_client = is_client
        self._mtu = mtu
        self._log_prefix = log_prefix
        self._initial_retransmit = initial_retransmit
        self._handshake_timeout = handshake_timeout
        self._verifier = _FingerprintVerifier(expected)
        self._ssl = SSL.Connection(_make_context(certificate, srtp=srtp, verifier=self._verifier))
        if is_client:
            self._ssl.set_connect_state()
        else:
            self._ssl.set_accept_state()
        self._ssl.set_ciphertext_mtu(mtu)

        self._state = DtlsState.NEW
        self._started_by_peer = False
        self._events: deque[DtlsEvent] = deque()
        self._outgoing: list[bytes] = []
        self._handshake_done = False
        self._srtp_profile: str | None = None
        self._remote_der: bytes | None = None
        self._max_send = 0
        self._dropped_data = 0
        if own_record_layer is None:
            own_record_layer = os.environ.get("TRIO_WEBRTC_DTLS_RECORDS") != "openssl"
        self._records = RecordLayer(is_client=is_client) if own_record_layer else None
        self._rx: RecordLayer | None = None  # set once our keys open the data phase
        self._tx: RecordSealer | None = None  # set once we seal (RecordLayer docs)
        # Retransmission state (RFC 6347 §4.2.4).
        self._flight: list[bytes] = []  # our current flight, as records
        self._deadline: float | None = None  # handshake gives up at this time
        self._retransmit_at: float | None = None
        self._interval = initial_retransmit
        self._timeouts = 0  # timer expiries for the current flight
        self._epoch0_seq = 0  # record numbers we put on epoch-0 records
        self._sent_max_msg_seq = -1  # highest handshake message_seq we have sent
        self._sent_ccs = False  # our ChangeCipherSpec went out
        self._peer_max_msg_seq = -1  # highest handshake message_seq seen from the peer
        self._peer_done_seq = -1  # last message_seq of peer flights we answered
        self._peer_flight_first = 0  # first message_seq of the peer's previous flight
        self._peer_seen: set[int] = set()  # peer epoch-0 record numbers seen
        self._next_response_at = 0.0  # rate limit for answering peer retransmissions

    # --- properties -------------------------------------------------------------------

    @property
    def state(self) -> DtlsState:
        """The current :class:`DtlsState`."""
        return self._state

    @property
    def is_client(self) -> bool:
        """True for the DTLS client (``a=setup:active``)."""
        return self._is_client

    @property
    def selected_srtp_profile(self) -> str | None:
        """The negotiated use_srtp profile name, or None (also before the handshake)."""
        return self._srtp_profile

    @property
    def remote_certificate_der(self) -> bytes | None:
        """The peer's verified certificate (DER) once connected, else None."""
        return self._remote_der

    @property
    def cleartext_mtu(self) -> int:
        """Largest :meth:`send` payload whose record fits ``mtu``; needs a handshake."""
        if not self._handshake_done:
            raise InvalidStateError("the cleartext MTU is known after the handshake")
        return self._max_send

    @property
    def record_layer(self) -> RecordLayer | None:
        """The :mod:`.aead` layer once it opens the data phase (``opener`` counts what it
        dropped), else None: handshaking, or the data phase is OpenSSL's."""
        return self._rx

    # --- sans-I/O interface -----------------------------------------------------------

    def start(self, now: float) -> None:
        """Begin the handshake: a client sends its ClientHello, a server waits for one."""
        if self._started_by_peer:
            self._started_by_peer = False  # an early ClientHello already started us
            return
        if self._state is not DtlsState.NEW:
            raise InvalidStateError(f"start() in state {self._state.name}")
        self._state = DtlsState.CONNECTING
        self._deadline = now + self._handshake_timeout
        logger.debug(
            "%sDTLS %s starting", self._log_prefix, "client" if self._is_client else "server"
        )
        if self._is_client:
            self._drive_handshake(now)

    def receive_datagram(self, data: bytes, now: float) -> None:
        """Process one UDP datagram (one or more records). Never raises for bad input."""
        if self._state is _CONNECTED and data and data[0] == CONTENT_APPLICATION_DATA:
            if self._rx is not None:
                return self._receive_slow(data, now)
            self._ssl.bio_write(data)
            self._read_application_data()
            return
        self._receive_slow(data, now)

    def receive_record(self, data: bytes, now: float) -> bytes | None:
        """Data-phase fast path: one application_data record's plaintext, no event; None
        for anything else, which :meth:`receive_datagram` handles (events as usual)."""
        size = len(data)
        if (
            self._state is _CONNECTED
            and size > RECORD_HEADER_SIZE
            and data[0] == CONTENT_APPLICATION_DATA
            and size == RECORD_HEADER_SIZE + ((data[11] << 8) | data[12])
        ):
            rx = self._rx
            if rx is not None:
                assert rx.opener is not None
                plaintext = rx.opener.open(data)
                if self._tx is None and plaintext is not None:
                    self._tx = rx.start_sending()  # the server's switch (aead docs)
                return plaintext
            self._ssl.bio_write(data)
            return self._recv_one()
        self.receive_datagram(data, now)
        return None

    def send(self, data: bytes) -> None:
        """Encrypt ``data`` as one application_data record and queue it as a datagram.

        Raises :class:`InvalidStateError` unless connected, :class:`LocalProtocolError`
        for empty data and :class:`MessageTooLargeError` beyond :attr:`cleartext_mtu`.
        """
        if self._state is not _CONNECTED:
            raise InvalidStateError(f"cannot send in state {self._state.name}")
        size = len(data)
        if size > self._max_send:
            raise MessageTooLargeError(
                f"{size} bytes exceed the DTLS record limit {self._max_send}"
            )
        if size == 0:
            raise LocalProtocolError("DTLS cannot send an empty record")
        try:
            if self._tx is not None:
                record = self._tx.seal(data)
            else:
                self._ssl.write(data)
                record = self._ssl.bio_read(_BIO_READ_SIZE)
                if self._records is not None:
                    record = self._records.observe_openssl_output(record)
        except SequenceExhausted as exc:
            self._fail(str(exc))
            raise InvalidStateError("the DTLS transport failed") from exc
        except SSL.Error as exc:
            self._fail(f"send failed: {_describe(exc)}")
            raise InvalidStateError("the DTLS transport failed") from exc
        if len(self._outgoing) < _MAX_OUTGOING:
            self._outgoing.append(record)
        else:
            self._dropped_data += 1

    def datagrams_to_send(self, now: float) -> list[bytes]:
        """Drain the datagrams to put on the wire, in order."""
        out = self._outgoing
        self._outgoing = []
        return out

    def get_timer(self) -> float | None:
        """Absolute time :meth:`handle_timer` is due, or None (always None once connected)."""
        if self._state is not DtlsState.CONNECTING:
            return None
        if self._retransmit_at is None:
            return self._deadline
        assert self._deadline is not None
        return min(self._retransmit_at, self._deadline)

    def handle_timer(self, now: float) -> None:
        """Retransmit the current flight or fail the handshake, if due."""
        if self._state is not DtlsState.CONNECTING:
            return
        if self._deadline is not None and now >= self._deadline:
            self._fail("handshake timeout")
            return
        if self._retransmit_at is not None and now >= self._retransmit_at:
            self._timeouts += 1
            self._interval = min(self._interval * 2, MAX_RETRANSMIT_INTERVAL)
            self._retransmit_at = now + self._interval
            logger.debug(
                "%sretransmitting flight (timeout %d, next in %.1fs)",
                self._log_prefix,
                self._timeouts,
                self._interval,
            )
            self._transmit(self._flight)

    def next_event(self) -> DtlsEvent | None:
        """Pop the oldest pending event, or None."""
        return self._events.popleft() if self._events else None

    def close(self) -> None:
        """Send close_notify if connected; the transport becomes CLOSED. Idempotent."""
        if self._state in (DtlsState.CLOSED, DtlsState.FAILED):
            return
        if self._state is _CONNECTED:
            self._send_close_notify()
        self._state = DtlsState.CLOSED
        self._clear_handshake_timers()
        logger.debug("%sDTLS closed locally", self._log_prefix)

    def export_keying_material(
        self, label: bytes, length: int, context: bytes | None = None
    ) -> bytes:
        """RFC 5705 exporter, e.g. ``(b"EXTRACTOR-dtls_srtp", 60)`` for RFC 5764 §4.2."""
        if not self._handshake_done or self._state is DtlsState.FAILED:
            raise InvalidStateError("keying material needs a completed handshake")
        if not 0 < length <= _EXPORTER_MAX:
            raise LocalProtocolError(f"exporter length must be 1..{_EXPORTER_MAX}")
        return self._ssl.export_keying_material(label, length, context)

    # --- receiving --------------------------------------------------------------------

    def _recv_one(self) -> bytes | None:
        """OpenSSL's plaintext of the one record just written to it, or None."""
        try:
            return self._ssl.recv(_RECV_SIZE)
        except SSL.WantReadError:
            return None  # dropped by OpenSSL (replay, bad MAC): nothing to deliver
        except SSL.ZeroReturnError:
            self._on_close_notify()
        except SSL.Error as exc:
            self._fail(f"record layer error: {_describe(exc)}")
        return None

    def _read_application_data(self) -> None:
        recv = self._ssl.recv
        events = self._events
        while True:
            try:
                data = recv(_RECV_SIZE)
            except SSL.WantReadError:
                return
            except SSL.ZeroReturnError:
                self._on_close_notify()
                return
            except SSL.Error as exc:
                self._fail(f"record layer error: {_describe(exc)}")
                return
            if len(events) < _MAX_PENDING_DATA:
                events.append(ApplicationData(data))
            else:
                self._dropped_data += 1

    def _receive_slow(self, data: bytes, now: float) -> None:
        state = self._state
        if state is DtlsState.CLOSED or state is DtlsState.FAILED:
            return
        try:
            headers = parse_record_headers(data)
        except DtlsParseError as exc:
            logger.debug("%sdropping malformed datagram: %s", self._log_prefix, exc)
            return
        if state is DtlsState.NEW:
            first = headers[0]
            if (
                self._is_client
                or handshake_message_seq(data, first) is None
                or data[first.offset] != HANDSHAKE_CLIENT_HELLO
            ):
                logger.debug("%sdatagram before start() dropped", self._log_prefix)
                return
            self.start(now)
            self._started_by_peer = True
        # One answer per peer retransmission burst (all its datagrams arrive together).
        resend = (
            self._note_peer_records(data, headers)
            and bool(self._flight)
            and now >= self._next_response_at
        )
        if resend:
            self._next_response_at = now + self._initial_retransmit / 2
        if self._state is _CONNECTED:
            if resend:
                logger.debug(
                    "%speer retransmitted its last flight; resending ours", self._log_prefix
                )
                self._transmit(self._flight)
            if self._rx is not None:
                data = self._receive_own(data, headers)
                if not data or self._state is not _CONNECTED:
                    return
            self._ssl.bio_write(data)
            self._read_application_data()
            if self._state is not DtlsState.FAILED:
                # OpenSSL may answer a retransmitted Finished or send an alert.
                self._transmit_raw(self._drain_bio())
            return
        if resend:
            logger.debug(
                "%speer retransmitted its previous flight; resending ours", self._log_prefix
            )
            self._transmit(self._flight)
        if self._records is not None and not (data := self._records.filter_early(data, headers)):
            return
        self._ssl.bio_write(data)
        self._drive_handshake(now)

    def _receive_own(self, data: bytes, headers: list[RecordHeader]) -> bytes:
        """Open the records our keys protect; return what OpenSSL still gets."""
        assert self._rx is not None
        to_openssl, opened, alert = self._rx.split(data, headers)
        self._tx = self._rx.sealer
        for plaintext in opened:
            if len(self._events) < _MAX_PENDING_DATA:
                self._events.append(ApplicationData(plaintext))
        if alert == 0:
            self._on_close_notify()
        elif alert is not None:
            self._fail(f"record layer error: alert {alert if alert >= 0 else 'malformed'}")
        return to_openssl

    def _note_peer_records(self, data: bytes, headers: list[RecordHeader]) -> bool:
        """Track the peer's handshake messages; True if it retransmitted its last flight."""
        retransmitted = False
        for header in headers:
            message_seq = handshake_message_seq(data, header)
            if message_seq is None:
                continue
            is_new_record = header.sequence_number not in self._peer_seen
            if is_new_record:
                if len(self._peer_seen) >= _MAX_SEEN_RECORDS:
                    self._peer_seen.clear()
                self._peer_seen.add(header.sequence_number)
            self._peer_max_msg_seq = max(self._peer_max_msg_seq, message_seq)
            if is_new_record and self._peer_flight_first <= message_seq <= self._peer_done_seq:
                retransmitted = True
        return retransmitted

    def _on_close_notify(self) -> None:
        logger.debug("%sclose_notify received", self._log_prefix)
        self._state = DtlsState.CLOSED
        self._flight = []
        self._send_close_notify()  # answer with our own
        self._events.append(DtlsClosed())

    def _send_close_notify(self) -> None:
        if self._tx is not None:
            with contextlib.suppress(SequenceExhausted):
                self._queue(self._records.seal_alert(1, 0))  # type: ignore[union-attr]
            return
        try:
            self._ssl.shutdown()
        except SSL.Error as exc:
            logger.debug("%sshutdown: %s", self._log_prefix, _describe(exc))
        self._transmit_raw(self._drain_bio())

    # --- handshake --------------------------------------------------------------------

    def _drive_handshake(self, now: float) -> None:
        try:
            self._ssl.do_handshake()
        except SSL.WantReadError:
            self._collect_flight(now)
            return
        except SSL.Error as exc:
            self._transmit_raw(self._drain_bio())  # the alert OpenSSL wrote, if any
            if self._verifier.mismatch:
                self._fail("fingerprint mismatch")
            else:
                self._fail(f"handshake failed: {_describe(exc)}")
            return
        self._complete(now)

    def _complete(self, now: float) -> None:
        peer = self._ssl.get_peer_certificate(as_cryptography=True)
        der = peer.public_bytes(Encoding.DER) if peer is not None else None
        if der is None or not self._verifier.matches(der):
            self._drain_bio()  # never send our Finished to an unauthenticated peer
            self._fail("fingerprint mismatch" if der is not None else "no peer certificate")
            return
        self._remote_der = der
        self._handshake_done = True
        self._state = _CONNECTED
        self._max_send = self._ssl.get_cleartext_mtu()
        self._srtp_profile = self._ssl.get_selected_srtp_profile().decode("ascii") or None
        self._clear_handshake_timers()
        # Our final flight (if we sent the last one) is kept to answer retransmissions.
        final = self._split_new_flight(self._drain_bio())
        self._flight = final
        if final:
            self._update_peer_flight_marks()
            self._transmit(final)
        logger.debug(
            "%shandshake completed (%s, srtp=%s)",
            self._log_prefix,
            self._ssl.get_cipher_name(),
            self._srtp_profile,
        )
        self._events.append(HandshakeCompleted(self._srtp_profile))
        if self._records is not None:
            self._activate_records(self._records)
        self._read_application_data()  # records that arrived with or before Finished

    def _activate_records(self, records: RecordLayer) -> None:
        opened = records.activate(self._ssl)
        if opened is None:
            logger.debug(
                "%sdata phase left to OpenSSL: %s", self._log_prefix, records.fallback_reason
            )
            self._records = None
            if held := records.take_held():
                self._ssl.bio_write(b"".join(held))
            return
        self._rx, self._tx = records, records.sealer
        self._events.extend(ApplicationData(plaintext) for plaintext in opened)

    def _collect_flight(self, now: float) -> None:
        flight = self._split_new_flight(self._drain_bio())
        if not flight:
            return
        # A new flight means the peer's whole flight arrived: restart the backoff.
        self._interval = self._initial_retransmit
        self._timeouts = 0
        self._flight = flight
        self._update_peer_flight_marks()
        self._retransmit_at = now + self._interval
        self._transmit(flight)

    def _update_peer_flight_marks(self) -> None:
        self._peer_flight_first = self._peer_done_seq + 1
        self._peer_done_seq = self._peer_max_msg_seq

    def _split_new_flight(self, data: bytes) -> list[bytes]:
        """Split OpenSSL output into records; send alerts now, drop its own resends.

        Returns the records of a new flight (possibly empty).
        """
        if not data:
            return []
        try:
            headers = parse_record_headers(data)
        except DtlsParseError:  # pragma: no cover - OpenSSL output is well-formed
            logger.warning("%sunparseable OpenSSL output dropped", self._log_prefix)
            return []
        flight: list[bytes] = []
        alerts: list[bytes] = []
        # A resend repeats handshake messages we already sent (message_seq at most the
        # highest sent) or our one ChangeCipherSpec; the encrypted Finished after a CCS
        # shares the CCS's fate.
        threshold = self._sent_max_msg_seq
        ccs_sent_before = self._sent_ccs
        in_resend = False
        for header in headers:
            record = data[header.offset - RECORD_HEADER_SIZE : header.offset + header.length]
            if header.content_type == CONTENT_ALERT:
                alerts.append(record)
                continue
            message_seq = handshake_message_seq(data, header)
            if message_seq is not None:
                in_resend = message_seq <= threshold
                self._sent_max_msg_seq = max(self._sent_max_msg_seq, message_seq)
            elif header.content_type == CONTENT_CHANGE_CIPHER_SPEC:
                in_resend = ccs_sent_before
                self._sent_ccs = True
            if not in_resend:
                flight.append(record)
        if alerts:
            self._transmit(alerts)
        if len(flight) < len(headers) - len(alerts):
            logger.debug("%sdiscarded a retransmission made by OpenSSL", self._log_prefix)
        return flight

    # --- output -----------------------------------------------------------------------

    def _drain_bio(self) -> bytes:
        chunks: list[bytes] = []
        while True:
            try:
                chunks.append(self._ssl.bio_read(_BIO_READ_SIZE))
            except SSL.WantReadError:
                break
            except SSL.Error:  # pragma: no cover - memory BIOs do not fail
                break
        data = b"".join(chunks)
        return data if self._records is None else self._records.observe_openssl_output(data)

    def _transmit_raw(self, data: bytes) -> None:
        """Send OpenSSL output that is not part of a handshake flight (alerts, resends)."""
        if not data:
            return
        try:
            headers = parse_record_headers(data)
        except DtlsParseError:  # pragma: no cover - OpenSSL output is well-formed
            return
        self._transmit([data[h.offset - RECORD_HEADER_SIZE : h.offset + h.length] for h in headers])

    def _transmit(self, records: list[bytes]) -> None:
        """Pack records into datagrams of at most ``mtu`` bytes; renumber epoch 0."""
        datagram = bytearray()
        for record in records:
            if datagram and len(datagram) + len(record) > self._mtu:
                self._queue(bytes(datagram))
                datagram = bytearray()
            start = len(datagram)
            datagram += record
            if record[3] == 0 and record[4] == 0:  # epoch 0: fresh record number
                datagram[start + 5 : start + 11] = self._epoch0_seq.to_bytes(6, "big")
                self._epoch0_seq += 1
        if datagram:
            self._queue(bytes(datagram))

    def _queue(self, datagram: bytes) -> None:
        if len(self._outgoing) < _MAX_OUTGOING:
            self._outgoing.append(datagram)

    # --- failure ----------------------------------------------------------------------

    def _clear_handshake_timers(self) -> None:
        self._retransmit_at = None
        self._deadline = None

    def _fail(self, reason: str) -> None:
        if self._state in (DtlsState.CLOSED, DtlsState.FAILED):
            return
        logger.info("%sDTLS failed: %s", self._log_prefix, reason)
        self._state = DtlsState.FAILED
        self._flight = []
        self._clear_handshake_timers()
        self._events.append(DtlsFailed(reason))
