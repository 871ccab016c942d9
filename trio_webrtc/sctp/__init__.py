"""SCTP over DTLS for WebRTC data channels (RFC 9260, RFC 8261, RFC 3758, RFC 6525).

Layer map (each module's docstring names its sections):

* :mod:`.association` — the state machine: SACK generation, timers, shutdown and abort
  (RFC 9260 §4-§9, RFC 8261); :mod:`.handshake` — association setup, collisions, restart,
  stale cookies, negotiated streams and extensions (§5.1-§5.2).
* :mod:`.outbound` — the send side: queues, fragmentation, retransmission, congestion
  control, PR-SCTP abandonment (RFC 9260 §6-§7, RFC 3758 §3.5).
* :mod:`.inbound` — the receive side: TSN tracking, reassembly, ordering, receive window
  (RFC 9260 §6.2, §6.5-§6.9, RFC 3758 §3.6).
* :mod:`.reconfig` — stream resets (RFC 6525); :mod:`.cookie` — State Cookies (§5.1.3);
  :mod:`.chunks` — the packet and chunk codec (§3); :mod:`.packets` — bundling chunks
  into outgoing packets; :mod:`.events`.

Sans-I/O: :class:`SctpAssociation` takes packets and time, and hands back packets,
timer deadlines and :class:`SctpEvent` objects.
"""

from __future__ import annotations

from .association import SctpAssociation
from .events import (
    AssociationClosed,
    AssociationEstablished,
    AssociationRestarted,
    AssociationState,
    BufferedAmountLow,
    DataReceived,
    MessageTooLarge,
    OutgoingStreamsReset,
    SctpEvent,
    SendBufferFullError,
    StreamsReset,
)

__all__ = [
    "AssociationClosed",
    "AssociationEstablished",
    "AssociationRestarted",
    "AssociationState",
    "BufferedAmountLow",
    "DataReceived",
    "MessageTooLarge",
    "OutgoingStreamsReset",
    "SctpAssociation",
    "SctpEvent",
    "SendBufferFullError",
    "StreamsReset",
]
