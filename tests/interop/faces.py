"""Our side of an interop case, through either face of trio_webrtc.

``open_face("trio" | "godot", name)`` gives a :class:`Face`: offer/answer, local
candidates (``None`` = end-of-candidates), incoming channels, and :class:`Chan` objects
with awaitable ``send``/``receive``. The Trio face is used as documented
(``PeerConnection`` bound to 127.0.0.1); the Godot face is driven the way a Godot game
drives it: a frame loop calls ``poll()`` (signals fire there), reads every waiting packet
with ``get_packet()``, and sends with ``put_packet()`` (retrying next frame on ERR_BUSY).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import trio

from trio_webrtc import PeerConnection
from trio_webrtc.core import ConnectionState, ConnectionStateChanged

WAIT = 10.0  # seconds: the bound on every single wait


class InteropError(AssertionError):
    """A case failed; raised from the harness with the peer's stderr tail."""


# ----------------------------------------------------------------------------- faces
#
# One small adapter per face so that one case runs through either: ``Face`` gives
# offer/answer, candidates and channels; ``Chan`` gives awaitable send/receive and state.


class Chan:
    label: str
    ordered: bool
    max_retransmits: int | None

    async def send(self, message: bytes | str) -> None:
        raise NotImplementedError

    async def receive(self) -> bytes | str:
        """Next message; raises ``trio.EndOfChannel`` once the peer closed it."""
        raise NotImplementedError

    def state(self) -> str:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    async def wait_state(self, wanted: Sequence[str], what: str) -> None:
        with trio.move_on_after(WAIT):
            while self.state() not in wanted:
                await trio.sleep(0.005)
            return
        raise InteropError(f"our channel {self.label!r}: {what}; state {self.state()}")


class _RecordingPeerConnection(PeerConnection):
    """The Trio face, also recording every connection-state change it is told of."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.state_history = [ConnectionState.NEW.name.lower()]

    def _on_event(self, event: object) -> None:
        if isinstance(event, ConnectionStateChanged):
            self.state_history.append(event.state.name.lower())
        super()._on_event(event)


class _TrioChan(Chan):
    def __init__(self, channel: Any) -> None:
        self.channel = channel
        self.label = channel.label
        self.ordered = channel.ordered
        self.max_retransmits = channel.max_retransmits

    async def send(self, message: bytes | str) -> None:
        await self.channel.send(message)

    async def receive(self) -> bytes | str:
        result: bytes | str = await self.channel.receive()
        return result

    def state(self) -> str:
        return str(self.channel.state.name.lower())

    def close(self) -> None:
        self.channel.close()


class Face:
    """What the case needs from trio_webrtc, whichever face runs it."""

    name: str
    state_history: list[str]
    candidates: list[str | None]  # our local candidates; None = end-of-candidates
    incoming: dict[str, Chan]

    def create_channel(self, label: str, **options: Any) -> Chan:
        raise NotImplementedError

    async def create_offer(self) -> str:
        raise NotImplementedError

    async def accept_offer(self, sdp: str) -> str:
        raise NotImplementedError

    async def accept_answer(self, sdp: str) -> None:
        raise NotImplementedError

    async def add_candidate(self, candidate: str, sdp_mid: str, index: int) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    async def wait_candidates_done(self) -> list[str]:
        with trio.move_on_after(WAIT):
            while None not in self.candidates:
                await trio.sleep(0.005)
            return [c for c in self.candidates if c is not None]
        raise InteropError(f"{self.name}: gathering did not complete")

    async def wait_incoming(self, label: str) -> Chan:
        with trio.move_on_after(WAIT):
            while label not in self.incoming:
                await trio.sleep(0.005)
            return self.incoming[label]
        raise InteropError(f"{self.name}: the peer's channel {label!r} never arrived")


class TrioFace(Face):
    def __init__(self, pc: _RecordingPeerConnection, nursery: trio.Nursery) -> None:
        self.pc = pc
        self.name = pc.name
        self.candidates = []
        self.incoming = {}
        nursery.start_soon(self._collect_candidates)
        nursery.start_soon(self._accept_channels)

    @property
    def state_history(self) -> list[str]:  # type: ignore[override]
        return self.pc.state_history

    async def _collect_candidates(self) -> None:
        async for candidate in self.pc.local_candidates():
            self.candidates.append(candidate.candidate)
        self.candidates.append(None)

    async def _accept_channels(self) -> None:
        while True:
            try:
                channel = await self.pc.accept_channel()
            except (trio.ClosedResourceError, trio.BrokenResourceError):  # ours or the peer's close
                return
            self.incoming[channel.label] = _TrioChan(channel)

    def create_channel(self, label: str, **options: Any) -> Chan:
        return _TrioChan(self.pc.create_data_channel(label, **options))

    async def create_offer(self) -> str:
        return await self.pc.create_offer()

    async def accept_offer(self, sdp: str) -> str:
        return await self.pc.accept_offer(sdp)

    async def accept_answer(self, sdp: str) -> None:
        await self.pc.accept_answer(sdp)

    async def add_candidate(self, candidate: str, sdp_mid: str, index: int) -> None:
        await self.pc.add_ice_candidate(candidate or None, sdp_mid, index)

    def close(self) -> None:
        self.pc.close()


class _GodotChan(Chan):
    """A Godot channel read by the game loop: ``get_packet()`` each frame into ``inbox``."""

    def __init__(self, channel: Any) -> None:
        self.channel = channel
        self.label = channel.get_label()
        self.ordered = channel.is_ordered()
        retransmits = channel.get_max_retransmits()
        self.max_retransmits = None if retransmits == 65535 else retransmits
        self.inbox: list[bytes | str] = []
        self._read = 0

    def drain(self) -> None:
        """What a game does each frame: read every waiting packet."""
        while self.channel.get_available_packet_count():
            data = self.channel.get_packet()
            if self.channel.was_string_packet():
                self.inbox.append(data.decode("utf-8", "surrogatepass"))
            else:
                self.inbox.append(data)

    async def send(self, message: bytes | str) -> None:
        from trio_webrtc.godot import Error, WebRTCDataChannel

        if isinstance(message, str):
            self.channel.write_mode = WebRTCDataChannel.WRITE_MODE_TEXT
            data = message.encode("utf-8", "surrogatepass")
        else:
            self.channel.write_mode = WebRTCDataChannel.WRITE_MODE_BINARY
            data = message
        with trio.move_on_after(WAIT):
            while True:
                error = self.channel.put_packet(data)
                if error == Error.OK:
                    return
                if error != Error.ERR_BUSY:
                    raise InteropError(f"put_packet on {self.label!r}: {error.name}")
                await trio.sleep(0.002)  # send buffer full: try again next frame
        raise InteropError(f"put_packet on {self.label!r} stayed ERR_BUSY")

    async def receive(self) -> bytes | str:
        while self._read >= len(self.inbox):
            if self.state() == "closed":
                self.drain()
                if self._read >= len(self.inbox):
                    raise trio.EndOfChannel
            await trio.sleep(0.002)
        self._read += 1
        return self.inbox[self._read - 1]

    def state(self) -> str:
        return str(self.channel.get_ready_state().name.removeprefix("STATE_").lower())

    def close(self) -> None:
        self.channel.close()


class GodotFace(Face):
    """The Godot face, driven as a game does: ``poll()`` and packet reads every frame."""

    FRAME = 1 / 250  # seconds; a fast game loop (everything also works at 1/60)

    def __init__(self, pc: Any, nursery: trio.Nursery) -> None:
        from trio_webrtc.godot import WebRTCPeerConnection

        self.pc = pc
        self.name = pc.name
        self.candidates = []
        self.incoming = {}
        self.state_history = []
        self.channels: list[_GodotChan] = []
        self._descriptions: list[tuple[str, str]] = []
        self._complete_frame: int | None = None
        self._frame = 0
        self._Pc = WebRTCPeerConnection
        pc.session_description_created.connect(self._on_description)
        pc.ice_candidate_created.connect(self._on_candidate)
        pc.data_channel_received.connect(self._on_channel)
        nursery.start_soon(self._game_loop)

    def _on_description(self, sdp_type: str, sdp: str) -> None:
        error = self.pc.set_local_description(sdp_type, sdp)
        if error:
            raise InteropError(f"set_local_description({sdp_type}): {error!r}")
        self._descriptions.append((sdp_type, sdp))

    def _on_candidate(self, media: str, index: int, name: str) -> None:
        self.candidates.append(name)

    def _on_channel(self, channel: Any) -> None:
        chan = _GodotChan(channel)
        self.channels.append(chan)
        self.incoming[chan.label] = chan

    async def _game_loop(self) -> None:
        while True:
            self.pc.poll()
            self._frame += 1
            state = self.pc.get_connection_state().name.removeprefix("STATE_").lower()
            if not self.state_history or self.state_history[-1] != state:
                self.state_history.append(state)
            # Godot signals no end-of-candidates: gathering COMPLETE means the candidates
            # queued so far are all; they are emitted by the next poll().
            complete = self.pc.get_gathering_state() == self._Pc.GATHERING_STATE_COMPLETE
            if complete and self._complete_frame is None:
                self._complete_frame = self._frame
            elif self._complete_frame is not None and None not in self.candidates:
                self.candidates.append(None)
            for chan in self.channels:
                chan.drain()
            await trio.sleep(self.FRAME)

    async def _description(self, sdp_type: str) -> str:
        with trio.move_on_after(WAIT):
            while True:
                for kind, sdp in self._descriptions:
                    if kind == sdp_type:
                        return sdp
                await trio.sleep(0.002)
        raise InteropError(f"{self.name}: no {sdp_type} created")

    def create_channel(self, label: str, **options: Any) -> Chan:
        config: dict[str, Any] = {}
        for key, godot_key in (
            ("ordered", "ordered"),
            ("max_retransmits", "maxRetransmits"),
            ("negotiated", "negotiated"),
            ("id", "id"),
        ):
            if key in options:
                config[godot_key] = options[key]
        channel = self.pc.create_data_channel(label, config)
        if channel is None:
            raise InteropError(f"create_data_channel({label!r}, {config}) failed")
        chan = _GodotChan(channel)
        self.channels.append(chan)
        return chan

    async def create_offer(self) -> str:
        error = self.pc.create_offer()
        if error:
            raise InteropError(f"create_offer: {error!r}")
        return await self._description("offer")

    async def accept_offer(self, sdp: str) -> str:
        error = self.pc.set_remote_description("offer", sdp)
        if error:
            raise InteropError(f"set_remote_description(offer): {error!r}")
        return await self._description("answer")

    async def accept_answer(self, sdp: str) -> None:
        error = self.pc.set_remote_description("answer", sdp)
        if error:
            raise InteropError(f"set_remote_description(answer): {error!r}")

    async def add_candidate(self, candidate: str, sdp_mid: str, index: int) -> None:
        error = self.pc.add_ice_candidate(sdp_mid, index, candidate)
        if error:
            raise InteropError(f"add_ice_candidate({candidate!r}): {error!r}")

    def close(self) -> None:
        self.pc.close()


@asynccontextmanager
async def open_face(face: str, name: str) -> AsyncIterator[Face]:
    """Our side, through the Trio face or the Godot face, bound to 127.0.0.1."""
    config = {"bindAddress": "127.0.0.1", "iceServers": []}
    async with trio.open_nursery() as nursery:
        if face == "trio":
            recording = _RecordingPeerConnection(config, name=name)
            async with recording:
                yield TrioFace(recording, nursery)
                nursery.cancel_scope.cancel()
        elif face == "godot":
            from trio_webrtc.godot import WebRTCPeerConnection

            async with WebRTCPeerConnection(name=name) as gpc:
                error = gpc.initialize(config)
                if error:
                    raise InteropError(f"initialize: {error!r}")
                yield GodotFace(gpc, nursery)
                nursery.cancel_scope.cancel()
        else:
            raise ValueError(f"unknown face {face!r}")
