"""Congestion controllers for the SCTP sender, sans-I/O, one per association.

``reno`` implements RFC 9260 §7.2.1-§7.2.2 (slow start, congestion avoidance with
partial_bytes_acked, cwnd decay after idle) with slow start's increase counted in bytes
acknowledged up to ``L = 2`` MTUs per SACK (RFC 3465 §2.2-§2.3 appropriate byte counting:
with one SACK per two packets cwnd doubles per round trip), and the reductions of
§7.2.3 (fast retransmit: ssthresh = max(cwnd/2, 4·MTU)) and §6.3.3 E1 (T3: cwnd = 1 MTU).

``cubic`` implements RFC 9438 (CUBIC: window growth W(t) = C·(t-K)³ + W_max §4.2, the
Reno-friendly region §4.3, convex and concave regions §4.4-§4.5, multiplicative
decrease β = 0.7 §4.6, fast convergence §4.7, timeout §4.8) in bytes, with slow start as
``reno``, plus loss differentiation: a loss detected while the measured queueing delay
(latest RTT sample minus the minimum) is small and the recent loss rate is low is taken
as random (radio, policer-free lossy links) and neither cuts cwnd nor freezes its growth;
the lost chunks are retransmitted as usual, and while losses are random, bytes that gap
blocks acknowledge grow cwnd too (not only advances of the cumulative ack, §7.2.1, which
a hole holds back for a round trip). A loss with a standing queue, at a high loss
rate or at T3 is congestion and gets CUBIC's full response, so on a drop-tail bottleneck
(where losses come with a full queue) it behaves like CUBIC and shares fairly with Reno.

Controllers change the sender's ``cwnd`` and ``ssthresh`` (bytes) through the small
:class:`Window` protocol; they hold no clock and do no I/O.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["CONTROLLERS", "Controller", "Cubic", "Reno", "Window", "make_controller"]

SLOW_START_L = 2
"""RFC 3465 §2.3: slow start grows cwnd by at most L·MTU per SACK."""


class Window(Protocol):
    """What a controller reads and writes of the sender."""

    cwnd: int
    ssthresh: int
    mtu: int
    srtt: float | None


class Controller:
    """The interface, and the parts Reno and CUBIC share (slow start, idle decay)."""

    name = "base"

    def grows_on_gap_acks(self) -> bool:
        """RFC 9260 §7.2.1 grows cwnd only when the cumulative ack advances; a
        loss-tolerant controller may also count bytes acknowledged by gap blocks (above a
        hole that random loss left, the cumulative ack may stand still for a round trip)."""
        return False

    def __init__(self) -> None:
        self.partial_acked = 0
        self.min_rtt: float | None = None
        self.latest_rtt: float | None = None
        # The least sample of the current and the previous period of min_rtt: what the
        # last round trip says of the standing queue, with jitter filtered out.
        self.recent_rtt: float | None = None
        self._period_end = 0.0
        self._period_min = 0.0
        self._previous_min = 0.0

    def on_rtt(self, rtt: float, now: float) -> None:
        """A round-trip sample, one per SACK (Karn's rule applied by the caller)."""
        self.latest_rtt = rtt
        if self.min_rtt is None or rtt < self.min_rtt:
            self.min_rtt = rtt
        if now >= self._period_end:
            self._previous_min = self._period_min if self.recent_rtt is not None else rtt
            self._period_min = rtt
            self._period_end = now + self.min_rtt
        elif rtt < self._period_min:
            self._period_min = rtt
        period, previous = self._period_min, self._previous_min
        self.recent_rtt = period if period < previous else previous  # (min() is a call)

    def slow_start(self, w: Window, acked: int, flight_before: int) -> None:
        # RFC 9260 §7.2.1: only when cwnd was fully used; RFC 3465: bytes, capped at L·MTU.
        if flight_before + w.mtu >= w.cwnd:
            w.cwnd += min(acked, SLOW_START_L * w.mtu)

    def on_ack(self, w: Window, acked: int, flight_before: int, now: float) -> None:
        """The cumulative ack advanced outside fast recovery; ``acked`` new bytes."""
        raise NotImplementedError

    def on_flight_empty(self) -> None:
        self.partial_acked = 0

    def on_lost(self, nbytes: int) -> None:
        """A chunk of ``nbytes`` was declared lost (fast retransmit or T3)."""

    def on_loss(self, w: Window, now: float) -> bool:
        """A loss event outside fast recovery; True when it is taken as congestion (the
        caller then enters fast recovery until the cumulative ack passes it)."""
        raise NotImplementedError

    def on_timeout(self, w: Window, now: float) -> None:
        """T3-rtx expired (RFC 9260 §6.3.3 E1, §7.2.3)."""
        w.ssthresh = max(w.cwnd // 2, 4 * w.mtu)
        w.cwnd = w.mtu
        self.partial_acked = 0

    def on_idle(self, w: Window, periods: int) -> None:
        """No DATA sent for ``periods`` RTOs: cwnd = max(cwnd/2, 4·MTU) per RTO (§7.2.1)."""
        floor = 4 * w.mtu
        for _ in range(min(periods, 32)):
            if w.cwnd <= floor:
                break
            w.cwnd = max(w.cwnd // 2, floor)
        self.partial_acked = 0


class Reno(Controller):
    """RFC 9260 §7.2 (see the module docstring)."""

    name = "reno"

    def on_ack(self, w: Window, acked: int, flight_before: int, now: float) -> None:
        if w.cwnd <= w.ssthresh:
            self.slow_start(w, acked, flight_before)
            return
        # §7.2.2: one MTU per cwnd of bytes acknowledged, while cwnd is fully used.
        self.partial_acked += acked
        if self.partial_acked >= w.cwnd and flight_before + w.mtu >= w.cwnd:
            self.partial_acked -= w.cwnd
            w.cwnd += w.mtu

    def on_loss(self, w: Window, now: float) -> bool:
        w.ssthresh = max(w.cwnd // 2, 4 * w.mtu)
        w.cwnd = w.ssthresh
        self.partial_acked = 0
        return True


CUBIC_C = 0.4
CUBIC_BETA = 0.7
CUBIC_ALPHA = 3 * (1 - CUBIC_BETA) / (1 + CUBIC_BETA)
RANDOM_QDELAY_FRACTION = 0.25
"""A loss counts as random only while the queueing delay is below this part of the
minimum RTT (and below :data:`RANDOM_QDELAY_MAX`), at least :data:`RANDOM_QDELAY_MIN`."""
RANDOM_QDELAY_MIN = 0.002
RANDOM_QDELAY_MAX = 0.025
RANDOM_LOSS_RATE_MAX = 0.2
"""Above this recent loss rate every loss is congestion, whatever the delay says."""


class Cubic(Controller):
    """RFC 9438 with loss differentiation (see the module docstring)."""

    name = "cubic"

    def __init__(self) -> None:
        super().__init__()
        self.w_max = 0.0  # bytes
        self.k = 0.0
        self.epoch: float | None = None
        self.w_est = 0.0
        self.delivered = 0  # recent bytes acknowledged / lost (decayed)
        self.lost = 0
        self.random_losses = 0
        self.congestion_losses = 0

    def _w_cubic(self, t: float, mtu: int) -> float:
        return CUBIC_C * (t - self.k) ** 3 * mtu + self.w_max

    def on_ack(self, w: Window, acked: int, flight_before: int, now: float) -> None:
        self.delivered += acked
        if self.delivered > 2 * w.cwnd:  # about a round trip of memory
            self.delivered >>= 1
            self.lost >>= 1
        if w.cwnd <= w.ssthresh:
            if flight_before + w.mtu >= w.cwnd:  # (slow_start() only acts then: no call)
                self.slow_start(w, acked, flight_before)
            return
        if flight_before + w.mtu < w.cwnd:
            return  # application- or rwnd-limited: no growth (RFC 9438 §5.8)
        mtu = w.mtu
        cwnd = w.cwnd
        if self.epoch is None:
            self.epoch = now
            if cwnd < self.w_max:
                self.k = ((self.w_max - cwnd) / mtu / CUBIC_C) ** (1 / 3)
            else:
                self.k = 0.0
                self.w_max = float(cwnd)
            self.w_est = float(cwnd)
        rtt = w.srtt or self.min_rtt or 0.1
        t = now - self.epoch
        target = min(max(self._w_cubic(t + rtt, mtu), cwnd), 1.5 * cwnd)
        # §4.3: the Reno-friendly estimate grows by alpha MTU per cwnd acknowledged.
        self.w_est += CUBIC_ALPHA * mtu * acked / cwnd
        if self._w_cubic(t, mtu) < self.w_est:
            grown = self.w_est
        else:
            grown = cwnd + (target - cwnd) * acked / cwnd
        if grown >= cwnd + 1:
            w.cwnd = int(grown)

    def on_lost(self, nbytes: int) -> None:
        self.lost += nbytes

    def grows_on_gap_acks(self) -> bool:
        return self.is_random_loss()  # holes from random loss, not a full queue

    def is_random_loss(self) -> bool:
        min_rtt, latest = self.min_rtt, self.recent_rtt
        if min_rtt is None or latest is None:
            return False
        limit = min(max(RANDOM_QDELAY_FRACTION * min_rtt, RANDOM_QDELAY_MIN), RANDOM_QDELAY_MAX)
        if latest - min_rtt > limit:
            return False
        total = self.delivered + self.lost
        return total > 0 and self.lost <= RANDOM_LOSS_RATE_MAX * total

    def on_loss(self, w: Window, now: float) -> bool:
        if self.is_random_loss():
            self.random_losses += 1
            return False
        self.congestion_losses += 1
        cwnd = w.cwnd
        # §4.7 fast convergence, §4.6 multiplicative decrease.
        self.w_max = cwnd * (1 + CUBIC_BETA) / 2 if cwnd < self.w_max else float(cwnd)
        w.ssthresh = max(int(cwnd * CUBIC_BETA), 4 * w.mtu)
        w.cwnd = w.ssthresh
        self.epoch = None
        self.partial_acked = 0
        return True

    def on_timeout(self, w: Window, now: float) -> None:
        self.congestion_losses += 1
        self.w_max = float(w.cwnd)
        w.ssthresh = max(int(w.cwnd * CUBIC_BETA), 4 * w.mtu)
        w.cwnd = w.mtu
        self.epoch = None
        self.partial_acked = 0

    def on_idle(self, w: Window, periods: int) -> None:
        super().on_idle(w, periods)
        self.epoch = None


CONTROLLERS: dict[str, type[Controller]] = {"reno": Reno, "cubic": Cubic}


def make_controller(name: str) -> Controller:
    """A new controller by name: ``"reno"`` or ``"cubic"``."""
    try:
        return CONTROLLERS[name]()
    except KeyError:
        raise ValueError(
            f"unknown congestion control {name!r} (choose from {', '.join(CONTROLLERS)})"
        ) from None
