"""libdatachannel (PyPI ``libdatachannel-py``) in the benchmark: two peers in this process.

``python3.13 benchmarks/ldc_side.py WORKLOAD [--quick]`` prints one JSON line (see
``common.result``); ``bench.py`` runs it with the Python 3.13 venv it makes
(``benchmarks/.venv313``: the package has wheels for 3.13 only). libdatachannel calls back
from its own threads; the main thread sends and waits on events. ICE binds 127.0.0.1 only,
with no ICE servers and no ICE-TCP.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import libdatachannel as rtc  # type: ignore[import-not-found]

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import (
    HIGH_WATER,
    Meter,
    Payload,
    bulk_figures,
    dispatch,
    emit,
    result,
    rtt_figures,
    setup_figures,
    side_arguments,
    small_figures,
)

STACK = "libdatachannel"
TIMEOUT = 30.0


def loopback(value: str) -> bool:
    parts = value.removeprefix("a=").split()
    return len(parts) > 5 and parts[2].lower() == "udp" and parts[4] == "127.0.0.1"


def make_pc() -> Any:
    config = rtc.Configuration()
    config.bind_address = "127.0.0.1"
    config.enable_ice_tcp = False
    config.ice_servers = []
    return rtc.PeerConnection(config)


def wire(source: Any, target: Any) -> None:
    """Signaling in memory: descriptions and loopback candidates go straight across."""

    def on_description(description: Any) -> None:
        target.set_remote_description(rtc.Description(str(description), description.type_string()))

    def on_candidate(candidate: Any) -> None:
        value = str(candidate.candidate())
        if loopback(value):
            target.add_remote_candidate(rtc.Candidate(value, str(candidate.mid())))

    source.on_local_description(on_description)
    source.on_local_candidate(on_candidate)


def wait(event: threading.Event, what: str) -> None:
    if not event.wait(TIMEOUT):
        raise TimeoutError(f"timed out waiting for {what}")


@contextmanager
def channel_pair(
    on_receiver: Callable[[Any], None] | None = None,
) -> Iterator[tuple[Any, Any, float]]:
    """Two connected peers and an open channel: (sender, receiver, setup seconds).
    ``on_receiver`` sets the receiving channel's callbacks before it can deliver."""
    started = time.perf_counter()
    a, b = make_pc(), make_pc()
    keep: list[Any] = []
    opened, arrived = threading.Event(), threading.Event()

    def on_channel(channel: Any) -> None:
        keep.append(channel)
        if on_receiver is not None:
            on_receiver(channel)
        arrived.set()

    b.on_data_channel(on_channel)
    wire(a, b)
    wire(b, a)
    channel = a.create_data_channel("bench")
    channel.on_open(opened.set)
    try:
        wait(opened, "the channel to open")
        wait(arrived, "the remote channel")
        yield channel, keep[0], time.perf_counter() - started
    finally:
        a.close()
        b.close()


def run_setup(count: int) -> dict[str, Any]:
    times: list[float] = []
    meter = Meter()
    for _ in range(count):
        got_ping, got_pong = threading.Event(), threading.Event()

        def on_receiver(incoming: Any, got_ping: threading.Event = got_ping) -> None:
            def on_message(data: Any) -> None:
                assert bytes(data) == b"ping"
                got_ping.set()
                incoming.send(b"pong")

            incoming.on_message(on_message)

        with channel_pair(on_receiver) as (channel, _, elapsed):
            times.append(elapsed)
            channel.on_message(lambda data, pong=got_pong: pong.set() if data == b"pong" else None)
            channel.send(b"ping")
            wait(got_ping, "ping")
            wait(got_pong, "pong")
    wall, cpu = meter.stop()
    return result(STACK, "setup", wall, cpu / count, **setup_figures(times))


def stream(size: int, count: int) -> tuple[float, float]:
    """Send ``count`` messages of ``size`` bytes, the buffered amount kept <= HIGH_WATER,
    refilled at the buffered-amount-low event; the receiver checks each one."""
    payload = Payload(size)
    done = threading.Event()
    errors: list[BaseException] = []

    def on_receiver(incoming: Any) -> None:
        check = payload.check

        def on_message(data: Any) -> None:
            try:
                check(data)
            except BaseException as exc:
                errors.append(exc)
                done.set()
                return
            if payload.next_expected == count:
                done.set()

        incoming.on_message(on_message)

    with channel_pair(on_receiver) as (channel, _, _setup):
        low = threading.Event()
        channel.set_buffered_amount_low_threshold(HIGH_WATER // 2)
        channel.on_buffered_amount_low(low.set)
        limit = HIGH_WATER - size
        send, buffered, message = channel.send, channel.buffered_amount, payload.message
        meter = Meter()
        for seq in range(count):
            while buffered() > limit:
                low.clear()
                if buffered() > limit:
                    low.wait(0.05)
            send(message(seq))
        wait(done, "delivery")
        wall, cpu = meter.stop()
    if errors:
        raise errors[0]
    return wall, cpu


def run_bulk(name: str, total: int, size: int) -> dict[str, Any]:
    wall, cpu = stream(size, total // size)
    return result(STACK, name, wall, cpu, **bulk_figures(total, size, wall, cpu))


def run_small(count: int, size: int) -> dict[str, Any]:
    wall, cpu = stream(size, count)
    return result(STACK, "small", wall, cpu, **small_figures(count, size, wall, cpu))


def run_rtt(count: int, size: int) -> dict[str, Any]:
    payload, echo = Payload(size), Payload(size)
    rtts: list[float] = []
    reply = threading.Event()
    replies: list[Any] = []

    def on_receiver(incoming: Any) -> None:
        def on_message(data: Any) -> None:
            echo.check(data)
            incoming.send(data)

        incoming.on_message(on_message)

    with channel_pair(on_receiver) as (channel, _, _setup):

        def on_reply(data: Any) -> None:
            replies.append(data)
            reply.set()

        channel.on_message(on_reply)
        meter = Meter()
        for seq in range(count):
            started = time.perf_counter()
            reply.clear()
            channel.send(payload.message(seq))
            wait(reply, "a reply")
            payload.check(replies.pop())
            rtts.append(time.perf_counter() - started)
        wall, cpu = meter.stop()
    return result(STACK, "rtt", wall, cpu, **rtt_figures(rtts))


def run(workload: str, quick: bool) -> dict[str, Any]:
    return dispatch(workload, quick, setup=run_setup, bulk=run_bulk, small=run_small, rtt=run_rtt)


def main() -> None:
    args = side_arguments(__doc__)
    record = run(args.workload, args.quick)
    record["python"] = sys.version.split()[0]
    emit(record)
    sys.stdout.flush()
    os._exit(0)  # libdatachannel's threads can hold interpreter shutdown


if __name__ == "__main__":
    main()
