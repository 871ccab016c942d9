"""Bulk transfers through :class:`trio_webrtc.testing.PathProfile` paths in virtual time:
a goodput measurement (16 KiB messages on one channel, the sender keeping ``buffered_amount`` at
most 1 MiB, as the issue's benchmark does) and a table of goodput per profile and
controller (run ``python sctp_paths.py [seconds [profile ...]]`` in ``tests/sctp``).
"""

from __future__ import annotations

import sys

from sctp_helpers import Peer

from trio_webrtc.testing import PATH_PROFILES, PathProfile, VirtualLink


class Bulk:
    """A client→server bulk sender: 16 KiB messages, ``buffered_amount`` ≤ ``high``."""

    def __init__(self, seed: int, *, high: int = 1 << 20, **client_kw: object) -> None:
        self.client = Peer(is_client=True, seed=seed * 2 + 1, **client_kw)
        self.server = Peer(is_client=False, seed=seed * 2 + 2)
        self.server.received_bytes = 0  # type: ignore[attr-defined]
        self.high = high
        self.message = bytes(16384)
        self.delivered = 0
        self.server_drain = self.server.drain
        self.server.drain = self._drain  # type: ignore[method-assign]

    def _drain(self) -> None:
        assoc = self.server.assoc
        while (event := assoc.next_event()) is not None:
            data = getattr(event, "data", None)
            if data is not None:
                self.delivered += len(data)
                assoc.data_consumed(len(data))
            else:
                self.server.events.append(event)

    def pump(self, now: float) -> None:
        assoc = self.client.assoc
        if not self.client.established:
            return
        while assoc.buffered_amount(1) < self.high:
            assoc.send(1, 53, self.message, now=now)


def goodput(
    profile: str | PathProfile,
    seconds: float = 20.0,
    *,
    controllers: tuple[str, ...] = ("reno",),
    seed: int = 1,
    **client_kw: object,
) -> list[float]:
    """Mbit/s delivered to each receiver over ``seconds`` of virtual time, one bulk
    transfer per controller, all through the same path."""
    path = PathProfile.named(profile) if isinstance(profile, str) else profile
    flows = [Bulk(seed + i, congestion_control=cc, **client_kw) for i, cc in enumerate(controllers)]
    link = VirtualLink.dumbbell([(f.client, f.server) for f in flows], path, seed=seed)
    for f in flows:
        f.client.assoc.start(link.now)
    link.run(lambda: all(f.client.established for f in flows), timeout=30)
    start = link.now
    marks = [f.delivered for f in flows]

    def until() -> bool:
        for f in flows:
            f.pump(link.now)
        return link.now - start >= seconds

    link.run(until, timeout=seconds + 1)
    return [
        (f.delivered - m) * 8 / (link.now - start) / 1e6 for f, m in zip(flows, marks, strict=True)
    ]


if __name__ == "__main__":
    # python tests/sctp/sctp_paths.py [seconds [profile ...]] (from tests/sctp); `lan` only
    # when named: unshaped, it simulates millions of packets per virtual second.
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
    names = sys.argv[2:] or [name for name in PATH_PROFILES if name != "lan"]
    for name in names:
        row = [f"{goodput(name, seconds, controllers=(cc,))[0]:8.2f}" for cc in ("reno", "cubic")]
        print(f"{name:12s} reno {row[0]}  cubic {row[1]}  Mbit/s", flush=True)
