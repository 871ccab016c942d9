"""Chromium through a lossy path: goodput of a bulk transfer, and the one-way delay of a
ping sent on another channel behind it, for Chromium → Chromium, Chromium → trio_webrtc,
trio_webrtc → Chromium and trio_webrtc → trio_webrtc, side by side in one run (issue 12's
"Chromium through 3 % loss" targets).

Every datagram crosses ``benchmarks/pathemu.py`` (default ``lan,loss=3%``: random loss
each way, no other shaping). The sender keeps ``bufferedAmount`` ≤ 1 MiB on a reliable
ordered ``bulk`` channel (16 KiB messages) and sends a timestamp on a ``ping`` channel
every 20 ms while the bulk runs; the receiver counts bytes and records each ping's
one-way delay (both ends share this machine's clock). Goodput is the receiver's bytes
between its first and last bulk message. Both channels are negotiated (ids 1 and 3), as
the held-out measurement used.

Run inside a loopback-only network namespace (Chromium must not see another interface)::

    unshare --net -- sh -c 'ip link set lo up && exec python benchmarks/chromium_loss.py'
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol

import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "browser"))

import cdp
from pathemu import PathEmulator, open_path

from trio_webrtc import DataChannel, PeerConnection

MESSAGE = 16 << 10
HIGH_WATER = 1 << 20
PING_INTERVAL = 0.020
CASE_BOUND = 180.0  # s: a hang guard

PAGE_JS = r"""
window.bench = (() => {
  let pc = null, bulk = null, ping = null, timer = null;
  const out = { bytes: 0, messages: 0, first: null, last: null, pings: [] };
  const now = () => performance.timeOrigin + performance.now();
  const opened = (channel) => new Promise((resolve) => {
    if (channel.readyState === "open") resolve(); else channel.onopen = () => resolve();
  });
  return {
    start() {
      pc = new RTCPeerConnection({ iceServers: [] });
      pc.onicecandidate = (e) => window.toDriver(JSON.stringify(
        { candidate: e.candidate ? e.candidate.candidate : "" }));
      bulk = pc.createDataChannel("bulk", { negotiated: true, id: 1 });
      ping = pc.createDataChannel("ping", { negotiated: true, id: 3 });
      bulk.binaryType = "arraybuffer";
      bulk.onmessage = (e) => {
        const t = now();
        out.bytes += e.data.byteLength; out.messages += 1;
        if (out.first === null) out.first = t;
        out.last = t;
      };
      ping.onmessage = (e) => { out.pings.push(now() - Number(e.data)); };
      return true;
    },
    async offer() {
      await pc.setLocalDescription(await pc.createOffer());
      return pc.localDescription.sdp;
    },
    async answer(sdp) {
      await pc.setRemoteDescription({ type: "offer", sdp });
      await pc.setLocalDescription(await pc.createAnswer());
      return pc.localDescription.sdp;
    },
    async accept(sdp) { await pc.setRemoteDescription({ type: "answer", sdp }); return true; },
    async candidate(c) {
      await pc.addIceCandidate({ candidate: c, sdpMid: "0", sdpMLineIndex: 0 });
      return true;
    },
    async open() { await opened(bulk); await opened(ping); return true; },
    async send(total, size, high, pingMs) {
      const message = new Uint8Array(size);
      timer = setInterval(() => ping.send(String(now())), pingMs);
      let sent = 0;
      bulk.bufferedAmountLowThreshold = high / 4;
      await new Promise((resolve) => {
        const pump = () => {
          while (sent < total && bulk.bufferedAmount <= high) { bulk.send(message); sent += size; }
          if (sent >= total) resolve();
        };
        bulk.onbufferedamountlow = pump;
        pump();
      });
      return sent;
    },
    stop() { if (timer !== null) clearInterval(timer); timer = null; return true; },
    results() { return out; },
    close() { this.stop(); if (pc) pc.close(); return true; },
  };
})();
"""


class Peer(Protocol):
    """One end of a case: Chromium's page or trio_webrtc in this process."""

    side: str

    async def offer(self) -> str: ...
    async def answer(self, sdp: str) -> str: ...
    async def accept(self, sdp: str) -> None: ...
    async def candidate(self, value: str) -> None: ...
    def candidates(self) -> AsyncIterator[str]: ...
    async def open(self) -> None: ...
    async def send(self, total: int) -> None: ...
    async def stop(self) -> None: ...
    async def results(self) -> dict[str, Any]: ...


class ChromiumPeer:
    def __init__(self, page: cdp.Page, to_driver: trio.MemoryReceiveChannel[str]) -> None:
        self.page, self._to_driver, self.side = page, to_driver, ""

    async def offer(self) -> str:
        return str(await self.page.evaluate("bench.offer()"))

    async def answer(self, sdp: str) -> str:
        return str(await self.page.evaluate(f"bench.answer({json.dumps(sdp)})"))

    async def accept(self, sdp: str) -> None:
        await self.page.evaluate(f"bench.accept({json.dumps(sdp)})")

    async def candidate(self, value: str) -> None:
        await self.page.evaluate(f"bench.candidate({json.dumps(value)})")

    async def candidates(self) -> AsyncIterator[str]:
        async for payload in self._to_driver:
            value = json.loads(payload)["candidate"]
            if not value:
                return
            yield value

    async def open(self) -> None:
        await self.page.evaluate("bench.open()", timeout=CASE_BOUND)

    async def send(self, total: int) -> None:
        await self.page.evaluate(
            f"bench.send({total}, {MESSAGE}, {HIGH_WATER}, {PING_INTERVAL * 1000})",
            timeout=CASE_BOUND,
        )

    async def stop(self) -> None:
        await self.page.evaluate("bench.stop()")

    async def results(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.page.evaluate("bench.results()")
        return result


class TrioPeer:
    def __init__(self, pc: PeerConnection) -> None:
        self.pc, self.side = pc, ""
        self.bulk: DataChannel = pc.create_data_channel("bulk", negotiated=True, id=1)
        self.ping: DataChannel = pc.create_data_channel("ping", negotiated=True, id=3)
        self.out: dict[str, Any] = {
            "bytes": 0,
            "messages": 0,
            "first": None,
            "last": None,
            "pings": [],
        }
        self._stop = trio.Event()

    async def offer(self) -> str:
        return await self.pc.create_offer()

    async def answer(self, sdp: str) -> str:
        return await self.pc.accept_offer(sdp)

    async def accept(self, sdp: str) -> None:
        await self.pc.accept_answer(sdp)

    async def candidate(self, value: str) -> None:
        await self.pc.add_ice_candidate(value, "0", 0)

    async def candidates(self) -> AsyncIterator[str]:
        async for c in self.pc.local_candidates():
            yield c.candidate

    async def open(self) -> None:
        await self.bulk.wait_open()
        await self.ping.wait_open()

    async def receive(self) -> None:
        """Count bulk bytes and ping delays until the channels end."""

        async def bulk() -> None:
            async for message in self.bulk:
                t = time.time() * 1000
                self.out["bytes"] += len(message)
                self.out["messages"] += 1
                if self.out["first"] is None:
                    self.out["first"] = t
                self.out["last"] = t

        async def ping() -> None:
            async for message in self.ping:
                text = message if isinstance(message, str) else message.decode()
                self.out["pings"].append(time.time() * 1000 - float(text))

        async def quietly(loop: Callable[[], Awaitable[None]]) -> None:
            with contextlib.suppress(trio.BrokenResourceError):
                await loop()  # a browser's pc.close() is an ABORT ("Close called")

        async with trio.open_nursery() as nursery:
            nursery.start_soon(quietly, bulk)
            nursery.start_soon(quietly, ping)

    async def send(self, total: int) -> None:
        message = bytes(MESSAGE)

        async def pinger() -> None:
            while not self._stop.is_set():
                await self.ping.send(repr(time.time() * 1000))
                with trio.move_on_after(PING_INTERVAL):
                    await self._stop.wait()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(pinger)
            sent = 0
            while sent < total:
                if self.bulk.buffered_amount > HIGH_WATER:
                    await self.bulk.wait_buffered_amount_low(HIGH_WATER // 4)
                await self.bulk.send(message)
                sent += MESSAGE
            await self._stop.wait()

    async def stop(self) -> None:
        self._stop.set()

    async def results(self) -> dict[str, Any]:
        return self.out


async def _signal(path: PathEmulator, sender: Peer, receiver: Peer) -> None:
    """Offer from the sender (side a), answer from the receiver (side b), candidates
    both ways, everything rewritten to the path's relay addresses."""
    sender.side, receiver.side = "a", "b"
    offer = await sender.offer()
    answer = await receiver.answer(path.rewrite_sdp("a", offer))
    await sender.accept(path.rewrite_sdp("b", answer))

    async def trickle(source: Peer, target: Peer) -> None:
        async for value in source.candidates():
            rewritten = path.rewrite_candidate(source.side, value)
            if rewritten:
                await target.candidate(rewritten)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(trickle, sender, receiver)
        nursery.start_soon(trickle, receiver, sender)
        nursery.start_soon(sender.open)
        await receiver.open()
        await sender.open()
        nursery.cancel_scope.cancel()


async def _wait_received(receiver: Peer, total: int) -> dict[str, Any]:
    while True:
        out = await receiver.results()
        if out["bytes"] >= total:
            return out
        await trio.sleep(0.05)


@asynccontextmanager
async def _page(browser: cdp.Browser) -> AsyncIterator[ChromiumPeer]:
    async with browser.new_page(grant_media=True) as page:
        to_driver = await page.add_binding("toDriver")
        await page.evaluate(PAGE_JS, await_promise=False)
        await page.evaluate("bench.start()")
        try:
            yield ChromiumPeer(page, to_driver)
        finally:
            await page.evaluate("bench.close()")


@asynccontextmanager
async def _trio() -> AsyncIterator[TrioPeer]:
    async with PeerConnection({"bindAddress": "127.0.0.1"}) as pc, trio.open_nursery() as n:
        peer = TrioPeer(pc)
        n.start_soon(peer.receive)
        yield peer
        n.cancel_scope.cancel()


async def run_case(
    browser: cdp.Browser,
    *,
    profile: str,
    sender_kind: str,
    receiver_kind: str,
    total: int,
    seed: int,
) -> dict[str, Any]:
    def make(kind: str) -> Callable[[], Any]:
        return (lambda: _page(browser)) if kind == "chromium" else _trio

    async with (
        open_path(profile, seed=seed) as path,
        make(sender_kind)() as sender,
        make(receiver_kind)() as receiver,
    ):
        with trio.fail_after(CASE_BOUND):
            await _signal(path, sender, receiver)
            started = time.time() * 1000
            async with trio.open_nursery() as nursery:
                nursery.start_soon(sender.send, total)
                out = await _wait_received(receiver, total)
                await sender.stop()
        stats = path.stats()
    span_ms = max(out["last"] - out["first"], 1e-3)
    pings = out["pings"]
    return {
        "case": f"{sender_kind} → {receiver_kind}",
        "profile": profile,
        "bytes": out["bytes"],
        "goodput_MBps": out["bytes"] / span_ms / 1000,
        "elapsed_s": (out["last"] - started) / 1000,
        "pings": len(pings),
        "ping_p50_ms": statistics.median(pings) if pings else None,
        "ping_p90_ms": statistics.quantiles(pings, n=10)[-1] if len(pings) >= 10 else None,
        "path": stats,
    }


CASES = [
    ("chromium", "chromium"),
    ("chromium", "trio"),
    ("trio", "chromium"),
    ("trio", "trio"),
]


async def main(args: argparse.Namespace) -> None:
    records: list[dict[str, Any]] = []
    async with cdp.launch_chromium() as browser:
        for trial in range(args.trials):
            for sender_kind, receiver_kind in CASES:
                try:
                    record = await run_case(
                        browser,
                        profile=args.profile,
                        sender_kind=sender_kind,
                        receiver_kind=receiver_kind,
                        total=args.size,
                        seed=trial,
                    )
                except trio.TooSlowError:
                    record = {"case": f"{sender_kind} → {receiver_kind}", "timed_out": True}
                record["trial"] = trial
                records.append(record)
                print(json.dumps({k: v for k, v in record.items() if k != "path"}), flush=True)
                if args.json:
                    with open(args.json, "a") as f:
                        f.write(json.dumps(record) + "\n")
    print(
        f"\nprofile {args.profile}, {args.size >> 20} MiB of 16 KiB messages; medians of "
        f"{args.trials} trials"
    )
    print(f"{'case':<22}{'goodput MB/s':>14}{'ping p50 ms':>13}{'ping p90 ms':>13}")
    for sender_kind, receiver_kind in CASES:
        name = f"{sender_kind} → {receiver_kind}"
        done = [r for r in records if r["case"] == name and not r.get("timed_out")]
        if not done:
            print(f"{name:<22}{'timed out':>14}")
            continue

        def med(key: str, done: list[dict[str, Any]] = done) -> float:
            values = [r[key] for r in done if r.get(key) is not None]
            return statistics.median(values) if values else float("nan")

        print(
            f"{name:<22}{med('goodput_MBps'):>14.2f}{med('ping_p50_ms'):>13.1f}"
            f"{med('ping_p90_ms'):>13.1f}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="lan,loss=3%")
    parser.add_argument("--size", type=int, default=16 << 20, help="bytes of bulk per case")
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--json", metavar="FILE", help="append every record to FILE")
    arguments = parser.parse_args()
    ok, reason = cdp.loopback_only()
    if not ok:
        sys.exit(f"refusing to run: {reason}")
    trio.run(main, arguments)
