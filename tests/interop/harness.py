"""Interop harness: drive trio_webrtc against a peer running in another process.

The peer protocol
=================

A *peer* is any program started as::

    PEER --role offer|answer [--no-trickle]

It speaks **newline-delimited JSON** (one UTF-8 JSON object per line, ``\\n``-terminated,
flushed after every line) on stdin (driver -> peer) and stdout (peer -> driver). stderr is
free-form log output (the driver saves it and shows it when a case fails). Unknown message
types are ignored by both sides. The peer exits 0 after ``bye``, or when stdin reaches EOF.

Signaling (both directions)
---------------------------
* ``{"type": "offer", "sdp": S}`` / ``{"type": "answer", "sdp": S}`` -- a full session
  description. The ``--role offer`` peer sends its offer first, unprompted, as soon as it is
  started (after creating its channels, see below); the ``--role answer`` peer waits for
  the offer and replies with its answer.
* ``{"type": "candidate", "candidate": "candidate:...", "sdpMid": "0", "sdpMLineIndex": 0}``
  -- one trickled ICE candidate (the attribute value, *without* the ``a=`` prefix).
  ``"candidate": ""`` means end-of-candidates. A peer sends candidates only after its own
  description was sent.
* Trickle: by default a peer trickles its local candidates as ``candidate`` messages (and
  may also have some in its SDP). With ``--no-trickle`` it waits until gathering is
  complete and embeds every candidate in the SDP it sends, sending no ``candidate``
  messages at all. **Either way a peer must accept trickled remote candidates** (and
  candidates embedded in the remote SDP). A peer ignores remote candidates whose address
  is not ``127.0.0.1`` (e.g. ``.local`` mDNS names) and must itself only use loopback.

Channels
--------
* The offerer creates, before making its offer, three in-band (DCEP) channels:
  ``"echo"`` (reliable, ordered), ``"unordered"`` (``ordered: false``, reliable) and
  ``"unreliable"`` (``ordered: false, maxRetransmits: 0``).
* **Both** sides create ``"neg"`` with ``negotiated: true, id: 3`` (reliable, ordered)
  before their description is created.
* The answerer receives ``echo``, ``unordered`` and ``unreliable`` through
  ``ondatachannel``.
* Every peer echoes every message received on any channel back on the same channel,
  unchanged: text stays text, binary stays binary, empty text stays empty text, empty
  binary stays empty binary.

Peer -> driver
--------------
* ``{"type": "ready"}`` -- once, when all four of its channels (echo, unordered,
  unreliable, neg) are open.
* ``{"type": "state", "state": S}`` -- each connection-state change, lower-case W3C
  names: ``new``, ``connecting``, ``connected``, ``disconnected``, ``failed``, ``closed``.
* ``{"type": "channel_closed", "label": L}`` -- once per channel, when that channel of
  the peer reached ``closed`` (whoever closed it).

Driver -> peer
--------------
* ``{"type": "close_channel", "label": L}`` -- the peer closes its channel ``L``.
* ``{"type": "close"}`` -- the peer closes its peer connection (it must still report
  ``channel_closed`` for its channels that close as a result, and keep reading stdin).
* ``{"type": "bye"}`` -- finish: close everything and exit 0.

Typical run (driver = trio_webrtc as answerer)::

    peer -> {"type":"offer","sdp":"v=0..."}
    driver -> {"type":"answer","sdp":"v=0..."}
    peer <-> {"type":"candidate",...} ... {"type":"candidate","candidate":"",...}
    peer -> {"type":"state","state":"connecting"} ... {"type":"state","state":"connected"}
    peer -> {"type":"ready"}
    (driver sends messages; the peer echoes them)
    driver -> {"type":"close_channel","label":"unordered"}
    peer -> {"type":"channel_closed","label":"unordered"}
    driver -> {"type":"close"}  (or the driver closes its own connection)
    peer -> {"type":"channel_closed","label":"echo"} ...
    driver -> {"type":"bye"}; the peer exits 0

The trio side
=============
``open_peer_process(argv)`` starts a peer and gives a :class:`PeerProcess` (JSON lines
both ways, every wait bounded, stderr to a log file whose tail is in every failure,
killed on exit). ``run_interop_case(peer_argv, our_role=..., trickle=..., face=...,
closer=...)`` runs one whole case through either face of trio_webrtc (adapters in
``faces.py``), asserting as it goes, and returns an :class:`InteropResult`, a row of the
matrix in ``docs/interop.md``. Every peer must process its stdin messages in order,
finishing each (e.g. applying a description) before reading the next.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import random
import re
import subprocess
import tempfile
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio
from faces import WAIT, Chan, Face, InteropError, open_face

__all__ = [
    "InteropError",
    "InteropResult",
    "PeerProcess",
    "echo_messages",
    "embed_candidates",
    "open_peer_process",
    "peer_max_message_size",
    "run_interop_case",
]

logger = logging.getLogger("trio_webrtc.interop")

DEFAULT_MAX_MESSAGE_SIZE = 65536  # RFC 8841 §6.1: when a=max-message-size is absent
OUR_MAX_MESSAGE_SIZE = 262144  # trio_webrtc's default a=max-message-size
ECHO_MESSAGES = 1000
SIDE_MESSAGES = 30
IN_BAND = ("echo", "unordered", "unreliable")
LABELS = (*IN_BAND, "neg")
NEGOTIATED_ID = 3
_STDERR_TAIL = 80  # lines of the peer's stderr shown when a case fails


# --------------------------------------------------------------------------- process


class PeerProcess:
    """A running peer: JSON lines to its stdin, JSON lines from its stdout, logged stderr."""

    def __init__(self, process: trio.Process, argv: Sequence[str], log_path: Path) -> None:
        self.process = process
        self.argv = list(argv)
        self.log_path = log_path
        self.history: list[dict[str, Any]] = []
        self.eof = False
        self.first_message_at: float | None = None  # trio.current_time() of the first
        self._lot = trio.lowlevel.ParkingLot()

    def stderr_tail(self, lines: int = _STDERR_TAIL) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def fail(self, what: str) -> InteropError:
        code = self.process.returncode
        return InteropError(
            f"{what} (peer {self.argv[-3:]} returncode={code}; log {self.log_path})\n"
            f"--- peer stderr (tail) ---\n{self.stderr_tail()}"
        )

    async def send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        data = (json.dumps(message) + "\n").encode()
        try:
            with trio.fail_after(WAIT):
                await self.process.stdin.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise self.fail(f"peer gone while sending {message.get('type')}") from exc
        except trio.TooSlowError as exc:
            raise self.fail(f"peer not reading (sending {message.get('type')})") from exc

    async def _read(self) -> None:
        assert self.process.stdout is not None
        buffer = b""
        try:
            async for chunk in self.process.stdout:
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    if not line.strip():
                        continue
                    try:
                        message = json.loads(line)
                    except ValueError:
                        logger.warning("[interop] peer wrote a non-JSON line: %r", line[:200])
                        continue
                    if isinstance(message, dict):
                        logger.debug("[interop] peer -> %s", str(message)[:200])
                        self.history.append(message)
                        if self.first_message_at is None:
                            self.first_message_at = trio.current_time()
                self._lot.unpark_all()
        finally:
            self.eof = True
            self._lot.unpark_all()

    async def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], what: str, timeout: float = WAIT
    ) -> dict[str, Any]:
        """The first message (in all history) matching ``predicate``, waiting for it."""
        index = 0
        with trio.move_on_after(timeout):
            while True:
                while index < len(self.history):
                    message = self.history[index]
                    index += 1
                    if predicate(message):
                        return message
                if self.eof:
                    raise self.fail(f"peer exited while waiting for {what}")
                await self._lot.park()
        raise self.fail(f"timed out after {timeout:g} s waiting for {what}")

    async def request(self, kind: str, what: str) -> dict[str, Any]:
        """Send ``{"type": kind}`` and return the next ``kind`` message after it (a peer
        that answers requests of that type, e.g. aiortc_media_peer's ``report``)."""
        seen = sum(1 for m in self.history if m.get("type") == kind)
        await self.send({"type": kind})
        count = 0

        def next_one(message: dict[str, Any]) -> bool:
            nonlocal count
            if message.get("type") != kind:
                return False
            count += 1
            return count == seen + 1

        return await self.wait_for(next_one, what)

    async def messages(self) -> AsyncIterator[dict[str, Any]]:
        """Every message, from the first, as they arrive (ends at EOF)."""
        index = 0
        while True:
            while index < len(self.history):
                index += 1
                yield self.history[index - 1]
            if self.eof:
                return
            await self._lot.park()

    def has(self, kind: str, **fields: object) -> bool:
        return any(
            m.get("type") == kind and all(m.get(k) == v for k, v in fields.items())
            for m in self.history
        )

    @property
    def states(self) -> list[str]:
        return [str(m.get("state")) for m in self.history if m.get("type") == "state"]

    async def finish(self) -> int | None:
        """Say bye and wait (bounded) for a clean exit; kill otherwise."""
        if self.process.returncode is None:
            with suppress(InteropError):
                await self.send({"type": "bye"})
            with trio.move_on_after(5):
                await self.process.wait()
        return self.process.returncode


@asynccontextmanager
async def open_peer_process(
    argv: Sequence[str], *, log_dir: Path | None = None
) -> AsyncIterator[PeerProcess]:
    """Start a peer process; it is killed (if still running) when the block exits."""
    directory = log_dir or Path(tempfile.mkdtemp(prefix="interop-"))
    directory.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="peer-", suffix=".log", dir=directory)
    log_path = Path(name)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    try:
        process = await trio.lowlevel.open_process(
            list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=fd, env=env
        )
    finally:
        os.close(fd)
    peer = PeerProcess(process, argv, log_path)
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(peer._read)
            try:
                yield peer
            finally:
                if process.returncode is None:
                    process.kill()
                with trio.move_on_after(5) as scope:
                    scope.shield = True
                    await process.wait()
                nursery.cancel_scope.cancel()
    finally:
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                with trio.CancelScope(shield=True):
                    await stream.aclose()


# ---------------------------------------------------------------------------- the case


@dataclass
class InteropResult:
    """One case's outcome: a row of the matrix in ``docs/interop.md``."""

    peer: str
    our_role: str
    trickle: bool
    face: str
    closer: str
    setup_seconds: float = math.nan
    echo_messages: int = 0
    echo_bytes: int = 0
    max_message_size: int = 0
    our_states: list[str] = field(default_factory=list)
    peer_states: list[str] = field(default_factory=list)
    after_peer_close: str = ""  # our state once the peer closed its connection

    def row(self) -> str:
        return (
            f"| {self.peer} | {self.face} | {self.our_role} | "
            f"{'trickle' if self.trickle else 'in SDP'} | {self.closer} | "
            f"{self.setup_seconds * 1000:.0f} ms | {self.echo_messages} "
            f"({self.echo_bytes / 1e6:.1f} MB) | {'→'.join(self.our_states)} | "
            f"{self.after_peer_close or '-'} |"
        )


def peer_max_message_size(sdp: str) -> int:
    """``a=max-message-size`` of an SDP (RFC 8841 §6), 65536 when absent, 0 = no limit."""
    match = re.search(r"^a=max-message-size:(\d+)\s*$", sdp, re.MULTILINE)
    return int(match.group(1)) if match else DEFAULT_MAX_MESSAGE_SIZE


def embed_candidates(sdp: str, candidates: Sequence[str]) -> str:
    """Put gathered candidates and end-of-candidates into an SDP (non-trickle signaling).

    Data-channel sessions have one media section, so the lines go at its end.
    """
    lines = [line for line in sdp.splitlines() if line and line != "a=end-of-candidates"]
    present = {line[2:] for line in lines if line.startswith("a=candidate:")}
    lines += [f"a={value}" for value in candidates if value not in present]
    lines.append("a=end-of-candidates")
    return "\r\n".join(lines) + "\r\n"


def echo_messages(count: int, max_size: int, rng: random.Random) -> list[bytes | str]:
    """``count`` messages of mixed kinds up to ``max_size`` bytes, deterministic per rng.

    Empty text, empty binary, non-ASCII and astral-plane text, text with NUL, binary of
    1 byte up to exactly ``max_size`` (sizes log-uniform up to ``max_size / 8`` plus four
    messages of the maximum size, so the total stays about 2 MB),
    and text of exactly ``max_size`` UTF-8 bytes.
    """

    def random_text(length: int) -> str:
        chars = []
        for _ in range(length):
            plane = rng.random()
            if plane < 0.5:
                chars.append(chr(rng.randrange(0x20, 0x7F)))
            elif plane < 0.8:
                code = rng.randrange(0xA0, 0xFFFE)
                chars.append(chr(code) if not 0xD800 <= code < 0xE000 else "ß")
            else:
                chars.append(chr(rng.randrange(0x10000, 0x10FFFF)))
        return "".join(chars)

    def log_size() -> int:  # log-uniform up to max/8: the exact maximum comes separately
        top = math.log(max(2, max_size // 8))
        return max(1, min(max_size, int(math.exp(rng.uniform(0, top)))))

    kinds: list[Callable[[], bytes | str]] = [
        lambda: "",
        lambda: b"",
        lambda: "héllo wörld — ✓ Ω ☃",
        lambda: "😀🎉𝄞🀄" * rng.randrange(1, 50),
        lambda: "nul\x00inside\x00" + "\x00" * rng.randrange(0, 3),
        lambda: rng.randbytes(1),
        lambda: rng.randbytes(log_size()),
        lambda: random_text(rng.randrange(1, 300)),
        lambda: rng.randbytes(log_size()),
        lambda: rng.randbytes(rng.randrange(2, 1500)),
    ]
    messages = [kinds[i % len(kinds)]() for i in range(count)]
    if count >= 10:
        messages[count // 2] = rng.randbytes(max_size)
        messages[count // 2 + 1] = "é" * (max_size // 2) + "x" * (max_size % 2)
        messages[count // 2 + 2] = rng.randbytes(max_size - 1)
        messages[-1] = b"\x00" * max_size
    return messages


def _kind(value: bytes | str) -> str:
    return "text" if isinstance(value, str) else "binary"


async def _echo_round(chan: Chan, messages: Sequence[bytes | str], ordered: bool) -> None:
    """Send ``messages`` on ``chan`` while receiving their echo; compare."""
    received: list[bytes | str] = []

    async def sender() -> None:
        for message in messages:
            await chan.send(message)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(sender)
        with trio.move_on_after(WAIT * 3) as scope:
            while len(received) < len(messages):
                received.append(await chan.receive())
        if scope.cancelled_caught:
            raise InteropError(
                f"{chan.label!r}: {len(received)} of {len(messages)} echoes came back"
            )
    if ordered:
        for index, (sent, got) in enumerate(zip(messages, received, strict=True)):
            if type(sent) is not type(got) or sent != got:
                raise InteropError(
                    f"{chan.label!r} message {index}: sent {_kind(sent)} of {len(sent)} "
                    f"({sent[:40]!r}), got {_kind(got)} of {len(got)} ({got[:40]!r})"
                )
    else:

        def key(value: bytes | str) -> tuple[str, bytes | str]:
            return (_kind(value), value)

        if Counter(map(key, messages)) != Counter(map(key, received)):
            raise InteropError(f"{chan.label!r}: the echoed multiset differs from the sent one")


async def _wait_our_state(us: Face, wanted: Sequence[str], what: str) -> None:
    with trio.move_on_after(WAIT):
        while us.state_history[-1] not in wanted:
            await trio.sleep(0.005)
        return
    raise InteropError(f"timed out waiting for {what}: {us.state_history}")


def _is_channel_closed(message: dict[str, Any], label: str) -> bool:
    return message.get("type") == "channel_closed" and message.get("label") == label


def _first_leaf(exc: BaseException) -> BaseException:
    """The first non-group exception inside (nested) exception groups."""
    while getattr(exc, "exceptions", None):  # BaseExceptionGroup (exceptiongroup on 3.10)
        exc = exc.exceptions[0]  # type: ignore[attr-defined]
    return exc


def _check_states(states: Sequence[str], who: str, *, ends_closed: bool) -> None:
    order = ["new", "connecting", "connected", "disconnected", "closed"]
    if "failed" in states:
        raise InteropError(f"{who} went FAILED: {states}")
    if "connected" not in states:
        raise InteropError(f"{who} never CONNECTED: {states}")
    positions = [order.index(state) for state in states]
    if positions != sorted(positions) or len(set(states)) != len(states):
        raise InteropError(f"{who}: state sequence out of order: {states}")
    if ends_closed and states[-1] != "closed":
        raise InteropError(f"{who} did not end CLOSED: {states}")


async def run_interop_case(
    peer_argv: Sequence[str],
    *,
    our_role: str,
    trickle: bool,
    face: str,
    closer: str = "us",
    peer_name: str = "peer",
    log_dir: Path | None = None,
    seed: int = 5,
) -> InteropResult:
    """Run one whole case against the peer started by ``peer_argv`` (see module docs)."""
    assert our_role in ("offer", "answer") and closer in ("us", "peer")
    their_role = "answer" if our_role == "offer" else "offer"
    argv = [*peer_argv, "--role", their_role] + ([] if trickle else ["--no-trickle"])
    result = InteropResult(peer_name, our_role, trickle, face, closer)
    name = f"{peer_name}-{face}-{our_role}-{'t' if trickle else 'n'}"
    try:
        async with (
            open_peer_process(argv, log_dir=log_dir) as peer,
            open_face(face, name) as us,
        ):
            try:
                await _run(
                    peer, us, result, our_role=our_role, trickle=trickle, closer=closer, seed=seed
                )
            except Exception as exc:
                leaf = _first_leaf(exc)
                if isinstance(leaf, InteropError) and "--- peer stderr" in str(leaf):
                    raise leaf from exc
                what = "" if isinstance(leaf, InteropError) else f"{type(leaf).__name__}: "
                raise peer.fail(f"{what}{leaf}") from exc
            code = await peer.finish()
            if code != 0:
                raise peer.fail(f"peer exit status {code}")
    except Exception as exc:
        leaf = _first_leaf(exc)  # unwrap the nurseries' exception groups
        if leaf is not exc and isinstance(leaf, InteropError):
            raise leaf from None
        raise
    result.peer_states = peer.states
    return result


async def _run(
    peer: PeerProcess,
    us: Face,
    result: InteropResult,
    *,
    our_role: str,
    trickle: bool,
    closer: str,
    seed: int,
) -> None:
    # Setup time: from when both sides have started (our first channel, the peer's first
    # message: its process start-up is not ours to count) until every channel is open.
    started = trio.current_time()
    ours: dict[str, Chan] = {}
    if our_role == "offer":
        ours["echo"] = us.create_channel("echo")
        ours["unordered"] = us.create_channel("unordered", ordered=False)
        ours["unreliable"] = us.create_channel("unreliable", ordered=False, max_retransmits=0)
    ours["neg"] = us.create_channel("neg", negotiated=True, id=NEGOTIATED_ID)

    async def send_description(kind: str, sdp: str) -> None:
        if not trickle:
            sdp = embed_candidates(sdp, await us.wait_candidates_done())
        await peer.send({"type": kind, "sdp": sdp})

    # Signaling: descriptions first, then candidates both ways as they come.
    if our_role == "offer":
        await send_description("offer", await us.create_offer())
        answer = await peer.wait_for(lambda m: m.get("type") == "answer", "the answer")
        remote_sdp = answer["sdp"]
        await us.accept_answer(remote_sdp)
    else:
        offer = await peer.wait_for(lambda m: m.get("type") == "offer", "the offer")
        remote_sdp = offer["sdp"]
        await send_description("answer", await us.accept_offer(remote_sdp))

    async def forward_ours() -> None:
        sent = 0
        while True:
            while sent < len(us.candidates):
                value = us.candidates[sent]
                sent += 1
                await peer.send(
                    {
                        "type": "candidate",
                        "candidate": value or "",
                        "sdpMid": "0",
                        "sdpMLineIndex": 0,
                    }
                )
                if value is None:
                    return
            await trio.sleep(0.005)

    async def forward_theirs() -> None:
        async for message in peer.messages():
            if message.get("type") == "candidate":
                value = str(message.get("candidate") or "")
                if value.startswith("a="):
                    value = value[2:]
                if value and value.split()[4:5] != ["127.0.0.1"]:
                    logger.info("[%s] dropping non-loopback candidate %s", us.name, value)
                    continue
                mid = str(message.get("sdpMid") or "0")
                await us.add_candidate(value, mid, int(message.get("sdpMLineIndex") or 0))

    async with trio.open_nursery() as nursery:
        if trickle:
            nursery.start_soon(forward_ours)
        nursery.start_soon(forward_theirs)

        # Channels open, ours and theirs.
        for label in IN_BAND if our_role == "answer" else ():
            ours[label] = await us.wait_incoming(label)
        for chan in ours.values():
            await chan.wait_state(["open"], "did not open")
        await peer.wait_for(lambda m: m.get("type") == "ready", "the peer's channels to open")
        result.setup_seconds = trio.current_time() - max(started, peer.first_message_at or 0)
        if ours["unordered"].ordered or ours["unreliable"].ordered or not ours["echo"].ordered:
            raise InteropError("channel ordering not carried by DCEP")
        if ours["unreliable"].max_retransmits != 0 or ours["echo"].max_retransmits is not None:
            raise InteropError("maxRetransmits not carried by DCEP")

        # 1,000 mixed messages on echo; 30 each on unordered and unreliable.
        # Up to the peer's max-message-size; the echo must also fit ours (262144).
        limit = min(peer_max_message_size(remote_sdp) or OUR_MAX_MESSAGE_SIZE, OUR_MAX_MESSAGE_SIZE)
        rng = random.Random(f"{result.face}-{result.our_role}-{seed}")
        messages = echo_messages(ECHO_MESSAGES, limit, rng)
        await _echo_round(ours["echo"], messages, ordered=True)
        result.echo_messages = len(messages)
        result.echo_bytes = sum(len(m.encode() if isinstance(m, str) else m) for m in messages)
        result.max_message_size = limit
        for label in ("unordered", "unreliable"):
            side = [f"{label}-{i}" if i % 2 else rng.randbytes(i + 1) for i in range(SIDE_MESSAGES)]
            await _echo_round(ours[label], side, ordered=False)

        # Our close of neg reaches the peer; the peer's close of unordered reaches us.
        ours["neg"].close()
        await peer.wait_for(
            lambda m: m.get("type") == "channel_closed" and m.get("label") == "neg",
            "the peer to see neg closed",
        )
        await ours["neg"].wait_state(["closed"], "did not close after our close()")
        await peer.send({"type": "close_channel", "label": "unordered"})
        await ours["unordered"].wait_state(["closed"], "did not close after the peer's close")
        with trio.fail_after(WAIT):
            try:
                extra = await ours["unordered"].receive()
            except trio.EndOfChannel:
                pass
            else:
                raise InteropError(f"message {extra!r} on unordered after its close")
        await peer.wait_for(
            lambda m: m.get("type") == "channel_closed" and m.get("label") == "unordered",
            "the peer to report unordered closed",
        )

        # Closing one peer connection ends every channel on both sides.
        if closer == "us":
            us.close()
        else:
            await peer.send({"type": "close"})
        for label in ("echo", "unreliable"):
            await ours[label].wait_state(["closed"], f"still open after {closer} closed")
            await peer.wait_for(
                functools.partial(_is_channel_closed, label=label),
                f"the peer to report {label} closed after {closer} closed",
            )
        ended = ("closed", "failed", "disconnected")
        await _wait_our_state(us, ended, f"our connection to end after {closer} closed")
        if closer == "peer":
            result.after_peer_close = us.state_history[-1]
            us.close()
            await _wait_our_state(us, ("closed",), "our connection to close")
        nursery.cancel_scope.cancel()
    result.our_states = list(us.state_history)
    _check_states(result.our_states, "our connection", ends_closed=closer == "us")
    _check_states(peer.states, "the peer's connection", ends_closed=False)
