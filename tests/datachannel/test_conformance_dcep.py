"""DCEP and data-channel conformance: the RFC 8832 / 8831 / 8841 requirements of issue 14.

Two kinds of harness: :class:`FakePair` (managers back to back, no SCTP) for the channel
procedures, and :func:`sctp_channels` (managers over two real ``SctpAssociation`` objects
on a virtual link) where reassembly and the receive window matter. Deterministic.
"""

from __future__ import annotations

import logging
import tracemalloc
from typing import Any

import pytest
from fake_sctp import FakePair, FakeSctp, drain
from sctp_helpers import Peer

from trio_webrtc.config import Configuration
from trio_webrtc.core import PeerConnectionCore
from trio_webrtc.datachannel.channels import (
    DEFAULT_MAX_CHANNELS,
    ChannelClosed,
    ChannelClosing,
    ChannelManager,
    ChannelMessage,
    ChannelOpened,
    ChannelParameters,
    ChannelState,
    DataChannelInfo,
    IncomingChannel,
)
from trio_webrtc.datachannel.dcep import DataChannelAck, DataChannelOpen, Ppid, parse_dcep
from trio_webrtc.errors import LocalProtocolError
from trio_webrtc.sctp import (
    AssociationEstablished,
    AssociationRestarted,
    DataReceived,
    MessageTooLarge,
    OutgoingStreamsReset,
    StreamsReset,
)
from trio_webrtc.stats import collect_stats
from trio_webrtc.testing import VirtualLink

MAX_LABEL = "\u00e9" * 32767 + "x"  # 65,535 UTF-8 bytes, multi-byte characters included
MAX_PROTOCOL = "p" * 65535


def state(info: DataChannelInfo) -> ChannelState:
    return info.state


def opened_pair() -> FakePair:
    pair = FakePair()
    pair.establish()
    return pair


# -- harness: channel managers over real SCTP associations --------------------------------


class ChannelPeer(Peer):
    """An SCTP association with a ChannelManager fed from its events, as the core does."""

    manager: ChannelManager
    now: float = 0.0

    def drain(self) -> None:
        while (event := self.assoc.next_event()) is not None:
            self.events.append(event)
            m, now = self.manager, self.now
            if isinstance(event, DataReceived):
                m.on_data(event.stream_id, event.ppid, event.data, now)
            elif isinstance(event, StreamsReset):
                m.on_streams_reset(event.stream_ids, now)
            elif isinstance(event, OutgoingStreamsReset):
                m.on_outgoing_streams_reset(event.stream_ids, now)
            elif isinstance(event, AssociationEstablished):
                m.on_association_established(now, outbound_streams=event.outbound_streams)
            elif isinstance(event, AssociationRestarted):
                m.on_association_restarted(now, outbound_streams=event.outbound_streams)
            elif isinstance(event, MessageTooLarge):
                m.on_message_too_large(event.stream_id, event.limit, now)


def sctp_channels(
    *, client_kw: dict[str, Any] | None = None, server_kw: dict[str, Any] | None = None
) -> tuple[ChannelPeer, ChannelPeer, VirtualLink]:
    client = ChannelPeer(is_client=True, seed=11, consume=False, **(client_kw or {}))
    server = ChannelPeer(is_client=False, seed=12, consume=False, **(server_kw or {}))
    for peer in (client, server):
        peer.manager = ChannelManager(peer.assoc, log_prefix=f"[{peer.assoc.is_client}] ")
        peer.manager.set_dtls_role(peer.assoc.is_client)
    link = VirtualLink(client, server, seed=3)
    client.assoc.start(link.now)
    link.run(lambda: client.established and server.established)
    return client, server, link


# -- RFC 8832 §6: an invalid DATA_CHANNEL_OPEN closes the stream, no ACK -------------------


def test_invalid_open_with_wrong_parity_resets_stream_without_ack() -> None:
    pair = FakePair(role_known=False)
    pair.a.set_dtls_role(True)
    pair.b.set_dtls_role(True)  # b wrongly believes it is the DTLS client too
    pair.establish()
    info = pair.a.create_channel(ChannelParameters(label="chat"), 0.0)
    assert info.stream_id == 0  # a's parity, b's as well: invalid for b
    pair.pump()
    assert [m for m in pair.sctp_b.sent if m.ppid == Ppid.DCEP] == []  # no ACK
    assert pair.sctp_b.resets == [(0,)]
    assert drain(pair.b) == []
    # The opener does not stay "connecting": the reset closes its channel.
    assert state(info) is ChannelState.CLOSED
    assert drain(pair.a) == [ChannelClosing(info.key), ChannelClosed(info.key)]


def test_invalid_open_on_stream_in_use_closes_it_without_ack() -> None:
    pair = opened_pair()
    info_a = pair.a.create_channel(ChannelParameters(label="first"), 0.0)
    pair.pump()
    (incoming, _opened) = drain(pair.b)
    assert isinstance(incoming, IncomingChannel)
    drain(pair.a)
    acks_before = len([m for m in pair.sctp_b.sent if m.ppid == Ppid.DCEP])
    duplicate = DataChannelOpen(label="second").encode()
    pair.b.on_data(0, Ppid.DCEP, duplicate, 0.0)
    assert len([m for m in pair.sctp_b.sent if m.ppid == Ppid.DCEP]) == acks_before
    assert pair.sctp_b.resets == [(0,)]
    pair.pump()
    assert drain(pair.b) == [ChannelClosing(incoming.key), ChannelClosed(incoming.key)]
    assert drain(pair.a) == [ChannelClosing(info_a.key), ChannelClosed(info_a.key)]


@pytest.mark.parametrize(
    "message",
    [
        b"\x03\x00\x01\x00\x00\x00\x00\x00\x00\x02\x00\x00\xff\xfe",  # label not UTF-8
        b"\x03\x07" + bytes(10),  # unknown channel type
        b"\x03\x00\x01\x00\x00\x00\x00\x00\x00\x09\x00\x00ab",  # lengths do not match
        b"\x03",  # truncated
    ],
)
def test_malformed_open_resets_stream_without_ack(message: bytes) -> None:
    pair = opened_pair()
    pair.b.on_data(4, Ppid.DCEP, message, 0.0)
    assert pair.sctp_b.sent == []
    assert pair.sctp_b.resets == [(4,)]
    assert drain(pair.b) == []
    pair.pump()
    # The stream is free again once both directions are reset: a valid OPEN now works.
    pair.b.on_data(4, Ppid.DCEP, DataChannelOpen(label="ok").encode(), 0.0)
    assert [parse_dcep(m.data) for m in pair.sctp_b.sent] == [DataChannelAck()]
    assert [type(e) for e in drain(pair.b)] == [IncomingChannel, ChannelOpened]


# -- RFC 8832 §5.1: labels and protocols up to 65,535 bytes --------------------------------


def test_labels_and_protocols_of_65535_bytes_are_accepted_both_ways() -> None:
    assert len(MAX_LABEL.encode()) == 65535
    pair = opened_pair()
    for opener, receiver in ((pair.a, pair.b), (pair.b, pair.a)):
        info = opener.create_channel(ChannelParameters(label=MAX_LABEL, protocol=MAX_PROTOCOL), 0)
        pair.pump()
        assert state(info) is ChannelState.OPEN
        incoming = [e for e in drain(receiver) if isinstance(e, IncomingChannel)]
        (remote,) = (receiver.channels[e.key] for e in incoming)
        assert (remote.label, remote.protocol) == (MAX_LABEL, MAX_PROTOCOL)
        drain(opener)


def test_largest_open_reassembles_over_sctp_whatever_max_message_size() -> None:
    small = {"max_receive_message_size": 65536}
    client, server, link = sctp_channels(client_kw=small, server_kw=small)
    info = client.manager.create_channel(
        ChannelParameters(label=MAX_LABEL, protocol=MAX_PROTOCOL), link.now
    )
    link.run(lambda: state(info) is ChannelState.OPEN)
    incoming = [e for e in drain(server.manager) if isinstance(e, IncomingChannel)]
    (remote,) = (server.manager.channels[e.key] for e in incoming)
    assert (remote.label, remote.protocol) == (MAX_LABEL, MAX_PROTOCOL)
    answer = server.manager.create_channel(ChannelParameters(label=MAX_LABEL), link.now)
    link.run(lambda: state(answer) is ChannelState.OPEN)


# -- early data on a negotiated stream -----------------------------------------------------


def test_data_before_negotiated_channel_is_created_is_buffered_until_created() -> None:
    pair = opened_pair()
    info_a = pair.a.create_channel(ChannelParameters(negotiated=True, id=6), 0.0)
    assert state(info_a) is ChannelState.OPEN
    for text in ("one", "two", "three"):
        pair.a.send(info_a.key, text, 0.0)
    pair.a.send(info_a.key, b"", 0.0)
    pair.pump()
    assert drain(pair.b) == []
    assert pair.sctp_b.consumed == 0  # still charged to the receive window
    info_b = pair.b.create_channel(ChannelParameters(negotiated=True, id=6), 1.0)
    assert drain(pair.b) == [
        ChannelOpened(info_b.key),
        ChannelMessage(info_b.key, "one", 3),
        ChannelMessage(info_b.key, "two", 3),
        ChannelMessage(info_b.key, "three", 5),
        ChannelMessage(info_b.key, b"", 1),
    ]
    assert pair.sctp_b.consumed == 0
    for nbytes in (3, 3, 5, 1):
        pair.b.message_read(nbytes)
    assert pair.sctp_b.consumed == 12
    assert pair.b.early_messages_dropped == 0


def test_early_data_is_bounded_and_dropped_when_the_connection_closes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sctp = FakeSctp()
    manager = ChannelManager(sctp, max_early_data=10)
    manager.set_dtls_role(False)
    manager.on_association_established(0.0)
    manager.on_data(2, Ppid.BINARY, b"12345678", 0.0)
    with caplog.at_level(logging.WARNING, logger="trio_webrtc.dcep"):
        manager.on_data(2, Ppid.BINARY, b"abc", 0.0)  # 11 bytes > 10: dropped
    assert sctp.consumed == 3
    assert manager.early_messages_dropped == 1
    assert any("limit 10" in r.getMessage() for r in caplog.records)
    manager.on_association_closed()
    assert manager.early_messages_dropped == 2
    assert drain(manager) == []


# -- RFC 8841 §6.1: max-message-size -------------------------------------------------------


def test_max_message_size_zero_is_never_advertised() -> None:
    config = Configuration(max_message_size=0)
    assert config.advertised_max_message_size == config.receive_window == 2 << 20
    offer = PeerConnectionCore(config).create_offer()
    assert "a=max-message-size:2097152\r\n" in offer
    assert "a=max-message-size:0" not in offer
    default = PeerConnectionCore().create_offer()
    assert "a=max-message-size:262144\r\n" in default


def test_message_above_our_limit_is_visible_and_closes_a_reliable_channel(
    caplog: pytest.LogCaptureFixture,
) -> None:
    core = PeerConnectionCore(Configuration(max_message_size=1000))
    manager = core.channels
    manager.set_dtls_role(True)
    manager.on_association_established(0.0)
    reliable = manager.create_channel(ChannelParameters(negotiated=True, id=1), 0.0)
    lossy = manager.create_channel(ChannelParameters(negotiated=True, id=3, max_retransmits=0), 0.0)
    drain(manager)
    with caplog.at_level(logging.WARNING, logger="trio_webrtc.dcep"):
        manager.on_data(1, Ppid.BINARY, bytes(1001), 0.0)
        manager.on_data(3, Ppid.BINARY, bytes(1001), 0.0)
        manager.on_data(3, Ppid.BINARY, bytes(1000), 0.0)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert sum("above our max-message-size (1000 bytes)" in w for w in warnings) == 2
    assert drain(manager) == [
        ChannelClosing(reliable.key),  # closed by stream reset, not left with a gap
        ChannelMessage(lossy.key, bytes(1000), 1000),
    ]
    assert state(reliable) is ChannelState.CLOSING
    assert state(lossy) is ChannelState.OPEN
    stats = collect_stats(core)
    by_id = {c.stream_id: c for c in stats.channels}
    assert (by_id[1].messages_discarded, by_id[3].messages_discarded) == (1, 1)
    assert stats.messages_discarded == 2


def test_message_sctp_discards_as_too_large_closes_the_reliable_channel() -> None:
    client, server, link = sctp_channels(server_kw={"max_receive_message_size": 140_000})
    info = client.manager.create_channel(ChannelParameters(label="bulk"), link.now)
    link.run(lambda: state(info) is ChannelState.OPEN)
    client.manager.set_remote_max_message_size(0)  # a peer ignoring what we advertise
    client.manager.send(info.key, bytes(150_000), link.now)
    link.run(lambda: state(info) is ChannelState.CLOSED)
    assert MessageTooLarge(0, 140_000) in server.events
    assert server.manager.oversized_messages == 1
    (remote,) = server.manager.channels.values()
    assert remote.messages_discarded == 1
    assert state(remote) is ChannelState.CLOSED


# -- channel limits ------------------------------------------------------------------------


def test_channel_limit_is_configurable_and_defaults_to_browser_limit() -> None:
    assert DEFAULT_MAX_CHANNELS == 65534
    assert Configuration().max_channels == 65534
    assert Configuration.from_dict({"maxChannels": 7}).max_channels == 7
    with pytest.raises(ValueError, match="maxChannels"):
        Configuration.from_dict({"maxChannels": 0})
    assert PeerConnectionCore(Configuration(max_channels=7)).channels.max_channels == 7
    assert PeerConnectionCore().channels.max_channels == 65534


def test_600_channels_from_each_side_all_open() -> None:
    pair = FakePair(max_channels=DEFAULT_MAX_CHANNELS)
    pair.establish()
    mine = [pair.a.create_channel(ChannelParameters(label=f"a{i}"), 0.0) for i in range(600)]
    mine += [pair.b.create_channel(ChannelParameters(label=f"b{i}"), 0.0) for i in range(600)]
    pair.pump()
    assert all(state(info) is ChannelState.OPEN for info in mine)
    assert pair.sctp_a.resets == pair.sctp_b.resets == []
    assert len(pair.a.channels) == len(pair.b.channels) == 1200


def test_channel_memory_is_not_preallocated_per_stream() -> None:
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        manager = ChannelManager(FakeSctp(), max_channels=65534)
        manager.set_dtls_role(True)
        manager.on_association_established(0.0)
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert after - before < 16_384  # nothing per possible stream (65,535 of them)


def test_stream_ids_at_or_above_the_negotiated_count_are_refused() -> None:
    manager = ChannelManager(FakeSctp())
    manager.set_dtls_role(True)
    early = manager.create_channel(ChannelParameters(negotiated=True, id=12), 0.0)
    fine = manager.create_channel(ChannelParameters(negotiated=True, id=8), 0.0)
    manager.on_association_established(0.0, outbound_streams=10)
    assert state(early) is ChannelState.CLOSED
    assert state(fine) is ChannelState.OPEN
    with pytest.raises(LocalProtocolError, match="not below"):
        manager.create_channel(ChannelParameters(negotiated=True, id=10), 0.0)
    ids = [manager.create_channel(ChannelParameters(), 0.0).stream_id for _ in range(4)]
    assert ids == [0, 2, 4, 6]
    with pytest.raises(LocalProtocolError, match="no free SCTP stream id below 10"):
        manager.create_channel(ChannelParameters(), 0.0)


# -- RFC 9260 §5.2.4 A as data channels see it ----------------------------------------------


def test_peer_restart_closes_every_channel_and_new_ones_open() -> None:
    pair = opened_pair()
    info = pair.a.create_channel(ChannelParameters(label="old"), 0.0)
    negotiated = pair.a.create_channel(ChannelParameters(negotiated=True, id=9), 0.0)
    pair.pump()
    drain(pair.a)
    pair.a.on_association_restarted(1.0, outbound_streams=100)
    assert drain(pair.a) == [ChannelClosed(info.key), ChannelClosed(negotiated.key)]
    assert pair.sctp_a.resets == []  # the restarted peer has no streams to reset
    fresh = pair.a.create_channel(ChannelParameters(label="new"), 1.0)
    assert fresh.stream_id == 0
    assert parse_dcep(pair.sctp_a.sent[-1].data) == DataChannelOpen(label="new")
    assert pair.a.stream_limit == 100
