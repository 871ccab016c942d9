"""Server-reflexive candidate gathering (sans-I/O).

Implements RFC 8445 §5.1.1.2 (a Binding request from every host base to every STUN
server; the XOR-MAPPED-ADDRESS of the answer is a server-reflexive candidate whose base,
the related address, is the host base), §5.1.3 (a server-reflexive candidate equal to its
base, as on loopback or without NAT, is redundant and not reported) and RFC 8489 §6.2.1
(retransmissions over UDP: RTO 500 ms doubling, at most 7 requests, then 16·RTO), §6.3.3
(a success response with unknown comprehension-required attributes is discarded), with the
whole phase bounded by ``deadline`` seconds from :meth:`SrflxGatherer.start`.

The owner routes STUN responses from server addresses to :meth:`receive_datagram` (it
returns False for messages that are not ours, which then go to the ICE agent), sends
:meth:`datagrams_to_send` from the given base, and reads :meth:`next_result`.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass

from ..errors import StunParseError
from . import stun
from .candidate import address_family, normalize_endpoint

__all__ = ["GATHER_DEADLINE", "MappedAddress", "SrflxGatherer"]

logger = logging.getLogger("trio_webrtc.ice")

Address = tuple[str, int]

RTO = 0.5
MAX_REQUESTS = 7
GATHER_DEADLINE = 5.0
"""Seconds after start by which every STUN server answered or is given up."""


@dataclass(frozen=True)
class MappedAddress:
    """A server's answer: ``base`` is mapped to ``mapped`` as seen by ``server``."""

    base: Address
    server: Address
    mapped: Address
    redundant: bool  # mapped == base: no candidate to signal (§5.1.3)


@dataclass
class _Query:
    base: Address
    server: Address
    request: bytes
    sent: int = 0
    next_at: float = 0.0
    rto: float = RTO


class SrflxGatherer:
    """Binding requests from bases to STUN servers, with RFC 8489 retransmissions."""

    def __init__(
        self,
        *,
        rng: random.Random | None = None,
        log_prefix: str = "",
        deadline: float = GATHER_DEADLINE,
    ) -> None:
        self._rng = rng or random.Random()
        self._log_prefix = log_prefix
        self._deadline_after = deadline
        self._deadline: float | None = None
        self._queries: dict[bytes, _Query] = {}
        self._asked: set[tuple[Address, Address]] = set()
        self._outgoing: list[tuple[bytes, Address, Address]] = []
        self._results: list[MappedAddress] = []
        self._seen: set[tuple[Address, Address]] = set()  # (base, mapped) already reported
        self.answers: dict[tuple[Address, Address], Address] = {}  # (base, server) -> mapped

    def _log(self, level: int, message: str, *args: object) -> None:
        logger.log(level, "[%s] " + message, self._log_prefix, *args)

    @property
    def done(self) -> bool:
        """No request is outstanding (every server answered, failed or timed out)."""
        return not self._queries

    def start(self, now: float) -> None:
        """Start the gathering clock (the deadline counts from here)."""
        if self._deadline is None:
            self._deadline = now + self._deadline_after

    def query(self, base: Address, server: Address, now: float) -> None:
        """Ask ``server`` for ``base``'s mapped address (same address family only)."""
        self.start(now)
        base, server = normalize_endpoint(base), normalize_endpoint(server)
        if address_family(base[0]) != address_family(server[0]):
            return
        if (base, server) in self._asked:
            return
        assert self._deadline is not None
        if now >= self._deadline:
            return
        self._asked.add((base, server))
        tid = stun.random_transaction_id(self._rng)
        request = stun.encode(
            stun.Message(stun.Method.BINDING, stun.MessageClass.REQUEST, tid), fingerprint=True
        )
        query = _Query(base, server, request)
        self._queries[tid] = query
        self._send(query, now)

    def _send(self, query: _Query, now: float) -> None:
        self._outgoing.append((query.request, query.base, query.server))
        query.sent += 1
        query.next_at = now + (16 * RTO if query.sent == MAX_REQUESTS else query.rto)
        query.rto *= 2
        assert self._deadline is not None
        query.next_at = min(query.next_at, self._deadline)

    def receive_datagram(self, data: bytes, local: Address, remote: Address, now: float) -> bool:
        """Handle a response to one of our requests; False when it is not ours."""
        if len(data) < 20:
            return False
        query = self._queries.get(bytes(data[8:20]))
        if query is None:
            return False
        try:
            message = stun.parse_message(data)
        except StunParseError:
            return False
        if message.method != stun.Method.BINDING or message.message_class not in (
            stun.MessageClass.SUCCESS,
            stun.MessageClass.ERROR,
        ):
            return False
        if normalize_endpoint(remote) != query.server:
            return False
        del self._queries[message.transaction_id]
        if message.message_class is stun.MessageClass.ERROR:
            error = message.error_code
            self._log(
                logging.WARNING,
                "STUN server %s:%d refused Binding: %s",
                *query.server,
                f"{error.code} {error.reason}" if error else "no ERROR-CODE",
            )
            return True
        unknown = stun.unknown_comprehension_required(message)
        if unknown:  # RFC 8489 §6.3.3: discarded, the transaction failed
            self._log(
                logging.WARNING,
                "STUN server %s:%d answered with unknown attributes %s",
                *query.server,
                ", ".join(f"0x{t:04x}" for t in unknown),
            )
            return True
        mapped = message.get_address(stun.XOR_MAPPED_ADDRESS) or message.get_address(
            stun.MAPPED_ADDRESS
        )
        if mapped is None:
            self._log(logging.WARNING, "STUN server %s:%d sent no mapped address", *query.server)
            return True
        mapped = normalize_endpoint(mapped)
        self.answers[(query.base, query.server)] = mapped
        if (query.base, mapped) not in self._seen:
            self._seen.add((query.base, mapped))
            result = MappedAddress(query.base, query.server, mapped, mapped == query.base)
            self._results.append(result)
            self._log(
                logging.DEBUG,
                "STUN %s:%d maps %s to %s%s",
                *query.server,
                query.base,
                mapped,
                " (redundant)" if result.redundant else "",
            )
        return True

    def next_result(self) -> MappedAddress | None:
        """The next distinct (base, mapped address), in the order the answers came."""
        return self._results.pop(0) if self._results else None

    def datagrams_to_send(self) -> list[tuple[bytes, Address, Address]]:
        """Drain (request, base, server) triples."""
        out = self._outgoing
        self._outgoing = []
        return out

    def get_timer(self) -> float | None:
        if not self._queries:
            return None
        return min(q.next_at for q in self._queries.values())

    def handle_timer(self, now: float) -> None:
        assert self._deadline is not None or not self._queries
        for tid, query in list(self._queries.items()):
            if query.next_at > now:
                continue
            if query.sent >= MAX_REQUESTS or (self._deadline is not None and now >= self._deadline):
                del self._queries[tid]
                self._log(logging.INFO, "STUN server %s:%d did not answer", *query.server)
            else:
                self._send(query, now)

    def close(self) -> None:
        self._queries.clear()
        self._outgoing.clear()
