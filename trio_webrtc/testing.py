"""Test helpers that are useful to users too: deterministic virtual networks.

* :class:`VirtualLink` joins two sans-I/O endpoints (anything with ``receive_datagram``,
  ``datagrams_to_send``, ``get_timer`` and ``handle_timer``) through a seeded lossy,
  duplicating, reordering, delaying wire, and advances virtual time itself: no trio, no
  clock, no sockets. A 30-second timeout runs in microseconds; the same seed, the same run.
* :class:`MemoryNetwork` gives whole peer connections in-memory "UDP sockets" with the
  same impairments, under trio's clock: with ``trio.testing.MockClock(autojump_threshold=0)``
  a 30-second consent timeout takes milliseconds. Pass it as ``PeerConnection(...,
  network=net)``; nothing leaves the process.
"""

from __future__ import annotations

import errno
import heapq
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import trio

__all__ = [
    "DatagramEndpoint",
    "LinkConditions",
    "MemoryNetwork",
    "MemorySocket",
    "VirtualLink",
]


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


class MemorySocket:
    """An in-memory datagram socket bound on a :class:`MemoryNetwork` (driver protocol)."""

    def __init__(self, network: MemoryNetwork, address: tuple[str, int]) -> None:
        self._network = network
        self.address = address
        self._inbox: list[tuple[float, int, bytes, tuple[str, int]]] = []
        self._lot = trio.lowlevel.ParkingLot()
        self._closed = False
        self.received = 0

    def getsockname(self) -> tuple[str, int]:
        return self.address

    def fileno(self) -> int:
        return -1 if self._closed else 0

    def sendto(self, data: bytes, address: tuple[str, int]) -> int:
        if self._closed:
            raise OSError(errno.EBADF, "socket closed")
        self._network._transmit(self.address, (address[0], address[1]), bytes(data))
        return len(data)

    def recvfrom(self, bufsize: int) -> tuple[bytes, tuple[str, int]]:
        inbox = self._inbox
        if self._closed or not inbox or inbox[0][0] > trio.current_time():
            raise BlockingIOError
        _, _, data, source = heapq.heappop(inbox)
        self.received += 1
        return data[:bufsize], source

    async def wait_readable(self) -> None:
        while True:
            if self._closed:
                await trio.sleep_forever()
            inbox = self._inbox
            if inbox and inbox[0][0] <= trio.current_time():
                return
            deadline = inbox[0][0] if inbox else math.inf
            with trio.move_on_at(deadline):
                await self._lot.park()

    async def wait_writable(self) -> None:
        await trio.lowlevel.checkpoint()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._network._sockets.pop(self.address, None)
            self._lot.unpark_all()

    def _deliver(self, arrival: float, sequence: int, data: bytes, source: tuple[str, int]) -> None:
        if len(self._inbox) >= 65536:  # a full receive buffer drops, as the kernel would
            return
        heapq.heappush(self._inbox, (arrival, sequence, data, source))
        self._lot.unpark_all()


class MemoryNetwork:
    """A seeded, impaired in-memory datagram network for whole peer connections.

    ``conditions`` apply to every datagram; ``blackout`` drops everything while set (use
    ``set_blackout(True/False)`` from a test task). Only addresses bound here exist:
    datagrams to anything else vanish. Use under trio (ideally a ``MockClock``).
    """

    def __init__(self, conditions: LinkConditions | None = None, *, seed: int = 0) -> None:
        self.conditions = conditions or LinkConditions(delay=0.001)
        self._rng = random.Random(seed)
        self._sockets: dict[tuple[str, int], MemorySocket] = {}
        self._wire_free_at: dict[tuple[str, int], float] = {}
        self._next_port = 10000
        self._sequence = 0
        self.blackout = False
        self.sent = 0
        self.dropped = 0

    def set_blackout(self, on: bool) -> None:
        """Drop every datagram from now on (True) or stop dropping (False)."""
        self.blackout = on

    def bind(self, host: str = "127.0.0.1", port: int = 0) -> MemorySocket:
        """Bind a socket; port 0 picks a free one."""
        if port == 0:
            while (host, self._next_port) in self._sockets:
                self._next_port += 1
            port = self._next_port
            self._next_port += 1
        if (host, port) in self._sockets:
            raise OSError(errno.EADDRINUSE, f"{host}:{port} in use")
        sock = MemorySocket(self, (host, port))
        self._sockets[(host, port)] = sock
        return sock

    def _transmit(self, source: tuple[str, int], target: tuple[str, int], data: bytes) -> None:
        self.sent += 1
        conditions = self.conditions
        rng = self._rng
        if (
            self.blackout
            or (conditions.mtu is not None and len(data) > conditions.mtu)
            or rng.random() < conditions.loss
        ):
            self.dropped += 1
            return
        sock = self._sockets.get(target)
        if sock is None:
            return
        now = trio.current_time()
        copies = 2 if rng.random() < conditions.duplicate else 1
        start = now
        if conditions.bandwidth:  # each sender's datagrams are serialised on its wire
            start = max(now, self._wire_free_at.get(source, now)) + len(data) / conditions.bandwidth
            self._wire_free_at[source] = start
        for _ in range(copies):
            arrival = start + conditions.delay + rng.random() * conditions.jitter
            if rng.random() < conditions.reorder:
                arrival += conditions.reorder_delay
            self._sequence += 1
            sock._deliver(arrival, self._sequence, data, source)
