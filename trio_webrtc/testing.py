"""Test helpers that are useful to users too: a deterministic virtual network.

:class:`VirtualLink` joins two sans-I/O endpoints (anything with ``receive_datagram``,
``datagrams_to_send``, ``get_timer`` and ``handle_timer``) through a seeded lossy,
duplicating, reordering, delaying wire, and advances virtual time itself: no trio, no
clock, no sockets. A 30-second timeout runs in microseconds and every run with the same
seed is identical.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

__all__ = ["DatagramEndpoint", "LinkConditions", "VirtualLink"]


class DatagramEndpoint(Protocol):
    """The shape of a sans-I/O datagram layer (DTLS, SCTP, a whole peer connection)."""

    def receive_datagram(self, data: bytes, now: float) -> None: ...

    def datagrams_to_send(self, now: float) -> list[bytes]: ...

    def get_timer(self) -> float | None: ...

    def handle_timer(self, now: float) -> None: ...


@dataclass(frozen=True)
class LinkConditions:
    """What the wire does to each datagram, in each direction independently.

    ``loss``, ``duplicate`` and ``reorder`` are probabilities; a reordered datagram is held
    back an extra ``reorder_delay`` seconds. ``mtu`` drops larger datagrams, as a path
    with a smaller MTU would. ``bandwidth`` (bytes/s) serialises datagrams on the wire.
    """

    loss: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    delay: float = 0.005
    jitter: float = 0.0
    reorder_delay: float = 0.02
    mtu: int | None = None
    bandwidth: float | None = None


@dataclass
class _Side:
    endpoint: DatagramEndpoint
    wire_free_at: float = 0.0
    sent: int = 0
    dropped: int = 0


class VirtualLink:
    """Two endpoints joined by a seeded virtual wire, run in virtual time.

    ``run(until)`` shuttles datagrams and fires timers until ``until()`` is true, and
    returns the virtual time then. ``blackout(start, end)`` drops everything in that
    window, both ways. ``a_to_b``/``b_to_a`` conditions may differ.
    """

    def __init__(
        self,
        a: DatagramEndpoint,
        b: DatagramEndpoint,
        conditions: LinkConditions | None = None,
        *,
        b_to_a: LinkConditions | None = None,
        seed: int = 0,
        now: float = 0.0,
    ) -> None:
        self.now = now
        self._sides = (_Side(a), _Side(b))
        forward = conditions or LinkConditions()
        self._conditions = (forward, b_to_a or forward)
        self._rng = random.Random(seed)
        self._in_flight: list[tuple[float, int, int, bytes]] = []
        self._sequence = 0
        self._blackouts: list[tuple[float, float]] = []
        self.delivered = 0

    @property
    def a(self) -> DatagramEndpoint:
        return self._sides[0].endpoint

    @property
    def b(self) -> DatagramEndpoint:
        return self._sides[1].endpoint

    def blackout(self, start: float, end: float) -> None:
        """Drop every datagram sent in ``[start, end)``, in both directions."""
        self._blackouts.append((start, end))

    def _in_blackout(self) -> bool:
        return any(start <= self.now < end for start, end in self._blackouts)

    def _transmit(self, source: int) -> None:
        side = self._sides[source]
        conditions = self._conditions[source]
        for datagram in side.endpoint.datagrams_to_send(self.now):
            side.sent += 1
            if (
                self._in_blackout()
                or (conditions.mtu is not None and len(datagram) > conditions.mtu)
                or self._rng.random() < conditions.loss
            ):
                side.dropped += 1
                continue
            copies = 2 if self._rng.random() < conditions.duplicate else 1
            start = self.now
            if conditions.bandwidth:
                start = max(self.now, side.wire_free_at) + len(datagram) / conditions.bandwidth
                side.wire_free_at = start
            for _ in range(copies):
                arrival = start + conditions.delay + self._rng.random() * conditions.jitter
                if self._rng.random() < conditions.reorder:
                    arrival += conditions.reorder_delay
                self._sequence += 1
                heapq.heappush(self._in_flight, (arrival, self._sequence, 1 - source, datagram))

    def step(self) -> bool:
        """Transmit, then advance to the next delivery or timer. False when idle."""
        self._transmit(0)
        self._transmit(1)
        deadlines = [t for t in (s.endpoint.get_timer() for s in self._sides) if t is not None]
        if self._in_flight:
            deadlines.append(self._in_flight[0][0])
        if not deadlines:
            return False
        self.now = max(self.now, min(deadlines))
        while self._in_flight and self._in_flight[0][0] <= self.now:
            _, _, target, datagram = heapq.heappop(self._in_flight)
            self.delivered += 1
            self._sides[target].endpoint.receive_datagram(datagram, self.now)
        for side in self._sides:
            timer = side.endpoint.get_timer()
            if timer is not None and timer <= self.now:
                side.endpoint.handle_timer(self.now)
        return True

    def run(self, until: Callable[[], bool], *, timeout: float = 60.0) -> float:
        """Run until ``until()`` is true; raise ``TimeoutError`` after ``timeout`` virtual s."""
        deadline = self.now + timeout
        while not until():
            if self.now > deadline or not self.step():
                if until():
                    break
                raise TimeoutError(f"condition not reached by t={self.now:.3f}")
        return self.now
