"""Candidate gathering for a peer connection: STUN and TURN servers (sans-I/O).

The core's helper for RFC 8445 §5.1.1: host candidates stay in the core; this module asks
every STUN and TURN URL of every configured server (W3C ``iceServers``) for
server-reflexive candidates (via :class:`~trio_webrtc.ice.srflx.SrflxGatherer`,
RFC 8445 §5.1.1.2) and every TURN URL for a relayed candidate (via
:class:`~trio_webrtc.ice.turn.TurnClient`, RFC 8656; over UDP from every host base, over TCP or
TLS on one stream per URL, RFC 8656 §3.1), computes priorities and foundations
(RFC 8445 §5.1.2, §5.1.1.3), and reports completion when every server answered, failed or
timed out (bounded by ``GATHER_DEADLINE``).

Relayed datagrams: :meth:`IceGathering.receive_from_server` unwraps Data indications and
ChannelData arriving from a TURN server into (payload, relayed address, peer address);
:meth:`IceGathering.wrap` does the reverse for datagrams whose local address is relayed.
Stream transports are named by a pseudo local address ``("turn-stream-N", 0)`` which the
driver maps to a TCP/TLS connection (``_turn_streams.py``).
"""

from __future__ import annotations

import ipaddress
import logging
import random
from dataclasses import dataclass

from ..config import Configuration, IceServer, IceServerUrl
from ..errors import ParseError
from .candidate import Candidate, compute_foundation, compute_priority, normalize_endpoint
from .srflx import GATHER_DEADLINE, SrflxGatherer
from .turn import StreamFramer, TurnClient, TurnState

__all__ = ["IceGathering", "StreamTarget"]

logger = logging.getLogger("trio_webrtc.ice")

Address = tuple[str, int]

_DATA_INDICATION = b"\x00\x17"


@dataclass(frozen=True)
class StreamTarget:
    """Where the driver must connect a TURN stream: ``server`` (an IP address and port),
    ``tls`` and the name to verify the certificate against (``server_name``)."""

    server: Address
    tls: bool
    server_name: str


@dataclass
class _Relay:
    client: TurnClient
    local: Address  # the host base (UDP) or the stream's pseudo address
    url: IceServerUrl
    preference: int
    reported: bool = False


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.partition("%")[0])
    except ValueError:
        return False
    return True


class IceGathering:
    """STUN/TURN gathering and TURN relaying for one peer connection."""

    def __init__(
        self,
        configuration: Configuration,
        *,
        rng: random.Random | None = None,
        log_prefix: str = "",
        deadline: float = GATHER_DEADLINE,
    ) -> None:
        self._rng = rng or random.Random()
        self._log_prefix = log_prefix
        self._relay_only = configuration.ice_transport_policy == "relay"
        self._urls: list[tuple[IceServerUrl, IceServer]] = [
            (url, server) for server in configuration.ice_servers for url in server.urls
        ]
        self.has_servers = bool(self._urls)
        self._deadline_after = deadline
        self._deadline: float | None = None
        self._now = 0.0
        self._resolved: dict[str, list[str]] = {
            url.host: [url.host] for url, _ in self._urls if _is_ip(url.host)
        }
        self._bases: list[Address] = []
        self._started = False
        self.complete = False
        self.closed = False
        self.srflx = SrflxGatherer(rng=self._rng, log_prefix=log_prefix, deadline=deadline)
        self.server_routes: dict[Address, int] = {}
        """Server address -> number of uses; the core's one-lookup demultiplexing test."""
        self.relays: dict[Address, _Relay] = {}
        """Relayed address -> relay: the core wraps datagrams sent from these."""
        self._udp_relays: dict[tuple[Address, Address], _Relay] = {}
        self._streams: dict[Address, tuple[_Relay, StreamTarget, StreamFramer]] = {}
        self._all_relays: list[_Relay] = []
        self._candidates: list[Candidate] = []

    def _log(self, level: int, message: str, *args: object) -> None:
        logger.log(level, "[%s] " + message, self._log_prefix, *args)

    # ------------------------------------------------------------------ inputs

    def hosts_to_resolve(self) -> list[str]:
        """Host names in server URLs the driver must resolve (then call :meth:`resolved`)."""
        return sorted({url.host for url, _ in self._urls if url.host not in self._resolved})

    def resolved(self, host: str, addresses: list[str], now: float) -> None:
        """The driver resolved ``host`` (an empty list: resolution failed)."""
        self._now = now
        if host in self._resolved:
            return
        if not addresses:
            self._log(logging.WARNING, "cannot resolve ICE server host %s", host)
        self._resolved[host] = addresses
        if self._started:
            for url, server in self._urls:
                if url.host == host:
                    self._use_url(url, server, now)
            self._update(now)

    def start(self, bases: list[Address], now: float) -> None:
        """Gathering starts (the local description was applied)."""
        if self._started:
            return
        self._started = True
        self._now = now
        self._deadline = now + self._deadline_after
        self.srflx.start(now)
        self._bases = [normalize_endpoint(b) for b in bases]
        for url, server in self._urls:
            if url.host in self._resolved:
                self._use_url(url, server, now)
        self._update(now)

    def add_base(self, base: Address) -> None:
        """A host address bound after gathering started."""
        base = normalize_endpoint(base)
        if base in self._bases:
            return
        self._bases.append(base)
        if self._started and not self.complete:
            for url, server in self._urls:
                if url.transport == "udp":
                    self._use_url(url, server, self._now, bases=[base])

    def _servers_for(self, url: IceServerUrl) -> list[Address]:
        return [normalize_endpoint((ip, url.port)) for ip in self._resolved.get(url.host, [])]

    def _use_url(
        self, url: IceServerUrl, server: IceServer, now: float, bases: list[Address] | None = None
    ) -> None:
        addresses = self._servers_for(url)
        if url.transport == "udp" and not url.secure:
            for base in self._bases if bases is None else bases:
                family = ":" in base[0]
                for address in addresses:
                    if (":" in address[0]) != family:
                        continue
                    if not self._relay_only:
                        self.server_routes[address] = self.server_routes.get(address, 0) + 1
                        self.srflx.query(base, address, now)
                    if url.is_turn and (base, address) not in self._udp_relays:
                        self._add_relay(url, server, base, address, None, now=now)
        elif url.is_turn and bases is None:
            if not addresses:
                return
            key = (f"turn-stream-{len(self._streams) + 1}", 0)
            target = StreamTarget(addresses[0], url.secure, url.host)
            self._add_relay(url, server, key, addresses[0], target, now=now)
        elif not url.is_turn and bases is None:
            self._log(logging.INFO, "ignoring %s:%s (STUN over TCP/TLS)", url.scheme, url.host)

    def _add_relay(
        self,
        url: IceServerUrl,
        server: IceServer,
        local: Address,
        address: Address,
        target: StreamTarget | None,
        *,
        now: float,
    ) -> None:
        label = f"{url.scheme}:{address[0]}:{address[1]}"
        if url.transport == "tcp":
            label += "?transport=tcp" if not url.secure else ""
        client = TurnClient(
            address,
            server.username,
            server.credential,
            stream=target is not None,
            label=label,
            rng=self._rng,
            log_prefix=self._log_prefix,
        )
        preference = {"udp": 65535, "tcp": 32767}.get(url.transport, 0)
        if url.secure:
            preference = 16383
        preference -= len(self._all_relays)
        relay = _Relay(client, local, url, max(0, preference))
        self._all_relays.append(relay)
        if target is None:
            self._udp_relays[(local, address)] = relay
            self.server_routes[address] = self.server_routes.get(address, 0) + 1
        else:
            self._streams[local] = (relay, target, StreamFramer())
        client.start(now)

    def stream_target(self, key: Address) -> StreamTarget | None:
        entry = self._streams.get(key)
        return None if entry is None else entry[1]

    def stream_failed(self, key: Address, reason: str, now: float) -> None:
        entry = self._streams.get(key)
        if entry is not None:
            entry[0].client.fail(reason)
            self._forget(entry[0])
            self._update(now)

    def receive_from_server(
        self, data: bytes, local: Address, remote: Address, now: float
    ) -> list[tuple[bytes, Address, Address]] | None:
        """A datagram from a server address; None when it is not ours (give it to ICE)."""
        self._now = now
        first = data[0]
        if first < 4 and self.srflx.receive_datagram(data, local, remote, now):
            self._update(now)
            return []
        relay = self._udp_relays.get((local, remote))
        if relay is None:
            return None
        client = relay.client
        if first < 4 and not client.owns(data) and data[:2] != _DATA_INDICATION:
            return None
        return self._from_relay(relay, data, now)

    def _from_relay(
        self, relay: _Relay, data: bytes, now: float
    ) -> list[tuple[bytes, Address, Address]]:
        client = relay.client
        result = client.receive(data, now)
        if client.state is not TurnState.ALLOCATING:
            self._update(now)
        relayed = client.relayed_address
        if result is None or relayed is None:
            return []
        return [(result[1], relayed, normalize_endpoint(result[0]))]

    def receive_stream(
        self, key: Address, data: bytes, now: float
    ) -> list[tuple[bytes, Address, Address]]:
        """Bytes from a TURN stream; returns the datagrams relayed from peers."""
        self._now = now
        entry = self._streams.get(key)
        if entry is None:
            return []
        relay, _, framer = entry
        try:
            messages = framer.feed(data)
        except ParseError as exc:
            self.stream_failed(key, str(exc), now)
            return []
        out: list[tuple[bytes, Address, Address]] = []
        for message in messages:
            out += self._from_relay(relay, message, now)
        return out

    def wrap(
        self, data: bytes, relayed: Address, peer: Address, now: float
    ) -> tuple[bytes, Address, Address] | None:
        """Wrap a datagram sent from a relayed address for its TURN server."""
        relay = self.relays.get(relayed)
        if relay is None:
            return None
        wrapped = relay.client.send_to(peer, data, now)
        if wrapped is None:
            return None
        return wrapped, relay.local, relay.client.server

    # ------------------------------------------------------------------ outputs

    def datagrams_to_send(self, now: float) -> list[tuple[bytes, Address, Address]]:
        out = self.srflx.datagrams_to_send()
        for relay in self._all_relays:
            server = relay.client.server
            out.extend((data, relay.local, server) for data in relay.client.datagrams_to_send())
        return out

    @property
    def turn_failures(self) -> list[str]:
        """Why each failed TURN allocation failed (e.g. its 401/403 error code), in order."""
        return [
            r.client.failure
            for r in self._all_relays
            if r.client.state is TurnState.FAILED and r.client.failure
        ]

    def next_candidate(self) -> Candidate | None:
        """The next server-reflexive or relayed candidate to signal."""
        return self._candidates.pop(0) if self._candidates else None

    def get_timer(self) -> float | None:
        deadlines = [self.srflx.get_timer()]
        deadlines.extend(relay.client.get_timer() for relay in self._all_relays)
        if self._started and not self.complete:
            deadlines.append(self._deadline)
        present = [t for t in deadlines if t is not None]
        return min(present) if present else None

    def handle_timer(self, now: float) -> None:
        self._now = now
        self.srflx.handle_timer(now)
        for relay in list(self._all_relays):
            client = relay.client
            deadline = client.get_timer()
            if deadline is not None and deadline <= now:
                client.handle_timer(now)
        self._update(now)

    def close(self, now: float) -> None:
        """Stop gathering; release every allocation (Refresh with lifetime 0)."""
        self.closed = True
        self.srflx.close()
        for relay in self._all_relays:
            relay.client.close(now)
        self.complete = True

    # ------------------------------------------------------------------ results

    def _base_preference(self, base: Address) -> int:
        return 65535 - (self._bases.index(base) if base in self._bases else len(self._bases))

    def _update(self, now: float) -> None:
        while (result := self.srflx.next_result()) is not None:
            if result.redundant or self.complete:
                continue
            self._candidates.append(
                Candidate(
                    foundation=compute_foundation(
                        "srflx", result.base[0], f"{result.server[0]}:{result.server[1]}", "udp"
                    ),
                    component=1,
                    transport="udp",
                    priority=compute_priority("srflx", self._base_preference(result.base), 1),
                    address=result.mapped[0],
                    port=result.mapped[1],
                    type="srflx",
                    related_address=result.base[0],
                    related_port=result.base[1],
                )
            )
        for relay in list(self._all_relays):
            client = relay.client
            if client.state is TurnState.ALLOCATED and not relay.reported:
                relay.reported = True
                self._report_relay(relay)
            elif client.state in (TurnState.FAILED, TurnState.CLOSED):
                self._forget(relay)
        if self._started and not self.complete:
            pending = any(c.client.state is TurnState.ALLOCATING for c in self._all_relays)
            unresolved = bool(self.hosts_to_resolve())
            timed_out = self._deadline is not None and now >= self._deadline
            if timed_out or (self.srflx.done and not pending and not unresolved):
                if timed_out:
                    self._log(logging.INFO, "gathering deadline reached")
                    for relay in list(self._all_relays):
                        if relay.client.state is TurnState.ALLOCATING:
                            relay.client.fail("no allocation before the gathering deadline")
                            self._forget(relay)
                self.complete = True

    def _report_relay(self, relay: _Relay) -> None:
        client = relay.client
        relayed = client.relayed_address
        assert relayed is not None
        relayed = normalize_endpoint(relayed)
        if self.complete:
            self._log(logging.INFO, "relayed address %s came after gathering ended", relayed)
        self.relays[relayed] = relay
        mapped = client.mapped_address or relay.local
        self._candidates.append(
            Candidate(
                foundation=compute_foundation("relay", mapped[0], client.label, "udp"),
                component=1,
                transport="udp",
                priority=compute_priority("relay", relay.preference, 1),
                address=relayed[0],
                port=relayed[1],
                type="relay",
                related_address=mapped[0],
                related_port=mapped[1],
            )
        )

    def _forget(self, relay: _Relay) -> None:
        relayed = relay.client.relayed_address
        if relayed is not None:
            self.relays.pop(normalize_endpoint(relayed), None)
