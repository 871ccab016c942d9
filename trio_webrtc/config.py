"""Peer connection configuration: typed, and parsed from Godot/W3C dictionaries.

Implements the ``stun:``/``turn:``/``turns:`` URI grammar of RFC 7064 §3.1 and
RFC 7065 §3.1 and the keys Godot's ``WebRTCPeerConnection.initialize()`` accepts
(``iceServers`` with ``urls``, ``username``, ``credential``), plus libdatachannel's
``bindAddress``, ``portRangeBegin`` and ``portRangeEnd``, and ``turnTlsCaFile`` (a PEM
CA bundle to verify ``turns:`` servers with, e.g. a test server's self-signed certificate).
"""

from __future__ import annotations

import ipaddress
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["Configuration", "IceServer", "IceServerUrl", "parse_ice_url"]

logger = logging.getLogger("trio_webrtc.config")

#: W3C ``RTCConfiguration`` keys that mean nothing for a data-channel-only stack that
#: always bundles and multiplexes RTCP: accepted and ignored (one INFO log line).
IGNORED_W3C_KEYS = frozenset(
    {"bundlePolicy", "rtcpMuxPolicy", "iceCandidatePoolSize", "certificates", "peerIdentity"}
)

_DEFAULT_PORTS = {"stun": 3478, "stuns": 5349, "turn": 3478, "turns": 5349}


@dataclass(frozen=True)
class IceServerUrl:
    """One parsed ``stun:``, ``stuns:``, ``turn:`` or ``turns:`` URI."""

    scheme: str
    host: str
    port: int
    transport: str  # "udp" or "tcp"

    @property
    def is_turn(self) -> bool:
        return self.scheme in ("turn", "turns")

    @property
    def secure(self) -> bool:
        return self.scheme in ("stuns", "turns")


def parse_ice_url(url: str) -> IceServerUrl:
    """Parse a STUN/TURN URI; raise ``ValueError`` naming what is wrong."""
    scheme, sep, rest = url.partition(":")
    scheme = scheme.lower()
    if not sep or scheme not in _DEFAULT_PORTS:
        raise ValueError(f"unsupported ICE server URL {url!r}: expected stun:, turn: or turns:")
    rest, _, query = rest.partition("?")
    transport = "tcp" if scheme in ("stuns", "turns") else "udp"
    if query:
        key, _, value = query.partition("=")
        if key != "transport" or value not in ("udp", "tcp"):
            raise ValueError(f"bad query in ICE server URL {url!r}")
        transport = value
    rest = rest.lstrip("/")
    if rest.startswith("["):
        host, bracket, tail = rest[1:].partition("]")
        if not bracket:
            raise ValueError(f"unterminated IPv6 literal in {url!r}")
        port_text = tail[1:] if tail.startswith(":") else ""
    else:
        host, _, port_text = rest.partition(":")
    if not host:
        raise ValueError(f"no host in ICE server URL {url!r}")
    try:
        port = int(port_text) if port_text else _DEFAULT_PORTS[scheme]
    except ValueError:
        raise ValueError(f"bad port in ICE server URL {url!r}") from None
    if not 0 < port < 65536:
        raise ValueError(f"port out of range in ICE server URL {url!r}")
    return IceServerUrl(scheme, host, port, transport)


@dataclass(frozen=True)
class IceServer:
    """A STUN or TURN server entry; every URL of every entry is used."""

    urls: tuple[IceServerUrl, ...]
    username: str | None = None
    credential: str | None = None


@dataclass(frozen=True)
class Configuration:
    """Everything a peer connection is configured with.

    ``bind_address`` restricts gathering to that one local address; ``port_range``
    (inclusive) restricts the local UDP ports; ``mtu`` bounds every datagram we send;
    ``max_message_size`` is what we advertise and accept (RFC 8841); 0 ("no limit") is
    advertised as the receive window, the largest message we can reassemble.
    ``max_channels`` bounds open data channels (default: what browsers allow).
    ``close_timeout`` (seconds, key ``closeTimeout``) bounds the graceful close when the
    Trio face's ``async with`` block is left: queued messages are delivered, then SCTP
    SHUTDOWN and DTLS close_notify; past it the association is aborted.
    ``consent_timeout`` (seconds, key ``consentTimeout``) is how long the selected pair may
    go without an answer to ICE consent checks before the connection FAILS (RFC 7675 §5.1:
    30 s); shorter values detect a vanished peer sooner.
    ``receive_window_size`` (bytes, key ``receiveWindow``) is the SCTP receive window: what
    the peer may have in flight to us, and the most we hold for the application (2 MiB by
    default: above the 1.25 MB bandwidth-delay product of 50 Mbit/s over 200 ms).
    ``congestion_control`` (key ``congestionControl``) is the SCTP sender's controller:
    ``"cubic"`` (RFC 9438 with loss differentiation, the default) or ``"reno"`` (RFC 9260
    §7.2).
    """

    ice_servers: tuple[IceServer, ...] = ()
    bind_address: str | None = None
    port_range: tuple[int, int] | None = None
    mtu: int = 1200
    max_message_size: int = 262144
    ice_transport_policy: str = "all"
    turn_tls_ca_file: str | None = None
    """PEM file of CA certificates for ``turns:`` servers (default: the system roots)."""
    max_channels: int = 65534
    close_timeout: float = 10.0
    consent_timeout: float = 30.0
    receive_window_size: int = 2 << 20
    congestion_control: str = "cubic"

    @property
    def receive_window(self) -> int:
        """The SCTP receive window: ``receive_window_size``, or the max-message-size when
        larger (a whole message must fit)."""
        return max(self.receive_window_size, self.max_message_size)

    @property
    def advertised_max_message_size(self) -> int:
        """What a=max-message-size says: never 0, which RFC 8841 §6.1 reads as "no
        limit" while no message larger than the receive window can be reassembled."""
        return self.max_message_size or self.receive_window

    @classmethod
    def from_dict(cls, config: Mapping[str, object] | None) -> Configuration:
        """Build from a Godot/W3C-style dictionary; raise ``ValueError`` on bad input."""
        if not config:
            return cls()
        known = {
            "iceServers", "bindAddress", "portRangeBegin", "portRangeEnd",
            "mtu", "maxMessageSize", "iceTransportPolicy", "turnTlsCaFile", "maxChannels",
            "closeTimeout", "consentTimeout", "receiveWindow", "congestionControl",
        }  # fmt: skip
        ignored = sorted(set(config) & IGNORED_W3C_KEYS)
        if ignored:
            logger.info("ignoring configuration keys that do not apply here: %s", ignored)
        unknown = set(config) - known - IGNORED_W3C_KEYS
        if unknown:
            raise ValueError(f"unknown configuration keys: {sorted(unknown)}")
        servers: list[IceServer] = []
        raw_servers = config.get("iceServers", [])
        if not isinstance(raw_servers, Sequence) or isinstance(raw_servers, str):
            raise ValueError("iceServers must be a list of dictionaries")
        for entry in raw_servers:
            if not isinstance(entry, Mapping):
                raise ValueError("each iceServers entry must be a dictionary")
            urls = entry.get("urls", [])
            if isinstance(urls, str):
                urls = [urls]
            if not isinstance(urls, Sequence) or not urls:
                raise ValueError("an iceServers entry needs one or more urls")
            username = entry.get("username")
            credential = entry.get("credential")
            servers.append(
                IceServer(
                    tuple(parse_ice_url(str(u)) for u in urls),
                    None if username is None else str(username),
                    None if credential is None else str(credential),
                )
            )
        bind_address = config.get("bindAddress")
        if bind_address is not None:
            bind_address = str(bind_address)
            try:
                ipaddress.ip_address(bind_address)
            except ValueError:
                raise ValueError(f"bindAddress {bind_address!r} is not an IP address") from None
        port_range: tuple[int, int] | None = None
        if "portRangeBegin" in config or "portRangeEnd" in config:
            begin = _as_int(config.get("portRangeBegin", 1024), "portRangeBegin")
            end = _as_int(config.get("portRangeEnd", 65535), "portRangeEnd")
            if not 0 < begin <= end < 65536:
                raise ValueError(f"bad port range {begin}-{end}")
            port_range = (begin, end)
        mtu = _as_int(config.get("mtu", 1200), "mtu")
        if not 576 <= mtu <= 65000:
            raise ValueError(f"mtu {mtu} out of range 576..65000")
        max_message_size = _as_int(config.get("maxMessageSize", 262144), "maxMessageSize")
        if max_message_size < 0:
            raise ValueError("maxMessageSize must be ≥ 0")
        max_channels = _as_int(config.get("maxChannels", 65534), "maxChannels")
        if not 1 <= max_channels <= 65535:
            raise ValueError(f"maxChannels {max_channels} out of range 1..65535")
        policy = str(config.get("iceTransportPolicy", "all"))
        if policy not in ("all", "relay"):
            raise ValueError("iceTransportPolicy must be 'all' or 'relay'")
        ca_file = config.get("turnTlsCaFile")
        close_timeout = _as_seconds(config.get("closeTimeout", 10.0), "closeTimeout")
        consent_timeout = _as_seconds(config.get("consentTimeout", 30.0), "consentTimeout")
        if consent_timeout <= 0:
            raise ValueError("consentTimeout must be > 0")
        receive_window = _as_int(config.get("receiveWindow", 2 << 20), "receiveWindow")
        if not 1 << 16 <= receive_window <= 1 << 26:
            raise ValueError(f"receiveWindow {receive_window} out of range 65536..67108864")
        congestion = str(config.get("congestionControl", "cubic"))
        if congestion not in ("cubic", "reno"):
            raise ValueError("congestionControl must be 'cubic' or 'reno'")
        return cls(
            tuple(servers),
            bind_address,
            port_range,
            mtu,
            max_message_size,
            policy,
            turn_tls_ca_file=None if ca_file is None else str(ca_file),
            max_channels=max_channels,
            close_timeout=close_timeout,
            consent_timeout=consent_timeout,
            receive_window_size=receive_window,
            congestion_control=congestion,
        )


def _as_seconds(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{name} must be a number of seconds")
    try:
        seconds = float(value)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{name} must be a finite number of seconds ≥ 0")
    return seconds


def _as_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{name} must be an integer")
    if isinstance(value, float) and not value.is_integer():
        raise ValueError(f"{name} must be an integer, not {value}")
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name} must be an integer") from None
