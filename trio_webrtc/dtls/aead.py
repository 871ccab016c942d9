"""The DTLS 1.2 data-phase record layer: AEAD record protection done here, not by OpenSSL.

OpenSSL runs the handshake (:mod:`.transport`); once it completes, application_data
and alert records of epoch 1 are sealed and opened by this module with ``cryptography``'s
AEAD primitives (one C call per record instead of pyOpenSSL's BIO round trips).

* RFC 5246 §5 — the TLS 1.2 PRF, P_SHA256 (P_SHA384 for ``*_SHA384`` suites); §6.3 — the
  key block ``PRF(master_secret, "key expansion", server_random + client_random)`` cut
  into client/server write keys and IVs (AEAD suites have no MAC keys). RFC 7627 extended
  master secret changes only the master secret, which OpenSSL hands over as it is.
* RFC 5288 §3 — AES-GCM: nonce = 4-byte implicit salt ‖ 8-byte explicit nonce carried at
  the start of the record; our explicit nonce is the record's epoch ‖ sequence number.
* RFC 7905 §2 — ChaCha20-Poly1305: nonce = 12-byte IV XOR (0⁴ ‖ epoch ‖ sequence), no
  explicit nonce.
* RFC 5246 §6.2.3.3 with RFC 6347 §4.1.2.1 — additional data = epoch ‖ sequence (8 bytes)
  ‖ type ‖ version ‖ plaintext length.
* RFC 6347 §4.1.2.6 — the anti-replay window (:data:`REPLAY_WINDOW` records), updated
  only after a record authenticates; §4.1.2.7 — records that fail are dropped silently
  (and counted); §4.1 — records of another epoch are dropped.

Nonce uniqueness. OpenSSL has sealed records with the same write key before we take
over (our Finished, perhaps early data and its retransmissions), with explicit nonces of
its own choosing (OpenSSL 3/4 start them at a random 64-bit value). :class:`RecordLayer`
sees every record OpenSSL writes (the transport passes all its output through
:meth:`RecordLayer.observe_openssl_output`), and when sending switches over it starts our
sequence numbers above both OpenSSL's highest epoch-1 sequence number and any OpenSSL
explicit nonce that lies in our epoch-1 nonce range; afterwards it refuses to let an
OpenSSL-written epoch-1 record reach the wire. Our nonces strictly increase, so none is
ever used twice, and none equals one OpenSSL used.

Switch-over. Opening switches at handshake completion (OpenSSL is never handed an epoch-1
application record). Sealing switches at completion on the DTLS client (its Finished is
never the last flight of a full handshake, so OpenSSL never has to retransmit it); the
server, whose Finished ends the handshake, keeps sealing through OpenSSL (which may then
still retransmit that flight) until it opens the first authenticated application record
from the client: proof that the client finished. Until then the peer's handshake
retransmissions (epoch 0, and its epoch-1 Finished) still go to OpenSSL; once we seal,
OpenSSL is handed nothing more (the transport answers a retransmitted flight by resending
its stored final flight byte for byte). The keys are checked first by opening
both Finished records (ours and the peer's) with them; any mismatch, or a suite not in
:data:`SUITES`, leaves the whole data phase to OpenSSL.
"""

from __future__ import annotations

import hmac
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from OpenSSL import SSL

from .records import (
    CONTENT_ALERT,
    CONTENT_APPLICATION_DATA,
    CONTENT_HANDSHAKE,
    RECORD_HEADER_SIZE,
    DtlsParseError,
    RecordHeader,
    parse_record_headers,
)

__all__ = [
    "REPLAY_WINDOW",
    "SUITES",
    "CipherSuite",
    "RecordLayer",
    "RecordOpener",
    "RecordSealer",
    "derive_keys",
    "first_safe_sequence",
    "tls12_prf",
]

REPLAY_WINDOW = 128  # RFC 6347 §4.1.2.6: at least 32, 64 recommended
EPOCH = 1  # the only epoch of a DTLS 1.2 data phase without renegotiation
_SEQ_BITS = 48
_SEQ_MASK = (1 << _SEQ_BITS) - 1
_WINDOW_MASK = (1 << REPLAY_WINDOW) - 1
_TAG = 16
_MAX_PLAINTEXT = 2**14
_VERSION = 0xFEFD
_HEADER = struct.Struct("!BHQH").pack  # RFC 6347 §4.1: type, version, epoch ‖ seq, length
_GCM_HEADER = struct.Struct("!BHQHQ").pack  # ... and the RFC 5288 explicit nonce
_AAD = struct.Struct("!QBHH").pack  # RFC 5246 §6.2.3.3 additional_data
_RECORD_START = struct.Struct("!BHQ").unpack_from  # type, version, epoch ‖ seq
# Leave at least this many of the 2**48 sequence numbers for us, or do not switch.
_MIN_SEQUENCE_ROOM = 1 << 40
_MAX_HELD = 16  # epoch-1 records that arrive before our handshake completes
_MAX_PROBES = 4  # peer epoch-1 handshake records kept to check the derived keys


class SequenceExhausted(Exception):
    """No record sequence number is left in this epoch (RFC 6347 §4.1: never wrap)."""


@dataclass(frozen=True, slots=True)
class CipherSuite:
    """What the record layer needs to know about one negotiated cipher suite."""

    name: str
    chacha: bool  # RFC 7905 nonce construction (else RFC 5288 GCM)
    key_length: int
    iv_length: int  # fixed_iv_length of RFC 5246 §6.3: 4 for GCM, 12 for ChaCha20
    prf_hash: str  # hashlib name of the PRF's hash

    @property
    def overhead(self) -> int:
        """Bytes a record's fragment has beyond its plaintext."""
        return _TAG if self.chacha else 8 + _TAG


def _suites() -> dict[str, CipherSuite]:
    table: dict[str, CipherSuite] = {}
    for auth in ("ECDSA", "RSA"):
        for name, chacha, key, iv, prf in (
            (f"ECDHE-{auth}-AES128-GCM-SHA256", False, 16, 4, "sha256"),
            (f"ECDHE-{auth}-AES256-GCM-SHA384", False, 32, 4, "sha384"),
            (f"ECDHE-{auth}-CHACHA20-POLY1305", True, 32, 12, "sha256"),
        ):
            table[name] = CipherSuite(name, chacha, key, iv, prf)
    return table


#: The suites this module protects, by OpenSSL name; any other stays with OpenSSL.
SUITES: dict[str, CipherSuite] = _suites()


# --- keys ----------------------------------------------------------------------------


def tls12_prf(hash_name: str, secret: bytes, label: bytes, seed: bytes, length: int) -> bytes:
    """PRF(secret, label, seed) of RFC 5246 §5: P_<hash>(secret, label + seed)[:length]."""
    seed = label + seed
    out = bytearray()
    a = seed
    while len(out) < length:
        a = hmac.digest(secret, a, hash_name)
        out += hmac.digest(secret, a + seed, hash_name)
    return bytes(out[:length])


def derive_keys(
    suite: CipherSuite, master_secret: bytes, client_random: bytes, server_random: bytes
) -> tuple[bytes, bytes, bytes, bytes]:
    """RFC 5246 §6.3: (client_write_key, client_write_IV, server_write_key, server_write_IV)."""
    k, n = suite.key_length, suite.iv_length
    block = tls12_prf(
        suite.prf_hash, master_secret, b"key expansion", server_random + client_random, 2 * (k + n)
    )
    return block[:k], block[2 * k : 2 * k + n], block[k : 2 * k], block[2 * k + n :]


def _aead(suite: CipherSuite, key: bytes) -> AESGCM | ChaCha20Poly1305:
    return ChaCha20Poly1305(key) if suite.chacha else AESGCM(key)


# --- one direction each --------------------------------------------------------------


class RecordSealer:
    """Seals our records of one epoch; sequence numbers start at ``first_sequence``."""

    __slots__ = ("_aead", "_chacha", "_iv", "_limit", "_next", "_salt")

    def __init__(
        self, suite: CipherSuite, key: bytes, iv: bytes, first_sequence: int, epoch: int = EPOCH
    ) -> None:
        if not 0 <= first_sequence <= _SEQ_MASK:
            raise ValueError("sequence number out of range")
        self._aead = _aead(suite, key)
        self._chacha = suite.chacha
        self._salt = iv  # GCM: the implicit part of the nonce
        self._iv = int.from_bytes(iv, "big")  # ChaCha20: XORed with epoch ‖ seq
        self._next = (epoch << _SEQ_BITS) | first_sequence
        self._limit = (epoch << _SEQ_BITS) | _SEQ_MASK  # never used: the epoch's end

    @property
    def next_sequence(self) -> int:
        """The sequence number (without epoch) the next record gets."""
        return self._next & _SEQ_MASK

    def seal(self, data: bytes, content_type: int = CONTENT_APPLICATION_DATA) -> bytes:
        """One record of ``content_type`` (application_data by default) holding ``data``.

        Raises :class:`SequenceExhausted` when the epoch has no sequence number left.
        """
        seq = self._next
        if seq >= self._limit:
            raise SequenceExhausted("DTLS record sequence numbers exhausted")
        self._next = seq + 1
        size = len(data)
        aad = _AAD(seq, content_type, _VERSION, size)
        if self._chacha:
            nonce = (self._iv ^ seq).to_bytes(12, "big")
            return _HEADER(content_type, _VERSION, seq, size + _TAG) + self._aead.encrypt(
                nonce, data, aad
            )
        header = _GCM_HEADER(content_type, _VERSION, seq, size + 8 + _TAG, seq)
        return header + self._aead.encrypt(self._salt + header[13:], data, aad)


class RecordOpener:
    """Opens the peer's records of one epoch, with the RFC 6347 §4.1.2.6 replay window.

    :meth:`open` takes exactly one record and returns its plaintext, or None when it is
    dropped: another epoch or a version other than DTLS 1.2 (``wrong_epoch``; the
    layer also counts there records whose type their epoch cannot carry), a replay
    or older than the window (``replayed``), too short or too long (``malformed``), or
    failing authentication (``auth_failures``).
    """

    __slots__ = (
        "_aead",
        "_bitmap",
        "_chacha",
        "_epoch",
        "_iv",
        "_overhead",
        "_salt",
        "_top",
        "auth_failures",
        "malformed",
        "replayed",
        "wrong_epoch",
    )

    def __init__(self, suite: CipherSuite, key: bytes, iv: bytes, epoch: int = EPOCH) -> None:
        self._aead = _aead(suite, key)
        self._chacha = suite.chacha
        self._salt = iv
        self._iv = int.from_bytes(iv, "big")
        self._overhead = suite.overhead
        self._epoch = epoch
        self._top = (epoch << _SEQ_BITS) - 1  # highest epoch ‖ seq accepted so far
        self._bitmap = 0  # bit i set: record top - i was accepted
        self.auth_failures = 0
        self.replayed = 0
        self.wrong_epoch = 0
        self.malformed = 0

    def open(self, record: bytes) -> bytes | None:
        """The plaintext of one whole record, or None (dropped and counted)."""
        content_type, version, seq = _RECORD_START(record)
        if seq >> _SEQ_BITS != self._epoch or version != _VERSION:
            self.wrong_epoch += 1
            return None
        diff = self._top - seq
        if diff >= 0 and (diff >= REPLAY_WINDOW or (self._bitmap >> diff) & 1):
            self.replayed += 1
            return None
        size = len(record) - RECORD_HEADER_SIZE - self._overhead
        if size < 0 or size > _MAX_PLAINTEXT:
            self.malformed += 1
            return None
        aad = _AAD(seq, content_type, _VERSION, size)
        try:
            if self._chacha:
                nonce = (self._iv ^ seq).to_bytes(12, "big")
                plaintext = self._aead.decrypt(nonce, record[RECORD_HEADER_SIZE:], aad)
            else:
                plaintext = self._aead.decrypt(self._salt + record[13:21], record[21:], aad)
        except InvalidTag:
            self.auth_failures += 1
            return None
        if diff < 0:  # a new right edge; the shift is capped (a jump clears the window)
            self._bitmap = (
                ((self._bitmap << -diff) | 1) & _WINDOW_MASK if -diff < REPLAY_WINDOW else 1
            )
            self._top = seq
        else:
            self._bitmap |= 1 << diff
        return plaintext


def first_safe_sequence(
    openssl_max_sequence: int, openssl_nonces: list[int], chacha: bool, epoch: int = EPOCH
) -> int | None:
    """Our first sequence number: above every epoch-``epoch`` record OpenSSL wrote and, for
    GCM, above every explicit nonce OpenSSL used that falls in our ``epoch ‖ seq`` range
    (ChaCha20 nonces follow the sequence number). None if too little room would be left.
    """
    start = openssl_max_sequence + 1
    if not chacha:
        for nonce in openssl_nonces:
            if nonce >> _SEQ_BITS == epoch:
                start = max(start, (nonce & _SEQ_MASK) + 1)
    if start > _SEQ_MASK - _MIN_SEQUENCE_ROOM:
        return None
    return start


# --- the data phase of one transport -------------------------------------------------


class RecordLayer:
    """Record protection of one DTLS transport after its handshake (see module docs).

    Before completion: :meth:`filter_early` (incoming) and :meth:`observe_openssl_output`
    (everything OpenSSL writes). At completion: :meth:`activate`. Then :attr:`opener`
    opens epoch-1 records, and :meth:`start_sending` returns the sealer once sending may
    switch over (None until then).
    """

    def __init__(self, *, is_client: bool) -> None:
        self.is_client = is_client
        self.opener: RecordOpener | None = None
        self.sealer: RecordSealer | None = None
        self.fallback_reason: str | None = None
        self._suite: CipherSuite | None = None
        self._send_keys: tuple[bytes, bytes] | None = None
        self._openssl_max_seq = -1  # highest epoch-1 sequence number OpenSSL wrote
        self._openssl_nonces: list[int] = []  # OpenSSL's GCM explicit nonces in epoch 1
        self._openssl_records: list[bytes] = []  # its epoch-1 handshake records (Finished)
        self._peer_probes: list[bytes] = []  # the peer's epoch-1 handshake records
        self._held: list[bytes] = []  # peer epoch-1 application records, too early
        self.blocked_openssl_records = 0  # OpenSSL epoch-1 output kept off the wire

    @property
    def auth_failures(self) -> int:
        """Records that failed authentication, dropped silently (RFC 6347 §4.1.2.7)."""
        return 0 if self.opener is None else self.opener.auth_failures

    # --- before and at completion ---------------------------------------------------

    def filter_early(self, data: bytes, headers: list[RecordHeader]) -> bytes:
        """While handshaking: what OpenSSL gets of ``data``. Epoch-1 application records
        are held for us to open after completion; the peer's epoch-1 handshake records
        (its Finished) are remembered to check our keys."""
        kept: list[bytes] = []
        changed = False
        for header in headers:
            record = data[header.offset - RECORD_HEADER_SIZE : header.offset + header.length]
            if header.epoch == EPOCH and header.content_type == CONTENT_APPLICATION_DATA:
                if len(self._held) < _MAX_HELD:
                    self._held.append(record)
                changed = True
                continue
            if (
                header.epoch == EPOCH
                and header.content_type == CONTENT_HANDSHAKE
                and len(self._peer_probes) < _MAX_PROBES
            ):
                self._peer_probes.append(record)
            kept.append(record)
        return b"".join(kept) if changed else data

    def observe_openssl_output(self, data: bytes) -> bytes:
        """Note every epoch-1 record OpenSSL wrote (its sequence numbers and nonces);
        once we seal, drop any epoch-1 record of OpenSSL's instead of sending it."""
        if not data:
            return data
        try:
            headers = parse_record_headers(data)
        except DtlsParseError:  # pragma: no cover - OpenSSL output is well-formed
            return b"" if self.sealer is not None else data
        blocked = False
        for header in headers:
            if header.epoch == 0:
                continue
            if self.sealer is not None:
                blocked = True
                continue
            if header.epoch == EPOCH:
                self._openssl_max_seq = max(self._openssl_max_seq, header.sequence_number)
                nonce = int.from_bytes(data[header.offset : header.offset + 8], "big")
                if header.length >= 8 and nonce >> _SEQ_BITS == EPOCH:  # in our range
                    self._openssl_nonces.append(nonce)
                if header.content_type == CONTENT_HANDSHAKE and len(self._openssl_records) < 4:
                    start = header.offset - RECORD_HEADER_SIZE
                    self._openssl_records.append(data[start : header.offset + header.length])
        if not blocked:
            return data
        kept = [
            data[h.offset - RECORD_HEADER_SIZE : h.offset + h.length]
            for h in headers
            if h.epoch == 0
        ]
        self.blocked_openssl_records += len(headers) - len(kept)
        return b"".join(kept)

    def activate(self, ssl: SSL.Connection) -> list[bytes] | None:
        """At handshake completion: derive the keys (RFC 5246 §6.3) from ``ssl`` and check
        them by opening both Finished records; start sealing if the rule allows. Returns
        the plaintexts of application records that arrived early, or None (with
        :attr:`fallback_reason`) to leave the data phase to OpenSSL."""
        name = ssl.get_cipher_name() or ""
        suite = SUITES.get(name)
        if suite is None or ssl.get_protocol_version_name() != "DTLSv1.2":
            self.fallback_reason = f"suite {name} not implemented"
            return None
        c_key, c_iv, s_key, s_iv = derive_keys(
            suite, ssl.master_key() or b"", ssl.client_random() or b"", ssl.server_random() or b""
        )
        send, receive = (c_key, c_iv), (s_key, s_iv)
        if not self.is_client:
            send, receive = receive, send
        own_check, peer_check = RecordOpener(suite, *send), RecordOpener(suite, *receive)
        if not any(own_check.open(r) is not None for r in self._openssl_records):
            self.fallback_reason = "derived keys do not open our Finished"
            return None
        if not any(peer_check.open(r) is not None for r in self._peer_probes):
            self.fallback_reason = "derived keys do not open the peer's Finished"
            return None
        self._suite = suite
        self._send_keys = send
        self.opener = opener = RecordOpener(suite, *receive)
        self._peer_probes = []
        if self.is_client:  # our Finished was not the last flight: switch at once
            self.start_sending()
        opened = [opener.open(record) for record in self.take_held()]
        return [plaintext for plaintext in opened if plaintext is not None]

    def take_held(self) -> list[bytes]:
        """The epoch-1 application records that arrived before completion (once)."""
        held, self._held = self._held, []
        return held

    def start_sending(self) -> RecordSealer | None:
        """Switch sealing over to us if the rule allows (see module docs); the sealer."""
        if self.sealer is not None or self._send_keys is None or self._suite is None:
            return self.sealer
        start = first_safe_sequence(self._openssl_max_seq, self._openssl_nonces, self._suite.chacha)
        if start is None:  # pragma: no cover - needs an OpenSSL nonce near 2**48
            self._send_keys = None
            self.fallback_reason = "no room left in the sequence space"
            return None
        self.sealer = RecordSealer(self._suite, *self._send_keys, start)
        self._send_keys = None
        self._openssl_nonces = []
        self._openssl_records = []
        return self.sealer

    # --- the data phase ----------------------------------------------------------------

    def split(
        self, data: bytes, headers: list[RecordHeader]
    ) -> tuple[bytes, list[bytes], int | None]:
        """Connected: open our records of ``data``. Returns what OpenSSL still gets (the
        peer's handshake retransmissions, until we seal), the application data opened,
        and the description of a close_notify (0) or fatal alert received (-1 for a
        malformed alert), else None; records after such an alert are ignored. Records of
        other epochs (or types their epoch cannot carry) are dropped and counted in the
        opener's ``wrong_epoch``; warning alerts are ignored.
        The server's sending switches over at its first application record opened."""
        opener = self.opener
        assert opener is not None
        to_openssl: list[bytes] = []
        opened: list[bytes] = []
        for header in headers:
            record = data[header.offset - RECORD_HEADER_SIZE : header.offset + header.length]
            kind, epoch = header.content_type, header.epoch
            if epoch == EPOCH and kind in (CONTENT_APPLICATION_DATA, CONTENT_ALERT):
                plaintext = opener.open(record)
                if plaintext is None:
                    continue
                if kind == CONTENT_APPLICATION_DATA:
                    opened.append(plaintext)
                    if self.sealer is None:
                        self.start_sending()
                elif len(plaintext) != 2:
                    return b"", opened, -1
                elif plaintext[1] == 0 or plaintext[0] != 1:  # RFC 5246 §7.2
                    return b"", opened, plaintext[1]
            elif (epoch == 0 and kind != CONTENT_APPLICATION_DATA) or (
                epoch == EPOCH and kind == CONTENT_HANDSHAKE
            ):  # the peer's handshake retransmissions: OpenSSL may answer, until we seal
                if self.sealer is None:
                    to_openssl.append(record)
            else:  # other epochs; epoch-0 data; change_cipher_spec in epoch 1
                opener.wrong_epoch += 1
        return b"".join(to_openssl), opened, None

    def seal_alert(self, level: int, description: int) -> bytes:
        """An alert record sealed with our keys (needs :attr:`sealer`)."""
        assert self.sealer is not None
        return self.sealer.seal(bytes((level, description)), CONTENT_ALERT)
