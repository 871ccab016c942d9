"""Building outgoing SCTP packets from encoded chunks (RFC 9260 §3.1: common header,
chunks bundled up to the path MTU, §6.10; the CRC32c is added by
:func:`.chunks.encode_packet`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crc32c import crc32c

from .chunks import CHECKSUM, COMMON_HEADER, checksum_seed

if TYPE_CHECKING:
    from .association import SctpAssociation

__all__ = ["PacketBuilder"]


class PacketBuilder:
    """Accumulates chunks into packets of at most ``mtu`` bytes, each under the verification
    tag it was queued with (a new tag starts a new packet); ``alone`` chunks get a packet
    of their own. :meth:`emit` is the DATA hot path's (``Outbound.fill``)."""

    __slots__ = ("_assoc", "_vtag", "limit", "packets", "parts", "size")

    def __init__(self, assoc: SctpAssociation, mtu: int) -> None:
        self._assoc = assoc
        self.limit = mtu - 12
        self.parts: list[bytes | memoryview] = []
        self.size = 0
        self._vtag = assoc._peer_tag
        self.packets: list[bytes] = []

    def room(self) -> int:
        return self.limit - self.size

    def flush(self) -> None:
        """:func:`.chunks.encode_packet`, with the association's common header and its
        CRC32c state cached per verification tag (one crc32c call per packet)."""
        parts = self.parts
        if parts:
            a = self._assoc
            vtag, header, seed = a._tx_header
            if vtag != self._vtag:
                vtag = self._vtag
                header = COMMON_HEADER.pack(a._local_port, a._remote_port, vtag)
                seed = checksum_seed(a._local_port, a._remote_port, vtag)
                a._tx_header = (vtag, header, seed)
            body = b"".join(parts)
            self.packets.append(b"".join((header, CHECKSUM.pack(crc32c(body, seed)), body)))
            parts.clear()  # the same list: Outbound.fill appends to it directly
            self.size = 0

    def add(self, chunk: bytes, vtag: int | None = None, alone: bool = False) -> None:
        vtag = self._assoc._peer_tag if vtag is None else vtag
        if alone or vtag != self._vtag or len(chunk) > self.room():
            self.flush()
        self._vtag = vtag
        self.parts.append(chunk)
        self.size += len(chunk)
        if alone:
            self.flush()

    def emit(self, header: bytes, data: bytes | memoryview, pad: bytes, wire: int) -> None:
        parts = self.parts
        parts.append(header)
        parts.append(data)
        self.size += wire
        if pad:
            parts.append(pad)
