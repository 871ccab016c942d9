"""Synthetic encoded frames and two connected peers with media, in virtual time."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from trio_webrtc import PeerConnection, connect_pair
from trio_webrtc.media_track import MediaReceiver, MediaSender
from trio_webrtc.testing import MemoryNetwork


def vp8_frame(index: int, *, key: bool, size: int = 3000) -> bytes:
    """A fake VP8 frame: bit 0 of the first byte is the inverse keyframe flag (RFC 6386
    §9.1); the rest is a seeded pattern carrying the index, so contents can be checked."""
    rng = random.Random(index)
    body = index.to_bytes(4, "big") + rng.randbytes(size - 5)
    return bytes([0x10 if key else 0x11]) + body


def opus_frame(index: int) -> bytes:
    return bytes([0x78]) + index.to_bytes(4, "big") + bytes(range(60))


async def media_pair(
    a: PeerConnection, b: PeerConnection, kinds: tuple[str, ...] = ("audio", "video")
) -> tuple[dict[str, MediaSender], dict[str, MediaReceiver]]:
    """a sends every kind to b (sendonly; b recvonly), connected; b's receivers by kind."""
    senders = {kind: a.add_track(kind, direction="sendonly") for kind in kinds}  # type: ignore[arg-type]
    for kind in kinds:  # b opts in to media, as a browser's recvonly transceivers do
        b.add_track(kind, direction="recvonly")  # type: ignore[arg-type]
    await connect_pair(a, b)
    receivers: dict[str, MediaReceiver] = {}
    for _ in kinds:
        receiver = await b.accept_track()
        receivers[receiver.kind] = receiver
    return senders, receivers


def rtp_header(datagram: bytes) -> tuple[int, int, int] | None:
    """(payload type, sequence number, SSRC) of an SRTP datagram (the RTP header stays in
    the clear, RFC 3711 §3.1), or None for anything else (STUN, DTLS, SRTCP)."""
    if len(datagram) < 12 or not 128 <= datagram[0] <= 191 or 192 <= datagram[1] <= 223:
        return None
    seq = int.from_bytes(datagram[2:4], "big")
    return datagram[1] & 0x7F, seq, int.from_bytes(datagram[8:12], "big")


class FilteredNetwork(MemoryNetwork):
    """A :class:`MemoryNetwork` that also drops the datagrams ``drop`` selects."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.drop: Callable[[bytes], bool] | None = None
        self.filtered = 0

    def _transmit(self, source: tuple[str, int], target: tuple[str, int], data: bytes) -> None:
        if self.drop is not None and self.drop(data):
            self.filtered += 1
            return
        super()._transmit(source, target, data)
