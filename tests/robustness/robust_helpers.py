"""Helpers for the robustness suite: two sans-I/O cores joined in virtual time, an
attacker who can inject datagrams, and size probes for the structures a peer can grow.

Nothing here opens a socket: addresses are 127.0.0.1 tuples used as labels only.
"""

from __future__ import annotations

import heapq
import random
import sys
import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from trio_webrtc import datachannel as dcep
from trio_webrtc.config import Configuration
from trio_webrtc.core import LocalCandidate, PeerConnectionCore
from trio_webrtc.dtls.certificate import Certificate

Address = tuple[str, int]
A_ADDR: Address = ("127.0.0.1", 40001)
B_ADDR: Address = ("127.0.0.1", 40002)
EVIL_ADDR: Address = ("127.0.0.1", 40666)

VECTORS = Path(__file__).resolve().parent.parent / "vectors" / "sdp"


def sdp_vectors() -> list[str]:
    """Every captured SDP in tests/vectors/sdp."""
    return [p.read_text() for p in sorted(VECTORS.glob("*.sdp"))]


@dataclass
class Wire:
    """Per-direction impairments and counters of the virtual wire."""

    delay: float = 0.005
    blackout: bool = False
    delivered: int = 0
    dropped: int = 0
    tap: list[tuple[bytes, Address, Address]] = field(default_factory=list)
    keep_tap: bool = False


class CorePair:
    """Two :class:`PeerConnectionCore` objects joined by a deterministic virtual wire.

    ``a`` offers, ``b`` answers. ``run(until)`` moves datagrams and fires timers in
    virtual time. ``inject(target, data, source)`` delivers an attacker's datagram.
    ``on_event`` collects every event per side; ``auto_read`` consumes delivered messages
    (as an application reading promptly would).
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        configuration: Configuration | None = None,
        certificate_b: Certificate | None = None,
        auto_read: bool = True,
    ) -> None:
        rng = random.Random(seed)
        self.a = PeerConnectionCore(
            configuration, rng=random.Random(rng.getrandbits(64)), log_prefix="A"
        )
        self.b = PeerConnectionCore(
            configuration,
            certificate=certificate_b,
            rng=random.Random(rng.getrandbits(64)),
            log_prefix="B",
        )
        self.addr = {id(self.a): A_ADDR, id(self.b): B_ADDR}
        self.a.add_host_address(A_ADDR)
        self.b.add_host_address(B_ADDR)
        self.now = 0.0
        self.wire = Wire()
        self.events: dict[str, list[object]] = {"a": [], "b": []}
        self.messages: dict[str, list[tuple[int, bytes | str]]] = {"a": [], "b": []}
        self.unread: dict[str, list[int]] = {"a": [], "b": []}
        self.auto_read = auto_read
        self._in_flight: list[tuple[float, int, str, bytes, Address, Address]] = []
        self._sequence = 0
        self.tamper_answer: Callable[[str], str] | None = None

    def core(self, side: str) -> PeerConnectionCore:
        return self.a if side == "a" else self.b

    # ------------------------------------------------------------ signaling

    def signal(self) -> None:
        """Offer/answer and every candidate, both ways (in-process signaling)."""
        a, b, now = self.a, self.b, self.now
        offer = a.create_offer()
        a.set_local_description("offer", offer, now)
        b.set_remote_description("offer", offer, now)
        answer = b.create_answer()
        b.set_local_description("answer", answer, now)
        if self.tamper_answer is not None:
            answer = self.tamper_answer(answer)
        a.set_remote_description("answer", answer, now)
        self.pump_events()

    def pump_events(self) -> None:
        for side, source, target in (("a", self.a, self.b), ("b", self.b, self.a)):
            while (event := source.next_event()) is not None:
                self.events[side].append(event)
                if isinstance(event, LocalCandidate):
                    target.add_remote_candidate(event.candidate, "0", 0, self.now)
                elif isinstance(event, dcep.ChannelMessage):
                    self.messages[side].append((event.key, event.data))
                    if self.auto_read:
                        source.message_read(event.nbytes)
                    else:
                        self.unread[side].append(event.nbytes)

    def read_all(self, side: str) -> None:
        """The application on ``side`` reads everything delivered so far."""
        core = self.core(side)
        for nbytes in self.unread[side]:
            core.message_read(nbytes)
        self.unread[side].clear()

    # ---------------------------------------------------------------- wire

    def _transmit(self) -> None:
        for side, core in (("a", self.a), ("b", self.b)):
            target = "b" if side == "a" else "a"
            target_addr = B_ADDR if side == "a" else A_ADDR
            for data, local, remote in core.datagrams_to_send(self.now):
                if self.wire.keep_tap:
                    self.wire.tap.append((data, local, remote))
                if self.wire.blackout or remote != target_addr:
                    self.wire.dropped += 1
                    continue
                self._sequence += 1
                heapq.heappush(
                    self._in_flight,
                    (self.now + self.wire.delay, self._sequence, target, data, remote, local),
                )

    def inject(self, target: str, data: bytes, source: Address = EVIL_ADDR) -> None:
        """An attacker's datagram arrives at ``target`` now, from ``source``."""
        core = self.core(target)
        local = A_ADDR if target == "a" else B_ADDR
        core.receive_datagram(data, local, source, self.now)
        self.pump_events()

    def step(self) -> bool:
        self._transmit()
        deadlines = [t for t in (self.a.get_timer(), self.b.get_timer()) if t is not None]
        if self._in_flight:
            deadlines.append(self._in_flight[0][0])
        if not deadlines:
            return False
        self.now = max(self.now, min(deadlines))
        while self._in_flight and self._in_flight[0][0] <= self.now:
            _, _, target, data, local, remote = heapq.heappop(self._in_flight)
            self.wire.delivered += 1
            self.core(target).receive_datagram(data, local, remote, self.now)
        for core in (self.a, self.b):
            deadline = core.get_timer()
            if deadline is not None and deadline <= self.now:
                core.handle_timer(self.now)
        self.pump_events()
        return True

    def run(self, until: Callable[[], bool], timeout: float = 60.0) -> float:
        deadline = self.now + timeout
        while not until():
            if self.now > deadline or not self.step():
                if until():
                    break
                raise TimeoutError(f"condition not reached by t={self.now:.3f}")
        return self.now

    def run_for(self, seconds: float) -> None:
        end = self.now + seconds
        while self.now < end:
            if not self.step():
                self.now = end

    def connected(self) -> bool:
        return all(c.connection_state.name == "CONNECTED" for c in (self.a, self.b))

    def established(self) -> bool:
        return all(
            c.sctp is not None and c.sctp.state.name == "ESTABLISHED" for c in (self.a, self.b)
        )


def connected_pair(seed: int = 0, **kwargs: object) -> CorePair:
    """A pair that is CONNECTED with the SCTP association established."""
    pair = CorePair(seed=seed, **kwargs)  # type: ignore[arg-type]
    pair.signal()
    pair.run(lambda: pair.connected() and pair.established(), timeout=30)
    return pair


def deep_size(obj: object, seen: set[int] | None = None, depth: int = 0) -> int:
    """Approximate bytes held by ``obj`` and everything it reaches (containers, slots,
    instance dicts), stopping at modules, types and functions."""
    if seen is None:
        seen = set()
    if id(obj) in seen or depth > 40:
        return 0
    seen.add(id(obj))
    if isinstance(obj, (type, types.ModuleType, types.FunctionType, types.MethodType)):
        return 0
    if type(obj).__module__.startswith(("OpenSSL", "cryptography", "_cffi", "logging")):
        return sys.getsizeof(obj)
    size = sys.getsizeof(obj)
    children: Iterable[object] = ()
    if isinstance(obj, dict):
        children = [*obj.keys(), *obj.values()]
    elif isinstance(obj, (list, tuple, set, frozenset)) or type(obj).__name__ == "deque":
        children = list(obj)  # type: ignore[call-overload]
    else:
        if hasattr(obj, "__dict__"):
            children = [vars(obj)]
        slots = [s for cls in type(obj).__mro__ for s in getattr(cls, "__slots__", ())]
        children = [*children, *(getattr(obj, s, None) for s in slots)]
    for child in children:
        if isinstance(child, (str, bytes, int, float, bool)) or child is None:
            if child is not None:
                size += sys.getsizeof(child) if id(child) not in seen else 0
                seen.add(id(child))
            continue
        size += deep_size(child, seen, depth + 1)
    return size
