"""The Godot face, as a Godot script would use it: signals wired to the other peer, and
``poll()`` called every frame (here a 60 Hz trio loop instead of ``_process``).

    python examples/godot_poll_loop.py

In GDScript the same program is::

    var a := WebRTCPeerConnection.new()
    a.initialize({"iceServers": []})
    a.session_description_created.connect(_on_description)
    ...
    func _process(_delta):
        a.poll()

Here ``async with WebRTCPeerConnection() as pc`` replaces the scene tree's ownership and
``await trio.sleep(1 / 60)`` replaces the frame. Signals fire only inside ``poll()``.
"""

from __future__ import annotations

import trio

from trio_webrtc.godot import Error, WebRTCDataChannel, WebRTCPeerConnection

FRAME = 1 / 60
CONFIG = {"bindAddress": "127.0.0.1"}  # Godot: {"iceServers": [{"urls": [...]}]}


def wire(source: WebRTCPeerConnection, target: WebRTCPeerConnection) -> None:
    """What a signaling server would do: hand ``source``'s output to ``target``."""

    def on_session_description_created(type: str, sdp: str) -> None:
        source.set_local_description(type, sdp)
        target.set_remote_description(type, sdp)

    def on_ice_candidate_created(media: str, index: int, name: str) -> None:
        target.add_ice_candidate(media, index, name)

    source.session_description_created.connect(on_session_description_created)
    source.ice_candidate_created.connect(on_ice_candidate_created)


async def main(max_frames: int = 60 * 20) -> list[str]:
    """Exchange one message each way; return the messages received, in order."""
    received: list[str] = []
    async with WebRTCPeerConnection(name="godot-a") as a, WebRTCPeerConnection(name="godot-b") as b:
        assert a.initialize(CONFIG) == Error.OK
        assert b.initialize(CONFIG) == Error.OK
        wire(a, b)
        wire(b, a)
        # In-band channel: b learns about it through data_channel_received.
        channel_a = a.create_data_channel("chat", {"ordered": True})
        assert channel_a is not None
        channels_b: list[WebRTCDataChannel] = []
        b.data_channel_received.connect(channels_b.append)
        assert a.create_offer() == Error.OK

        sent_a = sent_b = False
        for frame in range(max_frames):  # the game loop
            a.poll()
            b.poll()
            channel_a.poll()
            if channel_a.get_ready_state() == WebRTCDataChannel.STATE_OPEN and not sent_a:
                channel_a.put_packet(b"hello from a")
                sent_a = True
            for channel in channels_b:
                channel.poll()
                while channel.get_available_packet_count() > 0:
                    text = channel.get_packet().decode()
                    received.append(text)
                    print(f"frame {frame}: b got {text!r}")
                    if not sent_b:
                        channel.put_packet(b"hello from b")
                        sent_b = True
            while channel_a.get_available_packet_count() > 0:
                text = channel_a.get_packet().decode()
                received.append(text)
                print(f"frame {frame}: a got {text!r}")
            if len(received) == 2:
                break
            await trio.sleep(FRAME)
        print(f"state: {a.get_connection_state().name}; stats: {a.get_stats()['bytes_sent']} B")
        a.close()
        b.close()
    return received


if __name__ == "__main__":
    trio.run(main)
