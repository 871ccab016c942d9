"""The data path's batching rules (docs/performance.md): SCTP bundling of small messages,
the SACK that waits for a reply, lazy window reports, the DTLS one-record fast path, and
DTLS starting on a valid ICE pair before nomination. Packet and SACK counts, never time
(virtual time where the order of events matters)."""

from __future__ import annotations

import errno
import logging
import socket
from collections import deque
from collections.abc import Callable

import pytest
import trio
import trio.testing
from sctp_helpers import make_pair, payload
from test_dtls import connected_pair

from trio_webrtc import PeerConnection, connect_pair
from trio_webrtc._trio.driver import CoreDriver, UdpSocket
from trio_webrtc.core import PeerConnectionCore
from trio_webrtc.peer_connection import DataChannel
from trio_webrtc.sctp.chunks import FLAG_IMMEDIATE, DataChunk, SackChunk, parse_packet
from trio_webrtc.testing import MemoryNetwork

# -- SCTP, sans-I/O -------------------------------------------------------------------


def _data_chunks(packets: list[bytes]) -> list[list[DataChunk]]:
    return [[c for c in parse_packet(p).chunks if isinstance(c, DataChunk)] for p in packets]


def test_hold_sends_only_full_packets_and_keeps_the_tail() -> None:
    client, server, link = make_pair()
    sender = client.assoc
    for i in range(25):
        sender.send(1, 53, payload(100, i), now=link.now)
    held = sender.datagrams_to_send(link.now, hold=True)
    chunks = _data_chunks(held)
    assert len(held) == 2  # 25 x 116 wire bytes: two full packets and a tail
    assert all(len(c) >= 9 for c in chunks)
    assert all(not c.flags & FLAG_IMMEDIATE for per in chunks for c in per)
    assert sender._outbound.pending_wire == (25 - sum(map(len, chunks))) * 116
    # Nothing new, still held: the tail stays; then the final flush sends it.
    assert sender.datagrams_to_send(link.now, hold=True) == []
    (tail,) = _data_chunks(sender.datagrams_to_send(link.now))
    assert 0 < len(tail) < 9 and tail[-1].flags & FLAG_IMMEDIATE  # RFC 7053: queue ran dry
    assert sender._outbound.pending_wire == 0
    for packet in held:
        server.receive_datagram(packet, link.now)
    assert len(server.received) == 25 - len(tail)


def test_hold_never_delays_fragments_of_a_large_message() -> None:
    client, _, link = make_pair()
    client.assoc.send(1, 53, payload(3000), now=link.now)
    packets = client.assoc.datagrams_to_send(link.now, hold=True)
    assert len(packets) == 2  # two full fragments; the short last one waits
    assert client.assoc._outbound.pending_wire > 0
    assert len(client.assoc.datagrams_to_send(link.now)) == 1


def test_a_lone_immediate_packet_lets_its_sack_wait_for_a_reply() -> None:
    client, server, link = make_pair()
    client.assoc.send(1, 53, b"ping", now=link.now)  # queue runs dry: I bit
    (packet,) = client.assoc.datagrams_to_send(link.now)
    server.receive_datagram(packet, link.now)
    assert server.assoc.sack_can_wait  # only the I bit asks for it
    server.assoc.send(1, 53, b"pong", now=link.now)
    (reply,) = server.assoc.datagrams_to_send(link.now)
    kinds = [type(c) for c in parse_packet(reply).chunks]
    assert kinds == [SackChunk, DataChunk]  # the SACK rides with the reply
    assert not server.assoc.sack_can_wait


def test_a_second_packet_makes_the_sack_due_at_once() -> None:
    client, server, link = make_pair()
    for i in range(25):
        client.assoc.send(1, 53, payload(100, i), now=link.now)
    packets = client.assoc.datagrams_to_send(link.now)
    assert len(packets) == 3
    server.receive_datagram(packets[0], link.now)
    assert not server.assoc.sack_can_wait  # no I bit on the first: delayed-ack timer
    server.receive_datagram(packets[1], link.now)
    assert not server.assoc.sack_can_wait  # every second packet (RFC 9260 §6.2)
    sack = [c for p in server.assoc.datagrams_to_send(link.now) for c in parse_packet(p).chunks]
    assert [type(c) for c in sack] == [SackChunk]


def test_data_consumed_reports_a_due_window_update() -> None:
    client, server, link = make_pair(server_kw={"receive_window": 64 << 10})
    server.consume = False
    for i in range(40):
        client.assoc.send(1, 53, payload(1000, i), now=link.now)
    link.run(lambda: len(server.received) == 40, timeout=10)
    assert server.assoc.data_consumed(1000) is False  # window still mostly open
    updates = [server.assoc.data_consumed(1000) for _ in range(39)]
    assert True in updates  # once enough was read, a window update is due


# -- DTLS --------------------------------------------------------------------------------


def test_dtls_one_record_fast_path() -> None:
    client, server = connected_pair()
    client.send(b"one record")
    (datagram,) = client.datagrams_to_send(0.0)
    assert server.receive_record(datagram, 0.0) == b"one record"
    assert server.next_event() is None  # no event on the fast path
    assert server.receive_record(datagram, 0.0) is None  # a replay: dropped by OpenSSL
    client.send(b"first")
    client.send(b"second")
    first, second = client.datagrams_to_send(0.0)
    assert server.receive_record(first + second, 0.0) is None  # two records: event path
    delivered = [getattr(e, "data", None) for e in iter(server.next_event, None)]
    assert delivered == [b"first", b"second"]


# -- whole peer connections, in memory ---------------------------------------------------


@pytest.fixture
def autojump_clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


def _record_data_packets(pc: PeerConnection) -> list[int]:
    """Wrap the association's output: one entry (DATA chunks in it) per packet sent."""
    sctp = pc._core.sctp
    assert sctp is not None
    counts: list[int] = []
    original: Callable[..., list[bytes]] = sctp.datagrams_to_send

    def recording(now: float, *, hold: bool = False) -> list[bytes]:
        out = original(now, hold=hold)
        counts.extend(len(chunks) for chunks in _data_chunks(out))
        return out

    sctp.datagrams_to_send = recording  # type: ignore[method-assign]
    return counts


async def _open(a: PeerConnection, b: PeerConnection) -> tuple[DataChannel, DataChannel]:
    channel = a.create_data_channel("hot")
    await connect_pair(a, b)
    incoming = await b.accept_channel()
    await channel.wait_open()
    return channel, incoming


async def test_a_tight_send_loop_fills_packets(autojump_clock: trio.testing.MockClock) -> None:
    net = MemoryNetwork(seed=5)
    async with PeerConnection(network=net) as a, PeerConnection(network=net) as b:
        channel, incoming = await _open(a, b)
        counts = _record_data_packets(a)
        received: list[bytes] = []

        async def reader() -> None:
            for _ in range(2000):
                message = await incoming.receive()
                assert isinstance(message, bytes)
                received.append(message)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(reader)
            for i in range(2000):
                await channel.send(i.to_bytes(4, "big") * 25)
        assert [int.from_bytes(m[:4], "big") for m in received] == list(range(2000))
        data_packets = [n for n in counts if n]
        assert sum(data_packets) == 2000
        assert 2000 / len(data_packets) >= 6  # ~9.5 per 1200-byte packet; was 1.9


async def test_ping_pong_costs_one_datagram_per_message(
    autojump_clock: trio.testing.MockClock,
) -> None:
    net = MemoryNetwork(seed=6)
    async with PeerConnection(network=net) as a, PeerConnection(network=net) as b:
        channel, incoming = await _open(a, b)

        async def echo() -> None:
            for _ in range(100):
                await incoming.send(await incoming.receive())

        assert a._driver is not None and b._driver is not None
        sent_before = a._driver.datagrams_sent + b._driver.datagrams_sent
        async with trio.open_nursery() as nursery:
            nursery.start_soon(echo)
            for i in range(100):
                await channel.send(f"ping {i}")
                assert await channel.receive() == f"ping {i}"
        sent = a._driver.datagrams_sent + b._driver.datagrams_sent - sent_before
        assert sent <= 210  # 200 messages; each SACK rides on the next message


async def test_a_burst_tail_leaves_without_a_timer(autojump_clock: trio.testing.MockClock) -> None:
    net = MemoryNetwork(seed=7)
    async with PeerConnection(network=net) as a, PeerConnection(network=net) as b:
        channel, incoming = await _open(a, b)
        started = trio.current_time()
        for i in range(37):  # not a multiple of a packet's worth
            await channel.send(bytes([i]) * 100)
        for i in range(37):
            assert await incoming.receive() == bytes([i]) * 100
        # Virtual time: no 200 ms delayed ack or T3 was needed to move the tail.
        assert trio.current_time() - started < 0.05


async def test_a_lone_message_is_sent_inside_send(autojump_clock: trio.testing.MockClock) -> None:
    net = MemoryNetwork(seed=8)
    async with PeerConnection(network=net) as a, PeerConnection(network=net) as b:
        channel, incoming = await _open(a, b)
        await trio.sleep(1)  # idle: nothing in flight
        assert a._driver is not None
        before = a._driver.datagrams_sent
        channel._queue(b"now")  # what send() does between its checkpoints
        assert a._driver.datagrams_sent == before + 1
        assert await incoming.receive() == b"now"


async def test_reads_report_the_window_in_bursts(autojump_clock: trio.testing.MockClock) -> None:
    net = MemoryNetwork(seed=9)
    async with PeerConnection(network=net) as a, PeerConnection(network=net) as b:
        channel, incoming = await _open(a, b)
        reports: list[int] = []
        original = b._core.message_read

        def counting(nbytes: int) -> bool:
            reports.append(nbytes)
            return original(nbytes)

        b._core.message_read = counting  # type: ignore[method-assign]
        for i in range(50):
            await channel.send(bytes([i]) * 100)
        await trio.sleep(0.1)
        assert incoming.available == 50
        for _ in range(50):
            await incoming.receive()
        assert reports == [5000]  # one report when the queue ran empty
        assert b._core.sctp is not None
        assert b._core.sctp._inbound is not None
        assert b._core.sctp._inbound.unconsumed == 0


async def test_dtls_starts_on_a_valid_pair_before_nomination(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="trio_webrtc")
    net = MemoryNetwork(seed=10)
    async with (
        PeerConnection(network=net, name="a") as a,
        PeerConnection(network=net, name="b") as b,
    ):
        await _open(a, b)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("[b]")]
    # ICE selects the first valid pair (RFC 8445 §12.1) and nominates it later.
    started = next(i for i, m in enumerate(lines) if "DTLS client starting" in m)
    selected = next(i for i, m in enumerate(lines) if m.endswith("(nominated)"))
    connected = next(i for i, m in enumerate(lines) if m.endswith("DTLS connected"))
    assert started < selected  # the handshake overlaps the paced nomination check
    assert started < connected


# -- UDP segmentation offload (Linux GSO/GRO), with the portable fallback -----------------


def test_gso_runs_are_same_route_same_size_the_last_shorter() -> None:
    a, b = ("127.0.0.1", 1), ("127.0.0.1", 2)
    out = [(b"x" * 1200, a, b)] * 3 + [(b"x" * 500, a, b), (b"x" * 1200, a, b)]
    assert CoreDriver._batch_end(out, 0) == 4  # the short one ends the run
    assert CoreDriver._batch_end(out, 4) == 5
    assert CoreDriver._batch_end([(b"x" * 100, a, b), (b"x" * 200, a, b)], 0) == 1
    assert CoreDriver._batch_end([(b"x", a, b), (b"x", a, a)], 0) == 1
    many = [(b"x" * 1200, a, b)] * 100
    assert CoreDriver._batch_end(many, 0) == 54  # 65,000 bytes at most in one send


def test_udp_batch_send_and_receive_round_trip() -> None:
    sockets = []
    for _ in range(2):
        raw = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        raw.bind(("127.0.0.1", 0))
        raw.setblocking(False)
        sockets.append(UdpSocket(raw))
    sender, receiver = sockets
    try:
        if not sender.gso:
            pytest.skip("no UDP GSO on this platform")
        datagrams = [bytes([i]) * 1000 for i in range(5)] + [b"tail"]
        try:
            sender.send_batch(datagrams, 1000, receiver.getsockname())
        except OSError as exc:
            pytest.skip(f"UDP GSO refused: {exc}")
        got: list[bytes] = []
        while len(got) < len(datagrams):
            if receiver.gro:
                data, size, _ = receiver.recv_batch()
                step = size or len(data)
                got.extend(data[i : i + step] for i in range(0, len(data), step))
            else:
                got.append(receiver.recvfrom(65536)[0])
        assert got == datagrams
    finally:
        for sock in sockets:
            sock.close()


class _NoGso(UdpSocket):
    def send_batch(self, datagrams: list[bytes], size: int, address: tuple[str, int]) -> None:
        raise OSError(errno.EINVAL, "UDP_SEGMENT not supported")


def test_a_refused_gso_send_falls_back_to_plain_datagrams() -> None:
    raw = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    raw.bind(("127.0.0.1", 0))
    raw.setblocking(False)
    target = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    target.bind(("127.0.0.1", 0))
    target.setblocking(False)
    sock = _NoGso(raw)
    sock.gso = True
    try:
        driver = CoreDriver(PeerConnectionCore(), [sock], lambda event: None)
        sent = driver._send_batch(sock, deque(), [b"a" * 10, b"b" * 10], target.getsockname())
        assert sent == 2 and not sock.gso  # off for good on this socket
        assert [target.recvfrom(100)[0] for _ in range(2)] == [b"a" * 10, b"b" * 10]
    finally:
        sock.close()
        target.close()
