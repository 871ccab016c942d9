"""Media under loss and at its edges, in virtual time: NACK/RTX, PLI, a slow reader, and
the close semantics of senders and receivers (EndOfChannel, BrokenResourceError,
ClosedResourceError, as the data channels have them)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
import trio
import trio.testing

from trio_webrtc import ConnectionFailedError, PeerConnection
from trio_webrtc.media_track import MediaSender
from trio_webrtc.rtp import (
    GenericNack,
    JitterBuffer,
    NackRequest,
    SendStream,
    Vp8PayloadFormat,
)
from trio_webrtc.stats import RtpStreamStats
from trio_webrtc.testing import LinkConditions, MemoryNetwork

from .helpers import FilteredNetwork, media_pair, rtp_header, vp8_frame

FPS = 30
TICKS = 90000 // FPS


async def send_and_read(
    read: Callable[[], Awaitable[None]], sender: MediaSender, frames: list[bytes]
) -> None:
    """``read`` beside sending ``frames`` at FPS (the frames beyond what ``read`` waits
    for let the receiver notice a lost last packet: only a later one shows the hole)."""
    async with trio.open_nursery() as nursery:
        nursery.start_soon(read)
        for i, data in enumerate(frames):
            await sender.send_frame(data, i * TICKS)
            await trio.sleep(1 / FPS)


def stream(pc: PeerConnection, kind: str, type_: str) -> RtpStreamStats:
    found = [s for s in pc.get_stats().rtp_streams if s.kind == kind and s.type == type_]
    assert len(found) == 1, found
    return found[0]


async def test_every_frame_arrives_through_nack_rtx_at_5_percent_loss(
    autojump_clock: trio.testing.MockClock,
) -> None:
    net = MemoryNetwork(seed=5)
    async with PeerConnection(network=net) as a, PeerConnection(network=net) as b:
        senders, receivers = await media_pair(a, b, ("video",))
        # Connected cleanly; from now on 5 % of datagrams are lost each way (RTP, RTX,
        # NACKs and reports alike), 10 ms one way.
        net.conditions = LinkConditions(loss=0.05, delay=0.01)
        total = 150
        video = [vp8_frame(i, key=i == 0, size=4000) for i in range(total + 15)]
        got: list[bytes] = []

        async def read() -> None:
            async for frame in receivers["video"]:
                got.append(frame.data)
                if len(got) == total:
                    return

        with trio.fail_after(60):  # a hang guard (virtual time)
            await send_and_read(read, senders["video"], video)
        assert net.dropped > 0
        assert got == video[:total]  # all of them, in order, none skipped
        inbound = stream(b, "video", "inbound-rtp")
        outbound = stream(a, "video", "outbound-rtp")
        assert inbound.nack_count > 0
        assert inbound.packets_recovered > 0
        assert inbound.frames_dropped == 0
        assert inbound.pli_count == 0
        assert outbound.nack_count > 0
        assert outbound.packets_retransmitted > 0
        assert outbound.frames == len(video)
        # The receive-only side paced its NACKs by their measured round trip (20 ms).
        engine = b._core.media
        assert engine is not None
        (receiver,) = engine._sections[receivers["video"].mid or ""].receivers.values()
        assert 0.015 < receiver.jitter.rtt < 0.05


async def test_lost_keyframe_is_recovered_by_pli(
    autojump_clock: trio.testing.MockClock,
) -> None:
    net = FilteredNetwork(seed=2)
    async with PeerConnection(network=net) as a, PeerConnection(network=net) as b:
        senders, receivers = await media_pair(a, b, ("video",))
        sender = senders["video"]
        engine = a._core.media
        assert engine is not None and sender.mid is not None
        send_stream = engine._sections[sender.mid].send
        assert send_stream is not None
        rtx_ssrc = engine._sections[sender.mid].media.local_rtx_ssrc
        assert rtx_ssrc is not None
        doomed: set[int] = set()

        def drop(datagram: bytes) -> bool:
            header = rtp_header(datagram)
            if header is None:
                return False
            _, seq, ssrc = header
            # The keyframe's packets, and every retransmission while it is in flight.
            return (ssrc == send_stream.ssrc and seq in doomed) or (
                ssrc == rtx_ssrc and bool(doomed)
            )

        net.drop = drop
        got: list[tuple[int, bool]] = []
        requested_at: list[int] = []

        async def read() -> None:
            async for frame in receivers["video"]:
                got.append((frame.timestamp // TICKS, frame.keyframe))
                if len(got) == 30:
                    return

        with trio.fail_after(60):  # a hang guard (virtual time)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(read)
                seen = 0
                for i in range(60):
                    asked = sender.keyframe_requests > seen
                    seen = sender.keyframe_requests
                    key = i in {0, 10} or asked
                    if asked:
                        requested_at.append(i)
                    if i == 10:
                        first = send_stream.next_sequence_number
                        doomed.update((first + k) & 0xFFFF for k in range(4))
                    if i == 20:
                        doomed.clear()  # the network heals; only the keyframe was lost
                    await sender.send_frame(vp8_frame(i, key=key, size=3500), i * TICKS)
                    await trio.sleep(1 / FPS)
                    if len(got) >= 30:
                        break
        assert net.filtered > 0
        assert sender.keyframe_requests >= 1
        assert requested_at, "the sender never saw the PLI"
        resumed = requested_at[0]
        assert resumed > 10
        # Frames 0-9, then nothing until the keyframe sent on the PLI, then every frame.
        assert got[:10] == [(i, i == 0) for i in range(10)]
        assert got[10] == (resumed, True)
        assert got[11:] == [(i, False) for i in range(resumed + 1, resumed + 1 + len(got) - 11)]
        inbound = stream(b, "video", "inbound-rtp")
        assert inbound.pli_count >= 1
        assert inbound.frames_dropped > 0
        assert inbound.keyframes == 2
        assert stream(a, "video", "outbound-rtp").pli_count >= 1


async def test_a_receiver_that_stops_reading_loses_its_oldest_frames(
    autojump_clock: trio.testing.MockClock,
) -> None:
    net = MemoryNetwork(seed=3)
    async with PeerConnection(network=net) as a, PeerConnection(network=net) as b:
        senders, receivers = await media_pair(a, b, ("video",))
        receiver = receivers["video"]
        total = 300
        video = [vp8_frame(i, key=i % 100 == 0, size=2000) for i in range(total)]
        for i, data in enumerate(video):  # nobody reads meanwhile
            await senders["video"].send_frame(data, i * TICKS)
            await trio.sleep(1 / FPS)
        await trio.sleep(1)
        assert len(receiver._frames) == receiver.max_frames  # bounded
        assert receiver.frames_dropped == total - receiver.max_frames
        # The newest frames are kept, in order.
        kept = [(await receiver.receive()).data for _ in range(receiver.max_frames)]
        assert kept == video[-receiver.max_frames :]
        # Dropping frames asks for a keyframe, repeated every keyframe_interval (0.5 s)
        # until one comes: not a PLI per dropped frame.
        plis = stream(b, "video", "inbound-rtp").pli_count
        assert 1 <= plis <= total / FPS / 0.5 + 3
        assert plis < receiver.frames_dropped / 4
        assert senders["video"].keyframe_requests <= plis
        # The engine held nothing back either.
        assert stream(b, "video", "inbound-rtp").frames == total


async def test_peer_leaving_ends_iteration(autojump_clock: trio.testing.MockClock) -> None:
    net = MemoryNetwork(seed=4)
    async with PeerConnection(network=net) as b:
        a = PeerConnection(network=net)
        got: list[bytes] = []
        async with a:
            senders, receivers = await media_pair(a, b, ("video",))
            for i in range(5):
                await senders["video"].send_frame(vp8_frame(i, key=i == 0), i * TICKS)
            await trio.sleep(0.5)
        # a left its 'async with': the frames it sent are still read, then the end.
        with trio.fail_after(30):
            async for frame in receivers["video"]:
                got.append(frame.data)
        assert got == [vp8_frame(i, key=i == 0) for i in range(5)]
        with pytest.raises(trio.EndOfChannel):
            await receivers["video"].receive()
        with pytest.raises(trio.ClosedResourceError):
            await senders["video"].send_frame(b"\x10late", 0)


async def test_peer_leaving_wakes_a_blocked_reader(
    autojump_clock: trio.testing.MockClock,
) -> None:
    net = MemoryNetwork(seed=6)
    async with PeerConnection(network=net) as b:
        a = PeerConnection(network=net)
        ended = False

        async with a:
            _, receivers = await media_pair(a, b, ("audio",))

            async def read() -> None:
                nonlocal ended
                async for _ in receivers["audio"]:
                    pass
                ended = True

            async with trio.open_nursery() as nursery:
                nursery.start_soon(read)
                await trio.sleep(1)
                assert not ended
                await a.aclose()
                with trio.fail_after(30):
                    while not ended:
                        await trio.sleep(0.1)
        assert ended


async def test_failure_breaks_receivers_and_senders(
    autojump_clock: trio.testing.MockClock,
) -> None:
    net = MemoryNetwork(seed=7)
    async with PeerConnection(network=net) as a, PeerConnection(network=net) as b:
        senders, receivers = await media_pair(a, b, ("video",))
        net.set_blackout(True)  # consent freshness fails both (RFC 7675)
        with pytest.raises(trio.BrokenResourceError) as broken:
            with trio.fail_after(120):
                await receivers["video"].receive()
        assert isinstance(broken.value.__cause__, ConnectionFailedError)
        with trio.fail_after(120):
            while a.connection_state.name != "FAILED":
                await trio.sleep(1)
        with pytest.raises(trio.BrokenResourceError):
            await senders["video"].send_frame(vp8_frame(0, key=True), 0)


async def test_our_close_closes_receivers_and_senders(
    autojump_clock: trio.testing.MockClock,
) -> None:
    net = MemoryNetwork(seed=8)
    async with PeerConnection(network=net) as a, PeerConnection(network=net) as b:
        senders, receivers = await media_pair(a, b, ("video",))
        await senders["video"].send_frame(vp8_frame(0, key=True), 0)
        await trio.sleep(0.5)
        blocked = trio.Event()
        outcome: list[BaseException] = []

        async def read() -> None:
            receiver = receivers["video"]
            await receiver.receive()
            blocked.set()
            try:
                await receiver.receive()
            except BaseException as exc:
                outcome.append(exc)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(read)
            await blocked.wait()
            await trio.sleep(0.1)
            b.close()
        assert len(outcome) == 1 and isinstance(outcome[0], trio.ClosedResourceError)
        with pytest.raises(trio.ClosedResourceError):
            await receivers["video"].receive()
        a.close()
        with pytest.raises(trio.ClosedResourceError):
            await senders["video"].send_frame(vp8_frame(1, key=False), TICKS)


async def test_our_sender_breaks_when_the_peer_leaves(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """As a data channel's send after the peer closed: BrokenResourceError, for send_frame
    and for a task waiting for a keyframe request (it must not wait forever)."""
    net = MemoryNetwork(seed=9)
    outcome: list[BaseException] = []
    async with PeerConnection(network=net) as b, trio.open_nursery() as nursery:
        a = PeerConnection(network=net)
        async with a:
            senders, receivers = await media_pair(b, a, ("video",))  # b sends to a
            sender = senders["video"]
            await sender.send_frame(vp8_frame(0, key=True), 0)
            assert (await receivers["video"].receive()).keyframe

            async def wait_request() -> None:
                try:
                    await sender.wait_keyframe_request()
                except trio.BrokenResourceError as exc:
                    outcome.append(exc)

            nursery.start_soon(wait_request)
            await trio.sleep(0.5)
        with trio.fail_after(30):
            while b.connection_state.name != "CLOSED":
                await trio.sleep(0.1)
        with pytest.raises(trio.BrokenResourceError):
            await sender.send_frame(vp8_frame(1, key=False), TICKS)
        with pytest.raises(trio.BrokenResourceError):
            await sender.wait_ready()
        with trio.fail_after(30):
            while not outcome:
                await trio.sleep(0.1)
    assert len(outcome) == 1 and isinstance(outcome[0], trio.BrokenResourceError)


def test_a_receive_only_jitter_buffer_paces_nacks_by_their_round_trip() -> None:
    """No RTCP round trip for a stream we only receive: the time from a NACK to the packet
    it brought back sets the retry interval (instead of a fixed 100 ms), until RTCP
    gives one."""
    stream = SendStream(0x1234, 96, Vp8PayloadFormat(), sequence_number=100)
    packets = [stream.packetize(vp8_frame(i, key=i == 0, size=200), i * TICKS)[0] for i in range(6)]
    jitter = JitterBuffer(Vp8PayloadFormat())
    assert jitter.rtt == 0.1
    jitter.receive(packets[0], 0.0)
    jitter.receive(packets[2], 0.0)  # 1 is missing: NACKed at once
    events = [jitter.next_event() for _ in range(2)]
    assert any(isinstance(e, NackRequest) and e.sequence_numbers == (101,) for e in events)
    jitter.receive(packets[1], 0.03)  # the retransmission, 30 ms later
    assert jitter.rtt == pytest.approx(0.03)
    jitter.receive(packets[4], 1.0)  # 3 is missing: NACKed at 1.0, again at 1.03
    assert jitter.get_timer() == pytest.approx(1.03)
    jitter.set_rtt(0.2)  # RTCP's measurement wins from now on
    jitter.handle_timer(1.03)
    jitter.receive(packets[3], 1.05)  # NACKed twice: no sample either way (Karn)
    assert jitter.rtt == 0.2


async def test_a_late_nack_is_still_answered(autojump_clock: trio.testing.MockClock) -> None:
    """A receiver that NACKs a hole again only when a new gap appears (aiortc) may ask
    seconds later: the packet is still there to resend, as RTX (RFC 4588) where
    negotiated (a resent original is a replay to SRTP if the first copy arrived)."""
    net = FilteredNetwork(seed=10)
    async with PeerConnection(network=net) as a, PeerConnection(network=net) as b:
        senders, _ = await media_pair(a, b, ("video",))
        sender = senders["video"]
        engine_a, engine_b = a._core.media, b._core.media
        assert engine_a is not None and engine_b is not None and sender.mid is not None
        send_stream = engine_a._sections[sender.mid].send
        assert send_stream is not None
        rtx_ssrc = engine_a._sections[sender.mid].media.local_rtx_ssrc
        assert rtx_ssrc is not None
        headers: list[tuple[int, int, int]] = []

        def record(datagram: bytes) -> bool:
            header = rtp_header(datagram)
            if header is not None:
                headers.append(header)
            return False

        net.drop = record
        first = send_stream.next_sequence_number
        await sender.send_frame(vp8_frame(0, key=True), 0)
        await trio.sleep(2.0)
        engine_b._send_rtcp([GenericNack(engine_b._receive_ssrc, send_stream.ssrc, (first,))])
        b._flush()
        await trio.sleep(0.5)
        assert stream(a, "video", "outbound-rtp").nack_count == 1
        assert stream(a, "video", "outbound-rtp").packets_retransmitted == 1
        rtx = [h for h in headers if h[2] == rtx_ssrc]
        assert len(rtx) == 1
        assert rtx[0][0] != headers[0][0]  # the RTX payload type, not the primary one


async def test_raw_rtp_receiver_close_semantics(autojump_clock: trio.testing.MockClock) -> None:
    """receive_rtp() ends as receive() does: packets until the peer leaves, then
    EndOfChannel; after our own close ClosedResourceError, even with packets queued."""
    net = MemoryNetwork(seed=13)
    async with PeerConnection(network=net) as b:
        a = PeerConnection(network=net)
        async with a:
            senders, receivers = await media_pair(a, b, ("video",))
            receiver = receivers["video"]
            await senders["video"].send_frame(vp8_frame(0, key=True, size=3000), 0)
            first = await receiver.receive_rtp()  # raw mode from here on
            await senders["video"].send_frame(vp8_frame(1, key=False, size=3000), TICKS)
            await trio.sleep(0.5)
        seqs = [first.sequence_number]
        with trio.fail_after(30), pytest.raises(trio.EndOfChannel):
            while True:
                seqs.append((await receiver.receive_rtp()).sequence_number)
        assert len(seqs) == 6  # 3000-byte frames: 3 packets each
        assert [(s - seqs[0]) & 0xFFFF for s in seqs] == list(range(6))
    net = MemoryNetwork(seed=14)
    async with PeerConnection(network=net) as a, PeerConnection(network=net) as b:
        senders, receivers = await media_pair(a, b, ("video",))
        receiver = receivers["video"]
        await senders["video"].send_frame(vp8_frame(0, key=True, size=3000), 0)
        await receiver.receive_rtp()
        await trio.sleep(0.5)  # two more packets queued
        b.close()
        with pytest.raises(trio.ClosedResourceError):
            await receiver.receive_rtp()
