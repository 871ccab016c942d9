"""An aiortc peer speaking the interop peer protocol (see ``tests/interop/harness.py``).

Run as ``python tests/interop/aiortc_peer.py --role offer|answer [--no-trickle]``; it is
asyncio, so it runs in its own process. Kept on loopback (see /work/shared/interop.md):
aioice's host-address discovery is patched to return only 127.0.0.1, the configuration has
no ICE servers (aiortc's default is a public STUN server), and remote candidates whose
address is not 127.0.0.1 are dropped (a ``.local`` one would start mDNS).

aiortc only ever puts its candidates in its SDP (``setLocalDescription`` waits for
gathering). To exercise the driver's trickle path, in trickle mode this peer moves them
out: it strips ``a=candidate``/``a=end-of-candidates`` from the SDP it sends and sends
them as ``candidate`` messages followed by the end-of-candidates one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from typing import Any

import aioice.ice

aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]  # loopback only

from aiortc import (  # noqa: E402
    RTCConfiguration,
    RTCDataChannel,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.sdp import candidate_from_sdp  # noqa: E402

logger = logging.getLogger("aiortc_peer")
ALL_LABELS = ("echo", "unordered", "unreliable", "neg")


def send(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def loopback_candidate(value: str) -> bool:
    """Whether a ``candidate:...`` value has the address 127.0.0.1."""
    parts = value.split()
    return len(parts) >= 8 and parts[4] == "127.0.0.1"


def filter_remote_sdp(sdp: str) -> str:
    lines = [
        line
        for line in sdp.splitlines()
        if not line.startswith("a=candidate:") or loopback_candidate(line[2:])
    ]
    return "\r\n".join(lines) + "\r\n"


def split_candidates(sdp: str) -> tuple[str, list[str]]:
    """Remove candidate lines from ``sdp``; return it and the candidate values."""
    kept, candidates = [], []
    for line in sdp.splitlines():
        if line.startswith("a=candidate:"):
            candidates.append(line[2:])
        elif line != "a=end-of-candidates":
            kept.append(line)
    return "\r\n".join(kept) + "\r\n", candidates


class Peer:
    def __init__(self, role: str, trickle: bool) -> None:
        self.role = role
        self.trickle = trickle
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.channels: dict[str, RTCDataChannel] = {}
        self.opened: set[str] = set()
        self.closed: set[str] = set()
        self.ready_sent = False
        self.done = asyncio.Event()

        @self.pc.on("connectionstatechange")
        def on_state() -> None:
            logger.info("connection state %s", self.pc.connectionState)
            send({"type": "state", "state": self.pc.connectionState})

        @self.pc.on("datachannel")
        def on_datachannel(channel: RTCDataChannel) -> None:
            self.add_channel(channel)

    def add_channel(self, channel: RTCDataChannel) -> None:
        label = channel.label
        self.channels[label] = channel

        @channel.on("message")
        def on_message(message: str | bytes) -> None:
            if channel.readyState == "open":
                channel.send(message)

        @channel.on("open")
        def on_open() -> None:
            self.mark_open(label)

        @channel.on("close")
        def on_close() -> None:
            if label not in self.closed:
                self.closed.add(label)
                logger.info("channel %s closed", label)
                send({"type": "channel_closed", "label": label})

        if channel.readyState == "open":
            self.mark_open(label)

    def mark_open(self, label: str) -> None:
        self.opened.add(label)
        logger.info("channel %s open", label)
        if not self.ready_sent and self.opened >= set(ALL_LABELS):
            self.ready_sent = True
            send({"type": "ready"})

    async def send_description(self) -> None:
        description = self.pc.localDescription
        sdp = description.sdp
        candidates: list[str] = []
        if self.trickle:
            sdp, candidates = split_candidates(sdp)
        send({"type": description.type, "sdp": sdp})
        for value in candidates:
            send({"type": "candidate", "candidate": value, "sdpMid": "0", "sdpMLineIndex": 0})
        if self.trickle:
            send({"type": "candidate", "candidate": "", "sdpMid": "0", "sdpMLineIndex": 0})

    async def start(self) -> None:
        if self.role == "offer":
            self.add_channel(self.pc.createDataChannel("echo"))
            self.add_channel(self.pc.createDataChannel("unordered", ordered=False))
            self.add_channel(
                self.pc.createDataChannel("unreliable", ordered=False, maxRetransmits=0)
            )
        self.add_channel(self.pc.createDataChannel("neg", negotiated=True, id=3))
        if self.role == "offer":
            await self.pc.setLocalDescription(await self.pc.createOffer())
            await self.send_description()

    async def handle(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind in ("offer", "answer"):
            sdp = filter_remote_sdp(message["sdp"])
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type=kind))
            if kind == "offer":
                await self.pc.setLocalDescription(await self.pc.createAnswer())
                await self.send_description()
        elif kind == "candidate":
            value = message.get("candidate") or ""
            if not value:
                await self.pc.addIceCandidate(None)
                return
            if value.startswith("a="):
                value = value[2:]
            if not loopback_candidate(value):
                logger.info("dropping non-loopback candidate %s", value)
                return
            candidate = candidate_from_sdp(value.split(":", 1)[1])
            candidate.sdpMid = message.get("sdpMid")
            candidate.sdpMLineIndex = message.get("sdpMLineIndex")
            await self.pc.addIceCandidate(candidate)
        elif kind == "close_channel":
            channel = self.channels.get(message["label"])
            if channel is not None:
                channel.close()
        elif kind == "close":
            await self.pc.close()
        elif kind == "bye":
            self.done.set()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--role", choices=("offer", "answer"), required=True)
    parser.add_argument("--no-trickle", action="store_true")
    args = parser.parse_args()
    debug = bool(os.environ.get("TRIO_WEBRTC_INTEROP_DEBUG"))  # aiortc's per-chunk logs
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(name)s %(message)s",
    )
    peer = Peer(args.role, trickle=not args.no_trickle)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    await peer.start()
    while not peer.done.is_set():
        line = await reader.readline()
        if not line:
            break
        if not line.strip():
            continue
        message = json.loads(line)
        logger.info("driver says %s", message.get("type"))
        await peer.handle(message)
    await peer.pc.close()


if __name__ == "__main__":
    asyncio.run(main())
