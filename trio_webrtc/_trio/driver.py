"""The trio driver: runs a sans-I/O :class:`~trio_webrtc.core.PeerConnectionCore`.

One receive task per UDP socket and one timer task, all in the owner's nursery; no
threads, no globals. The receive task drains every datagram that is ready (up to a burst
limit) before flushing: one flush per burst, which still carries a SACK for every second
DATA packet of it (SCTP freezes them as they fall due, ``sctp/acks.py``, so a sender
limited to a few packets per SACK is not held back). ``flush()`` is synchronous and
may be called from any task (a ``send`` on a channel, a Godot ``put_packet``): it sends what
the core has, dispatches the core's events to the owner's callback, and re-arms the timer.

Bundling. ``flush_soon(nbytes)`` is what a channel send calls instead: when nothing is in
flight it flushes at once (a lone message goes out without delay). Otherwise the senders
are "bundling": full SCTP packets go in batches, at every 256 KiB queued and at the
flusher's looks, a partly filled tail stays (``datagrams_to_send(hold=True)``), and a
flusher task sends the tail once the senders stop adding (two quiet scheduling rounds; a
sender still busy after 8 rounds is looked at every millisecond instead), so a stream of
small messages leaves in full packets (RFC 9260 §6.10) instead of one packet (and one
SACK) per message. A SACK arriving meanwhile sends DATA only when the last batch was
stopped by cwnd or the peer's rwnd (ack clocking) or something else is due (SCTP
``only_new_data_pending``): otherwise it would cut the next batch short, and every short
batch costs the peer a receive wakeup and a SACK. Anything else due then (a STUN reply)
waits for the flusher's next look, at most a millisecond. A receive burst that is one
packet asking for a SACK (RFC 7053 I bit) leaves that SACK to the flusher too, so that a
reply sent meanwhile carries it.

Linux UDP GSO/GRO: runs of same-size datagrams to one address go in one ``sendmsg``
(``UDP_SEGMENT``) and sockets receive such batches in one ``recvmsg`` (``UDP_GRO``);
detected per socket, with plain ``sendto``/``recvfrom`` as the fallback.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import logging
import math
import random
import socket
import struct
import sys
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import trio

from ..config import Configuration
from ..core import PeerConnectionCore
from .netif import local_addresses
from .turn_streams import IceServerIO

if TYPE_CHECKING:
    from .mdns_resolver import Resolver

__all__ = ["CoreDriver", "DatagramSocket", "UdpSocket", "bind_udp_sockets"]

logger = logging.getLogger("trio_webrtc.driver")


Address = tuple[str, int]

_RECEIVE_BURST = 512
_MAX_PENDING_DATAGRAMS = 8192
_SOCKET_BUFFER = 4 << 20
_BUNDLE_BYTES = 256 << 10  # full packets go at once when this much user data is waiting
_QUICK_ROUNDS = 8  # scheduling rounds the flusher looks at one by one before polling
_STREAM_POLL = 0.001  # seconds between the flusher's looks at a streaming sender
_REARM_WITHIN = 0.1  # a later deadline re-arms the timer when the armed one is this near
# Linux UDP segmentation offload (udp(7)): one sendmsg carries up to 64 same-size
# datagrams (UDP_SEGMENT), and a socket with UDP_GRO receives such a batch in one recvmsg
# (the segment size in a control message) instead of one syscall per datagram.
_SOL_UDP = 17
_UDP_SEGMENT = 103
_UDP_GRO = 104
_GSO_MAX_SEGMENTS = 64
_GSO_MAX_BYTES = 65000
_U16 = struct.Struct("=H")
_GRO_CMSG_SPACE = socket.CMSG_SPACE(4) if hasattr(socket, "CMSG_SPACE") else 0


def _gro_segment_size(ancdata: list[tuple[int, int, bytes]]) -> int:
    """The UDP_GRO segment size in a recvmsg's control messages, or 0 (one datagram)."""
    for level, kind, value in ancdata:
        if level == _SOL_UDP and kind == _UDP_GRO:
            return int.from_bytes(value[:4].ljust(4, b"\0"), sys.byteorder)
    return 0


class DatagramSocket(Protocol):
    """What the driver needs of a socket: real UDP (:class:`UdpSocket`) or in-memory
    (:class:`trio_webrtc.testing.MemorySocket`). ``recvfrom`` and ``sendto`` never block:
    they raise ``BlockingIOError`` instead."""

    def getsockname(self) -> Any: ...

    def recvfrom(self, bufsize: int) -> tuple[bytes, Any]: ...

    def sendto(self, data: bytes, address: Address) -> int: ...

    def close(self) -> None: ...

    def fileno(self) -> int: ...

    async def wait_readable(self) -> None: ...

    async def wait_writable(self) -> None: ...


class UdpSocket:
    """A non-blocking UDP socket; ``recvfrom``/``sendto`` are the stdlib's bound methods.

    On Linux it also batches: ``gso`` (send same-size datagrams in one ``sendmsg``; the
    driver turns it off for good if the kernel refuses) and ``gro`` (``recv_batch``
    returns a coalesced batch and its segment size), detected once per socket.
    """

    def __init__(self, sock: socket.socket, *, offload: bool = True) -> None:
        self.socket = sock
        self.recvfrom = sock.recvfrom
        self.sendto = sock.sendto
        self.getsockname = sock.getsockname
        self.fileno = sock.fileno
        self.gso = offload and sys.platform == "linux" and hasattr(sock, "sendmsg")
        self.gro = False
        if self.gso and _GRO_CMSG_SPACE:
            try:
                sock.setsockopt(_SOL_UDP, _UDP_GRO, 1)
                self.gro = True
            except OSError:
                pass

    def send_batch(self, datagrams: list[bytes], size: int, address: Address) -> None:
        """Send datagrams of ``size`` bytes (the last may be shorter) in one syscall."""
        self.socket.sendmsg(
            [b"".join(datagrams)], [(_SOL_UDP, _UDP_SEGMENT, _U16.pack(size))], 0, address
        )

    def recv_batch(self) -> tuple[bytes, int, Any]:
        """(data, segment size or 0 when it is one datagram, sender) from a GRO socket."""
        data, ancdata, _flags, address = self.socket.recvmsg(65536, _GRO_CMSG_SPACE)
        return data, _gro_segment_size(ancdata), address

    def close(self) -> None:
        self.socket.close()

    async def wait_readable(self) -> None:
        await trio.lowlevel.wait_readable(self.socket)

    async def wait_writable(self) -> None:
        await trio.lowlevel.wait_writable(self.socket)


def _bind_one(host: str, port_range: tuple[int, int] | None, rng: random.Random) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
            with contextlib.suppress(OSError):  # platform limits
                sock.setsockopt(socket.SOL_SOCKET, option, _SOCKET_BUFFER)
        if port_range is None:
            sock.bind((host, 0))
            return sock
        begin, end = port_range
        ports = list(range(begin, end + 1))
        start = rng.randrange(len(ports))
        for port in ports[start:] + ports[:start]:
            try:
                sock.bind((host, port))
                return sock
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise
        raise OSError(errno.EADDRINUSE, f"no free UDP port on {host} in {begin}-{end}")
    except BaseException:
        sock.close()
        raise


def bind_udp_sockets(configuration: Configuration, rng: random.Random) -> list[DatagramSocket]:
    """Bind one non-blocking UDP socket per local address the configuration allows."""
    hosts = [configuration.bind_address] if configuration.bind_address else local_addresses()
    sockets: list[socket.socket] = []
    try:
        for host in hosts:
            try:
                sockets.append(_bind_one(host, configuration.port_range, rng))
            except OSError as exc:
                if configuration.bind_address:
                    raise
                logger.warning("cannot bind UDP socket on %s: %s", host, exc)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    if not sockets:
        raise OSError("no local address to gather host candidates on")
    return [UdpSocket(sock) for sock in sockets]


class CoreDriver:
    """Runs a core over real UDP sockets inside a nursery the owner provides."""

    def __init__(
        self,
        core: PeerConnectionCore,
        sockets: Sequence[DatagramSocket],
        on_event: Callable[[object], None],
        *,
        mdns_resolver: Resolver | None = None,
    ) -> None:
        self.core = core
        self._on_event = on_event
        # mDNS names of remote candidates: a task started on the first one (see _wake_mdns).
        self._mdns_resolver = mdns_resolver
        self._mdns_wakeup: trio.Event | None = None
        self._nursery: trio.Nursery | None = None
        # STUN/TURN helpers (name resolution, TURN over TCP/TLS): only with ICE servers.
        self._ice_io = IceServerIO(core, self.flush) if core.configuration.ice_servers else None
        self._sockets: dict[Address, DatagramSocket] = {}
        for sock in sockets:
            local = sock.getsockname()[:2]
            self._sockets[(local[0], local[1])] = sock
            core.add_host_address((local[0], local[1]))
        self._pending: dict[DatagramSocket, deque[tuple[bytes, Address]]] = {
            sock: deque() for sock in sockets
        }
        self._writable = trio.Event()
        self._timer_scope: trio.CancelScope | None = None
        # The timer task's deadline. A flush only moves it earlier: a later deadline (T3
        # pushed back by every SACK) waits for the task's next wakeup, which re-reads it.
        self._armed = math.inf
        self._closed = False
        self._dispatching = False
        self._unflushed = 0  # user bytes queued since the last flush
        self._queued = 0  # user bytes queued ever (the flusher sees whether senders are busy)
        self._flush_pending = False  # the flusher task has work
        self._bundling = False  # senders are queueing: hold partly filled DATA packets
        self._flush_wakeup = trio.Event()
        self._volume_flushes = 0
        #: Called after every flush (events dispatched): the Trio face wakes senders
        #: waiting for room in SCTP's send buffer and a graceful close waiting for SHUTDOWN.
        self.on_settle: Callable[[], None] | None = None
        self.started = False  # run() has reported started
        self.datagrams_sent = 0
        self.datagrams_received = 0

    @property
    def local_addresses(self) -> list[Address]:
        return list(self._sockets)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run the receive, writer and timer tasks until :meth:`close` or cancellation."""
        try:
            async with trio.open_nursery() as nursery:
                for local, sock in self._sockets.items():
                    nursery.start_soon(self._receive_task, sock, local)
                nursery.start_soon(self._writer_task)
                nursery.start_soon(self._flusher_task)
                nursery.start_soon(self._timer_task)
                if self._ice_io is not None:
                    nursery.start_soon(self._ice_io.run)
                self._nursery = nursery
                if self.core.hostnames_pending:
                    self._wake_mdns()
                self.started = True
                task_status.started()
        finally:
            self._close_sockets()

    # ------------------------------------------------------------------ tasks

    async def _receive_task(self, sock: DatagramSocket, local: Address) -> None:
        recvfrom = sock.recvfrom
        # A real socket: trio's wait_readable on its descriptor and, with GRO, recvmsg
        # called here (UdpSocket.recv_batch inlined): two Python frames fewer per wakeup.
        recvmsg = None
        wait_readable: Callable[[], Any] = sock.wait_readable
        if isinstance(sock, UdpSocket):
            wait_readable = functools.partial(trio.lowlevel.wait_readable, sock.fileno())
            if sock.gro:
                recvmsg = sock.socket.recvmsg
        receive = self.core.receive_datagram
        core = self.core
        while True:
            await wait_readable()
            now = trio.current_time()
            count = 0
            errors = 0
            while count < _RECEIVE_BURST:
                try:
                    if recvmsg is None:
                        data, address = recvfrom(65536)
                        size = 0
                    else:
                        data, ancdata, _flags, address = recvmsg(65536, _GRO_CMSG_SPACE)
                        size = _gro_segment_size(ancdata) if ancdata else 0
                except BlockingIOError:
                    break
                except OSError as exc:  # e.g. ICMP errors reported on the socket
                    logger.debug("[%s] recvfrom on %s: %s", core.log_prefix, local, exc)
                    errors += 1
                    if errors >= _RECEIVE_BURST:  # a persistent error: yield, do not spin
                        break
                    continue
                remote = (address[0], address[1])
                if size and len(data) > size:  # a GRO batch: split it again
                    for offset in range(0, len(data), size):
                        receive(data[offset : offset + size], local, remote, now)
                        count += 1
                else:
                    count += 1
                    receive(data, local, remote, now)
            self.datagrams_received += count
            if count == 1 and not self._closed and core.ack_can_wait():
                # One packet of DATA asked for a SACK: wake the readers first and hold
                # the SACK for two scheduling rounds (trio runs a round's tasks in either
                # order), so that a reply sent meanwhile carries it: one datagram each
                # way for a request/response. This task holds it rather than waking the
                # flusher: one step of its own instead of an Event and another task's.
                self._dispatch()
                for _ in range(2):
                    await trio.lowlevel.cancel_shielded_checkpoint()
                    if self._closed or not core.ack_can_wait():
                        break
                else:
                    self.flush()
            elif self._bundling and (sctp := core.sctp) is not None and sctp.only_new_data_pending:
                # Our senders are queueing and the burst (SACKs) left nothing due but new
                # DATA the window has room for: it leaves with their next 256 KiB or the
                # flusher's next look, not in a packet run cut short by this SACK.
                self._settle(now)
            else:
                self.flush()
            if count >= _RECEIVE_BURST:
                await trio.lowlevel.checkpoint()

    async def _writer_task(self) -> None:
        while True:
            await self._writable.wait()
            self._writable = trio.Event()
            for sock, queue in self._pending.items():
                while queue:
                    await sock.wait_writable()
                    while queue:
                        data, remote = queue[0]
                        try:
                            sock.sendto(data, remote)
                        except BlockingIOError:
                            break
                        except OSError as exc:
                            logger.debug("[%s] sendto %s: %s", self.core.log_prefix, remote, exc)
                        queue.popleft()
                        self.datagrams_sent += 1

    async def _flusher_task(self) -> None:
        while True:
            await self._flush_wakeup.wait()
            self._flush_wakeup = trio.Event()
            rounds = 0
            idle = 0
            while self._flush_pending:
                seen = self._queued
                if rounds < _QUICK_ROUNDS:
                    # A short burst: look again next scheduling round. Two quiet rounds in
                    # a row (trio runs a round's tasks in either order) end the burst.
                    await trio.lowlevel.cancel_shielded_checkpoint()
                    rounds += 1
                    idle = idle + 1 if self._queued == seen else 0
                    if idle >= 2:
                        break
                else:
                    # A streaming sender: a look per round would cost as much as the
                    # sending itself, so look every _STREAM_POLL seconds; full packets
                    # go each time, the tail once the senders have stopped.
                    volume = self._volume_flushes
                    await trio.sleep(_STREAM_POLL)
                    if self._queued == seen:
                        break
                    if self._volume_flushes == volume:
                        self._send(hold=True)  # not when 256 KiB batches went meanwhile
            if self._flush_pending:
                self.flush_all()

    async def _timer_task(self) -> None:
        core = self.core
        deadline = core.get_timer()
        while True:
            armed = math.inf if deadline is None else deadline
            with trio.CancelScope(deadline=armed) as scope:
                self._timer_scope = scope
                self._armed = armed
                await trio.sleep_forever()
            self._timer_scope = None  # flushes meanwhile leave the deadline to us
            now = trio.current_time()
            deadline = core.get_timer()
            if deadline is not None and deadline <= now:
                core.handle_timer(now)
                self.flush()
                deadline = core.get_timer()
                if deadline is not None and deadline <= now:  # a layer did not advance
                    logger.debug("[%s] timer did not advance; backing off", core.log_prefix)
                    await trio.sleep(0.001)
                    deadline = core.get_timer()

    def _wake_mdns(self) -> None:
        """The core holds new mDNS names: start the resolving task, or wake it."""
        if self._mdns_wakeup is None:
            if self._nursery is None:
                return  # run() has not started: it wakes us
            self._mdns_wakeup = trio.Event()
            self._nursery.start_soon(self._mdns_task)
        self._mdns_wakeup.set()

    async def _mdns_task(self) -> None:
        core = self.core
        resolver = self._mdns_resolver
        if resolver is None:
            from .mdns_resolver import MdnsResolver

            resolver = MdnsResolver(log_prefix=core.log_prefix)

        async def resolve(name: str) -> None:
            addresses: list[str] = []
            try:
                addresses = list(await resolver(name))
            except Exception as exc:  # a resolver's failure must not end the connection
                logger.warning("[%s] resolving %s failed: %r", core.log_prefix, name, exc)
            if not self._closed:
                core.hostname_resolved(name, addresses, trio.current_time())
                self.flush()

        async with trio.open_nursery() as nursery:
            while True:
                assert self._mdns_wakeup is not None
                await self._mdns_wakeup.wait()
                self._mdns_wakeup = trio.Event()
                for name in core.hostnames_to_resolve():
                    nursery.start_soon(resolve, name)

    # ------------------------------------------------------------------ flush

    def flush_soon(self, nbytes: int = 0) -> None:
        """``nbytes`` of user data were queued (0: e.g. a read reopened the window): flush
        now if nothing is in flight, else soon (see the module doc)."""
        if self._closed:
            return
        if not nbytes:
            self._wake_flusher()
            return
        if not self._bundling:
            if not self.core.has_data_in_flight():
                self.flush()  # a lone message leaves at once (with any SACK held back)
                return
            self._bundling = True
            self._wake_flusher()
        self._queued += nbytes
        self._unflushed += nbytes
        if self._unflushed >= _BUNDLE_BYTES:
            self._unflushed = 0
            self._volume_flushes += 1
            self._send(hold=True)  # full packets go; the tail waits for more

    def _wake_flusher(self) -> None:
        if not self._flush_pending:
            self._flush_pending = True
            self._flush_wakeup.set()

    def flush(self) -> None:
        """Send what the core has, dispatch its events, re-arm the timer. While senders
        are queueing small messages, a partly filled last packet of user data stays for
        the flusher task (see the module doc)."""
        self._send(hold=self._bundling)

    def flush_all(self) -> None:
        """Send everything the core has, dispatch its events, re-arm the timer."""
        self._flush_pending = self._bundling = False
        self._unflushed = 0
        self._send(hold=False)

    def _send(self, *, hold: bool) -> None:
        if self._closed:
            return
        if not hold:
            self._flush_pending = self._bundling = False
            self._unflushed = 0
        core = self.core
        now = trio.current_time()
        sockets = self._sockets
        sent = 0
        out = core.datagrams_to_send(now, hold=hold)
        count = len(out)
        index = 0
        while index < count:
            data, local, remote = out[index]
            index += 1
            sock = sockets.get(local)
            if sock is None:
                if self._ice_io is not None:  # a TURN stream's pseudo local address
                    self._ice_io.send(local, data)
                continue
            queue = self._pending[sock]
            if queue:
                self._queue(queue, data, remote)
                continue
            if index < count and isinstance(sock, UdpSocket) and sock.gso:
                end = self._batch_end(out, index - 1)
                if end > index:
                    batch = [item[0] for item in out[index - 1 : end]]
                    index = end
                    sent += self._send_batch(sock, queue, batch, remote)
                    continue
            try:
                sock.sendto(data, remote)
                sent += 1
            except BlockingIOError:
                self._queue(queue, data, remote)
            except OSError as exc:
                logger.debug("[%s] sendto %s: %s", core.log_prefix, remote, exc)
        self.datagrams_sent += sent
        self._settle(now)

    def _settle(self, now: float) -> None:
        """After a flush (or a burst that needed none): dispatch the core's events and
        re-arm the timer task.

        The core's deadline moving earlier re-arms at once. Moving later (a SACK pushed
        T3 back, a delayed SACK went out) re-arms only when the armed deadline is less
        than :data:`_REARM_WITHIN` away: a wakeup that finds nothing due costs a trio
        cancellation (~10x a re-arm), while re-arming a far deadline on every flush
        would cost a heap operation per SACK during bulk transfers.
        """
        core = self.core
        if core.hostnames_pending:
            self._wake_mdns()
        self._dispatch()
        if self.on_settle is not None:
            self.on_settle()
        scope = self._timer_scope
        if scope is not None:
            deadline = core.get_timer()
            armed = self._armed
            if deadline is None:
                deadline = math.inf
            if deadline < armed or (deadline > armed and armed - now < _REARM_WITHIN):
                scope.deadline = self._armed = deadline

    @staticmethod
    def _batch_end(out: list[tuple[bytes, Address, Address]], start: int) -> int:
        """End of the run from ``start`` that one GSO send can carry: same route, same
        size, the last possibly shorter."""
        first, local, remote = out[start]
        size = len(first)
        limit = min(len(out), start + min(_GSO_MAX_SEGMENTS, _GSO_MAX_BYTES // size))
        end = start + 1
        while end < limit:
            data, data_local, data_remote = out[end]
            if data_remote != remote or data_local != local or len(data) > size:
                break
            end += 1
            if len(data) < size:
                break
        return end

    def _send_batch(
        self,
        sock: UdpSocket,
        queue: deque[tuple[bytes, Address]],
        batch: list[bytes],
        remote: Address,
    ) -> int:
        try:
            sock.send_batch(batch, len(batch[0]), remote)
            return len(batch)
        except BlockingIOError:
            pass
        except OSError as exc:  # no UDP_SEGMENT here: plain sends from now on
            logger.debug("[%s] UDP GSO unavailable: %s", self.core.log_prefix, exc)
            sock.gso = False
            sent = 0
            for index, data in enumerate(batch):
                try:
                    sock.sendto(data, remote)
                    sent += 1
                except BlockingIOError:
                    batch = batch[index:]
                    break
                except OSError as error:
                    logger.debug("[%s] sendto %s: %s", self.core.log_prefix, remote, error)
            else:
                return sent
            for data in batch:
                self._queue(queue, data, remote)
            return sent
        for data in batch:
            self._queue(queue, data, remote)
        return 0

    def _queue(self, queue: deque[tuple[bytes, Address]], data: bytes, remote: Address) -> None:
        if len(queue) >= _MAX_PENDING_DATAGRAMS:
            return  # the kernel is saturated: behave like a lossy link, SCTP recovers
        queue.append((data, remote))
        self._writable.set()

    def _dispatch(self) -> None:
        if self._dispatching:  # a callback flushed: the outer loop picks the events up
            return
        self._dispatching = True
        try:
            events = self.core.events
            on_event = self._on_event
            while events:
                on_event(events.popleft())
        finally:
            self._dispatching = False

    def close(self) -> None:
        """Close the core, send its last datagrams (ABORT, close_notify), stop the timer."""
        if self._closed:
            return
        self.core.close(trio.current_time())
        self.flush_all()
        self._closed = True

    def _close_sockets(self) -> None:
        for sock in self._sockets.values():
            sock.close()
