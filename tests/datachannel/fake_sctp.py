"""An in-memory stand-in for ``SctpAssociation`` as seen by ``ChannelManager``.

:class:`FakeSctp` records every call. :class:`FakePair` joins two managers back to back:
user messages and stream resets travel in FIFO order per direction, as on an established
association where a reset takes effect after the data queued before it (RFC 6525 §5.2.2):
the peer sees ``on_streams_reset`` first, then the requester ``on_outgoing_streams_reset``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from trio_webrtc.datachannel.channels import ChannelEvent, ChannelManager


@dataclass(frozen=True)
class SentMessage:
    stream_id: int
    ppid: int
    data: bytes
    ordered: bool
    max_retransmits: int | None
    lifetime: float | None


@dataclass
class FakeSctp:
    """Records calls; ``buffered`` is what ``buffered_amount`` reports per stream."""

    sent: list[SentMessage] = field(default_factory=list)
    resets: list[tuple[int, ...]] = field(default_factory=list)
    consumed: int = 0
    buffered: dict[int, int] = field(default_factory=dict)
    thresholds: dict[int, int] = field(default_factory=dict)
    # What the pair has not yet delivered: ("data", SentMessage) or ("reset", stream ids).
    outbox: list[tuple[str, object]] = field(default_factory=list)

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
    ) -> None:
        assert 0 <= stream_id <= 65534
        message = SentMessage(stream_id, ppid, bytes(data), ordered, max_retransmits, lifetime)
        self.sent.append(message)
        self.outbox.append(("data", message))

    def buffered_amount(self, stream_id: int) -> int:
        return self.buffered.get(stream_id, 0)

    def set_buffered_amount_low_threshold(self, stream_id: int, threshold: int) -> None:
        self.thresholds[stream_id] = threshold

    def data_consumed(self, nbytes: int) -> None:
        assert nbytes > 0
        self.consumed += nbytes

    def reset_streams(self, stream_ids: Sequence[int], now: float) -> None:
        ids = tuple(stream_ids)
        self.resets.append(ids)
        self.outbox.append(("reset", ids))


class FakePair:
    """Two managers over two fake associations; ``a`` is the DTLS client."""

    def __init__(self, *, max_channels: int = 1024, role_known: bool = True) -> None:
        self.sctp_a = FakeSctp()
        self.sctp_b = FakeSctp()
        self.a = ChannelManager(self.sctp_a, log_prefix="a: ", max_channels=max_channels)
        self.b = ChannelManager(self.sctp_b, log_prefix="b: ", max_channels=max_channels)
        if role_known:
            self.set_roles()

    def set_roles(self) -> None:
        self.a.set_dtls_role(True)
        self.b.set_dtls_role(False)

    def establish(self, now: float = 0.0) -> None:
        self.a.on_association_established(now)
        self.b.on_association_established(now)
        self.pump(now)

    def pump(self, now: float = 0.0, *, limit: int = 10_000) -> None:
        """Deliver everything queued, both ways, until both outboxes are empty."""
        pairs = ((self.sctp_a, self.b, self.a), (self.sctp_b, self.a, self.b))
        for _ in range(limit):
            moved = False
            for sctp, receiver, sender in pairs:
                if sctp.outbox:
                    kind, item = sctp.outbox.pop(0)
                    moved = True
                    if kind == "data":
                        assert isinstance(item, SentMessage)
                        receiver.on_data(item.stream_id, item.ppid, item.data, now)
                    elif kind == "reset":
                        assert isinstance(item, tuple)
                        receiver.on_streams_reset(item, now)
                        # The reset response travels back to the requester.
                        sctp.outbox.insert(0, ("reset_done", item))
                    else:
                        assert isinstance(item, tuple)
                        sender.on_outgoing_streams_reset(item, now)
            if not moved:
                return
        raise AssertionError("pump did not settle")

    def close_association(self) -> None:
        self.a.on_association_closed()
        self.b.on_association_closed()


def drain(manager: ChannelManager) -> list[ChannelEvent]:
    events = []
    while (event := manager.next_event()) is not None:
        events.append(event)
    return events
