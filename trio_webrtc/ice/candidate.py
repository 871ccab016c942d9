"""ICE candidates: SDP grammar, priority and foundation.

Implements RFC 8839 §5.1 (``candidate`` attribute grammar, with ``raddr``/``rport`` and
extension attributes such as ``tcptype``, ``generation`` and ``ufrag``), RFC 8445 §5.1.2
(priority formula and recommended type preferences) and §5.1.1.3 (foundations).
Hostname connection addresses (RFC 8839 §5.1, mDNS ``.local`` names) are kept as strings.
"""

from __future__ import annotations

import ipaddress
import re
import zlib
from dataclasses import dataclass, replace

from ..errors import ParseError

__all__ = [
    "TYPE_PREFERENCES",
    "Candidate",
    "CandidateParseError",
    "address_family",
    "compute_foundation",
    "compute_priority",
    "normalize_address",
    "normalize_endpoint",
    "normalized_candidate",
]


class CandidateParseError(ParseError):
    """Malformed ``candidate`` attribute (RFC 8839 §5.1)."""


TYPE_PREFERENCES: dict[str, int] = {"host": 126, "prflx": 110, "srflx": 100, "relay": 0}
"""Recommended type preferences (RFC 8445 §5.1.2.2)."""

_ICE_CHARS = re.compile(r"[A-Za-z0-9+/]{1,32}\Z")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`{|}~A-Za-z0-9]+\Z")
_HOSTNAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9\-.]{0,253})\Z")
_DIGITS = re.compile(r"[0-9]{1,10}\Z")


def compute_priority(candidate_type: str, local_preference: int, component: int) -> int:
    """RFC 8445 §5.1.2.1: ``2^24 * type_pref + 2^8 * local_pref + (256 - component)``."""
    if candidate_type not in TYPE_PREFERENCES:
        raise ValueError(f"unknown candidate type {candidate_type!r}")
    if not 0 <= local_preference <= 0xFFFF or not 1 <= component <= 256:
        raise ValueError("local_preference must be 0-65535 and component 1-256")
    return (TYPE_PREFERENCES[candidate_type] << 24) + (local_preference << 8) + 256 - component


def compute_foundation(
    candidate_type: str, base_address: str, server: str | None, transport: str
) -> str:
    """RFC 8445 §5.1.1.3: equal inputs (type, base IP, STUN/TURN server, transport) give
    equal foundations; different inputs give different ones with overwhelming odds."""
    key = f"{candidate_type}|{base_address}|{server or ''}|{transport.lower()}"
    return str(zlib.crc32(key.encode()))


_ANALYSED: dict[str, tuple[str, int | None]] = {}
_ANALYSED_LIMIT = 1024


def _analyse(address: str) -> tuple[str, int | None]:
    """(normalised text, IP version or ``None``) of ``address``, memoised: every STUN
    message's endpoints are normalised, and ``ipaddress`` parsing costs microseconds."""
    known = _ANALYSED.get(address)
    if known is not None:
        return known
    host, sep, zone = address.partition("%")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        result: tuple[str, int | None] = (address.lower(), None)
    else:
        result = (str(ip) + sep + zone, ip.version)
    if len(_ANALYSED) >= _ANALYSED_LIMIT:
        _ANALYSED.clear()  # bounded: remote addresses come from the network
    _ANALYSED[address] = result
    return result


def normalize_address(address: str) -> str:
    """Canonical text of an IP literal (IPv6 compressed, zone kept); hostnames lower-case."""
    return _analyse(address)[0]


def normalize_endpoint(address: tuple[str, int]) -> tuple[str, int]:
    """(host, port) with the host normalised as by :func:`normalize_address`."""
    host = address[0]
    known = _ANALYSED.get(host)
    return (known[0] if known is not None else _analyse(host)[0], address[1])


def address_family(address: str) -> int | None:
    """4 or 6 for an IP literal, ``None`` for a hostname (e.g. an mDNS ``.local`` name)."""
    return _analyse(address)[1]


def _port(text: str, what: str) -> int:
    if not _DIGITS.match(text) or int(text) > 0xFFFF:
        raise CandidateParseError(f"bad {what} {text!r}")
    return int(text)


def _connection_address(text: str) -> str:
    if address_family(text) is not None:
        return text
    if _HOSTNAME.match(text):
        return text
    raise CandidateParseError(f"bad connection address {text!r}")


@dataclass(frozen=True)
class Candidate:
    """One ICE candidate (RFC 8445 §5.1, RFC 8839 §5.1).

    For local candidates ``address``/``port`` of a host candidate is its base (the bound
    socket address); server-reflexive and relayed candidates carry their base in
    ``related_address``/``related_port``. ``extensions`` keeps unknown name/value pairs in
    order.
    """

    foundation: str
    component: int
    transport: str
    priority: int
    address: str
    port: int
    type: str
    related_address: str | None = None
    related_port: int | None = None
    tcptype: str | None = None
    generation: int | None = None
    ufrag: str | None = None
    extensions: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_sdp(cls, value: str) -> Candidate:
        """Parse ``[a=]candidate:...`` (the prefixes are optional); raise only
        :class:`CandidateParseError`."""
        text = value.strip()
        if text.startswith("a="):
            text = text[2:]
        if text.lower().startswith("candidate:"):
            text = text[len("candidate:") :]
        fields = text.split()
        if len(fields) < 8:
            raise CandidateParseError(f"candidate has too few fields: {value!r}")
        foundation, component, transport, priority, address, port, typ, cand_type = fields[:8]
        if not _ICE_CHARS.match(foundation):
            raise CandidateParseError(f"bad foundation {foundation!r}")
        if not component.isdigit() or not 1 <= int(component) <= 256 or len(component) > 3:
            raise CandidateParseError(f"bad component id {component!r}")
        if not _TOKEN.match(transport):
            raise CandidateParseError(f"bad transport {transport!r}")
        if not _DIGITS.match(priority) or int(priority) > 0xFFFFFFFF:
            raise CandidateParseError(f"bad priority {priority!r}")
        if typ != "typ" or not _TOKEN.match(cand_type):
            raise CandidateParseError(f"expected 'typ <type>' in {value!r}")
        rest = fields[8:]
        if len(rest) % 2:
            raise CandidateParseError(f"dangling extension name in {value!r}")
        related_address: str | None = None
        related_port: int | None = None
        tcptype: str | None = None
        generation: int | None = None
        ufrag: str | None = None
        extensions: list[tuple[str, str]] = []
        for i in range(0, len(rest), 2):
            name, val = rest[i], rest[i + 1]
            if name == "raddr" and related_address is None:
                related_address = _connection_address(val)
            elif name == "rport" and related_port is None:
                related_port = _port(val, "rport")
            elif name == "tcptype" and tcptype is None:
                tcptype = val
            elif name == "generation" and generation is None and _DIGITS.match(val):
                generation = int(val)
            elif name == "ufrag" and ufrag is None:
                ufrag = val
            else:
                if len(extensions) >= 32:
                    raise CandidateParseError("too many candidate extensions")
                extensions.append((name, val))
        return cls(
            foundation=foundation,
            component=int(component),
            transport=transport,
            priority=int(priority),
            address=_connection_address(address),
            port=_port(port, "port"),
            type=cand_type,
            related_address=related_address,
            related_port=related_port,
            tcptype=tcptype,
            generation=generation,
            ufrag=ufrag,
            extensions=tuple(extensions),
        )

    def to_sdp(self) -> str:
        """The attribute value, ``candidate:...`` (no ``a=``)."""
        parts = [
            f"candidate:{self.foundation}",
            str(self.component),
            self.transport,
            str(self.priority),
            self.address,
            str(self.port),
            "typ",
            self.type,
        ]
        if self.related_address is not None:
            parts += ["raddr", self.related_address]
        if self.related_port is not None:
            parts += ["rport", str(self.related_port)]
        if self.tcptype is not None:
            parts += ["tcptype", self.tcptype]
        if self.generation is not None:
            parts += ["generation", str(self.generation)]
        if self.ufrag is not None:
            parts += ["ufrag", self.ufrag]
        for name, val in self.extensions:
            parts += [name, val]
        return " ".join(parts)

    @property
    def family(self) -> int | None:
        """4, 6, or ``None`` for a hostname address."""
        return address_family(self.address)

    @property
    def local_preference(self) -> int:
        """The local-preference bits of ``priority`` (RFC 8445 §5.1.2.1)."""
        return (self.priority >> 8) & 0xFFFF


def normalized_candidate(candidate: Candidate) -> Candidate:
    """``candidate`` with its IP literal address in canonical form."""
    address = normalize_address(candidate.address)
    return candidate if address == candidate.address else replace(candidate, address=address)
