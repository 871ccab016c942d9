"""mDNS ``.local`` candidates: the DNS codec (RFC 1035 §4, RFC 6762), the candidate table,
the trio resolver against a fake responder on 127.0.0.1, and end-to-end connections.

Nothing here sends to the mDNS groups: every resolver is pointed at a fake responder on
127.0.0.1 (or is a stub).
"""

from __future__ import annotations

import contextlib
import struct
import uuid
from collections.abc import Awaitable, Callable

import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from trio_webrtc import PeerConnection
from trio_webrtc._trio.mdns_resolver import DEFAULT_TARGETS, MdnsResolver
from trio_webrtc.core import PeerConnectionCore
from trio_webrtc.errors import ParseError
from trio_webrtc.ice import Candidate
from trio_webrtc.ice.mdns import (
    MAX_MESSAGE_SIZE,
    TYPE_A,
    TYPE_AAAA,
    HostnameCandidates,
    MdnsParseError,
    Question,
    build_query,
    build_response,
    collect_addresses,
    encode_name,
    is_mdns_name,
    parse_message,
)

NAME = "1f4712db-ea17-4bcf-a596-105139dfd8bf.local"
LOOPBACK = {"bindAddress": "127.0.0.1"}


def header(flags: int, *, qd: int = 0, an: int = 0, ar: int = 0, ident: int = 0) -> bytes:
    return struct.pack("!HHHHHH", ident, flags, qd, an, 0, ar)


# ---------------------------------------------------------------------------- codec


def test_query_bytes_are_a_one_shot_qu_query_for_a_and_aaaa() -> None:
    query = build_query("abc.local")
    assert query == bytes.fromhex(
        "0000 0000 0002 0000 0000 0000"  # ID 0, flags 0, two questions
        "03616263 056c6f63616c 00 0001 8001"  # abc.local A, IN with the QU bit
        "c00c 001c 8001"  # compressed name, AAAA, IN with the QU bit
    )
    message = parse_message(query)
    assert not message.is_response and message.id == 0
    assert message.questions == (
        Question("abc.local", TYPE_A, 1, True),
        Question("abc.local", TYPE_AAAA, 1, True),
    )
    assert collect_addresses(query, ["abc.local"]) == {}  # a query answers nothing
    assert parse_message(build_query("abc.local", unicast_response=False)).questions[0] == (
        Question("abc.local", TYPE_A, 1, False)
    )


@pytest.mark.parametrize("name", ["", ".", "a..local", "x" * 64 + ".local", "a." * 130 + "local"])
def test_bad_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError):
        build_query(name)
    assert not is_mdns_name(name)


def test_is_mdns_name() -> None:
    assert is_mdns_name(NAME) and is_mdns_name("Host.LOCAL.")
    assert not is_mdns_name("example.com") and not is_mdns_name("local")


def test_response_round_trip_with_compressed_owner_names() -> None:
    data = build_response(NAME, ["198.51.100.20", "fe80::1", "198.51.100.20"], ttl=120)
    message = parse_message(data)
    assert message.is_response and message.opcode == 0 and message.rcode == 0
    assert [r.name for r in message.answers] == [NAME] * 3
    assert all(r.cache_flush and r.class_ == 1 and r.ttl == 120 for r in message.answers)
    assert [r.address for r in message.answers] == ["198.51.100.20", "fe80::1", "198.51.100.20"]
    assert data.count(encode_name(NAME)) == 1  # later records point at the first name
    assert collect_addresses(data, [NAME.upper()]) == {NAME.upper(): ["198.51.100.20", "fe80::1"]}


def test_captured_style_response_with_additional_records() -> None:
    # What a browser's responder sends to a QU query: QR|AA, no questions, the A answer
    # with the cache-flush bit, an AAAA and an NSEC in the Additional section whose owner
    # names are pointers to the answer's name (offset 12).
    name = encode_name(NAME)
    data = (
        header(0x8400, an=1, ar=2)
        + name
        + bytes.fromhex("0001 8001 00000078 0004 c633640a")  # A 198.51.100.10, TTL 120
        + bytes.fromhex("c00c 001c 8001 00000078 0010")
        + bytes.fromhex("fe800000000000001c2b3c4d5e6f7a8b")  # AAAA fe80::1c2b:3c4d:5e6f:7a8b
        + bytes.fromhex("c00c 002f 8001 00000078 0008 c00c 0004 40000008")  # NSEC
    )
    message = parse_message(data)
    assert [r.type for r in message.answers + message.additionals] == [1, 28, 47]
    assert message.additionals[1].address is None
    assert collect_addresses(data, [NAME]) == {NAME: ["198.51.100.10", "fe80::1c2b:3c4d:5e6f:7a8b"]}
    assert collect_addresses(data, ["other.local"]) == {}


def test_legacy_unicast_style_response_echoing_the_question() -> None:
    # ID echoed, the question repeated, the answer's name a pointer into the question.
    data = (
        header(0x8400, qd=1, an=1, ident=0x1234)
        + encode_name(NAME)
        + bytes.fromhex("0001 0001")
        + bytes.fromhex("c00c 0001 0001 0000000a 0004 c6336405")
    )
    message = parse_message(data)
    assert message.id == 0x1234 and message.questions[0].name == NAME
    assert collect_addresses(data, [NAME]) == {NAME: ["198.51.100.5"]}


def test_what_collect_addresses_ignores() -> None:
    good = build_response(NAME, ["198.51.100.7"])
    assert collect_addresses(good, [NAME]) == {NAME: ["198.51.100.7"]}
    flags_offset = 2
    for flags in (0x0000, 0x8403, 0x8C00):  # a query, RCODE 3, OPCODE 1
        data = bytearray(good)
        struct.pack_into("!H", data, flags_offset, flags)
        assert collect_addresses(bytes(data), [NAME]) == {}
    assert collect_addresses(build_response(NAME, ["198.51.100.7"], ttl=0), [NAME]) == {}
    # An A record with a 5-byte RDATA and a CHAOS-class A record give nothing.
    bad_rdata = header(0x8400, an=1) + encode_name(NAME) + bytes.fromhex("0001 0001 00000078 0005")
    assert collect_addresses(bad_rdata + b"\x01\x02\x03\x04\x05", [NAME]) == {}
    chaos = header(0x8400, an=1) + encode_name(NAME) + bytes.fromhex("0001 0003 00000078 0004")
    assert collect_addresses(chaos + b"\x01\x02\x03\x04", [NAME]) == {}


def _chain(jumps: int) -> bytes:
    """An A record whose owner name is reached through ``jumps`` backward pointers: the
    first record's RDATA (an unknown type) is a chain of pointers, each to the previous
    one, the first to the root name at offset 12."""
    chain = bytearray()
    previous = 12
    for _ in range(jumps - 1):
        chain += struct.pack("!H", 0xC000 | previous)
        previous = 12 + 1 + 10 + len(chain) - 2
    body = bytearray(header(0x8400, an=2))
    body += b"\x00" + struct.pack("!HHIH", 0xFF00, 1, 120, len(chain)) + chain
    body += struct.pack("!H", 0xC000 | previous)  # the A record's owner name
    body += bytes.fromhex("0001 0001 00000078 0004 01020304")
    return bytes(body)


def test_compression_jump_limit() -> None:
    assert parse_message(_chain(16)).answers[1].name == ""
    with pytest.raises(MdnsParseError, match="too many compression"):
        parse_message(_chain(17))


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x00" * 11, "shorter"),
        (header(0x8400, an=1) + b"\xc0\x0c", "backwards"),  # a pointer to itself
        (header(0x8400, an=1) + b"\xc0\x0e\x00", "backwards"),  # a forward pointer
        (header(0x8400, an=1) + b"\xc0", "truncated compression"),
        (header(0x8400, an=1) + b"\x40abc\x00", "reserved label"),
        (header(0x8400, an=1) + b"\x05ab", "label runs past"),
        (header(0x8400, an=1) + b"\x03abc", "name runs past"),
        (header(0x8400, an=1) + b"\x00\x00\x01\x00", "truncated resource"),
        (header(0x8400, an=1) + b"\x00" + bytes.fromhex("0001 0001 00000078 0004 0102"), "RDATA"),
        (header(0x8400, qd=1) + b"\x00\x00", "truncated question"),
        (header(0x8400, an=65), "too many"),
        (header(0x8400, an=1) + (b"\x3f" + b"a" * 63) * 4 + b"\x00", "255"),
        (header(0x8400) + bytes(MAX_MESSAGE_SIZE), "exceeds"),
    ],
)
def test_malformed_messages_raise_parse_error(data: bytes, reason: str) -> None:
    with pytest.raises(MdnsParseError, match=reason):
        parse_message(data)
    assert issubclass(MdnsParseError, ParseError)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=600))
def test_fuzz_random_bytes_raise_only_parse_error(data: bytes) -> None:
    with contextlib.suppress(MdnsParseError):
        collect_addresses(data, [NAME])


_VALID = build_response(NAME, ["198.51.100.3", "fd00::5"], questions=[Question(NAME, 1, 1, True)])


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(_VALID) - 1), st.integers(0, 255)), max_size=6))
def test_fuzz_mutated_responses_raise_only_parse_error(edits: list[tuple[int, int]]) -> None:
    data = bytearray(_VALID)
    for index, value in edits:
        data[index] = value
    try:
        found = collect_addresses(bytes(data), [NAME])
    except MdnsParseError:
        return
    assert all(isinstance(a, str) for addresses in found.values() for a in addresses)


# ------------------------------------------------------------------ candidate table


def host_candidate(address: str, port: int = 5000, foundation: str = "7") -> Candidate:
    return Candidate(foundation, 1, "udp", 2122260223, address, port, "host")


def test_hostname_table_bounds_and_hands_names_out_once() -> None:
    table = HostnameCandidates(max_names=32)
    for i in range(100):
        assert table.hold(host_candidate(f"{uuid.UUID(int=i)}.local"), "u1") == []
    assert len(table) == 32 and table.pending
    names = table.take()
    assert len(names) == 32 and not table.pending and table.take() == []
    assert table.hold(host_candidate("not-mdns.example"), "u1") == []
    assert len(table) == 32
    for name in names:
        table.resolved(name, [], "u1")
    assert len(table) == 0


def test_hostname_table_expands_addresses_and_checks_the_ufrag() -> None:
    table = HostnameCandidates()
    candidate = host_candidate(NAME, 6000)
    table.hold(candidate, "u1")
    table.hold(candidate, "u1")  # duplicates are kept once
    table.hold(host_candidate(NAME, 6001), "old")
    assert table.take() == [NAME]
    resolved = table.resolved(NAME.upper(), ["198.51.100.1", "bogus", "::1", "198.51.100.1"], "u1")
    assert [(c.address, c.port, c.foundation, c.priority, c.type) for c in resolved] == [
        ("198.51.100.1", 6000, "7", 2122260223, "host"),
        ("::1", 6000, "7", 2122260223, "host"),
    ]
    # The name resolved before: a later candidate with it resolves at once.
    later = table.hold(host_candidate(NAME, 6002), "u1")
    assert [(c.address, c.port) for c in later] == [("198.51.100.1", 6002), ("::1", 6002)]
    assert not table.pending


# ----------------------------------------------------------------------------- core


def _cores() -> tuple[PeerConnectionCore, PeerConnectionCore, str]:
    offerer, answerer = PeerConnectionCore(log_prefix="off"), PeerConnectionCore(log_prefix="ans")
    offerer.add_host_address(("127.0.0.1", 40000))
    offer = offerer.create_offer()
    offerer.set_local_description("offer", offer, 0.0)
    return offerer, answerer, offer


def test_core_holds_hostname_candidates_and_adds_them_resolved() -> None:
    _, core, offer = _cores()
    line = f"a=candidate:3 1 udp 2122260223 {NAME} 51000 typ host\r\n"
    offer = offer.replace("a=ice-ufrag", line + "a=ice-ufrag", 1)
    core.add_host_address(("127.0.0.1", 40001))
    core.set_remote_description("offer", offer, 0.0)
    assert core.hostnames_pending
    assert core.hostnames_to_resolve() == [NAME]
    assert not core.hostnames_pending and core.hostnames_to_resolve() == []
    assert all(c.address != NAME for c in core.ice._remote_candidates)
    core.set_local_description("answer", core.create_answer(), 0.0)  # gathers the host
    core.hostname_resolved(NAME, ["127.0.0.1"], 0.1)
    resolved = [c for c in core.ice._remote_candidates if c.port == 51000]
    assert [(c.address, c.foundation, c.priority, c.type) for c in resolved] == [
        ("127.0.0.1", "3", 2122260223, "host")
    ]
    assert any(p.remote_address == ("127.0.0.1", 51000) for p in core.ice.pairs)


def test_core_pending_names_stay_bounded_and_failures_add_nothing() -> None:
    _, core, offer = _cores()
    core.set_remote_description("offer", offer, 0.0)
    for i in range(200):
        value = f"candidate:1 1 udp 2122260223 {uuid.UUID(int=i)}.local {1000 + i} typ host"
        core.add_remote_candidate(value, "0", 0, 0.0)
    names = core.hostnames_to_resolve()
    assert len(names) == 32 and len(core._hostnames) == 32
    before = list(core.ice._remote_candidates)
    for name in names:
        core.hostname_resolved(name, [], 1.0)
    assert core.ice._remote_candidates == before and len(core._hostnames) == 0


def test_resolution_after_an_ice_restart_is_dropped() -> None:
    offerer, core, offer = _cores()
    core.set_remote_description("offer", offer, 0.0)
    core.add_remote_candidate(f"candidate:1 1 udp 2122260223 {NAME} 5000 typ host", "0", 0, 0.0)
    assert core.hostnames_to_resolve() == [NAME]
    answer = core.create_answer()
    core.set_local_description("answer", answer, 0.0)
    offerer.set_remote_description("answer", answer, 0.0)
    offerer.restart_ice(0.0)
    restart = offerer.create_offer()
    offerer.set_local_description("offer", restart, 0.0)
    core.set_remote_description("offer", restart, 0.0)  # new remote ufrag
    core.hostname_resolved(NAME, ["127.0.0.1"], 0.5)
    assert all(c.port != 5000 for c in core.ice._remote_candidates)


def test_a_resolved_candidate_replaces_the_peer_reflexive_one() -> None:
    _, core, offer = _cores()
    core.set_remote_description("offer", offer, 0.0)
    prflx = Candidate("prflx1", 1, "udp", 1845501695, "127.0.0.1", 5000, "prflx")
    core.ice.add_remote_candidate(prflx, 0.0)  # as if learnt from a check
    core.add_remote_candidate(f"candidate:9 1 udp 2122260223 {NAME} 5000 typ host", "0", 0, 0.0)
    core.hostname_resolved(core.hostnames_to_resolve()[0], ["127.0.0.1"], 0.1)
    (remote,) = [c for c in core.ice._remote_candidates if c.port == 5000]
    assert (remote.type, remote.foundation, remote.priority) == ("host", "9", 2122260223)


# ------------------------------------------------------------------ trio resolver


class FakeResponder:
    """Answers one-shot queries on 127.0.0.1 for the names it knows, checking their bytes."""

    def __init__(self, names: dict[str, list[str]], *, drop: int = 0) -> None:
        self.names = names
        self.drop = drop
        self.queries: list[tuple[bytes, tuple[str, int]]] = []
        self.socket = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM)
        self.address: tuple[str, int] = ("127.0.0.1", 0)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        with self.socket:
            await self.socket.bind(("127.0.0.1", 0))
            self.address = self.socket.getsockname()
            task_status.started()
            while True:
                data, source = await self.socket.recvfrom(9000)
                self.queries.append((data, source))
                question = parse_message(data).questions[0].name
                assert data == build_query(question)  # exactly the one-shot QU query
                # Names match case-insensitively; the answer keeps the registered case.
                known = next((n for n in self.names if n.lower() == question.lower()), None)
                if len(self.queries) <= self.drop or known is None:
                    continue
                await self.socket.sendto(build_response(known, self.names[known]), source)


async def test_resolver_against_a_fake_responder() -> None:
    responder = FakeResponder({NAME: ["198.51.100.77", "fd00::7"]})
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            await nursery.start(responder.run)
            resolver = MdnsResolver([responder.address], interval=0.05)
            assert await resolver.resolve(NAME) == ["198.51.100.77", "fd00::7"]
            assert await resolver(NAME.upper()) == ["198.51.100.77", "fd00::7"]
            assert len(responder.queries) == 2
            source = responder.queries[0][1]
            assert source[0] == "127.0.0.1" and source[1] != 5353
            nursery.cancel_scope.cancel()


async def test_resolver_retries_then_gives_up() -> None:
    responder = FakeResponder({NAME: ["198.51.100.99"]}, drop=2)
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            await nursery.start(responder.run)
            resolver = MdnsResolver([responder.address], attempts=3, interval=0.05)
            assert await resolver.resolve(NAME) == ["198.51.100.99"]  # the third query answered
            assert len(responder.queries) == 3
            responder.queries.clear()
            assert await resolver.resolve("unknown.local") is None
            assert await resolver("unknown.local") == []
            assert len(responder.queries) == 6  # three transmissions each
            assert await resolver.resolve("not a name..local") is None
            nursery.cancel_scope.cancel()


async def test_resolver_ignores_answers_from_elsewhere() -> None:
    # The target answers other names only; the right answer comes from another port.
    queries: list[bytes] = []
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            target = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM)
            other = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM)
            with target, other:
                await target.bind(("127.0.0.1", 0))
                await other.bind(("127.0.0.1", 0))

                async def answer_wrongly() -> None:
                    while True:
                        data, source = await target.recvfrom(9000)
                        queries.append(data)
                        await target.sendto(build_response("other.local", ["198.51.100.1"]), source)
                        await target.sendto(b"\x00garbage", source)
                        await other.sendto(build_response(NAME, ["198.51.100.2"]), source)

                nursery.start_soon(answer_wrongly)
                resolver = MdnsResolver([target.getsockname()], attempts=2, interval=0.05)
                assert await resolver.resolve(NAME) is None
                assert queries == [build_query(NAME)] * 2
                nursery.cancel_scope.cancel()


def test_default_targets_are_the_mdns_groups() -> None:
    assert DEFAULT_TARGETS == (("224.0.0.251", 5353), ("ff02::fb", 5353))
    assert MdnsResolver().targets == DEFAULT_TARGETS  # constructed, never used here
    with pytest.raises(ValueError):
        MdnsResolver(attempts=0)


# -------------------------------------------------------------------- end to end


def _hide(value: str, names: dict[str, list[str]]) -> str:
    """Rewrite a host candidate's address to a fresh ``<uuid>.local`` name."""
    fields = value.split()
    if fields[7] == "host":
        name = f"{uuid.uuid4()}.local"
        names[name] = [fields[4]]
        fields[4] = name
    return " ".join(fields)


async def _signal(
    a: PeerConnection,
    b: PeerConnection,
    *,
    b_to_a: Callable[[str], str],
    a_to_b: bool = True,
) -> None:
    """Offer from a, answer from b; b's candidates go to a through ``b_to_a``; a's go to
    b only when ``a_to_b``."""
    answer = await b.accept_offer(await a.create_offer())
    await a.accept_answer(answer)

    async def trickle(source: PeerConnection, add: Callable[[str], Awaitable[None]] | None) -> None:
        async for candidate in source.local_candidates():
            if add is not None and candidate.candidate is not None:
                await add(candidate.candidate)

    async def to_a(value: str) -> None:
        await a.add_ice_candidate(b_to_a(value))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(trickle, b, to_a)
        nursery.start_soon(trickle, a, b.add_ice_candidate if a_to_b else None)


async def test_hidden_host_candidates_are_resolved_and_used() -> None:
    # b signals only <uuid>.local names and a's candidates never reach b: b cannot send
    # first, so the connection needs a to resolve b's names.
    names: dict[str, list[str]] = {}
    responder = FakeResponder(names)
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            await nursery.start(responder.run)
            resolver = MdnsResolver([responder.address], interval=0.2)
            async with (
                PeerConnection(LOOPBACK, name="a", mdns_resolver=resolver) as a,
                PeerConnection(LOOPBACK, name="b") as b,
            ):
                channel = a.create_data_channel("hidden")
                await _signal(a, b, b_to_a=lambda v: _hide(v, names), a_to_b=False)
                await a.wait_connected()
                await b.wait_connected()
                assert names and len(responder.queries) >= len(names)
                remote = a._core.ice._remote_candidates
                b_address = b.local_addresses[0]
                assert any(
                    (c.address, c.port, c.type) == (b_address[0], b_address[1], "host")
                    for c in remote
                )
                assert a._core.ice.selected_pair is not None
                assert a._core.ice.selected_pair[1] == b_address
                incoming = await b.accept_channel()
                await channel.send("over the resolved pair")
                assert await incoming.receive() == "over the resolved pair"
            nursery.cancel_scope.cancel()


async def test_an_unresolvable_name_never_blocks_the_connection() -> None:
    calls: list[str] = []

    async def never(name: str) -> list[str]:
        calls.append(name)
        await trio.sleep_forever()
        raise AssertionError

    with trio.fail_after(20):
        async with (
            PeerConnection(LOOPBACK, name="a", mdns_resolver=never) as a,
            PeerConnection(LOOPBACK, name="b") as b,
        ):
            names: dict[str, list[str]] = {}
            await _signal(a, b, b_to_a=lambda v: _hide(v, names))
            await a.wait_connected()  # through the peer-reflexive candidate
            await b.wait_connected()
            assert calls and set(calls) <= set(names)
            assert all(c.type == "prflx" for c in a._core.ice._remote_candidates)
        # Leaving the block cancelled the pending resolution.
