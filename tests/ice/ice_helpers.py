"""Virtual-time harness for ICE agents: addressed datagrams, seeded loss and delay."""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from trio_webrtc.ice import Candidate, IceAgent, IceEvent, compute_priority, stun

Address = tuple[str, int]
DropFilter = Callable[[float, int, bytes, Address, Address], bool]


class AddressedEndpoint(Protocol):
    def receive_datagram(
        self, data: bytes, local_address: Address, remote_address: Address, now: float
    ) -> None: ...

    def datagrams_to_send(self, now: float) -> list[tuple[bytes, Address, Address]]: ...

    def get_timer(self) -> float | None: ...

    def handle_timer(self, now: float) -> None: ...

    def next_event(self) -> IceEvent | None: ...


def host(address: str, port: int, local_preference: int = 65535) -> Candidate:
    """A host candidate for a socket bound at (address, port)."""
    return Candidate(
        foundation=str(abs(hash(address)) % 10**8),
        component=1,
        transport="udp",
        priority=compute_priority("host", local_preference, 1),
        address=address,
        port=port,
        type="host",
    )


def make_agent(controlling: bool, seed: int, **kwargs: object) -> IceAgent:
    return IceAgent(
        controlling=controlling,
        rng=random.Random(seed),
        log_prefix=f"agent{seed}",
        **kwargs,  # type: ignore[arg-type]
    )


@dataclass
class _Node:
    endpoint: AddressedEndpoint
    addresses: list[Address]
    events: list[tuple[float, IceEvent]] = field(default_factory=list)
    received: list[tuple[float, bytes, Address, Address]] = field(default_factory=list)


class IceNetwork:
    """Endpoints owning addresses, joined by a seeded lossy, delaying wire.

    ``drop(now, sender_index, data, src, dst)`` may veto single datagrams;
    ``blackout(start, end)`` drops everything sent in that window.
    """

    def __init__(
        self,
        endpoints: Sequence[tuple[AddressedEndpoint, Sequence[Address]]],
        *,
        loss: float = 0.0,
        delay: float = 0.005,
        seed: int = 0,
        now: float = 0.0,
    ) -> None:
        self.nodes = [_Node(e, list(addrs)) for e, addrs in endpoints]
        self.loss = loss
        self.delay = delay
        self.now = now
        self.drop: DropFilter | None = None
        self._rng = random.Random(seed)
        self._blackouts: list[tuple[float, float]] = []
        self._in_flight: list[tuple[float, int, int, bytes, Address, Address]] = []
        self._sequence = 0
        self.sent = 0

    def blackout(self, start: float, end: float) -> None:
        self._blackouts.append((start, end))

    def _owner(self, address: Address) -> int | None:
        for index, node in enumerate(self.nodes):
            if address in node.addresses:
                return index
        return None

    def _transmit(self) -> None:
        for index, node in enumerate(self.nodes):
            for data, src, dst in node.endpoint.datagrams_to_send(self.now):
                self.sent += 1
                assert src in node.addresses, f"{src} is not a local address of node {index}"
                target = self._owner(dst)
                if target is None:
                    continue
                if any(s <= self.now < e for s, e in self._blackouts):
                    continue
                if self.drop is not None and self.drop(self.now, index, data, src, dst):
                    continue
                if self._rng.random() < self.loss:
                    continue
                self._sequence += 1
                heapq.heappush(
                    self._in_flight,
                    (self.now + self.delay, self._sequence, target, data, dst, src),
                )

    def _collect(self) -> None:
        for node in self.nodes:
            while (event := node.endpoint.next_event()) is not None:
                node.events.append((self.now, event))

    def step(self) -> bool:
        self._transmit()
        deadlines = [t for t in (n.endpoint.get_timer() for n in self.nodes) if t is not None]
        if self._in_flight:
            deadlines.append(self._in_flight[0][0])
        if not deadlines:
            return False
        self.now = max(self.now, min(deadlines))
        while self._in_flight and self._in_flight[0][0] <= self.now:
            _, _, target, data, local, remote = heapq.heappop(self._in_flight)
            self.nodes[target].received.append((self.now, data, local, remote))
            self.nodes[target].endpoint.receive_datagram(data, local, remote, self.now)
        for node in self.nodes:
            timer = node.endpoint.get_timer()
            if timer is not None and timer <= self.now:
                node.endpoint.handle_timer(self.now)
        self._collect()
        return True

    def run(self, until: Callable[[], bool], *, timeout: float = 60.0) -> float:
        deadline = self.now + timeout
        self._collect()
        while not until():
            if self.now > deadline or not self.step():
                if until():
                    break
                raise TimeoutError(f"condition not reached by t={self.now:.3f}")
        self._transmit()  # flush what the last step produced
        return self.now

    def run_for(self, duration: float) -> None:
        end = self.now + duration
        while self.now < end:
            self._transmit()
            deadlines = [t for t in (n.endpoint.get_timer() for n in self.nodes) if t is not None]
            if self._in_flight:
                deadlines.append(self._in_flight[0][0])
            if not deadlines or min(deadlines) > end:
                self.now = end
                break
            self.step()

    def events_of(self, index: int) -> list[tuple[float, IceEvent]]:
        return self.nodes[index].events


def exchange(
    a: IceAgent,
    b: IceAgent,
    a_candidates: Sequence[Candidate],
    b_candidates: Sequence[Candidate],
    *,
    now: float = 0.0,
    end_of_candidates: bool = True,
) -> None:
    """Local candidates, credentials and remote candidates both ways (vanilla ICE)."""
    for c in a_candidates:
        a.add_local_candidate(c)
    for c in b_candidates:
        b.add_local_candidate(c)
    a.set_remote_credentials(b.local_ufrag, b.local_pwd)
    b.set_remote_credentials(a.local_ufrag, a.local_pwd)
    for c in b_candidates:
        a.add_remote_candidate(c, now)
    for c in a_candidates:
        b.add_remote_candidate(c, now)
    if end_of_candidates:
        a.add_remote_candidate(None, now)
        b.add_remote_candidate(None, now)


class LiteResponder:
    """A minimal ICE-lite peer (RFC 8445 §2.5): answers checks, never sends any."""

    def __init__(self, ufrag: str = "lite", pwd: str = "litepasswordlitepassword") -> None:
        self.ufrag = ufrag
        self.pwd = pwd
        self.nominated: tuple[Address, Address] | None = None
        self.requests = 0
        self._out: list[tuple[bytes, Address, Address]] = []

    def receive_datagram(
        self, data: bytes, local_address: Address, remote_address: Address, now: float
    ) -> None:
        message = stun.parse_message(data)
        if message.message_class is not stun.MessageClass.REQUEST:
            return
        username = message.get_str(stun.USERNAME) or ""
        if not username.startswith(self.ufrag + ":"):
            return
        if not stun.verify_integrity(data, self.pwd.encode()):
            return
        self.requests += 1
        if message.has(stun.USE_CANDIDATE):
            self.nominated = (local_address, remote_address)
        response = stun.Message(
            stun.Method.BINDING,
            stun.MessageClass.SUCCESS,
            message.transaction_id,
            ((stun.XOR_MAPPED_ADDRESS, remote_address),),
        )
        self._out.append(
            (stun.encode(response, self.pwd.encode(), True), local_address, remote_address)
        )

    def datagrams_to_send(self, now: float) -> list[tuple[bytes, Address, Address]]:
        out, self._out = self._out, []
        return out

    def get_timer(self) -> float | None:
        return None

    def handle_timer(self, now: float) -> None:
        return None

    def next_event(self) -> IceEvent | None:
        return None
