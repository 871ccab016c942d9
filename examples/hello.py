"""Hello, data channel: two peers in one process over 127.0.0.1 (the Trio face).

    python examples/hello.py

``connect_pair`` does the signaling in-process (offer, answer and trickled candidates);
across processes you carry the same things over your own channel — see
``chat_client.py`` and ``docs/signaling.md``.
"""

from __future__ import annotations

import trio

from trio_webrtc import PeerConnection, connect_pair


async def main() -> list[str | bytes]:
    """Open a channel, say hello both ways, return what each side received."""
    config = {"bindAddress": "127.0.0.1"}
    async with (
        PeerConnection(config, name="alice") as alice,
        PeerConnection(config, name="bob") as bob,
    ):
        channel = alice.create_data_channel("greetings")
        await connect_pair(alice, bob)
        incoming = await bob.accept_channel()
        print(f"bob accepted channel {incoming.label!r} (stream {incoming.id})")

        await channel.send("hello, bob")
        from_alice = await incoming.receive()
        print(f"bob got:   {from_alice!r}")

        await incoming.send(b"hello, alice")  # bytes stay bytes, str stays str
        from_bob = await channel.receive()
        print(f"alice got: {from_bob!r}")

        stats = alice.get_stats()
        print(f"alice sent {stats.messages_sent} message(s), {stats.bytes_sent} bytes")
        return [from_alice, from_bob]


if __name__ == "__main__":
    trio.run(main)
