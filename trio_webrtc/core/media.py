"""The media engine: RTP/RTCP over SRTP on the bundled transport, sans-I/O.

One :class:`MediaEngine` per connection, started by the core when DTLS completes with a
``use_srtp`` profile (RFC 5764 §4.1.2) and offer/answer negotiated audio or video
(:class:`~trio_webrtc.sdp.media.NegotiatedMedia`). It composes the ``trio_webrtc.rtp``
pieces per m-section (mid):

* sending: a :class:`~trio_webrtc.rtp.SendStream` on our SSRC with the MID header
  extension (RFC 8843 §15, RFC 9143) and a retransmission buffer answering Generic NACKs
  (RFC 4585 §6.2.1) through RTX where negotiated (RFC 4588 §4), originals otherwise;
* receiving: per remote SSRC a :class:`~trio_webrtc.rtp.ReceiveStream` (statistics,
  report blocks) and a :class:`~trio_webrtc.rtp.JitterBuffer` whose NACK and keyframe
  requests become Generic NACK and PLI (RFC 4585 §6.3.1), sent at once in reduced-size
  RTCP (RFC 5506);
* demultiplexing (RFC 8843 §9.2): the MID header extension first (it also teaches the
  SSRC), then the SSRC table (signalled ``a=ssrc`` lines and learned SSRCs), then a
  payload type unique to one m-section; RTX packets are unwrapped (RFC 4588 §4) onto
  their primary SSRC (``a=ssrc-group:FID`` or the mid's one primary);
* RTCP (RFC 3550 §6, multiplexed per RFC 5761): a compound SR or RR plus SDES CNAME per
  mid about every ``report_interval`` seconds (fixed, not RFC 3550 §6.2's computed
  interval); SR/RR blocks feed RTT and remote loss; PLI and FIR (RFC 5104 §4.3.1) are
  reported to the application as :class:`KeyframeRequested`; BYE ends a remote source.

:class:`MediaMixin` holds the core's small hooks (the core calls them from its
demultiplexer, ``_process``, ``datagrams_to_send`` and the timer). Events are appended to
the core's event queue. The first byte of RTP/RTCP is 128-191 (RFC 7983 §7) and RTCP
is told apart by its packet type 192-223 (RFC 5761 §4).
"""

from __future__ import annotations

import logging
import random
from collections import deque
from dataclasses import dataclass, replace

from ..errors import InvalidStateError, ParseError
from ..rtp import (
    Bye,
    FrameReceived,
    GenericNack,
    H264PayloadFormat,
    JitterBuffer,
    KeyframeRequest,
    NackRequest,
    OpusPayloadFormat,
    PayloadFormat,
    PictureLossIndication,
    ReceiverReport,
    ReceiveStream,
    ReportBlock,
    RetransmissionBuffer,
    RtcpPacket,
    RtpPacket,
    RtxConfig,
    SenderReport,
    SendStream,
    UnknownRtcp,
    Vp8PayloadFormat,
    compound_report,
    encode_rtcp,
    parse_rtcp,
    parse_rtp,
    unwrap_rtx,
)
from ..rtp.jitter import JitterStats
from ..rtp.stream import ReceiveStreamStats, SendStreamStats
from ..sdp.media import Codec, NegotiatedMedia
from ..srtp import SrtpContext, derive_keys

__all__ = [
    "KeyframeRequested",
    "MediaEngine",
    "MediaEvent",
    "MediaFrame",
    "MediaMixin",
    "MediaRtp",
    "MediaStreamStats",
    "RemoteSourceEnded",
]

logger = logging.getLogger("trio_webrtc.media")

REPORT_INTERVAL = 1.0
# Packets are kept this long for NACKs (and at most 1024 per SSRC). Some receivers NACK a
# hole again only when a new gap appears: aiortc re-sends its list of holes (128 packets
# back) then, which at 5 % loss and one packet per frame can be 1.4 s later; refused (the
# former 1 s), the hole stays until 512 packets later, a 12.6 s freeze of aiortc's video
# in benchmarks/media_loss.py, 1.3 s with 3 s (as aiortc -> aiortc).
RETRANSMIT_MAX_AGE = 3.0
_RTCP_PSFB = 206
_FMT_FIR = 4
_MAX_SSRCS_PER_MID = 16


@dataclass(frozen=True, slots=True)
class MediaEvent:
    """Base class of the media engine's events (queued with the core's)."""

    mid: str


@dataclass(frozen=True, slots=True)
class MediaFrame(MediaEvent):
    """A whole frame from the jitter buffer of one remote SSRC of ``mid``."""

    frame: FrameReceived
    codec: str


@dataclass(frozen=True, slots=True)
class MediaRtp(MediaEvent):
    """One RTP packet (RTX unwrapped) for a receiver in raw mode."""

    packet: RtpPacket


@dataclass(frozen=True, slots=True)
class KeyframeRequested(MediaEvent):
    """The peer asked for a keyframe on what we send on ``mid`` (PLI or FIR)."""


@dataclass(frozen=True, slots=True)
class RemoteSourceEnded(MediaEvent):
    """The peer sent RTCP BYE for its source on ``mid``."""


@dataclass(frozen=True, slots=True)
class MediaStreamStats:
    """One RTP stream for ``get_stats()``: ``direction`` is "outbound" or "inbound"."""

    mid: str
    kind: str
    direction: str
    codec: str
    ssrc: int
    outbound: SendStreamStats | None = None
    inbound: ReceiveStreamStats | None = None
    jitter_buffer: JitterStats | None = None
    nacks_sent: int = 0
    plis_sent: int = 0
    nacks_received: int = 0
    plis_received: int = 0
    frames_sent: int = 0


def payload_format(codec: Codec) -> PayloadFormat:
    """The packetizer of a negotiated codec (Opus, VP8, H.264 packetization-mode 1)."""
    name = codec.name.lower()
    if name == "opus":
        return OpusPayloadFormat()
    if name == "vp8":
        return Vp8PayloadFormat()
    if name == "h264":
        return H264PayloadFormat()
    raise InvalidStateError(f"codec {codec.name} has no payload format here")


def _supported(codec: Codec) -> bool:
    return codec.name.lower() in ("opus", "vp8", "h264")


class _Receiver:
    """One remote SSRC of one mid."""

    __slots__ = ("codec", "jitter", "nacks", "plis", "ssrc", "stream")

    def __init__(self, ssrc: int, codec: Codec, log_prefix: str) -> None:
        self.ssrc = ssrc
        self.codec = codec
        self.stream = ReceiveStream(ssrc, codec.clock_rate)
        self.jitter = JitterBuffer(payload_format(codec), log_prefix=log_prefix)
        self.nacks = 0
        self.plis = 0


class _Section:
    """The state of one negotiated m-section."""

    def __init__(self, media: NegotiatedMedia, engine: MediaEngine) -> None:
        self.media = media
        self.mid = media.mid
        self.codecs = {c.payload_type: c for c in media.codecs if c.payload_type is not None}
        self.rtx_pts = {
            c.rtx_payload_type: c.payload_type
            for c in media.codecs
            if c.rtx_payload_type is not None and c.payload_type is not None
        }
        self.rtx_primary = {rtx: primary for primary, rtx in media.remote_rtx_ssrcs}
        self.receivers: dict[int, _Receiver] = {}
        self.raw = False
        self.send: SendStream | None = None
        self.send_codec: Codec | None = None
        self.nacks_received = 0
        self.plis_received = 0
        self.frames_sent = 0
        self.extensions: tuple[tuple[int, bytes], ...] = ()
        if media.mid_extension_id is not None:
            self.extensions = ((media.mid_extension_id, media.mid.encode()),)
        sendable = [c for c in media.codecs if _supported(c) and c.payload_type is not None]
        if media.sends and media.local_ssrc is not None and sendable:
            codec = sendable[0]
            rtx = None
            if codec.rtx_payload_type is not None and media.local_rtx_ssrc is not None:
                rtx = RtxConfig(media.local_rtx_ssrc, codec.rtx_payload_type)
            assert codec.payload_type is not None
            self.send_codec = codec
            self.send = SendStream(
                media.local_ssrc,
                codec.payload_type,
                payload_format(codec),
                sequence_number=engine.rng.getrandbits(16),
                mtu=engine.mtu,
                overhead=engine.srtp.rtp_overhead,
                retransmissions=RetransmissionBuffer(
                    max_age=RETRANSMIT_MAX_AGE,
                    rtx=rtx,
                    rtx_sequence_number=engine.rng.getrandbits(16),
                    log_prefix=engine.prefix,
                ),
            )

    def update(self, media: NegotiatedMedia) -> None:
        """A renegotiation kept this mid: new codecs and SSRCs, streams kept."""
        self.media = media
        self.codecs = {c.payload_type: c for c in media.codecs if c.payload_type is not None}
        self.rtx_pts = {
            c.rtx_payload_type: c.payload_type
            for c in media.codecs
            if c.rtx_payload_type is not None and c.payload_type is not None
        }
        self.rtx_primary = {rtx: primary for primary, rtx in media.remote_rtx_ssrcs}


class MediaEngine:
    """Every m-section's RTP and RTCP on one SRTP context (see the module docstring)."""

    def __init__(
        self,
        srtp: SrtpContext,
        events: deque[object],
        *,
        rng: random.Random,
        mtu: int = 1200,
        report_interval: float = REPORT_INTERVAL,
        log_prefix: str = "",
    ) -> None:
        self.srtp = srtp
        self.rng = rng
        self.mtu = mtu
        self.prefix = log_prefix
        self.report_interval = report_interval
        self._events = events
        self._sections: dict[str, _Section] = {}
        self._by_ssrc: dict[int, _Section] = {}
        self._by_pt: dict[int, _Section] = {}
        self._by_ext_id: set[int] = set()
        self._out: list[bytes] = []
        self._next_report: float | None = None
        # The RTCP sender SSRC of m-sections we only receive on (RFC 3550 §6.4.2).
        self._receive_ssrc = rng.getrandbits(32) or 1
        self.negotiated: tuple[NegotiatedMedia, ...] = ()
        self.rtp_dropped = 0
        self.closed = False

    # ------------------------------------------------------------ configuration

    def configure(self, media: tuple[NegotiatedMedia, ...], now: float) -> None:
        """Apply the negotiated m-sections (first time or after a renegotiation)."""
        self.negotiated = media
        sections: dict[str, _Section] = {}
        for item in media:
            section = self._sections.get(item.mid)
            if section is None:
                section = _Section(item, self)
            else:
                section.update(item)
            sections[item.mid] = section
        self._sections = sections
        self._by_ssrc = {}
        for section in sections.values():
            for ssrc in (*section.media.remote_ssrcs, *section.receivers):
                self._by_ssrc[ssrc] = section
            for rtx in section.rtx_primary:
                self._by_ssrc[rtx] = section
        pts: dict[int, list[_Section]] = {}
        for section in sections.values():
            for pt in (*section.codecs, *section.rtx_pts):
                pts.setdefault(pt, []).append(section)
        self._by_pt = {pt: owners[0] for pt, owners in pts.items() if len(owners) == 1}
        self._by_ext_id = {
            s.media.mid_extension_id for s in sections.values() if s.media.mid_extension_id
        }
        if self._next_report is None:
            self._next_report = now + self.report_interval / 2
        self._log(
            logging.INFO,
            "media configured: %s",
            ", ".join(f"{m.mid}={m.kind}/{m.direction}" for m in media),
        )

    def section(self, mid: str) -> NegotiatedMedia | None:
        section = self._sections.get(mid)
        return section.media if section is not None else None

    def set_raw(self, mid: str, raw: bool) -> None:
        """Deliver ``mid``'s packets as :class:`MediaRtp` instead of frames."""
        section = self._sections.get(mid)
        if section is not None:
            section.raw = raw

    def _log(self, level: int, message: str, *args: object) -> None:
        logger.log(level, "%s" + message, self.prefix, *args)

    # ------------------------------------------------------------------ sending

    def send_frame(
        self, mid: str, data: bytes, timestamp: int, now: float, *, marker: bool | None = None
    ) -> int:
        """Packetize and queue one encoded frame on ``mid``; returns the packet count.
        Raises ``InvalidStateError`` when we do not send on ``mid``."""
        section = self._sending(mid)
        stream = section.send
        assert stream is not None
        packets = stream.packetize(data, timestamp, marker=marker, extensions=section.extensions)
        for packet in packets:
            self._send_rtp(stream, packet, now)
        section.frames_sent += 1
        return len(packets)

    def send_rtp(self, mid: str, packet: RtpPacket, now: float) -> None:
        """Queue one RTP packet built by the application, on our SSRC of ``mid``
        (its sequence number, timestamp, payload type and marker are kept)."""
        section = self._sending(mid)
        stream = section.send
        assert stream is not None
        packet = replace(
            packet, ssrc=stream.ssrc, extensions=packet.extensions or section.extensions
        )
        self._send_rtp(stream, packet, now)

    def _sending(self, mid: str) -> _Section:
        if self.closed:
            raise InvalidStateError("the media transport is closed")
        section = self._sections.get(mid)
        if section is None or section.send is None:
            raise InvalidStateError(f"we do not send on mid {mid!r}")
        return section

    def _send_rtp(self, stream: SendStream, packet: RtpPacket, now: float) -> None:
        stream.sent(packet, now)
        protected = self.srtp.protect_rtp(packet.serialize())
        if protected is not None:
            self._out.append(protected)

    def request_keyframe(self, mid: str, now: float) -> None:
        """Ask every remote source of ``mid`` for a keyframe (a PLI each)."""
        section = self._sections.get(mid)
        if section is None:
            return
        for receiver in section.receivers.values():
            receiver.jitter.request_keyframe(now)
            self._drain_jitter(section, receiver)
        if not section.receivers and section.media.remote_ssrcs:
            sender = self._rtcp_ssrc(section)
            for ssrc in section.media.remote_ssrcs:
                self._send_rtcp([PictureLossIndication(sender, ssrc)])

    def _rtcp_ssrc(self, section: _Section) -> int:
        return section.send.ssrc if section.send is not None else self._receive_ssrc

    def _send_rtcp(self, packets: list[RtcpPacket]) -> None:
        protected = self.srtp.protect_rtcp(encode_rtcp(packets))
        if protected is not None:
            self._out.append(protected)

    def datagrams_to_send(self) -> list[bytes]:
        out, self._out = self._out, []
        return out

    # ---------------------------------------------------------------- receiving

    def receive(self, data: bytes, now: float) -> None:
        """One SRTP or SRTCP datagram (first byte 128-191)."""
        if self.closed:
            return
        if len(data) >= 2 and 192 <= data[1] <= 223:  # RFC 5761 §4
            plain = self.srtp.unprotect_rtcp(data)
            if plain is not None:
                self._receive_rtcp(plain, now)
            return
        plain = self.srtp.unprotect_rtp(data)
        if plain is None:
            return
        try:
            packet = parse_rtp(plain)
        except ParseError as exc:
            self._drop("unparsable RTP: %s", exc)
            return
        section = self._route(packet)
        if section is None:
            self._drop("RTP for unknown SSRC %08x PT %d", packet.ssrc, packet.payload_type)
            return
        primary_pt = section.rtx_pts.get(packet.payload_type)
        retransmission = primary_pt is not None
        if primary_pt is not None:
            primary = section.rtx_primary.get(packet.ssrc)
            if primary is None and len(section.receivers) == 1:
                primary = next(iter(section.receivers))
            if primary is None:
                self._drop("RTX on SSRC %08x without a known primary", packet.ssrc)
                return
            try:
                packet = unwrap_rtx(packet, primary_pt, primary)
            except ParseError:
                return  # RTX padding probe without an OSN
        codec = section.codecs.get(packet.payload_type)
        if codec is None or not _supported(codec):
            self._drop("RTP with unnegotiated PT %d on mid %s", packet.payload_type, section.mid)
            return
        receiver = section.receivers.get(packet.ssrc)
        if receiver is None or receiver.codec.name != codec.name:
            if receiver is None and len(section.receivers) >= _MAX_SSRCS_PER_MID:
                self._drop("too many SSRCs on mid %s", section.mid)
                return
            receiver = _Receiver(packet.ssrc, codec, self.prefix)
            section.receivers[packet.ssrc] = receiver
            self._by_ssrc[packet.ssrc] = section
            self._log(
                logging.INFO, "mid %s: remote %s source %08x", section.mid, codec.name, packet.ssrc
            )
        receiver.stream.receive(packet, now, retransmission=retransmission)
        if section.raw:
            self._events.append(MediaRtp(section.mid, packet))
            return
        receiver.jitter.receive(packet, now)
        self._drain_jitter(section, receiver)

    def _drop(self, message: str, *args: object) -> None:
        self.rtp_dropped += 1
        self._log(logging.DEBUG, "dropping " + message, *args)

    def _route(self, packet: RtpPacket) -> _Section | None:
        """RFC 8843 §9.2: MID extension, then SSRC, then a payload type unique to a mid."""
        if self._by_ext_id and packet.extensions:
            for ext_id, value in packet.extensions:
                if ext_id in self._by_ext_id:
                    section = self._sections.get(value.decode("ascii", "replace"))
                    if section is not None and section.media.mid_extension_id == ext_id:
                        self._by_ssrc[packet.ssrc] = section
                        return section
        section = self._by_ssrc.get(packet.ssrc)
        if section is not None:
            return section
        return self._by_pt.get(packet.payload_type)

    def _drain_jitter(self, section: _Section, receiver: _Receiver) -> None:
        jitter = receiver.jitter
        while (event := jitter.next_event()) is not None:
            if isinstance(event, FrameReceived):
                self._events.append(MediaFrame(section.mid, event, receiver.codec.name))
            elif isinstance(event, NackRequest):
                receiver.nacks += 1
                nack = GenericNack(self._rtcp_ssrc(section), receiver.ssrc, event.sequence_numbers)
                self._send_rtcp([nack])
            elif isinstance(event, KeyframeRequest):
                receiver.plis += 1
                self._log(logging.DEBUG, "PLI for %08x: %s", receiver.ssrc, event.reason)
                self._send_rtcp([PictureLossIndication(self._rtcp_ssrc(section), receiver.ssrc)])

    def _receive_rtcp(self, data: bytes, now: float) -> None:
        try:
            packets = parse_rtcp(data)
        except ParseError as exc:
            self._log(logging.DEBUG, "dropping unparsable RTCP: %s", exc)
            return
        for packet in packets:
            if isinstance(packet, (SenderReport, ReceiverReport)):
                if isinstance(packet, SenderReport):
                    section = self._by_ssrc.get(packet.ssrc)
                    receiver = section.receivers.get(packet.ssrc) if section else None
                    if receiver is not None:
                        receiver.stream.receive_sender_report(packet, now)
                for block in packet.reports:
                    self._report_block(block.ssrc, block, now)
            elif isinstance(packet, GenericNack):
                section = self._sender_of(packet.media_ssrc)
                if section is not None and section.send is not None:
                    section.nacks_received += 1
                    for resend in section.send.handle_nack(packet, now):
                        protected = self.srtp.protect_rtp(resend.serialize())
                        if protected is not None:
                            self._out.append(protected)
            elif isinstance(packet, PictureLossIndication):
                self._keyframe_asked(packet.media_ssrc)
            elif (
                isinstance(packet, UnknownRtcp)
                and packet.packet_type == _RTCP_PSFB
                and packet.count == _FMT_FIR
                and len(packet.body) >= 12
            ):
                self._keyframe_asked(int.from_bytes(packet.body[8:12], "big"))
            elif isinstance(packet, Bye):
                for ssrc in packet.ssrcs:
                    section = self._by_ssrc.get(ssrc)
                    if section is not None and ssrc in section.receivers:
                        self._log(logging.INFO, "mid %s: BYE from %08x", section.mid, ssrc)
                        del section.receivers[ssrc]
                        if not section.receivers:
                            self._events.append(RemoteSourceEnded(section.mid))

    def _sender_of(self, ssrc: int) -> _Section | None:
        for section in self._sections.values():
            if section.send is not None and section.send.ssrc == ssrc:
                return section
        return None

    def _report_block(self, ssrc: int, block: ReportBlock, now: float) -> None:
        section = self._sender_of(ssrc)
        if section is None or section.send is None:
            return
        section.send.receive_report_block(block, now)
        rtt = section.send.round_trip_time
        if rtt is not None:
            for receiver in section.receivers.values():
                receiver.jitter.set_rtt(rtt)

    def _keyframe_asked(self, ssrc: int) -> None:
        section = self._sender_of(ssrc)
        if section is not None:
            section.plis_received += 1
            self._events.append(KeyframeRequested(section.mid))

    # ------------------------------------------------------------------- timers

    def get_timer(self) -> float | None:
        if self.closed:
            return None
        deadlines = [self._next_report] if self._next_report is not None else []
        for section in self._sections.values():
            for receiver in section.receivers.values():
                deadline = receiver.jitter.get_timer()
                if deadline is not None:
                    deadlines.append(deadline)
        return min(deadlines) if deadlines else None

    def handle_timer(self, now: float) -> None:
        if self.closed:
            return
        for section in self._sections.values():
            for receiver in section.receivers.values():
                deadline = receiver.jitter.get_timer()
                if deadline is not None and deadline <= now:
                    receiver.jitter.handle_timer(now)
                    self._drain_jitter(section, receiver)
        if self._next_report is not None and now >= self._next_report:
            # 0.5-1.5 x the interval (RFC 3550 §6.2 randomisation).
            self._next_report = now + self.report_interval * (0.5 + self.rng.random())
            self._send_reports(now)

    def _send_reports(self, now: float) -> None:
        for section in self._sections.values():
            sender = section.send
            if sender is not None and sender.stats().packets_sent == 0:
                sender = None
            receivers = [r.stream for r in section.receivers.values()]
            if sender is None and not receivers:
                continue
            packets = compound_report(
                ssrc=self._rtcp_ssrc(section),
                cname=section.media.cname,
                now=now,
                wallclock=now,
                sender=sender,
                receivers=receivers,
            )
            self._send_rtcp(packets)

    def close(self) -> None:
        """Send RTCP BYE for our sources (queued for the last flush) and stop."""
        if self.closed:
            return
        ours = tuple(s.send.ssrc for s in self._sections.values() if s.send is not None)
        if ours:
            self._send_rtcp([Bye(ours)])
        self.closed = True

    # -------------------------------------------------------------------- stats

    def stats(self) -> list[MediaStreamStats]:
        out: list[MediaStreamStats] = []
        for section in self._sections.values():
            kind = section.media.kind
            if section.send is not None and section.send_codec is not None:
                out.append(
                    MediaStreamStats(
                        section.mid,
                        kind,
                        "outbound",
                        section.send_codec.name,
                        section.send.ssrc,
                        outbound=section.send.stats(),
                        nacks_received=section.nacks_received,
                        plis_received=section.plis_received,
                        frames_sent=section.frames_sent,
                    )
                )
            for receiver in section.receivers.values():
                out.append(
                    MediaStreamStats(
                        section.mid,
                        kind,
                        "inbound",
                        receiver.codec.name,
                        receiver.ssrc,
                        inbound=receiver.stream.stats(),
                        jitter_buffer=receiver.jitter.stats(),
                        nacks_sent=receiver.nacks,
                        plis_sent=receiver.plis,
                    )
                )
        return out


class MediaMixin:
    """The core's media hooks (mixed into ``PeerConnectionCore``)."""

    media: MediaEngine | None = None

    if False:  # typing only: what the core provides
        events: deque[object]
        _rng: random.Random
        _layer_prefix: str

        @property
        def negotiated_media(self) -> tuple[NegotiatedMedia, ...]: ...

    #: The completed DTLS transport, kept until media is negotiated to key SRTP from.
    _media_dtls: object = None

    def _start_media(self, dtls: object, now: float) -> None:
        """DTLS completed: key SRTP and start the engine once media is negotiated (at once
        if it already is; a data-only connection never builds one)."""
        if self.media is None:
            self._media_dtls = dtls
            self._sync_media(now)

    def _key_media(self, dtls: object, now: float) -> None:
        from ..dtls.transport import DtlsTransport

        if not isinstance(dtls, DtlsTransport):
            return
        self._media_dtls = None
        profile = dtls.selected_srtp_profile
        if profile is None:
            logger.warning("%sno SRTP profile negotiated: media disabled", self._layer_prefix)
            return
        keys = derive_keys(profile, dtls.export_keying_material)
        srtp = SrtpContext(keys, is_client=dtls.is_client, log_prefix=self._layer_prefix)
        mtu: int = getattr(getattr(self, "configuration", None), "mtu", 1200)
        self.media = MediaEngine(
            srtp, self.events, rng=self._rng, mtu=mtu, log_prefix=self._layer_prefix
        )
        logger.info("%sSRTP %s keyed", self._layer_prefix, profile)

    def _sync_media(self, now: float) -> None:
        """Start the engine when media was first negotiated after DTLS completed;
        reconfigure it when offer/answer changed the media sections."""
        media = self.media
        if media is None:
            if self._media_dtls is None or not self.negotiated_media:
                return
            self._key_media(self._media_dtls, now)
            media = self.media
            if media is None:
                return
        if media.negotiated is not self.negotiated_media:
            media.configure(self.negotiated_media, now)

    def _receive_media(self, data: bytes, now: float) -> None:
        media = self.media
        if media is None:
            logger.debug("%sdropping RTP/RTCP before SRTP is keyed", self._layer_prefix)
            return
        media.receive(data, now)
