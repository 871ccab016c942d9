"""What Trio itself costs on this machine: the floor under any Trio-native data channel.

Run from the repository root: ``python benchmarks/trio_floor.py``. No trio_webrtc code
runs; it measures, in one process on 127.0.0.1:

* ``checkpoint``: one ``await trio.lowlevel.checkpoint()`` (a scheduling round), µs;
* ``memory channel``: one message through ``trio.open_memory_channel`` from one task to
  another, µs per message (what ``await send()`` / ``await receive()`` cost with no
  protocol at all);
* ``udp round trip``: two UDP sockets, a receive task each handing datagrams to a task
  that answers (the shape of a request/response between two peers in one process: four
  task wakeups and two ``epoll`` rounds per round trip), µs per round trip.

Compare with ``bench.py``'s figures: libdatachannel's 100-byte messages/s and RTT p50
measured in the same sitting give the budget a Trio-native stack has left for its
protocol work (``docs/performance.md``, "The floor").
"""

from __future__ import annotations

import json
import socket
import time

import trio

COUNT = 100_000
ROUND_TRIPS = 20_000


async def _checkpoint() -> float:
    started = time.perf_counter()
    for _ in range(COUNT):
        await trio.lowlevel.checkpoint()
    return (time.perf_counter() - started) / COUNT * 1e6


async def _memory_channel() -> float:
    send, receive = trio.open_memory_channel[int](1000)

    async def drain() -> None:
        for _ in range(COUNT):
            await receive.receive()

    started = time.perf_counter()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(drain)
        for index in range(COUNT):
            await send.send(index)
    return (time.perf_counter() - started) / COUNT * 1e6


async def _udp_round_trip() -> float:
    sockets = []
    for _ in range(2):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.setblocking(False)
        sockets.append(sock)
    a, b = sockets
    a_address, b_address = a.getsockname(), b.getsockname()
    to_a_send, to_a = trio.open_memory_channel[bytes](100)
    to_b_send, to_b = trio.open_memory_channel[bytes](100)

    async def receive_task(sock: socket.socket, out: trio.MemorySendChannel[bytes]) -> None:
        while True:
            await trio.lowlevel.wait_readable(sock)
            while True:
                try:
                    data, _ = sock.recvfrom(65536)
                except BlockingIOError:
                    break
                out.send_nowait(data)

    async def echo() -> None:
        for _ in range(ROUND_TRIPS):
            b.sendto(await to_b.receive(), a_address)

    payload = b"x" * 100
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(receive_task, a, to_a_send)
            nursery.start_soon(receive_task, b, to_b_send)
            nursery.start_soon(echo)
            started = time.perf_counter()
            for _ in range(ROUND_TRIPS):
                a.sendto(payload, b_address)
                await to_a.receive()
            elapsed = time.perf_counter() - started
            nursery.cancel_scope.cancel()
    finally:
        for sock in sockets:
            sock.close()
    return elapsed / ROUND_TRIPS * 1e6


async def _main() -> dict[str, float]:
    return {
        "checkpoint_us": round(await _checkpoint(), 2),
        "memory_channel_us_per_msg": round(await _memory_channel(), 2),
        "udp_round_trip_us": round(await _udp_round_trip(), 1),
    }


def main() -> None:
    print(json.dumps({"workload": "trio_floor", **trio.run(_main)}))


if __name__ == "__main__":
    main()
