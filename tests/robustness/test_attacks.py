"""Attacks refused: forged STUN, certificate mismatch, off-path datagrams, bad SCTP tags
and checksums, forged/stale cookies, INIT and DCEP OPEN floods, oversized SDP and
messages, unterminated reassembly. Sans-I/O where possible (virtual time, no sockets);
the face-level tests use the in-memory network or 127.0.0.1."""

from __future__ import annotations

import logging
import random
import re
import tracemalloc

import pytest
import trio
import trio.testing
from robust_helpers import A_ADDR, B_ADDR, EVIL_ADDR, connected_pair, deep_size
from sctp_attack import Victim

from trio_webrtc import ConnectionState, PeerConnection
from trio_webrtc import datachannel as dcep
from trio_webrtc.config import Configuration
from trio_webrtc.dtls.certificate import Certificate
from trio_webrtc.errors import MessageTooLargeError, SdpParseError
from trio_webrtc.godot import Error, WebRTCDataChannel, WebRTCPeerConnection
from trio_webrtc.ice import stun
from trio_webrtc.sctp.chunks import CookieEchoChunk, DataChunk, encode_packet
from trio_webrtc.sctp.cookie import COOKIE_LIFETIME
from trio_webrtc.sctp.inbound import CHUNK_CHARGE, TSN_CHARGE
from trio_webrtc.testing import LinkConditions, MemoryNetwork

# ------------------------------------------------------------------------ STUN / ICE


def _binding(username: str, key: bytes | None, *, use_candidate: bool = True) -> bytes:
    message = stun.Message(
        stun.Method.BINDING,
        stun.MessageClass.REQUEST,
        stun.random_transaction_id(random.Random(len(username))),
        (
            (stun.USERNAME, username),
            (stun.PRIORITY, 0x7FFFFFFF),
            (stun.ICE_CONTROLLING, 1 << 63),
            *(((stun.USE_CANDIDATE, None),) if use_candidate else ()),
        ),
    )
    return stun.encode(message, key, True)


def test_forged_stun_never_changes_ice_state_or_selected_pair() -> None:
    pair = connected_pair(seed=1)
    b = pair.b
    ufrag = f"{b.ice.local_ufrag}:{pair.a.ice.local_ufrag}"
    good_key = b.ice.local_pwd.encode()
    before = (b.ice.state, b.ice.selected_pair, len(b.ice.pairs))
    pair.wire.keep_tap = True
    # A real check from A, captured on the wire, to replay from elsewhere.
    pair.run_for(6.0)
    replay = [d for d, _, r in pair.wire.tap if r == B_ADDR and stun.is_stun(d)]
    assert replay, "no consent check captured"
    forged = [
        _binding(ufrag, None),  # no MESSAGE-INTEGRITY
        _binding(ufrag, b"wrong password 0123456789"),  # bad MESSAGE-INTEGRITY
        _binding(f"nope:{pair.a.ice.local_ufrag}", good_key),  # wrong USERNAME
        _binding(ufrag[::-1], good_key),
    ]
    for source in (EVIL_ADDR, A_ADDR):
        for data in forged:
            pair.inject("b", data, source)
    pair.run_for(0.5)
    answers = [d for d, _, r in pair.wire.tap if r == EVIL_ADDR and stun.is_stun(d)]
    for data in answers:  # at most error answers, never a success for a forged check
        assert stun.parse_message(data).message_class is not stun.MessageClass.SUCCESS
    # Genuine checks replayed from an unexpected address: B may answer (RFC 8445 §7.3
    # learns a peer-reflexive candidate) but the attacker cannot answer B's check back
    # without A's password, so nothing gets selected.
    for data in replay[-3:]:
        pair.inject("b", data, EVIL_ADDR)
    # Forged success responses for every transaction B has open.
    for data, _, remote in pair.wire.tap:
        if remote == A_ADDR and stun.is_stun(data):
            tid = data[8:20]
            fake = stun.Message(
                stun.Method.BINDING,
                stun.MessageClass.SUCCESS,
                tid,
                ((stun.XOR_MAPPED_ADDRESS, EVIL_ADDR),),
            )
            pair.inject("b", stun.encode(fake, b"guess" * 5, True), EVIL_ADDR)
    pair.run_for(10.0)
    assert (b.ice.state, b.ice.selected_pair) == before[:2]
    assert b.connection_state is ConnectionState.CONNECTED
    assert all(
        EVIL_ADDR not in (p.local_address, p.remote_address) or not p.nominated for p in b.ice.pairs
    )


# ------------------------------------------------------- certificate mismatch (faces)


def _swap_fingerprint(sdp: str, certificate: Certificate) -> str:
    swapped = re.sub(
        r"a=fingerprint:sha-256 [0-9A-F:]+",
        "a=fingerprint:sha-256 " + certificate.fingerprint("sha-256"),
        sdp,
    )
    assert swapped != sdp
    return swapped


async def test_certificate_mismatch_fails_trio_face(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """B's answer advertises another certificate's fingerprint than the one B's DTLS
    presents (a man in the middle): A fails, no channel opens, nothing is delivered."""
    net = MemoryNetwork(LinkConditions(delay=0.005), seed=4)
    impostor = Certificate.generate()
    with trio.fail_after(120):
        async with PeerConnection(network=net) as a, PeerConnection(network=net) as b:
            channel = a.create_data_channel("secret")
            offer = await a.create_offer()
            answer = await b.accept_offer(offer)
            await a.accept_answer(_swap_fingerprint(answer, impostor))
            async for c in a.local_candidates():
                await b.add_ice_candidate(c.candidate)
            async for c in b.local_candidates():
                await a.add_ice_candidate(c.candidate)
            await a.wait_for_state(ConnectionState.FAILED)
            await trio.sleep(5)
            assert channel.state is dcep.ChannelState.CLOSED
            with pytest.raises(trio.BrokenResourceError):
                await channel.send(b"x")
            assert b.connection_state is not ConnectionState.CONNECTED
            assert not b._incoming and all(c.available == 0 for c in b._channels.values())
            assert b._core.sctp is None or b._core.sctp.state.name != "ESTABLISHED"


async def test_certificate_mismatch_fails_godot_face() -> None:
    impostor = Certificate.generate()
    async with WebRTCPeerConnection(name="A") as a, WebRTCPeerConnection(name="B") as b:
        for pc in (a, b):
            assert pc.initialize({"bindAddress": "127.0.0.1"}) is Error.OK
        received: list[WebRTCDataChannel] = []

        def wire(source: WebRTCPeerConnection, target: WebRTCPeerConnection) -> None:
            def on_description(kind: str, sdp: str) -> None:
                assert source.set_local_description(kind, sdp) is Error.OK
                if kind == "answer":
                    sdp = _swap_fingerprint(sdp, impostor)
                assert target.set_remote_description(kind, sdp) is Error.OK

            source.session_description_created.connect(on_description)
            source.ice_candidate_created.connect(target.add_ice_candidate)
            source.data_channel_received.connect(received.append)

        wire(a, b)
        wire(b, a)
        channel = a.create_data_channel("secret")
        assert channel is not None
        assert a.create_offer() is Error.OK
        with trio.fail_after(30):
            while a.get_connection_state() is not WebRTCPeerConnection.STATE_FAILED:
                a.poll()
                b.poll()
                await trio.sleep(0.01)
        for _ in range(20):
            a.poll()
            b.poll()
            await trio.sleep(0.01)
        assert b.get_connection_state() is not WebRTCPeerConnection.STATE_CONNECTED
        assert channel.get_ready_state() is not WebRTCDataChannel.STATE_OPEN
        assert channel.put_packet(b"x") is not Error.OK
        assert received == []


# ------------------------------------------------------------- off-path datagrams


def test_datagrams_from_other_addresses_are_ignored() -> None:
    pair = connected_pair(seed=2)
    info = pair.a.create_data_channel(dcep.ChannelParameters(label="c"), pair.now)
    pair.run(lambda: info.state is dcep.ChannelState.OPEN)
    pair.wire.keep_tap = True
    for i in range(5):
        pair.a.send(info.key, f"m{i}", pair.now)
    pair.run(lambda: len(pair.messages["b"]) == 5)
    records = [d for d, _, r in pair.wire.tap if r == B_ADDR and 20 <= d[0] < 64]
    assert records
    sctp = pair.b.sctp
    assert sctp is not None
    dropped, state = sctp.dropped_packets, pair.b.connection_state
    for source in (EVIL_ADDR, ("::1", 40001), ("127.0.0.1", A_ADDR[1] + 1)):
        for data in records:  # genuine records, replayed from off the selected pair
            pair.inject("b", data, source)
        pair.inject("b", b"\x16\xfe\xfd" + bytes(200), source)  # handshake-looking
        pair.inject("b", encode_packet(5000, 5000, sctp._local_tag, [b"\x00" * 20]), source)
    pair.run_for(1.0)
    assert len(pair.b._early_dtls) <= 16
    for data in records:  # replayed from the right address: DTLS anti-replay drops them
        pair.inject("b", data, A_ADDR)
    pair.run_for(1.0)
    assert [m for _, m in pair.messages["b"]] == [f"m{i}" for i in range(5)]
    assert sctp.dropped_packets == dropped
    assert pair.b.connection_state is state is ConnectionState.CONNECTED


def test_sctp_wrong_tag_and_bad_checksum_are_dropped_and_counted() -> None:
    pair = connected_pair(seed=3)
    a_dtls, sctp = pair.a.dtls, pair.b.sctp
    assert a_dtls is not None and sctp is not None
    before = sctp.dropped_packets
    chunk = DataChunk(0x03, 1, 1, 0, 51, b"intruder").encode()
    wrong_tag = encode_packet(5000, 5000, sctp._local_tag ^ 0x5A5A5A5A, [chunk])
    good = encode_packet(5000, 5000, sctp._local_tag, [chunk])
    bad_crc = good[:8] + bytes(b ^ 0xFF for b in good[8:12]) + good[12:]
    for packet in (wrong_tag, bad_crc) * 5:
        a_dtls.send(packet)  # authenticated by DTLS, still wrong for SCTP
    pair.run_for(0.5)
    assert sctp.dropped_packets - before == 10
    assert sctp.state.name == "ESTABLISHED"
    assert pair.messages["b"] == []


# ---------------------------------------------------------------------- SCTP setup


def test_forged_and_stale_cookie_echo_create_no_association() -> None:
    victim = Victim()
    rng = random.Random(5)
    # A fresh association in COOKIE-WAIT (its peer never answered), as a WebRTC end is.
    from trio_webrtc.sctp import SctpAssociation

    target = SctpAssociation(is_client=False, rng=random.Random(9))
    target.start(0.0)
    target.datagrams_to_send(0.0)
    init = victim.init(rng)
    target.receive_datagram(init, 0.0)
    (init_ack,) = target.datagrams_to_send(0.0)
    cookie_param = init_ack.find(b"\x00\x07")  # State Cookie parameter
    length = int.from_bytes(init_ack[cookie_param + 2 : cookie_param + 4], "big")
    cookie = init_ack[cookie_param + 4 : cookie_param + length]
    tag = target._local_tag
    forged = [
        bytes(len(cookie)),
        cookie[:-1] + bytes([cookie[-1] ^ 1]),  # MAC broken
        cookie[:10] + bytes([cookie[10] ^ 0xFF]) + cookie[11:],  # contents changed
        rng.randbytes(len(cookie)),
        cookie + b"x",
    ]
    for fake in forged:
        packet = encode_packet(5000, 5000, tag, [CookieEchoChunk(fake).encode()])
        target.receive_datagram(packet, 1.0)
    # The genuine cookie, echoed after its lifetime: stale.
    stale = encode_packet(5000, 5000, tag, [CookieEchoChunk(cookie).encode()])
    target.receive_datagram(stale, COOKIE_LIFETIME + 5.0)
    assert target.state.name == "COOKIE_WAIT"
    assert target.next_event() is None
    assert target._inbound is None
    answers = target.datagrams_to_send(COOKIE_LIFETIME + 5.0)
    assert any(b"\x00\x03" in p[16:20] for p in answers)  # ERROR: Stale Cookie cause
    assert target.dropped_packets == len(forged) + 1


def test_init_flood_creates_no_state_and_bounded_memory() -> None:
    from trio_webrtc.sctp import SctpAssociation

    target = SctpAssociation(is_client=False, rng=random.Random(3))
    target.start(0.0)
    victim = Victim()
    rng = random.Random(6)
    inits = [victim.init(rng) for _ in range(10_000)]
    size_before = deep_size(target)
    tracemalloc.start()
    try:
        for index, packet in enumerate(inits):
            target.receive_datagram(packet, index * 1e-4)
            if index % 500 == 0:  # the driver drains after each burst of datagrams
                target.datagrams_to_send(index * 1e-4)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(target._control) <= 32  # the undrained answers are capped
    target.datagrams_to_send(1.0)
    assert target.state.name == "COOKIE_WAIT"
    assert target._inbound is None and target.next_event() is None
    assert deep_size(target) < size_before + 4096
    assert peak < 1 << 20, f"INIT flood peak {peak} bytes"


# --------------------------------------------------------------------- DCEP / data


def test_dcep_open_flood_is_bounded() -> None:
    pair = connected_pair(seed=7, configuration=Configuration(max_channels=1024))
    sctp_a = pair.a.sctp
    assert sctp_a is not None
    manager = pair.b.channels
    opened = dcep.DataChannelOpen(dcep.ChannelType.RELIABLE, 0, 0, "flood", "").encode()
    tracemalloc.start()
    try:
        for stream in range(1, 2 * 5000, 2):  # A is the DTLS server: odd streams
            sctp_a.send(stream, dcep.Ppid.DCEP, opened, now=pair.now)
            if stream % 200 == 1:
                pair.run_for(0.05)
        pair.run_for(5.0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    incoming = [e for e in pair.events["b"] if isinstance(e, dcep.IncomingChannel)]
    assert len(incoming) == 1024  # Configuration(max_channels=1024)
    assert manager._active <= 1024
    assert len(manager._by_stream) <= 1024
    assert len(manager._refused) <= 5000 - 1024
    assert pair.b.connection_state is ConnectionState.CONNECTED
    assert deep_size(manager) < 4 << 20
    assert peak < 64 << 20, f"DCEP flood peak {peak} bytes"


def test_message_over_max_message_size_is_refused_both_ways() -> None:
    pair = connected_pair(seed=8)
    info = pair.a.create_data_channel(dcep.ChannelParameters(label="big"), pair.now)
    pair.run(lambda: info.state is dcep.ChannelState.OPEN)
    limit = pair.b.configuration.max_message_size
    with pytest.raises(MessageTooLargeError):
        pair.a.send(info.key, bytes(limit + 1), pair.now)
    assert pair.a.channels.buffered_amount(info.key) == 0
    # A peer that ignores our a=max-message-size: the oversized message is discarded
    # during reassembly, counted, and the reliable channel is closed rather than left
    # with a silent gap; the association carries on.
    sctp_a = pair.a.sctp
    assert sctp_a is not None and info.stream_id is not None
    sctp_a.send(info.stream_id, dcep.Ppid.BINARY, bytes(limit + 1), now=pair.now)
    pair.run(lambda: info.state is dcep.ChannelState.CLOSED, timeout=30)
    assert pair.messages["b"] == []
    assert pair.b.channels.oversized_messages == 1
    (remote,) = pair.b.channels.channels.values()
    assert remote.messages_discarded == 1
    inbound = pair.b.sctp._inbound  # type: ignore[union-attr]
    assert inbound is not None and inbound.held == 0
    after = pair.a.create_data_channel(dcep.ChannelParameters(label="next"), pair.now)
    pair.run(lambda: after.state is dcep.ChannelState.OPEN)


@pytest.mark.parametrize(
    ("flags", "label"),
    [(0x02, "begin-only"), (0x00, "middle-only"), (0x03, "ordered, SSN 0 never sent")],
)
def test_unterminated_reassembly_is_bounded(flags: int, label: str) -> None:
    window = 64 << 10
    victim = Victim(window=window)
    tracemalloc.start()
    try:
        for i in range(6_000):
            ssn = 1 + i // 1000 if flags == 0x03 else 0
            victim.data(flags, i % 1000, ssn, b"x" * (1 + i % 40))
        big = 300_000  # one huge message that never ends, in 1 KB fragments
        for i in range(big // 1024):
            victim.data(0x02 if i == 0 else 0x00, 4000, 0, bytes(1024))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    inbound = victim.server._inbound
    assert inbound is not None
    assert inbound.held + inbound.unconsumed <= window + 1024, label
    assert len(inbound._by_first) <= window + 1  # every partial holds at least one byte
    assert victim.events == []
    assert peak < 8 << 20, f"{label}: peak {peak} bytes"


@pytest.mark.parametrize(
    "flood",
    [
        "1-byte begin-only fragments in sequence",
        "1-byte begin-only fragments above a hole",
        "1-byte ordered messages behind a missing SSN",
        "1-byte ordered messages above a missing TSN",
        "1-byte unordered messages above a missing TSN, read at once",
    ],
)
def test_tiny_chunk_flood_memory_is_a_few_windows(flood: str) -> None:
    # Bookkeeping per held chunk is charged to the window (CHUNK_CHARGE, TSN_CHARGE), so
    # 5,000 one-byte chunks cost a few windows; uncharged they took ~330 bytes each.
    window = 16 << 10
    victim = Victim(window=window)
    inbound = victim.server._inbound
    assert inbound is not None
    if "above" in flood:
        victim.tsn += 1  # the hole: this TSN never comes
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        for i in range(5_000):
            if "fragments" in flood:
                victim.data(0x02, i % 1000, i // 1000, b"x")
            elif "unordered" not in flood:  # SSN 0 never comes (or is the missing TSN)
                victim.data(0x03, 1, 1 + i, b"x")
            else:
                victim.data(0x07, 1, 0, b"x")
                victim.server.data_consumed(inbound.unconsumed)
                victim.events.clear()
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert after - before <= 4 * window, f"{flood}: {after - before} bytes"
    assert inbound.a_rwnd() < CHUNK_CHARGE + TSN_CHARGE  # the charges closed the window
    assert inbound.dropped_for_window > 4_000
    if "unordered" not in flood:
        assert victim.events == []


# --------------------------------------------------------------- oversized SDP


def _huge_sdp() -> str:
    line = "a=x-padding:" + "p" * 100 + "\r\n"
    return "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n" + line * 700


async def test_oversized_sdp_rejected_trio_face(autojump_clock: trio.testing.MockClock) -> None:
    big = _huge_sdp()
    assert len(big) >= 64 * 1024
    async with PeerConnection(network=MemoryNetwork()) as pc:
        with pytest.raises(SdpParseError, match="larger than 65536 bytes"):
            await pc.set_remote_description("offer", big)
        with pytest.raises(SdpParseError, match="larger than"):
            await pc.accept_offer(big)
        assert pc.signaling_state.name == "STABLE"  # type: ignore[attr-defined]


async def test_oversized_sdp_rejected_godot_face(caplog: pytest.LogCaptureFixture) -> None:
    async with WebRTCPeerConnection(name="G") as pc:
        assert pc.initialize({"bindAddress": "127.0.0.1"}) is Error.OK
        with caplog.at_level(logging.WARNING, logger="trio_webrtc"):
            result = pc.set_remote_description("offer", _huge_sdp())
        assert result is Error.ERR_INVALID_PARAMETER
        assert "larger than 65536 bytes" in caplog.text
        assert pc.get_signaling_state() is WebRTCPeerConnection.SIGNALING_STATE_STABLE


# ------------------------------------------------------- garbage into a live core


def _garbage(rng: random.Random) -> bytes:
    first = rng.choice([0, 1, 2, 3, 20, 21, 22, 23, 25, 63, 64, 79, 127, 128, 191, 255])
    body = rng.randbytes(rng.choice([0, 1, 12, 19, 20, 40, 200, 1200]))
    if first < 4 and len(body) >= 7 and rng.random() < 0.5:  # STUN magic cookie
        body = body[:3] + b"\x21\x12\xa4\x42" + body[7:]
    if 20 <= first < 64 and len(body) >= 2 and rng.random() < 0.5:  # DTLS 1.2 version
        body = b"\xfe\xfd" + body[2:]
    return bytes([first]) + body


def test_garbage_datagrams_keep_core_bounded_and_working() -> None:
    """20,000 arbitrary datagrams (every RFC 7983 range, from the peer's address and
    others) before and after connecting: nothing raises, the core's structures stay
    bounded, and the connection still comes up and carries data."""
    from robust_helpers import CorePair

    rng = random.Random(42)
    sources = [A_ADDR, EVIL_ADDR, ("::1", 40001), ("127.0.0.1", 1)]
    pair = CorePair(seed=13)
    pair.signal()
    for _ in range(5000):  # before the connection exists (ICE checking, DTLS not up)
        pair.b.receive_datagram(_garbage(rng), B_ADDR, rng.choice(sources), pair.now)
    pair.pump_events()
    assert len(pair.b._early_dtls) <= 16
    pair.run(lambda: pair.connected() and pair.established(), timeout=30)
    info = pair.a.create_data_channel(dcep.ChannelParameters(label="after"), pair.now)
    pair.run(lambda: info.state is dcep.ChannelState.OPEN)
    size_before = deep_size(pair.b)
    tracemalloc.start()
    try:
        for index in range(15000):
            pair.b.receive_datagram(_garbage(rng), B_ADDR, rng.choice(sources), pair.now)
            if index % 500 == 0:
                pair.pump_events()
                pair.run_for(0.05)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    pair.run_for(1.0)
    assert deep_size(pair.b) < size_before + (64 << 10)
    assert peak < 8 << 20
    assert pair.b.connection_state is ConnectionState.CONNECTED
    pair.a.send(info.key, "still here", pair.now)
    pair.run(lambda: bool(pair.messages["b"]))
    assert pair.messages["b"][-1][1] == "still here"
