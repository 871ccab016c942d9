"""Send a file over a data channel with a progress bar, and check its SHA-256.

    python examples/file_transfer.py PATH            # send PATH
    python examples/file_transfer.py --size 8        # send 8 MiB of random bytes
    python examples/file_transfer.py PATH --keep DIR # and keep the received copy in DIR

Both peers run in this process over 127.0.0.1 (see ``chat_client.py`` for two processes).
The sender announces the file in a text message (JSON: name, size, sha256), streams it as
binary messages of ``--chunk`` bytes — ``DataChannel.send`` waits while more than
``high_water`` bytes are queued, so memory stays bounded whatever the file size — and the
receiver writes it out, hashes it and answers ``"ok"`` or ``"mismatch"``. Without
``--keep`` the received copy is written to a temporary directory and removed at exit.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import TextIO

import trio

from trio_webrtc import DataChannel, PeerConnection, connect_pair

CONFIG = {"bindAddress": "127.0.0.1"}


def progress_bar(done: int, total: int, out: TextIO, width: int = 40) -> None:
    fraction = done / total if total else 1.0
    filled = int(fraction * width)
    out.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {fraction:6.1%} {done:>12,} B")
    if done >= total:
        out.write("\n")
    out.flush()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while block := source.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


async def send_file(channel: DataChannel, path: Path, chunk: int, out: TextIO) -> None:
    size = path.stat().st_size
    header = {"name": path.name, "size": size, "sha256": sha256_of(path)}
    await channel.send(json.dumps(header))
    sent = 0
    with path.open("rb") as source:
        while block := source.read(chunk):
            await channel.send(block)
            sent += len(block)
            progress_bar(sent, size, out)
    if size == 0:
        progress_bar(0, 0, out)


async def receive_file(channel: DataChannel, directory: Path) -> tuple[Path, bool]:
    header = json.loads(await channel.receive())
    target = directory / Path(header["name"]).name  # never trust a path from the peer
    digest = hashlib.sha256()
    remaining = int(header["size"])
    with target.open("wb") as sink:
        while remaining > 0:
            block = await channel.receive()
            if isinstance(block, str):
                raise ValueError("expected binary data")
            sink.write(block)
            digest.update(block)
            remaining -= len(block)
    ok = remaining == 0 and digest.hexdigest() == header["sha256"]
    await channel.send("ok" if ok else "mismatch")
    return target, ok


async def main(
    path: Path | None = None,
    *,
    size_mib: float = 4,
    chunk: int = 16384,
    directory: Path | None = None,
    out: TextIO = sys.stdout,
) -> bool:
    """Transfer ``path`` (or ``size_mib`` MiB of random bytes); True if the hash matched."""
    with tempfile.TemporaryDirectory() as scratch:
        if path is None:
            path = Path(scratch) / "random.bin"
            path.write_bytes(os.urandom(int(size_mib * 2**20)))
        received_dir = directory or Path(scratch) / "received"
        received_dir.mkdir(exist_ok=True)
        async with (
            PeerConnection(CONFIG, name="sender") as sender,
            PeerConnection(CONFIG, name="receiver") as receiver,
        ):
            channel = sender.create_data_channel("file", ordered=True)
            await connect_pair(sender, receiver)
            incoming = await receiver.accept_channel()
            out.write(f"sending {path.name} ({path.stat().st_size:,} bytes)\n")
            result: list[tuple[Path, bool]] = []

            async def receive() -> None:
                result.append(await receive_file(incoming, received_dir))

            async with trio.open_nursery() as nursery:
                nursery.start_soon(receive)
                await send_file(channel, path, chunk, out)
                verdict = await channel.receive()
            target, ok = result[0]
            where = target if directory is not None else target.name
            out.write(f"receiver wrote {where}: SHA-256 {verdict}\n")
            return ok and verdict == "ok"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Send a file over a data channel.")
    parser.add_argument("path", nargs="?", type=Path, help="file to send")
    parser.add_argument("--size", type=float, default=4, help="MiB of random data if no path")
    parser.add_argument("--chunk", type=int, default=16384, help="bytes per message")
    parser.add_argument(
        "--keep", type=Path, metavar="DIR", help="keep the received file in DIR (created)"
    )
    args = parser.parse_args()
    if not 0 < args.chunk <= 262144:
        parser.error("--chunk must be 1..262144 bytes (the default max-message-size)")
    if args.path is not None and not args.path.is_file():
        parser.error(f"no such file: {args.path}")
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
    ok = trio.run(
        lambda: main(args.path, size_mib=args.size, chunk=args.chunk, directory=args.keep)
    )
    sys.exit(0 if ok else 1)
