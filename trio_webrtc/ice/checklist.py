"""Candidate pairs and STUN client transactions for the ICE agent.

Implements RFC 8445 §6.1.2.3 (pair priority), §6.1.2.6 (pair states), §6.1.4 (frozen
pairs unfrozen by foundation), §7.3.1.3 (peer-reflexive remote candidates), §12.1 (which
valid pair outranks the one in use before nomination) and the retransmission timer of
§14.3: a check's first RTO is ``max(500 ms, Ta x N x (Waiting + In-Progress pairs))`` with
N = 1 checklist (:func:`check_rto`): retransmissions to many unreachable pairs stay spread
(50 of them: 150 requests in the first 2 s at the core's Ta of 5 ms, where a 100 ms RTO
sent 350; 40 at Ta = 50 ms, where the RTO is 2.5 s). Retransmissions follow
RFC 8489 §6.2.1 (doubling) with a short ICE budget: the interval is capped at 1 s (or at
the first RTO, if larger) and a check fails after 6 transmissions without an answer
(5.5 s with the 500 ms floor, like libwebrtc's ~5 s to give up on a connection).
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass, field

from .candidate import Candidate
from .stun import Address

__all__ = [
    "MAX_TRANSMISSIONS",
    "RTO_INITIAL",
    "RTO_MAX",
    "CandidatePair",
    "Checklist",
    "PairKey",
    "PairState",
    "StunTransaction",
    "check_rto",
    "pair_priority",
    "peer_reflexive",
]

PairKey = tuple[Address, Address]
"""(local base address, remote address)."""

RTO_INITIAL = 0.5
"""RFC 8445 §14.3: the floor of a connectivity check's RTO."""
RTO_MAX = 1.0
MAX_TRANSMISSIONS = 6
"""With the floor RTO a check goes at 0, .5, 1.5, 2.5, 3.5, 4.5 s and fails at 5.5 s."""


def check_rto(ta: float, pending: int) -> float:
    """RFC 8445 §14.3: ``max(500 ms, Ta x N x (Num-Waiting + Num-In-Progress))``, N = 1."""
    return max(RTO_INITIAL, ta * pending)


class PairState(enum.Enum):
    """Candidate pair states (RFC 8445 §6.1.2.6)."""

    FROZEN = "frozen"
    WAITING = "waiting"
    IN_PROGRESS = "in-progress"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


def pair_priority(controlling_priority: int, controlled_priority: int) -> int:
    """RFC 8445 §6.1.2.3: ``2^32*MIN(G,D) + 2*MAX(G,D) + (G>D?1:0)``."""
    g, d = controlling_priority, controlled_priority
    return (min(g, d) << 32) + 2 * max(g, d) + (1 if g > d else 0)


def peer_reflexive(address: Address, priority: int, number: int) -> Candidate:
    """A remote peer-reflexive candidate learnt from a check's source (§7.3.1.3)."""
    return Candidate(
        foundation=f"prflx{number}",
        component=1,
        transport="udp",
        priority=priority,
        address=address[0],
        port=address[1],
        type="prflx",
    )


@dataclass(eq=False)
class CandidatePair:
    """A local base candidate paired with a remote candidate."""

    local: Candidate
    remote: Candidate
    priority: int = 0
    state: PairState = PairState.WAITING
    nominated: bool = False
    nominate_on_success: bool = False
    """Controlled side: USE-CANDIDATE arrived before our own check succeeded."""
    transaction_id: bytes | None = None
    """The current check transaction, if any."""
    last_success_at: float | None = None
    """When the last authenticated success response for this pair arrived."""

    @property
    def local_address(self) -> Address:
        return (self.local.address, self.local.port)

    @property
    def remote_address(self) -> Address:
        return (self.remote.address, self.remote.port)

    @property
    def key(self) -> PairKey:
        return (self.local_address, self.remote_address)

    @property
    def foundation(self) -> str:
        return f"{self.local.foundation}:{self.remote.foundation}"

    def update_priority(self, controlling: bool) -> None:
        """Recompute ``priority`` for our current role."""
        if controlling:
            self.priority = pair_priority(self.local.priority, self.remote.priority)
        else:
            self.priority = pair_priority(self.remote.priority, self.local.priority)


@dataclass(eq=False)
class StunTransaction:
    """An outstanding Binding request (connectivity or consent check).

    ``next_at`` is when to retransmit (or, after the last transmission, to give up);
    ``None`` means no more retransmissions but a late response is still accepted until
    ``expires_at``.
    """

    transaction_id: bytes
    data: bytes
    local: Address
    remote: Address
    remote_pwd: str
    controlling: bool
    generation: int
    sent_at: float
    use_candidate: bool = False
    consent: bool = False
    next_at: float | None = None
    rto: float = RTO_INITIAL
    transmissions: int = 1
    expires_at: float = field(default=0.0)

    @property
    def pair_key(self) -> PairKey:
        return (self.local, self.remote)

    def cancel_retransmissions(self) -> None:
        """Stop retransmitting; keep accepting a response until ``expires_at``."""
        self.next_at = None


class Checklist:
    """The pairs of one ICE generation and its triggered-check queue (both bounded)."""

    def __init__(self, max_pairs: int) -> None:
        self.max_pairs = max_pairs
        self.pairs: dict[PairKey, CandidatePair] = {}
        self.triggered: deque[PairKey] = deque()

    def get(self, key: PairKey) -> CandidatePair | None:
        return self.pairs.get(key)

    def by_priority(self) -> list[CandidatePair]:
        return sorted(self.pairs.values(), key=lambda p: -p.priority)

    def clear(self) -> None:
        self.pairs.clear()
        self.triggered.clear()

    def add(self, local: Candidate, remote: Candidate, controlling: bool) -> CandidatePair | None:
        """Pair ``local`` with ``remote`` (same family only); frozen if its foundation is
        already being checked (§6.1.2.6). Over the limit the lowest-priority idle pair is
        dropped (§6.1.2.5); ``None`` when that is the new one."""
        if local.family != remote.family:
            return None
        pair = CandidatePair(local, remote)
        if pair.key in self.pairs:
            return self.pairs[pair.key]
        pair.update_priority(controlling)
        same = [p for p in self.pairs.values() if p.foundation == pair.foundation]
        if same and not any(p.state is PairState.SUCCEEDED for p in same):
            pair.state = PairState.FROZEN
        self.pairs[pair.key] = pair
        if len(self.pairs) > self.max_pairs:
            idle = (PairState.FROZEN, PairState.WAITING, PairState.FAILED)
            removable = [p for p in self.pairs.values() if p.state in idle]
            victim = min(removable or [pair], key=lambda p: p.priority)
            del self.pairs[victim.key]
            if victim is pair:
                return None
        return pair

    def enqueue_triggered(self, key: PairKey, *, front: bool = False) -> None:
        if key in self.triggered:
            self.triggered.remove(key)
        if front:
            self.triggered.appendleft(key)
        else:
            self.triggered.append(key)

    def pop_triggered(self, nominating: PairKey | None) -> CandidatePair | None:
        """The next triggered pair still needing a check (or the one being nominated)."""
        while self.triggered:
            pair = self.pairs.get(self.triggered.popleft())
            if pair is not None and (
                pair.state is not PairState.SUCCEEDED or pair.key == nominating
            ):
                return pair
        return None

    def next_ordinary(self) -> CandidatePair | None:
        """Highest-priority Waiting pair, else unfreeze the highest Frozen one (§6.1.4.2)."""
        for state in (PairState.WAITING, PairState.FROZEN):
            ready = [p for p in self.pairs.values() if p.state is state]
            if ready:
                return max(ready, key=lambda p: p.priority)
        return None

    def pending(self) -> int:
        """Pairs Waiting or In-Progress (the RTO of §14.3 grows with them)."""
        busy = (PairState.WAITING, PairState.IN_PROGRESS)
        return sum(1 for p in self.pairs.values() if p.state in busy)

    def has_unchecked(self) -> bool:
        idle = (PairState.WAITING, PairState.FROZEN)
        return any(p.state in idle for p in self.pairs.values())

    def best_succeeded(self) -> CandidatePair | None:
        valid = [p for p in self.pairs.values() if p.state is PairState.SUCCEEDED]
        return max(valid, key=lambda p: p.priority) if valid else None

    def outranks(self, pair: CandidatePair, key: PairKey) -> bool:
        """True when ``pair`` should replace the selected pair ``key``: that one is gone,
        no longer valid, or of lower priority."""
        current = self.pairs.get(key)
        return pair.key != key and (
            current is None
            or current.state is not PairState.SUCCEEDED
            or pair.priority > current.priority
        )

    def pending_above(self, priority: int) -> bool:
        """True while a pair of higher priority may still succeed."""
        pending = (PairState.FROZEN, PairState.WAITING, PairState.IN_PROGRESS)
        return any(p.state in pending and p.priority > priority for p in self.pairs.values())

    def unfreeze(self, foundation: str) -> None:
        for pair in self.pairs.values():
            if pair.state is PairState.FROZEN and pair.foundation == foundation:
                pair.state = PairState.WAITING

    def set_role(self, controlling: bool) -> None:
        for pair in self.pairs.values():
            pair.update_priority(controlling)

    def drop_unchecked(self) -> None:
        """§8.1.2: once a pair is selected, Frozen and Waiting pairs are removed."""
        idle = (PairState.FROZEN, PairState.WAITING)
        for key in [k for k, p in self.pairs.items() if p.state in idle]:
            del self.pairs[key]

    def all_failed(self) -> bool:
        return (
            bool(self.pairs)
            and not self.triggered
            and all(p.state is PairState.FAILED for p in self.pairs.values())
        )

    def all_done(self) -> bool:
        done = (PairState.SUCCEEDED, PairState.FAILED)
        return not self.triggered and all(p.state in done for p in self.pairs.values())


class TransactionTable:
    """Outstanding requests by transaction id; the oldest are evicted beyond ``limit``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._items: dict[bytes, StunTransaction] = {}

    def __len__(self) -> int:
        return len(self._items)

    def get(self, transaction_id: bytes | None) -> StunTransaction | None:
        return self._items.get(transaction_id or b"")

    def pop(self, transaction_id: bytes) -> StunTransaction | None:
        return self._items.pop(transaction_id, None)

    def clear(self) -> None:
        self._items.clear()

    def add(self, transaction: StunTransaction) -> None:
        now = transaction.sent_at
        stale = [tid for tid, t in self._items.items() if t.next_at is None and t.expires_at <= now]
        for tid in stale:
            del self._items[tid]
        self._items[transaction.transaction_id] = transaction
        while len(self._items) > self.limit:
            del self._items[next(iter(self._items))]

    def next_deadline(self) -> float | None:
        return min((t.next_at for t in self._items.values() if t.next_at is not None), default=None)

    def due(self, now: float) -> tuple[list[StunTransaction], list[StunTransaction]]:
        """Advance retransmissions due at ``now``: (to resend, timed out and removed)."""
        resend: list[StunTransaction] = []
        timed_out: list[StunTransaction] = []
        for transaction in list(self._items.values()):
            if transaction.next_at is None or transaction.next_at > now:
                continue
            if transaction.transmissions >= MAX_TRANSMISSIONS:
                del self._items[transaction.transaction_id]
                timed_out.append(transaction)
                continue
            transaction.transmissions += 1
            transaction.rto = min(transaction.rto * 2, max(RTO_MAX, transaction.rto))
            transaction.next_at = now + transaction.rto
            resend.append(transaction)
        return resend, timed_out
