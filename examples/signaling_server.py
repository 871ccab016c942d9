"""A tiny WebSocket signaling server: relays JSON messages between two clients in a room.

trio-webrtc does no signaling: peers must exchange offers, answers and candidates some
other way. This server is the smallest useful way: clients connect to
``ws://127.0.0.1:PORT/<room>``; every text message a client sends is relayed, unchanged,
to the other client in the same room. The server itself sends three kinds of message:

* ``{"type": "joined", "peers": N}`` to a client that just joined (N others present);
* ``{"type": "peer-joined"}`` to the client already there when a second one joins — by
  convention it then makes the offer;
* ``{"type": "peer-left"}`` when the other client disconnects.

A room holds at most two clients; a third is refused with ``{"type": "error", ...}``.

    pip install trio-websocket
    python examples/signaling_server.py --port 8765

It prints ``listening on ws://127.0.0.1:PORT`` once ready (``--port 0`` picks a free port).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys

import trio
from trio_websocket import (
    ConnectionClosed,
    WebSocketConnection,
    WebSocketRequest,
    WebSocketServer,
    serve_websocket,
)

logger = logging.getLogger("signaling")

MAX_PER_ROOM = 2


class Rooms:
    """Room name -> the connections in it."""

    def __init__(self) -> None:
        self.rooms: dict[str, list[WebSocketConnection]] = {}

    async def handle(self, request: WebSocketRequest) -> None:
        room = request.path.strip("/") or "default"
        ws = await request.accept()
        members = self.rooms.setdefault(room, [])
        if len(members) >= MAX_PER_ROOM:
            await ws.send_message(json.dumps({"type": "error", "reason": "room is full"}))
            await ws.aclose()
            return
        members.append(ws)
        logger.info("room %r: a client joined (%d now)", room, len(members))
        try:
            await ws.send_message(json.dumps({"type": "joined", "peers": len(members) - 1}))
            for other in members:
                if other is not ws:
                    await other.send_message(json.dumps({"type": "peer-joined"}))
            while True:
                message = await ws.get_message()
                for other in list(members):
                    if other is not ws:
                        with contextlib.suppress(ConnectionClosed):
                            await other.send_message(message)
        except ConnectionClosed:
            pass
        finally:
            members.remove(ws)
            logger.info("room %r: a client left (%d now)", room, len(members))
            for other in members:
                with contextlib.suppress(ConnectionClosed):
                    await other.send_message(json.dumps({"type": "peer-left"}))
            if not members:
                del self.rooms[room]


async def serve(
    host: str = "127.0.0.1",
    port: int = 8765,
    *,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve forever; ``task_status.started(port)`` once listening."""
    rooms = Rooms()
    async with trio.open_nursery() as nursery:
        server: WebSocketServer = await nursery.start(
            serve_websocket, rooms.handle, host, port, None
        )
        task_status.started(server.port)


async def main(host: str, port: int) -> None:
    async with trio.open_nursery() as nursery:
        actual = await nursery.start(serve, host, port)
        print(f"listening on ws://{host}:{actual}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8765, help="TCP port (0: any free one)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log joins and leaves")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    try:
        trio.run(main, args.host, args.port)
    except KeyboardInterrupt:
        sys.exit(0)
