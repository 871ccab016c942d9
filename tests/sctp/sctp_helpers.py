"""Shared helpers for the SCTP tests: association pairs on a virtual link, event sinks."""

from __future__ import annotations

import random
from typing import Any

from trio_webrtc.sctp import (
    AssociationClosed,
    AssociationEstablished,
    DataReceived,
    SctpAssociation,
    SctpEvent,
)
from trio_webrtc.testing import LinkConditions, VirtualLink


class Peer:
    """An association plus everything it reported, drained after every step."""

    def __init__(self, *, is_client: bool, seed: int, consume: bool = True, **kw: Any) -> None:
        self.assoc = SctpAssociation(
            is_client=is_client, rng=random.Random(seed), log_prefix=f"[{seed}] ", **kw
        )
        self.consume = consume
        self.events: list[SctpEvent] = []
        self.received: list[DataReceived] = []
        self.sent_packets: list[bytes] = []

    # DatagramEndpoint protocol, with event draining after each input.
    def receive_datagram(self, data: bytes, now: float) -> None:
        self.assoc.receive_datagram(data, now)
        self.drain()

    def datagrams_to_send(self, now: float) -> list[bytes]:
        out = self.assoc.datagrams_to_send(now)
        self.sent_packets.extend(out)
        return out

    def get_timer(self) -> float | None:
        return self.assoc.get_timer()

    def handle_timer(self, now: float) -> None:
        self.assoc.handle_timer(now)
        self.drain()

    def drain(self) -> None:
        while (event := self.assoc.next_event()) is not None:
            self.events.append(event)
            if isinstance(event, DataReceived):
                self.received.append(event)
                if self.consume:
                    self.assoc.data_consumed(len(event.data))

    @property
    def established(self) -> bool:
        return any(isinstance(e, AssociationEstablished) for e in self.events)

    @property
    def closed(self) -> AssociationClosed | None:
        for e in self.events:
            if isinstance(e, AssociationClosed):
                return e
        return None

    def of_type(self, cls: type[SctpEvent]) -> list[SctpEvent]:
        return [e for e in self.events if isinstance(e, cls)]


def make_pair(
    conditions: LinkConditions | None = None,
    *,
    seed: int = 1,
    both_start: bool = False,
    establish: bool = True,
    client_kw: dict[str, Any] | None = None,
    server_kw: dict[str, Any] | None = None,
) -> tuple[Peer, Peer, VirtualLink]:
    client = Peer(is_client=True, seed=seed * 2 + 1, **(client_kw or {}))
    server = Peer(is_client=False, seed=seed * 2 + 2, **(server_kw or {}))
    link = VirtualLink(client, server, conditions, seed=seed)
    client.assoc.start(link.now)
    if both_start:
        server.assoc.start(link.now)
    if establish:
        link.run(lambda: client.established and server.established, timeout=120)
    return client, server, link


def payload(n: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(n)
