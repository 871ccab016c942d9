"""Command line: ``python -m trio_webrtc {demo,sdp,candidates} [--help]``."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

import trio

__all__ = ["main"]


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    result = trio.run(lambda: run_demo(args.size, args.chunk, out=sys.stdout))
    print(f"setup time:   {result.setup_seconds * 1000:.1f} ms")
    print(f"throughput:   {result.megabytes_per_second:.1f} MB/s")
    print(f"messages/s:   {result.messages_per_second:.0f} ({result.messages} messages)")
    print(f"verified:     {result.total_bytes} bytes, SHA-256 match")
    return 0


def _cmd_sdp(args: argparse.Namespace) -> int:
    from .errors import SdpParseError
    from .sdp import DataChannelDescription, SessionDescription

    if args.file == "-":
        text = sys.stdin.read()
    else:
        with open(args.file, encoding="utf-8") as source:
            text = source.read()
    try:
        session = SessionDescription.parse(text)
        description = DataChannelDescription.from_session(session)
    except SdpParseError as exc:
        print(f"invalid SDP: {exc}", file=sys.stderr)
        return 1
    facts = {
        "mid": description.mid,
        "mline_index": description.mline_index,
        "ice_ufrag": description.ice_ufrag,
        "ice_pwd": description.ice_pwd,
        "ice_lite": description.ice_lite,
        "ice_options": list(description.ice_options),
        "fingerprints": [f"{a} {v}" for a, v in description.fingerprints],
        "setup": description.setup,
        "sctp_port": description.sctp_port,
        "max_message_size": description.max_message_size,
        "legacy_sctpmap": description.legacy_sctpmap,
        "candidates": list(description.candidates),
        "end_of_candidates": description.end_of_candidates,
        "bundle_mids": list(description.bundle_mids),
    }
    print(json.dumps(facts, indent=2))
    return 0


def _cmd_candidates(args: argparse.Namespace) -> int:
    from ._netif import local_addresses

    addresses = [args.bind_address] if args.bind_address else local_addresses()
    for index, address in enumerate(addresses):
        priority = (126 << 24) + ((65535 - index) << 8) + 255
        print(f"candidate:{index + 1} 1 udp {priority} {address} <port> typ host")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m trio_webrtc", description="WebRTC data channels for Trio."
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser(
        "demo", help="two peers over 127.0.0.1: a verified bulk transfer with figures"
    )
    demo.add_argument("--size", type=float, default=64, help="MiB to transfer (default 64)")
    demo.add_argument("--chunk", type=int, default=65536, help="message size in bytes")
    demo.set_defaults(run=_cmd_demo)

    sdp = commands.add_parser("sdp", help="parse an SDP and print its data-channel facts")
    sdp.add_argument("file", help="SDP file, or - for standard input")
    sdp.set_defaults(run=_cmd_sdp)

    candidates = commands.add_parser(
        "candidates", help="show the host candidates that would be gathered"
    )
    candidates.add_argument("--bind-address", help="restrict to this address")
    candidates.set_defaults(run=_cmd_candidates)

    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * args.verbose
    logging.basicConfig(level=max(level, logging.DEBUG), format="%(name)s %(message)s")
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
