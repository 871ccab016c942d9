"""Chat with another peer through the signaling server (Trio face).

    python examples/signaling_server.py --port 8765 &
    python examples/chat_client.py ws://127.0.0.1:8765/room1 --name alice
    python examples/chat_client.py ws://127.0.0.1:8765/room1 --name bob

Type lines to send them; the peer's lines are printed. Non-interactively, ``--say TEXT``
(repeatable) sends fixed lines and ``--expect N`` exits after N received lines. When the
peer leaves (or its connection breaks) the client says so and exits.

On a real network, give STUN/TURN servers and the address to bind (see
``docs/deployment.md``)::

    python examples/chat_client.py wss://example.org/room1 --bind-address 0.0.0.0 \
        --ice-server stun:stun.example.org:3478 \
        --ice-server turn:turn.example.org:3478 --username u --credential p

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
PEER_LEFT_GRACE = 2.0
"""Seconds to let the channel deliver the peer's last lines after the server says it left."""


def configuration(
    ice_servers: Sequence[str] = (),
    *,
    bind_address: str | None = "127.0.0.1",
    username: str | None = None,
    credential: str | None = None,
) -> dict[str, object]:
    """The PeerConnection configuration for these options (W3C/Godot dictionary)."""
    config: dict[str, object] = {}
    if bind_address and bind_address not in ("0.0.0.0", "::", "any"):
        config["bindAddress"] = bind_address
    servers: list[dict[str, object]] = []
    for url in ice_servers:
        entry: dict[str, object] = {"urls": [url]}
        if url.startswith(("turn:", "turns:")):
            entry["username"] = username or ""
            entry["credential"] = credential or ""
        servers.append(entry)
    if servers:
        config["iceServers"] = servers
    return config


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
    on_peer_left: Callable[[], None] = lambda: None,
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
            on_peer_left()
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
    config: dict[str, object] | None = None,
) -> list[str]:
    """Connect through the signaling server at ``url``, chat, return the lines received.
    The peer leaving (or its connection breaking) ends the chat with a line saying so."""
    received: list[str] = []
    ready = trio.Event()
    box: list[DataChannel] = []
    chat_scope = trio.CancelScope()
    said_goodbye = False

    def channel_ready(channel: DataChannel) -> None:
        box.append(channel)
        ready.set()

    def peer_gone(why: str) -> None:
        nonlocal said_goodbye
        if not said_goodbye:
            said_goodbye = True
            out(f"[{name}] {why}")
        chat_scope.cancel()

    async with (
        open_websocket_url(url) as ws,
        PeerConnection(LOOPBACK if config is None else config, name=name) as pc,
        trio.open_nursery() as nursery,
    ):

        async def peer_left_after_grace() -> None:
            # The signaling server can tell us before the channel has handed over the
            # peer's last lines: the reader drains them and ends the chat itself when the
            # channel closes; this only ends a chat whose channel stays silent.
            await trio.sleep(PEER_LEFT_GRACE)
            peer_gone("the peer left")

        nursery.start_soon(
            signal,
            ws,
            pc,
            nursery,
            channel_ready,
            lambda: nursery.start_soon(peer_left_after_grace),
        )
        with chat_scope:
            await ready.wait()
            channel = box[0]
            await channel.wait_open()
            out(f"[{name}] connected; channel {channel.label!r} open")

            async def reader() -> None:
                try:
                    async for line in channel:
                        text = line if isinstance(line, str) else line.decode("utf-8", "replace")
                        received.append(text)
                        out(f"peer: {text}")
                        if expect is not None and len(received) >= expect:
                            return
                except trio.BrokenResourceError as exc:
                    peer_gone(f"connection lost: {exc.__cause__ or exc}")
                else:
                    peer_gone("the peer left")

            async def writer() -> None:
                try:
                    for line in say:
                        await channel.send(line)
                    if interactive:
                        while line := await trio.to_thread.run_sync(
                            sys.stdin.readline, abandon_on_cancel=True
                        ):
                            await channel.send(line.rstrip("\n"))
                    await channel.wait_buffered_amount_low(0)  # the peer has every line
                except trio.BrokenResourceError as exc:
                    peer_gone(f"connection lost: {exc.__cause__ or exc}")

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
    parser.add_argument(
        "--ice-server",
        action="append",
        default=[],
        metavar="URL",
        help="a STUN or TURN server (stun:HOST[:PORT], turn:HOST[:PORT][?transport=tcp], "
        "turns:...); repeatable",
    )
    parser.add_argument("--username", help="TURN username")
    parser.add_argument("--credential", help="TURN password")
    parser.add_argument(
        "--bind-address",
        default="127.0.0.1",
        help="local address to use (default 127.0.0.1; 0.0.0.0 or 'any' for every interface)",
    )
    args = parser.parse_args(argv)
    interactive = not args.say and args.expect is None
    config = configuration(
        args.ice_server,
        bind_address=args.bind_address,
        username=args.username,
        credential=args.credential,
    )
    try:
        from trio_webrtc import Configuration

        Configuration.from_dict(config)
    except ValueError as exc:
        parser.error(str(exc))
    trio.run(
        lambda: chat(
            args.url,
            name=args.name,
            say=args.say,
            expect=args.expect,
            interactive=interactive,
            config=config,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
