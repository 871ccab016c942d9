"""SCTP over a lossy, duplicating, reordering virtual wire: reliability and PR-SCTP."""

from __future__ import annotations

import hashlib

import pytest
from sctp_helpers import make_pair, payload

from trio_webrtc.sctp import AssociationState
from trio_webrtc.sctp import chunks as c
from trio_webrtc.testing import LinkConditions

TOTAL = 8 << 20


def _transfer(conditions: LinkConditions, seed: int, mtu: int = 1200) -> None:
    kw = {"mtu": mtu}
    client, server, link = make_pair(conditions, seed=seed, client_kw=kw, server_kw=kw)
    sizes = [1 + (i * 7919) % 65536 for i in range(400)]
    messages: list[bytes] = []
    sent = 0
    while sent < TOTAL:
        size = min(sizes[len(messages) % len(sizes)], TOTAL - sent)
        messages.append(payload(size, len(messages)))
        sent += size
    queued = 0

    def done() -> bool:
        nonlocal queued
        while queued < len(messages) and client.assoc.buffered_amount(1) < (2 << 20):
            client.assoc.send(1, 53, messages[queued], now=link.now)
            queued += 1
        return len(server.received) == len(messages)

    link.run(done, timeout=3000)
    got = server.received
    assert len(got) == len(messages)
    assert all(e.stream_id == 1 and not e.unordered for e in got)
    digest = hashlib.sha256(b"".join(e.data for e in got)).digest()
    assert digest == hashlib.sha256(b"".join(messages)).digest()
    assert [len(e.data) for e in got] == [len(m) for m in messages]
    assert client.assoc.state is AssociationState.ESTABLISHED
    assert all(len(p) <= mtu for p in client.sent_packets + server.sent_packets)
    link.run(lambda: client.assoc.buffered_amount(1) == 0, timeout=600)


@pytest.mark.parametrize("loss", [0.0, 0.01, 0.05, 0.2])
def test_8mib_ordered_reliable(loss: float) -> None:
    _transfer(LinkConditions(loss=loss, duplicate=0.01, reorder=0.02, jitter=0.002), seed=11)


@pytest.mark.parametrize("loss", [0.05, 0.2])
def test_8mib_small_mtu_dup_reorder(loss: float) -> None:
    conditions = LinkConditions(loss=loss, duplicate=0.05, reorder=0.1, jitter=0.01)
    _transfer(conditions, seed=12, mtu=576)


def test_lossless_bulk_is_bundled_with_few_sacks() -> None:
    client, server, link = make_pair()
    start_c, start_s = len(client.sent_packets), len(server.sent_packets)
    for i in range(64):
        client.assoc.send(1, 53, payload(65536, i), now=link.now)
    link.run(lambda: len(server.received) == 64)
    data = [p for p in client.sent_packets[start_c:] if p[12] == c.CHUNK_DATA]
    sacks = server.sent_packets[start_s:]
    assert len(data) >= (64 * 65536) // 1200
    assert len(sacks) * 2 <= len(data) + 2


@pytest.mark.parametrize("seed", [1, 2])
def test_pr_sctp_max_retransmits_zero_never_stalls(seed: int) -> None:
    client, server, link = make_pair(LinkConditions(loss=0.2), seed=seed)
    for i in range(300):
        client.assoc.send(2, 51, payload(3000, i), max_retransmits=0, now=link.now)
    client.assoc.send(2, 51, b"reliable-tail", now=link.now)
    link.run(lambda: any(e.data == b"reliable-tail" for e in server.received), timeout=600)
    got = [e.data for e in server.received]
    assert got[-1] == b"reliable-tail"
    expected = [payload(3000, i) for i in range(300)]
    # Abandoned messages are gone, the rest arrive once, in order.
    assert 0 < len(got) - 1 < 300
    positions = [expected.index(d) for d in got[:-1]]
    assert positions == sorted(set(positions))
    link.run(lambda: client.assoc.buffered_amount(2) == 0, timeout=600)
    assert client.assoc.state is AssociationState.ESTABLISHED
    assert any(
        p[12:] and c.CHUNK_FORWARD_TSN in [t for t, *_ in c.iter_chunks(p)]
        for p in client.sent_packets
    )


@pytest.mark.parametrize("ordered", [True, False])
def test_pr_sctp_lifetime_under_loss(ordered: bool) -> None:
    client, server, link = make_pair(LinkConditions(loss=0.25, delay=0.05), seed=4)
    for i in range(200):
        client.assoc.send(3, 51, payload(5000, i), ordered=ordered, lifetime=0.3, now=link.now)
    link.run(lambda: client.assoc.buffered_amount(3) == 0, timeout=600)
    client.assoc.send(3, 51, b"after", ordered=ordered, now=link.now)
    link.run(lambda: any(e.data == b"after" for e in server.received), timeout=600)
    got = [e.data for e in server.received]
    assert len(got) - 1 < 200  # some expired
    assert len(set(got)) == len(got)  # never twice
    if ordered:
        expected = [payload(5000, i) for i in range(200)]
        positions = [expected.index(d) for d in got[:-1]]
        assert positions == sorted(positions)
    inbound = server.assoc._inbound
    assert inbound is not None and inbound.held == 0


def test_blackout_recovers() -> None:
    client, server, link = make_pair(seed=3)
    link.blackout(link.now + 0.05, link.now + 8.0)
    for i in range(100):
        client.assoc.send(1, 53, payload(10_000, i), now=link.now)
    link.run(lambda: len(server.received) == 100, timeout=300)
    assert [e.data for e in server.received] == [payload(10_000, i) for i in range(100)]


@pytest.mark.parametrize("ordered", [True, False])
def test_tiny_messages_under_loss_complete_with_a_small_charged_window(ordered: bool) -> None:
    # Held 1-byte messages are charged CHUNK_CHARGE (+ TSN_CHARGE above a hole): a 16 KiB
    # window closes after ~50 of them, yet the hole-filling chunk is still admitted.
    conditions = LinkConditions(loss=0.05, reorder=0.05, jitter=0.002)
    client, server, link = make_pair(conditions, seed=21, server_kw={"receive_window": 16 << 10})
    messages = [i.to_bytes(2, "big")[1:] for i in range(3000)]
    for message in messages:
        client.assoc.send(4, 51, message, ordered=ordered, now=link.now)
    link.run(lambda: len(server.received) == len(messages), timeout=600)
    got = [e.data for e in server.received]
    assert sorted(got) == sorted(messages)
    if ordered:
        assert got == messages
    inbound = server.assoc._inbound
    assert inbound is not None and inbound.held == 0 and not inbound._above
    assert inbound.a_rwnd() == 16 << 10
    link.run(lambda: client.assoc.buffered_amount(4) == 0, timeout=600)
    assert client.assoc.state is AssociationState.ESTABLISHED
