"""Conformance of the STUN codec and the ICE agent to requirements a held-out probe suite
found broken (issue 14): RFC 8489 §6.3.1.1/§6.3.3 (unknown comprehension-required
attributes), §9.2.2 with RFC 8265 §4.2 (OpaqueString passwords), RFC 8445 §14.3 (check
RTO) and RFC 8838 §4.4 (a previous generation's trickled candidates). Virtual time only."""

from __future__ import annotations

import hashlib
import random
import re
import unicodedata

import pytest
import trio
from ice_helpers import IceNetwork, exchange, host, make_agent

from trio_webrtc import PeerConnection, connect_pair
from trio_webrtc.ice import Candidate, IceAgent, IceState, stun
from trio_webrtc.ice.checklist import PairState
from trio_webrtc.ice.srflx import SrflxGatherer
from trio_webrtc.ice.turn import TurnClient, TurnState
from trio_webrtc.testing import MemoryNetwork

A_ADDR = ("127.0.0.1", 10000)
B_ADDR = ("127.0.0.1", 20000)
A_UFRAG, A_PWD = "aaaa", "a" * 22
B_UFRAG, B_PWD = "bbbb", "b" * 22
# libwebrtc's extensions Chromium puts in its checks (all comprehension-optional):
# NOMINATION, GOOG-NETWORK-INFO, GOOG-MISC-INFO, DTLS-IN-STUN and its ACK.
CHROMIUM_EXTENSIONS = (0xC001, 0xC057, 0xC059, 0xC070, 0xC071)


def _agent() -> IceAgent:
    agent = make_agent(False, 1, ufrag=A_UFRAG, pwd=A_PWD)
    agent.add_local_candidate(host(*A_ADDR))
    agent.set_remote_credentials(B_UFRAG, B_PWD)
    return agent


def _check(*extra: tuple[int, stun.AttributeValue]) -> bytes:
    """B's connectivity check to A, signed with A's pwd, carrying ``extra`` attributes."""
    request = stun.Message(
        stun.Method.BINDING,
        stun.MessageClass.REQUEST,
        b"t" * 12,
        (
            (stun.USERNAME, f"{A_UFRAG}:{B_UFRAG}"),
            (stun.PRIORITY, 1 << 24),
            (stun.ICE_CONTROLLING, 1),
            *extra,
        ),
    )
    return stun.encode(request, A_PWD.encode(), True)


def _answer(agent: IceAgent, data: bytes) -> stun.Message:
    agent.receive_datagram(data, A_ADDR, B_ADDR, 0.0)
    responses = [d for d, _, remote in agent.datagrams_to_send(0.0) if d[:2] != b"\x00\x01"]
    assert len(responses) == 1
    assert stun.verify_fingerprint(responses[0])
    return stun.parse_message(responses[0])


# ----------------------------------------------------------- RFC 8489 §6.3.1.1, §6.3.3


def test_request_with_unknown_comprehension_required_attribute_gets_420_listing_them() -> None:
    agent = _agent()
    data = _check((0x7F01, b"\x01\x02"), (0x0003, b"\x00" * 4), (0xC070, b"dtls"))
    response = _answer(agent, data)
    assert response.message_class is stun.MessageClass.ERROR
    assert response.error_code == stun.ErrorCode(420, "Unknown Attribute")
    # Only the comprehension-required ones, in order; CHANGE-REQUEST (0x0003) included.
    assert response.get(stun.UNKNOWN_ATTRIBUTES) == (0x7F01, 0x0003)
    assert stun.verify_integrity(stun.encode(response, A_PWD.encode(), True), A_PWD.encode())
    assert agent.pairs == []  # not a check: no peer-reflexive candidate, no triggered check


def test_chromium_comprehension_optional_attributes_still_get_a_success() -> None:
    agent = _agent()
    response = _answer(agent, _check(*((t, b"\x00" * 4) for t in CHROMIUM_EXTENSIONS)))
    assert response.message_class is stun.MessageClass.SUCCESS
    assert response.get_address(stun.XOR_MAPPED_ADDRESS) == B_ADDR
    assert stun.unknown_comprehension_required(stun.parse_message(_check())) == ()


def test_success_response_with_unknown_comprehension_required_attribute_is_discarded() -> None:
    a = make_agent(True, 1, ufrag=A_UFRAG, pwd=A_PWD)
    exchange_only_a(a)
    a.handle_timer(0.0)
    ((request, local, remote),) = a.datagrams_to_send(0.0)
    tid = stun.parse_message(request).transaction_id

    def response(*extra: tuple[int, stun.AttributeValue]) -> bytes:
        message = stun.Message(
            stun.Method.BINDING,
            stun.MessageClass.SUCCESS,
            tid,
            ((stun.XOR_MAPPED_ADDRESS, A_ADDR), *extra),
        )
        return stun.encode(message, B_PWD.encode(), True)

    a.receive_datagram(response((0x7F01, b"")), local, remote, 0.01)
    # §6.3.3: discarded and the transaction failed: no valid pair, nothing selected.
    assert [p.state for p in a.pairs] == [PairState.FAILED]
    assert a.selected_pair is None
    assert a.state is IceState.FAILED  # the only pair, end-of-candidates signalled


def exchange_only_a(a: IceAgent) -> None:
    a.add_local_candidate(host(*A_ADDR))
    a.set_remote_credentials(B_UFRAG, B_PWD)
    a.add_remote_candidate(host(*B_ADDR), 0.0)
    a.add_remote_candidate(None, 0.0)


def test_success_response_with_only_optional_unknown_attributes_is_used() -> None:
    a = make_agent(True, 1, ufrag=A_UFRAG, pwd=A_PWD)
    exchange_only_a(a)
    a.handle_timer(0.0)
    ((request, local, remote),) = a.datagrams_to_send(0.0)
    message = stun.Message(
        stun.Method.BINDING,
        stun.MessageClass.SUCCESS,
        stun.parse_message(request).transaction_id,
        ((stun.XOR_MAPPED_ADDRESS, A_ADDR), (0xC071, b"ack!")),
    )
    a.receive_datagram(stun.encode(message, B_PWD.encode(), True), local, remote, 0.01)
    assert [p.state for p in a.pairs] == [PairState.SUCCEEDED]
    assert a.selected_pair == (A_ADDR, B_ADDR)


def test_turn_and_stun_server_responses_with_unknown_required_attributes_fail() -> None:
    server = ("203.0.113.1", 3478)
    client = TurnClient(server, "user", "pass")
    client.start(0.0)
    (first,) = client.datagrams_to_send()
    request = stun.parse_message(first)
    success = stun.Message(
        request.method,
        stun.MessageClass.SUCCESS,
        request.transaction_id,
        ((stun.XOR_RELAYED_ADDRESS, ("203.0.113.1", 50000)), (0x0022, b"\x00" * 8)),
    )
    client.receive(stun.encode(success), 0.0)
    assert client.state is TurnState.FAILED
    assert client.failure is not None and "unknown attributes 0x0022" in client.failure
    gatherer = SrflxGatherer(rng=random.Random(1))
    gatherer.start(0.0)
    gatherer.query(A_ADDR, server, 0.0)
    ((query, local, remote),) = gatherer.datagrams_to_send()
    answer = stun.Message(
        stun.Method.BINDING,
        stun.MessageClass.SUCCESS,
        stun.parse_message(query).transaction_id,
        ((stun.XOR_MAPPED_ADDRESS, ("198.51.100.7", 4000)), (0x7F01, b"")),
    )
    assert gatherer.receive_datagram(stun.encode(answer), local, remote, 0.01)
    assert gatherer.next_result() is None  # discarded: no server-reflexive candidate


# ------------------------------------------------------------ RFC 8489 §9.2.2, RFC 8265


def test_long_term_key_prepares_password_with_opaque_string_nfc_and_nfd_agree() -> None:
    nfc = unicodedata.normalize("NFC", "p\u00e4ssw\u00f6rd")
    nfd = unicodedata.normalize("NFD", nfc)
    assert nfc != nfd
    assert stun.long_term_key("user", "realm", nfd) == stun.long_term_key("user", "realm", nfc)
    # Non-ASCII spaces map to U+0020 before hashing.
    assert stun.long_term_key("u", "r", "a\u3000b\u00a0c") == stun.long_term_key("u", "r", "a b c")
    # ASCII stays as it was (the RFC 5769 §2.4 key shape: MD5 of "user:realm:pass").
    assert stun.long_term_key("user", "realm", "pass").hex() == "8493fbc53ba582fb4c044c456bdc40eb"


def test_turn_client_sends_and_keys_opaque_string_prepared_credentials() -> None:
    nfd_user = unicodedata.normalize("NFD", "j\u00fcrgen")
    nfd_pass = unicodedata.normalize("NFD", "p\u00e4ss\u3000word")
    client = TurnClient(("203.0.113.1", 3478), nfd_user, nfd_pass)
    client.start(0.0)
    (first,) = client.datagrams_to_send()
    request = stun.parse_message(first)
    challenge = stun.Message(
        request.method,
        stun.MessageClass.ERROR,
        request.transaction_id,
        (
            (stun.ERROR_CODE, stun.ErrorCode(401, "Unauthorized")),
            (stun.REALM, "realm"),
            (stun.NONCE, "n1"),
        ),
    )
    client.receive(stun.encode(challenge), 0.0)
    (second,) = client.datagrams_to_send()
    assert stun.parse_message(second).get_str(stun.USERNAME) == "j\u00fcrgen"
    key = hashlib.md5("j\u00fcrgen:realm:p\u00e4ss word".encode()).digest()
    assert stun.verify_integrity(second, key)
    refused = TurnClient(("203.0.113.1", 3478), "user", "bad\x07")
    refused.start(0.0)
    (first,) = refused.datagrams_to_send()
    request = stun.parse_message(first)
    challenge = stun.Message(
        request.method, stun.MessageClass.ERROR, request.transaction_id, challenge.attributes
    )
    refused.receive(stun.encode(challenge), 0.0)
    assert refused.state is TurnState.FAILED
    assert refused.failure is not None and "password contains U+0007" in refused.failure


@pytest.mark.parametrize(
    ("password", "code_point"),
    [
        ("a\x00b", "U+0000"),  # control
        ("x\u00ady", "U+00AD"),  # soft hyphen (format)
        ("\u200dx", "U+200D"),  # ZWJ not after a virama
        ("p\ue000", "U+E000"),  # private use
        ("q\ufe0f", "U+FE0F"),  # variation selector (default ignorable)
        ("r\u2028", "U+2028"),  # line separator
    ],
)
def test_opaque_string_refuses_prohibited_code_points(password: str, code_point: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"password contains {code_point} ")):
        stun.long_term_key("user", "realm", password)
    with pytest.raises(ValueError, match="must not be empty"):
        stun.opaque_string("")
    assert stun.opaque_string("\u0915\u094d\u200d\u0937") == "\u0915\u094d\u200d\u0937"


# ------------------------------------------------------------------ RFC 8445 §14.3


def _requests_to_unreachable(count: int, horizon: float, ta: float) -> tuple[int, int, float]:
    """(requests in the first ``horizon`` s, requests in all, time of FAILED)."""
    agent = make_agent(True, 1, ta=ta)
    agent.add_local_candidate(host(*A_ADDR))
    agent.set_remote_credentials(B_UFRAG, B_PWD)
    for i in range(count):
        candidate = Candidate(
            str(i + 1), 1, "udp", 2000 - i, "127.0.0.1", 20000 + i, "host"
        )  # distinct foundations: no pair frozen behind another
        agent.add_remote_candidate(candidate, 0.0)
    agent.add_remote_candidate(None, 0.0)
    early = total = 0
    now = 0.0
    while (timer := agent.get_timer()) is not None:
        now = timer
        agent.handle_timer(now)
        sent = len(agent.datagrams_to_send(now))
        total += sent
        early += sent if now < horizon else 0
    assert agent.state is IceState.FAILED
    return early, total, now


@pytest.mark.parametrize(
    ("ta", "early", "failed_at"),
    [
        # The core's Ta (5 ms): RTO = max(500 ms, 5 ms x 50) = 500 ms; in the first 2 s
        # each pair goes at 0, .5 and 1.5 s after its first check: 150 (was 350, 7 each).
        (0.005, 150, 5.745),
        # The agent's default Ta (50 ms): RTO = 50 ms x 50 = 2.5 s, so in the first 2 s
        # only the first check of each pair, paced at Ta, goes out: 40 (was 188).
        (0.05, 40, 17.45),
    ],
)
def test_check_rto_grows_with_pending_pairs_for_50_unreachable_candidates(
    ta: float, early: int, failed_at: float
) -> None:
    # RFC 8445 §14.3: RTO = max(500 ms, Ta x (Waiting + In-Progress)); 6 per pair in all.
    assert _requests_to_unreachable(50, 2.0, ta) == (early, 50 * 6, pytest.approx(failed_at))


def test_check_rto_floor_is_500_ms_and_loopback_connects_at_once() -> None:
    a = make_agent(True, 1)
    b = make_agent(False, 2)
    net = IceNetwork([(a, [A_ADDR]), (b, [B_ADDR])], delay=0.0005)
    exchange(a, b, [host(*A_ADDR)], [host(*B_ADDR)])
    net.run(lambda: a.state is IceState.COMPLETED and b.state is IceState.COMPLETED)
    assert net.now < 0.06  # first checks answered: the RTO never comes into play
    lone = make_agent(True, 3)
    lone.add_local_candidate(host(*A_ADDR))
    lone.set_remote_credentials(B_UFRAG, B_PWD)
    lone.add_remote_candidate(host(*B_ADDR), 0.0)
    lone.handle_timer(0.0)
    assert len(lone.datagrams_to_send(0.0)) == 1
    lone.handle_timer(0.05)  # the Ta pacing slot: nothing else to check
    assert lone.get_timer() == pytest.approx(0.5)  # the first retransmission


# --------------------------------------------------------------------- RFC 8838 §4.4


def _candidate(port: int, ufrag: str | None) -> Candidate:
    return Candidate("9", 1, "udp", 1 << 24, "127.0.0.1", port, "host", ufrag=ufrag)


def test_trickled_candidate_with_previous_generation_ufrag_is_ignored_after_restart() -> None:
    a = make_agent(True, 1)
    a.add_local_candidate(host(*A_ADDR))
    a.set_remote_credentials("old1", "o" * 22)
    a.add_remote_candidate(_candidate(20000, "old1"), 0.0)
    assert [p.remote.port for p in a.pairs] == [20000]
    a.set_remote_credentials("new1", "n" * 22)  # the peer restarted ICE
    a.add_remote_candidate(_candidate(20001, "old1"), 1.0)  # late, of the old generation
    a.add_remote_candidate(_candidate(20002, "new1"), 1.0)
    a.add_remote_candidate(_candidate(20003, None), 1.0)  # no ufrag: cannot tell, kept
    assert sorted(p.remote.port for p in a.pairs) == [20002, 20003]


def test_previous_generation_candidate_ignored_while_our_restart_awaits_the_answer() -> None:
    a = make_agent(True, 1)
    a.add_local_candidate(host(*A_ADDR))
    a.set_remote_credentials("old1", "o" * 22)
    a.restart(1.0)  # our restart: the remote ufrag is unknown until the answer
    a.add_remote_candidate(_candidate(20001, "old1"), 1.0)
    a.add_remote_candidate(_candidate(20002, "new1"), 1.0)
    a.set_remote_credentials("new1", "n" * 22)
    assert [p.remote.port for p in a.pairs] == [20002]


async def test_peer_connection_ignores_a_trickled_candidate_of_the_previous_generation() -> None:
    net = MemoryNetwork(seed=2)
    with trio.fail_after(30):
        async with PeerConnection(network=net) as a, PeerConnection(network=net) as b:
            await connect_pair(a, b)
            old = b._core.ice.local_ufrag
            b.restart_ice()
            await a.accept_answer(await b.accept_offer(await a.create_offer()))
            await b.accept_answer(await a.accept_offer(await b.create_offer()))
            assert b._core.ice.local_ufrag != old
            ports = {p.remote.port for p in a._core.ice.pairs}
            new = b._core.ice.local_ufrag
            line = "candidate:{} 1 udp 2130706431 10.9.9.9 {} typ host ufrag {}"
            await a.add_ice_candidate(line.format(7, 4242, old))  # in memory: never sent
            await a.add_ice_candidate(line.format(8, 4343, new))
            assert {p.remote.port for p in a._core.ice.pairs} == ports | {4343}
