"""Consent freshness timing (RFC 7675 §5.1) for the selected candidate pair.

Pure bookkeeping, no I/O: the agent asks :meth:`ConsentFreshness.next_send` when to send
the next consent request and reports sends and authenticated responses. Requests go out
every ``interval`` randomised to [0.8, 1.2] x interval (RFC 7675 §5.1), on a schedule
that does not depend on earlier results; while a request is unanswered the next one goes
``retry_interval`` after it. Consent is *disconnected* once the first unanswered request
is ``disconnected_timeout`` old and *expired* ``consent_timeout`` after the last
authenticated response.
"""

from __future__ import annotations

import random

__all__ = ["ConsentFreshness"]


class ConsentFreshness:
    """Timers of RFC 7675 consent for one selected pair."""

    def __init__(
        self,
        *,
        interval: float,
        disconnected_timeout: float,
        consent_timeout: float,
        rng: random.Random,
        retry_interval: float = 1.0,
    ) -> None:
        self.interval = interval
        self.disconnected_timeout = disconnected_timeout
        self.consent_timeout = consent_timeout
        self.retry_interval = retry_interval
        self._rng = rng
        self.last_response = 0.0
        self._last_sent = 0.0
        self._delay = interval
        self._first_unanswered: float | None = None

    def _jitter(self) -> float:
        return self.interval * self._rng.uniform(0.8, 1.2)

    def start(self, now: float) -> None:
        """A pair was just selected on the strength of a fresh response at ``now``."""
        self.last_response = now
        self._last_sent = now
        self._delay = self._jitter()
        self._first_unanswered = None

    def next_send(self) -> float:
        """When the next consent request is due."""
        delay = self._delay
        if self._first_unanswered is not None:
            delay = min(delay, self.retry_interval)
        return self._last_sent + delay

    def on_sent(self, now: float) -> None:
        self._last_sent = now
        self._delay = self._jitter()
        if self._first_unanswered is None:
            self._first_unanswered = now

    def on_response(self, now: float) -> None:
        """An authenticated response arrived on the selected pair."""
        self.last_response = max(self.last_response, now)
        self._first_unanswered = None

    def disconnected_at(self) -> float | None:
        """When the oldest unanswered request makes the pair disconnected, if any."""
        if self._first_unanswered is None:
            return None
        return self._first_unanswered + self.disconnected_timeout

    def expires_at(self) -> float:
        """When consent is lost for good (RFC 7675 §5.1: 30 s after the last response)."""
        return self.last_response + self.consent_timeout
