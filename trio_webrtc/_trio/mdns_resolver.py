"""The trio side of mDNS ``.local`` candidate resolution.

:class:`MdnsResolver` sends a one-shot query (RFC 6762 §5.1, QU bit per §5.4, built by
:mod:`trio_webrtc.ice.mdns`) from an ephemeral port to the mDNS groups (224.0.0.251:5353 and
[ff02::fb]:5353, §3) or to configured ``(address, port)`` targets, retransmits it (3
transmissions one second apart by default) and returns the first A/AAAA addresses a
response gives for the name. Responses must come from port 5353 when a group was queried
(§11), or from the exact target otherwise; everything else is dropped. A resolver is any
``Callable[[str], Awaitable[list[str]]]`` (:data:`Resolver`): an instance is one, and
tests inject their own or point the targets at a fake responder on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import socket
from collections.abc import Awaitable, Callable, Sequence

import trio

from ..ice import mdns

__all__ = ["DEFAULT_TARGETS", "MdnsResolver", "Resolver"]

logger = logging.getLogger("trio_webrtc.mdns")

Resolver = Callable[[str], Awaitable[list[str]]]
"""Resolves an mDNS name to IP address strings ([] when it cannot)."""

DEFAULT_TARGETS: tuple[tuple[str, int], ...] = (
    (mdns.MDNS_GROUP_V4, mdns.MDNS_PORT),
    (mdns.MDNS_GROUP_V6, mdns.MDNS_PORT),
)

_MULTICAST_TTL = 255  # RFC 6762 §11


def _family(address: str) -> int:
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def _is_multicast(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.partition("%")[0]).is_multicast
    except ValueError:
        return False


class MdnsResolver:
    """One-shot mDNS queries for ``.local`` names.

    ``targets`` defaults to the IPv4 and IPv6 mDNS groups; ``attempts`` transmissions are
    spaced ``interval`` seconds apart and the answer is awaited ``interval`` seconds after
    the last one (3 transmissions 1 s apart: about 3 s before giving up).
    """

    def __init__(
        self,
        targets: Sequence[tuple[str, int]] | None = None,
        *,
        attempts: int = 3,
        interval: float = 1.0,
        log_prefix: str = "mdns",
    ) -> None:
        if attempts < 1 or interval <= 0:
            raise ValueError("attempts must be >= 1 and interval > 0")
        self.targets = tuple(DEFAULT_TARGETS if targets is None else targets)
        self.attempts = attempts
        self.interval = interval
        self.log_prefix = log_prefix

    def _log(self, level: int, message: str, *args: object) -> None:
        logger.log(level, "[%s] " + message, self.log_prefix, *args)

    async def __call__(self, name: str) -> list[str]:
        return await self.resolve(name) or []

    def _accepts(self, source: tuple[str, int], family: int) -> bool:
        host = source[0].partition("%")[0]
        for address, port in self.targets:
            if _family(address) != family:
                continue
            if _is_multicast(address):
                if source[1] == mdns.MDNS_PORT:
                    return True
            elif source[1] == port and host == address.partition("%")[0]:
                return True
        return False

    async def resolve(self, name: str) -> list[str] | None:
        """The addresses ``name`` resolves to, or None without an answer in time."""
        try:
            query = mdns.build_query(name)
        except ValueError:
            self._log(logging.DEBUG, "not a resolvable name: %r", name)
            return None
        sockets: dict[int, trio.socket.SocketType] = {}
        try:
            for address, _ in self.targets:
                family = _family(address)
                if family in sockets:
                    continue
                try:
                    sock = trio.socket.socket(family, socket.SOCK_DGRAM)
                except OSError as exc:
                    self._log(logging.DEBUG, "no socket for family %s: %s", family, exc)
                    continue
                sockets[family] = sock
                with contextlib.suppress(OSError):
                    if family == socket.AF_INET:
                        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, _MULTICAST_TTL)
                    else:
                        sock.setsockopt(
                            socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, _MULTICAST_TTL
                        )
                await sock.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", 0))
            if not sockets:
                return None
            result: list[str] | None = None
            async with trio.open_nursery() as nursery:

                async def receive(sock: trio.socket.SocketType, family: int) -> None:
                    nonlocal result
                    while True:
                        try:
                            data, source = await sock.recvfrom(mdns.MAX_MESSAGE_SIZE + 1)
                        except OSError as exc:  # e.g. an ICMP error reported on the socket
                            self._log(logging.DEBUG, "recvfrom: %s", exc)
                            continue
                        if not self._accepts((source[0], source[1]), family):
                            self._log(logging.DEBUG, "ignoring datagram from %s", source[:2])
                            continue
                        try:
                            found = mdns.collect_addresses(data, [name])
                        except mdns.MdnsParseError as exc:
                            self._log(logging.DEBUG, "bad response from %s: %s", source, exc)
                            continue
                        if found.get(name):
                            result = found[name]
                            nursery.cancel_scope.cancel()
                            return

                for family, sock in sockets.items():
                    nursery.start_soon(receive, sock, family)
                for attempt in range(self.attempts):
                    for address, port in self.targets:
                        sock_ = sockets.get(_family(address))
                        if sock_ is None:
                            continue
                        try:
                            await sock_.sendto(query, (address, port))
                        except OSError as exc:  # e.g. no multicast route
                            self._log(logging.DEBUG, "sendto %s:%s: %s", address, port, exc)
                    self._log(logging.DEBUG, "query %d for %s sent", attempt + 1, name)
                    await trio.sleep(self.interval)
                nursery.cancel_scope.cancel()
            if result is None:
                self._log(logging.INFO, "no mDNS answer for %s", name)
            else:
                self._log(logging.INFO, "%s resolved to %s", name, ", ".join(result))
            return result
        finally:
            for sock in sockets.values():
                sock.close()
