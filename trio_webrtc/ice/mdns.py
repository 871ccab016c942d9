"""A small DNS message codec for resolving mDNS ``.local`` ICE candidates.

Browsers that hide local addresses signal host candidates as ``<uuid>.local`` names
(draft-ietf-mmusic-mdns-ice-candidates §3.2); the receiving agent resolves them with
Multicast DNS one-shot queries. This module builds and parses those DNS messages and does
no I/O (the trio side is :mod:`trio_webrtc._trio.mdns_resolver`).

Implements RFC 1035 §4.1 (header, question and resource record formats), §3.1 and §4.1.4
(names, label limits and compression pointers), §3.4.1 (A RDATA) and RFC 3596 §2.2 (AAAA
RDATA); from RFC 6762: §5.1 (one-shot queries), §5.4 (the QU bit: unicast responses
requested, set in every question), §6 (responses: answers may sit in the Answer or
Additional section, questions in a response are ignored), §10.2 (the cache-flush bit of
the rrclass is not part of the class), §16 (names compared case-insensitively), §17 (a
message is at most 9000 bytes) and §18 (ID 0 in queries, ignored in responses; QR must be
1, OPCODE and RCODE 0, else the message is ignored).

Parsing is bounded: at most 9000 bytes, 64 questions plus records and 16 compression
jumps per name, pointers strictly backwards; any malformed input raises
:class:`MdnsParseError` and nothing else.

:class:`HostnameCandidates` is the core's table of remote candidates waiting for their
name to resolve (bounded: 32 names); a resolved name gives the same candidate with each
address in place of the name (draft-ietf-mmusic-mdns-ice-candidates §3.2.2).
"""

from __future__ import annotations

import ipaddress
import logging
import struct
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, replace

from ..errors import ParseError
from .candidate import Candidate

__all__ = [
    "CLASS_IN",
    "MAX_COMPRESSION_JUMPS",
    "MAX_MESSAGE_SIZE",
    "MAX_RECORDS",
    "MDNS_GROUP_V4",
    "MDNS_GROUP_V6",
    "MDNS_PORT",
    "TYPE_A",
    "TYPE_AAAA",
    "DnsMessage",
    "HostnameCandidates",
    "MdnsParseError",
    "Question",
    "ResourceRecord",
    "build_query",
    "build_response",
    "collect_addresses",
    "encode_name",
    "is_mdns_name",
    "parse_message",
]

MDNS_GROUP_V4 = "224.0.0.251"
MDNS_GROUP_V6 = "ff02::fb"
MDNS_PORT = 5353

TYPE_A = 1
TYPE_AAAA = 28
CLASS_IN = 1
_CLASS_MASK = 0x7FFF
_TOP_BIT = 0x8000  # QU in a question (§5.4), cache-flush in a record (§10.2)

_FLAG_QR = 0x8000
_FLAG_AA = 0x0400
_OPCODE_MASK = 0x7800
_RCODE_MASK = 0x000F

MAX_MESSAGE_SIZE = 9000
MAX_RECORDS = 64
MAX_COMPRESSION_JUMPS = 16
_MAX_NAME = 255  # wire octets, RFC 1035 §3.1
_MAX_LABEL = 63

logger = logging.getLogger("trio_webrtc.mdns")

_HEADER = struct.Struct("!HHHHHH")
_QUESTION_TAIL = struct.Struct("!HH")
_RECORD_TAIL = struct.Struct("!HHIH")


class MdnsParseError(ParseError):
    """A malformed DNS message (RFC 1035 §4, RFC 6762 §18)."""


@dataclass(frozen=True, slots=True)
class Question:
    name: str
    type: int
    class_: int
    unicast_response: bool = False


@dataclass(frozen=True, slots=True)
class ResourceRecord:
    name: str
    type: int
    class_: int
    ttl: int
    rdata: bytes
    cache_flush: bool = False

    @property
    def address(self) -> str | None:
        """The IP text of an IN A/AAAA record with well-sized RDATA, else None."""
        if self.class_ != CLASS_IN:
            return None
        if self.type == TYPE_A and len(self.rdata) == 4:
            return str(ipaddress.IPv4Address(self.rdata))
        if self.type == TYPE_AAAA and len(self.rdata) == 16:
            return str(ipaddress.IPv6Address(self.rdata))
        return None


@dataclass(frozen=True, slots=True)
class DnsMessage:
    id: int
    flags: int
    questions: tuple[Question, ...]
    answers: tuple[ResourceRecord, ...]
    authorities: tuple[ResourceRecord, ...]
    additionals: tuple[ResourceRecord, ...]

    @property
    def is_response(self) -> bool:
        return bool(self.flags & _FLAG_QR)

    @property
    def opcode(self) -> int:
        return (self.flags & _OPCODE_MASK) >> 11

    @property
    def rcode(self) -> int:
        return self.flags & _RCODE_MASK


# ---------------------------------------------------------------------------- names


def _labels(name: str) -> list[bytes]:
    text = name[:-1] if name.endswith(".") else name
    if not text:
        raise ValueError("empty DNS name")
    labels = [label.encode("utf-8") for label in text.split(".")]
    if any(not 0 < len(label) <= _MAX_LABEL for label in labels):
        raise ValueError(f"bad DNS label in {name!r}")
    if sum(len(label) + 1 for label in labels) + 1 > _MAX_NAME:
        raise ValueError(f"DNS name too long: {name!r}")
    return labels


def encode_name(name: str) -> bytes:
    """Uncompressed wire form of ``name`` (RFC 1035 §3.1); raises ``ValueError``."""
    return b"".join(bytes([len(label)]) + label for label in _labels(name)) + b"\x00"


def is_mdns_name(name: str) -> bool:
    """True for a well-formed name under ``.local`` (RFC 6762 §3) that fits a question."""
    if not name.lower().rstrip(".").endswith(".local"):
        return False
    try:
        _labels(name)
    except (ValueError, UnicodeError):
        return False
    return True


def _canonical(name: str) -> str:
    return name.rstrip(".").lower()


# --------------------------------------------------------------------------- build


def build_query(name: str, *, unicast_response: bool = True) -> bytes:
    """A one-shot query (RFC 6762 §5.1): ID 0, flags 0, questions A and AAAA for
    ``name`` with the QU bit set (§5.4) unless ``unicast_response`` is False."""
    encoded = encode_name(name)
    qclass = CLASS_IN | (_TOP_BIT if unicast_response else 0)
    header = _HEADER.pack(0, 0, 2, 0, 0, 0)
    # The second question points at the first one's name (offset 12, RFC 1035 §4.1.4).
    return (
        header
        + encoded
        + _QUESTION_TAIL.pack(TYPE_A, qclass)
        + b"\xc0\x0c"
        + _QUESTION_TAIL.pack(TYPE_AAAA, qclass)
    )


def build_response(
    name: str,
    addresses: Iterable[str],
    *,
    ttl: int = 120,
    message_id: int = 0,
    questions: Iterable[Question] = (),
    cache_flush: bool = True,
) -> bytes:
    """An authoritative response with one A/AAAA record per address, the owner name
    compressed after the first record (what a responder sends; used by tests)."""
    body = bytearray()
    question_list = list(questions)
    for question in question_list:
        body += encode_name(question.name)
        qclass = question.class_ | (_TOP_BIT if question.unicast_response else 0)
        body += _QUESTION_TAIL.pack(question.type, qclass)
    records = 0
    first_offset: int | None = None
    for text in addresses:
        ip = ipaddress.ip_address(text)
        rtype = TYPE_A if ip.version == 4 else TYPE_AAAA
        if first_offset is None:
            first_offset = _HEADER.size + len(body)
            body += encode_name(name)
        else:
            body += struct.pack("!H", 0xC000 | first_offset)
        rclass = CLASS_IN | (_TOP_BIT if cache_flush else 0)
        body += _RECORD_TAIL.pack(rtype, rclass, ttl, len(ip.packed)) + ip.packed
        records += 1
    flags = _FLAG_QR | _FLAG_AA
    header = _HEADER.pack(message_id, flags, len(question_list), records, 0, 0)
    return header + bytes(body)


# --------------------------------------------------------------------------- parse


def _read_name(data: bytes, offset: int) -> tuple[str, int]:
    """The name at ``offset`` and the offset just past it (in the original position)."""
    labels: list[str] = []
    wire_length = 1
    jumps = 0
    end: int | None = None
    position = offset
    while True:
        if position >= len(data):
            raise MdnsParseError("name runs past the end of the message")
        length = data[position]
        kind = length & 0xC0
        if kind == 0xC0:
            if position + 1 >= len(data):
                raise MdnsParseError("truncated compression pointer")
            target = ((length & 0x3F) << 8) | data[position + 1]
            if end is None:
                end = position + 2
            jumps += 1
            if jumps > MAX_COMPRESSION_JUMPS:
                raise MdnsParseError("too many compression pointers in a name")
            if target >= position:
                raise MdnsParseError("compression pointer does not point backwards")
            position = target
            continue
        if kind:
            raise MdnsParseError(f"reserved label type 0x{kind:02x}")
        if length == 0:
            return ".".join(labels), end if end is not None else position + 1
        start = position + 1
        stop = start + length
        if stop > len(data):
            raise MdnsParseError("label runs past the end of the message")
        wire_length += length + 1
        if wire_length > _MAX_NAME:
            raise MdnsParseError("name longer than 255 octets")
        labels.append(data[start:stop].decode("utf-8", "replace"))
        position = stop


def _read_records(data: bytes, offset: int, count: int) -> tuple[list[ResourceRecord], int]:
    records: list[ResourceRecord] = []
    for _ in range(count):
        name, offset = _read_name(data, offset)
        if offset + _RECORD_TAIL.size > len(data):
            raise MdnsParseError("truncated resource record")
        rtype, rclass, ttl, rdlength = _RECORD_TAIL.unpack_from(data, offset)
        offset += _RECORD_TAIL.size
        if offset + rdlength > len(data):
            raise MdnsParseError("RDATA runs past the end of the message")
        rdata = data[offset : offset + rdlength]
        offset += rdlength
        records.append(
            ResourceRecord(
                name=name,
                type=rtype,
                class_=rclass & _CLASS_MASK,
                ttl=ttl,
                rdata=rdata,
                cache_flush=bool(rclass & _TOP_BIT),
            )
        )
    return records, offset


def parse_message(data: bytes) -> DnsMessage:
    """Parse a DNS message; raise only :class:`MdnsParseError` (bounds: module doc)."""
    data = bytes(data)
    if len(data) > MAX_MESSAGE_SIZE:
        raise MdnsParseError(f"message of {len(data)} bytes exceeds {MAX_MESSAGE_SIZE}")
    if len(data) < _HEADER.size:
        raise MdnsParseError("message shorter than the DNS header")
    message_id, flags, qdcount, ancount, nscount, arcount = _HEADER.unpack_from(data)
    if qdcount + ancount + nscount + arcount > MAX_RECORDS:
        raise MdnsParseError("too many questions and records")
    offset = _HEADER.size
    questions: list[Question] = []
    for _ in range(qdcount):
        name, offset = _read_name(data, offset)
        if offset + _QUESTION_TAIL.size > len(data):
            raise MdnsParseError("truncated question")
        qtype, qclass = _QUESTION_TAIL.unpack_from(data, offset)
        offset += _QUESTION_TAIL.size
        questions.append(Question(name, qtype, qclass & _CLASS_MASK, bool(qclass & _TOP_BIT)))
    answers, offset = _read_records(data, offset, ancount)
    authorities, offset = _read_records(data, offset, nscount)
    additionals, offset = _read_records(data, offset, arcount)
    return DnsMessage(
        id=message_id,
        flags=flags,
        questions=tuple(questions),
        answers=tuple(answers),
        authorities=tuple(authorities),
        additionals=tuple(additionals),
    )


def collect_addresses(data: bytes, names: Iterable[str]) -> dict[str, list[str]]:
    """The A/AAAA addresses a response gives for each of ``names`` (Answer and Additional
    sections, names compared case-insensitively, RFC 6762 §6 and §16), in order and
    deduplicated. Queries, non-zero OPCODE/RCODE and records with TTL 0 (goodbyes,
    §10.1) give nothing. Raises :class:`MdnsParseError` for malformed input."""
    message = parse_message(data)
    wanted = {_canonical(name): name for name in names}
    found: dict[str, list[str]] = {}
    if not message.is_response or message.opcode or message.rcode:
        return found
    for record in message.answers + message.additionals:
        key = _canonical(record.name)
        if key not in wanted or record.ttl == 0:
            continue
        address = record.address
        if address is None:
            continue
        addresses = found.setdefault(wanted[key], [])
        if address not in addresses:
            addresses.append(address)
    return found


# ----------------------------------------------------------------- candidate table


class HostnameCandidates:
    """Remote candidates whose address is an mDNS name, until the name resolves.

    :meth:`hold` keeps a candidate (per name, tagged with the remote ICE ufrag it arrived
    under) or, when the name already resolved, returns the resolved candidates at once;
    :meth:`take` hands each new name out once for resolution; :meth:`resolved` returns
    the candidates of a resolved name whose ufrag is still the current one. At most
    ``max_names`` names are held (further ones are dropped: the peer-reflexive candidate
    still works), ``max_per_name`` candidates per name and ``max_addresses`` addresses
    per answer are used; the last ``max_names`` answers are remembered.
    """

    def __init__(
        self,
        *,
        max_names: int = 32,
        max_per_name: int = 8,
        max_addresses: int = 4,
        log_prefix: str = "",
    ) -> None:
        self.max_names = max_names
        self.max_per_name = max_per_name
        self.max_addresses = max_addresses
        self.log_prefix = log_prefix
        self._held: dict[str, list[tuple[Candidate, str | None]]] = {}
        self._new: list[str] = []
        self._answers: OrderedDict[str, list[str]] = OrderedDict()

    def __len__(self) -> int:
        """How many names are held (waiting to be handed out or to resolve)."""
        return len(self._held)

    @property
    def pending(self) -> bool:
        """True while some held name was not handed out by :meth:`take` yet."""
        return bool(self._new)

    def _log(self, level: int, message: str, *args: object) -> None:
        logger.log(level, "[%s] " + message, self.log_prefix, *args)

    def _expand(self, candidate: Candidate, addresses: list[str]) -> list[Candidate]:
        return [replace(candidate, address=address) for address in addresses]

    def hold(self, candidate: Candidate, ufrag: str | None) -> list[Candidate]:
        """Keep ``candidate`` until its name resolves; return the candidates to add now
        (the name resolved before) or [] (held, or dropped when it is not an mDNS name
        or the table is full)."""
        name = _canonical(candidate.address)
        answer = self._answers.get(name)
        if answer is not None:
            return self._expand(candidate, answer)
        if not is_mdns_name(name):
            self._log(logging.DEBUG, "ignoring hostname candidate %s", candidate.address)
            return []
        held = self._held.get(name)
        if held is None:
            if len(self._held) >= self.max_names:
                self._log(logging.WARNING, "too many mDNS names pending, ignoring %s", name)
                return []
            held = self._held[name] = []
            self._new.append(name)
        if len(held) < self.max_per_name and all(c != candidate for c, _ in held):
            held.append((candidate, ufrag))
        return []

    def take(self) -> list[str]:
        """The held names not handed out before; each one is handed out once."""
        names, self._new = self._new, []
        return names

    def resolved(self, name: str, addresses: list[str], ufrag: str | None) -> list[Candidate]:
        """``name`` resolved to ``addresses`` (IP strings; [] when it did not): the held
        candidates, with each address, that still belong to the remote ``ufrag``."""
        key = _canonical(name)
        held = self._held.pop(key, [])
        if key in self._new:
            self._new.remove(key)
        usable: list[str] = []
        for address in addresses:
            try:
                text = str(ipaddress.ip_address(address))
            except ValueError:
                continue
            if text not in usable:
                usable.append(text)
            if len(usable) >= self.max_addresses:
                break
        if not usable:
            if held:
                self._log(logging.INFO, "%s did not resolve; relying on peer-reflexive", key)
            return []
        self._answers[key] = usable
        self._answers.move_to_end(key)
        while len(self._answers) > self.max_names:
            self._answers.popitem(last=False)
        out: list[Candidate] = []
        for candidate, held_ufrag in held:
            if held_ufrag == ufrag:
                out.extend(self._expand(candidate, usable))
        if out:
            self._log(logging.INFO, "%s resolved to %s", key, ", ".join(usable))
        return out
