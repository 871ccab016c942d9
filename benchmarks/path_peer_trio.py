"""trio_webrtc as a path-benchmark peer (protocol in ``path_common.py``).

Bound to 127.0.0.1 with no ICE servers. The sender keeps the channel's buffered amount
at or below ``--mark`` through ``high_water``; ``--trace FILE`` has the SCTP sender write
its send-path trace there (JSON lines), when this version of trio_webrtc has one.
"""

from __future__ import annotations

import inspect
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import trio

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from path_common import LABEL, Progress, Stream, emit, log, loopback_candidate, parse_args

from trio_webrtc import DataChannel, PeerConnection

CONFIG: dict[str, Any] = {"bindAddress": "127.0.0.1", "iceServers": []}


def enable_trace(path: str) -> Callable[[], None] | None:
    """Have every SCTP association of this process write its send-path trace (see
    ``trio_webrtc/sctp/trace.py``) to ``path`` as JSON lines; returns a flush function, or
    None when this trio_webrtc has no trace. The first line, ``{"ev": "clock", ...}``, maps
    the records' ``t`` (Trio's clock) to ``time.monotonic()``, the benchmark's clock."""
    from trio_webrtc import core

    base = core.SctpAssociation
    if "trace" not in inspect.signature(base).parameters:
        log("this trio_webrtc has no SCTP send-path trace; --trace ignored")
        return None
    out = open(path, "w")  # noqa: SIM115 - open for the process's life, flushed at exit
    clock = {"ev": "clock", "t": trio.current_time(), "monotonic": time.monotonic()}
    out.write(json.dumps(clock) + "\n")

    def record(item: dict[str, object]) -> None:
        out.write(json.dumps(item, separators=(",", ":")) + "\n")

    class Traced(base):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.setdefault("trace", record)
            super().__init__(*args, **kwargs)

    core.SctpAssociation = Traced  # type: ignore[misc]
    return out.flush


async def lines() -> Any:
    stdin = trio.lowlevel.FdStream(os.dup(0))
    buffer = b""
    async with stdin:
        while True:
            chunk = await stdin.receive_some(65536)
            if not chunk:
                return
            buffer += chunk
            *complete, buffer = buffer.split(b"\n")
            for line in complete:
                if line.strip():
                    yield json.loads(line)


async def send_all(channel: DataChannel, stream: Stream, mark: int) -> None:
    await channel.wait_open()
    emit({"type": "open", "t": time.monotonic()})
    channel.high_water = max(0, mark - stream.size)  # buffered amount stays <= mark
    send = channel.send
    for seq in range(stream.count):
        await send(stream.message(seq))
    emit(stream.sent())


async def receive_all(pc: PeerConnection, stream: Stream) -> None:
    channel = await pc.accept_channel()
    while channel.label != LABEL:
        channel = await pc.accept_channel()
    emit({"type": "open", "t": time.monotonic()})
    progress = Progress(stream)
    progress.tick(force=True)
    while not stream.complete:
        if not stream.check(await channel.receive()):
            break
        progress.tick()
    progress.tick(force=True)
    emit(stream.done())


async def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    stream = Stream(args.bytes, args.message_size)
    flush = enable_trace(args.trace) if args.trace and args.role == "send" else None
    try:
        await run(args, stream)
    finally:
        if flush is not None:
            flush()


async def run(args: Any, stream: Stream) -> None:
    async with PeerConnection(CONFIG, name=args.role) as pc, trio.open_nursery() as nursery:

        async def candidates() -> None:
            async for candidate in pc.local_candidates():
                emit(
                    {
                        "type": "candidate",
                        "candidate": candidate.candidate or "",
                        "sdpMid": candidate.sdp_mid,
                        "sdpMLineIndex": candidate.sdp_mline_index,
                    }
                )
            emit({"type": "candidate", "candidate": "", "sdpMid": "0", "sdpMLineIndex": 0})

        if args.role == "send":
            channel = pc.create_data_channel(LABEL)
            emit({"type": "offer", "sdp": await pc.create_offer()})
            nursery.start_soon(send_all, channel, stream, args.mark)
        else:
            nursery.start_soon(receive_all, pc, stream)
        async for message in lines():
            kind = message.get("type")
            if kind == "offer":
                emit({"type": "answer", "sdp": await pc.accept_offer(message["sdp"])})
                nursery.start_soon(candidates)
            elif kind == "answer":
                await pc.accept_answer(message["sdp"])
                nursery.start_soon(candidates)
            elif kind == "candidate":
                value = message.get("candidate") or ""
                if not value:
                    await pc.add_ice_candidate(None)
                elif loopback_candidate(value):
                    mid = str(message.get("sdpMid") or "0")
                    index = int(message.get("sdpMLineIndex") or 0)
                    await pc.add_ice_candidate(value.removeprefix("a="), mid, index)
            elif kind == "bye":
                break
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    try:
        trio.run(main)
    except Exception as exc:
        emit({"type": "error", "error": f"{type(exc).__name__}: {exc}"})
        raise
