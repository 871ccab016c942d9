"""A bare ``aioice.Connection`` (an independent ICE agent) driven over JSON lines.

Run as ``python tests/ice/aioice_peer.py --controlling|--controlled [--tie-breaker N]
[--consent-interval S]``; it is asyncio, so it runs in its own process. Kept on loopback:
aioice's host-address discovery is patched to return only 127.0.0.1, IPv6 is off, there is
no STUN/TURN server and only 127.0.0.1 remote candidates are accepted.

Protocol (one JSON object per line):

* peer -> driver ``{"type": "params", "ufrag", "pwd", "candidates": [sdp...]}`` once
  gathered; driver -> peer the same with its own values (then end-of-candidates is implied);
* peer -> driver ``{"type": "connected", "controlling", "local", "remote"}`` when
  ``connect()`` returns (a nominated pair), or ``{"type": "failed", "error"}``;
* every datagram the connection receives is sent back on it (echo);
* driver -> peer ``{"type": "status"}``: peer -> driver ``{"type": "status", "closed",
  "controlling", "consent_requests"}`` (consent requests it sent, counted);
* driver -> peer ``{"type": "bye"}``: the peer closes and exits.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

import aioice.ice
from aioice import Candidate, Connection

aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]  # loopback only


def send(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def read_line(reader: asyncio.StreamReader) -> dict[str, Any]:
    line = await reader.readline()
    if not line:
        raise EOFError("driver went away")
    message: dict[str, Any] = json.loads(line)
    return message


async def main() -> None:
    parser = argparse.ArgumentParser()
    role = parser.add_mutually_exclusive_group(required=True)
    role.add_argument("--controlling", action="store_true")
    role.add_argument("--controlled", action="store_true")
    parser.add_argument("--tie-breaker", type=int)
    parser.add_argument("--consent-interval", type=float)
    args = parser.parse_args()
    if args.consent_interval is not None:
        aioice.ice.CONSENT_INTERVAL = args.consent_interval  # type: ignore[assignment]

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    connection = Connection(ice_controlling=args.controlling, use_ipv6=False)
    if args.tie_breaker is not None:
        connection._tie_breaker = args.tie_breaker
    consent_requests = 0
    build_request = connection.build_request

    def counting_build_request(pair: Any, nominate: bool) -> Any:
        nonlocal consent_requests
        if connection._nominated:  # only consent checks are sent after nomination
            consent_requests += 1
        return build_request(pair, nominate)

    connection.build_request = counting_build_request  # type: ignore[method-assign]
    await connection.gather_candidates()
    send(
        {
            "type": "params",
            "ufrag": connection.local_username,
            "pwd": connection.local_password,
            "candidates": [c.to_sdp() for c in connection.local_candidates],
        }
    )
    remote = await read_line(reader)
    connection.remote_username = remote["ufrag"]
    connection.remote_password = remote["pwd"]
    for value in remote["candidates"]:
        candidate = Candidate.from_sdp(value.removeprefix("candidate:"))
        if candidate.host == "127.0.0.1":
            await connection.add_remote_candidate(candidate)
    await connection.add_remote_candidate(None)
    try:
        await asyncio.wait_for(connection.connect(), 10)
    except Exception as exc:  # report, then wait for bye
        send({"type": "failed", "error": repr(exc)})
    else:
        pair = connection._nominated[1]
        send(
            {
                "type": "connected",
                "controlling": connection.ice_controlling,
                "local": list(pair.local_addr),
                "remote": list(pair.remote_addr),
            }
        )

    async def echo() -> None:
        while True:
            data = await connection.recv()
            await connection.send(data)

    echo_task = asyncio.create_task(echo()) if connection._nominated else None
    while True:
        command = await read_line(reader)
        if command["type"] == "status":
            send(
                {
                    "type": "status",
                    "closed": connection._closed or connection._query_consent_task is None,
                    "controlling": connection.ice_controlling,
                    "consent_requests": consent_requests,
                }
            )
        elif command["type"] == "bye":
            break
    if echo_task is not None:
        echo_task.cancel()
    await connection.close()


if __name__ == "__main__":
    asyncio.run(main())
