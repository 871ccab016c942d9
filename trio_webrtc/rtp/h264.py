"""H.264 RTP payload format, packetization-mode 1 (RFC 6184).

Implements the NAL unit header of RFC 6184 §5.3, single NAL unit packets (§5.6), STAP-A
aggregation (§5.7.1) and FU-A fragmentation (§5.8) — the three packet types allowed in
non-interleaved mode (packetization-mode=1, §6.3); STAP-B, MTAP and FU-B are refused.
Frames are H.264 Annex B byte streams (ITU-T H.264 Annex B: NAL units after
``00 00 01`` or ``00 00 00 01`` start codes), as encoders such as libx264/PyAV produce
them; the depacketizer returns the same with four-byte start codes. Small consecutive NAL
units are aggregated into one STAP-A while they fit, larger ones are fragmented into
equal FU-A pieces. A frame is a keyframe when it carries an IDR slice (NAL type 5) or an
SPS and a PPS (types 7 and 8). A payload beginning with an SPS or an access unit
delimiter (type 9) certainly begins a frame (H.264 §7.4.1.2.3).

Parsers raise only :class:`~trio_webrtc.errors.RtpParseError`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..errors import LocalProtocolError, RtpParseError
from .codecs import DepacketizedFrame, split_evenly

__all__ = ["H264PayloadFormat", "nal_units", "payload_nal_types"]

NAL_SLICE_IDR = 5
NAL_SPS = 7
NAL_PPS = 8
NAL_AUD = 9
STAP_A = 24
FU_A = 28
_START_CODE = b"\x00\x00\x00\x01"


def nal_units(stream: bytes) -> list[bytes]:
    """The NAL units of an Annex B byte stream (start codes removed)."""
    starts: list[int] = []
    pos = stream.find(b"\x00\x00\x01")
    while pos >= 0:
        starts.append(pos)
        pos = stream.find(b"\x00\x00\x01", pos + 3)
    if not starts:
        raise LocalProtocolError("no Annex B start code in the H.264 frame")
    units: list[bytes] = []
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(stream)
        if i + 1 < len(starts) and stream[end - 1] == 0:
            end -= 1  # the leading zero of a four-byte start code
        if end > start + 3:
            units.append(stream[start + 3 : end])
    return units


def payload_nal_types(payload: bytes) -> list[int]:
    """The NAL unit types a payload starts or carries (FU-A: the fragmented unit's)."""
    if not payload:
        raise RtpParseError("empty H.264 payload")
    kind = payload[0] & 0x1F
    if kind == STAP_A:
        types: list[int] = []
        pos = 1
        while pos + 2 < len(payload):
            size = int.from_bytes(payload[pos : pos + 2], "big")
            types.append(payload[pos + 2] & 0x1F)
            pos += 2 + size
        return types
    if kind == FU_A:
        if len(payload) < 2:
            raise RtpParseError("FU-A without its header")
        return [payload[1] & 0x1F]
    return [kind]


class H264PayloadFormat:
    """H.264 packetizer and depacketizer, packetization-mode 1 (RFC 6184)."""

    name = "H264"
    clock_rate = 90000
    is_video = True

    def packetize(self, frame: bytes, max_payload_size: int) -> list[bytes]:
        """Payloads for an Annex B frame."""
        return self.packetize_nal_units(nal_units(frame), max_payload_size)

    def packetize_nal_units(self, units: Iterable[bytes], max_payload_size: int) -> list[bytes]:
        """Payloads for NAL units given without start codes."""
        if max_payload_size < 3:
            raise LocalProtocolError(f"payload size {max_payload_size} too small for H.264")
        payloads: list[bytes] = []
        pending: list[bytes] = []
        pending_size = 1  # the STAP-A NAL header

        def flush() -> None:
            if len(pending) == 1:
                payloads.append(pending[0])
            elif pending:
                forbidden = 0
                nri = 0
                for unit in pending:
                    forbidden |= unit[0] & 0x80
                    nri = max(nri, unit[0] & 0x60)
                header = bytes((forbidden | nri | STAP_A,))
                payloads.append(header + b"".join(len(u).to_bytes(2, "big") + u for u in pending))
            pending.clear()

        for unit in units:
            if not unit:
                continue
            if len(unit) > max_payload_size:
                flush()
                pending_size = 1
                payloads.extend(_fragment(unit, max_payload_size))
                continue
            if pending and pending_size + 2 + len(unit) > max_payload_size:
                flush()
                pending_size = 1
            pending.append(bytes(unit))
            pending_size += 2 + len(unit)
        flush()
        if not payloads:
            raise LocalProtocolError("an H.264 frame without NAL units cannot be sent")
        return payloads

    def depacketize(self, payloads: Sequence[bytes]) -> DepacketizedFrame:
        units: list[bytes] = []
        fragment: bytearray | None = None
        for payload in payloads:
            if not payload:
                raise RtpParseError("empty H.264 payload")
            kind = payload[0] & 0x1F
            if 1 <= kind <= 23:
                if fragment is not None:
                    raise RtpParseError("FU-A interrupted by another NAL unit")
                units.append(bytes(payload))
            elif kind == STAP_A:
                if fragment is not None:
                    raise RtpParseError("FU-A interrupted by a STAP-A")
                units.extend(_aggregated(payload))
            elif kind == FU_A:
                if len(payload) < 3:
                    raise RtpParseError("FU-A packet without data")
                fu = payload[1]
                if fu & 0x80:
                    if fragment is not None:
                        raise RtpParseError("FU-A start inside an unfinished FU-A")
                    fragment = bytearray(((payload[0] & 0xE0) | (fu & 0x1F),))
                elif fragment is None:
                    raise RtpParseError("FU-A continuation without its start")
                fragment += payload[2:]
                if fu & 0x40:
                    units.append(bytes(fragment))
                    fragment = None
            else:
                raise RtpParseError(f"H.264 packet type {kind} is not allowed in mode 1")
        if fragment is not None:
            raise RtpParseError("FU-A without its end")
        if not units:
            raise RtpParseError("no H.264 NAL units")
        types = {u[0] & 0x1F for u in units}
        keyframe = NAL_SLICE_IDR in types or {NAL_SPS, NAL_PPS} <= types
        return DepacketizedFrame(b"".join(_START_CODE + u for u in units), keyframe)

    def is_frame_start(self, payload: bytes) -> bool:
        if not payload:
            return False
        kind = payload[0] & 0x1F
        if kind == FU_A and (len(payload) < 2 or not payload[1] & 0x80):
            return False
        try:
            types = payload_nal_types(payload)
        except RtpParseError:
            return False
        return bool(types) and types[0] in (NAL_SPS, NAL_AUD)

    def ends_frame(self, marker: bool) -> bool:
        return marker


def _fragment(unit: bytes, max_payload_size: int) -> list[bytes]:
    header = unit[0]
    indicator = bytes(((header & 0xE0) | FU_A,))
    pieces = split_evenly(memoryview(unit)[1:], max_payload_size - 2)
    out: list[bytes] = []
    for i, piece in enumerate(pieces):
        fu = header & 0x1F
        if i == 0:
            fu |= 0x80
        if i == len(pieces) - 1:
            fu |= 0x40
        out.append(indicator + bytes((fu,)) + piece)
    return out


def _aggregated(payload: bytes) -> list[bytes]:
    units: list[bytes] = []
    pos = 1
    size = len(payload)
    while pos < size:
        if pos + 2 > size:
            raise RtpParseError("STAP-A size field truncated")
        length = int.from_bytes(payload[pos : pos + 2], "big")
        pos += 2
        if length == 0 or pos + length > size:
            raise RtpParseError("STAP-A unit overruns the packet")
        units.append(bytes(payload[pos : pos + length]))
        pos += length
    if not units:
        raise RtpParseError("empty STAP-A")
    return units
