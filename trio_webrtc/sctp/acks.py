"""When the receiver acknowledges: the SACK policy of RFC 9260 §6.2 and §6.7.

Implements the acknowledgement-timing rules of RFC 9260 §6.2 (a SACK for at least every
second packet carrying DATA, the delayed-ack timer at most 200 ms, window updates on the
receiver's own reads, with RFC 1122 §4.2.3.3 silly-window avoidance) and §6.7 (a SACK at
once on a gap, on duplicates and when a gap fills), plus RFC 7053 (the I bit). The
association applies it; the state lives there (``_sack_due``, ``_delayed_ack``,
``_data_packets``, ``_sack_queue``).

Every second packet, even within one receive burst. A driver reads a burst of datagrams
and flushes once; answering the whole burst with one SACK is what throttled senders that
release at most Max.Burst (4) packets per SACK, as usrsctp (libdatachannel) and dcSCTP
(Chromium) do: when each SACK covers k packets and releases 4, the flight of the next
round trip is 4 x (SACKs per round trip) and never grows once the bursts themselves are
those 4-packet releases (one SACK per round trip: 4 packets, 0.8 Mbit/s at 50 ms; three
bursts: 12 packets). So when more DATA arrives while a SACK is due and unsent, that
SACK is frozen as of its moment and the next one starts: a burst of n packets gets n/2
SACKs, each its own packet (a Max.Burst sender releases 4 packets per 2 acknowledged and
grows as in slow start), and a lost SACK is covered by the next instead of costing the
sender a retransmission timeout.

Long bursts are thinned only on a LAN (below). There at most :data:`MAX_QUEUED_SACKS`
(8) are held; when that many are, every second one is dropped and the rest of the burst
is acknowledged every 4, 8, ... packets, so a burst gets 5 to 9 SACKs spread over it
(in memory, 16 MiB between two peer connections took 0.59-0.63 s of CPU with one SACK
per burst, 0.86-0.88 s with one per second packet and 0.59-0.63 s thinned). On longer
paths every second packet keeps its SACK up to :data:`MAX_QUEUED_SACKS_PATH` (128, a
256-packet burst; the trio driver reads at most 512 datagrams per wakeup): a sender
that follows RFC 4960 §6.1 rule D, as usrsctp does by default (libdatachannel,
Firefox), sets ``cwnd = flight + Max.Burst`` before each transmission, so every SACK
that acknowledges more than 4 new packets shrinks its window for good. Thinned SACKs
(8 or 16 packets each) when our receiver fell behind were the slow mode of
libdatachannel -> trio_webrtc on ``far``: the rate decayed to 1-2 Mbit/s with no loss.

On a LAN, a burst's first SACK and its last (:func:`coalesce_in_burst`). A sender
limited per SACK gets m packets per SACK whatever the path, so its rate is m times our
SACKs per second; on a long path its flight arrives in a few bursts per round trip and
needs every second packet acknowledged to grow, on a short one the same flight comes
back many times per millisecond. So where the least round trip measured (the
handshake's, or any of our DATA's) is under :data:`COALESCE_RTT` (5 ms), while no gap
exists and the window is more than half open, a burst gets the SACK for its second
packet (frozen as above) and its last, which covers the rest: sent at the same instant,
the SACKs left out carried nothing the last one does not, and the first still releases
the sender if the last is lost, so no timeout follows a lost SACK where it did not
before. Loopback bulk, 16 KiB messages (``benchmarks/hotpath.py``): 0.19 SACKs per DATA
packet and 0.037 CPU s/MB become 0.045 and 0.0345 (one SACK per burst: 0.022 and
0.0313); in virtual time dcSCTP's 4 packets per SACK reach 141 Mbit/s on ``lan`` with
0.5 ms wakeups (528 with a SACK per second packet), and wan and far are unchanged. Any
gap, duplicate or closing window falls back to a SACK per second packet.

The delay, :data:`DELAYED_ACK` = 40 ms. RFC 9260 allows 200 ms (usrsctp, Linux, Pion
use it; dcSCTP uses min(RTO/2, 200 ms)); the delay only matters for a lone packet (the
second packet is acknowledged at once), where it saves a SACK if a reply (or a second
packet) follows in time. A reply an application sends within 40 ms still carries the
SACK, a sender whose flight ends on an odd packet waits 40 ms instead of 200, and the
delay stays far below any peer's minimum RTO (RFC 9260's 1 s; dcSCTP's RTT-derived
values), so it never costs a spurious retransmission. 40 ms is Linux TCP's minimum
delayed-ack timeout (``TCP_DELACK_MIN``).

Window updates (:func:`window_update_due`): after the application reads, the sender's
view of our window is the last a_rwnd advertised minus what arrived since; a SACK is sent
when that view is below half the window and the window now open is at least twice it and
at least one MTU larger (RFC 1122 silly-window avoidance; Linux TCP's rule for an ACK
after a read). A zero window reopens with the first MTU read; a mostly open one sends no
extra SACKs, and a slowly reading application causes at most a logarithmic number.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .inbound import Inbound

__all__ = [
    "COALESCE_RTT",
    "DELAYED_ACK",
    "MAX_QUEUED_SACKS",
    "MAX_QUEUED_SACKS_PATH",
    "coalesce_in_burst",
    "window_update_due",
]

DELAYED_ACK = 0.04
"""Seconds a SACK for a lone DATA packet may wait (RFC 9260 §6.2: at most 200 ms)."""

MAX_QUEUED_SACKS = 8
"""SACKs frozen within one receive burst on a LAN; when full, every second one is dropped
and the rest of the burst gets a SACK per twice as many packets (see the module doc)."""

MAX_QUEUED_SACKS_PATH = 128
"""The same bound on longer paths, where thinning would shrink an RFC 4960 sender's
window (module doc)."""

COALESCE_RTT = 0.005
"""On a path whose least measured round trip is below this (a LAN), a receive burst is
acknowledged by its first SACK and its last one, while no gap exists and the window is
more than half open (see the module doc)."""


def coalesce_in_burst(inbound: Inbound) -> bool:
    """On a LAN, with the burst's first SACK frozen: a SACK due within the burst may be
    left to the burst's last one (module doc)."""
    # a_rwnd() without gaps, inlined: this runs for every packet of a LAN burst.
    return not inbound.has_gaps and (inbound.unconsumed + inbound.held) * 2 <= inbound.window


def window_update_due(
    window: int, last_advertised: int, arrived: int, now_open: int, mtu: int
) -> bool:
    """A read reopened the window enough to tell the sender (see the module doc).

    ``last_advertised``: a_rwnd in the last SACK; ``arrived``: DATA bytes accepted since;
    ``now_open``: the a_rwnd we would advertise now."""
    remaining = last_advertised - arrived
    remaining = max(remaining, 0)
    if remaining >= window >> 1:
        return False
    return now_open - remaining >= (remaining if remaining > mtu else mtu)
