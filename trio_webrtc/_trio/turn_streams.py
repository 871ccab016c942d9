"""The trio side of STUN/TURN gathering: name resolution and TURN over TCP/TLS.

The sans-I/O core names each TURN-over-stream allocation by a pseudo local address
(``("turn-stream-N", 0)``) in what ``datagrams_to_send`` returns; the driver hands those
datagrams to :meth:`IceServerIO.send`, which connects the stream on first use
(``trio.open_tcp_stream``, wrapped in ``trio.SSLStream`` for ``turns:``, RFC 8656 §3.1 with
the certificate checked against the system roots or ``Configuration.turn_tls_ca_file``),
writes the messages in order and feeds what it reads to ``core.receive_turn_stream``.
Host names in ``stun:``/``turn:`` URLs are resolved here with ``trio.socket.getaddrinfo``.
"""

from __future__ import annotations

import logging
import socket
import ssl
from collections.abc import Callable

import trio

from ..core import PeerConnectionCore
from ..ice.gathering import StreamTarget

__all__ = ["IceServerIO"]

logger = logging.getLogger("trio_webrtc.turn")

Address = tuple[str, int]

_CONNECT_TIMEOUT = 5.0
_RESOLVE_TIMEOUT = 5.0
_MAX_BUFFERED = 1 << 20


class _Stream:
    def __init__(self, target: StreamTarget) -> None:
        self.target = target
        self.buffer = bytearray()
        self.wakeup = trio.Event()
        self.closed = False


class IceServerIO:
    """Resolves ICE server names and runs TURN TCP/TLS streams for one core."""

    def __init__(self, core: PeerConnectionCore, flush: Callable[[], None]) -> None:
        self._core = core
        self._flush = flush
        self._nursery: trio.Nursery | None = None
        self._streams: dict[Address, _Stream] = {}
        self._waiting: list[Address] = []

    def _log(self, level: int, message: str, *args: object) -> None:
        logger.log(level, "[%s] " + message, self._core.log_prefix, *args)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            for host in self._core.ice_server_hosts_to_resolve():
                nursery.start_soon(self._resolve, host)
            for key in self._waiting:
                nursery.start_soon(self._connect, key)
            self._waiting.clear()
            task_status.started()
            await trio.sleep_forever()

    async def _resolve(self, host: str) -> None:
        addresses: list[str] = []
        try:
            with trio.fail_after(_RESOLVE_TIMEOUT):
                infos = await trio.socket.getaddrinfo(host, None, type=socket.SOCK_DGRAM)
            for info in infos:
                address = str(info[4][0])
                if address not in addresses:
                    addresses.append(address)
        except (OSError, trio.TooSlowError) as exc:
            self._log(logging.WARNING, "cannot resolve %s: %s", host, exc)
        self._core.ice_server_resolved(host, addresses, trio.current_time())
        self._flush()

    def send(self, key: Address, data: bytes) -> None:
        """Queue ``data`` on the TURN stream ``key`` (called from the driver's flush)."""
        stream = self._streams.get(key)
        if stream is None:
            target = self._core.turn_stream_target(key)
            if target is None:
                return
            stream = self._streams[key] = _Stream(target)
            if self._nursery is not None:
                self._nursery.start_soon(self._connect, key)
            else:
                self._waiting.append(key)
        if stream.closed or len(stream.buffer) + len(data) > _MAX_BUFFERED:
            return
        stream.buffer += data
        stream.wakeup.set()

    def _failed(self, key: Address, reason: str) -> None:
        stream = self._streams.get(key)
        if stream is not None:
            stream.closed = True
            stream.buffer.clear()
        self._core.turn_stream_failed(key, reason, trio.current_time())
        self._flush()

    async def _connect(self, key: Address) -> None:
        stream = self._streams[key]
        target = stream.target
        host, port = target.server
        connection: trio.abc.Stream
        tcp: trio.SocketStream | None = None
        try:
            with trio.fail_after(_CONNECT_TIMEOUT):
                tcp = await trio.open_tcp_stream(host, port)
                connection = tcp
                if target.tls:
                    cafile = self._core.configuration.turn_tls_ca_file
                    context = ssl.create_default_context(cafile=cafile)
                    tls = trio.SSLStream(tcp, context, server_hostname=target.server_name)
                    await tls.do_handshake()
                    connection = tls
        except BaseException as exc:
            if tcp is not None:  # the TLS handshake failed or was cancelled: no leak
                tcp.socket.close()
            if not isinstance(
                exc, (OSError, trio.TooSlowError, trio.BrokenResourceError, ssl.SSLError)
            ):
                raise
            self._log(logging.WARNING, "cannot connect to TURN %s:%d: %s", host, port, exc)
            self._failed(key, f"connect failed: {exc}")
            return
        self._log(logging.INFO, "TURN stream to %s:%d connected", host, port)
        async with connection, trio.open_nursery() as nursery:
            nursery.start_soon(self._writer, key, stream, connection)
            try:
                while True:
                    data = await connection.receive_some(65536)
                    if not data:
                        raise trio.BrokenResourceError("closed by the server")
                    self._core.receive_turn_stream(key, bytes(data), trio.current_time())
                    self._flush()
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
                self._log(logging.INFO, "TURN stream to %s:%d ended: %s", host, port, exc)
                self._failed(key, f"stream ended: {exc}")
                nursery.cancel_scope.cancel()

    async def _writer(self, key: Address, stream: _Stream, connection: trio.abc.Stream) -> None:
        while not stream.closed:
            if not stream.buffer:
                await stream.wakeup.wait()
                stream.wakeup = trio.Event()
                continue
            data = bytes(stream.buffer)
            stream.buffer.clear()
            try:
                await connection.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
                self._failed(key, f"send failed: {exc}")
                return
