"""The sans-I/O ICE agent (full implementation, one component, UDP).

Implements RFC 8445 §5.2 (roles, tie-breaker), §6.1.2 (forming, pruning and limiting the
checklist), §6.1.4 (Ta pacing, triggered-check queue, frozen pairs), §7.2.2 and §7.3
(sending checks, answering them, peer-reflexive remote candidates, triggered checks),
§14.3 (check RTO growing with the Waiting and In-Progress pairs, see :mod:`.checklist`),
§7.2.5 (processing responses, 487 role conflict of §7.2.5.1, source checks of §7.2.5.2.1),
§7.3.1.1 (role conflicts on requests), §8.1 (regular nomination; a remote ICE-lite peer,
§2.5, makes us controlling), §9 (ICE restart keeping the selected pair until a new one is
chosen), §12.1 (sending on a valid pair before nomination); RFC 8838 (trickle: candidates
before or after credentials, end-of-candidates; §4.4: a candidate whose ``ufrag`` names a
previous generation is ignored) and RFC 7675 (consent freshness, via
:mod:`.consent`, always on the selected pair).

Local candidates are the driver's sockets: each pair's local side is a *base* (host
candidates, or relayed ones); a server-reflexive local candidate is pruned to its base
(§6.1.2.4). Remote hostname (mDNS) candidates are not resolved here: they are ignored
(the core resolves their names and adds the result); a signalled candidate at a learnt
peer-reflexive candidate's address replaces it. Answering checks and processing their
responses (§7.2.5, §7.3) live in :mod:`.inbound`.

Like libwebrtc and W3C "connected" ("found a usable connection"), the first successful
check makes the best valid pair the selected one and the agent CONNECTED; until nomination
a better valid pair replaces it (and the best remaining one if it fails). The nominated
pair (§8.1.1) then replaces it for good: only a higher-priority nomination moves it later.
COMPLETED needs nomination and end-of-candidates.
"""

from __future__ import annotations

import logging
import random
import secrets
import string
from collections import deque

from ..errors import InvalidStateError
from . import stun
from .candidate import (
    Candidate,
    compute_priority,
    normalize_endpoint,
    normalized_candidate,
)
from .checklist import (
    CandidatePair,
    Checklist,
    PairKey,
    PairState,
    StunTransaction,
    TransactionTable,
    check_rto,
)
from .consent import ConsentFreshness
from .events import IceEvent, IceState, IceStateChanged, SelectedPairChanged
from .inbound import MAX_REMOTE_CANDIDATES, InboundChecks
from .messages import encode_binding_request
from .stun import Address

__all__ = ["IceAgent", "IceEvent", "IceState", "IceStateChanged", "SelectedPairChanged"]

logger = logging.getLogger("trio_webrtc.ice")

MAX_PAIRS = 100
MAX_LOCAL_CANDIDATES = 32
MAX_TRANSACTIONS = 256
MAX_CONSENT_TRANSACTIONS = 32
MAX_OUTGOING = 256
MAX_EVENTS = 256
NOMINATION_SETTLE = 0.1
"""Controlling side: longest wait for higher-priority pairs after the first success."""
CHECKING_TIMEOUT = 30.0
"""FAILED when no pair succeeded this long after checks started (no end-of-candidates)."""

_ICE_CHARS = string.ascii_letters + string.digits + "+/"


class IceAgent(InboundChecks):
    """A full ICE agent for one data stream with one component (RFC 8445).

    Feed it local candidates, remote credentials/candidates and received STUN datagrams;
    drain :meth:`datagrams_to_send`, :meth:`next_event`; call :meth:`handle_timer` at
    :meth:`get_timer`. No method raises because of network input.
    """

    def __init__(
        self,
        *,
        controlling: bool,
        ufrag: str | None = None,
        pwd: str | None = None,
        tie_breaker: int | None = None,
        rng: random.Random | None = None,
        log_prefix: str = "",
        ta: float = 0.05,
        consent_interval: float = 5.0,
        disconnected_timeout: float = 3.0,
        consent_timeout: float = 30.0,
    ) -> None:
        self._rng = rng or random.Random(secrets.randbits(64))
        self._cred_rng: random.Random = rng or secrets.SystemRandom()
        self._log_prefix = log_prefix
        self._controlling = controlling
        self._tie_breaker = tie_breaker if tie_breaker is not None else self._rng.getrandbits(64)
        self._ta = ta
        self._local_ufrag = ufrag or self._random_string(8)
        self._local_pwd = pwd or self._random_string(24)
        if len(self._local_ufrag) < 4 or len(self._local_pwd) < 22:
            raise ValueError("ICE ufrag needs >= 4 characters and pwd >= 22")
        self._consent = ConsentFreshness(
            interval=consent_interval,
            disconnected_timeout=disconnected_timeout,
            consent_timeout=consent_timeout,
            rng=self._rng,
        )
        self._state = IceState.NEW
        self._now = 0.0
        self._local_candidates: list[Candidate] = []
        self._outgoing: deque[tuple[bytes, Address, Address]] = deque(maxlen=MAX_OUTGOING)
        self._events: deque[IceEvent] = deque(maxlen=MAX_EVENTS)
        self._transactions = TransactionTable(MAX_TRANSACTIONS)
        self._consent_transactions = TransactionTable(MAX_CONSENT_TRANSACTIONS)
        # Per-generation state (reset by an ICE restart).
        self._generation = 0
        self._remote_ufrag: str | None = None
        self._remote_pwd: str | None = None
        self._remote_lite = False
        self._remote_candidates: list[Candidate] = []
        self._remote_eoc = False
        self._checklist = Checklist(MAX_PAIRS)
        self._nominating: PairKey | None = None
        self._first_success_at: float | None = None
        self._checks_done = False
        self._checking_since: float | None = None
        self._next_check_at: float | None = None
        self._last_check_at: float | None = None
        self._prflx_count = 0
        # The selected pair and the credentials its consent checks use.
        self._selected: PairKey | None = None
        self._selected_generation = -1
        self._selected_nominated = False
        self._consent_creds: tuple[str, str, str] | None = None  # remote ufrag, pwd, local
        self._previous_local: tuple[str, str] | None = None
        self._old_remote_ufrags: deque[str] = deque(maxlen=8)
        # get_timer()'s answer depends only on the state above: cached until a public
        # method that may change that state runs (each clears _timer_valid on entry).
        self._timer_valid = False
        self._timer: float | None = None

    # ------------------------------------------------------------------ helpers

    def _random_string(self, length: int) -> str:
        return "".join(self._cred_rng.choice(_ICE_CHARS) for _ in range(length))

    def _log(self, level: int, message: str, *args: object) -> None:
        logger.log(level, "[%s] " + message, self._log_prefix, *args)

    def _emit(self, event: IceEvent) -> None:
        self._events.append(event)

    def _set_state(self, state: IceState) -> None:
        if state is not self._state:
            self._log(logging.INFO, "state %s -> %s", self._state.value, state.value)
            self._state = state
            self._emit(IceStateChanged(state))

    # --------------------------------------------------------------- properties

    @property
    def local_ufrag(self) -> str:
        return self._local_ufrag

    @property
    def local_pwd(self) -> str:
        return self._local_pwd

    @property
    def controlling(self) -> bool:
        return self._controlling

    @property
    def tie_breaker(self) -> int:
        return self._tie_breaker

    @property
    def state(self) -> IceState:
        return self._state

    @property
    def selected_pair(self) -> tuple[Address, Address] | None:
        """(local base address, remote address) of the selected pair, if any."""
        return self._selected

    @property
    def pairs(self) -> list[CandidatePair]:
        """The current checklist, highest priority first (read-only use)."""
        return self._checklist.by_priority()

    def is_valid_remote(self, local_address: Address, remote_address: Address) -> bool:
        """True for the selected pair and for any pair whose check succeeded."""
        if self._state in (IceState.FAILED, IceState.CLOSED):
            return False  # consent lost (RFC 7675 §5.1): stop sending
        key = (normalize_endpoint(local_address), normalize_endpoint(remote_address))
        if key == self._selected:
            return True
        pair = self._checklist.get(key)
        return pair is not None and pair.state is PairState.SUCCEEDED

    # ------------------------------------------------------------------ API

    def set_controlling(self, controlling: bool) -> None:
        """Set our role (e.g. from JSEP: the offerer controls)."""
        self._timer_valid = False
        if controlling != self._controlling:
            self._switch_role(controlling)

    def add_local_candidate(self, candidate: Candidate) -> None:
        """Add a local candidate; host/relay ones are bases, srflx/prflx are pruned."""
        self._check_open()
        self._timer_valid = False
        if candidate.transport.lower() != "udp" or candidate.family is None:
            self._log(logging.DEBUG, "ignoring local candidate %s", candidate.to_sdp())
            return
        if candidate.type in ("srflx", "prflx"):
            return  # §6.1.2.4: pairs use the base, which the driver added as a host
        candidate = normalized_candidate(candidate)
        base = (candidate.address, candidate.port)
        if any((c.address, c.port) == base for c in self._local_candidates):
            return
        if len(self._local_candidates) >= MAX_LOCAL_CANDIDATES:
            self._log(logging.WARNING, "too many local candidates, ignoring %s", base)
            return
        self._local_candidates.append(candidate)
        for remote in self._remote_candidates:
            self._checklist.add(candidate, remote, self._controlling)
        self._schedule_checks()

    def set_remote_credentials(self, ufrag: str, pwd: str, *, lite: bool = False) -> None:
        """Set the peer's ufrag/pwd. New values after earlier ones mean an ICE restart."""
        self._check_open()
        self._timer_valid = False
        if (ufrag, pwd) == (self._remote_ufrag, self._remote_pwd):
            self._remote_lite = lite
            return
        if self._remote_ufrag is not None:
            self._log(logging.INFO, "remote ICE restart")
            self._begin_restart()
        self._remote_ufrag, self._remote_pwd, self._remote_lite = ufrag, pwd, lite
        if lite and not self._controlling:
            self._log(logging.INFO, "remote is ICE-lite: taking the controlling role")
            self._switch_role(True)
        if self._remote_eoc:
            self._start_checking_clock()
        self._schedule_checks()

    def add_remote_candidate(self, candidate: Candidate | None, now: float) -> None:
        """Add a (trickled) remote candidate; ``None`` means end-of-candidates."""
        self._check_open()
        self._timer_valid = False
        self._now = now
        if candidate is None:
            self._remote_eoc = True
            if self._remote_ufrag is not None:
                self._start_checking_clock()
            self._update_state()
            return
        if (
            candidate.transport.lower() != "udp"
            or candidate.family is None
            or candidate.component != 1
        ):
            self._log(logging.DEBUG, "ignoring remote candidate %s", candidate.to_sdp())
            return
        if candidate.ufrag is not None and not self._current_ufrag(candidate.ufrag):
            self._log(logging.DEBUG, "ignoring previous generation's %s", candidate.to_sdp())
            return
        candidate = normalized_candidate(candidate)
        address = (candidate.address, candidate.port)
        for index, known in enumerate(self._remote_candidates):
            if (known.address, known.port) == address:
                if known.type == "prflx" and candidate.type != "prflx":
                    self._replace_prflx(index, candidate)
                return
        if len(self._remote_candidates) >= MAX_REMOTE_CANDIDATES:
            self._log(logging.WARNING, "too many remote candidates, ignoring %s", address)
            return
        self._remote_candidates.append(candidate)
        for local in self._local_candidates:
            self._checklist.add(local, candidate, self._controlling)
        self._schedule_checks()

    def _current_ufrag(self, ufrag: str) -> bool:
        """Whether a candidate's ``ufrag`` attribute names the remote generation in use: the
        current remote ufrag, or, while a restart waits for the new one, any ufrag not of a
        previous generation (RFC 8838 §4.4, RFC 8839 §5.1)."""
        if self._remote_ufrag is not None:
            return ufrag == self._remote_ufrag
        return ufrag not in self._old_remote_ufrags

    def _replace_prflx(self, index: int, candidate: Candidate) -> None:
        """A signalled candidate (e.g. a resolved mDNS name) at a peer-reflexive one's
        address replaces it, in its pairs too (draft-ietf-mmusic-mdns-ice-candidates)."""
        self._log(logging.INFO, "peer-reflexive %s is %s", candidate.address, candidate.type)
        self._remote_candidates[index] = candidate
        address = (candidate.address, candidate.port)
        for pair in self._checklist.pairs.values():
            if pair.remote_address == address:
                pair.remote = candidate
                pair.update_priority(self._controlling)

    def restart(self, now: float) -> tuple[str, str]:
        """ICE restart (RFC 8445 §9): new local ufrag/pwd, returned.

        The selected pair and its consent checks stay up (with the old credentials) until
        the new generation selects a pair.
        """
        self._check_open()
        self._timer_valid = False
        self._now = now
        if self._selected is not None and self._previous_local is None:
            self._previous_local = (self._local_ufrag, self._local_pwd)
        self._local_ufrag = self._random_string(8)
        self._local_pwd = self._random_string(24)
        self._begin_restart()
        self._remote_ufrag = self._remote_pwd = None
        self._remote_lite = False
        return self._local_ufrag, self._local_pwd

    def close(self) -> None:
        """Stop for good: state CLOSED, no more datagrams or timers."""
        self._timer_valid = False
        if self._state is IceState.CLOSED:
            return
        self._outgoing.clear()
        self._transactions.clear()
        self._consent_transactions.clear()
        self._set_state(IceState.CLOSED)

    def _check_open(self) -> None:
        if self._state is IceState.CLOSED:
            raise InvalidStateError("the ICE agent is closed")

    # ------------------------------------------------------------------ outputs

    def datagrams_to_send(self, now: float) -> list[tuple[bytes, Address, Address]]:
        """Drain (data, local base address, remote address) triples to send."""
        out = list(self._outgoing)
        self._outgoing.clear()
        return out

    def next_event(self) -> IceEvent | None:
        return self._events.popleft() if self._events else None

    def get_timer(self) -> float | None:
        """The earliest absolute deadline at which :meth:`handle_timer` must run.

        Called after every flush: cached, recomputed only after a state change."""
        if not self._timer_valid:
            self._timer = self._compute_timer()
            self._timer_valid = True
        return self._timer

    def _compute_timer(self) -> float | None:
        """:meth:`get_timer` from scratch (a function of the agent's state only)."""
        if self._state in (IceState.CLOSED, IceState.FAILED):
            return None
        deadlines = [self._transactions.next_deadline(), self._nomination_deadline()]
        if self._remote_pwd is not None:
            deadlines.append(self._next_check_at)
        if self._selected is not None:
            deadlines.append(self._consent.next_send())
            deadlines.append(self._consent.expires_at())
            disconnected = self._consent.disconnected_at()
            if disconnected is not None and self._state is not IceState.DISCONNECTED:
                deadlines.append(disconnected)
        elif self._checking_since is not None:
            deadlines.append(self._checking_since + CHECKING_TIMEOUT)
        return min((d for d in deadlines if d is not None), default=None)

    def handle_timer(self, now: float) -> None:
        """Run everything due at ``now``: retransmissions, paced checks, consent."""
        self._timer_valid = False
        if self._state in (IceState.CLOSED, IceState.FAILED):
            return
        self._now = now
        self._run_retransmissions(now)
        if self._next_check_at is not None and now >= self._next_check_at:
            self._next_check_at = None
            if self._send_next_check(now):
                self._next_check_at = now + self._ta
        self._maybe_nominate(now)
        self._run_consent(now)
        if (
            self._selected is None
            and self._checking_since is not None
            and now >= self._checking_since + CHECKING_TIMEOUT
        ):
            self._log(logging.INFO, "no candidate pair succeeded in %ss", CHECKING_TIMEOUT)
            self._fail()
            return
        self._update_state()

    # ------------------------------------------------------------------ checklist

    def _has_work(self) -> bool:
        return bool(self._checklist.triggered) or (
            not self._checks_done and self._checklist.has_unchecked()
        )

    def _schedule_checks(self) -> None:
        if self._next_check_at is None and self._state is not IceState.CLOSED and self._has_work():
            start = self._now
            if self._last_check_at is not None:
                start = max(start, self._last_check_at + self._ta)
            self._next_check_at = start

    def _start_checking_clock(self) -> None:
        if self._checking_since is None and self._selected is None:
            self._checking_since = self._now

    def _send_next_check(self, now: float) -> bool:
        """Send one triggered or ordinary check; False when there was nothing to send."""
        if self._remote_pwd is None or self._remote_ufrag is None:
            return False
        pair = self._checklist.pop_triggered(self._nominating)
        if pair is None and not self._checks_done:
            pair = self._checklist.next_ordinary()
        if pair is None:
            return False
        self._send_check(pair, now)
        return True

    def _enqueue_triggered(self, key: PairKey, *, front: bool = False) -> None:
        self._checklist.enqueue_triggered(key, front=front)
        self._schedule_checks()

    def _transaction(
        self, creds: tuple[str, str, str], key: PairKey, now: float, generation: int, nominate: bool
    ) -> StunTransaction:
        """A signed Binding request on pair ``key`` (§7.2.2); ``creds`` as consent's."""
        remote_ufrag, remote_pwd, local_ufrag = creds
        base = next((c for c in self._local_candidates if (c.address, c.port) == key[0]), None)
        priority = 0
        if base is not None:  # §7.1.1: the priority a peer-reflexive candidate would have
            priority = compute_priority("prflx", base.local_preference, base.component)
        transaction_id = stun.random_transaction_id(self._rng)
        data = encode_binding_request(
            username=f"{remote_ufrag}:{local_ufrag}",
            priority=priority,
            controlling=self._controlling,
            tie_breaker=self._tie_breaker,
            use_candidate=nominate,
            transaction_id=transaction_id,
            key=remote_pwd.encode(),
        )
        return StunTransaction(
            transaction_id=transaction_id,
            data=data,
            local=key[0],
            remote=key[1],
            remote_pwd=remote_pwd,
            controlling=self._controlling,
            generation=generation,
            sent_at=now,
            use_candidate=nominate,
        )

    def _send_check(self, pair: CandidatePair, now: float) -> None:
        assert self._remote_ufrag is not None and self._remote_pwd is not None
        use_candidate = self._controlling and pair.key == self._nominating
        creds = (self._remote_ufrag, self._remote_pwd, self._local_ufrag)
        transaction = self._transaction(creds, pair.key, now, self._generation, use_candidate)
        if pair.state is not PairState.SUCCEEDED:
            pair.state = PairState.IN_PROGRESS
        transaction.rto = check_rto(self._ta, self._checklist.pending())
        transaction.next_at = now + transaction.rto
        transaction.expires_at = now + 10.0 + transaction.rto
        old = self._transactions.get(pair.transaction_id)
        if old is not None:
            old.cancel_retransmissions()
        self._transactions.add(transaction)
        pair.transaction_id = transaction.transaction_id
        self._outgoing.append((transaction.data, pair.local_address, pair.remote_address))
        self._last_check_at = now
        if self._checking_since is None and self._selected is None:
            self._checking_since = now
        if self._state is IceState.NEW:
            self._set_state(IceState.CHECKING)
        flag = " USE-CANDIDATE" if use_candidate else ""
        self._log(logging.DEBUG, "check %s -> %s%s", pair.local_address, pair.remote_address, flag)

    def _run_retransmissions(self, now: float) -> None:
        resend, timed_out = self._transactions.due(now)
        self._outgoing.extend((t.data, t.local, t.remote) for t in resend)
        for transaction in timed_out:
            self._check_timed_out(transaction)

    def _check_timed_out(self, transaction: StunTransaction) -> None:
        if transaction.generation != self._generation:
            return
        pair = self._checklist.get(transaction.pair_key)
        if pair is None or pair.transaction_id != transaction.transaction_id:
            return
        self._log(logging.DEBUG, "check %s -> %s timed out", transaction.local, transaction.remote)
        pair.transaction_id = None
        pair.state = PairState.FAILED
        if self._nominating == pair.key:
            self._nominating = None
        self._select_best_valid(self._now)
        self._update_state()

    # ------------------------------------------------------------------ nomination

    def _nomination_deadline(self) -> float | None:
        if (
            not self._controlling
            or self._nominating is not None
            or self._checks_done
            or self._first_success_at is None
            or self._remote_pwd is None
        ):
            return None
        best = self._checklist.best_succeeded()
        if best is None:
            return None
        if self._checklist.pending_above(best.priority):
            return self._first_success_at + NOMINATION_SETTLE
        return self._now

    def _maybe_nominate(self, now: float) -> None:
        deadline = self._nomination_deadline()
        if deadline is None or now < deadline:
            return
        best = self._checklist.best_succeeded()
        assert best is not None
        self._log(logging.INFO, "nominating %s -> %s", best.local_address, best.remote_address)
        self._nominating = best.key
        self._enqueue_triggered(best.key, front=True)
        self._select_best_valid(now)

    def _select_best_valid(self, now: float) -> None:
        """Before nomination, send on the best valid pair (RFC 8445 §12.1), or on the one
        we are nominating: no switching away from it while its check runs."""
        best = self._checklist.best_succeeded()
        if self._nominating is not None:
            best = self._checklist.get(self._nominating) or best
        if best is not None and best.state is PairState.SUCCEEDED:
            self._select(best, now, nominated=False)

    def _select(self, pair: CandidatePair, now: float, *, nominated: bool) -> None:
        """Make ``pair`` the selected pair: provisionally (a valid pair, before nomination)
        or for good (``nominated``). A provisional pair gives way to a better valid one or
        to the nominated one; a nominated pair only to a higher-priority nomination."""
        key, previous = pair.key, self._selected
        same_generation = previous is not None and self._selected_generation == self._generation
        if same_generation and previous is not None:
            if self._selected_nominated and not nominated:
                return  # no flapping after nomination
            if self._selected_nominated == nominated and not self._checklist.outranks(
                pair, previous
            ):
                return
        assert self._remote_ufrag is not None and self._remote_pwd is not None
        self._selected = key
        self._selected_generation = self._generation
        self._selected_nominated = nominated
        self._checking_since = None
        if previous != key or not same_generation:
            self._consent_creds = (self._remote_ufrag, self._remote_pwd, self._local_ufrag)
            self._consent.start(pair.last_success_at if pair.last_success_at is not None else now)
        if nominated:
            self._previous_local = None
            self._checks_done = True
            self._checklist.drop_unchecked()
        state = "nominated" if nominated else "valid, not nominated yet"
        self._log(logging.INFO, "selected %s -> %s (%s)", key[0], key[1], state)
        if previous != key:
            self._emit(SelectedPairChanged(key[0], key[1]))
        if self._state is IceState.DISCONNECTED:
            self._set_state(IceState.CONNECTED)
        self._update_state()

    # ------------------------------------------------------------------ consent

    def _run_consent(self, now: float) -> None:
        if self._selected is None or self._consent_creds is None:
            return
        if now >= self._consent.expires_at():
            self._log(logging.WARNING, "consent expired on %s -> %s", *self._selected)
            self._fail()
            return
        disconnected = self._consent.disconnected_at()
        if disconnected is not None and now >= disconnected:
            self._set_state(IceState.DISCONNECTED)
        if now >= self._consent.next_send():
            local, remote = self._selected
            generation = self._selected_generation
            transaction = self._transaction(
                self._consent_creds, (local, remote), now, generation, False
            )
            transaction.consent = True
            transaction.expires_at = now + self._consent.consent_timeout
            self._consent_transactions.add(transaction)
            self._consent.on_sent(now)
            self._outgoing.append((transaction.data, local, remote))

    def _consent_response(self, now: float) -> None:
        self._consent.on_response(now)
        if self._state is IceState.DISCONNECTED:
            self._set_state(IceState.CONNECTED)
            self._update_state()

    # ------------------------------------------------------------------ state

    def _fail(self) -> None:
        self._transactions.clear()
        self._consent_transactions.clear()
        self._next_check_at = None
        self._checking_since = None
        self._set_state(IceState.FAILED)

    def _update_state(self) -> None:
        if self._state in (IceState.CLOSED, IceState.FAILED, IceState.DISCONNECTED):
            return
        current = self._selected is not None and self._selected_generation == self._generation
        provisional = current and not self._selected_nominated
        all_failed = self._remote_eoc and self._checklist.all_failed()
        if self._selected is not None and not (provisional and all_failed):
            done = current and self._selected_nominated and self._remote_eoc
            done = done and self._checklist.all_done()
            self._set_state(IceState.COMPLETED if done else IceState.CONNECTED)
            return
        if all_failed and (provisional or self._state is IceState.CHECKING):
            self._log(logging.INFO, "every candidate pair failed")
            self._fail()

    def _switch_role(self, controlling: bool) -> None:
        self._log(logging.INFO, "role -> %s", "controlling" if controlling else "controlled")
        self._controlling = controlling
        self._nominating = None
        self._checklist.set_role(controlling)

    def _begin_restart(self) -> None:
        """Start a new generation: forget the checklist, keep the selected pair."""
        if self._selected is not None and self._previous_local is None:
            self._previous_local = (self._local_ufrag, self._local_pwd)
        if self._remote_ufrag is not None and self._remote_ufrag not in self._old_remote_ufrags:
            self._old_remote_ufrags.append(self._remote_ufrag)
        self._generation += 1
        self._transactions.clear()
        self._remote_candidates.clear()
        self._remote_eoc = False
        self._checklist.clear()
        self._nominating = None
        self._first_success_at = None
        self._checks_done = False
        self._checking_since = None
        self._next_check_at = None
        if self._state is IceState.FAILED:
            self._selected = None
            self._selected_nominated = False
            self._consent_creds = None
            self._previous_local = None
            self._set_state(IceState.NEW)
        elif self._state is IceState.COMPLETED:
            self._set_state(IceState.CONNECTED)
