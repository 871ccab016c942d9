"""STUN Binding messages of ICE connectivity and consent checks.

Implements RFC 8445 §7.1.1-§7.1.2 (USERNAME, PRIORITY, ICE-CONTROLLING/ICE-CONTROLLED,
USE-CANDIDATE in requests), §7.3.1 (success responses carrying XOR-MAPPED-ADDRESS, 487
Role Conflict), RFC 8489 §9.1.3 (400/401 answers without MESSAGE-INTEGRITY) and §6.3.1.1
(420 Unknown Attribute with UNKNOWN-ATTRIBUTES).
"""

from __future__ import annotations

import random
import struct

from ..errors import LocalProtocolError
from . import stun
from .stun import Address

__all__ = ["binding_request", "binding_response", "encode_binding_request"]

_REQUEST = 0x0001  # Binding request (RFC 8489 §5, §18.2)
_SUCCESS = 0x0101  # Binding success response
_PRIORITY = struct.Struct("!HHI")
_ROLE = struct.Struct("!HHQ")
_USE_CANDIDATE = struct.pack("!HH", stun.USE_CANDIDATE, 0)
_XOR_MAPPED_HEAD = struct.Struct("!HH")

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


def encode_binding_request(
    *,
    username: str,
    priority: int,
    controlling: bool,
    tie_breaker: int,
    use_candidate: bool,
    transaction_id: bytes,
    key: bytes,
) -> bytes:
    """:func:`binding_request` signed with ``key`` and FINGERPRINTed, as
    ``stun.encode(binding_request(...), key, True)`` gives it, without the generic codec."""
    raw = username.encode()
    if len(raw) > 763:  # RFC 8489 §14.3, as stun.encode checks it
        raise LocalProtocolError("attribute 0x0006 too long")
    if priority < 0 or tie_breaker < 0:
        raise LocalProtocolError("PRIORITY and the tie-breaker must be non-negative")
    role = stun.ICE_CONTROLLING if controlling else stun.ICE_CONTROLLED
    body = (
        struct.pack("!HH", stun.USERNAME, len(raw))
        + raw
        + b"\x00" * (-len(raw) % 4)
        + _PRIORITY.pack(stun.PRIORITY, 4, priority & 0xFFFFFFFF)
        + _ROLE.pack(role, 8, tie_breaker & 0xFFFFFFFFFFFFFFFF)
    )
    if use_candidate:
        body += _USE_CANDIDATE
    return stun.finish(_REQUEST, transaction_id, body, key, True)


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
    if error is None:  # the common case, without the generic codec
        value = stun.xor_address_value(mapped, transaction_id)  # 8 or 20 bytes: no padding
        body = _XOR_MAPPED_HEAD.pack(stun.XOR_MAPPED_ADDRESS, len(value)) + value
        return stun.finish(_SUCCESS, transaction_id, body, key, True)
    attributes: tuple[tuple[int, stun.AttributeValue], ...]
    attributes = ((stun.ERROR_CODE, stun.ErrorCode(error, _REASONS.get(error, ""))),)
    if unknown:
        attributes += ((stun.UNKNOWN_ATTRIBUTES, unknown),)
    cls = stun.MessageClass.ERROR
    response = stun.Message(stun.Method.BINDING, cls, transaction_id, attributes)
    return stun.encode(response, key, True)
