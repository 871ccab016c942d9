"""Local interface addresses for host candidates (RFC 8445 §5.1.1.1), without netifaces.

Linux: IPv4 from ``SIOCGIFADDR`` per interface, IPv6 from ``/proc/net/if_inet6``.
Elsewhere: the addresses the host name resolves to. Loopback and link-local addresses
are left out unless nothing else exists (browsers do the same); tests never rely on this:
they pass ``bindAddress``.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import struct
import sys

__all__ = ["local_addresses"]

_SIOCGIFADDR = 0x8915


def _linux_ipv4() -> list[str]:
    import fcntl

    found: list[str] = []
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for _, name in socket.if_nameindex():
            request = struct.pack("256s", name.encode()[:15])
            try:
                reply = fcntl.ioctl(probe.fileno(), _SIOCGIFADDR, request)
            except OSError:
                continue
            found.append(socket.inet_ntoa(reply[20:24]))
    finally:
        probe.close()
    return found


def _linux_ipv6() -> list[str]:
    found: list[str] = []
    with contextlib.suppress(OSError), open("/proc/net/if_inet6") as table:
        for line in table:
            fields = line.split()
            if fields:
                packed = bytes.fromhex(fields[0])
                found.append(str(ipaddress.IPv6Address(packed)))
    return found


def _portable() -> list[str]:
    found: list[str] = []
    with contextlib.suppress(OSError):
        for info in socket.getaddrinfo(socket.gethostname(), None, proto=socket.IPPROTO_UDP):
            found.append(str(info[4][0]))
    return found


def local_addresses() -> list[str]:
    """Usable unicast addresses of this host, IPv4 first; loopback only as a last resort."""
    raw = _linux_ipv4() + _linux_ipv6() if sys.platform.startswith("linux") else _portable()
    chosen: list[str] = []
    loopback: list[str] = []
    for text in dict.fromkeys(raw):
        address = ipaddress.ip_address(text.split("%")[0])
        if address.is_link_local or address.is_multicast or address.is_unspecified:
            continue
        (loopback if address.is_loopback else chosen).append(str(address))
    return chosen or loopback
