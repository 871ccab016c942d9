"""STUN Binding messages of ICE connectivity and consent checks.

Implements RFC 8445 §7.1.1-§7.1.2 (USERNAME, PRIORITY, ICE-CONTROLLING/ICE-CONTROLLED,
USE-CANDIDATE in requests), §7.3.1 (success responses carrying XOR-MAPPED-ADDRESS, 487
Role Conflict), RFC 8489 §9.1.3 (400/401 answers without MESSAGE-INTEGRITY) and §6.3.1.1
(420 Unknown Attribute with UNKNOWN-ATTRIBUTES).
"""

from __future__ import annotations

import random

from . import stun
from .stun import Address

__all__ = ["binding_request", "binding_response"]

_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    420: "Unknown Attribute",
    487: "Role Conflict",
}


def binding_request(
    *,
    username: str,
    priority: int,
    controlling: bool,
    tie_breaker: int,
    use_candidate: bool,
    rng: random.Random,
) -> stun.Message:
    """A connectivity (or consent) check; the caller signs it with the remote pwd."""
    role = stun.ICE_CONTROLLING if controlling else stun.ICE_CONTROLLED
    attributes: list[tuple[int, stun.AttributeValue]] = [
        (stun.USERNAME, username),
        (stun.PRIORITY, priority),
        (role, tie_breaker),
    ]
    if use_candidate:
        attributes.append((stun.USE_CANDIDATE, None))
    return stun.Message(
        stun.Method.BINDING,
        stun.MessageClass.REQUEST,
        stun.random_transaction_id(rng),
        tuple(attributes),
    )


def binding_response(
    transaction_id: bytes,
    mapped: Address,
    error: int | None,
    key: bytes | None,
    unknown: tuple[int, ...] = (),
) -> bytes:
    """Encoded success (XOR-MAPPED-ADDRESS = ``mapped``) or error response.

    ``key`` (our pwd) adds MESSAGE-INTEGRITY; FINGERPRINT is always added. A 420 error
    lists the ``unknown`` attribute types in UNKNOWN-ATTRIBUTES (RFC 8489 §6.3.1.1).
    """
    attributes: tuple[tuple[int, stun.AttributeValue], ...]
    if error is None:
        cls = stun.MessageClass.SUCCESS
        attributes = ((stun.XOR_MAPPED_ADDRESS, mapped),)
    else:
        cls = stun.MessageClass.ERROR
        attributes = ((stun.ERROR_CODE, stun.ErrorCode(error, _REASONS.get(error, ""))),)
        if unknown:
            attributes += ((stun.UNKNOWN_ATTRIBUTES, unknown),)
    response = stun.Message(stun.Method.BINDING, cls, transaction_id, attributes)
    return stun.encode(response, key, True)
