"""An established SCTP association under attack: the client is the attacker, crafting
packets for the server by hand (right verification tag, right TSNs) in virtual time."""

from __future__ import annotations

import random

from trio_webrtc.sctp import SctpAssociation
from trio_webrtc.sctp.chunks import DataChunk, InitChunk, encode_packet
from trio_webrtc.testing import VirtualLink


class Victim:
    def __init__(self, *, window: int = 1 << 20, max_message: int = 262144) -> None:
        self.client = SctpAssociation(is_client=True, rng=random.Random(1))
        self.server = SctpAssociation(
            is_client=False,
            rng=random.Random(2),
            receive_window=window,
            max_receive_message_size=max_message,
        )
        link = VirtualLink(self.client, self.server, seed=1)  # type: ignore[arg-type]
        self.client.start(0.0)
        self.server.start(0.0)
        link.run(lambda: self.server.state.name == "ESTABLISHED")
        link.run(lambda: self.client.state.name == "ESTABLISHED")
        self.now = link.now
        while self.server.next_event() is not None:
            pass
        self.tsn = self.client._outbound.next_tsn  # the attacker continues the client's TSNs
        self.tag = self.server._local_tag
        self.events: list[object] = []
        self.sent_packets = 0

    def data(self, flags: int, sid: int, ssn: int, payload: bytes, *, ppid: int = 53) -> None:
        chunk = DataChunk(flags, self.tsn & 0xFFFFFFFF, sid, ssn, ppid, payload)
        self.tsn += 1
        self.deliver(encode_packet(5000, 5000, self.tag, [chunk.encode()]))

    def deliver(self, packet: bytes) -> None:
        self.server.receive_datagram(packet, self.now)
        self.sent_packets += 1
        while (event := self.server.next_event()) is not None:
            self.events.append(event)
        self.server.datagrams_to_send(self.now)

    def init(self, rng: random.Random) -> bytes:
        chunk = InitChunk(rng.randrange(1, 1 << 32), 65536, 10, 10, rng.randrange(1 << 32))
        return encode_packet(5000, 5000, 0, [chunk.encode()])

    def held(self) -> int:
        inbound = self.server._inbound
        assert inbound is not None
        return inbound.held + inbound.unconsumed
