"""Audio/video negotiation records: codecs, transceiver requests and negotiation results.

The contract between the SDP side (:mod:`.media_jsep`, which builds and answers audio and
video m-sections) and the media engine (``trio_webrtc.core.media``), which consumes:

* :class:`Codec` — one negotiated codec: rtpmap (RFC 8866 §6.6), fmtp, rtcp-fb
  (RFC 4585 §4.2) and its RTX payload type (RFC 4588 §8.6, ``a=fmtp:<rtx> apt=<pt>``).
  Opus is RFC 7587 §7 (``opus/48000/2``), VP8 RFC 7741 §6, H.264 RFC 6184 §8.1
  (packetization-mode 1 only).
* :class:`TransceiverRequest` — what the application asked for
  (``PeerConnectionCore.add_transceiver(request) -> request_index``).
* :class:`NegotiatedMedia` — one accepted audio/video m-section after a complete
  offer/answer: ``PeerConnectionCore.negotiated_media`` and the ``MediaNegotiated``
  event (``trio_webrtc.core.events``) queued whenever signaling goes stable with media.
  All of them share the BUNDLE transport (RFC 8843) with rtcp-mux (RFC 5761); packets
  are demultiplexed by SSRC (RFC 8843 §9.2, ``remote_ssrcs``), then by the MID header
  extension (RFC 9143 / RFC 8843 §15, ``mid_extension_id``), then by payload type.

Pure values: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "MID_EXTENSION_URI",
    "Codec",
    "Direction",
    "MediaKind",
    "NegotiatedMedia",
    "TransceiverRequest",
    "default_codecs",
]

MediaKind = Literal["audio", "video"]
Direction = Literal["sendrecv", "sendonly", "recvonly", "inactive"]

#: RFC 9143 §14 / RFC 8843 §15: the MID RTP header extension.
MID_EXTENSION_URI = "urn:ietf:params:rtp-hdrext:sdes:mid"

#: rtcp-fb values we implement (RFC 4585 nack and pli, RFC 5104 fir) or accept (REMB).
SUPPORTED_FEEDBACK = ("nack", "nack pli", "ccm fir", "goog-remb")


@dataclass(frozen=True)
class Codec:
    """A codec as offered or negotiated; ``payload_type`` is set once negotiated."""

    name: str  # "opus", "VP8", "H264" (rtx is expressed by rtx_payload_type)
    clock_rate: int
    channels: int | None = None  # 2 for opus
    payload_type: int | None = None
    fmtp: str | None = None
    rtcp_feedback: tuple[str, ...] = ()  # "nack", "nack pli", "ccm fir", "goog-remb", ...
    rtx_payload_type: int | None = None

    @property
    def rtpmap(self) -> str:
        """The ``a=rtpmap`` encoding: ``name/clock_rate[/channels]``."""
        if self.channels is not None:
            return f"{self.name}/{self.clock_rate}/{self.channels}"
        return f"{self.name}/{self.clock_rate}"


_VIDEO_FEEDBACK = ("goog-remb", "ccm fir", "nack", "nack pli")


def default_codecs(kind: MediaKind) -> tuple[Codec, ...]:
    """Our codecs in preference order, without payload types.

    Audio: Opus 48000/2 (``minptime=10;useinbandfec=1``). Video: VP8, then H.264
    packetization-mode 1 Constrained Baseline 3.1 (``42e01f``); both with
    nack, nack pli, ccm fir and goog-remb. Offers give every video codec an RTX payload
    type (RFC 4588); audio has none.
    """
    if kind == "audio":
        return (Codec("opus", 48000, 2, fmtp="minptime=10;useinbandfec=1"),)
    if kind == "video":
        return (
            Codec("VP8", 90000, rtcp_feedback=_VIDEO_FEEDBACK),
            Codec(
                "H264",
                90000,
                fmtp="level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
                rtcp_feedback=_VIDEO_FEEDBACK,
            ),
        )
    raise ValueError(f"media kind must be 'audio' or 'video', not {kind!r}")


@dataclass(frozen=True)
class TransceiverRequest:
    """What the application asked for via add_track/add_transceiver.

    ``codecs`` empty means :func:`default_codecs`. Payload types in ``codecs`` are
    ignored: offers assign their own (and RTX for every video codec).
    """

    kind: MediaKind
    direction: Direction = "sendrecv"
    codecs: tuple[Codec, ...] = ()

    def effective_codecs(self) -> tuple[Codec, ...]:
        return self.codecs or default_codecs(self.kind)


@dataclass(frozen=True)
class NegotiatedMedia:
    """One accepted audio/video m-section after offer/answer (RFC 9429 §5.10-5.11).

    ``direction`` is OUR direction (``sendonly``: we send, the peer does not). ``codecs``
    are in preference order with the payload types of the answer (the same numbers are
    used both ways); ``rtx_payload_type`` is set where RTX was negotiated. SSRCs: ours
    from our description (``None`` when we do not send), the peer's primaries and
    ``(primary, rtx)`` pairs from its ``a=ssrc`` / ``a=ssrc-group:FID`` (RFC 5576) lines;
    empty when the peer signals none (demultiplex by MID/PT then).
    """

    mid: str
    kind: MediaKind
    direction: Direction
    codecs: tuple[Codec, ...]
    mid_extension_id: int | None
    local_ssrc: int | None
    local_rtx_ssrc: int | None
    remote_ssrcs: tuple[int, ...]
    remote_rtx_ssrcs: tuple[tuple[int, int], ...]
    cname: str
    request_index: int | None
    #: The peer's CNAME (RFC 7022) from a=ssrc ... cname:, or None.
    remote_cname: str | None = None
    #: The MediaStream id and track id we signalled in a=msid (RFC 8830).
    local_msid: tuple[str, str] | None = None
    #: The peer's a=msid stream and track ids, or None.
    remote_msid: tuple[str, str] | None = None

    @property
    def sends(self) -> bool:
        return self.direction in ("sendrecv", "sendonly")

    @property
    def receives(self) -> bool:
        return self.direction in ("sendrecv", "recvonly")
