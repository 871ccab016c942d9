"""Godot-style signals: ``Signal`` objects and the ``Object`` signal methods.

No RFC: this mirrors Godot's ``Signal`` and ``Object.connect``/``disconnect``/
``is_connected``/``emit_signal``. Callbacks run synchronously, in connection order, when
the signal is emitted; the WebRTC classes emit only inside their ``poll()``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, overload

from ._errors import Error

__all__ = ["GodotObject", "Signal", "SignalDescriptor"]

logger = logging.getLogger("trio_webrtc.godot")

Callback = Callable[..., object]


class Signal:
    """One signal of one object: a list of connected callables."""

    __slots__ = ("_callbacks", "_log_prefix", "_name")

    def __init__(self, name: str, log_prefix: str = "") -> None:
        self._name = name
        self._log_prefix = log_prefix
        self._callbacks: list[Callback] = []

    def get_name(self) -> str:
        return self._name

    def connect(self, callback: Callback, flags: int = 0) -> Error:
        """Connect ``callback``; ``ERR_INVALID_PARAMETER`` if it is already connected."""
        if not callable(callback):
            logger.warning(
                "[%s] signal %s: cannot connect a non-callable %r",
                self._log_prefix,
                self._name,
                callback,
            )
            return Error.ERR_INVALID_PARAMETER
        if callback in self._callbacks:
            logger.warning(
                "[%s] signal %s: %r is already connected", self._log_prefix, self._name, callback
            )
            return Error.ERR_INVALID_PARAMETER
        self._callbacks.append(callback)
        return Error.OK

    def disconnect(self, callback: Callback) -> None:
        """Disconnect ``callback``; logs (does not raise) if it was not connected."""
        try:
            self._callbacks.remove(callback)
        except ValueError:
            logger.warning(
                "[%s] signal %s: %r is not connected", self._log_prefix, self._name, callback
            )

    def is_connected(self, callback: Callback) -> bool:
        return callback in self._callbacks

    def get_connections(self) -> list[Callback]:
        return list(self._callbacks)

    def emit(self, *args: Any) -> None:
        """Call every connected callable with ``args``; their exceptions propagate."""
        for callback in list(self._callbacks):
            callback(*args)

    def __repr__(self) -> str:
        return f"<Signal {self._name} ({len(self._callbacks)} connected)>"


class SignalDescriptor:
    """Declares a signal on a class; each instance gets its own :class:`Signal`."""

    __slots__ = ("_attr", "name")

    def __init__(self) -> None:
        self.name = ""
        self._attr = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self._attr = f"_signal_{name}"

    @overload
    def __get__(self, instance: None, owner: type) -> SignalDescriptor: ...

    @overload
    def __get__(self, instance: object, owner: type) -> Signal: ...

    def __get__(self, instance: object | None, owner: type) -> Signal | SignalDescriptor:
        if instance is None:
            return self
        signal: Signal | None = instance.__dict__.get(self._attr)
        if signal is None:
            prefix = instance._log_prefix() if isinstance(instance, GodotObject) else ""
            signal = Signal(self.name, prefix)
            instance.__dict__[self._attr] = signal
        return signal


class GodotObject:
    """The signal half of Godot's ``Object``: signals addressed by name."""

    def _log_prefix(self) -> str:
        """What this object's log lines start with (subclasses: the connection's name)."""
        return str(getattr(self, "name", type(self).__name__))

    def _warn_no_signal(self, signal: str) -> None:
        logger.warning("[%s] %s has no signal %r", self._log_prefix(), type(self).__name__, signal)

    def _find_signal(self, name: str) -> Signal | None:
        descriptor = getattr(type(self), name, None)
        if isinstance(descriptor, SignalDescriptor):
            return descriptor.__get__(self, type(self))
        return None

    def has_signal(self, signal: str) -> bool:
        return self._find_signal(signal) is not None

    def connect(self, signal: str, callable: Callback, flags: int = 0) -> Error:
        """Connect ``callable`` to the signal named ``signal``."""
        found = self._find_signal(signal)
        if found is None:
            self._warn_no_signal(signal)
            return Error.ERR_INVALID_PARAMETER
        return found.connect(callable, flags)

    def disconnect(self, signal: str, callable: Callback) -> None:
        found = self._find_signal(signal)
        if found is None:
            self._warn_no_signal(signal)
            return
        found.disconnect(callable)

    def is_connected(self, signal: str, callable: Callback) -> bool:
        found = self._find_signal(signal)
        return found is not None and found.is_connected(callable)

    def emit_signal(self, signal: str, *args: Any) -> Error:
        """Emit ``signal`` now; ``ERR_UNAVAILABLE`` if the object has no such signal."""
        found = self._find_signal(signal)
        if found is None:
            self._warn_no_signal(signal)
            return Error.ERR_UNAVAILABLE
        found.emit(*args)
        return Error.OK
