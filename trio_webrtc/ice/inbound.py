"""The ICE agent's inbound side: connectivity-check requests and responses.

Implements RFC 8445 §7.3 (answering checks: §7.3.1.1 role conflicts, §7.3.1.3 peer-reflexive
remote candidates, §7.3.1.4 triggered checks, §7.3.1.5 nomination by USE-CANDIDATE on the
controlled side), §7.2.5 (processing responses: §7.2.5.1 487 Role Conflict, §7.2.5.2.1
source and destination checks, §7.2.5.3.1-§7.2.5.3.3 valid pairs and unfreezing),
RFC 8489 §9.2.4/§9.1.3 (400/401 answers), §6.3.1.1 (420 for a request with unknown
comprehension-required attributes), §6.3.3/§6.3.4 (a response carrying them fails its
check) and consent responses (RFC 7675 §5.1).

:class:`InboundChecks` is one base of :class:`~trio_webrtc.ice.agent.IceAgent`, which owns
and initialises all the state used here.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import TYPE_CHECKING

from ..errors import StunParseError
from . import stun
from .candidate import Candidate, normalize_endpoint
from .checklist import (
    CandidatePair,
    Checklist,
    PairKey,
    PairState,
    TransactionTable,
    peer_reflexive,
)
from .events import IceState
from .messages import binding_response
from .stun import Address

__all__ = ["MAX_REMOTE_CANDIDATES", "InboundChecks"]

MAX_REMOTE_CANDIDATES = 1000


def _hex(types: tuple[int, ...]) -> str:
    return ", ".join(f"0x{t:04x}" for t in types)


class InboundChecks:
    """Answers connectivity checks and processes their responses."""

    # State owned and initialised by IceAgent.
    _state: IceState
    _now: float
    _controlling: bool
    _tie_breaker: int
    _local_ufrag: str
    _local_pwd: str
    _previous_local: tuple[str, str] | None
    _remote_ufrag: str | None
    _consent_creds: tuple[str, str, str] | None
    _local_candidates: list[Candidate]
    _remote_candidates: list[Candidate]
    _prflx_count: int
    _checklist: Checklist
    _transactions: TransactionTable
    _consent_transactions: TransactionTable
    _outgoing: deque[tuple[bytes, Address, Address]]
    _generation: int
    _selected: PairKey | None
    _nominating: PairKey | None
    _first_success_at: float | None
    _timer_valid: bool

    if TYPE_CHECKING:

        def _log(self, level: int, message: str, *args: object) -> None: ...

        def _switch_role(self, controlling: bool) -> None: ...

        def _enqueue_triggered(self, key: PairKey, *, front: bool = False) -> None: ...

        def _select(self, pair: CandidatePair, now: float, *, nominated: bool) -> None: ...

        def _select_best_valid(self, now: float) -> None: ...

        def _consent_response(self, now: float) -> None: ...

        def _schedule_checks(self) -> None: ...

        def _maybe_nominate(self, now: float) -> None: ...

        def _update_state(self) -> None: ...

    def receive_datagram(
        self, data: bytes, local_address: Address, remote_address: Address, now: float
    ) -> None:
        """Process one received STUN datagram; anything bad is logged and dropped."""
        self._timer_valid = False
        if self._state is IceState.CLOSED:
            return
        self._now = now
        try:
            message = stun.parse_message(data)
        except StunParseError as exc:
            self._log(logging.DEBUG, "dropping malformed STUN from %s: %s", remote_address, exc)
            return
        if message.method != stun.Method.BINDING:
            return
        if message.has(stun.FINGERPRINT) and not stun.verify_fingerprint(data):
            self._log(logging.DEBUG, "dropping STUN with bad FINGERPRINT from %s", remote_address)
            return
        local, remote = normalize_endpoint(local_address), normalize_endpoint(remote_address)
        if message.message_class is stun.MessageClass.REQUEST:
            self._handle_request(message, data, local, remote, now)
        elif message.message_class in (stun.MessageClass.SUCCESS, stun.MessageClass.ERROR):
            self._handle_response(message, data, local, remote, now)

    def _respond(
        self,
        request: stun.Message,
        local: Address,
        remote: Address,
        *,
        error: int | None = None,
        key: bytes | None = None,
        unknown: tuple[int, ...] = (),
    ) -> None:
        data = binding_response(request.transaction_id, remote, error, key, unknown)
        self._outgoing.append((data, local, remote))

    def _handle_request(
        self, message: stun.Message, data: bytes, local: Address, remote: Address, now: float
    ) -> None:
        username = message.get_str(stun.USERNAME)
        if username is None or not message.has(stun.MESSAGE_INTEGRITY):
            self._respond(message, local, remote, error=400)
            return
        ours, _, theirs = username.partition(":")
        current = ours == self._local_ufrag
        if current:
            pwd = self._local_pwd
        elif self._previous_local is not None and ours == self._previous_local[0]:
            pwd = self._previous_local[1]
        else:
            self._log(logging.DEBUG, "unknown USERNAME from %s", remote)
            self._respond(message, local, remote, error=401)
            return
        key = pwd.encode()
        if not stun.verify_integrity(data, key):
            self._log(logging.DEBUG, "bad MESSAGE-INTEGRITY from %s", remote)
            self._respond(message, local, remote, error=401)
            return
        unknown = stun.unknown_comprehension_required(message)
        if unknown:  # RFC 8489 §6.3: checked once authenticated; §6.3.1.1: 420
            self._log(logging.DEBUG, "unknown attributes %s from %s", _hex(unknown), remote)
            self._respond(message, local, remote, error=420, key=key, unknown=unknown)
            return
        if current and self._remote_ufrag is not None and theirs != self._remote_ufrag:
            if self._consent_creds is None or theirs != self._consent_creds[0]:
                self._log(logging.DEBUG, "USERNAME %r does not match the remote ufrag", username)
                self._respond(message, local, remote, error=401)
                return
            current = False  # the peer's previous generation: answer only
        if current:
            their_controlling = message.get_int(stun.ICE_CONTROLLING)
            their_controlled = message.get_int(stun.ICE_CONTROLLED)
            if self._controlling and their_controlling is not None:
                if self._tie_breaker >= their_controlling:
                    self._respond(message, local, remote, error=487, key=key)
                    return
                self._switch_role(False)
            elif not self._controlling and their_controlled is not None:
                if self._tie_breaker >= their_controlled:
                    self._switch_role(True)
                else:
                    self._respond(message, local, remote, error=487, key=key)
                    return
        self._respond(message, local, remote, key=key)
        if current and self._state not in (IceState.FAILED, IceState.CLOSED):
            self._learn_from_request(message, local, remote, now)

    def _learn_from_request(
        self, message: stun.Message, local: Address, remote: Address, now: float
    ) -> None:
        """§7.3.1.3-§7.3.1.5: peer-reflexive candidate, triggered check, nomination."""
        pair = self._checklist.get((local, remote))
        if pair is None:  # else both candidates are known already (e.g. consent checks)
            pair = self._pair_for_request(message, local, remote)
            if pair is None:
                return
        use_candidate = message.has(stun.USE_CANDIDATE) and not self._controlling
        if pair.state is PairState.SUCCEEDED:
            if use_candidate:
                pair.nominated = True
                self._select(pair, now, nominated=True)
            return
        if use_candidate:
            pair.nominate_on_success = True
        pair.state = PairState.WAITING
        self._enqueue_triggered(pair.key)

    def _pair_for_request(
        self, message: stun.Message, local: Address, remote: Address
    ) -> CandidatePair | None:
        """The pair a request arrived on, learning a peer-reflexive remote candidate."""
        base = next((c for c in self._local_candidates if (c.address, c.port) == local), None)
        if base is None:
            self._log(logging.DEBUG, "request on unknown local address %s", local)
            return None
        remote_candidate = next(
            (c for c in self._remote_candidates if (c.address, c.port) == remote), None
        )
        if remote_candidate is None:
            if len(self._remote_candidates) >= MAX_REMOTE_CANDIDATES:
                return None
            self._prflx_count += 1
            priority = message.get_int(stun.PRIORITY) or 0
            remote_candidate = peer_reflexive(remote, priority, self._prflx_count)
            self._log(logging.INFO, "learnt peer-reflexive candidate %s", remote)
            self._remote_candidates.append(remote_candidate)
        return self._checklist.add(base, remote_candidate, self._controlling)

    def _handle_response(
        self, message: stun.Message, data: bytes, local: Address, remote: Address, now: float
    ) -> None:
        tid = message.transaction_id
        transaction = self._transactions.get(tid) or self._consent_transactions.get(tid)
        if transaction is None:
            return
        if not stun.verify_integrity(data, transaction.remote_pwd.encode()):
            self._log(logging.DEBUG, "dropping response with bad integrity from %s", remote)
            return
        if (local, remote) != transaction.pair_key:
            self._log(logging.DEBUG, "dropping response from unexpected address %s", remote)
            return
        self._transactions.pop(tid)
        self._consent_transactions.pop(tid)
        success = message.message_class is stun.MessageClass.SUCCESS
        unknown = stun.unknown_comprehension_required(message)
        if unknown:  # RFC 8489 §6.3.3, §6.3.4: discarded, the transaction failed
            self._log(logging.DEBUG, "response with unknown attributes %s", _hex(unknown))
            success = False
        if success and transaction.pair_key == self._selected:
            self._consent_response(now)
        if transaction.consent or transaction.generation != self._generation:
            return
        pair = self._checklist.get(transaction.pair_key)
        if pair is None:
            return
        if pair.transaction_id == tid:
            pair.transaction_id = None
        if not success:
            error = None if unknown else message.error_code
            if error is not None and error.code == 487:
                if transaction.controlling == self._controlling:
                    self._switch_role(not self._controlling)
                if pair.state is not PairState.SUCCEEDED:
                    pair.state = PairState.WAITING
                self._enqueue_triggered(pair.key)
            else:
                pair.state = PairState.FAILED
                if self._nominating == pair.key:
                    self._nominating = None
                self._select_best_valid(now)
            self._update_state()
            return
        pair.last_success_at = now
        if pair.state is not PairState.SUCCEEDED:
            pair.state = PairState.SUCCEEDED
            if self._first_success_at is None:
                self._first_success_at = now
            self._checklist.unfreeze(pair.foundation)
            self._schedule_checks()
        if transaction.use_candidate and self._controlling:
            pair.nominated = True
            self._nominating = None
            self._select(pair, now, nominated=True)
        elif not self._controlling and pair.nominate_on_success:
            pair.nominated = True
            self._select(pair, now, nominated=True)
        else:
            self._select_best_valid(now)
        self._maybe_nominate(now)
        self._update_state()
