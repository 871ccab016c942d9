"""A user-space network path emulator on 127.0.0.1: a UDP relay between two peers.

Design
======
Two peers (sides ``"a"`` and ``"b"``) each bind their own UDP socket(s) on 127.0.0.1 and
never talk directly. The relay stands between them like a NAT that maps every peer
endpoint ``e`` (address, port) to a relay socket ``R(e)`` of its own, also on 127.0.0.1:

* signaling goes through :meth:`PathEmulator.rewrite_candidate` /
  :meth:`PathEmulator.rewrite_sdp`: a host candidate ``127.0.0.1 P`` from side ``a`` is
  given to side ``b`` as ``127.0.0.1 R(P)`` (only UDP candidates on 127.0.0.1 survive;
  every other one is dropped, so ICE can only ever use loopback through the relay);
* a datagram from ``s`` arriving at ``R(d)`` goes, after the path model of the direction
  towards ``d``'s side, to ``d`` *from* ``R(s)``, so each peer sees its partner at the
  address it was signaled, and answers (ICE checks, DTLS, SCTP) take the mirror path;
* a source never signaled (a peer-reflexive candidate, e.g. a browser sending from a
  wildcard socket) is learnt from its first datagram: it gets its own ``R(s)`` on the
  spot, and the other peer learns that as a peer-reflexive candidate, as it would
  behind a real NAT.

The path model (per direction, see :class:`Link`), applied to each datagram in order:

1. random loss with probability ``loss`` (before the bottleneck: a lost datagram takes
   no capacity);
2. a bottleneck of ``rate`` bit/s serializing the datagram plus 28 bytes of IPv4/UDP
   header, behind a drop-tail queue of ``queue`` bytes (the backlog, including the
   datagram in service, must stay within it, or the datagram is dropped);
3. a one-way ``delay``, plus ``jitter``: each datagram's delay is drawn uniformly in
   ``delay ± jitter``, and, unless ``reorder`` is set, no datagram leaves before the one
   ahead of it (so jitter never reorders).

Releases come from a heap of release times served by one task per direction. Trio's
timers have about 1 ms granularity, so the task wakes 0.5 ms ahead and releases what is
due within 0.5 ms: datagrams leave within about ±0.5 ms of their time, in small bursts at
high rates. A profile with no shaping at all (``lan``) forwards at once, without the
heap. Randomness is seeded per direction, so a run's drops repeat for the same traffic.

``python benchmarks/pathemu.py --capacity`` measures what the relay itself carries.
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import json
import random
import re
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import trio

from trio_webrtc.testing import PATH_PROFILES, PathDirection, PathProfile, PathStats

__all__ = [
    "PROFILES",
    "Link",
    "PathEmulator",
    "PathModel",
    "Profile",
    "open_path",
    "parse_profile",
]

HOST = "127.0.0.1"
HEADER_BYTES = PathProfile.header  # IPv4 + UDP: serialized besides the payload
SOCKET_BUFFER = 8 << 20  # relay sockets' send and receive buffers
_BATCH = 256  # datagrams read from one socket before other tasks get a turn
_EARLY = 0.0005  # s: timers wake up to ~1 ms late, so release what is due this soon


PathModel = PathProfile
"""One direction of a path: the suite's model (:class:`trio_webrtc.testing.PathProfile`),
so virtual-time tests and these real-time runs shape traffic by the same rules."""


def _shaped(model: PathModel) -> bool:
    return bool(model.delay or model.rate or model.loss or model.jitter)


def _describe(model: PathModel) -> str:
    parts = []
    if model.delay:
        parts.append(f"{model.delay * 1000:g} ms")
    if model.jitter:
        parts.append(f"±{model.jitter * 1000:g} ms jitter")
    if model.rate:
        parts.append(f"{model.rate / 1e6:g} Mbit/s")
    if model.queue is not None:
        parts.append(f"queue {model.queue:,} B")
    if model.loss:
        parts.append(f"{model.loss * 100:g} % loss")
    if model.reorder:
        parts.append("reordering")
    return ", ".join(parts) or "no shaping"


@dataclass(frozen=True)
class Profile:
    """A named path: ``a_to_b`` from the offerer's side, ``b_to_a`` back."""

    name: str
    a_to_b: PathModel
    b_to_a: PathModel

    def describe(self) -> str:
        if self.a_to_b == self.b_to_a:
            return _describe(self.a_to_b) + (" each way" if _shaped(self.a_to_b) else "")
        return f"a→b {_describe(self.a_to_b)}; b→a {_describe(self.b_to_a)}"


PROFILES: dict[str, Profile] = {
    name: Profile(name, model, model) for name, model in PATH_PROFILES.items()
}

_UNITS = {"": 1.0, "k": 1e3, "m": 1e6, "g": 1e9}


def _number(text: str) -> float:
    match = re.fullmatch(r"([0-9.]+)\s*(ms|s|%|[kKmMgG]i?)?(bit/s|b/s|bps|B)?", text.strip())
    if not match:
        raise ValueError(f"not a number: {text!r}")
    value, unit = float(match.group(1)), match.group(2) or ""
    if unit == "ms":
        return value / 1000
    if unit == "s":
        return value
    if unit == "%":
        return value / 100
    if unit.endswith("i"):
        return value * 1024.0 ** ("kmg".index(unit[0].lower()) + 1)
    return value * _UNITS[unit.lower()]


def parse_profile(spec: str) -> Profile:
    """A profile by name, optionally with overrides for both directions:
    ``"wan"``, ``"wan,loss=2%"``, ``"lan,delay=10ms,rate=20M,queue=64Ki,jitter=2ms"``."""
    name, *overrides = (part.strip() for part in spec.split(","))
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r} (known: {', '.join(PROFILES)})")
    profile = PROFILES[name]
    if not overrides:
        return profile
    changes: dict[str, Any] = {}
    for item in overrides:
        key, _, value = item.partition("=")
        key = key.strip()
        if key in ("delay", "jitter"):
            changes[key] = _number(value) if value.strip().endswith("s") else float(value)
        elif key == "rate":
            changes[key] = _number(value) or None
        elif key == "queue":
            changes[key] = int(_number(value))
        elif key == "loss":
            changes[key] = _number(value)
        elif key == "reorder":
            changes[key] = value.strip().lower() in ("1", "yes", "true")
        else:
            raise ValueError(f"unknown path parameter {key!r}")
    return Profile(spec, replace(profile.a_to_b, **changes), replace(profile.b_to_a, **changes))


# ----------------------------------------------------------------------------- link


@dataclass
class LinkStats(PathStats):
    """What one direction did to the datagrams it was given (the model's counts), and
    what the relay's socket then did with them."""

    delivered_bytes: int = 0
    send_errors: int = 0


class Link:
    """One direction of the path: loss, bottleneck with drop-tail queue, delay, jitter.

    :meth:`admit` decides a datagram's fate and release time; :meth:`run` (a task) sends
    each one when its time comes.
    """

    def __init__(self, model: PathModel, rng: random.Random) -> None:
        self.model = model
        self.stats = LinkStats()
        self._path = PathDirection(model, rng)
        self._path.stats = self.stats
        self._heap: list[tuple[float, int, bytes, socket.socket, tuple[str, int]]] = []
        self._count = 0
        self._lot = trio.lowlevel.ParkingLot()

    def admit(self, now: float, data: bytes, out: socket.socket, dest: tuple[str, int]) -> None:
        """Take one datagram from the path's entry at time ``now``."""
        release = self._path.admit(now, len(data))
        if release is None:
            return  # lost, or dropped by the queue (counted)
        self.stats.delivered_bytes += len(data)
        if release <= now and not self._heap and self._send(data, out, dest):
            return  # due now and nothing ahead of it (else: queued until writable)
        self._count += 1
        heapq.heappush(self._heap, (release, self._count, data, out, dest))
        if self._heap[0][1] == self._count:
            self._lot.unpark_all()  # a new earliest release

    def _send(self, data: bytes, out: socket.socket, dest: tuple[str, int]) -> bool:
        """Send now; False if the socket's buffer is full (try again when writable)."""
        try:
            out.sendto(data, dest)
        except BlockingIOError:
            return False
        except OSError:
            self.stats.send_errors += 1
        return True

    async def run(self) -> None:
        """Release every datagram at its time (the task of this direction)."""
        heap = self._heap
        while True:
            if not heap:
                await self._lot.park()
                continue
            now = trio.current_time() + _EARLY
            if heap[0][0] > now:
                with trio.move_on_at(heap[0][0] - _EARLY):
                    await self._lot.park()
                continue
            while heap and heap[0][0] <= now:
                _, _, data, out, dest = heap[0]
                if not self._send(data, out, dest):
                    await trio.lowlevel.wait_writable(out)
                    continue
                heapq.heappop(heap)
            await trio.lowlevel.checkpoint()


# ------------------------------------------------------------------------- emulator


@dataclass
class _Endpoint:
    side: str  # "a" or "b": whose socket this is
    addr: tuple[str, int]  # the peer's own socket
    relay: socket.socket  # R(addr): where the other side reaches it
    learnt: bool = False  # from a datagram, not from signaling


def _other(side: str) -> str:
    return "b" if side == "a" else "a"


@dataclass
class PathEmulator:
    """The relay (see the module docs). Use through :func:`open_path`."""

    profile: Profile
    seed: int = 0
    endpoints: dict[tuple[str, int], _Endpoint] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.links = {
            "b": Link(self.profile.a_to_b, random.Random(f"{self.seed}-a-to-b")),
            "a": Link(self.profile.b_to_a, random.Random(f"{self.seed}-b-to-a")),
        }  # keyed by the side a datagram goes *to*
        self._nursery: trio.Nursery | None = None
        self._fast = not (_shaped(self.profile.a_to_b) or _shaped(self.profile.b_to_a))
        self.unknown_sources = 0

    # -------------------------------------------------------------- signaling side

    def relay_address(self, side: str, addr: tuple[str, int]) -> tuple[str, int]:
        """Where the other side must send to reach ``side``'s socket ``addr``."""
        endpoint = self.endpoints.get(addr)
        if endpoint is None:
            endpoint = self._add_endpoint(side, addr)
        elif endpoint.side != side:
            raise ValueError(f"{addr} already belongs to side {endpoint.side}")
        host, port = endpoint.relay.getsockname()[:2]
        return str(host), int(port)

    def rewrite_candidate(self, side: str, candidate: str) -> str | None:
        """``side``'s ``candidate:...`` value as the other side must see it; None to drop
        it (not UDP, not on 127.0.0.1). An empty value (end-of-candidates) passes."""
        prefix = "a=" if candidate.startswith("a=") else ""
        value = candidate[len(prefix) :]
        if not value.strip():
            return candidate
        parts = value.split()
        if len(parts) < 8 or parts[2].lower() != "udp" or parts[4] != HOST:
            return None
        host, port = self.relay_address(side, (parts[4], int(parts[5])))
        parts[4], parts[5] = host, str(port)
        return prefix + " ".join(parts)

    def rewrite_sdp(self, side: str, sdp: str) -> str:
        """``side``'s session description with every candidate line rewritten (or dropped)."""
        lines = []
        for line in sdp.splitlines():
            if line.startswith("a=candidate:"):
                rewritten = self.rewrite_candidate(side, line)
                if rewritten is not None:
                    lines.append(rewritten)
            else:
                lines.append(line)
        return "\r\n".join(lines) + "\r\n"

    # ------------------------------------------------------------------ data side

    def _add_endpoint(self, side: str, addr: tuple[str, int], learnt: bool = False) -> _Endpoint:
        if self._nursery is None:
            raise RuntimeError("the path is not running (use open_path)")
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setblocking(False)
        for force, plain in (
            (getattr(socket, "SO_RCVBUFFORCE", None), socket.SO_RCVBUF),
            (getattr(socket, "SO_SNDBUFFORCE", None), socket.SO_SNDBUF),
        ):
            try:  # as root, beyond net.core.rmem_max: the relay must not be the bottleneck
                sock.setsockopt(socket.SOL_SOCKET, force or plain, SOCKET_BUFFER)
            except OSError:
                sock.setsockopt(socket.SOL_SOCKET, plain, SOCKET_BUFFER)
        sock.bind((HOST, 0))
        endpoint = _Endpoint(side, addr, sock, learnt)
        self.endpoints[addr] = endpoint
        self._nursery.start_soon(self._reader, endpoint)
        return endpoint

    async def _reader(self, target: _Endpoint) -> None:
        """Datagrams arriving at ``R(target)``: to ``target``, through the link to its side."""
        sock = target.relay
        link = self.links[target.side]
        source_side = _other(target.side)
        endpoints = self.endpoints
        fast = self._fast
        dest = target.addr
        while True:
            await trio.lowlevel.wait_readable(sock)
            now = trio.current_time()
            for _ in range(_BATCH):
                try:
                    data, src = sock.recvfrom(65536)
                except BlockingIOError:
                    break
                except OSError:  # e.g. ICMP port unreachable from a peer that left
                    continue
                source = endpoints.get(src)
                if source is None:
                    self.unknown_sources += 1
                    source = self._add_endpoint(source_side, src, learnt=True)
                elif source.side != source_side:
                    continue  # a peer talking to itself through the relay
                if fast and not link._heap and link._send(data, source.relay, dest):
                    stats = link.stats
                    stats.packets += 1
                    stats.bytes += len(data)
                    stats.delivered += 1
                    stats.delivered_bytes += len(data)
                    continue
                link.admit(now, data, source.relay, dest)  # shaped, or the socket was full

    def kernel_drops(self) -> int:
        """Datagrams the kernel dropped at the relay's sockets (it did not read fast enough)."""
        ports = {e.relay.getsockname()[1] for e in self.endpoints.values()}
        drops = 0
        with contextlib.suppress(OSError), open("/proc/net/udp") as table:
            next(table)
            for row in table:
                fields = row.split()
                if int(fields[1].split(":")[1], 16) in ports:
                    drops += int(fields[-1])
        return drops

    def stats(self) -> dict[str, Any]:
        """Per direction: datagrams in, lost, dropped by the queue, delivered, deepest queue."""
        return {
            "profile": self.profile.name,
            "a_to_b": _summary(self.links["b"].stats),
            "b_to_a": _summary(self.links["a"].stats),
            "relay_kernel_drops": self.kernel_drops(),
            "learnt_sources": self.unknown_sources,
        }


def _summary(stats: LinkStats) -> dict[str, Any]:
    summary = asdict(stats)
    del summary["drop_times"]  # the times of the suite's analyses; `dropped` counts them
    return summary


@contextlib.asynccontextmanager
async def open_path(profile: Profile | str, *, seed: int = 0) -> AsyncIterator[PathEmulator]:
    """Run a path emulator for the duration of the block."""
    if isinstance(profile, str):
        profile = parse_profile(profile)
    path = PathEmulator(profile, seed)
    try:
        async with trio.open_nursery() as nursery:
            path._nursery = nursery
            for link in path.links.values():
                nursery.start_soon(link.run)
            try:
                yield path
            finally:
                nursery.cancel_scope.cancel()
    finally:
        for endpoint in path.endpoints.values():
            endpoint.relay.close()


# ------------------------------------------------------------------------- capacity

_BLASTER = r"""
import socket, struct, sys, threading, time
seconds, size, rate = float(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
rx.bind(("127.0.0.1", 0)); rx.settimeout(1.0)
tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); tx.bind(("127.0.0.1", 0))
print(rx.getsockname()[1], tx.getsockname()[1], flush=True)
target_port = int(sys.stdin.readline())
got = [0, 0.0, 0.0]; delays = []
def receive():
    while True:
        try:
            data = rx.recv(65536)
        except socket.timeout:
            return
        now = time.perf_counter()
        if not got[0]:
            got[1] = now
        got[0] += 1; got[2] = now
        delays.append(now - struct.unpack_from("d", data)[0])
threading.Thread(target=receive, daemon=True).start()
pad = bytes(size - 8); sent = 0; start = time.perf_counter(); gap = size * 8 / rate if rate else 0
while (now := time.perf_counter()) - start < seconds:
    if gap and sent * gap > now - start:
        time.sleep(min(0.001, sent * gap - (now - start)))
        continue
    tx.sendto(struct.pack("d", time.perf_counter()) + pad, ("127.0.0.1", target_port)); sent += 1
elapsed = time.perf_counter() - start
time.sleep(1.5)
span = max(got[2] - got[1], 1e-9); delays.sort()
p = lambda q: delays[min(len(delays) - 1, int(q * len(delays)))] * 1000 if delays else 0
print(sent, got[0], elapsed, span, p(0.0), p(0.5), p(0.99), flush=True)
"""


async def measure_capacity(
    profile: str, seconds: float, size: int, rate: float, direct: bool
) -> dict[str, Any]:
    """Blast ``size``-byte datagrams at ``rate`` bit/s (0: as fast as the sender can)
    through the relay (or straight, ``direct``) from another process; count what arrives."""
    process = await trio.lowlevel.open_process(
        [sys.executable, "-c", _BLASTER, str(seconds), str(size), str(rate)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert process.stdin is not None and process.stdout is not None
    buffer = b""

    async def line() -> str:
        nonlocal buffer
        while b"\n" not in buffer:
            chunk = await process.stdout.receive_some()  # type: ignore[union-attr]
            if not chunk:
                raise RuntimeError("blaster exited")
            buffer += chunk
        text, _, buffer = buffer.partition(b"\n")
        return text.decode()

    rx_port, tx_port = map(int, (await line()).split())
    async with open_path(profile) as path:
        if direct:
            target = rx_port
        else:
            path.relay_address("a", (HOST, tx_port))
            target = path.relay_address("b", (HOST, rx_port))[1]
        await process.stdin.send_all(f"{target}\n".encode())
        sent, got, elapsed, span, low, median, p99 = (await line()).split()
        stats = path.stats()
    await process.wait()
    mbit = int(got) * size * 8 / float(span) / 1e6
    return {
        "profile": profile,
        "direct": direct,
        "datagram_bytes": size,
        "sent": int(sent),
        "offered_mbit_s": round(int(sent) * size * 8 / float(elapsed) / 1e6, 1),
        "received": int(got),
        "delivered_mbit_s": round(mbit, 1),
        "delivered_kpps": round(int(got) / float(span) / 1000, 1),
        "loss_percent": round(100 * (1 - int(got) / max(1, int(sent))), 2),
        "one_way_ms": {"min": float(low), "p50": float(median), "p99": float(p99)},
        "relay": None if direct else stats,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="print the profiles")
    parser.add_argument("--capacity", action="store_true", help="measure the relay itself")
    parser.add_argument("--profile", default="lan")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--size", type=int, default=1200, help="datagram bytes")
    parser.add_argument("--rate", type=float, default=0.0, help="offered bit/s (0: flat out)")
    parser.add_argument("--direct", action="store_true", help="no relay (the baseline)")
    args = parser.parse_args()
    if args.capacity:
        record = trio.run(
            measure_capacity, args.profile, args.seconds, args.size, args.rate, args.direct
        )
        print(json.dumps(record))
        return
    for profile in PROFILES.values():
        print(f"{profile.name:12} {profile.describe()}")


if __name__ == "__main__":
    main()
