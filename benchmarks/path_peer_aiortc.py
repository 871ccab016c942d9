"""aiortc as a path-benchmark peer (protocol in ``path_common.py``).

Held to loopback as in ``tests/interop/aiortc_peer.py``: aioice's host discovery returns
only 127.0.0.1, no ICE servers, remote candidates other than UDP on 127.0.0.1 dropped.
aiortc puts its candidates in its SDP. The sender keeps ``bufferedAmount`` at or below
``--mark``, refilling at ``bufferedamountlow`` (threshold half the mark).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time

import aioice.ice


def _loopback_only(use_ipv4: bool = True, use_ipv6: bool = True) -> list[str]:
    return ["127.0.0.1"]


aioice.ice.get_host_addresses = _loopback_only

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from aiortc import (  # noqa: E402
    RTCConfiguration,
    RTCDataChannel,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.sdp import candidate_from_sdp  # noqa: E402
from path_common import (  # noqa: E402
    LABEL,
    Progress,
    Stream,
    emit,
    loopback_candidate,
    parse_args,
)


async def send_all(channel: RTCDataChannel, stream: Stream, mark: int) -> None:
    low = asyncio.Event()
    channel.bufferedAmountLowThreshold = mark // 2
    channel.on("bufferedamountlow", low.set)
    for seq in range(stream.count):
        while channel.bufferedAmount + stream.size > mark:
            low.clear()
            await low.wait()
        channel.send(stream.message(seq))
    emit(stream.sent())


async def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    stream = Stream(args.bytes, args.message_size)
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    tasks: set[asyncio.Task[None]] = set()

    def on_open(channel: RTCDataChannel) -> None:
        emit({"type": "open", "t": time.monotonic()})
        if args.role == "send":
            tasks.add(asyncio.ensure_future(send_all(channel, stream, args.mark)))

    if args.role == "send":
        channel = pc.createDataChannel(LABEL)
        channel.on("open", lambda: on_open(channel))
        await pc.setLocalDescription(await pc.createOffer())
        emit({"type": "offer", "sdp": pc.localDescription.sdp})
    else:
        progress = Progress(stream)

        @pc.on("datachannel")
        def on_datachannel(incoming: RTCDataChannel) -> None:
            if incoming.label != LABEL:
                return
            on_open(incoming)
            progress.tick(force=True)

            @incoming.on("message")
            def on_message(data: bytes | str) -> None:
                if stream.complete:
                    return
                stream.check(data)
                progress.tick()
                if stream.complete:
                    progress.tick(force=True)
                    emit(stream.done())

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        if not line.strip():
            continue
        message = json.loads(line)
        kind = message.get("type")
        if kind in ("offer", "answer"):
            await pc.setRemoteDescription(RTCSessionDescription(message["sdp"], kind))
            if kind == "offer":
                await pc.setLocalDescription(await pc.createAnswer())
                emit({"type": "answer", "sdp": pc.localDescription.sdp})
        elif kind == "candidate":
            value = (message.get("candidate") or "").removeprefix("a=")
            if not value:
                await pc.addIceCandidate(None)
            elif loopback_candidate(value):
                candidate = candidate_from_sdp(value.split(":", 1)[1])
                candidate.sdpMid = message.get("sdpMid") or "0"
                candidate.sdpMLineIndex = message.get("sdpMLineIndex") or 0
                await pc.addIceCandidate(candidate)
        elif kind == "bye":
            break
    await pc.close()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except Exception as exc:
        emit({"type": "error", "error": f"{type(exc).__name__}: {exc}"})
        raise
