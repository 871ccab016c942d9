"""Many connections: memory and idle CPU per connection, and a server under many clients.

Run from the repository root (``bench.py --workload many --workload server`` runs both)::

    python benchmarks/many_connections.py many --stack trio [--count 1000] [--idle 10]
    python benchmarks/many_connections.py server --stack aiortc [--clients 200] [--rate 30]

``many``: ``--count`` peer connections in this process (``count / 2`` pairs connected to
each other over 127.0.0.1), one open channel each (a ping crosses it); then the process
sleeps ``--idle`` seconds. Reports RSS per connection (resident set after minus before,
``/proc/self/statm``) and idle CPU per connection (process CPU over the idle period).

``server``: this process is the server; it starts ``--client-procs`` client processes
(``clients``, default 4, the clients spread over them; ``--client-stack``, default
libdatachannel, the same clients for either server, cheap enough not to be the limit)
and they signal over their stdin/stdout (JSON lines, complete descriptions with their
candidates). Each client opens one channel and sends ``--rate`` messages of 100 bytes a
second; the server checks every message (per-client sequence numbers) and
reports its own process CPU over ``--seconds`` of that load, the message rate it
received (``sustained`` if at least 95 % of the offered rate arrived) and the client
processes' CPU over the same period.

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
NAMES = {"trio": "trio_webrtc", "aiortc": "aiortc", "ldc": "libdatachannel"}
SIZE = 100


def rss_mb() -> float:
    """The resident set now, in MB (not the peak)."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of another process so far (``/proc/PID/stat``)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def client_groups(clients: int, procs: int) -> list[tuple[int, int]]:
    """(first client id, count) for each client process."""
    procs = max(1, min(procs, clients))
    base, extra = divmod(clients, procs)
    groups, first = [], 0
    for index in range(procs):
        count = base + (1 if index < extra else 0)
        groups.append((first, count))
        first += count
    return groups


LDC_PYTHON = os.path.join(os.path.dirname(os.path.abspath(__file__)), ".venv313", "bin", "python")


def client_argv(stack: str, first: int, count: int, rate: float) -> list[str]:
    python = LDC_PYTHON if stack == "ldc" else sys.executable
    return [python, __file__, "clients", "--stack", stack, "--first", str(first),
            "--clients", str(count), "--rate", str(rate)]  # fmt: skip


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

    def spread(self, before: dict[int, int], clients: int) -> list[int]:
        """Messages per client since ``before``: min, median, max."""
        counts = sorted(self.next.get(c, 0) - before.get(c, 0) for c in range(clients))
        return [counts[0], counts[len(counts) // 2], counts[-1]]


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


def trio_server(
    clients: int, rate: float, seconds: float, procs: int, client_stack: str
) -> dict[str, Any]:
    import trio

    from trio_webrtc import PeerConnection

    async def main() -> dict[str, Any]:
        checker = Checker()
        async with trio.open_nursery() as nursery:
            processes = []
            for first, count in client_groups(clients, procs):
                argv = client_argv(client_stack, first, count, rate)
                processes.append(
                    await nursery.start(
                        lambda task_status, argv=argv: trio.run_process(
                            argv,
                            stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE,
                            task_status=task_status,
                        )
                    )
                )
            owner: dict[int, Any] = {}
            locks = {id(process): trio.Lock() for process in processes}
            connected = 0
            all_connected = trio.Event()

            async def serve(client: int, offer: str) -> None:
                nonlocal connected
                async with PeerConnection(CONFIG) as pc:
                    answer = await pc.accept_offer(offer)
                    async for _ in pc.local_candidates():
                        pass
                    del answer
                    line = {"client": client, "answer": pc.local_description}
                    process = owner[client]
                    async with locks[id(process)]:
                        await process.stdin.send_all(json.dumps(line).encode() + b"\n")
                    channel = await pc.accept_channel()
                    connected += 1
                    if connected == clients:
                        all_connected.set()
                    while True:
                        checker.check(client, await channel.receive())

            async def signaling(process: Any) -> None:
                buffer = b""
                while True:
                    chunk = await process.stdout.receive_some(65536)
                    if not chunk:
                        return
                    buffer += chunk
                    *lines, buffer = buffer.split(b"\n")
                    for raw in lines:
                        item = json.loads(raw)
                        owner[item["client"]] = process
                        nursery.start_soon(serve, item["client"], item["offer"])

            for process in processes:
                nursery.start_soon(signaling, process)
            await all_connected.wait()
            await trio.sleep(1.0)  # every client sending at its rate
            pids = [process.pid for process in processes]
            clients0 = sum(map(process_cpu_s, pids))
            count0, cpu0, wall0 = checker.count, time.process_time(), time.perf_counter()
            per_client0 = dict(checker.next)
            await trio.sleep(seconds)
            spread = checker.spread(per_client0, clients)
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            clients_cpu = sum(map(process_cpu_s, pids)) - clients0
            received = checker.count - count0
            nursery.cancel_scope.cancel()
            for process in processes:
                process.kill()
        return server_record(
            "trio", clients, rate, cpu, wall, received, clients_cpu, len(pids), spread, client_stack
        )

    return trio.run(main)


def trio_clients(first: int, clients: int, rate: float) -> None:
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
            for index in range(first, first + clients):
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


def aiortc_server(
    clients: int, rate: float, seconds: float, procs: int, client_stack: str
) -> dict[str, Any]:
    import asyncio

    aiortc = aiortc_imports()

    async def main() -> dict[str, Any]:
        checker = Checker()
        connected = 0
        all_connected = asyncio.Event()
        processes = [
            await asyncio.create_subprocess_exec(
                *client_argv(client_stack, first, count, rate),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
            )
            for first, count in client_groups(clients, procs)
        ]
        owner: dict[int, Any] = {}
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
            owner[client].stdin.write(json.dumps(line).encode() + b"\n")

        tasks = []

        async def signaling(process: Any) -> None:
            while raw := await process.stdout.readline():
                item = json.loads(raw)
                owner[item["client"]] = process
                tasks.append(asyncio.ensure_future(serve(item["client"], item["offer"])))

        readers = [asyncio.ensure_future(signaling(process)) for process in processes]
        await all_connected.wait()
        await asyncio.sleep(1.0)
        pids = [process.pid for process in processes]
        clients0 = sum(map(process_cpu_s, pids))
        count0, cpu0, wall0 = checker.count, time.process_time(), time.perf_counter()
        per_client0 = dict(checker.next)
        await asyncio.sleep(seconds)
        spread = checker.spread(per_client0, clients)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        clients_cpu = sum(map(process_cpu_s, pids)) - clients0
        received = checker.count - count0
        for process in processes:
            process.kill()
            await process.wait()
        for reader in readers:
            reader.cancel()
        return server_record(
            "aiortc",
            clients,
            rate,
            cpu,
            wall,
            received,
            clients_cpu,
            len(pids),
            spread,
            client_stack,
        )

    return asyncio.run(main())


def aiortc_clients(first: int, clients: int, rate: float) -> None:
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
        for index in range(first, first + clients):
            tasks.append(asyncio.ensure_future(client(index)))
            await asyncio.sleep(0.005)
        await tasks[0]

    asyncio.run(main())


# ------------------------------------------------------------------ libdatachannel


def ldc_clients(first: int, clients: int, rate: float) -> None:
    """Load-generating clients on libdatachannel (its C++ threads do the protocol work, so
    the load generator stays cheap): offers go out complete once gathering is done, one
    thread sends every client's messages on its schedule."""
    import threading

    import libdatachannel as rtc  # type: ignore[import-not-found]

    out = threading.Lock()
    answers: dict[int, Any] = {}
    channels: dict[int, Any] = {}
    opened: dict[int, threading.Event] = {}
    keep: list[Any] = []

    def start(index: int) -> None:
        config = rtc.Configuration()
        config.bind_address = "127.0.0.1"
        config.enable_ice_tcp = False
        config.ice_servers = []
        pc = rtc.PeerConnection(config)
        gathered = threading.Event()

        def on_gathering(state: Any) -> None:
            if state == rtc.PeerConnection.GatheringState.Complete:
                gathered.set()

        pc.on_gathering_state_change(on_gathering)
        channel = pc.create_data_channel("load")
        opened[index] = threading.Event()
        channel.on_open(opened[index].set)
        keep.extend((pc, channel))
        channels[index] = channel
        answers[index] = pc

        def send_offer() -> None:
            gathered.wait(30)
            line = {"client": index, "offer": str(pc.local_description())}
            with out:
                sys.stdout.write(json.dumps(line) + "\n")
                sys.stdout.flush()

        threading.Thread(target=send_offer, daemon=True).start()

    def signaling() -> None:
        for raw in sys.stdin:
            if raw.strip():
                item = json.loads(raw)
                pc = answers[item["client"]]
                pc.set_remote_description(rtc.Description(item["answer"], "answer"))
        os._exit(0)  # the server is gone

    threading.Thread(target=signaling, daemon=True).start()
    indexes = list(range(first, first + clients))
    for index in indexes:
        start(index)
        time.sleep(0.005)
    for index in indexes:
        opened[index].wait(60)
    # 30 phases per period: client i sends in phase i % 30, every period.
    phases = 30
    slot = 1 / rate / phases
    seqs = dict.fromkeys(indexes, 0)
    by_phase = [[i for i in indexes if i % phases == p] for p in range(phases)]
    step, started = 0, time.perf_counter()
    while True:
        due = int((time.perf_counter() - started) / slot)
        while step <= due:
            for index in by_phase[step % phases]:
                channels[index].send(message(seqs[index]))
                seqs[index] += 1
            step += 1
        time.sleep(max(0.0, started + step * slot - time.perf_counter()))


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
    stack: str,
    clients: int,
    rate: float,
    cpu: float,
    wall: float,
    received: int,
    clients_cpu: float,
    procs: int,
    spread: list[int],
    client_stack: str,
) -> dict[str, Any]:
    offered = clients * rate
    return {
        "stack": NAMES[stack],
        "workload": "server",
        # Every message was checked (complete, in order) as it arrived; sustained: at least
        # 95 % of the offered rate arrived in the measured period.
        "verified": True,
        "sustained": received >= 0.95 * offered * wall,
        "clients": clients,
        "rate_per_client": rate,
        "seconds": round(wall, 2),
        "msgs_per_s": round(received / wall),
        "offered_msgs_per_s": round(offered),
        "server_cpu_s": round(cpu, 3),
        "server_cpu_percent": round(cpu / wall * 100, 1),
        "server_cpu_us_per_msg": round(cpu / max(received, 1) * 1e6, 1),
        # The client processes' CPU over the same period (near procs x 100 %: they, not
        # the server, would be the limit).
        "client_stack": NAMES[client_stack],
        "client_processes": procs,
        "clients_cpu_percent": round(clients_cpu / wall * 100, 1),
        "per_client_min_median_max": spread,
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
    parser.add_argument(
        "--client-procs", type=int, default=4, help="server: client processes (clients spread)"
    )
    parser.add_argument(
        "--client-stack",
        choices=tuple(NAMES),
        default="ldc",
        help="server: the clients' stack, the same load for either server (default ldc:\n"
        "libdatachannel, whose C++ threads keep the load generator cheap; needs\n"
        "benchmarks/.venv313, which bench.py makes)",
    )
    parser.add_argument("--first", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="20 connections, 10 clients, 1 s")
    args = parser.parse_args()
    if args.quick:
        args.count, args.idle = min(args.count, 20), min(args.idle, 1.0)
        args.clients, args.seconds = min(args.clients, 10), min(args.seconds, 1.0)
    if args.workload == "clients":
        clients = {"trio": trio_clients, "aiortc": aiortc_clients, "ldc": ldc_clients}
        clients[args.stack](args.first, args.clients, args.rate)
        return
    if args.stack == "ldc":
        parser.error("--stack ldc is for clients only (many and server: trio or aiortc)")
    if args.workload == "many":
        run = trio_many if args.stack == "trio" else aiortc_many
        emit(run(args.count, args.idle))
    else:
        serve = trio_server if args.stack == "trio" else aiortc_server
        emit(serve(args.clients, args.rate, args.seconds, args.client_procs, args.client_stack))
    sys.stdout.flush()
    os._exit(0)  # no graceful teardown of hundreds of connections


if __name__ == "__main__":
    main()
