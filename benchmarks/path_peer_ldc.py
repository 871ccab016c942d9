"""libdatachannel (PyPI ``libdatachannel-py``) as a path-benchmark peer (protocol in
``path_common.py``). Runs under the Python 3.13 venv ``path_bench.py`` makes.

libdatachannel calls back from its own threads; this peer reads stdin on the main thread
and sends from a thread of its own. ICE binds 127.0.0.1 only (``bind_address``), has no
ICE servers and no ICE-TCP; remote candidates other than UDP on 127.0.0.1 are dropped.
The sender keeps ``buffered_amount()`` at or below ``--mark``, refilling when it falls to
half the mark.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time

import libdatachannel as rtc  # type: ignore[import-not-found]

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from path_common import (
    LABEL,
    Progress,
    Stream,
    emit,
    log,
    loopback_candidate,
    parse_args,
)


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    stream = Stream(args.bytes, args.message_size)
    config = rtc.Configuration()
    config.bind_address = "127.0.0.1"
    config.enable_ice_tcp = False
    config.ice_servers = []
    pc = rtc.PeerConnection(config)
    keep: list[object] = []  # channels must outlive their callbacks

    def on_description(description: object) -> None:
        emit({"type": str(description.type_string()), "sdp": str(description)})  # type: ignore[attr-defined]

    def on_candidate(candidate: object) -> None:
        value = str(candidate.candidate())  # type: ignore[attr-defined]
        mid = str(candidate.mid())  # type: ignore[attr-defined]
        if loopback_candidate(value):
            emit({"type": "candidate", "candidate": value, "sdpMid": mid, "sdpMLineIndex": 0})

    def on_gathering(state: object) -> None:
        if state == rtc.PeerConnection.GatheringState.Complete:
            emit({"type": "candidate", "candidate": "", "sdpMLineIndex": 0})

    pc.on_local_description(on_description)
    pc.on_local_candidate(on_candidate)
    pc.on_gathering_state_change(on_gathering)
    pc.on_state_change(lambda state: log("state", state))

    if args.role == "send":
        channel = pc.create_data_channel(LABEL)
        keep.append(channel)
        low = threading.Event()
        channel.set_buffered_amount_low_threshold(args.mark // 2)
        channel.on_buffered_amount_low(low.set)

        def sender() -> None:
            for seq in range(stream.count):
                while channel.buffered_amount() + stream.size > args.mark:
                    low.clear()
                    if channel.buffered_amount() + stream.size > args.mark:
                        low.wait(0.05)
                channel.send(stream.message(seq))  # False means queued, not refused
            emit(stream.sent())

        def on_open() -> None:
            emit({"type": "open", "t": time.monotonic()})
            threading.Thread(target=sender, daemon=True).start()

        channel.on_open(on_open)
    else:
        progress = Progress(stream)

        def on_channel(incoming: object) -> None:
            keep.append(incoming)
            if incoming.label() != LABEL:  # type: ignore[attr-defined]
                return
            emit({"type": "open", "t": time.monotonic()})
            progress.tick(force=True)

            def on_message(data: bytes | str) -> None:
                if stream.complete:
                    return
                stream.check(data)
                progress.tick()
                if stream.complete:
                    progress.tick(force=True)
                    emit(stream.done())

            incoming.on_message(on_message)  # type: ignore[attr-defined]

        pc.on_data_channel(on_channel)

    remote_mid = "0"
    for line in sys.stdin:
        if not line.strip():
            continue
        message = json.loads(line)
        kind = message.get("type")
        if kind in ("offer", "answer"):
            sdp = message["sdp"]
            mids = [ln[6:].strip() for ln in sdp.splitlines() if ln.startswith("a=mid:")]
            remote_mid = mids[0] if mids else remote_mid
            pc.set_remote_description(rtc.Description(sdp, kind))
        elif kind == "candidate":
            value = (message.get("candidate") or "").removeprefix("a=")
            if value and loopback_candidate(value):
                pc.add_remote_candidate(rtc.Candidate(value, remote_mid))
        elif kind == "bye":
            break
    pc.close()


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:
        emit({"type": "error", "error": f"{type(exc).__name__}: {exc}"})
        raise
