"""IceAgent in virtual time: connectivity, loss, roles, trickle, consent, restart."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ice_helpers import IceNetwork, LiteResponder, exchange, host, make_agent

from trio_webrtc.errors import InvalidStateError
from trio_webrtc.ice import (
    Candidate,
    IceAgent,
    IceState,
    IceStateChanged,
    PairState,
    SelectedPairChanged,
    stun,
)

A_ADDR = ("127.0.0.1", 10000)
B_ADDR = ("127.0.0.1", 20000)
UP = (IceState.CONNECTED, IceState.COMPLETED)


def _pair(
    *,
    a_controlling: bool = True,
    b_controlling: bool = False,
    loss: float = 0.0,
    delay: float = 0.005,
    seed: int = 0,
    a_addrs: tuple[tuple[str, int], ...] = (A_ADDR,),
    b_addrs: tuple[tuple[str, int], ...] = (B_ADDR,),
    **kwargs: object,
) -> tuple[IceAgent, IceAgent, IceNetwork]:
    a = make_agent(a_controlling, 2 * seed + 1, **kwargs)
    b = make_agent(b_controlling, 2 * seed + 2, **kwargs)
    net = IceNetwork([(a, a_addrs), (b, b_addrs)], loss=loss, delay=delay, seed=seed)
    return a, b, net


def _connected(*agents: IceAgent) -> bool:
    return all(agent.state in UP for agent in agents)


def _states(net: IceNetwork, index: int) -> list[IceState]:
    return [e.state for _, e in net.events_of(index) if isinstance(e, IceStateChanged)]


def _state_times(net: IceNetwork, index: int, state: IceState) -> list[float]:
    return [
        t for t, e in net.events_of(index) if isinstance(e, IceStateChanged) and e.state is state
    ]


def _connect(a: IceAgent, b: IceAgent, net: IceNetwork, *, eoc: bool = True) -> float:
    exchange(a, b, [host(*x) for x in net.nodes[0].addresses],
             [host(*x) for x in net.nodes[1].addresses], end_of_candidates=eoc)  # fmt: skip
    return net.run(lambda: _connected(a, b) and a.selected_pair is not None, timeout=10)


# --------------------------------------------------------------------- connectivity


@pytest.mark.parametrize(
    ("a_addr", "b_addr"),
    [(A_ADDR, B_ADDR), (("::1", 10000), ("::1", 20000))],
)
def test_two_agents_connect(a_addr: tuple[str, int], b_addr: tuple[str, int]) -> None:
    a, b, net = _pair(a_addrs=(a_addr,), b_addrs=(b_addr,))
    _connect(a, b, net)
    assert a.selected_pair == (a_addr, b_addr)
    net.run(lambda: b.selected_pair is not None, timeout=1)
    assert b.selected_pair == (b_addr, a_addr)
    assert a.is_valid_remote(a_addr, b_addr) and b.is_valid_remote(b_addr, a_addr)
    assert not a.is_valid_remote(a_addr, ("127.0.0.9", 1))
    # CONNECTED on the first valid pair; vanilla ICE with end-of-candidates: every pair
    # checked and one nominated, so COMPLETED.
    net.run(lambda: all(x.state is IceState.COMPLETED for x in (a, b)), timeout=1)
    assert _states(net, 0) == [IceState.CHECKING, IceState.CONNECTED, IceState.COMPLETED]
    assert _states(net, 1) == [IceState.CHECKING, IceState.CONNECTED, IceState.COMPLETED]
    assert all(p.nominated for p in a.pairs + b.pairs)
    changes = [e for _, e in net.events_of(0) if isinstance(e, SelectedPairChanged)]
    assert changes == [SelectedPairChanged(a_addr, b_addr)]


def test_dual_stack_pairs_only_same_family_and_picks_best() -> None:
    a_addrs = (A_ADDR, ("::1", 10000))
    b_addrs = (B_ADDR, ("::1", 20000))
    a, b, net = _pair(a_addrs=a_addrs, b_addrs=b_addrs)
    a.add_local_candidate(host(*a_addrs[0], local_preference=65535))
    a.add_local_candidate(host(*a_addrs[1], local_preference=100))
    b.add_local_candidate(host(*b_addrs[0], local_preference=65535))
    b.add_local_candidate(host(*b_addrs[1], local_preference=100))
    a.set_remote_credentials(b.local_ufrag, b.local_pwd)
    b.set_remote_credentials(a.local_ufrag, a.local_pwd)
    a.add_remote_candidate(host(*b_addrs[0], local_preference=65535), 0.0)
    a.add_remote_candidate(host(*b_addrs[1], local_preference=100), 0.0)
    b.add_remote_candidate(host(*a_addrs[0], local_preference=65535), 0.0)
    b.add_remote_candidate(host(*a_addrs[1], local_preference=100), 0.0)
    assert len(a.pairs) == 2  # 127.0.0.1<->127.0.0.1 and ::1<->::1 only
    net.run(lambda: _connected(a, b) and b.selected_pair is not None, timeout=5)
    assert a.selected_pair == (A_ADDR, B_ADDR)
    assert b.selected_pair == (B_ADDR, A_ADDR)


@pytest.mark.parametrize("seed", range(8))
def test_connect_under_loss_and_delay(seed: int) -> None:
    a, b, net = _pair(loss=0.2, delay=0.05, seed=seed)
    _connect(a, b, net)
    net.run(lambda: b.selected_pair is not None, timeout=10)
    assert a.selected_pair == (A_ADDR, B_ADDR)
    assert b.selected_pair == (B_ADDR, A_ADDR)


@pytest.mark.parametrize("controlling", [True, False])
def test_role_conflict_resolves(controlling: bool) -> None:
    a, b, net = _pair(a_controlling=controlling, b_controlling=controlling)
    _connect(a, b, net)
    net.run(lambda: b.selected_pair is not None, timeout=5)
    assert a.controlling != b.controlling
    # RFC 8445 §7.3.1.1: the larger tie-breaker ends up controlling.
    winner = a if a.tie_breaker > b.tie_breaker else b
    assert winner.controlling
    assert a.selected_pair == (A_ADDR, B_ADDR) and b.selected_pair == (B_ADDR, A_ADDR)


def test_set_controlling_switches_role() -> None:
    agent = make_agent(True, 1)
    agent.set_controlling(False)
    assert not agent.controlling


# ------------------------------------------------- selection before nomination (§12.1)

B2_ADDR = ("127.0.0.2", 20001)


def _changes(net: IceNetwork, index: int) -> list[tuple[tuple[str, int], tuple[str, int]]]:
    return [
        (e.local_address, e.remote_address)
        for _, e in net.events_of(index)
        if isinstance(e, SelectedPairChanged)
    ]


def _use_candidate_times(net: IceNetwork, index: int) -> list[float]:
    """When node ``index`` received a request carrying USE-CANDIDATE."""
    return [
        t for t, data, _, _ in net.nodes[index].received
        if stun.parse_message(data).has(stun.USE_CANDIDATE)
    ]  # fmt: skip


def test_connected_on_first_valid_pair_before_nomination() -> None:
    a, b, net = _pair()
    exchange(a, b, [host(*A_ADDR)], [host(*B_ADDR)])
    net.run(lambda: _connected(a, b), timeout=1)
    # One check each way (both sides check at t=0): up after one round trip, with no
    # USE-CANDIDATE sent yet; the selected pair is usable at once.
    assert _state_times(net, 0, IceState.CONNECTED) == [pytest.approx(2 * net.delay)]
    assert _state_times(net, 1, IceState.CONNECTED) == [pytest.approx(2 * net.delay)]
    assert a.selected_pair == (A_ADDR, B_ADDR) and b.selected_pair == (B_ADDR, A_ADDR)
    assert not any(p.nominated for p in a.pairs + b.pairs)
    assert a.state is IceState.CONNECTED  # COMPLETED needs the nomination too
    net.run(lambda: all(x.state is IceState.COMPLETED for x in (a, b)), timeout=1)
    # The nomination check is paced one Ta (0.05 s here) after the first check.
    assert _use_candidate_times(net, 1) == [pytest.approx(0.05 + net.delay)]
    assert all(p.nominated for p in a.pairs + b.pairs)
    assert _changes(net, 0) == [(A_ADDR, B_ADDR)]  # nominated = provisional: no event
    assert _changes(net, 1) == [(B_ADDR, A_ADDR)]


def test_controlled_side_upgrades_then_follows_the_nomination() -> None:
    """B (controlled) sends on its first valid pair, moves to a better one that succeeds
    later, then to the lower-priority pair A nominated; nothing moves after that."""
    a, b, net = _pair(b_addrs=(B_ADDR, B2_ADDR))
    b_candidates = [host(*B_ADDR), host(*B2_ADDR, local_preference=100)]
    exchange(a, b, [host(*A_ADDR)], b_candidates)

    def drop(now: float, sender: int, data: bytes, src: object, dst: object) -> bool:
        if now < 0.2 and B_ADDR in (src, dst):
            return True  # the best pair answers late...
        return now < 1.0 and stun.parse_message(data).has(stun.USE_CANDIDATE)  # ...and this

    net.drop = drop
    net.run(lambda: b.state is IceState.CONNECTED, timeout=1)
    assert b.selected_pair == (B2_ADDR, A_ADDR)  # the first valid pair, B1's checks lost
    net.run_for(0.9 - net.now)  # B1's checks retransmitted after the 0.5 s RTO
    assert b.selected_pair == (B_ADDR, A_ADDR)  # the better pair replaced it
    assert all(p.state is PairState.SUCCEEDED for p in b.pairs)
    assert b.state is IceState.CONNECTED  # every check done, but nothing nominated yet
    # A settled on B2 before B1 answered and nominates it: no switching while it does.
    assert a.selected_pair == (A_ADDR, B2_ADDR)
    net.run(lambda: all(x.state is IceState.COMPLETED for x in (a, b)), timeout=5)
    assert b.selected_pair == (B2_ADDR, A_ADDR)
    assert _changes(net, 1) == [(B2_ADDR, A_ADDR), (B_ADDR, A_ADDR), (B2_ADDR, A_ADDR)]
    assert _changes(net, 0) == [(A_ADDR, B2_ADDR)]
    assert b.is_valid_remote(B_ADDR, A_ADDR)  # still accepted, not used
    start = net.now
    net.run_for(20)
    assert len(_changes(net, 1)) == 3 and len(_changes(net, 0)) == 1  # no flapping
    # Consent followed the selected pair: every later request goes on the nominated one.
    consent = [
        (local, remote)
        for t, data, local, remote in net.nodes[0].received + net.nodes[1].received
        if t > start and stun.parse_message(data).message_class is stun.MessageClass.REQUEST
    ]
    assert len(consent) >= 6
    assert set(consent) == {(A_ADDR, B2_ADDR), (B2_ADDR, A_ADDR)}
    assert a.state is IceState.COMPLETED and b.state is IceState.COMPLETED


def test_failed_provisional_pair_falls_back_to_another_valid_pair() -> None:
    a, b, net = _pair(b_addrs=(B_ADDR, B2_ADDR))
    exchange(a, b, [host(*A_ADDR)], [host(*B_ADDR), host(*B2_ADDR, local_preference=100)])
    net.drop = lambda now, sender, data, src, dst: now > 0.02 and B_ADDR in (src, dst)
    net.run(lambda: a.state is IceState.CONNECTED, timeout=1)
    assert a.selected_pair == (A_ADDR, B_ADDR)
    net.run(lambda: a.state is IceState.COMPLETED, timeout=10)
    # The nomination check on the best pair timed out (6 transmissions, 5.5 s): the next
    # valid pair took over, was nominated, and the agent never went down meanwhile.
    assert _changes(net, 0) == [(A_ADDR, B_ADDR), (A_ADDR, B2_ADDR)]
    (moved_at,) = [t for t, e in net.events_of(0) if isinstance(e, SelectedPairChanged)][1:]
    assert moved_at == pytest.approx(0.05 + 5.5)
    assert _states(net, 0) == [IceState.CHECKING, IceState.CONNECTED, IceState.COMPLETED]
    net.run(lambda: b.selected_pair == (B2_ADDR, A_ADDR), timeout=1)


def test_only_valid_pair_failing_before_nomination_fails_ice() -> None:
    a, b, net = _pair()
    exchange(a, b, [host(*A_ADDR)], [host(*B_ADDR)])
    net.blackout(0.02, 100.0)
    net.run(lambda: a.state is IceState.FAILED, timeout=10)
    # As before selection existed: FAILED when the last pair's check times out.
    assert _states(net, 0) == [IceState.CHECKING, IceState.CONNECTED, IceState.FAILED]
    assert _state_times(net, 0, IceState.FAILED) == [pytest.approx(0.05 + 5.5)]
    assert not a.is_valid_remote(A_ADDR, B_ADDR)


# --------------------------------------------------------------------- trickle


@pytest.mark.parametrize(
    "order",
    [
        "candidates-before-credentials",
        "credentials-then-candidates",
        "b-learns-late",
        "eoc-first-then-candidates",
        "no-eoc",
    ],
)
def test_trickle_orders(order: str) -> None:
    a, b, net = _pair()
    ca, cb = host(*A_ADDR), host(*B_ADDR)
    a.add_local_candidate(ca)
    b.add_local_candidate(cb)
    if order == "candidates-before-credentials":
        a.add_remote_candidate(cb, 0.0)
        b.add_remote_candidate(ca, 0.0)
        net.run_for(0.3)
        assert a.state is IceState.NEW and net.sent == 0
        a.set_remote_credentials(b.local_ufrag, b.local_pwd)
        b.set_remote_credentials(a.local_ufrag, a.local_pwd)
    elif order == "credentials-then-candidates":
        a.set_remote_credentials(b.local_ufrag, b.local_pwd)
        b.set_remote_credentials(a.local_ufrag, a.local_pwd)
        net.run_for(0.3)
        a.add_remote_candidate(cb, net.now)
        b.add_remote_candidate(ca, net.now)
    elif order == "b-learns-late":
        # A checks B before B has A's answer: B must answer and check back later.
        a.set_remote_credentials(b.local_ufrag, b.local_pwd)
        a.add_remote_candidate(cb, 0.0)
        net.run_for(0.5)
        # B answered (and so A may already have nominated) but cannot check yet.
        assert b.state is IceState.NEW and a.state is not IceState.NEW
        assert [p.remote.type for p in b.pairs] == ["prflx"]
        b.set_remote_credentials(a.local_ufrag, a.local_pwd)
        b.add_remote_candidate(ca, net.now)
    elif order == "eoc-first-then-candidates":
        a.set_remote_credentials(b.local_ufrag, b.local_pwd)
        b.set_remote_credentials(a.local_ufrag, a.local_pwd)
        a.add_remote_candidate(None, 0.0)
        b.add_remote_candidate(None, 0.0)
        net.run_for(0.2)
        a.add_remote_candidate(cb, net.now)
        b.add_remote_candidate(ca, net.now)
    else:
        a.set_remote_credentials(b.local_ufrag, b.local_pwd)
        b.set_remote_credentials(a.local_ufrag, a.local_pwd)
        a.add_remote_candidate(cb, 0.0)
        b.add_remote_candidate(ca, 0.0)
    net.run(lambda: _connected(a, b) and b.selected_pair is not None, timeout=10)
    assert a.selected_pair == (A_ADDR, B_ADDR)
    assert b.selected_pair == (B_ADDR, A_ADDR)
    if order == "no-eoc":
        assert a.state is IceState.CONNECTED  # not COMPLETED without end-of-candidates


def test_peer_reflexive_remote_candidate() -> None:
    """B never learns A's candidate (e.g. an mDNS name): it learns it from A's checks."""
    a, b, net = _pair()
    a.add_local_candidate(host(*A_ADDR))
    b.add_local_candidate(host(*B_ADDR))
    a.set_remote_credentials(b.local_ufrag, b.local_pwd)
    b.set_remote_credentials(a.local_ufrag, a.local_pwd)
    a.add_remote_candidate(host(*B_ADDR), 0.0)
    mdns = Candidate.from_sdp("candidate:9 1 udp 2122260223 abcd.local 10000 typ host")
    b.add_remote_candidate(mdns, 0.0)  # ignored: unresolvable here
    net.run(lambda: _connected(a, b) and b.selected_pair is not None, timeout=5)
    assert b.selected_pair == (B_ADDR, A_ADDR)
    (pair,) = b.pairs
    assert pair.remote.type == "prflx"
    assert pair.remote.priority == a.pairs[0].local.priority - ((126 - 110) << 24)


def test_remote_ice_lite() -> None:
    agent = make_agent(False, 1)
    lite = LiteResponder()
    net = IceNetwork([(agent, [A_ADDR]), (lite, [B_ADDR])])
    agent.add_local_candidate(host(*A_ADDR))
    agent.set_remote_credentials(lite.ufrag, lite.pwd, lite=True)
    assert agent.controlling
    agent.add_remote_candidate(host(*B_ADDR), 0.0)
    agent.add_remote_candidate(None, 0.0)
    net.run(lambda: agent.state in UP, timeout=5)
    assert agent.selected_pair == (A_ADDR, B_ADDR)
    net.run(lambda: agent.state is IceState.COMPLETED, timeout=5)
    assert agent.selected_pair == (A_ADDR, B_ADDR)
    assert lite.nominated == (B_ADDR, A_ADDR)
    before = lite.requests
    net.run_for(20)
    assert agent.state in UP and lite.requests > before  # consent checks continue


# --------------------------------------------------------------------- timers


def test_first_check_pacing_and_retransmission_timers() -> None:
    agent = make_agent(True, 1)
    agent.add_local_candidate(host(*A_ADDR))
    agent.set_remote_credentials("peer", "peerpasswordpeerpassword")
    assert agent.get_timer() is None
    agent.add_remote_candidate(host("127.0.0.1", 20000, local_preference=2), 0.0)
    agent.add_remote_candidate(host("127.0.0.1", 20001, local_preference=1), 0.0)
    agent.add_remote_candidate(None, 0.0)
    assert agent.get_timer() == 0.0
    sent: list[tuple[float, tuple[str, int]]] = []
    failed_at: dict[int, float] = {}
    now = 0.0
    while (timer := agent.get_timer()) is not None:
        assert timer >= now
        now = timer
        agent.handle_timer(now)
        sent += [(now, remote) for _, _, remote in agent.datagrams_to_send(now)]
        for pair in agent.pairs:
            if pair.state is PairState.FAILED:
                failed_at.setdefault(pair.remote.port, now)
        assert now < 10
    first = [t for t, r in sent if r[1] == 20000]
    second = [t for t, r in sent if r[1] == 20001]
    # RFC 8445 §14.3: RTO = max(500 ms, Ta x pending pairs), doubling, capped at 1 s.
    assert first == pytest.approx([0.0, 0.5, 1.5, 2.5, 3.5, 4.5])
    assert second == pytest.approx([0.05, 0.55, 1.55, 2.55, 3.55, 4.55])
    assert failed_at == pytest.approx({20000: 5.5, 20001: 5.55})
    assert agent.state is IceState.FAILED
    assert agent.get_timer() is None


def test_checking_times_out_without_end_of_candidates() -> None:
    agent = make_agent(True, 1)
    agent.add_local_candidate(host(*A_ADDR))
    agent.set_remote_credentials("peer", "peerpasswordpeerpassword")
    agent.add_remote_candidate(host(*B_ADDR), 0.0)
    now = 0.0
    while (timer := agent.get_timer()) is not None:
        now = timer
        agent.handle_timer(now)
        agent.datagrams_to_send(now)
    assert agent.state is IceState.FAILED
    assert now == pytest.approx(30.0)


# --------------------------------------------------------------------- consent


def _consent_successes(net: IceNetwork, index: int) -> list[float]:
    times = []
    for t, data, _, _ in net.nodes[index].received:
        if stun.parse_message(data).message_class is stun.MessageClass.SUCCESS:
            times.append(t)
    return times


def test_consent_blackout_disconnects_then_recovers() -> None:
    a, b, net = _pair()
    _connect(a, b, net, eoc=False)
    net.run_for(10)
    assert a.state is IceState.CONNECTED
    net.blackout(10.0, 16.0)
    net.run(lambda: a.state is IceState.DISCONNECTED, timeout=10)
    (went_down,) = _state_times(net, 0, IceState.DISCONNECTED)
    # first request lost at most 1.2 x interval into the blackout, then 3 s of silence
    assert 10.0 + 3.0 <= went_down <= 10.0 + 6.0 + 3.0
    net.run(lambda: a.state is IceState.CONNECTED, timeout=10)
    came_back = _state_times(net, 0, IceState.CONNECTED)[-1]
    assert 16.0 < came_back <= 17.1  # retries every second while overdue
    assert a.selected_pair == (A_ADDR, B_ADDR)
    net.run_for(30)
    assert a.state is IceState.CONNECTED and b.state is IceState.CONNECTED


def test_consent_expires_exactly_at_timeout() -> None:
    a, b, net = _pair()
    _connect(a, b, net, eoc=False)
    net.run_for(5)
    blackout_start = net.now
    net.blackout(blackout_start, blackout_start + 100)
    net.run(lambda: a.state is IceState.FAILED and b.state is IceState.FAILED, timeout=60)
    for index in (0, 1):
        last = max(t for t in _consent_successes(net, index) if t < blackout_start + 0.1)
        (failed,) = _state_times(net, index, IceState.FAILED)
        assert failed == last + 30.0
        assert _states(net, index)[-2:] == [IceState.DISCONNECTED, IceState.FAILED]
    assert a.get_timer() is None
    assert not a.is_valid_remote(A_ADDR, B_ADDR)


def test_single_lost_consent_request_does_not_disconnect() -> None:
    a, b, net = _pair()
    _connect(a, b, net, eoc=False)
    dropped: list[float] = []

    def drop_one(now: float, sender: int, data: bytes, src: object, dst: object) -> bool:
        message = stun.parse_message(data)
        if (
            sender == 0
            and now > 3
            and not dropped
            and message.message_class is stun.MessageClass.REQUEST
        ):
            dropped.append(now)
            return True
        return False

    net.drop = drop_one
    net.run_for(40)
    assert dropped
    assert IceState.DISCONNECTED not in _states(net, 0)
    assert a.state is IceState.CONNECTED
    # the request after the lost one went out one second later, not an interval later
    requests = [
        t
        for t, data, _, _ in net.nodes[1].received
        if stun.parse_message(data).message_class is stun.MessageClass.REQUEST
        and t > dropped[0]
        and stun.parse_message(data).get_int(stun.ICE_CONTROLLING) is not None
    ]
    assert requests[0] == pytest.approx(dropped[0] + 1.0 + net.delay)


def test_consent_intervals_are_randomised_within_20_percent() -> None:
    a, b, net = _pair()
    _connect(a, b, net, eoc=False)
    start = net.now
    net.run_for(200)
    sent = sorted(
        t - net.delay
        for t, data, _, _ in net.nodes[1].received
        if t > start and stun.parse_message(data).message_class is stun.MessageClass.REQUEST
        if stun.parse_message(data).get_int(stun.ICE_CONTROLLING) is not None
    )
    gaps = [y - x for x, y in itertools.pairwise(sent)]
    assert len(gaps) > 20
    assert all(4.0 - 1e-9 <= g <= 6.0 + 1e-9 for g in gaps)
    assert max(gaps) - min(gaps) > 0.5  # actually random


# --------------------------------------------------------------------- restart


def test_ice_restart_keeps_selected_pair_until_new_one() -> None:
    a, b, net = _pair()
    _connect(a, b, net, eoc=False)
    net.run_for(3)
    old_a_ufrag = a.local_ufrag
    ua, pa = a.restart(net.now)
    ub, pb = b.restart(net.now)
    assert ua != old_a_ufrag
    # Signalling takes a while: consent keeps running on the old pair meanwhile.
    net.run_for(12)
    assert a.selected_pair == (A_ADDR, B_ADDR) and a.state is IceState.CONNECTED
    assert a.is_valid_remote(A_ADDR, B_ADDR)
    a.set_remote_credentials(ub, pb)
    b.set_remote_credentials(ua, pa)
    a.add_remote_candidate(host(*B_ADDR), net.now)
    b.add_remote_candidate(host(*A_ADDR), net.now)
    restart_at = net.now
    net.run(lambda: bool(a.pairs) and any(p.nominated for p in a.pairs), timeout=5)
    net.run_for(40)
    for index, agent in enumerate((a, b)):
        assert agent.state is IceState.CONNECTED
        assert IceState.DISCONNECTED not in _states(net, index)
        changes = [e for _, e in net.events_of(index) if isinstance(e, SelectedPairChanged)]
        assert len(changes) == 1  # same addresses: upper layers never notice
    # After the switch, B only sees checks with the new credentials.
    late = [
        stun.parse_message(data).get_str(stun.USERNAME)
        for t, data, _, _ in net.nodes[1].received
        if t > restart_at + 1
        and stun.parse_message(data).message_class is stun.MessageClass.REQUEST
    ]
    assert late and all(name == f"{ub}:{ua}" for name in late)


def test_restart_uses_the_new_generation_before_nomination() -> None:
    a, b, net = _pair()
    _connect(a, b, net, eoc=False)
    net.run_for(1)
    ua, pa = a.restart(net.now)
    ub, pb = b.restart(net.now)
    net.drop = lambda now, sender, data, src, dst: stun.parse_message(data).has(stun.USE_CANDIDATE)
    a.set_remote_credentials(ub, pb)
    b.set_remote_credentials(ua, pa)
    a.add_remote_candidate(host(*B_ADDR), net.now)
    b.add_remote_candidate(host(*A_ADDR), net.now)
    restart_at = net.now
    net.run(lambda: a._selected_generation == b._selected_generation == 1, timeout=1)
    assert not any(p.nominated for p in a.pairs + b.pairs)  # never nominated: all dropped
    net.run_for(20)
    for index, agent in enumerate((a, b)):
        assert agent.state is IceState.CONNECTED and agent._selected_generation == 1
        assert IceState.DISCONNECTED not in _states(net, index)
        assert len(_changes(net, index)) == 1
    # Consent runs with the new generation's credentials on both sides.
    for index, (ours, theirs) in enumerate([(ua, ub), (ub, ua)]):
        late = {
            stun.parse_message(data).get_str(stun.USERNAME)
            for t, data, _, _ in net.nodes[index].received
            if t > restart_at + 1
            and stun.parse_message(data).message_class is stun.MessageClass.REQUEST
        }
        assert late == {f"{ours}:{theirs}"}


def test_remote_restart_without_local_restart() -> None:
    a, b, net = _pair()
    _connect(a, b, net, eoc=False)
    ub, pb = b.restart(net.now)
    b.set_remote_credentials(a.local_ufrag, a.local_pwd)  # same as before: no-op for B
    a.set_remote_credentials(ub, pb)  # A sees the restart only through new credentials
    a.add_remote_candidate(host(*B_ADDR), net.now)
    b.add_remote_candidate(host(*A_ADDR), net.now)
    net.run_for(20)
    assert a.state is IceState.CONNECTED and b.state is IceState.CONNECTED
    assert IceState.DISCONNECTED not in _states(net, 0) + _states(net, 1)


def test_restart_after_failure_connects_again() -> None:
    a, b, net = _pair()
    _connect(a, b, net, eoc=False)
    net.blackout(net.now, net.now + 40)
    net.run(lambda: a.state is IceState.FAILED, timeout=60)
    net.run_for(10)
    ua, pa = a.restart(net.now)
    ub, pb = b.restart(net.now)
    assert a.state is IceState.NEW and a.selected_pair is None
    a.set_remote_credentials(ub, pb)
    b.set_remote_credentials(ua, pa)
    a.add_remote_candidate(host(*B_ADDR), net.now)
    b.add_remote_candidate(host(*A_ADDR), net.now)
    net.run(lambda: _connected(a, b), timeout=5)


# --------------------------------------------------------------------- robustness


def _request(
    username: str, key: bytes, *, controlling: int | None = 1, use_candidate: bool = False
) -> bytes:
    attributes: list[tuple[int, stun.AttributeValue]] = [
        (stun.USERNAME, username),
        (stun.PRIORITY, 1000),
    ]
    if controlling is not None:
        attributes.append((stun.ICE_CONTROLLING, controlling))
    if use_candidate:
        attributes.append((stun.USE_CANDIDATE, None))
    message = stun.Message(
        stun.Method.BINDING, stun.MessageClass.REQUEST, bytes(range(12)), tuple(attributes)
    )
    return stun.encode(message, key, True)


def _answer_error(agent: IceAgent) -> int | None:
    ((data, _, _),) = agent.datagrams_to_send(0.0)
    error = stun.parse_message(data).error_code
    return error.code if error else None


def test_bad_requests_are_answered_with_errors_and_change_nothing() -> None:
    agent = make_agent(False, 1)
    agent.add_local_candidate(host(*A_ADDR))
    pwd = agent.local_pwd.encode()
    cases = [
        (_request(f"{agent.local_ufrag}:peer", b"wrong-password-wrong-pass"), 401),
        (_request("someoneelse:peer", pwd), 401),
        (stun.encode(stun.Message(stun.Method.BINDING, stun.MessageClass.REQUEST)), 400),
    ]
    for data, code in cases:
        agent.receive_datagram(data, A_ADDR, B_ADDR, 0.0)
        assert _answer_error(agent) == code
        assert agent.pairs == [] and agent.state is IceState.NEW and agent.get_timer() is None
    agent.set_remote_credentials("peer", "peerpasswordpeerpassword")
    agent.receive_datagram(_request(f"{agent.local_ufrag}:other", pwd), A_ADDR, B_ADDR, 0.0)
    assert _answer_error(agent) == 401 and agent.pairs == []
    agent.receive_datagram(b"\x00\x01garbage", A_ADDR, B_ADDR, 0.0)
    agent.receive_datagram(b"\x16\xfe\xfd" + bytes(40), A_ADDR, B_ADDR, 0.0)
    assert agent.datagrams_to_send(0.0) == [] and agent.next_event() is None


def test_request_before_remote_credentials_is_answered_and_checked_later() -> None:
    agent = make_agent(False, 1)
    agent.add_local_candidate(host(*A_ADDR))
    data = _request(f"{agent.local_ufrag}:peer", agent.local_pwd.encode(), use_candidate=True)
    agent.receive_datagram(data, A_ADDR, B_ADDR, 0.0)
    ((answer, src, dst),) = agent.datagrams_to_send(0.0)
    response = stun.parse_message(answer)
    assert response.message_class is stun.MessageClass.SUCCESS
    assert response.get_address(stun.XOR_MAPPED_ADDRESS) == B_ADDR
    assert stun.verify_integrity(answer, agent.local_pwd.encode())
    assert (src, dst) == (A_ADDR, B_ADDR)
    assert [p.remote.type for p in agent.pairs] == ["prflx"]
    assert agent.get_timer() is None  # cannot check without the remote password
    agent.set_remote_credentials("peer", "peerpasswordpeerpassword")
    assert agent.get_timer() == 0.0
    agent.handle_timer(0.0)
    ((check, _, _),) = agent.datagrams_to_send(0.0)
    assert stun.parse_message(check).get_str(stun.USERNAME) == f"peer:{agent.local_ufrag}"


def test_bad_responses_change_nothing() -> None:
    agent = make_agent(True, 1)
    agent.add_local_candidate(host(*A_ADDR))
    agent.set_remote_credentials("peer", "peerpasswordpeerpassword")
    agent.add_remote_candidate(host(*B_ADDR), 0.0)
    agent.handle_timer(0.0)
    ((check, _, _),) = agent.datagrams_to_send(0.0)
    tid = stun.parse_message(check).transaction_id

    def response(key: bytes, tid: bytes = tid) -> bytes:
        message = stun.Message(
            stun.Method.BINDING,
            stun.MessageClass.SUCCESS,
            tid,
            ((stun.XOR_MAPPED_ADDRESS, A_ADDR),),
        )
        return stun.encode(message, key, True)

    good = b"peerpasswordpeerpassword"
    for data, local, remote in [
        (response(b"not-the-password"), A_ADDR, B_ADDR),  # bad MESSAGE-INTEGRITY
        (response(good), A_ADDR, ("127.0.0.1", 20001)),  # unexpected source
        (response(good, bytes(12)), A_ADDR, B_ADDR),  # unknown transaction
        (response(good)[:-1] + b"\x00", A_ADDR, B_ADDR),  # bad FINGERPRINT
    ]:
        agent.receive_datagram(data, local, remote, 0.01)
        assert [p.state for p in agent.pairs] == [PairState.IN_PROGRESS]
        assert agent.datagrams_to_send(0.01) == []
    agent.receive_datagram(response(good), A_ADDR, B_ADDR, 0.01)
    assert [p.state for p in agent.pairs] == [PairState.SUCCEEDED]


def test_bounds_on_remote_candidates_and_pairs() -> None:
    agent = make_agent(True, 1)
    agent.add_local_candidate(host(*A_ADDR))
    for i in range(1500):
        agent.add_remote_candidate(host(f"10.{i // 250}.{i % 250}.1", 1000 + i), 0.0)
    assert len(agent.pairs) <= 100
    assert len(agent._remote_candidates) <= 1000


def test_close_stops_everything() -> None:
    a, b, net = _pair()
    _connect(a, b, net)
    a.close()
    a.close()  # idempotent
    assert a.state is IceState.CLOSED and a.get_timer() is None
    a.receive_datagram(_request(f"{a.local_ufrag}:x", a.local_pwd.encode()), A_ADDR, B_ADDR, 1)
    a.handle_timer(100.0)
    assert a.datagrams_to_send(100.0) == []
    with pytest.raises(InvalidStateError):
        a.add_remote_candidate(None, 1.0)


def test_reproducible_with_seeded_rng() -> None:
    def run() -> list[bytes]:
        a, b, net = _pair(loss=0.2, delay=0.02, seed=3)
        _connect(a, b, net)
        return [d for _, d, _, _ in net.nodes[1].received]

    assert run() == run()


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=120), st.integers(0, 3))
def test_fuzz_receive_datagram_never_raises(noise: bytes, kind: int) -> None:
    agent = IceAgent(controlling=False, rng=random.Random(0), ufrag="abcd", pwd="p" * 22)
    agent.add_local_candidate(host(*A_ADDR))
    header = bytes([1 if kind >= 2 else 0, 1, 0, 0]) + b"\x21\x12\xa4\x42" + bytes(12)
    body = noise + b"\x00" * ((-len(noise)) % 4)
    data = header[:2] + len(body).to_bytes(2, "big") + header[4:] + body
    agent.receive_datagram(data if kind % 2 else noise, A_ADDR, B_ADDR, 0.0)
    agent.datagrams_to_send(0.0)
    assert agent.state is IceState.NEW
