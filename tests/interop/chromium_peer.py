"""A headless-Chromium peer speaking the interop peer protocol (``tests/interop/harness.py``).

Run as::

    python tests/interop/chromium_peer.py --role offer|answer [--no-trickle]
        [--no-host-candidates] [--browser ws://127.0.0.1:PORT/devtools/browser/ID]

It launches Chromium through ``tests/browser/cdp.py`` (or, with ``--browser``, uses one
already running, so a test module can share one browser between cases), opens a fresh page
in a fresh browser context, injects ``chromium_page.js`` (the ``RTCPeerConnection`` side,
``iceServers: []``) and bridges the JSON-lines protocol: driver messages become
``peer.handle(msg)`` calls, and the page's messages come back through the CDP binding
``toDriver``.

Candidates: by default the context is granted microphone and camera, which makes Chromium
enumerate interfaces and offer a 127.0.0.1 host candidate. ``--no-host-candidates`` grants
nothing: Chromium then gathers only on a wildcard socket and signals no usable candidate,
so the pair forms from peer-reflexive candidates (what real browsers often give).
Candidates whose address is not 127.0.0.1 are dropped in both directions (in trickled
messages and in SDP). Run it only inside a network namespace that has only ``lo``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "browser"))

import cdp

PAGE_JS = Path(__file__).with_name("chromium_page.js")
REPORT_PREFIX = "CHROMIUM-REPORT "


def log(*parts: object) -> None:
    print("[chromium_peer]", *parts, file=sys.stderr, flush=True)


def emit(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def loopback_candidate(value: str) -> bool:
    """Whether a ``candidate:...`` attribute value has the address 127.0.0.1."""
    parts = value.split()
    return len(parts) >= 8 and parts[4] == "127.0.0.1"


def filter_sdp(sdp: str) -> str:
    """Drop every ``a=candidate`` line whose address is not 127.0.0.1."""
    lines = [
        line
        for line in sdp.splitlines()
        if not line.startswith("a=candidate:") or loopback_candidate(line[2:])
    ]
    return "\r\n".join(lines) + "\r\n"


def filter_message(message: dict[str, Any]) -> dict[str, Any] | None:
    """The message with non-loopback candidates removed; None to drop it entirely."""
    kind = message.get("type")
    if kind == "candidate":
        value = message.get("candidate") or ""
        if value and not loopback_candidate(value):
            log("dropping non-loopback candidate", value)
            return None
    elif kind in ("offer", "answer") and isinstance(message.get("sdp"), str):
        return {**message, "sdp": filter_sdp(message["sdp"])}
    return message


async def read_lines(handler: Callable[[dict[str, Any]], Any]) -> None:
    """Feed every JSON line of stdin to ``handler`` in order; return at EOF or ``bye``."""
    stdin = trio.lowlevel.FdStream(os.dup(0))
    buffer = b""
    async with stdin:
        while True:
            chunk = await stdin.receive_some(65536)
            if not chunk:
                return
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                if not line.strip():
                    continue
                try:
                    message = json.loads(line)
                except ValueError:
                    log("ignoring a non-JSON line:", line[:200])
                    continue
                if not isinstance(message, dict):
                    continue
                if await handler(message):
                    return


async def pump_console(page: cdp.Page) -> None:
    console = page.subscribe("Runtime.consoleAPICalled")
    errors = page.subscribe("Runtime.exceptionThrown")

    async def consoles() -> None:
        async for event in console:
            args = " ".join(
                str(arg.get("value", arg.get("description", ""))) for arg in event.get("args", [])
            )
            log("console:", args)

    async def exceptions() -> None:
        async for event in errors:
            details = event.get("exceptionDetails", {})
            log("page exception:", details.get("exception", {}).get("description", details))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(consoles)
        nursery.start_soon(exceptions)


async def run_page(browser: cdp.Browser, args: argparse.Namespace) -> None:
    grant = not args.no_host_candidates
    async with browser.new_page(grant_media=grant) as page, trio.open_nursery() as nursery:
        nursery.start_soon(pump_console, page)
        to_driver = await page.add_binding("toDriver")
        signaled: list[str] = []  # the candidates we passed on to the driver

        async def forward() -> None:
            async for payload in to_driver:
                message = filter_message(json.loads(payload))
                if message is not None and message.get("type") == "_report":
                    # For the test, not the driver: one line it can find in our stderr.
                    message["signaled"] = signaled
                    print(REPORT_PREFIX + json.dumps(message), file=sys.stderr, flush=True)
                    continue
                if message is not None and message.get("type") == "candidate":
                    signaled.extend([message["candidate"]] if message["candidate"] else [])
                elif message is not None and message.get("type") in ("offer", "answer"):
                    signaled.extend(
                        line[2:]
                        for line in message["sdp"].splitlines()
                        if line.startswith("a=candidate:")
                    )
                if message is not None:
                    log("->", str(message)[:160])
                    emit(message)

        nursery.start_soon(forward)
        await page.evaluate(PAGE_JS.read_text(), await_promise=False)
        options = {"role": args.role, "trickle": not args.no_trickle}
        await page.evaluate(f"peer.start({json.dumps(options)})")

        async def handle(message: dict[str, Any]) -> bool:
            log("<-", str(message)[:160])
            filtered = filter_message(message)
            if filtered is None:
                return False
            try:
                await page.evaluate(f"peer.handle({json.dumps(filtered)})")
            except cdp.CdpError as exc:
                log("handling", message.get("type"), "failed:", exc)
            return message.get("type") == "bye"

        await read_lines(handle)
        with trio.move_on_after(0.2):
            await trio.sleep_forever()  # let the last binding calls reach stdout
        nursery.cancel_scope.cancel()


async def main(args: argparse.Namespace) -> None:
    if args.browser:
        async with cdp.attach_browser(args.browser) as browser:
            await run_page(browser, args)
    else:
        async with cdp.launch_chromium() as browser:
            await run_page(browser, args)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--role", choices=("offer", "answer"), required=True)
    parser.add_argument("--no-trickle", action="store_true")
    parser.add_argument("--no-host-candidates", action="store_true")
    parser.add_argument("--browser", help="DevTools ws:// URL of a running browser")
    arguments = parser.parse_args()
    ok, reason = cdp.loopback_only()
    if not ok:
        log("refusing to run:", reason)
        sys.exit(2)
    trio.run(main, arguments)
