"""A sans-I/O TURN client: one allocation on one TURN server (RFC 8656).

Implements RFC 8656 §7 (Allocate with REQUESTED-TRANSPORT UDP and LIFETIME), §7.2 and
RFC 8489 §9.2 (long-term credentials: 401 gives REALM/NONCE, the retry carries USERNAME,
REALM, NONCE and MESSAGE-INTEGRITY keyed with MD5(username:realm:password), username,
realm and password prepared with OpaqueString (RFC 8265 §4.2; a refused one fails the
client); 438 Stale
Nonce retries with the new nonce), §8 (Refresh before the lifetime ends; lifetime 0 on
close), §9 and §10 (CreatePermission per peer IP, refreshed before the 5-minute expiry),
§11 (Send and Data indications), §12 (ChannelBind with numbers 0x4000-0x7FFF, refreshed
before the 10-minute expiry; ChannelData messages), §12.5 (over TCP/TLS ChannelData is
padded to a multiple of 4; :class:`StreamFramer` splits a byte stream into messages) and
RFC 8489 §6.2.1 (UDP retransmissions: RTO 500 ms doubling, 7 requests) and §6.3.3/§6.3.4
(a response with unknown comprehension-required attributes fails its transaction).

Nothing here does I/O or reads a clock. The owner feeds :meth:`TurnClient.receive` with
what arrives from the server (a datagram, or one message from :class:`StreamFramer`) and
sends :meth:`TurnClient.datagrams_to_send` to the server; :meth:`TurnClient.send_to`
wraps application datagrams for a peer.
"""

from __future__ import annotations

import enum
import logging
import random
import struct
from collections import deque
from dataclasses import dataclass, field

from ..errors import StunParseError
from . import stun

__all__ = [
    "CHANNEL_MAX",
    "CHANNEL_MIN",
    "StreamFramer",
    "TurnClient",
    "TurnState",
    "channel_data",
    "is_channel_data",
]

logger = logging.getLogger("trio_webrtc.turn")

Address = tuple[str, int]

CHANNEL_MIN = 0x4000
CHANNEL_MAX = 0x7FFF
PERMISSION_LIFETIME = 300.0
PERMISSION_REFRESH = 240.0
CHANNEL_LIFETIME = 600.0
CHANNEL_REFRESH = 540.0
DEFAULT_LIFETIME = 600
RTO = 0.5
MAX_REQUESTS = 7
STREAM_TRANSACTION_TIMEOUT = 39.5
MAX_PENDING_PER_PEER = 16
MAX_PEERS = 64
MAX_STREAM_BUFFER = 1 << 20
_UDP = 17


class TurnState(enum.Enum):
    NEW = "new"
    ALLOCATING = "allocating"
    ALLOCATED = "allocated"
    FAILED = "failed"
    CLOSED = "closed"


def is_channel_data(data: bytes) -> bool:
    """RFC 7983 §7 / RFC 8656 §12.4: first byte 64-79 (channel numbers 0x4000-0x4FFF)
    or, more liberally, 64-127."""
    return len(data) >= 4 and 64 <= data[0] <= 127


def channel_data(channel: int, data: bytes, *, pad: bool) -> bytes:
    """A ChannelData message (RFC 8656 §12.4); ``pad`` to 4 bytes over streams."""
    header = struct.pack("!HH", channel, len(data))
    if pad and len(data) % 4:
        return header + data + bytes(4 - len(data) % 4)
    return header + data


class StreamFramer:
    """Splits a TCP/TLS byte stream into STUN and ChannelData messages (RFC 8656 §12.5)."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        """Add received bytes; return every complete message. Raises ``StunParseError``
        when the stream is not TURN framing (the owner should close it)."""
        buffer = self._buffer
        buffer += data
        if len(buffer) > MAX_STREAM_BUFFER:
            raise StunParseError("TURN stream buffer overflow")
        out: list[bytes] = []
        while len(buffer) >= 4:
            first = buffer[0]
            (length,) = struct.unpack_from("!H", buffer, 2)
            if first < 4:
                total = 20 + length
                size = total
            elif 64 <= first <= 127:
                size = 4 + length
                total = size + (-length) % 4
            else:
                raise StunParseError(f"unexpected byte {first} in a TURN stream")
            if len(buffer) < total:
                break
            out.append(bytes(buffer[:size]))
            del buffer[:total]
        return out


@dataclass
class _Transaction:
    kind: str  # allocate | refresh | permission | channel
    request: bytes
    peer: Address | None = None
    channel: int | None = None
    lifetime: int | None = None
    sent: int = 0
    next_at: float = 0.0
    rto: float = RTO
    authenticated: bool = False


@dataclass
class _Peer:
    address: Address
    channel: int
    permitted_until: float = 0.0
    bound_until: float = 0.0
    permission_pending: bool = False
    bind_pending: bool = False
    pending: deque[bytes] = field(default_factory=deque)


class TurnClient:
    """One TURN allocation (UDP relay) on one server, over UDP or a stream.

    ``label`` names the server in logs (e.g. ``turn:host:3478?transport=tcp``).
    """

    def __init__(
        self,
        server: Address,
        username: str | None,
        password: str | None,
        *,
        stream: bool = False,
        label: str | None = None,
        rng: random.Random | None = None,
        log_prefix: str = "",
        lifetime: int = DEFAULT_LIFETIME,
    ) -> None:
        self.server = server
        self.stream = stream
        self.label = label or f"{server[0]}:{server[1]}"
        self._username = username
        self._password = password
        self._rng = rng or random.Random()
        self._log_prefix = log_prefix
        self._lifetime = lifetime
        self.state = TurnState.NEW
        self.relayed_address: Address | None = None
        self.mapped_address: Address | None = None
        self.failure: str | None = None
        self._realm: str | None = None
        self._nonce: str | None = None
        self._key: bytes | None = None
        self._transactions: dict[bytes, _Transaction] = {}
        self._outgoing: list[bytes] = []
        self._refresh_at: float | None = None
        self._peers: dict[Address, _Peer] = {}
        self._by_channel: dict[int, _Peer] = {}
        self._permissions: dict[str, float] = {}  # peer IP -> permission expiry
        self._next_channel = CHANNEL_MIN
        self._auth_tried = False

    def _log(self, level: int, message: str, *args: object) -> None:
        logger.log(level, "[%s] " + message, self._log_prefix, *args)

    # ------------------------------------------------------------------ requests

    def _auth_attributes(self) -> list[tuple[int, stun.AttributeValue]]:
        if self._key is None:
            return []
        assert self._username is not None and self._realm is not None
        return [
            (stun.USERNAME, self._username),
            (stun.REALM, self._realm),
            (stun.NONCE, self._nonce or ""),
        ]

    def _request(
        self,
        kind: str,
        method: stun.Method,
        attributes: list[tuple[int, stun.AttributeValue]],
        now: float,
        *,
        peer: Address | None = None,
        channel: int | None = None,
        lifetime: int | None = None,
    ) -> None:
        tid = stun.random_transaction_id(self._rng)
        message = stun.Message(
            method,
            stun.MessageClass.REQUEST,
            tid,
            tuple(attributes + self._auth_attributes()),
        )
        data = stun.encode(message, self._key, fingerprint=True)
        transaction = _Transaction(
            kind, data, peer, channel, lifetime, authenticated=self._key is not None
        )
        self._transactions[tid] = transaction
        self._transmit(transaction, now)

    def _transmit(self, transaction: _Transaction, now: float) -> None:
        self._outgoing.append(transaction.request)
        transaction.sent += 1
        if self.stream:
            transaction.next_at = now + STREAM_TRANSACTION_TIMEOUT
        else:
            transaction.next_at = now + transaction.rto
            transaction.rto *= 2
            if transaction.sent == MAX_REQUESTS:
                transaction.next_at = now + 16 * RTO  # RFC 8489 §6.2.1: Rm * RTO

    def _allocate(self, now: float) -> None:
        attributes: list[tuple[int, stun.AttributeValue]] = [
            (stun.REQUESTED_TRANSPORT, _UDP),
            (stun.LIFETIME, self._lifetime),
        ]
        self._request("allocate", stun.Method.ALLOCATE, attributes, now)

    def _refresh(self, lifetime: int, now: float) -> None:
        self._request(
            "refresh", stun.Method.REFRESH, [(stun.LIFETIME, lifetime)], now, lifetime=lifetime
        )

    def _create_permission(self, peer: Address, now: float) -> None:
        self._request(
            "permission",
            stun.Method.CREATE_PERMISSION,
            [(stun.XOR_PEER_ADDRESS, peer)],
            now,
            peer=peer,
        )

    def _channel_bind(self, peer: _Peer, now: float) -> None:
        peer.bind_pending = True
        self._request(
            "channel",
            stun.Method.CHANNEL_BIND,
            [(stun.CHANNEL_NUMBER, peer.channel), (stun.XOR_PEER_ADDRESS, peer.address)],
            now,
            peer=peer.address,
            channel=peer.channel,
        )

    # ------------------------------------------------------------------ API

    def start(self, now: float) -> None:
        """Send the first (unauthenticated) Allocate request."""
        if self.state is TurnState.NEW:
            self.state = TurnState.ALLOCATING
            self._allocate(now)

    def close(self, now: float) -> None:
        """Release the allocation (Refresh with LIFETIME 0, sent once) and stop."""
        if self.state is TurnState.ALLOCATED:
            self._transactions.clear()
            self._refresh(0, now)
            self._transactions.clear()
        self._stop(TurnState.CLOSED)

    def _stop(self, state: TurnState) -> None:
        self.state = state
        self._transactions.clear()
        self._refresh_at = None
        for peer in self._peers.values():
            peer.pending.clear()

    def fail(self, reason: str) -> None:
        """The owner lost the transport (e.g. the stream could not connect)."""
        if self.state in (TurnState.NEW, TurnState.ALLOCATING, TurnState.ALLOCATED):
            self._log(logging.WARNING, "TURN %s failed: %s", self.label, reason)
            self.failure = reason
            self._stop(TurnState.FAILED)

    def datagrams_to_send(self) -> list[bytes]:
        """Drain the messages to send to the server."""
        out = self._outgoing
        self._outgoing = []
        return out

    def send_to(self, peer: Address, data: bytes, now: float) -> bytes | None:
        """Wrap ``data`` for ``peer``: ChannelData once the channel is bound, a Send
        indication once the permission is installed, else queue it (bounded) and ask for
        the permission and the channel. Returns what to send to the server, if anything."""
        if self.state is not TurnState.ALLOCATED:
            return None
        state = self._peers.get(peer)
        if state is None:
            state = self._add_peer(peer, now)
            if state is None:
                return None
        if state.bound_until > now:
            return channel_data(state.channel, data, pad=self.stream)
        if self._permissions.get(peer[0], 0.0) > now:
            message = stun.Message(
                stun.Method.SEND,
                stun.MessageClass.INDICATION,
                stun.random_transaction_id(self._rng),
                ((stun.XOR_PEER_ADDRESS, peer), (stun.DATA, bytes(data))),
            )
            return stun.encode(message)
        if len(state.pending) < MAX_PENDING_PER_PEER:
            state.pending.append(bytes(data))
        return None

    def _add_peer(self, peer: Address, now: float) -> _Peer | None:
        if len(self._peers) >= MAX_PEERS or self._next_channel > CHANNEL_MAX:
            self._log(logging.DEBUG, "TURN %s: too many peers, dropping %s", self.label, peer)
            return None
        state = _Peer(peer, self._next_channel)
        self._next_channel += 1
        self._peers[peer] = state
        self._by_channel[state.channel] = state
        if self._permissions.get(peer[0], 0.0) <= now and not any(
            p.permission_pending for p in self._peers.values() if p.address[0] == peer[0]
        ):
            state.permission_pending = True
            self._create_permission(peer, now)
        self._channel_bind(state, now)
        return state

    def receive(self, data: bytes, now: float) -> tuple[Address, bytes] | None:
        """One message from the server. Returns (peer, payload) for relayed data."""
        if self.state in (TurnState.CLOSED, TurnState.FAILED) or len(data) < 4:
            return None
        first = data[0]
        if 64 <= first <= 127:
            channel, length = struct.unpack_from("!HH", data)
            peer = self._by_channel.get(channel)
            if peer is None or len(data) < 4 + length:
                return None
            return peer.address, data[4 : 4 + length]
        if first >= 4:
            return None
        try:
            message = stun.parse_message(data)
        except StunParseError as exc:
            self._log(logging.DEBUG, "TURN %s: malformed message: %s", self.label, exc)
            return None
        if message.message_class is stun.MessageClass.INDICATION:
            if message.method == stun.Method.DATA:
                peer_address = message.get_address(stun.XOR_PEER_ADDRESS)
                payload = message.get_bytes(stun.DATA)
                if peer_address is not None and payload is not None:
                    return peer_address, payload
            return None
        self._handle_response(message, data, now)
        return None

    def owns(self, data: bytes) -> bool:
        """True when ``data`` is a STUN response to one of our transactions."""
        return bytes(data[8:20]) in self._transactions

    # ------------------------------------------------------------------ responses

    def _handle_response(self, message: stun.Message, data: bytes, now: float) -> None:
        transaction = self._transactions.get(message.transaction_id)
        if transaction is None:
            return
        if (
            transaction.authenticated
            and self._key is not None
            and message.has(stun.MESSAGE_INTEGRITY)
            and not stun.verify_integrity(data, self._key)
        ):
            self._log(logging.DEBUG, "TURN %s: response with bad integrity", self.label)
            return
        del self._transactions[message.transaction_id]
        unknown = stun.unknown_comprehension_required(message)
        if message.message_class is stun.MessageClass.SUCCESS and not unknown:
            self._on_success(transaction, message, now)
            return
        # RFC 8489 §6.3.3/§6.3.4: unknown comprehension-required attributes fail it.
        error = None if unknown else message.error_code
        code = error.code if error is not None else 0
        reason = error.reason if error is not None else ""
        if unknown:
            reason = "unknown attributes " + ", ".join(f"0x{t:04x}" for t in unknown)
        if code == 401 and transaction.kind == "allocate" and not self._auth_tried:
            realm, nonce = message.get_str(stun.REALM), message.get_str(stun.NONCE)
            if self._username is None or self._password is None:
                self._fail(f"TURN server {self.label} requires credentials; none configured")
                return
            if realm is None or nonce is None:
                self._fail(f"TURN server {self.label} sent 401 without REALM/NONCE")
                return
            self._auth_tried = True
            self._realm, self._nonce = realm, nonce
            try:  # RFC 8489 §14.3: USERNAME is sent OpaqueString-prepared, as keyed
                self._username = stun.opaque_string(self._username, "username")
                self._key = stun.long_term_key(self._username, realm, self._password)
            except ValueError as exc:  # OpaqueString refused a credential or the realm
                self._fail(f"TURN server {self.label}: {exc}")
                return
            self._retry(transaction, now)
            return
        if code == 401:
            self._fail(f"TURN authentication failed at {self.label} ({code} {reason})")
            return
        if code == 438:
            nonce = message.get_str(stun.NONCE)
            if nonce is not None:  # RFC 8656 §7.2: stale nonce, retry silently
                self._nonce = nonce
                realm = message.get_str(stun.REALM)
                if realm is not None and realm != self._realm and self._username and self._password:
                    try:
                        self._key = stun.long_term_key(self._username, realm, self._password)
                    except ValueError as exc:
                        self._fail(f"TURN server {self.label}: {exc}")
                        return
                    self._realm = realm
                self._retry(transaction, now)
                return
        if transaction.kind == "allocate":
            if code == 437:
                self._fail(f"TURN allocation mismatch at {self.label} (437 {reason})")
            else:
                self._fail(f"TURN Allocate rejected by {self.label}: {code} {reason}")
        elif transaction.kind == "refresh":
            if transaction.lifetime:
                self._fail(f"TURN Refresh rejected by {self.label}: {code} {reason}")
        else:
            self._log(
                logging.WARNING,
                "TURN %s rejected %s for %s: %d %s",
                self.label,
                transaction.kind,
                transaction.peer,
                code,
                reason,
            )
            self._on_peer_failure(transaction)

    def _retry(self, transaction: _Transaction, now: float) -> None:
        if transaction.kind == "allocate":
            self._allocate(now)
        elif transaction.kind == "refresh":
            self._refresh(transaction.lifetime or 0, now)
        elif transaction.kind == "permission" and transaction.peer is not None:
            self._create_permission(transaction.peer, now)
        elif transaction.kind == "channel" and transaction.peer is not None:
            peer = self._peers.get(transaction.peer)
            if peer is not None:
                self._channel_bind(peer, now)

    def _fail(self, reason: str) -> None:
        self._log(logging.WARNING, "%s", reason)
        self.failure = reason
        self._stop(TurnState.FAILED)

    def _on_success(self, transaction: _Transaction, message: stun.Message, now: float) -> None:
        kind = transaction.kind
        if kind == "allocate":
            relayed = message.get_address(stun.XOR_RELAYED_ADDRESS)
            if relayed is None:
                self._fail(f"TURN {self.label}: Allocate success without XOR-RELAYED-ADDRESS")
                return
            self.relayed_address = relayed
            self.mapped_address = message.get_address(stun.XOR_MAPPED_ADDRESS)
            lifetime = message.get_int(stun.LIFETIME) or self._lifetime
            self._schedule_refresh(lifetime, now)
            self.state = TurnState.ALLOCATED
            self._log(logging.INFO, "TURN %s allocated %s (%d s)", self.label, relayed, lifetime)
        elif kind == "refresh":
            if transaction.lifetime:
                lifetime = message.get_int(stun.LIFETIME) or transaction.lifetime
                self._schedule_refresh(lifetime, now)
        elif kind == "permission" and transaction.peer is not None:
            ip = transaction.peer[0]
            self._permissions[ip] = now + PERMISSION_LIFETIME
            for permitted in list(self._peers.values()):
                if permitted.address[0] == ip:
                    permitted.permission_pending = False
                    permitted.permitted_until = now + PERMISSION_LIFETIME
                    self._flush_pending(permitted, now)
        elif kind == "channel" and transaction.peer is not None:
            bound = self._peers.get(transaction.peer)
            if bound is not None:
                bound.bind_pending = False
                bound.bound_until = now + CHANNEL_LIFETIME
                # A channel binding also installs or refreshes the permission (§12.2).
                ip = bound.address[0]
                self._permissions[ip] = max(
                    self._permissions.get(ip, 0.0), now + PERMISSION_LIFETIME
                )
                bound.permitted_until = self._permissions[ip]
                self._flush_pending(bound, now)

    def _flush_pending(self, peer: _Peer, now: float) -> None:
        while peer.pending:
            wrapped = self.send_to(peer.address, peer.pending.popleft(), now)
            if wrapped is not None:
                self._outgoing.append(wrapped)

    def _on_peer_failure(self, transaction: _Transaction) -> None:
        peer = self._peers.get(transaction.peer) if transaction.peer is not None else None
        if peer is not None:
            peer.permission_pending = peer.bind_pending = False
            peer.pending.clear()

    def _schedule_refresh(self, lifetime: int, now: float) -> None:
        self._refresh_at = now + max(lifetime / 2, lifetime - 60.0)

    # ------------------------------------------------------------------ timers

    def get_timer(self) -> float | None:
        if self.state not in (TurnState.ALLOCATING, TurnState.ALLOCATED):
            return None
        deadlines = [t.next_at for t in self._transactions.values()]
        if self._refresh_at is not None:
            deadlines.append(self._refresh_at)
        for peer in self._peers.values():
            if peer.bound_until and not peer.bind_pending:
                deadlines.append(peer.bound_until - (CHANNEL_LIFETIME - CHANNEL_REFRESH))
        for ip, expiry in self._permissions.items():
            if not any(p.permission_pending for p in self._peers.values() if p.address[0] == ip):
                deadlines.append(expiry - (PERMISSION_LIFETIME - PERMISSION_REFRESH))
        return min(deadlines) if deadlines else None

    def handle_timer(self, now: float) -> None:
        if self.state not in (TurnState.ALLOCATING, TurnState.ALLOCATED):
            return
        for tid, transaction in list(self._transactions.items()):
            if transaction.next_at > now:
                continue
            if self.stream or transaction.sent >= MAX_REQUESTS:
                del self._transactions[tid]
                if transaction.kind == "allocate" or (
                    transaction.kind == "refresh" and transaction.lifetime
                ):
                    self._fail(f"TURN {self.label}: no answer to {transaction.kind}")
                    return
                self._on_peer_failure(transaction)
            else:
                self._transmit(transaction, now)
        if self._refresh_at is not None and self._refresh_at <= now:
            self._refresh_at = None
            self._refresh(self._lifetime, now)
        for peer in list(self._peers.values()):
            if (
                peer.bound_until
                and not peer.bind_pending
                and peer.bound_until - (CHANNEL_LIFETIME - CHANNEL_REFRESH) <= now
            ):
                self._channel_bind(peer, now)
        for ip, expiry in list(self._permissions.items()):
            if expiry - (PERMISSION_LIFETIME - PERMISSION_REFRESH) > now:
                continue
            peers = [p for p in self._peers.values() if p.address[0] == ip]
            if peers and not any(p.permission_pending for p in peers):
                peers[0].permission_pending = True
                self._create_permission(peers[0].address, now)
