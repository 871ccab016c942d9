"""Test helpers that are useful to users too: deterministic virtual networks.

* :class:`VirtualLink` joins two sans-I/O endpoints (anything with ``receive_datagram``,
  ``datagrams_to_send``, ``get_timer`` and ``handle_timer``) through a seeded lossy,
  duplicating, reordering, delaying wire, and advances virtual time itself: no trio, no
  clock, no sockets. A 30-second timeout runs in microseconds; the same seed, the same run.
* :class:`MemoryNetwork` gives whole peer connections in-memory "UDP sockets" with the
  same impairments, under trio's clock: with ``trio.testing.MockClock(autojump_threshold=0)``
  a 30-second consent timeout takes milliseconds. Pass it as ``PeerConnection(...,
  network=net)``; nothing leaves the process.
* :class:`PathProfile` models one direction of a real path for both: a one-way delay, a
  bottleneck of ``rate`` bit/s behind a drop-tail queue of ``queue`` bytes, random loss
  and jitter (without reordering unless asked), all seeded. ``PathProfile.named("wan")``
  gives the profiles of issue 12 (``lan``, ``bottleneck``, ``wan``, ``wan-lossy``,
  ``mobile``, ``far``), the same model as ``benchmarks/pathemu.py`` applies in real time.
  Pass one wherever a :class:`LinkConditions` goes (``VirtualLink(a, b, profile)``,
  ``MemoryNetwork(profile)``); :meth:`VirtualLink.dumbbell` shares one bottleneck per
  direction between several endpoint pairs.
"""

from __future__ import annotations

import errno
import heapq
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Protocol

import trio

__all__ = [
    "DatagramEndpoint",
    "LinkConditions",
    "MemoryNetwork",
    "MemorySocket",
    "PathDirection",
    "PathProfile",
    "PathStats",
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


@dataclass(frozen=True)
class PathProfile:
    """One direction of a network path, as ``benchmarks/pathemu.py`` models it.

    Applied to each datagram in order: random ``loss`` (before the bottleneck: a lost
    datagram takes no capacity); a bottleneck serializing the datagram plus ``header``
    bytes (IPv4 + UDP) at ``rate`` bit/s behind a drop-tail queue of ``queue`` bytes (the
    backlog, the datagram in service included, must stay within it or the datagram is
    dropped; ``None``: no limit); then ``delay`` seconds, each datagram's drawn uniformly
    in ``delay ± jitter`` and, unless ``reorder`` is set, never leaving before the one
    ahead of it. A slow reader's socket buffer is the same model: ``rate`` its reading
    speed, ``queue`` its ``SO_RCVBUF``.
    """

    delay: float = 0.0
    rate: float | None = None
    queue: int | None = None
    loss: float = 0.0
    jitter: float = 0.0
    reorder: bool = False
    header: int = 28

    @classmethod
    def named(cls, name: str) -> PathProfile:
        """A profile of issue 12 by name (see :data:`PATH_PROFILES`)."""
        try:
            return PATH_PROFILES[name]
        except KeyError:
            known = ", ".join(PATH_PROFILES)
            raise ValueError(f"unknown path profile {name!r} (known: {known})") from None

    def replace(self, **changes: object) -> PathProfile:
        """A copy with some fields changed: ``PathProfile.named("wan").replace(loss=0.02)``."""
        return replace(self, **changes)  # type: ignore[arg-type]

    @property
    def bytes_per_second(self) -> float | None:
        return None if self.rate is None else self.rate / 8

    def bdp(self, size: int = 1200) -> float:
        """Bytes in flight that fill this direction and an equal return path: rate x 2 x
        delay, in ``size``-byte datagrams' payload (``header`` excluded); inf unshaped."""
        if self.rate is None:
            return math.inf
        return self.rate / 8 * 2 * self.delay * size / (size + self.header)


_WAN = PathProfile(delay=0.025, rate=100e6, queue=625_000)
PATH_PROFILES: dict[str, PathProfile] = {
    "lan": PathProfile(),
    "bottleneck": PathProfile(rate=50e6, queue=64 << 10),
    "wan": _WAN,
    "wan-lossy": replace(_WAN, loss=0.01),
    "mobile": PathProfile(delay=0.040, rate=20e6, queue=128 << 10, loss=0.02, jitter=0.005),
    "far": PathProfile(delay=0.100, rate=50e6, queue=1_250_000),
}
"""The profiles of issue 12's table, each direction alike."""


@dataclass
class PathStats:
    """What one direction did to the datagrams it was given."""

    packets: int = 0
    bytes: int = 0
    lost: int = 0  # random loss
    dropped: int = 0  # drop-tail: the queue was full
    delivered: int = 0
    max_backlog: int = 0  # bytes, the deepest the bottleneck queue got (header included)
    drop_times: list[float] = field(default_factory=list)  # when each queue drop happened


class PathDirection:
    """The state of one direction of a :class:`PathProfile`: :meth:`admit` decides a
    datagram's fate and arrival time. Seeded; the same traffic, the same drops."""

    def __init__(self, profile: PathProfile, rng: random.Random) -> None:
        self.profile = profile
        self.rng = rng
        self.stats = PathStats()
        self._busy_until = 0.0  # when the bottleneck finishes serializing its backlog
        self._last_release = 0.0

    def backlog(self, now: float) -> int:
        """Bytes (headers included) waiting for or in the bottleneck at ``now``."""
        rate = self.profile.rate
        if not rate or self._busy_until <= now:
            return 0
        return int((self._busy_until - now) * rate / 8)

    def admit(self, now: float, size: int) -> float | None:
        """Take a datagram of ``size`` bytes at ``now``: its arrival time, or None (lost)."""
        profile, stats = self.profile, self.stats
        stats.packets += 1
        stats.bytes += size
        if profile.loss and self.rng.random() < profile.loss:
            stats.lost += 1
            return None
        depart = now
        rate = profile.rate
        if rate:
            start = self._busy_until if self._busy_until > now else now
            backlog = int((start - now) * rate / 8)
            wire = size + profile.header
            if profile.queue is not None and backlog + wire > profile.queue:
                stats.dropped += 1
                stats.drop_times.append(now)
                return None
            stats.max_backlog = max(stats.max_backlog, backlog + wire)
            depart = self._busy_until = start + wire * 8 / rate
        release = depart + profile.delay
        if profile.jitter:
            release += self.rng.uniform(-profile.jitter, profile.jitter)
        release = max(release, now)
        if not profile.reorder:
            release = max(release, self._last_release)
            self._last_release = release
        stats.delivered += 1
        return release


Conditions = LinkConditions | PathProfile


@dataclass
class _Side:
    endpoint: DatagramEndpoint
    target: int  # index of the endpoint it sends to
    direction: int  # 0: a→b, 1: b→a
    wire_free_at: float = 0.0
    sent: int = 0
    dropped: int = 0


class VirtualLink:
    """Two endpoints joined by a seeded virtual wire, run in virtual time.

    ``run(until)`` shuttles datagrams and fires timers until ``until()`` is true, and
    returns the virtual time then. ``blackout(start, end)`` drops everything in that
    window, both ways. ``a_to_b``/``b_to_a`` conditions may differ; each may be a
    :class:`LinkConditions` or a :class:`PathProfile` (then ``paths[0]``/``paths[1]`` hold
    its state and statistics). :meth:`dumbbell` joins several pairs through one shared
    path per direction.
    """

    def __init__(
        self,
        a: DatagramEndpoint,
        b: DatagramEndpoint,
        conditions: Conditions | None = None,
        *,
        b_to_a: Conditions | None = None,
        seed: int = 0,
        now: float = 0.0,
    ) -> None:
        self._setup([(a, b)], conditions, b_to_a, seed, now)

    @classmethod
    def dumbbell(
        cls,
        pairs: list[tuple[DatagramEndpoint, DatagramEndpoint]],
        conditions: Conditions | None = None,
        *,
        b_to_a: Conditions | None = None,
        seed: int = 0,
        now: float = 0.0,
    ) -> VirtualLink:
        """Several ``(a, b)`` pairs, every a→b datagram through one path (one bottleneck
        queue), every b→a through the other: flows competing for a link."""
        link = cls.__new__(cls)
        link._setup(pairs, conditions, b_to_a, seed, now)
        return link

    def _setup(
        self,
        pairs: list[tuple[DatagramEndpoint, DatagramEndpoint]],
        conditions: Conditions | None,
        b_to_a: Conditions | None,
        seed: int,
        now: float,
    ) -> None:
        self.now = now
        sides: list[_Side] = []
        for a, b in pairs:
            index = len(sides)
            sides.append(_Side(a, index + 1, 0))
            sides.append(_Side(b, index, 1))
        self._sides = sides
        forward = conditions or LinkConditions()
        self._conditions = (forward, b_to_a or forward)
        self.paths: tuple[PathDirection | None, PathDirection | None] = tuple(  # type: ignore[assignment]
            PathDirection(c, random.Random(f"path:{seed}:{i}"))
            if isinstance(c, PathProfile)
            else None
            for i, c in enumerate(self._conditions)
        )
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
        datagrams = side.endpoint.datagrams_to_send(self.now)
        if not datagrams:
            return
        path = self.paths[side.direction]
        if path is not None:
            for datagram in datagrams:
                side.sent += 1
                arrival = None if self._in_blackout() else path.admit(self.now, len(datagram))
                if arrival is None:
                    side.dropped += 1
                    continue
                self._sequence += 1
                heapq.heappush(self._in_flight, (arrival, self._sequence, side.target, datagram))
            return
        conditions = self._conditions[side.direction]
        assert isinstance(conditions, LinkConditions)
        for datagram in datagrams:
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
                heapq.heappush(self._in_flight, (arrival, self._sequence, side.target, datagram))

    def step(self) -> bool:
        """Transmit, then advance to the next delivery or timer. False when idle."""
        sides = self._sides
        for index in range(len(sides)):
            self._transmit(index)
        deadlines = [t for t in (s.endpoint.get_timer() for s in sides) if t is not None]
        if self._in_flight:
            deadlines.append(self._in_flight[0][0])
        if not deadlines:
            return False
        self.now = max(self.now, min(deadlines))
        while self._in_flight and self._in_flight[0][0] <= self.now:
            _, _, target, datagram = heapq.heappop(self._in_flight)
            self.delivered += 1
            sides[target].endpoint.receive_datagram(datagram, self.now)
        for side in sides:
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

    With a :class:`PathProfile`, each (source, target) address pair is a direction of its
    own with that profile's state (``paths[(source, target)]``, statistics included);
    :meth:`set_path` gives one direction another profile (an asymmetric path, a slow
    reader's socket buffer).
    """

    def __init__(self, conditions: Conditions | None = None, *, seed: int = 0) -> None:
        self.conditions: Conditions = conditions or LinkConditions(delay=0.001)
        self._seed = seed
        self._path_overrides: dict[tuple[tuple[str, int], tuple[str, int]], PathProfile] = {}
        self.paths: dict[tuple[tuple[str, int], tuple[str, int]], PathDirection] = {}
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

    def set_path(
        self, source: tuple[str, int], target: tuple[str, int], profile: PathProfile
    ) -> None:
        """Datagrams from ``source`` to ``target`` take ``profile`` (from now on)."""
        self._path_overrides[(source, target)] = profile
        self.paths.pop((source, target), None)

    def _path(self, source: tuple[str, int], target: tuple[str, int]) -> PathDirection | None:
        key = (source, target)
        path = self.paths.get(key)
        if path is None:
            profile = self._path_overrides.get(key)
            if profile is None:
                if not isinstance(self.conditions, PathProfile):
                    return None
                profile = self.conditions
            seed = f"path:{self._seed}:{source[0]}:{source[1]}:{target[0]}:{target[1]}"
            path = self.paths[key] = PathDirection(profile, random.Random(seed))
        return path

    def _transmit(self, source: tuple[str, int], target: tuple[str, int], data: bytes) -> None:
        self.sent += 1
        if isinstance(self.conditions, PathProfile) or self._path_overrides:
            path = self._path(source, target)
            if path is not None:
                sock = self._sockets.get(target)
                arrival = None if self.blackout else path.admit(trio.current_time(), len(data))
                if arrival is None:
                    self.dropped += 1
                elif sock is not None:
                    self._sequence += 1
                    sock._deliver(arrival, self._sequence, data, source)
                return
        conditions = self.conditions
        assert isinstance(conditions, LinkConditions)
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
