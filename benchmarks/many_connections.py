"""Many connections: memory and idle CPU per connection, and a server under many clients.

Run from the repository root (``bench.py --workload many --workload server`` runs both)::

    python benchmarks/many_connections.py many --stack trio [--count 1000] [--idle 10]
    python benchmarks/many_connections.py server --stack aiortc [--clients 200] [--rate 30]

``many``: ``--count`` peer connections in this process (``count / 2`` pairs connected to
each other over 127.0.0.1), one open channel each (a ping crosses it); then the process
sleeps ``--idle`` seconds. Reports RSS per connection (resident set after minus before,
``/proc/self/statm``) and idle CPU per connection (process CPU over the idle period).

``server``: this process is the server; it starts a client process (``clients``) and
they signal over its stdin/stdout (JSON lines, complete descriptions with their
candidates). Each client opens one channel and sends ``--rate`` messages of 100 bytes a
second; the server checks every message (per-client sequence numbers) and reports its
own process CPU over ``--seconds`` of that load, and the message rate it received.

``--stack trio`` is trio_webrtc's Trio face, ``aiortc`` is aiortc (host discovery patched
to 127.0.0.1). Prints one JSON line per run (``common.result``). Loopback only.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from common import emit

CONFIG: dict[str, Any] = {"bindAddress": "127.0.0.1", "iceServers": []}
NAMES = {"trio": "trio_webrtc", "aiortc": "aiortc"}
SIZE = 100


def rss_mb() -> float:
    """The resident set now, in MB (not the peak)."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def message(seq: int) -> bytes:
    return seq.to_bytes(8, "big") + bytes(SIZE - 8)


class Checker:
    """Per-client sequence numbers: every message complete and in order."""

    def __init__(self) -> None:
        self.next: dict[int, int] = {}
        self.count = 0

    def check(self, client: int, data: bytes | str) -> None:
        if not isinstance(data, bytes) or len(data) != SIZE:
            raise AssertionError(f"client {client}: bad message {data!r:.40}")
        seq = int.from_bytes(data[:8], "big")
        expected = self.next.get(client, 0)
        if seq != expected:
            raise AssertionError(f"client {client}: message {seq} where {expected} was due")
        self.next[client] = seq + 1
        self.count += 1


# ---------------------------------------------------------------------------- trio


def trio_many(count: int, idle: float) -> dict[str, Any]:
    import trio

    from trio_webrtc import PeerConnection, connect_pair

    async def main() -> dict[str, Any]:
        before = rss_mb()
        started = time.perf_counter()
        async with trio.open_nursery() as nursery:
            ready = 0
            done = trio.Event()
            release = trio.Event()

            async def one_pair() -> None:
                nonlocal ready
                async with PeerConnection(CONFIG) as a, PeerConnection(CONFIG) as b:
                    channel = a.create_data_channel("idle")
                    await connect_pair(a, b)
                    incoming = await b.accept_channel()
                    await channel.send(b"ping")
                    assert await incoming.receive() == b"ping"
                    ready += 1
                    if ready == count // 2:
                        done.set()
                    await release.wait()

            for _ in range(count // 2):
                nursery.start_soon(one_pair)
                await trio.sleep(0)
            await done.wait()
            setup = time.perf_counter() - started
            await trio.sleep(0.5)  # let setup's stragglers (nominations, SACKs) settle
            after = rss_mb()
            cpu0 = time.process_time()
            await trio.sleep(idle)
            cpu = time.process_time() - cpu0
            release.set()
        return many_record("trio", count, idle, before, after, cpu, setup)

    return trio.run(main)


def trio_server(clients: int, rate: float, seconds: float) -> dict[str, Any]:
    import trio

    from trio_webrtc import PeerConnection

    async def main() -> dict[str, Any]:
        checker = Checker()
        argv = [sys.executable, __file__, "clients", "--stack", "trio"]
        argv += ["--clients", str(clients), "--rate", str(rate)]
        async with trio.open_nursery() as nursery:
            process = await nursery.start(
                lambda task_status: trio.run_process(
                    argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, task_status=task_status
                )
            )
            assert process.stdin is not None and process.stdout is not None
            stdin, stdout = process.stdin, process.stdout
            connected = 0
            all_connected = trio.Event()
            lock = trio.Lock()

            async def serve(client: int, offer: str) -> None:
                nonlocal connected
                async with PeerConnection(CONFIG) as pc:
                    answer = await pc.accept_offer(offer)
                    async for _ in pc.local_candidates():
                        pass
                    del answer
                    line = {"client": client, "answer": pc.local_description}
                    async with lock:
                        await stdin.send_all(json.dumps(line).encode() + b"\n")
                    channel = await pc.accept_channel()
                    connected += 1
                    if connected == clients:
                        all_connected.set()
                    while True:
                        checker.check(client, await channel.receive())

            async def signaling() -> None:
                buffer = b""
                while True:
                    chunk = await stdout.receive_some(65536)
                    if not chunk:
                        return
                    buffer += chunk
                    *lines, buffer = buffer.split(b"\n")
                    for raw in lines:
                        item = json.loads(raw)
                        nursery.start_soon(serve, item["client"], item["offer"])

            nursery.start_soon(signaling)
            await all_connected.wait()
            await trio.sleep(1.0)  # every client sending at its rate
            count0, cpu0, wall0 = checker.count, time.process_time(), time.perf_counter()
            await trio.sleep(seconds)
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            received = checker.count - count0
            nursery.cancel_scope.cancel()
            process.kill()
        return server_record("trio", clients, rate, cpu, wall, received)

    return trio.run(main)


def trio_clients(clients: int, rate: float) -> None:
    import trio

    from trio_webrtc import PeerConnection

    async def main() -> None:
        stdout = trio.lowlevel.FdStream(os.dup(1))
        stdin = trio.lowlevel.FdStream(os.dup(0))
        answers: dict[int, trio.MemorySendChannel[str]] = {}
        lock = trio.Lock()
        async with trio.open_nursery() as nursery:

            async def client(index: int) -> None:
                send, receive = trio.open_memory_channel[str](1)
                answers[index] = send
                async with PeerConnection(CONFIG) as pc:
                    channel = pc.create_data_channel("load")
                    await pc.create_offer()
                    async for _ in pc.local_candidates():
                        pass
                    line = {"client": index, "offer": pc.local_description}
                    async with lock:
                        await stdout.send_all(json.dumps(line).encode() + b"\n")
                    await pc.accept_answer(await receive.receive())
                    await channel.wait_open()
                    period = 1 / rate
                    deadline = trio.current_time() + period * (index % 30) / 30
                    seq = 0
                    while True:
                        await trio.sleep_until(deadline)
                        await channel.send(message(seq))
                        seq += 1
                        deadline += period

            async def signaling() -> None:
                buffer = b""
                while True:
                    chunk = await stdin.receive_some(65536)
                    if not chunk:
                        nursery.cancel_scope.cancel()
                        return
                    buffer += chunk
                    *lines, buffer = buffer.split(b"\n")
                    for raw in lines:
                        item = json.loads(raw)
                        answers[item["client"]].send_nowait(item["answer"])

            nursery.start_soon(signaling)
            for index in range(clients):
                nursery.start_soon(client, index)
                await trio.sleep(0.002)

    trio.run(main)


# -------------------------------------------------------------------------- aiortc


def aiortc_imports() -> Any:
    import aioice.ice
    import aiortc

    aioice.ice.get_host_addresses = lambda use_ipv4=True, use_ipv6=True: ["127.0.0.1"]
    return aiortc


def aiortc_many(count: int, idle: float) -> dict[str, Any]:
    import asyncio

    aiortc = aiortc_imports()

    async def main() -> dict[str, Any]:
        before = rss_mb()
        started = time.perf_counter()
        pcs: list[Any] = []

        async def one_pair() -> None:
            config = aiortc.RTCConfiguration(iceServers=[])
            a, b = aiortc.RTCPeerConnection(config), aiortc.RTCPeerConnection(config)
            pcs.extend((a, b))
            channel = a.createDataChannel("idle")
            arrived: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

            @b.on("datachannel")
            def on_channel(incoming: Any) -> None:
                incoming.on("message", lambda data: arrived.done() or arrived.set_result(data))

            opened = asyncio.get_running_loop().create_future()
            channel.on("open", lambda: opened.done() or opened.set_result(None))
            await a.setLocalDescription(await a.createOffer())
            await b.setRemoteDescription(a.localDescription)
            await b.setLocalDescription(await b.createAnswer())
            await a.setRemoteDescription(b.localDescription)
            await opened
            channel.send(b"ping")
            assert await arrived == b"ping"

        # A few at a time: aiortc's gathering and handshakes are slow in bulk.
        for first in range(0, count // 2, 10):
            await asyncio.gather(*(one_pair() for _ in range(min(10, count // 2 - first))))
        setup = time.perf_counter() - started
        await asyncio.sleep(0.5)
        after = rss_mb()
        cpu0 = time.process_time()
        await asyncio.sleep(idle)
        cpu = time.process_time() - cpu0
        for pc in pcs:
            await pc.close()
        return many_record("aiortc", count, idle, before, after, cpu, setup)

    return asyncio.run(main())


def aiortc_server(clients: int, rate: float, seconds: float) -> dict[str, Any]:
    import asyncio

    aiortc = aiortc_imports()

    async def main() -> dict[str, Any]:
        checker = Checker()
        connected = 0
        all_connected = asyncio.Event()
        process = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "clients", "--stack", "aiortc",
            "--clients", str(clients), "--rate", str(rate),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        )  # fmt: skip
        assert process.stdin is not None and process.stdout is not None
        stdin = process.stdin
        pcs: list[Any] = []

        async def serve(client: int, offer: str) -> None:
            pc = aiortc.RTCPeerConnection(aiortc.RTCConfiguration(iceServers=[]))
            pcs.append(pc)

            @pc.on("datachannel")
            def on_channel(channel: Any) -> None:
                nonlocal connected
                connected += 1
                if connected == clients:
                    all_connected.set()
                channel.on("message", lambda data: checker.check(client, data))

            await pc.setRemoteDescription(aiortc.RTCSessionDescription(offer, "offer"))
            await pc.setLocalDescription(await pc.createAnswer())
            line = {"client": client, "answer": pc.localDescription.sdp}
            stdin.write(json.dumps(line).encode() + b"\n")

        tasks = []
        while not all_connected.is_set():
            reader = asyncio.ensure_future(process.stdout.readline())
            waiter = asyncio.ensure_future(all_connected.wait())
            await asyncio.wait({reader, waiter}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            if not reader.done():
                reader.cancel()
                break
            raw = reader.result()
            if not raw:
                raise RuntimeError("the client process ended")
            item = json.loads(raw)
            tasks.append(asyncio.ensure_future(serve(item["client"], item["offer"])))
        await asyncio.sleep(1.0)
        count0, cpu0, wall0 = checker.count, time.process_time(), time.perf_counter()
        await asyncio.sleep(seconds)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        received = checker.count - count0
        process.kill()
        await process.wait()
        for pc in pcs:
            await pc.close()
        return server_record("aiortc", clients, rate, cpu, wall, received)

    return asyncio.run(main())


def aiortc_clients(clients: int, rate: float) -> None:
    import asyncio

    aiortc = aiortc_imports()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        answers: dict[int, asyncio.Future[str]] = {}

        async def client(index: int) -> None:
            answers[index] = loop.create_future()
            pc = aiortc.RTCPeerConnection(aiortc.RTCConfiguration(iceServers=[]))
            channel = pc.createDataChannel("load")
            opened = loop.create_future()
            channel.on("open", lambda: opened.done() or opened.set_result(None))
            await pc.setLocalDescription(await pc.createOffer())
            line = {"client": index, "offer": pc.localDescription.sdp}
            sys.stdout.write(json.dumps(line) + "\n")
            sys.stdout.flush()
            answer = await answers[index]
            await pc.setRemoteDescription(aiortc.RTCSessionDescription(answer, "answer"))
            await opened
            period = 1 / rate
            deadline = loop.time() + period * (index % 30) / 30
            seq = 0
            while True:
                await asyncio.sleep(max(0.0, deadline - loop.time()))
                channel.send(message(seq))
                seq += 1
                deadline += period

        async def signaling() -> None:
            while raw := await reader.readline():
                item = json.loads(raw)
                answers[item["client"]].set_result(item["answer"])

        tasks = [asyncio.ensure_future(signaling())]
        for index in range(clients):
            tasks.append(asyncio.ensure_future(client(index)))
            await asyncio.sleep(0.005)
        await tasks[0]

    asyncio.run(main())


# -------------------------------------------------------------------------- records


def many_record(  # noqa: PLR0917
    stack: str, count: int, idle: float, before: float, after: float, cpu: float, setup: float
) -> dict[str, Any]:
    return {
        "stack": NAMES[stack],
        "workload": "many",
        "verified": True,
        "connections": count,
        "setup_s": round(setup, 2),
        "rss_before_mb": round(before, 1),
        "rss_after_mb": round(after, 1),
        "rss_kb_per_conn": round((after - before) * 1000 / count, 1),
        "idle_s": idle,
        "idle_cpu_s": round(cpu, 4),
        "idle_cpu_us_per_conn_s": round(cpu / idle / count * 1e6, 2),
    }


def server_record(  # noqa: PLR0917
    stack: str, clients: int, rate: float, cpu: float, wall: float, received: int
) -> dict[str, Any]:
    offered = clients * rate
    return {
        "stack": NAMES[stack],
        "workload": "server",
        # Sustained: at least 95 % of the offered rate arrived, all of it checked.
        "verified": received >= 0.95 * offered * wall,
        "clients": clients,
        "rate_per_client": rate,
        "seconds": round(wall, 2),
        "msgs_per_s": round(received / wall),
        "offered_msgs_per_s": round(offered),
        "server_cpu_s": round(cpu, 3),
        "server_cpu_percent": round(cpu / wall * 100, 1),
        "server_cpu_us_per_msg": round(cpu / max(received, 1) * 1e6, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("workload", choices=("many", "server", "clients"))
    parser.add_argument("--stack", choices=tuple(NAMES), default="trio")
    parser.add_argument("--count", type=int, default=1000, help="many: connections")
    parser.add_argument("--idle", type=float, default=10.0, help="many: idle seconds")
    parser.add_argument("--clients", type=int, default=200, help="server: clients")
    parser.add_argument("--rate", type=float, default=30.0, help="server: msgs/s per client")
    parser.add_argument("--seconds", type=float, default=10.0, help="server: measured seconds")
    parser.add_argument("--quick", action="store_true", help="20 connections, 10 clients, 1 s")
    args = parser.parse_args()
    if args.quick:
        args.count, args.idle = min(args.count, 20), min(args.idle, 1.0)
        args.clients, args.seconds = min(args.clients, 10), min(args.seconds, 1.0)
    if args.workload == "clients":
        (trio_clients if args.stack == "trio" else aiortc_clients)(args.clients, args.rate)
        return
    if args.workload == "many":
        run = trio_many if args.stack == "trio" else aiortc_many
        emit(run(args.count, args.idle))
    else:
        serve = trio_server if args.stack == "trio" else aiortc_server
        emit(serve(args.clients, args.rate, args.seconds))
    sys.stdout.flush()
    os._exit(0)  # no graceful teardown of hundreds of connections


if __name__ == "__main__":
    main()
