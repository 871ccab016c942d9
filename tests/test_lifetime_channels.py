"""A message on a channel with a short ``max_packet_lifetime`` leaves at once, even while
other data is in flight: its lifetime (RFC 3758 timed reliability) runs from ``send``,
so the driver's bundling delay (a few scheduling rounds, 1 ms for a streaming sender)
must not spend it. Godot's unreliable transfer modes use 1 ms lifetimes."""

from __future__ import annotations

import trio
import trio.testing

from trio_webrtc import PeerConnection, connect_pair
from trio_webrtc.testing import MemoryNetwork


async def test_short_lifetime_messages_sent_back_to_back_are_delivered(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # The first message leaves at once; the next ones find it in flight, which made the
    # driver bundle them for its flusher (1 ms later for a streaming sender): expired.
    network = MemoryNetwork(seed=5)
    async with PeerConnection(network=network) as a, PeerConnection(network=network) as b:
        quick = a.create_data_channel("quick", negotiated=True, id=3, max_packet_lifetime=1)
        quick_in = b.create_data_channel("quick", negotiated=True, id=3, max_packet_lifetime=1)
        await connect_pair(a, b)
        await quick.wait_open()
        for round_ in range(3):
            for i in range(20):
                await quick.send(bytes([round_, i]) * 50)
            with trio.fail_after(5):
                got = [await quick_in.receive() for _ in range(20)]
            assert got == [bytes([round_, i]) * 50 for i in range(20)]
