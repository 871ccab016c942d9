"""Our ICE agent against an independent one: a bare ``aioice.Connection`` in its own
asyncio process (``aioice_peer.py``), over real UDP sockets on 127.0.0.1.

Our :class:`~trio_webrtc.ice.IceAgent` is driven by a small Trio loop here (a socket, its
timer, nothing else). Covered: both role assignments (aioice controlling uses aggressive
nomination: USE-CANDIDATE on every check, RFC 8445 §8.1.1 of RFC 5245 kind; we nominate
regularly), role conflicts both ways (RFC 8445 §7.3.1.1, §7.2.5.1, tie-breakers chosen to
make the outcome certain) and consent freshness (RFC 7675) kept up by both sides past
several shortened consent intervals.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import trio

from trio_webrtc.ice import Candidate, IceAgent, IceState, compute_priority, stun

PEER = Path(__file__).with_name("aioice_peer.py")
LOOPBACK = "127.0.0.1"
TIE_MAX = (1 << 64) - 1
CONSENT_INTERVAL = 0.5


class PeerProcess:
    """The aioice process and its JSON-lines pipes."""

    def __init__(self, process: trio.Process) -> None:
        self.process = process
        self._buffer = b""

    async def send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        await self.process.stdin.send_all(json.dumps(message).encode() + b"\n")

    async def receive(self, timeout: float = 15) -> dict[str, Any]:
        assert self.process.stdout is not None
        with trio.fail_after(timeout):
            while b"\n" not in self._buffer:
                chunk = await self.process.stdout.receive_some(65536)
                if not chunk:
                    raise EOFError("the aioice peer exited")
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        message: dict[str, Any] = json.loads(line)
        return message


@dataclass
class Ours:
    """Our agent, its socket and what crossed the socket."""

    agent: IceAgent
    sock: trio.socket.SocketType
    address: tuple[str, int]
    requests: list[tuple[float, stun.Message]] = field(default_factory=list)
    responses: list[tuple[float, stun.Message]] = field(default_factory=list)
    events: list[object] = field(default_factory=list)
    app: list[bytes] = field(default_factory=list)

    async def run(self) -> None:
        """Receive, feed the agent, run its timer, send what it produces; forever."""
        agent = self.agent
        while True:
            timer = agent.get_timer()
            with trio.move_on_at(math.inf if timer is None else timer):
                data, source = await self.sock.recvfrom(65536)
                now = trio.current_time()
                if stun.is_stun(data):
                    message = stun.parse_message(data)
                    kind = message.message_class
                    log = self.requests if kind is stun.MessageClass.REQUEST else self.responses
                    log.append((now, message))
                    agent.receive_datagram(data, self.address, source[:2], now)
                else:
                    self.app.append(data)
            now = trio.current_time()
            timer = agent.get_timer()
            if timer is not None and timer <= now:
                agent.handle_timer(now)
            for data, _, remote in agent.datagrams_to_send(now):
                await self.sock.sendto(data, remote)
            while (event := agent.next_event()) is not None:
                self.events.append(event)

    async def echo(self, peer_address: tuple[str, int], payload: bytes) -> None:
        """Send application data on the pair; the peer echoes it back."""
        await self.sock.sendto(payload, peer_address)
        with trio.fail_after(5):
            while payload not in self.app:
                await trio.sleep(0.01)


async def _ours(controlling: bool, tie_breaker: int) -> Ours:
    sock = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM)
    await sock.bind((LOOPBACK, 0))
    address = sock.getsockname()[:2]
    agent = IceAgent(
        controlling=controlling,
        tie_breaker=tie_breaker,
        log_prefix="ours",
        consent_interval=CONSENT_INTERVAL,
    )
    host = Candidate(
        "1", 1, "udp", compute_priority("host", 65535, 1), address[0], address[1], "host"
    )
    agent.add_local_candidate(host)
    return Ours(agent, sock, address)


async def _connect(ours: Ours, peer: PeerProcess) -> tuple[dict[str, Any], tuple[str, int], float]:
    """Exchange credentials and candidates; wait for both sides. Returns aioice's
    ``connected`` report, its address and when we reached COMPLETED."""
    theirs = await peer.receive()
    assert theirs["type"] == "params"
    agent = ours.agent
    await peer.send(
        {
            "type": "params",
            "ufrag": agent.local_ufrag,
            "pwd": agent.local_pwd,
            "candidates": [f"candidate:1 1 udp 2130706431 {LOOPBACK} {ours.address[1]} typ host"],
        }
    )
    now = trio.current_time()
    agent.set_remote_credentials(theirs["ufrag"], theirs["pwd"])
    candidates = [Candidate.from_sdp(value) for value in theirs["candidates"]]
    assert [c.address for c in candidates] == [LOOPBACK]
    for candidate in candidates:
        agent.add_remote_candidate(candidate, now)
    agent.add_remote_candidate(None, now)
    connected = await peer.receive()
    assert connected["type"] == "connected", connected
    with trio.fail_after(5):
        while agent.state is not IceState.COMPLETED:
            await trio.sleep(0.005)
    return connected, (candidates[0].address, candidates[0].port), trio.current_time()


async def _with_peer(args: list[str], controlling: bool, tie_breaker: int, body: Any) -> None:
    ours = await _ours(controlling, tie_breaker)
    command = [sys.executable, str(PEER), *args, "--consent-interval", str(CONSENT_INTERVAL)]
    with trio.fail_after(60), ours.sock:
        async with trio.open_nursery() as nursery:
            process = await trio.lowlevel.open_process(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE
            )
            peer = PeerProcess(process)
            try:
                nursery.start_soon(ours.run)
                await body(ours, peer)
                await peer.send({"type": "bye"})
                with trio.fail_after(10):
                    assert await process.wait() == 0
            finally:
                nursery.cancel_scope.cancel()
                if process.returncode is None:
                    process.kill()
                    with trio.CancelScope(shield=True):
                        await process.wait()


CASES = [
    # (case, aioice's flag, our initial role, our tie-breaker, we end controlling)
    ("aggressive", "--controlling", False, 0, False),  # plain roles, aioice nominates
    ("regular", "--controlled", True, TIE_MAX, True),  # plain roles, we nominate
    ("both-controlling-we-win", "--controlling", True, TIE_MAX, True),
    ("both-controlling-we-lose", "--controlling", True, 0, False),
    ("both-controlled-we-win", "--controlled", False, TIE_MAX, True),
    ("both-controlled-we-lose", "--controlled", False, 0, False),
]


@pytest.mark.parametrize(
    ("flag", "controlling", "tie_breaker", "we_control"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
async def test_roles_nomination_and_data_against_aioice(
    flag: str, controlling: bool, tie_breaker: int, we_control: bool
) -> None:
    async def body(ours: Ours, peer: PeerProcess) -> None:
        connected, their_address, completed_at = await _connect(ours, peer)
        agent = ours.agent
        assert agent.controlling is we_control
        assert connected["controlling"] is (not we_control)
        assert agent.selected_pair == (ours.address, their_address)
        assert tuple(connected["local"]) == their_address
        assert tuple(connected["remote"]) == ours.address
        ours_checks = [m for t, m in ours.requests if t <= completed_at]  # before consent
        if not we_control:
            # aioice nominates aggressively: every check it sent as controlling carried
            # USE-CANDIDATE, and we (controlled) followed without nominating ourselves.
            controlling_checks = [m for m in ours_checks if m.has(stun.ICE_CONTROLLING)]
            assert controlling_checks
            assert all(m.has(stun.USE_CANDIDATE) for m in controlling_checks)
        roles = {m.has(stun.ICE_CONTROLLING) for m in ours_checks}
        if flag == "--controlling" and not we_control:
            assert roles == {True}  # aioice never gave up the controlling role
        if flag == "--controlled" and not we_control:
            assert True in roles  # aioice took the controlling role (our 487)
        if flag == "--controlling" and we_control:
            assert False in roles  # aioice gave it up (our 487 / its tie-breaker lost)
        if flag == "--controlled" and we_control:
            assert roles == {False}  # aioice never took the controlling role
        await ours.echo(their_address, b"\x80hello aioice")
        assert agent.state is IceState.COMPLETED

    await _with_peer([flag], controlling, tie_breaker, body)


async def test_consent_kept_alive_both_ways_past_several_intervals() -> None:
    async def body(ours: Ours, peer: PeerProcess) -> None:
        connected, their_address, completed_at = await _connect(ours, peer)
        assert connected["controlling"] is True
        await trio.sleep(6 * CONSENT_INTERVAL)
        agent = ours.agent
        # aioice checked our consent (every 0.4-0.6 s) and we answered each one...
        later = [m for t, m in ours.requests if t > completed_at]
        assert len(later) >= 3
        await peer.send({"type": "status"})
        status = await peer.receive()
        assert status == {
            "type": "status",
            "closed": False,
            "controlling": True,
            "consent_requests": status["consent_requests"],
        }
        assert status["consent_requests"] >= 3
        # ...and it answered ours: authenticated successes kept us up, never disconnected.
        answers = [m for t, m in ours.responses if t > completed_at]
        assert len(answers) >= 3
        assert all(m.message_class is stun.MessageClass.SUCCESS for m in answers)
        assert agent.state is IceState.COMPLETED
        assert IceState.DISCONNECTED not in [getattr(e, "state", None) for e in ours.events]
        await ours.echo(their_address, b"\x80still here")

    await _with_peer(["--controlling"], False, 0, body)
