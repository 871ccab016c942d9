"""Valid inputs for every parser that reads network or signaling input.

Shared by the atheris harnesses (``fuzz/fuzz_*.py``, as starting corpora) and the
Hypothesis tests (``tests/robustness/test_fuzz_parsers.py``, as mutation bases). Real
SCTP packets and DTLS records are captured from sans-I/O sessions run in virtual time;
SDP comes from the captured vectors in ``tests/vectors/sdp``. Deterministic: same seeds
on every call (cached per process).
"""

from __future__ import annotations

import functools
import random
import struct
from pathlib import Path

from trio_webrtc.datachannel.dcep import ChannelType, DataChannelAck, DataChannelOpen
from trio_webrtc.dtls.certificate import Certificate
from trio_webrtc.dtls.transport import DtlsTransport
from trio_webrtc.ice import stun
from trio_webrtc.sctp import SctpAssociation
from trio_webrtc.testing import VirtualLink

ROOT = Path(__file__).resolve().parent.parent
SDP_VECTORS = ROOT / "tests" / "vectors" / "sdp"

__all__ = [
    "candidate_seeds",
    "dcep_seeds",
    "dtls_seeds",
    "sctp_seeds",
    "sdp_seeds",
    "stun_seeds",
    "turn_seeds",
]


@functools.cache
def sdp_seeds() -> tuple[str, ...]:
    return tuple(p.read_text() for p in sorted(SDP_VECTORS.glob("*.sdp")))


@functools.cache
def candidate_seeds() -> tuple[str, ...]:
    found: list[str] = []
    for text in sdp_seeds():
        for line in text.splitlines():
            if line.startswith("a=candidate:") and line[2:] not in found:
                found.append(line[2:])
    found += [
        "candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host",
        "candidate:2 1 UDP 1694498815 192.0.2.3 45664 typ srflx raddr 10.0.1.1 rport 8998",
        "candidate:3 1 udp 16777215 2001:db8::1 3478 typ relay raddr 0.0.0.0 rport 0",
        "candidate:4 1 tcp 1518280447 127.0.0.1 9 typ host tcptype active",
        "candidate:5 1 udp 2122260223 abcd-1234.local 54321 typ host generation 0",
        "a=candidate:6 2 udp 1 ::1 1 typ prflx raddr ::1 rport 2 ufrag abcd network-cost 10",
    ]
    return tuple(found)


def _sign(message: stun.Message, key: bytes | None = b"0123456789012345678901") -> bytes:
    return stun.encode(message, key, True)


@functools.cache
def stun_seeds() -> tuple[bytes, ...]:
    rng = random.Random(7)
    tid = stun.random_transaction_id
    request = stun.Message(
        stun.Method.BINDING,
        stun.MessageClass.REQUEST,
        tid(rng),
        (
            (stun.USERNAME, "abcd:efgh"),
            (stun.PRIORITY, 1853824767),
            (stun.ICE_CONTROLLING, 0x1122334455667788),
            (stun.USE_CANDIDATE, None),
        ),
    )
    success = stun.Message(
        stun.Method.BINDING,
        stun.MessageClass.SUCCESS,
        tid(rng),
        ((stun.XOR_MAPPED_ADDRESS, ("127.0.0.1", 40001)),),
    )
    success6 = stun.Message(
        stun.Method.BINDING,
        stun.MessageClass.SUCCESS,
        tid(rng),
        (
            (stun.XOR_MAPPED_ADDRESS, ("::1", 40001)),
            (stun.MAPPED_ADDRESS, ("127.0.0.1", 9)),
            (stun.SOFTWARE, "trio-webrtc"),
        ),
    )
    error = stun.Message(
        stun.Method.BINDING,
        stun.MessageClass.ERROR,
        tid(rng),
        (
            (stun.ERROR_CODE, stun.ErrorCode(487, "Role Conflict")),
            (stun.UNKNOWN_ATTRIBUTES, (0x0024, 0x8029)),
        ),
    )
    unauthorized = stun.Message(
        stun.Method.ALLOCATE,
        stun.MessageClass.ERROR,
        tid(rng),
        (
            (stun.ERROR_CODE, stun.ErrorCode(401, "Unauthorized")),
            (stun.REALM, "example.org"),
            (stun.NONCE, "f3c0ffee"),
        ),
    )
    return (
        _sign(request),
        stun.encode(request, b"k" * 22, True, sha256=True),
        _sign(success),
        _sign(success6),
        _sign(error, None),
        _sign(unauthorized, None),
        stun.encode(stun.Message(stun.Method.BINDING, stun.MessageClass.INDICATION, tid(rng))),
        *turn_seeds(),
    )


@functools.cache
def turn_seeds() -> tuple[bytes, ...]:
    """TURN messages a client parses or builds: Allocate answers, Send and Data
    indications (RFC 8656 §11), ChannelBind, and ChannelData frames (§12.4)."""
    rng = random.Random(8)
    tid = stun.random_transaction_id
    key = stun.long_term_key("user", "example.org", "pass")
    allocate = stun.Message(
        stun.Method.ALLOCATE,
        stun.MessageClass.SUCCESS,
        tid(rng),
        (
            (stun.XOR_RELAYED_ADDRESS, ("127.0.0.1", 50000)),
            (stun.XOR_MAPPED_ADDRESS, ("127.0.0.1", 40001)),
            (stun.LIFETIME, 600),
        ),
    )
    request = stun.Message(
        stun.Method.ALLOCATE,
        stun.MessageClass.REQUEST,
        tid(rng),
        (
            (stun.REQUESTED_TRANSPORT, 17),
            (stun.USERNAME, "user"),
            (stun.REALM, "example.org"),
            (stun.NONCE, "abc"),
        ),
    )
    send = stun.Message(
        stun.Method.SEND,
        stun.MessageClass.INDICATION,
        tid(rng),
        ((stun.XOR_PEER_ADDRESS, ("127.0.0.1", 40002)), (stun.DATA, b"\x16\xfe\xfd" + b"x" * 40)),
    )
    data = stun.Message(
        stun.Method.DATA,
        stun.MessageClass.INDICATION,
        tid(rng),
        ((stun.XOR_PEER_ADDRESS, ("::1", 40002)), (stun.DATA, b"\x00\x01" + b"y" * 33)),
    )
    bind = stun.Message(
        stun.Method.CHANNEL_BIND,
        stun.MessageClass.REQUEST,
        tid(rng),
        (
            (stun.CHANNEL_NUMBER, 0x4000),
            (stun.XOR_PEER_ADDRESS, ("127.0.0.1", 40002)),
        ),
    )
    payload = b"\x17\xfe\xfd" + bytes(range(50))
    channel_data = struct.pack("!HH", 0x4000, len(payload)) + payload + b"\x00" * 3
    return (
        stun.encode(allocate, key, True),
        stun.encode(request, key, True),
        stun.encode(send),
        stun.encode(data),
        stun.encode(bind, key, True),
        channel_data,
        struct.pack("!HH", 0x7FFE, 0),
    )


@functools.cache
def dcep_seeds() -> tuple[bytes, ...]:
    return (
        DataChannelOpen(ChannelType.RELIABLE, 256, 0, "chat", "").encode(),
        DataChannelOpen(ChannelType.PARTIAL_RELIABLE_REXMIT_UNORDERED, 0, 3, "x", "json").encode(),
        DataChannelOpen(ChannelType.PARTIAL_RELIABLE_TIMED, 512, 250, "héllo ✓", "p").encode(),
        DataChannelOpen(ChannelType.RELIABLE_UNORDERED, 1024, 0, "", "").encode(),
        DataChannelAck().encode(),
    )


class _Tap:
    """Wraps an endpoint and records everything it sends."""

    def __init__(self, endpoint: object, sink: list[bytes]) -> None:
        self._endpoint = endpoint
        self._sink = sink

    def receive_datagram(self, data: bytes, now: float) -> None:
        self._endpoint.receive_datagram(data, now)  # type: ignore[attr-defined]

    def datagrams_to_send(self, now: float) -> list[bytes]:
        out: list[bytes] = self._endpoint.datagrams_to_send(now)  # type: ignore[attr-defined]
        self._sink.extend(out)
        return out

    def get_timer(self) -> float | None:
        return self._endpoint.get_timer()  # type: ignore[attr-defined,no-any-return]

    def handle_timer(self, now: float) -> None:
        self._endpoint.handle_timer(now)  # type: ignore[attr-defined]


def _drain(assoc: SctpAssociation) -> list[object]:
    events = []
    while (event := assoc.next_event()) is not None:
        events.append(event)
    return events


@functools.cache
def sctp_seeds() -> tuple[bytes, ...]:
    """Real packets of a session: INIT, INIT ACK, COOKIE ECHO/ACK, DATA (DCEP OPEN, small,
    fragmented, unordered, partially reliable), SACKs, FORWARD TSN, RE-CONFIG, SHUTDOWN."""
    packets: list[bytes] = []
    client = SctpAssociation(is_client=True, rng=random.Random(1), mtu=600)
    server = SctpAssociation(is_client=False, rng=random.Random(2), mtu=600)
    link = VirtualLink(_Tap(client, packets), _Tap(server, packets), seed=3)  # type: ignore[arg-type]
    client.start(0.0)
    server.start(0.0)
    link.run(lambda: client.state.name == "ESTABLISHED" and server.state.name == "ESTABLISHED")
    now = link.now
    client.send(1, 50, DataChannelOpen(ChannelType.RELIABLE, 256, 0, "chat", "").encode(), now=now)
    client.send(1, 51, b"hello", now=now)
    client.send(3, 53, bytes(range(256)) * 8, now=now)  # fragmented
    client.send(5, 51, b"unordered", ordered=False, now=now)
    link.run(lambda: len(_drain(server)) >= 0 and client.buffered_amount(3) == 0, timeout=10)
    link.blackout(link.now, link.now + 0.5)
    client.send(7, 53, b"z" * 2000, max_retransmits=0, ordered=False, now=link.now)
    link.run(lambda: client.buffered_amount(7) == 0, timeout=10)
    client.reset_streams([1], link.now)
    link.run(lambda: not link.now < 12, timeout=15)
    client.shutdown(link.now)
    link.run(lambda: client.state.name == "CLOSED", timeout=10)
    unique: list[bytes] = []
    for packet in packets:
        if packet not in unique:
            unique.append(packet)
    return tuple(unique)


def _settle(link: VirtualLink, steps: int = 200) -> None:
    for _ in range(steps):
        if not link.step():
            return


@functools.cache
def dtls_seeds() -> tuple[bytes, ...]:
    """Real DTLS 1.2 datagrams of a handshake and some application data."""
    records: list[bytes] = []
    a_cert, b_cert = Certificate.generate(), Certificate.generate()
    client = DtlsTransport(
        a_cert, is_client=True, remote_fingerprints=[("sha-256", b_cert.fingerprint())]
    )
    server = DtlsTransport(
        b_cert, is_client=False, remote_fingerprints=[("sha-256", a_cert.fingerprint())]
    )
    link = VirtualLink(_Tap(client, records), _Tap(server, records), seed=4)  # type: ignore[arg-type]
    server.start(0.0)
    client.start(0.0)
    link.run(lambda: client.state.name == "CONNECTED" and server.state.name == "CONNECTED")
    client.send(b"application data" * 4)
    server.send(b"x")
    _settle(link)
    client.close()
    _settle(link)
    return tuple(dict.fromkeys(records))
