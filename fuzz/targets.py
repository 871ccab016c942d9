"""Fuzz targets, one per parser that reads network or signaling input.

Each target takes arbitrary bytes, calls the parser (or feeds a live sans-I/O object),
swallows only the parser's declared error, and lets anything else propagate: atheris (or
the fallback mutator in ``run.py``) reports it as a crash. ``TARGETS`` maps a name to
``(make_target, seeds)``; ``make_target()`` builds any state once per process.
"""

from __future__ import annotations

import contextlib
import random
import struct
import sys
from collections.abc import Callable
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent
for extra in (_ROOT, _ROOT / "tests" / "robustness", Path(__file__).resolve().parent):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

import seeds  # noqa: E402

from trio_webrtc import datachannel as dcep  # noqa: E402
from trio_webrtc.dtls.transport import DtlsParseError, parse_record_headers  # noqa: E402
from trio_webrtc.errors import (  # noqa: E402
    DcepParseError,
    ParseError,
    SctpParseError,
    SdpParseError,
    StunParseError,
)
from trio_webrtc.ice import Candidate, stun  # noqa: E402
from trio_webrtc.sctp import SctpAssociation  # noqa: E402
from trio_webrtc.sctp.chunks import COMMON_HEADER, encode_packet, parse_packet  # noqa: E402
from trio_webrtc.sdp.description import DataChannelDescription, SessionDescription  # noqa: E402
from trio_webrtc.testing import VirtualLink  # noqa: E402

Target = Callable[[bytes], None]


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def make_sdp() -> Target:
    def target(data: bytes) -> None:
        try:
            session = SessionDescription.parse(_text(data))
        except SdpParseError:
            return
        with contextlib.suppress(SdpParseError):
            DataChannelDescription.from_session(session)
        SessionDescription.parse(session.serialize())

    return target


def make_candidate() -> Target:
    def target(data: bytes) -> None:
        try:
            candidate = Candidate.from_sdp(_text(data))
        except ParseError:
            return
        if Candidate.from_sdp(candidate.to_sdp()) != candidate:
            raise AssertionError(f"candidate does not round-trip: {candidate}")

    return target


def _stun(data: bytes) -> None:
    stun.verify_fingerprint(data)
    stun.verify_integrity(data, b"0123456789012345678901")
    try:
        message = stun.parse_message(data)
    except StunParseError:
        return
    for attr_type, _ in message.attributes:
        message.get(attr_type)
    _ = message.error_code


def make_stun() -> Target:
    def target(data: bytes) -> None:
        _stun(data)
        if len(data) >= 20:  # again with a consistent length field, to get past the header
            _stun(data[:2] + struct.pack("!H", (len(data) - 20) & 0xFFFF) + data[4:])

    return target


def make_turn() -> Target:
    """TURN Send/Data indications and answers (STUN codec), ChannelData if a parser
    for it exists (``stun.parse_channel_data``)."""
    parse_channel_data = getattr(stun, "parse_channel_data", None)
    stun_target = make_stun()

    def target(data: bytes) -> None:
        stun_target(data)
        if parse_channel_data is not None:
            with contextlib.suppress(StunParseError):
                parse_channel_data(data)

    return target


def make_dcep() -> Target:
    def target(data: bytes) -> None:
        try:
            message = dcep.parse_dcep(data)
        except DcepParseError:
            return
        # Re-encoding is a fixed point (a reliable channel's reliability parameter is
        # sent as 0 and ignored on receipt, RFC 8832 §5.1, so it may change once).
        encoded = message.encode()
        if dcep.parse_dcep(encoded).encode() != encoded:
            raise AssertionError("DCEP encoding is not a fixed point")

    return target


def make_dtls() -> Target:
    def target(data: bytes) -> None:
        try:
            headers = parse_record_headers(data)
        except DtlsParseError:
            return
        if sum(13 + h.length for h in headers) != len(data):
            raise AssertionError("record headers do not cover the datagram")

    return target


class _SctpLive:
    """An established association pair; the server is fed the fuzz input."""

    def __init__(self) -> None:
        self.renew()

    def renew(self) -> None:
        self.client = SctpAssociation(is_client=True, rng=random.Random(1))
        self.server = SctpAssociation(is_client=False, rng=random.Random(2))
        self.link = VirtualLink(self.client, self.server, seed=1)  # type: ignore[arg-type]
        self.client.start(0.0)
        self.server.start(0.0)
        self.link.run(lambda: self.server.state.name == "ESTABLISHED")
        self.count = 0

    def feed(self, packet: bytes) -> None:
        if self.server.state.name == "CLOSED" or self.count > 5000:
            self.renew()
        self.count += 1
        server = self.server
        server.receive_datagram(packet, self.link.now)
        while server.next_event() is not None:
            pass
        server.datagrams_to_send(self.link.now)
        if server.get_timer() is not None:
            server.handle_timer(self.link.now + 0.5)
            server.datagrams_to_send(self.link.now)


def make_sctp() -> Target:
    live = _SctpLive()

    def target(data: bytes) -> None:
        with contextlib.suppress(SctpParseError):
            parse_packet(data, check_crc=False)
        if len(data) < 12:
            return
        _, _, vtag = COMMON_HEADER.unpack_from(data)
        if data[0] & 1:  # half the inputs carry the right tag to get past RFC 9260 §8.5
            vtag = live.server._local_tag
        live.feed(encode_packet(5000, 5000, vtag, [data[12:]]))

    return target


def make_demux() -> Target:
    """Arbitrary datagrams into a connected ``PeerConnectionCore`` (RFC 7983 demux),
    from the selected remote address or an unknown one."""
    from robust_helpers import A_ADDR, EVIL_ADDR, connected_pair

    state = {"pair": connected_pair(seed=21), "count": 0}

    def target(data: bytes) -> None:
        pair = state["pair"]
        if pair.b.connection_state.name != "CONNECTED" or state["count"] > 2000:  # type: ignore[attr-defined]
            pair = state["pair"] = connected_pair(seed=21)
            state["count"] = 0
        state["count"] += 1  # type: ignore[operator]
        source = A_ADDR if data[-1:] < b"\x80" else EVIL_ADDR
        pair.inject("b", data, source)  # type: ignore[attr-defined]
        pair.run_for(0.002)  # type: ignore[attr-defined]

    return target


TARGETS: dict[str, tuple[Callable[[], Target], Callable[[], tuple[bytes, ...]]]] = {
    "sdp": (make_sdp, lambda: tuple(s.encode() for s in seeds.sdp_seeds())),
    "candidate": (make_candidate, lambda: tuple(s.encode() for s in seeds.candidate_seeds())),
    "stun": (make_stun, seeds.stun_seeds),
    "turn": (make_turn, seeds.turn_seeds),
    "sctp": (make_sctp, seeds.sctp_seeds),
    "dcep": (make_dcep, seeds.dcep_seeds),
    "dtls": (make_dtls, seeds.dtls_seeds),
    "demux": (make_demux, lambda: seeds.stun_seeds() + seeds.dtls_seeds()),
}


def main(name: str) -> None:
    """Entry point of ``fuzz/fuzz_<name>.py``: run under atheris with libFuzzer flags."""
    import atheris

    make, _ = TARGETS[name]
    target = make()
    atheris.Setup(sys.argv, target)
    atheris.Fuzz()
