"""Browser demo: a web page whose RTCPeerConnection chats with a Python peer.

    python examples/browser_demo/serve.py
    # then open the printed http://127.0.0.1:PORT/?signal=... URL in a browser

One process runs three things, all on 127.0.0.1:

* the WebSocket signaling server of ``examples/signaling_server.py`` (room ``demo``);
* a tiny static HTTP server for ``index.html`` and ``app.js``;
* a Python peer (Trio face) that joins the room, offers a channel ``chat`` to whoever joins
  next (the page) and answers every message with ``echo: <message>``.

Signaling is the JSON of ``docs/signaling.md``, the same as ``chat_client.py`` speaks.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import sys
from pathlib import Path

import trio
from trio_websocket import open_websocket_url

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from chat_client import signal  # noqa: E402
from signaling_server import serve as serve_signaling  # noqa: E402

from trio_webrtc import DataChannel, PeerConnection  # noqa: E402

FILES = {"/": "index.html", "/index.html": "index.html", "/app.js": "app.js"}
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8"}


async def handle_http(stream: trio.SocketStream) -> None:
    """GET of the two files; anything else is 404. One request per connection."""
    async with stream:
        request = b""
        with trio.move_on_after(10):
            while b"\r\n\r\n" not in request and len(request) < 16384:
                chunk = await stream.receive_some(4096)
                if not chunk:
                    break
                request += chunk
        parts = request.split(b" ", 2)
        path = parts[1].decode("latin-1").split("?", 1)[0] if len(parts) > 1 else ""
        name = FILES.get(path) if parts[0] == b"GET" else None
        if name is None:
            status, body, kind = "404 Not Found", b"not found\n", "text/plain"
        else:
            status, body = "200 OK", (HERE / name).read_bytes()
            kind = TYPES[Path(name).suffix]
        head = (
            f"HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {len(body)}\r\n"
            "Cache-Control: no-store\r\nConnection: close\r\n\r\n"
        )
        with contextlib.suppress(trio.BrokenResourceError):
            await stream.send_all(head.encode("latin-1") + body)


async def echo_peer(url: str) -> None:
    """Join the room and echo every message of every browser that comes along."""
    while True:
        box: list[DataChannel] = []
        ready = trio.Event()

        def channel_ready(
            channel: DataChannel, box: list[DataChannel] = box, ready: trio.Event = ready
        ) -> None:
            box.append(channel)
            ready.set()

        async with (
            open_websocket_url(url) as ws,
            PeerConnection({"bindAddress": "127.0.0.1"}, name="python-peer") as pc,
            trio.open_nursery() as nursery,
        ):

            async def session() -> None:
                await signal(ws, pc, nursery, channel_ready)  # returns on peer-left
                nursery.cancel_scope.cancel()

            nursery.start_soon(session)
            await ready.wait()
            channel = box[0]
            async for message in channel:
                await channel.send(f"echo: {message}")


async def main(http_port: int = 8000, signal_port: int = 8765) -> None:
    async with trio.open_nursery() as nursery:
        ws_port = await nursery.start(serve_signaling, "127.0.0.1", signal_port)
        listeners = await nursery.start(
            functools.partial(trio.serve_tcp, handle_http, http_port, host="127.0.0.1")
        )
        port = listeners[0].socket.getsockname()[1]
        room = f"ws://127.0.0.1:{ws_port}/demo"
        nursery.start_soon(echo_peer, room)
        print(f"open http://127.0.0.1:{port}/?signal={room}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Serve the browser demo on 127.0.0.1.")
    parser.add_argument("--http-port", type=int, default=8000, help="0: any free port")
    parser.add_argument("--signal-port", type=int, default=8765, help="0: any free port")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        trio.run(main, args.http_port, args.signal_port)
