"""A peer for tests/test_trio_sigkill.py: answers one offer (JSON lines on stdin/stdout,
full descriptions, no trickle), echoes every message, and runs until it is killed."""

from __future__ import annotations

import json
import sys

import trio

from trio_webrtc import PeerConnection


async def main() -> None:
    config = {"bindAddress": "127.0.0.1", "consentTimeout": 3}
    async with PeerConnection(config, name="child") as pc:
        offer = json.loads(await trio.to_thread.run_sync(sys.stdin.readline))
        await pc.accept_offer(offer["sdp"])
        async for _ in pc.local_candidates():
            pass  # gathering complete: the description carries every candidate
        print(json.dumps({"type": "answer", "sdp": pc.local_description}), flush=True)
        channel = await pc.accept_channel()
        async for message in channel:
            await channel.send(message)


if __name__ == "__main__":
    trio.run(main)
