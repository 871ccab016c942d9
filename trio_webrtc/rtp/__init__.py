"""RTP and RTCP for WebRTC media, sans-I/O (RFC 3550, 3551, 4585, 4588, 5506, 5761, 8285).

Layer map (each module's docstring names its sections):

* :mod:`.packet` — the RTP header codec with RFC 8285 header extensions, and
  sequence-number/timestamp arithmetic (RFC 3550 §5.1, §5.3.1, A.1).
* :mod:`.rtcp` — compound and reduced-size RTCP: SR, RR, SDES, BYE, Generic NACK, PLI,
  REMB (RFC 3550 §6, RFC 4585 §6, RFC 5506).
* :mod:`.codecs` (the payload-format interface, Opus RFC 7587), :mod:`.vp8` (RFC 7741),
  :mod:`.h264` (RFC 6184 packetization-mode 1) — packetizers and depacketizers.
* :mod:`.retransmit` — the send-side retransmission buffer and RTX (RFC 4588 §4).
* :mod:`.jitter` — the receive-side jitter buffer: reordering, NACK and PLI generation,
  frame reassembly with a bounded delay; :mod:`.events` — what it reports.
* :mod:`.stream` — per-SSRC statistics and SR/RR report blocks (RFC 3550 §6.4, A.3, A.8).

Nothing here touches sockets, clocks or SRTP keys: packets are plain RTP/RTCP bytes and
time is the caller's ``now``. SRTP protection, SDP transceivers and the Trio face are
built on top of this package (see ``docs/media.md``).
"""

from __future__ import annotations

from .codecs import DepacketizedFrame, OpusPayloadFormat, PayloadFormat
from .events import FrameReceived, JitterEvent, KeyframeRequest, NackRequest
from .h264 import H264PayloadFormat
from .jitter import JitterBuffer, JitterStats
from .packet import RtpPacket, Unwrapper, parse_rtp, seq_distance, seq_newer, ts_distance
from .retransmit import RetransmissionBuffer, RtxConfig, unwrap_rtx, wrap_rtx
from .rtcp import (
    Bye,
    GenericNack,
    PictureLossIndication,
    ReceiverEstimatedMaxBitrate,
    ReceiverReport,
    ReportBlock,
    RtcpPacket,
    SdesChunk,
    SenderReport,
    SourceDescription,
    UnknownRtcp,
    encode_rtcp,
    is_rtcp,
    parse_rtcp,
)
from .stream import (
    ReceiveStream,
    ReceiveStreamStats,
    SendStream,
    SendStreamStats,
    compound_report,
)
from .vp8 import Vp8PayloadDescriptor, Vp8PayloadFormat

__all__ = [
    "Bye",
    "DepacketizedFrame",
    "FrameReceived",
    "GenericNack",
    "H264PayloadFormat",
    "JitterBuffer",
    "JitterEvent",
    "JitterStats",
    "KeyframeRequest",
    "NackRequest",
    "OpusPayloadFormat",
    "PayloadFormat",
    "PictureLossIndication",
    "ReceiveStream",
    "ReceiveStreamStats",
    "ReceiverEstimatedMaxBitrate",
    "ReceiverReport",
    "ReportBlock",
    "RetransmissionBuffer",
    "RtcpPacket",
    "RtpPacket",
    "RtxConfig",
    "SdesChunk",
    "SendStream",
    "SendStreamStats",
    "SenderReport",
    "SourceDescription",
    "UnknownRtcp",
    "Unwrapper",
    "Vp8PayloadDescriptor",
    "Vp8PayloadFormat",
    "compound_report",
    "encode_rtcp",
    "is_rtcp",
    "parse_rtcp",
    "parse_rtp",
    "seq_distance",
    "seq_newer",
    "ts_distance",
    "unwrap_rtx",
    "wrap_rtx",
]
