"""A minimal Chrome DevTools Protocol client for trio, for the browser interop tests.

It launches Debian's headless Chromium on a fresh profile with DevTools on 127.0.0.1 (the
flags come from ``/work/shared/interop.md``: no background networking, loopback allowed in
peer connections, no mDNS host names, every host name but localhost unresolvable), finds
the DevTools port from the ``DevToolsActivePort`` file (``--remote-debugging-port=0``), and
talks to the browser endpoint over one WebSocket in *flat* session mode: pages are targets
in their own browser contexts, attached with ``Target.attachToTarget(flatten=True)``, and
every command carries its ``sessionId``.

Use::

    async with launch_chromium() as browser:
        async with browser.new_page(grant_media=True) as page:
            events = await page.add_binding("toDriver")
            await page.evaluate("toDriver('hi')")
            print(await events.receive())            # 'hi'

``attach_browser(ws_url)`` connects to a browser another process launched (so one browser
serves many peer processes). Leaving ``launch_chromium`` kills the browser's whole process
group and removes the profile. Everything here talks to 127.0.0.1 only.
"""

from __future__ import annotations

import base64
import itertools
import json
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager, suppress
from pathlib import Path
from typing import Any

import trio

try:  # the test extra installs it; without it the browser tests skip
    import trio_websocket
except ImportError:  # pragma: no cover - depends on the environment
    trio_websocket = None  # type: ignore[assignment]

__all__ = [
    "CHROMIUM_FLAGS",
    "Browser",
    "CdpConnection",
    "CdpError",
    "Page",
    "attach_browser",
    "chromium_available",
    "chromium_executable",
    "chromium_process",
    "launch_chromium",
    "loopback_only",
]

logger = logging.getLogger("trio_webrtc.tests.cdp")

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1",
)

MEDIA_PERMISSIONS = ("audioCapture", "videoCapture")

_EVENT_BUFFER = 4096
_MAX_MESSAGE = 64 << 20


class CdpError(Exception):
    """A DevTools command failed, the browser went away, or it did not start."""


def chromium_executable() -> str | None:
    """The Chromium binary: ``$CHROMIUM`` if set, else Debian's, else one on PATH."""
    explicit = os.environ.get("CHROMIUM")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    # Debian's /usr/bin/chromium is a shell wrapper; run the binary it would exec.
    for candidate in ("/usr/lib/chromium/chromium",):
        if os.access(candidate, os.X_OK):
            return candidate
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def chromium_available() -> tuple[bool, str]:
    """(True, "") when a browser test can run, else (False, the reason to skip)."""
    if trio_websocket is None:
        return False, "trio-websocket is not installed"
    if chromium_executable() is None:
        return False, "chromium is not installed (apt-get install chromium)"
    return True, ""


# --------------------------------------------------------------------- connection


class CdpConnection:
    """One DevTools WebSocket: numbered commands, and events routed to subscribers."""

    def __init__(self, ws: Any) -> None:
        self._ws = ws
        self._ids = itertools.count(1)
        self._pending: dict[int, trio.MemorySendChannel[dict[str, Any]]] = {}
        self._subscribers: dict[
            tuple[str | None, str], list[trio.MemorySendChannel[dict[str, Any]]]
        ] = {}
        self._closed: str | None = None

    async def send(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        session_id: str | None = None,
        timeout: float = 30.0,
    ) -> dict[str, Any]:
        """Run one command and return its ``result``; raise :class:`CdpError` on error."""
        if self._closed is not None:
            raise CdpError(f"{method}: connection closed ({self._closed})")
        message_id = next(self._ids)
        message: dict[str, Any] = {"id": message_id, "method": method, "params": params or {}}
        if session_id is not None:
            message["sessionId"] = session_id
        send_channel, receive_channel = trio.open_memory_channel[dict[str, Any]](1)
        self._pending[message_id] = send_channel
        try:
            await self._ws.send_message(json.dumps(message))
            with trio.fail_after(timeout):
                try:
                    reply = await receive_channel.receive()
                except trio.EndOfChannel:
                    raise CdpError(f"{method}: connection closed ({self._closed})") from None
        except trio.TooSlowError:
            raise CdpError(f"{method}: no reply within {timeout} s") from None
        finally:
            self._pending.pop(message_id, None)
        if "error" in reply:
            raise CdpError(f"{method}: {reply['error'].get('message')}")
        result: dict[str, Any] = reply.get("result", {})
        return result

    def subscribe(
        self, method: str, session_id: str | None = None
    ) -> trio.MemoryReceiveChannel[dict[str, Any]]:
        """A channel of the ``params`` of every later ``method`` event of that session."""
        send_channel, receive_channel = trio.open_memory_channel[dict[str, Any]](_EVENT_BUFFER)
        self._subscribers.setdefault((session_id, method), []).append(send_channel)
        return receive_channel

    async def _reader(self) -> None:
        try:
            while True:
                text = await self._ws.get_message()
                message = json.loads(text)
                if "id" in message:
                    waiter = self._pending.pop(message["id"], None)
                    if waiter is not None:
                        waiter.send_nowait(message)
                    continue
                key = (message.get("sessionId"), message.get("method", ""))
                for channel in self._subscribers.get(key, []):
                    try:
                        channel.send_nowait(message.get("params", {}))
                    except trio.WouldBlock:
                        logger.warning("dropping CDP event %s: subscriber is full", key[1])
                    except trio.BrokenResourceError:
                        pass
        except trio_websocket.ConnectionClosed as exc:
            self._shutdown(f"websocket closed: {exc.reason}")
        finally:
            self._shutdown("reader ended")

    def _shutdown(self, reason: str) -> None:
        if self._closed is None:
            self._closed = reason
        for waiter in self._pending.values():
            waiter.close()
        self._pending.clear()
        for channels in self._subscribers.values():
            for channel in channels:
                channel.close()
        self._subscribers.clear()


@asynccontextmanager
async def _connect(ws_url: str) -> AsyncIterator[CdpConnection]:
    if trio_websocket is None:
        raise CdpError("trio-websocket is not installed")
    if not ws_url.startswith("ws://127.0.0.1:"):
        raise CdpError(f"refusing a DevTools endpoint that is not on 127.0.0.1: {ws_url}")
    async with (
        trio_websocket.open_websocket_url(ws_url, max_message_size=_MAX_MESSAGE) as ws,
        trio.open_nursery() as nursery,
    ):
        connection = CdpConnection(ws)
        nursery.start_soon(connection._reader)
        try:
            yield connection
        finally:
            nursery.cancel_scope.cancel()


# --------------------------------------------------------------------------- page


class Page:
    """One page target, in its own browser context, attached in flat mode."""

    def __init__(self, connection: CdpConnection, target_id: str, session_id: str) -> None:
        self.connection = connection
        self.target_id = target_id
        self.session_id = session_id

    async def send(
        self, method: str, params: dict[str, Any] | None = None, timeout: float = 30.0
    ) -> dict[str, Any]:
        return await self.connection.send(
            method, params, session_id=self.session_id, timeout=timeout
        )

    def subscribe(self, method: str) -> trio.MemoryReceiveChannel[dict[str, Any]]:
        return self.connection.subscribe(method, self.session_id)

    async def evaluate(
        self, expression: str, *, await_promise: bool = True, timeout: float = 30.0
    ) -> Any:
        """Evaluate JavaScript (awaiting a returned promise); return its JSON value.

        A thrown exception or rejected promise raises :class:`CdpError` with its text.
        """
        result = await self.send(
            "Runtime.evaluate",
            {
                "expression": expression,
                "awaitPromise": await_promise,
                "returnByValue": True,
            },
            timeout=timeout,
        )
        details = result.get("exceptionDetails")
        if details is not None:
            exception = details.get("exception", {})
            text = exception.get("description") or details.get("text") or str(details)
            raise CdpError(f"JavaScript error: {text}")
        return result.get("result", {}).get("value")

    async def add_binding(self, name: str) -> trio.MemoryReceiveChannel[str]:
        """Expose ``window[name](string)`` to the page; return a channel of its payloads."""
        events = self.subscribe("Runtime.bindingCalled")
        send_channel, receive_channel = trio.open_memory_channel[str](_EVENT_BUFFER)

        async def pump() -> None:
            async with send_channel:
                async for event in events:
                    if event.get("name") == name:
                        await send_channel.send(event.get("payload", ""))

        self._nursery.start_soon(pump)
        await self.send("Runtime.addBinding", {"name": name})
        return receive_channel

    async def navigate(self, url: str) -> None:
        """Navigate and wait for the load event."""
        loaded = self.subscribe("Page.loadEventFired")
        result = await self.send("Page.navigate", {"url": url})
        if result.get("errorText"):
            raise CdpError(f"navigation to {url} failed: {result['errorText']}")
        with trio.fail_after(30):
            await loaded.receive()
        await loaded.aclose()

    async def screenshot(self) -> bytes:
        """A PNG of the page."""
        result = await self.send("Page.captureScreenshot", {"format": "png"})
        return base64.b64decode(result["data"])

    _nursery: trio.Nursery


# ------------------------------------------------------------------------ browser


class Browser:
    """A connection to a browser's DevTools endpoint (launched here or elsewhere)."""

    def __init__(self, connection: CdpConnection, ws_url: str) -> None:
        self.connection = connection
        self.ws_url = ws_url
        self.log_path: Path | None = None

    async def version(self) -> dict[str, Any]:
        return await self.connection.send("Browser.getVersion")

    async def grant_permissions(
        self,
        permissions: Sequence[str],
        *,
        origin: str | None = None,
        browser_context_id: str | None = None,
    ) -> None:
        params: dict[str, Any] = {"permissions": list(permissions)}
        if origin is not None:
            params["origin"] = origin
        if browser_context_id is not None:
            params["browserContextId"] = browser_context_id
        await self.connection.send("Browser.grantPermissions", params)

    @asynccontextmanager
    async def new_page(
        self, url: str = "about:blank", *, grant_media: bool = False, origin: str | None = None
    ) -> AsyncIterator[Page]:
        """A fresh page in a fresh browser context (so permissions never leak between
        pages), with Page and Runtime domains enabled; closed and disposed on exit.

        ``grant_media`` grants microphone and camera to the context (for ``origin``, or
        every origin), which makes Chromium offer host candidates for its interfaces.
        """
        connection = self.connection
        context = await connection.send("Target.createBrowserContext", {"disposeOnDetach": True})
        context_id = context["browserContextId"]
        try:
            if grant_media:
                await self.grant_permissions(
                    MEDIA_PERMISSIONS, origin=origin, browser_context_id=context_id
                )
            target = await connection.send(
                "Target.createTarget", {"url": "about:blank", "browserContextId": context_id}
            )
            target_id = target["targetId"]
            attached = await connection.send(
                "Target.attachToTarget", {"targetId": target_id, "flatten": True}
            )
            page = Page(connection, target_id, attached["sessionId"])
            async with trio.open_nursery() as nursery:
                page._nursery = nursery
                await page.send("Page.enable")
                await page.send("Runtime.enable")
                if url != "about:blank":
                    await page.navigate(url)
                try:
                    yield page
                finally:
                    nursery.cancel_scope.cancel()
                    with trio.move_on_after(5) as cleanup:
                        cleanup.shield = True
                        with suppress(CdpError):
                            await connection.send("Target.closeTarget", {"targetId": target_id})
        finally:
            with trio.move_on_after(5) as cleanup:
                cleanup.shield = True
                with suppress(CdpError):
                    await connection.send(
                        "Target.disposeBrowserContext", {"browserContextId": context_id}
                    )


@asynccontextmanager
async def attach_browser(ws_url: str) -> AsyncIterator[Browser]:
    """Connect to a running browser's DevTools endpoint (``ws://127.0.0.1:PORT/...``)."""
    async with _connect(ws_url) as connection:
        yield Browser(connection, ws_url)


async def _wait_for_endpoint(
    process: trio.Process, profile: Path, log_path: Path, timeout: float
) -> str:
    with trio.move_on_after(timeout):
        while process.returncode is None:
            url = _endpoint(profile, log_path)
            if url is not None:
                return url
            await trio.sleep(0.05)
    tail = "\n".join(_read_log(log_path).splitlines()[-20:])
    raise CdpError(f"Chromium did not open DevTools (exit code {process.returncode}):\n{tail}")


def _endpoint(profile: Path, log_path: Path) -> str | None:
    """The DevTools URL, from ``DevToolsActivePort`` or the "DevTools listening" line."""
    try:
        lines = (profile / "DevToolsActivePort").read_text().splitlines()
    except OSError:
        lines = []
    if len(lines) >= 2 and lines[0].strip().isdigit():
        return f"ws://127.0.0.1:{int(lines[0])}{lines[1].strip()}"
    for line in _read_log(log_path).splitlines():
        if line.startswith("DevTools listening on ws://127.0.0.1:"):
            return line.split(" ", 3)[3].strip()
    return None


def _read_log(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def _kill_pgid(pid: int, sig: int) -> None:
    """Signal the process group we created for the browser (its pid is the group id)."""
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _kill_group(process: trio.Process, sig: int) -> None:
    _kill_pgid(process.pid, sig)


@asynccontextmanager
async def launch_chromium(
    extra_args: Sequence[str] = (), *, timeout: float = 30.0
) -> AsyncIterator[Browser]:
    """Launch headless Chromium on a fresh profile and connect to it.

    On exit the browser's process group is terminated (then killed) and the profile and
    its log are removed. ``Browser.log_path`` is the browser's stderr while it runs.
    """
    executable = chromium_executable()
    if executable is None:
        raise CdpError("chromium is not installed")
    workdir = Path(tempfile.mkdtemp(prefix="trio-webrtc-chromium-"))
    profile = workdir / "profile"
    log_path = workdir / "chromium.log"
    argv = [executable, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra_args, "about:blank"]
    try:
        with log_path.open("wb") as log:
            process = await trio.lowlevel.open_process(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        try:
            ws_url = await _wait_for_endpoint(process, profile, log_path, timeout)
            logger.info("Chromium %d at %s", process.pid, ws_url)
            async with attach_browser(ws_url) as browser:
                browser.log_path = log_path
                yield browser
        finally:
            with trio.CancelScope(shield=True):
                _kill_group(process, signal.SIGTERM)
                with trio.move_on_after(5):
                    await process.wait()
                if process.returncode is None:
                    _kill_group(process, signal.SIGKILL)
                    await process.wait()
                # Children that outlived the main process share its group.
                _kill_group(process, signal.SIGKILL)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def chromium_process(extra_args: Sequence[str] = (), *, timeout: float = 30.0) -> Iterator[str]:
    """Launch headless Chromium without trio (for a module-scoped pytest fixture); yield
    its DevTools ``ws://`` URL for :func:`attach_browser`. Killed and removed on exit."""
    executable = chromium_executable()
    if executable is None:
        raise CdpError("chromium is not installed")
    workdir = Path(tempfile.mkdtemp(prefix="trio-webrtc-chromium-"))
    profile = workdir / "profile"
    log_path = workdir / "chromium.log"
    argv = [executable, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra_args, "about:blank"]
    try:
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        try:
            deadline = time.monotonic() + timeout
            while True:
                url = _endpoint(profile, log_path)
                if url is not None:
                    break
                if process.poll() is not None or time.monotonic() > deadline:
                    tail = "\n".join(_read_log(log_path).splitlines()[-20:])
                    raise CdpError(
                        f"Chromium did not open DevTools (exit code {process.returncode}):\n" + tail
                    )
                time.sleep(0.05)
            logger.info("Chromium %d at %s", process.pid, url)
            yield url
        finally:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                _kill_pgid(process.pid, sig)
                try:
                    process.wait(timeout=5)
                    break
                except subprocess.TimeoutExpired:
                    continue
            _kill_pgid(process.pid, signal.SIGKILL)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def loopback_only() -> tuple[bool, str]:
    """(True, "") when this process's network namespace has no interface but ``lo``."""
    try:
        import socket

        names = sorted(name for _, name in socket.if_nameindex())
    except OSError as exc:  # pragma: no cover - exotic platforms
        return False, f"cannot list network interfaces: {exc}"
    others = [name for name in names if name != "lo"]
    if others:
        return False, (
            "not in a loopback-only network namespace (interfaces: "
            + ", ".join(others)
            + "); run ./run-tests, or unshare --net -- sh -c 'ip link set lo up && ...'"
        )
    return True, ""
