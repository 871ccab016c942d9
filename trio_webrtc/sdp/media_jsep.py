"""JSEP for audio and video m-sections beside the data channel's.

Implements:

* RFC 9429 §5.2.1-5.2.2 (offers: one m-section per transceiver, m-line order and mids
  kept on re-offers, new transceivers appended), §5.3.1 (answers: offered m-sections
  matched to transceivers by kind in order; unmatched ones rejected with port 0),
  §5.10-5.11 (applying descriptions: the negotiated parameters);
* RFC 3264 §6.1 (answer directions) and RFC 8843 §7 (one BUNDLE group of accepted mids),
  RFC 5761 §5.1.1 (``a=rtcp-mux``), RFC 5506 (``a=rtcp-rsize``);
* RFC 8866 §6.6 (``a=rtpmap``, ``a=fmtp``), RFC 4585 §4.2 (``a=rtcp-fb``; we keep
  ``nack``, ``nack pli``, ``ccm fir`` (RFC 5104) and ``goog-remb``, and drop the rest,
  ``transport-cc`` included), RFC 4588 §8.6 (RTX: ``rtx/<clock>`` + ``apt=``),
  RFC 7587 §7 (Opus), RFC 7741 §6 (VP8), RFC 6184 §8.1-8.2.2 (H.264: packetization-mode 1
  and the profile of ``profile-level-id`` must match; the answer keeps the offer's fmtp);
* RFC 8285 §5 (``a=extmap``): only the MID extension (RFC 9143 / RFC 8843 §15) is offered
  or accepted (the answer echoes the offer's id);
* RFC 5576 §4 (``a=ssrc ... cname:``, ``a=ssrc-group:FID``) and RFC 8830 §2 (``a=msid``)
  for the SSRCs we send.

Pure functions over :mod:`.description` objects; no I/O.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ..errors import SdpParseError
from .description import Attribute, MediaSection, SessionDescription
from .media import (
    MID_EXTENSION_URI,
    Codec,
    Direction,
    MediaKind,
    NegotiatedMedia,
    TransceiverRequest,
)

__all__ = [
    "MEDIA_KINDS",
    "MID_EXTENSION_ID",
    "AnswerPlan",
    "LocalSender",
    "MediaSlot",
    "RemoteMedia",
    "add_media_to_answer",
    "add_media_to_offer",
    "answer_direction",
    "assign_payload_types",
    "match_codecs",
    "negotiate",
    "read_media",
]

logger = logging.getLogger("trio_webrtc.jsep")

MEDIA_KINDS: tuple[str, ...] = ("audio", "video")
RTP_PROTO = "UDP/TLS/RTP/SAVPF"
#: The MID extension id in our offers (libwebrtc's choice too).
MID_EXTENSION_ID = 4
FEEDBACK = ("goog-remb", "ccm fir", "nack", "nack pli")
_DIRECTIONS: tuple[Direction, ...] = ("sendrecv", "sendonly", "recvonly", "inactive")


def _direction(sends: bool, receives: bool) -> Direction:
    if sends:
        return "sendrecv" if receives else "sendonly"
    return "recvonly" if receives else "inactive"


def _sends(direction: str) -> bool:
    return direction in ("sendrecv", "sendonly")


def _receives(direction: str) -> bool:
    return direction in ("sendrecv", "recvonly")


def answer_direction(offered: Direction, wanted: Direction) -> Direction:
    """RFC 3264 §6.1: we send only if the offerer receives, receive only if it sends."""
    return _direction(_sends(wanted) and _receives(offered), _receives(wanted) and _sends(offered))


@dataclass(frozen=True)
class LocalSender:
    """The identifiers we signal for one transceiver (fixed for its lifetime)."""

    ssrc: int
    rtx_ssrc: int
    cname: str
    stream_id: str
    track_id: str


@dataclass(frozen=True)
class MediaSlot:
    """One audio/video m-line of an offer we build.

    ``codecs`` carry payload types. ``sender`` is ``None`` for a section we cannot send
    on; ``port0`` keeps a rejected section in its place.
    """

    mid: str
    kind: MediaKind
    direction: Direction
    codecs: tuple[Codec, ...]
    sender: LocalSender | None
    port0: bool = False


@dataclass(frozen=True)
class RemoteMedia:
    """What one audio/video m-section of a description says."""

    index: int
    mid: str | None
    kind: str
    rejected: bool
    direction: Direction
    codecs: tuple[Codec, ...]
    mid_extension_id: int | None
    ssrcs: tuple[int, ...]
    rtx_pairs: tuple[tuple[int, int], ...]
    cname: str | None
    msid: tuple[str, str] | None
    formats: tuple[str, ...] = field(default=())


def _fmtp_params(fmtp: str | None) -> dict[str, str]:
    params: dict[str, str] = {}
    for item in (fmtp or "").split(";"):
        key, _, value = item.strip().partition("=")
        if key:
            params[key.strip().lower()] = value.strip()
    return params


def read_media(desc: SessionDescription, index: int) -> RemoteMedia:
    """Read m-section ``index`` (audio or video) of ``desc``; malformed codec and SSRC lines
    are skipped (logged), never raised."""
    section = desc.media[index]
    rtpmaps: dict[int, tuple[str, int, int | None]] = {}
    fmtps: dict[int, str] = {}
    feedback: dict[str, list[str]] = {}
    for value in section.get_attributes("rtpmap"):
        pt_text, _, encoding = value.partition(" ")
        parts = encoding.strip().split("/")
        if not pt_text.isdigit() or len(parts) < 2 or not parts[1].isdigit():
            logger.debug("ignoring a=rtpmap:%s", value[:60])
            continue
        channels = int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else None
        rtpmaps[int(pt_text)] = (parts[0], int(parts[1]), channels)
    for value in section.get_attributes("fmtp"):
        pt_text, _, params = value.partition(" ")
        if pt_text.isdigit():
            fmtps[int(pt_text)] = params.strip()
    for value in section.get_attributes("rtcp-fb"):
        pt_text, _, fb = value.partition(" ")
        feedback.setdefault(pt_text, []).append(" ".join(fb.split()))
    rtx_of: dict[int, int] = {}
    for pt, (name, _, _) in rtpmaps.items():
        apt = _fmtp_params(fmtps.get(pt)).get("apt")
        if name.lower() == "rtx" and apt is not None and apt.isdigit():
            rtx_of[int(apt)] = pt
    codecs = []
    for fmt in section.formats:
        if not fmt.isdigit() or int(fmt) not in rtpmaps:
            continue
        pt = int(fmt)
        name, clock, channels = rtpmaps[pt]
        if name.lower() in ("rtx", "red", "ulpfec", "flexfec-03", "cn", "telephone-event"):
            continue
        fbs = tuple(dict.fromkeys(feedback.get(fmt, []) + feedback.get("*", [])))
        codecs.append(Codec(name, clock, channels, pt, fmtps.get(pt), fbs, rtx_of.get(pt)))
    mid_ext = None
    for value in section.get_attributes("extmap"):
        parts = value.split()
        if len(parts) >= 2 and parts[1] == MID_EXTENSION_URI:
            ident = parts[0].split("/")[0]
            if ident.isdigit() and 1 <= int(ident) <= 255:
                mid_ext = int(ident)
    direction: Direction = "sendrecv"
    for name in _DIRECTIONS:
        if section.has_attribute(name):
            direction = name
    ssrcs: list[int] = []
    cname = None
    for value in section.get_attributes("ssrc"):
        ssrc_text, _, rest = value.partition(" ")
        if not ssrc_text.isdigit() or int(ssrc_text) >= 2**32:
            logger.debug("ignoring a=ssrc:%s", value[:60])
            continue
        if int(ssrc_text) not in ssrcs:
            ssrcs.append(int(ssrc_text))
        if rest.startswith("cname:") and cname is None:
            cname = rest[6:].strip()
    pairs: list[tuple[int, int]] = []
    for value in section.get_attributes("ssrc-group"):
        tokens = value.split()
        if len(tokens) == 3 and tokens[0] == "FID" and tokens[1].isdigit() and tokens[2].isdigit():
            pairs.append((int(tokens[1]), int(tokens[2])))
    rtx_ssrcs = {rtx for _, rtx in pairs}
    msid = None
    msid_value = section.get_attribute("msid")
    if msid_value:
        tokens = msid_value.split()
        msid = (tokens[0], tokens[1] if len(tokens) > 1 else "")
    return RemoteMedia(
        index=index,
        mid=section.mid,
        kind=section.kind,
        rejected=section.rejected,
        direction=direction,
        codecs=tuple(codecs),
        mid_extension_id=mid_ext,
        ssrcs=tuple(s for s in ssrcs if s not in rtx_ssrcs),
        rtx_pairs=tuple(pairs),
        cname=cname,
        msid=msid,
        formats=tuple(section.formats),
    )


def _h264_key(codec: Codec) -> tuple[str, str]:
    params = _fmtp_params(codec.fmtp)
    profile = params.get("profile-level-id", "42001f").lower()[:4]
    return params.get("packetization-mode", "0"), profile


def _same_codec(ours: Codec, theirs: Codec) -> bool:
    if ours.name.lower() != theirs.name.lower() or ours.clock_rate != theirs.clock_rate:
        return False
    if ours.name.lower() == "opus" and (theirs.channels or 1) != (ours.channels or 1):
        return False
    if ours.name.lower() == "h264":
        return _h264_key(ours) == _h264_key(theirs)
    return True


def _feedback(ours: Codec, theirs: Codec) -> tuple[str, ...]:
    return tuple(fb for fb in theirs.rtcp_feedback if fb in ours.rtcp_feedback)


def match_codecs(
    offered: Sequence[Codec], ours: Sequence[Codec], *, kind: str
) -> tuple[Codec, ...]:
    """The answer's codecs: offered ones we support, in the offer's order, with the offer's
    payload types and fmtp, rtcp-fb we both support, RTX where offered (video only)."""
    result = []
    for theirs in offered:
        mine = next((c for c in ours if _same_codec(c, theirs)), None)
        if mine is None:
            continue
        rtx = theirs.rtx_payload_type if kind == "video" else None
        result.append(
            Codec(
                mine.name,
                mine.clock_rate,
                mine.channels,
                theirs.payload_type,
                theirs.fmtp,
                _feedback(mine, theirs),
                rtx,
            )
        )
    return tuple(result)


def assign_payload_types(kind: MediaKind, codecs: Sequence[Codec]) -> tuple[Codec, ...]:
    """Give offered codecs payload types: audio from 111 down, video 96 upward with an RTX
    payload type after each (codecs already numbered keep theirs)."""
    used = {c.payload_type for c in codecs} | {c.rtx_payload_type for c in codecs}
    free = iter(
        [pt for pt in (111, *range(110, 95, -1)) if pt not in used]
        if kind == "audio"
        else [pt for pt in (*range(96, 128), *range(35, 64)) if pt not in used and pt != 111]
    )
    result = []
    for codec in codecs:
        pt = codec.payload_type if codec.payload_type is not None else next(free)
        rtx = codec.rtx_payload_type
        if kind == "video" and rtx is None:
            rtx = next(free)
        result.append(
            Codec(
                codec.name,
                codec.clock_rate,
                codec.channels,
                pt,
                codec.fmtp,
                codec.rtcp_feedback if kind == "audio" else codec.rtcp_feedback or FEEDBACK,
                rtx if kind == "video" else None,
            )
        )
    return tuple(result)


def _codec_attributes(codecs: Sequence[Codec]) -> tuple[list[str], list[Attribute]]:
    formats: list[str] = []
    attributes: list[Attribute] = []
    for codec in codecs:
        pt = codec.payload_type
        formats.append(str(pt))
        attributes.append(("rtpmap", f"{pt} {codec.rtpmap}"))
        attributes += [("rtcp-fb", f"{pt} {fb}") for fb in codec.rtcp_feedback]
        if codec.fmtp:
            attributes.append(("fmtp", f"{pt} {codec.fmtp}"))
        if codec.rtx_payload_type is not None:
            rtx = codec.rtx_payload_type
            formats.append(str(rtx))
            attributes.append(("rtpmap", f"{rtx} rtx/{codec.clock_rate}"))
            attributes.append(("fmtp", f"{rtx} apt={pt}"))
    return formats, attributes


def _media_section(
    *,
    kind: str,
    mid: str,
    direction: Direction,
    codecs: Sequence[Codec],
    mid_extension_id: int | None,
    sender: LocalSender | None,
    transport: list[Attribute],
) -> MediaSection:
    formats, codec_attributes = _codec_attributes(codecs)
    attributes = list(transport)
    if mid_extension_id is not None:
        attributes.append(("extmap", f"{mid_extension_id} {MID_EXTENSION_URI}"))
    attributes.append((direction, None))
    rtx = sender is not None and any(c.rtx_payload_type is not None for c in codecs)
    if sender is not None and _sends(direction):
        attributes.append(("msid", f"{sender.stream_id} {sender.track_id}"))
    attributes += [("rtcp-mux", None), ("rtcp-rsize", None)]
    attributes += codec_attributes
    if sender is not None and _sends(direction):
        if rtx:
            attributes.append(("ssrc-group", f"FID {sender.ssrc} {sender.rtx_ssrc}"))
        for ssrc in (sender.ssrc, sender.rtx_ssrc) if rtx else (sender.ssrc,):
            attributes.append(("ssrc", f"{ssrc} cname:{sender.cname}"))
            attributes.append(("ssrc", f"{ssrc} msid:{sender.stream_id} {sender.track_id}"))
    return MediaSection(
        kind=kind,
        port=9,
        proto=RTP_PROTO,
        formats=formats,
        connection="IN IP4 0.0.0.0",
        attributes=attributes,
    )


def _transport(desc: SessionDescription, data_index: int, mid: str) -> list[Attribute]:
    """The data section's transport attributes (ICE, fingerprint, setup), for ``mid``."""
    names = ("ice-ufrag", "ice-pwd", "ice-options", "fingerprint", "setup")
    data = desc.media[data_index]
    return [("mid", mid)] + [(n, v) for n, v in data.attributes if n in names]


_CANDIDATE_ATTRIBUTES = ("candidate", "end-of-candidates")


def _set_bundle(desc: SessionDescription) -> None:
    mids = [s.mid for s in desc.media if s.port != 0 and s.mid]
    desc.attributes = [
        (n, v) for n, v in desc.attributes if not (n == "group" and (v or "").startswith("BUNDLE"))
    ]
    position = 1 if desc.attributes and desc.attributes[0][0] == "ice-lite" else 0
    if mids:
        desc.attributes.insert(position, ("group", " ".join(["BUNDLE", *mids])))


def add_media_to_offer(
    desc: SessionDescription, layout: Sequence[MediaSlot | None]
) -> SessionDescription:
    """Lay out an offer: ``desc`` is a data-channel-only offer (:func:`.jsep.create_offer`);
    ``layout`` lists every m-line in order, ``None`` standing for the data section."""
    data = desc.media[0]
    media: list[MediaSection] = []
    for slot in layout:
        if slot is None:
            media.append(data)
        elif slot.port0:
            media.append(
                MediaSection(
                    kind=slot.kind,
                    port=0,
                    proto=RTP_PROTO,
                    formats=[str(c.payload_type) for c in slot.codecs] or ["0"],
                    connection="IN IP4 0.0.0.0",
                    attributes=[("mid", slot.mid), ("inactive", None)],
                )
            )
        else:
            media.append(
                _media_section(
                    kind=slot.kind,
                    mid=slot.mid,
                    direction=slot.direction,
                    codecs=slot.codecs,
                    mid_extension_id=MID_EXTENSION_ID,
                    sender=slot.sender,
                    transport=_transport(desc, 0, slot.mid),
                )
            )
    desc.media = media
    _set_bundle(desc)
    return desc


@dataclass(frozen=True)
class AnswerPlan:
    """How we answer one offered audio/video m-section (``index`` in the offer)."""

    index: int
    request_index: int
    request: TransceiverRequest
    sender: LocalSender


def add_media_to_answer(
    answer: SessionDescription,
    offer: SessionDescription,
    plans: Sequence[AnswerPlan],
    *,
    transport: Sequence[Attribute] = (),
) -> SessionDescription:
    """Accept the planned m-sections of ``answer`` (built by :func:`.jsep.create_answer`,
    which rejected them all): codecs intersected, RFC 3264 direction, MID extension echoed.
    A section with no codec in common stays rejected. The transport attributes come from
    the answer's data section, or from ``transport`` when it has none (an audio/video-only
    offer; :func:`.jsep.answer_transport`): the first accepted section carries the
    candidates."""
    data_index = next(
        (i for i, s in enumerate(answer.media) if s.port != 0 and s.kind == "application"), None
    )
    if data_index is None and not transport:
        return answer
    first = True
    for plan in plans:
        remote = read_media(offer, plan.index)
        codecs = match_codecs(
            remote.codecs, plan.request.effective_codecs(), kind=plan.request.kind
        )
        if not codecs or remote.mid is None:
            logger.debug("rejecting m-line %d: no codec in common", plan.index)
            continue
        answer.media[plan.index] = _media_section(
            kind=remote.kind,
            mid=remote.mid,
            direction=answer_direction(remote.direction, plan.request.direction),
            codecs=codecs,
            mid_extension_id=remote.mid_extension_id,
            sender=plan.sender,
            transport=(
                _transport(answer, data_index, remote.mid)
                if data_index is not None
                else [("mid", remote.mid)]
                + [a for a in transport if first or a[0] not in _CANDIDATE_ATTRIBUTES]
            ),
        )
        first = False
    bundled = {m for group in offer.bundle_groups for m in group}
    for section in answer.media:
        if section.port != 0 and section.kind != "application" and section.mid not in bundled:
            section.port = 0  # we support only a BUNDLEd transport
    _set_bundle(answer)
    return answer


def negotiate(
    local: SessionDescription,
    remote: SessionDescription,
    *,
    local_is_answer: bool,
    requests: Mapping[str, int],
    cname: str,
) -> tuple[NegotiatedMedia, ...]:
    """The accepted audio/video m-sections of an applied offer/answer pair.

    The answer's codecs and payload types win; a remote answer's codecs must be among our
    offer's (same payload type and name) or :class:`SdpParseError` is raised.
    ``requests`` maps mids to transceiver request indexes.
    """
    result = []
    for index, section in enumerate(local.media):
        if section.kind not in MEDIA_KINDS or index >= len(remote.media):
            continue
        if section.rejected or remote.media[index].rejected:
            continue
        ours, theirs = read_media(local, index), read_media(remote, index)
        if ours.mid is None or theirs.mid != ours.mid or theirs.kind != ours.kind:
            raise SdpParseError(f"m-line {index} does not match between offer and answer")
        answer = ours if local_is_answer else theirs
        if not local_is_answer:
            offered = {c.payload_type: c for c in ours.codecs}
            codecs = []
            for codec in theirs.codecs:
                mine = offered.get(codec.payload_type)
                if mine is None or mine.name.lower() != codec.name.lower():
                    raise SdpParseError(
                        f"answer m-line {index} uses payload type {codec.payload_type} "
                        f"({codec.name}) that the offer did not offer"
                    )
                rtx = codec.rtx_payload_type
                if rtx is not None and rtx != mine.rtx_payload_type:
                    rtx = None
                codecs.append(
                    Codec(
                        mine.name,
                        mine.clock_rate,
                        mine.channels,
                        mine.payload_type,
                        codec.fmtp if codec.fmtp is not None else mine.fmtp,
                        _feedback(mine, codec),
                        rtx,
                    )
                )
            negotiated = tuple(codecs)
        else:
            negotiated = ours.codecs
        if not negotiated:
            continue
        direction = _direction(
            _sends(ours.direction) and _receives(theirs.direction),
            _receives(ours.direction) and _sends(theirs.direction),
        )
        sends = _sends(direction)
        both = ours.mid_extension_id is not None and theirs.mid_extension_id is not None
        mid_ext = answer.mid_extension_id if both else None
        local_rtx = dict(ours.rtx_pairs)
        local_ssrc = ours.ssrcs[0] if sends and ours.ssrcs else None
        result.append(
            NegotiatedMedia(
                mid=ours.mid,
                kind=ours.kind,  # type: ignore[arg-type]
                direction=direction,
                codecs=negotiated,
                mid_extension_id=mid_ext,
                local_ssrc=local_ssrc,
                local_rtx_ssrc=local_rtx.get(local_ssrc) if local_ssrc is not None else None,
                remote_ssrcs=theirs.ssrcs,
                remote_rtx_ssrcs=theirs.rtx_pairs,
                cname=ours.cname or cname,
                request_index=requests.get(ours.mid),
                remote_cname=theirs.cname,
                local_msid=ours.msid if sends else None,
                remote_msid=theirs.msid,
            )
        )
    return tuple(result)
