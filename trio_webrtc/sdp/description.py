"""SDP model and the facts a WebRTC data-channel session needs from it.

Implements:

* RFC 8866 §5 (SDP grammar: ``v= o= s= c= t= m= a=`` and the other line types, kept
  verbatim) and §9 (the ``<type>=<value>`` line syntax, accepting LF or CRLF);
* RFC 8841 §4.1, §5 and §6 (``UDP/DTLS/SCTP``/``TCP/DTLS/SCTP`` protos, ``a=sctp-port``,
  ``a=max-message-size``) and the legacy ``DTLS/SCTP`` + ``a=sctpmap`` form
  (draft-ietf-mmusic-sctp-sdp-05 §5) still sent by old stacks;
* RFC 8839 §5.3-5.6 (``a=ice-ufrag``, ``a=ice-pwd``, ``a=ice-lite``, ``a=ice-options``,
  ``a=candidate`` kept as strings, ``a=end-of-candidates``);
* RFC 8122 §5 (``a=fingerprint``) and RFC 4145 §4 / RFC 8842 §5 (``a=setup``);
* RFC 8843 §7 (``a=group:BUNDLE``, offerer-tagged m-section fallbacks).

Parsing is bounded (64 KiB, 1000 lines, 64 m-sections) and raises only
:class:`~trio_webrtc.errors.SdpParseError`, for any input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..errors import SdpParseError

__all__ = [
    "MAX_MEDIA_SECTIONS",
    "MAX_SDP_BYTES",
    "MAX_SDP_LINES",
    "Attribute",
    "DataChannelDescription",
    "MediaSection",
    "Origin",
    "SessionDescription",
    "check_ice_credentials",
    "datachannel_sctp_port",
    "is_token",
    "parse_fingerprint",
]

MAX_SDP_BYTES = 64 * 1024
MAX_SDP_LINES = 1000
MAX_MEDIA_SECTIONS = 64

#: ``(name, value)``; value is ``None`` for a flag attribute (``a=ice-lite``) and the text
#: after the first colon otherwise (``a=msid-semantic: WMS`` has value ``" WMS"``).
Attribute = tuple[str, str | None]

_TOKEN = re.compile(r"[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+")
_PROTO = re.compile(r"[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+(?:/[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+)*")
_DIGITS = re.compile(r"[0-9]{1,20}")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_HEX_FINGERPRINT = re.compile(r"[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){0,127}")
_ICE_CHARS = re.compile(r"[A-Za-z0-9+/]+")

# RFC 8866 §5 fixes the order of line types; lines we keep verbatim ("extra" lines) are
# stored sorted by these ranks so that serialize() emits a grammatical order and
# parse(serialize(x)) == x.  Unknown type letters go just before the attributes.
_SESSION_RANK = {"i": 3, "u": 4, "e": 5, "p": 6, "b": 8, "t": 9, "r": 9, "z": 10, "k": 11}
_SESSION_UNKNOWN_RANK = 12
_SESSION_CONNECTION_RANK = 7
_SESSION_TIMING_RANK = 9
_MEDIA_RANK = {"i": 1, "c": 2, "b": 3, "k": 4}
_MEDIA_UNKNOWN_RANK = 5
_MEDIA_CONNECTION_RANK = 2

DATACHANNEL_PROTOS = ("UDP/DTLS/SCTP", "TCP/DTLS/SCTP")
LEGACY_DATACHANNEL_PROTOS = ("DTLS/SCTP", "UDP/DTLS/SCTP", "TCP/DTLS/SCTP")
SETUP_VALUES = ("actpass", "active", "passive", "holdconn")


def _find_values(attributes: list[Attribute], name: str) -> list[str | None]:
    wanted = name.lower()
    return [value for key, value in attributes if key.lower() == wanted]


class _AttributeMixin:
    """Lookup helpers over an ordered ``attributes`` list (names compared case-blind)."""

    attributes: list[Attribute]

    def get_attribute(self, name: str) -> str | None:
        """Value of the first ``a=name``; ``None`` if absent or a flag without value."""
        values = _find_values(self.attributes, name)
        return values[0] if values else None

    def get_attributes(self, name: str) -> list[str]:
        """Values of every ``a=name:value`` in order (flags without value give ``""``)."""
        return [value or "" for value in _find_values(self.attributes, name)]

    def has_attribute(self, name: str) -> bool:
        """Whether ``a=name`` appears, with or without a value."""
        return bool(_find_values(self.attributes, name))


@dataclass(frozen=True)
class Origin:
    """The ``o=`` line (RFC 8866 §5.2)."""

    username: str = "-"
    session_id: int = 0
    session_version: int = 0
    nettype: str = "IN"
    addrtype: str = "IP4"
    address: str = "127.0.0.1"

    def serialize(self) -> str:
        return (
            f"{self.username} {self.session_id} {self.session_version} "
            f"{self.nettype} {self.addrtype} {self.address}"
        )


@dataclass
class MediaSection(_AttributeMixin):
    """One ``m=`` section (RFC 8866 §5.14) with everything that follows it.

    ``connection`` is the first ``c=`` value (``"IN IP4 0.0.0.0"``); ``extra_lines`` keeps
    the other non-attribute lines (``i= b= k=``, further ``c=``, unknown types) verbatim as
    ``(type, value)``.
    """

    kind: str
    port: int
    proto: str
    formats: list[str] = field(default_factory=list)
    port_count: int | None = None
    connection: str | None = None
    attributes: list[Attribute] = field(default_factory=list)
    extra_lines: list[tuple[str, str]] = field(default_factory=list)

    @property
    def mid(self) -> str | None:
        """The ``a=mid`` value (RFC 9143 §4), or ``None``."""
        return self.get_attribute("mid")

    @property
    def rejected(self) -> bool:
        """Port 0 without ``a=bundle-only`` (RFC 8843 §6) means the section is rejected."""
        return self.port == 0 and not self.has_attribute("bundle-only")

    def _lines(self) -> list[str]:
        port = str(self.port) if self.port_count is None else f"{self.port}/{self.port_count}"
        head = " ".join([self.kind, port, self.proto, *self.formats])
        lines = [f"m={head}"]
        lines += [f"{t}={v}" for t, v in self.extra_lines if _media_rank(t) < 2]
        if self.connection is not None:
            lines.append(f"c={self.connection}")
        lines += [f"{t}={v}" for t, v in self.extra_lines if _media_rank(t) >= 2]
        lines += [_attribute_line(name, value) for name, value in self.attributes]
        return lines


@dataclass
class SessionDescription(_AttributeMixin):
    """A whole session description (RFC 8866 §5).

    ``timing`` is the first ``t=`` line; ``extra_lines`` keeps every other session-level
    line that is not ``v= o= s= c= a=`` verbatim (``i= u= e= p= b= r= z= k=``, further
    ``t=``, unknown types), sorted into RFC 8866 order.
    """

    version: int = 0
    origin: Origin = field(default_factory=Origin)
    session_name: str = "-"
    connection: str | None = None
    timing: tuple[int, int] = (0, 0)
    attributes: list[Attribute] = field(default_factory=list)
    media: list[MediaSection] = field(default_factory=list)
    extra_lines: list[tuple[str, str]] = field(default_factory=list)

    @property
    def bundle_groups(self) -> list[tuple[str, ...]]:
        """The mids of each ``a=group:BUNDLE`` line (RFC 8843 §7), in order."""
        groups = []
        for value in self.get_attributes("group"):
            tokens = value.split()
            if tokens and tokens[0] == "BUNDLE":
                groups.append(tuple(tokens[1:]))
        return groups

    def media_by_mid(self, mid: str) -> MediaSection | None:
        """The first m-section whose ``a=mid`` is ``mid``."""
        for section in self.media:
            if section.mid == mid:
                return section
        return None

    def serialize(self) -> str:
        """The description as SDP text with CRLF line ends."""
        lines = [f"v={self.version}", f"o={self.origin.serialize()}", f"s={self.session_name}"]
        extras = self.extra_lines
        lines += [f"{t}={v}" for t, v in extras if _session_rank(t) < _SESSION_CONNECTION_RANK]
        if self.connection is not None:
            lines.append(f"c={self.connection}")
        lines += [
            f"{t}={v}"
            for t, v in extras
            if _SESSION_CONNECTION_RANK <= _session_rank(t) < _SESSION_TIMING_RANK
        ]
        lines.append(f"t={self.timing[0]} {self.timing[1]}")
        lines += [f"{t}={v}" for t, v in extras if _session_rank(t) >= _SESSION_TIMING_RANK]
        lines += [_attribute_line(name, value) for name, value in self.attributes]
        for section in self.media:
            lines += section._lines()
        return "\r\n".join(lines) + "\r\n"

    def __str__(self) -> str:
        return self.serialize()

    @classmethod
    def parse(cls, text: str) -> SessionDescription:
        """Parse SDP text (LF or CRLF line ends); raise :class:`SdpParseError` if malformed.

        Unknown line types and attributes are kept. Blank lines are skipped.
        """
        return _Parser(text).parse()


def _session_rank(line_type: str) -> int:
    return _SESSION_RANK.get(line_type, _SESSION_UNKNOWN_RANK)


def _media_rank(line_type: str) -> int:
    return _MEDIA_RANK.get(line_type, _MEDIA_UNKNOWN_RANK)


def _attribute_line(name: str, value: str | None) -> str:
    return f"a={name}" if value is None else f"a={name}:{value}"


def _parse_int(text: str, what: str, line: int, maximum: int | None = None) -> int:
    if not _DIGITS.fullmatch(text):
        raise SdpParseError(f"line {line}: {what} must be a decimal integer, got {text[:40]!r}")
    number = int(text)
    if maximum is not None and number > maximum:
        raise SdpParseError(f"line {line}: {what} {number} is out of range (max {maximum})")
    return number


def _check_token(text: str, what: str, line: int) -> str:
    if not _TOKEN.fullmatch(text):
        raise SdpParseError(f"line {line}: invalid {what} {text[:40]!r}")
    return text


class _Parser:
    """One parse of one text; every failure is an :class:`SdpParseError`."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.desc = SessionDescription()
        self.section: MediaSection | None = None
        self.seen: set[str] = set()

    def parse(self) -> SessionDescription:
        lines = self._split()
        if not lines:
            raise SdpParseError("empty SDP")
        number, line_type, value = lines[0]
        if line_type != "v":
            raise SdpParseError(f"line {number}: SDP must start with 'v=', got '{line_type}='")
        for number, line_type, value in lines:
            if self.section is None:
                self._session_line(number, line_type, value)
            else:
                self._media_line(self.section, number, line_type, value)
        for required in ("o", "s"):
            if required not in self.seen:
                raise SdpParseError(f"missing mandatory '{required}=' line")
        self.desc.extra_lines.sort(key=lambda item: _session_rank(item[0]))
        for section in self.desc.media:
            section.extra_lines.sort(key=lambda item: _media_rank(item[0]))
        return self.desc

    def _split(self) -> list[tuple[int, str, str]]:
        text = self.text
        if not isinstance(text, str):
            raise SdpParseError(f"SDP must be str, not {type(text).__name__}")
        if len(text) > MAX_SDP_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_SDP_BYTES:
            raise SdpParseError(f"SDP is larger than {MAX_SDP_BYTES} bytes")
        if text.count("\n") > MAX_SDP_LINES:
            raise SdpParseError(f"SDP has more than {MAX_SDP_LINES} lines")
        lines = []
        for number, raw in enumerate(text.split("\n"), 1):
            line = raw[:-1] if raw.endswith("\r") else raw
            if not line.strip(" \t"):
                continue
            if len(line) < 2 or line[1] != "=" or not ("a" <= line[0] <= "z"):
                raise SdpParseError(
                    f"line {number}: expected '<letter>=<value>', got {line[:40]!r}"
                )
            value = line[2:]
            if _CONTROL.search(value):
                raise SdpParseError(f"line {number}: control character in {line[:40]!r}")
            lines.append((number, line[0], value))
        return lines

    def _once(self, number: int, line_type: str) -> None:
        if line_type in self.seen:
            raise SdpParseError(f"line {number}: duplicate '{line_type}=' line")
        self.seen.add(line_type)

    def _session_line(self, number: int, line_type: str, value: str) -> None:
        desc = self.desc
        if line_type == "v":
            self._once(number, "v")
            desc.version = _parse_int(value, "version", number)
            if desc.version != 0:
                raise SdpParseError(f"line {number}: unsupported SDP version {desc.version}")
        elif line_type == "o":
            self._once(number, "o")
            desc.origin = self._origin(number, value)
        elif line_type == "s":
            self._once(number, "s")
            desc.session_name = value
        elif line_type == "c":
            self._once(number, "c")
            desc.connection = self._connection(number, value)
        elif line_type == "t" and "t" not in self.seen:
            self._once(number, "t")
            parts = value.split()
            if len(parts) != 2:
                raise SdpParseError(f"line {number}: 't=' needs '<start> <stop>', got {value!r}")
            desc.timing = (
                _parse_int(parts[0], "start time", number),
                _parse_int(parts[1], "stop time", number),
            )
        elif line_type == "a":
            desc.attributes.append(self._attribute(number, value))
        elif line_type == "m":
            self._media(number, value)
        else:
            desc.extra_lines.append((line_type, value))

    def _media_line(self, section: MediaSection, number: int, line_type: str, value: str) -> None:
        if line_type == "a":
            section.attributes.append(self._attribute(number, value))
        elif line_type == "m":
            self._media(number, value)
        elif line_type == "c" and section.connection is None:
            section.connection = self._connection(number, value)
        elif line_type in "vostrz":
            raise SdpParseError(f"line {number}: '{line_type}=' is not allowed in a media section")
        else:
            section.extra_lines.append((line_type, value))

    @staticmethod
    def _origin(number: int, value: str) -> Origin:
        parts = value.split()
        if len(parts) != 6:
            raise SdpParseError(
                f"line {number}: 'o=' needs 6 fields "
                f"(username sess-id sess-version nettype addrtype address), got {len(parts)}"
            )
        return Origin(
            username=parts[0],
            session_id=_parse_int(parts[1], "session id", number),
            session_version=_parse_int(parts[2], "session version", number),
            nettype=_check_token(parts[3], "network type", number),
            addrtype=_check_token(parts[4], "address type", number),
            address=parts[5],
        )

    @staticmethod
    def _connection(number: int, value: str) -> str:
        parts = value.split()
        if len(parts) != 3:
            raise SdpParseError(
                f"line {number}: 'c=' needs '<nettype> <addrtype> <address>', got {value!r}"
            )
        return " ".join(parts)

    @staticmethod
    def _attribute(number: int, value: str) -> Attribute:
        name, sep, rest = value.partition(":")
        _check_token(name, "attribute name", number)
        return (name, rest if sep else None)

    def _media(self, number: int, value: str) -> None:
        if len(self.desc.media) >= MAX_MEDIA_SECTIONS:
            raise SdpParseError(f"line {number}: more than {MAX_MEDIA_SECTIONS} m-sections")
        parts = value.split()
        if len(parts) < 3:
            raise SdpParseError(
                f"line {number}: 'm=' needs '<media> <port> <proto> <fmt>...', got {value!r}"
            )
        if not _PROTO.fullmatch(parts[2]):
            raise SdpParseError(f"line {number}: invalid transport protocol {parts[2][:40]!r}")
        port_text, slash, count_text = parts[1].partition("/")
        port = _parse_int(port_text, "port", number, 65535)
        port_count = _parse_int(count_text, "port count", number) if slash else None
        section = MediaSection(
            kind=_check_token(parts[0], "media type", number),
            port=port,
            proto=parts[2],
            formats=parts[3:],
            port_count=port_count,
        )
        self.desc.media.append(section)
        self.section = section


def is_token(text: str) -> bool:
    """Whether ``text`` is an RFC 8866 ``token`` (the syntax of names and mids)."""
    return _TOKEN.fullmatch(text) is not None


def parse_fingerprint(value: str) -> tuple[str, str]:
    """Parse an ``a=fingerprint`` value (RFC 8122 §5) to ``(algorithm, HEX)``.

    The algorithm is lower-cased, the colon-separated hex upper-cased.
    """
    parts = value.split()
    if len(parts) != 2 or not _TOKEN.fullmatch(parts[0]):
        raise SdpParseError(f"a=fingerprint needs '<hash-func> <hex:hex:...>', got {value[:80]!r}")
    if not _HEX_FINGERPRINT.fullmatch(parts[1]):
        raise SdpParseError(f"a=fingerprint value is not colon-separated hex: {parts[1][:80]!r}")
    return parts[0].lower(), parts[1].upper()


def check_ice_credentials(ufrag: str, pwd: str) -> str | None:
    """Why ``ufrag``/``pwd`` break RFC 8839 §5.4 (4-256 / 22-256 ice-chars), or ``None``."""
    if not (4 <= len(ufrag) <= 256 and _ICE_CHARS.fullmatch(ufrag)):
        return f"ice-ufrag {ufrag[:40]!r} must be 4-256 characters of [A-Za-z0-9+/]"
    if not (22 <= len(pwd) <= 256 and _ICE_CHARS.fullmatch(pwd)):
        return "ice-pwd must be 22-256 characters of [A-Za-z0-9+/]"
    return None


def datachannel_sctp_port(section: MediaSection) -> tuple[bool, int] | None:
    """``(legacy, sctp_port)`` if ``section`` offers WebRTC data channels, else ``None``.

    Recognises RFC 8841 ``m=application <port> UDP/DTLS/SCTP webrtc-datachannel`` (and
    ``TCP/DTLS/SCTP``), whose SCTP port is ``a=sctp-port`` (default 5000), and the legacy
    ``m=application <port> DTLS/SCTP <sctp-port>`` with ``a=sctpmap:<sctp-port>
    webrtc-datachannel <streams>``. Raises :class:`SdpParseError` for a bad port number.
    """
    if section.kind.lower() != "application":
        return None
    proto = section.proto.upper()
    if proto in DATACHANNEL_PROTOS and "webrtc-datachannel" in section.formats:
        value = section.get_attribute("sctp-port")
        if value is None:
            return (False, 5000)
        return (False, _sctp_port(value))
    if proto in LEGACY_DATACHANNEL_PROTOS:
        formats = section.formats
        for value in section.get_attributes("sctpmap"):
            tokens = value.split()
            if len(tokens) >= 2 and tokens[1] == "webrtc-datachannel" and tokens[0] in formats:
                return (True, _sctp_port(tokens[0]))
    return None


def _sctp_port(text: str) -> int:
    if not _DIGITS.fullmatch(text.strip()) or not 0 < int(text) <= 65535:
        raise SdpParseError(f"invalid SCTP port {text[:40]!r}")
    return int(text)


@dataclass(frozen=True)
class DataChannelDescription:
    """What a data-channel session needs from a session description.

    ``mid`` is ``""`` when the section has no ``a=mid``. ``setup`` is ``"actpass"`` when
    absent. ``max_message_size`` is ``None`` when absent (RFC 8841 §6.1: assume 64 KiB);
    ``0`` means the peer has no limit. ``bundle_mids`` is the BUNDLE group holding
    ``mid`` (or ``()``).
    """

    mid: str
    mline_index: int
    ice_ufrag: str
    ice_pwd: str
    ice_lite: bool
    ice_options: tuple[str, ...]
    fingerprints: tuple[tuple[str, str], ...]
    setup: str
    sctp_port: int
    max_message_size: int | None
    candidates: tuple[str, ...]
    end_of_candidates: bool
    legacy_sctpmap: bool
    bundle_mids: tuple[str, ...]

    @classmethod
    def from_session(
        cls, desc: SessionDescription, *, require_data: bool = True
    ) -> DataChannelDescription:
        """Extract the first usable data-channel m-section of ``desc``.

        Attributes missing from the m-section are taken from the BUNDLE group's tagged
        (first) m-section, then from session level. Raises :class:`SdpParseError` when no
        non-rejected data-channel section exists or ICE credentials/fingerprints are
        missing or malformed. With ``require_data=False`` a description without one (audio
        and video only) yields its first accepted audio/video section as the transport,
        with ``sctp_port`` 0: no data channel negotiated.
        """
        found = None
        for index, section in enumerate(desc.media):
            kind = None if section.rejected else datachannel_sctp_port(section)
            if kind is not None:
                found = (index, section, kind)
                break
        if found is None and not require_data:
            for index, section in enumerate(desc.media):
                if not section.rejected and section.kind in ("audio", "video"):
                    found = (index, section, (False, 0))
                    break
        if found is None:
            raise SdpParseError("no usable data-channel (m=application ... SCTP) section")
        index, section, (legacy, sctp_port) = found

        mid = section.mid or ""
        if mid and not _TOKEN.fullmatch(mid):
            raise SdpParseError(f"invalid a=mid {mid[:40]!r}")
        bundle: tuple[str, ...] = ()
        if mid:
            bundle = next((g for g in desc.bundle_groups if mid in g), ())
        # Lookup chain: this m-section, the BUNDLE-tagged m-section, the session.
        chain: list[_AttributeMixin] = [section]
        if bundle and bundle[0] != mid:
            tagged = desc.media_by_mid(bundle[0])
            if tagged is not None:
                chain.append(tagged)
        chain.append(desc)

        def first(name: str) -> str | None:
            for holder in chain:
                if holder.has_attribute(name):
                    return holder.get_attribute(name) or ""
            return None

        ufrag, pwd = first("ice-ufrag"), first("ice-pwd")
        if ufrag is None or pwd is None:
            raise SdpParseError("data-channel section has no a=ice-ufrag/a=ice-pwd")
        problem = check_ice_credentials(ufrag, pwd)
        if problem is not None:
            raise SdpParseError(problem)

        fingerprints: tuple[tuple[str, str], ...] = ()
        for holder in chain:
            values = holder.get_attributes("fingerprint")
            if values:
                fingerprints = tuple(parse_fingerprint(v) for v in values)
                break
        if not fingerprints:
            raise SdpParseError("data-channel section has no a=fingerprint")

        setup = (first("setup") or "actpass").strip().lower()
        if setup not in SETUP_VALUES:
            raise SdpParseError(f"invalid a=setup {setup[:40]!r}")

        max_size_text = section.get_attribute("max-message-size")
        max_message_size = None
        if max_size_text is not None:
            if not _DIGITS.fullmatch(max_size_text.strip()):
                raise SdpParseError(f"invalid a=max-message-size {max_size_text[:40]!r}")
            max_message_size = int(max_size_text)

        candidate_holder: _AttributeMixin = section
        if not section.has_attribute("candidate") and len(chain) == 3:
            candidate_holder = chain[1]
        candidates = tuple("candidate:" + v for v in candidate_holder.get_attributes("candidate"))
        end_of_candidates = candidate_holder.has_attribute(
            "end-of-candidates"
        ) or desc.has_attribute("end-of-candidates")

        return cls(
            mid=mid,
            mline_index=index,
            ice_ufrag=ufrag,
            ice_pwd=pwd,
            ice_lite=any(holder.has_attribute("ice-lite") for holder in chain),
            ice_options=tuple((first("ice-options") or "").split()),
            fingerprints=fingerprints,
            setup=setup,
            sctp_port=sctp_port,
            max_message_size=max_message_size,
            candidates=candidates,
            end_of_candidates=end_of_candidates,
            legacy_sctpmap=legacy,
            bundle_mids=bundle,
        )
