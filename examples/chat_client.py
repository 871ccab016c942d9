"""Chat with another peer through the signaling server (Trio face).

    python examples/signaling_server.py --port 8765 &
    python examples/chat_client.py ws://127.0.0.1:8765/room1 --name alice
    python examples/chat_client.py ws://127.0.0.1:8765/room1 --name bob

Type lines to send them; the peer's lines are printed. Non-interactively, ``--say TEXT``
(repeatable) sends fixed lines and ``--expect N`` exits after N received lines.

The signaling messages are JSON objects (see ``docs/signaling.md``)::

    {"type": "offer",  "sdp": "v=0..."}
    {"type": "answer", "sdp": "v=0..."}
    {"type": "candidate", "candidate": "candidate:1 1 udp ...", "sdpMid": "0",
     "sdpMLineIndex": 0}        # "candidate": null = end-of-candidates

The client already in the room when the other joins (``peer-joined``) creates the
channel and the offer; the other answers and accepts the channel. Candidates trickle both
ways as they are gathered.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence

import trio
from trio_websocket import WebSocketConnection, open_websocket_url

from trio_webrtc import DataChannel, PeerConnection

LOOPBACK = {"bindAddress": "127.0.0.1"}


async def send_json(ws: WebSocketConnection, **message: object) -> None:
    await ws.send_message(json.dumps(message))


async def trickle(ws: WebSocketConnection, pc: PeerConnection) -> None:
    """Send our candidates as they are gathered, then end-of-candidates."""
    async for c in pc.local_candidates():
        await send_json(
            ws,
            type="candidate",
            candidate=c.candidate,
            sdpMid=c.sdp_mid,
            sdpMLineIndex=c.sdp_mline_index,
        )
    await send_json(ws, type="candidate", candidate=None, sdpMid="0", sdpMLineIndex=0)


async def signal(
    ws: WebSocketConnection,
    pc: PeerConnection,
    nursery: trio.Nursery,
    channel_ready: Callable[[DataChannel], None],
) -> None:
    """Handle signaling messages until the peer leaves; create or accept the channel."""
    while True:
        message = json.loads(await ws.get_message())
        kind = message.get("type")
        if kind == "peer-joined":  # we were here first: we offer
            channel_ready(pc.create_data_channel("chat"))
            await send_json(ws, type="offer", sdp=await pc.create_offer())
            nursery.start_soon(trickle, ws, pc)
        elif kind == "offer":
            await send_json(ws, type="answer", sdp=await pc.accept_offer(message["sdp"]))
            nursery.start_soon(trickle, ws, pc)

            async def accept() -> None:
                channel_ready(await pc.accept_channel())

            nursery.start_soon(accept)
        elif kind == "answer":
            await pc.accept_answer(message["sdp"])
        elif kind == "candidate":
            await pc.add_ice_candidate(
                message.get("candidate"), message.get("sdpMid"), message.get("sdpMLineIndex")
            )
        elif kind == "peer-left":
            return
        elif kind == "error":
            raise RuntimeError(f"signaling server: {message.get('reason')}")


async def chat(
    url: str,
    *,
    name: str = "me",
    say: Sequence[str] = (),
    expect: int | None = None,
    interactive: bool = False,
    out: Callable[[str], None] = lambda text: print(text, flush=True),
) -> list[str]:
    """Connect through the signaling server at ``url``, chat, return the lines received."""
    received: list[str] = []
    ready = trio.Event()
    box: list[DataChannel] = []

    def channel_ready(channel: DataChannel) -> None:
        box.append(channel)
        ready.set()

    async with (
        open_websocket_url(url) as ws,
        PeerConnection(LOOPBACK, name=name) as pc,
        trio.open_nursery() as nursery,
    ):
        nursery.start_soon(signal, ws, pc, nursery, channel_ready)
        await ready.wait()
        channel = box[0]
        await channel.wait_open()
        out(f"[{name}] connected; channel {channel.label!r} open")

        async def reader() -> None:
            async for line in channel:
                text = line if isinstance(line, str) else line.decode("utf-8", "replace")
                received.append(text)
                out(f"peer: {text}")
                if expect is not None and len(received) >= expect:
                    return

        async def writer() -> None:
            for line in say:
                await channel.send(line)
            if interactive:
                while line := await trio.to_thread.run_sync(
                    sys.stdin.readline, abandon_on_cancel=True
                ):
                    await channel.send(line.rstrip("\n"))
            await channel.wait_buffered_amount_low(0)  # the peer has every line

        async with trio.open_nursery() as chat_nursery:
            chat_nursery.start_soon(writer)
            if expect is not None or interactive:
                chat_nursery.start_soon(reader)
        nursery.cancel_scope.cancel()
    return received


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Chat over a data channel.")
    parser.add_argument("url", help="signaling room, e.g. ws://127.0.0.1:8765/room1")
    parser.add_argument("--name", default="me", help="our name in logs")
    parser.add_argument("--say", action="append", default=[], help="send this line")
    parser.add_argument("--expect", type=int, help="exit after receiving this many lines")
    args = parser.parse_args(argv)
    interactive = not args.say and args.expect is None
    trio.run(
        lambda: chat(
            args.url, name=args.name, say=args.say, expect=args.expect, interactive=interactive
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
