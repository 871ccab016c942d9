"""Godot's ``@GlobalScope.Error`` and the one table mapping trio_webrtc exceptions to it.

No RFC: this is the error vocabulary of Godot's class reference (``@GlobalScope``), used
by every Godot-face method instead of raising.

Mapping (:func:`error_for`), checked in this order:

==============================================  ==========================
exception                                       Error
==============================================  ==========================
``MessageTooLargeError``                        ``ERR_INVALID_PARAMETER``
SCTP ``SendBufferFullError``                    ``ERR_BUSY``
``InvalidStateError`` (not allowed *now*)       ``ERR_UNAVAILABLE``
``ParseError`` (bad SDP, bad candidate),        ``ERR_INVALID_PARAMETER``
other ``LocalProtocolError``, ``ValueError``,
``TypeError`` (bad argument)
``ConnectionFailedError``, ``DtlsError``        ``ERR_CONNECTION_ERROR``
``OSError`` (cannot bind a socket)              ``ERR_CANT_CREATE``
anything else                                   ``FAILED``
==============================================  ==========================

Methods called outside ``async with`` return ``ERR_UNCONFIGURED`` without an exception.
"""

from __future__ import annotations

import enum

from ..errors import (
    ConnectionFailedError,
    DtlsError,
    InvalidStateError,
    LocalProtocolError,
    MessageTooLargeError,
    ParseError,
)

__all__ = ["Error", "error_for"]


class Error(enum.IntEnum):
    """Godot's ``@GlobalScope.Error`` with its exact values."""

    OK = 0
    FAILED = 1
    ERR_UNAVAILABLE = 2
    ERR_UNCONFIGURED = 3
    ERR_UNAUTHORIZED = 4
    ERR_PARAMETER_RANGE_ERROR = 5
    ERR_OUT_OF_MEMORY = 6
    ERR_FILE_NOT_FOUND = 7
    ERR_FILE_BAD_DRIVE = 8
    ERR_FILE_BAD_PATH = 9
    ERR_FILE_NO_PERMISSION = 10
    ERR_FILE_ALREADY_IN_USE = 11
    ERR_FILE_CANT_OPEN = 12
    ERR_FILE_CANT_WRITE = 13
    ERR_FILE_CANT_READ = 14
    ERR_FILE_UNRECOGNIZED = 15
    ERR_FILE_CORRUPT = 16
    ERR_FILE_MISSING_DEPENDENCIES = 17
    ERR_FILE_EOF = 18
    ERR_CANT_OPEN = 19
    ERR_CANT_CREATE = 20
    ERR_QUERY_FAILED = 21
    ERR_ALREADY_IN_USE = 22
    ERR_LOCKED = 23
    ERR_TIMEOUT = 24
    ERR_CANT_CONNECT = 25
    ERR_CANT_RESOLVE = 26
    ERR_CONNECTION_ERROR = 27
    ERR_CANT_ACQUIRE_RESOURCE = 28
    ERR_CANT_FORK = 29
    ERR_INVALID_DATA = 30
    ERR_INVALID_PARAMETER = 31
    ERR_ALREADY_EXISTS = 32
    ERR_DOES_NOT_EXIST = 33
    ERR_DATABASE_CANT_READ = 34
    ERR_DATABASE_CANT_WRITE = 35
    ERR_COMPILATION_FAILED = 36
    ERR_METHOD_NOT_FOUND = 37
    ERR_LINK_FAILED = 38
    ERR_SCRIPT_FAILED = 39
    ERR_CYCLIC_LINK = 40
    ERR_INVALID_DECLARATION = 41
    ERR_DUPLICATE_SYMBOL = 42
    ERR_PARSE_ERROR = 43
    ERR_BUSY = 44
    ERR_SKIP = 45
    ERR_HELP = 46
    ERR_BUG = 47
    ERR_PRINTER_ON_FIRE = 48


def _is_send_buffer_full(exc: BaseException) -> bool:
    # Imported lazily so that this module (and the surface tests) need only errors.py.
    try:
        from ..sctp.events import SendBufferFullError
    except ImportError:  # pragma: no cover - the SCTP layer always ships it
        return False
    return isinstance(exc, SendBufferFullError)


def error_for(exc: BaseException) -> Error:
    """The Godot ``Error`` for an exception a lower layer raised (table in the module doc)."""
    if isinstance(exc, MessageTooLargeError):
        return Error.ERR_INVALID_PARAMETER
    if _is_send_buffer_full(exc):
        return Error.ERR_BUSY
    if isinstance(exc, InvalidStateError):
        return Error.ERR_UNAVAILABLE
    if isinstance(exc, (ParseError, LocalProtocolError, ValueError, TypeError)):
        return Error.ERR_INVALID_PARAMETER
    if isinstance(exc, (ConnectionFailedError, DtlsError)):
        return Error.ERR_CONNECTION_ERROR
    if isinstance(exc, OSError):
        return Error.ERR_CANT_CREATE
    return Error.FAILED
