"""The SCTP transport the channel manager holds before the association exists.

Channels are created in STATE_NEW, long before DTLS is up and the association (RFC 9260
over RFC 8261) can be built with the record's cleartext MTU. The manager talks to this
stand-in; ``attach()`` hands it the association and rebinds the hot methods to it.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import InvalidStateError
from ..sctp import SctpAssociation

__all__ = ["PendingAssociation"]


class PendingAssociation:
    """The SCTP transport the channel manager talks to, before the association exists."""

    def __init__(self) -> None:
        self.association: SctpAssociation | None = None
        self._thresholds: dict[int, int] = {}

    def send(
        self,
        stream_id: int,
        ppid: int,
        data: bytes | bytearray | memoryview,
        *,
        ordered: bool = True,
        max_retransmits: int | None = None,
        lifetime: float | None = None,
        now: float,
    ) -> int:
        if self.association is None:
            raise InvalidStateError("the SCTP association is not established")
        return self.association.send(
            stream_id,
            ppid,
            data,
            ordered=ordered,
            max_retransmits=max_retransmits,
            lifetime=lifetime,
            now=now,
        )

    def buffered_amount(self, stream_id: int) -> int:
        return 0 if self.association is None else self.association.buffered_amount(stream_id)

    def set_buffered_amount_low_threshold(self, stream_id: int, threshold: int) -> None:
        self._thresholds[stream_id] = threshold
        if self.association is not None:
            self.association.set_buffered_amount_low_threshold(stream_id, threshold)

    def data_consumed(self, nbytes: int) -> bool:
        return self.association is not None and self.association.data_consumed(nbytes)

    def reset_streams(self, stream_ids: Sequence[int], now: float) -> None:
        if self.association is not None:
            self.association.reset_streams(stream_ids, now)

    def attach(self, association: SctpAssociation) -> None:
        self.association = association
        for stream_id, threshold in self._thresholds.items():
            association.set_buffered_amount_low_threshold(stream_id, threshold)
        # From now on the data path calls the association directly (no proxy hop).
        self.send = association.send  # type: ignore[method-assign]
        self.buffered_amount = association.buffered_amount  # type: ignore[method-assign]
        self.data_consumed = association.data_consumed  # type: ignore[method-assign]
