"""Command line: ``python -m trio_webrtc {demo,sdp,candidates,offer} [--help]`` (also
installed as ``trio-webrtc``). A bad argument gives one line on stderr and exit status 2."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

import trio

__all__ = ["main"]

_DEFAULT_MAX_MESSAGE_SIZE = 262144  # what a peer connection advertises by default


class _Parser(argparse.ArgumentParser):
    """Errors in one line (``PROG: error: ...``), exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _prog() -> str:
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return "trio-webrtc" if name.startswith("trio-webrtc") else "python -m trio_webrtc"


def _check_demo(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if not args.size > 0 or args.size != args.size or args.size == float("inf"):
        parser.error(f"--size must be a positive number of MiB, not {args.size:g}")
    if args.chunk <= 0:
        parser.error(f"--chunk must be a positive number of bytes, not {args.chunk}")
    if args.chunk > _DEFAULT_MAX_MESSAGE_SIZE:
        parser.error(
            f"--chunk {args.chunk} is above the max-message-size of "
            f"{_DEFAULT_MAX_MESSAGE_SIZE} bytes"
        )


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
    from .sdp.description import DataChannelDescription, SessionDescription

    if args.file == "-":
        text = sys.stdin.read()
    else:
        try:
            with open(args.file, encoding="utf-8") as source:
                text = source.read()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            print(f"{args.prog}: error: cannot read {args.file}: {reason}", file=sys.stderr)
            return 2
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
    from ._trio.netif import local_addresses

    addresses = [args.bind_address] if args.bind_address else local_addresses()
    for index, address in enumerate(addresses):
        priority = (126 << 24) + ((65535 - index) << 8) + 255
        print(f"candidate:{index + 1} 1 udp {priority} {address} <port> typ host")
    return 0


def _cmd_offer(args: argparse.Namespace) -> int:
    from .config import Configuration
    from .core import PeerConnectionCore

    config = Configuration(max_message_size=args.max_message_size)
    core = PeerConnectionCore(config, log_prefix="offer")
    sys.stdout.write(core.create_offer().replace("\r\n", "\n"))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    from . import __version__

    formatter = argparse.RawDescriptionHelpFormatter
    parser = _Parser(
        prog=_prog(),
        description="WebRTC data channels for Trio: a demo and tools to explore SDP.",
        epilog="Run 'python -m trio_webrtc COMMAND --help' for a command's options.",
        formatter_class=formatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more logging (-v INFO, -vv DEBUG)"
    )
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=_Parser
    )

    demo = commands.add_parser(
        "demo",
        help="two peers over 127.0.0.1: a verified bulk transfer with figures",
        description="Open two peer connections in this process over 127.0.0.1, send SIZE "
        "MiB over one data channel in CHUNK-byte messages, verify every byte (SHA-256) and "
        "print the setup time, MB/s and messages/s.",
        epilog="example: python -m trio_webrtc demo --size 16 --chunk 16384",
        formatter_class=formatter,
    )
    demo.add_argument("--size", type=float, default=64, help="MiB to transfer (default 64)")
    demo.add_argument("--chunk", type=int, default=65536, help="bytes per message (default 65536)")
    demo.set_defaults(run=_cmd_demo)

    sdp = commands.add_parser(
        "sdp",
        help="parse an SDP and print its data-channel facts",
        description="Parse an SDP offer or answer (from a browser, Godot, aiortc, ...) and "
        "print, as JSON, what a data-channel session takes from it: ICE credentials, DTLS "
        "fingerprints and role, SCTP port, max-message-size and candidates. Exits 1 and "
        "names the problem if the SDP is invalid.",
        epilog="example: python -m trio_webrtc sdp offer.sdp",
        formatter_class=formatter,
    )
    sdp.add_argument("file", help="SDP file, or - for standard input")
    sdp.set_defaults(run=_cmd_sdp)

    candidates = commands.add_parser(
        "candidates",
        help="show the host candidates that would be gathered",
        description="List the local addresses a peer connection would bind and offer as "
        "host candidates (the port is chosen when the socket is bound).",
        formatter_class=formatter,
    )
    candidates.add_argument(
        "--bind-address", help="restrict to this address (the bindAddress setting)"
    )
    candidates.set_defaults(run=_cmd_candidates)

    offer = commands.add_parser(
        "offer",
        help="print the offer SDP this library makes",
        description="Print the offer SDP a fresh peer connection would make (before any "
        "candidate is gathered): m=application, ICE credentials, the certificate "
        "fingerprint, a=setup:actpass, a=sctp-port and a=max-message-size.",
        epilog="example: python -m trio_webrtc offer | python -m trio_webrtc sdp -",
        formatter_class=formatter,
    )
    offer.add_argument(
        "--max-message-size",
        type=int,
        default=262144,
        help="the maxMessageSize setting to advertise (default 262144)",
    )
    offer.set_defaults(run=_cmd_offer)

    args = parser.parse_args(argv)
    args.prog = parser.prog
    if args.command == "demo":
        _check_demo(demo, args)
    level = logging.WARNING - 10 * args.verbose
    logging.basicConfig(level=max(level, logging.DEBUG), format="%(name)s %(message)s")
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
