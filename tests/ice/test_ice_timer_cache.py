"""IceAgent.get_timer() is cached: the cache must never go stale.

Every public method that may change the agent's state clears the cache on entry; these
tests rerun the agent scenarios of ``test_ice_agent`` (connectivity, loss, role
conflicts, trickle, consent, restarts, bad input, close) with every public method checked:
after each call the cached deadline must equal one computed from scratch.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import test_ice_agent
from ice_helpers import IceNetwork, exchange, host, make_agent

from trio_webrtc.ice import IceAgent, IceState

READ_ONLY = {"datagrams_to_send", "next_event", "get_timer", "is_valid_remote"}
"""Public methods that never change what get_timer() depends on."""


def _public_methods() -> list[str]:
    return sorted(
        name
        for name, _ in inspect.getmembers(IceAgent, inspect.isfunction)
        if not name.startswith("_")
    )


def test_every_mutating_public_method_clears_the_cache() -> None:
    mutating = [name for name in _public_methods() if name not in READ_ONLY]
    assert {"receive_datagram", "handle_timer", "add_remote_candidate", "close"} <= set(mutating)
    for name in mutating:
        source = inspect.getsource(getattr(IceAgent, name))
        assert "self._timer_valid = False" in source, f"{name} does not clear the timer cache"


def _checked(name: str, original: Callable[..., Any], calls: list[str]) -> Callable[..., Any]:
    @functools.wraps(original)
    def checked(self: IceAgent, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        calls.append(name)
        assert self.get_timer() == self._compute_timer(), f"stale timer after {name}"
        return result

    return checked


@pytest.fixture
def checked_timer(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Patch every public method: after it returns, cached == computed deadline."""
    calls: list[str] = []
    for name in _public_methods():
        if name != "get_timer":
            monkeypatch.setattr(IceAgent, name, _checked(name, getattr(IceAgent, name), calls))
    return calls


def _scenarios() -> Iterator[Any]:
    """The test functions of test_ice_agent, with their first parameter set if any."""
    for name, function in inspect.getmembers(test_ice_agent, inspect.isfunction):
        if not name.startswith("test_") or hasattr(function, "hypothesis"):
            continue
        marks = [m for m in getattr(function, "pytestmark", []) if m.name == "parametrize"]
        kwargs: dict[str, Any] = {}
        for mark in marks:
            names, values = mark.args[0], mark.args[1]
            names = [n.strip() for n in names.split(",")] if isinstance(names, str) else names
            first = values[0]
            first = first if len(names) > 1 else (first,)
            kwargs.update(zip(names, first, strict=True))
        if set(inspect.signature(function).parameters) - set(kwargs):
            continue  # needs a fixture
        yield pytest.param(function, kwargs, id=name)


@pytest.mark.parametrize(("scenario", "kwargs"), list(_scenarios()))
def test_agent_scenarios_never_see_a_stale_timer(
    checked_timer: list[str], scenario: Callable[..., None], kwargs: dict[str, Any]
) -> None:
    scenario(**kwargs)
    assert checked_timer  # the scenario did drive agents through the checked methods


def test_idle_connection_timer_follows_consent(checked_timer: list[str]) -> None:
    """Consent every ~5 s, a blackout (disconnected, back), then consent expiry (failed)."""
    a, b = make_agent(True, 1), make_agent(False, 2)
    a_addr, b_addr = ("10.0.0.1", 1000), ("10.0.0.2", 2000)
    net = IceNetwork([(a, [a_addr]), (b, [b_addr])])
    exchange(a, b, [host(*a_addr)], [host(*b_addr)])
    net.run(lambda: a.state is IceState.COMPLETED and b.state is IceState.COMPLETED)
    timers = set()
    for _ in range(20):
        net.run_for(1.0)
        timers.add(a.get_timer())
    assert len(timers) > 2  # the deadline moves with consent
    net.blackout(net.now, net.now + 4.0)
    net.run(lambda: a.state is IceState.DISCONNECTED, timeout=10)
    net.run(lambda: a.state is IceState.COMPLETED, timeout=10)
    net.blackout(net.now, net.now + 100.0)
    net.run(lambda: a.state is IceState.FAILED, timeout=60)
    assert a.get_timer() is None
    a.restart(net.now)
    assert a.get_timer() == a._compute_timer()
    a.close()
    assert a.get_timer() is None
