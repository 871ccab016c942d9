"""Congestion control per association (``congestion_control="reno" | "cubic"``) through
issue 12's path profiles in virtual time, and the send-path trace."""

from __future__ import annotations

import io
import json

import pytest
from sctp_helpers import Peer, make_pair, payload
from sctp_paths import goodput

from trio_webrtc.sctp import SctpAssociation
from trio_webrtc.sctp.congestion import CUBIC_BETA, Cubic, Reno
from trio_webrtc.sctp.trace import TraceBuffer
from trio_webrtc.testing import LinkConditions


def test_the_controller_is_chosen_per_association() -> None:
    assert SctpAssociation(is_client=True)._outbound.congestion_control == "cubic"
    reno = SctpAssociation(is_client=True, congestion_control="reno")
    assert isinstance(reno._outbound.cc, Reno)
    with pytest.raises(ValueError, match="bbr"):
        SctpAssociation(is_client=True, congestion_control="bbr")


@pytest.mark.parametrize("order", [("reno", "cubic"), ("cubic", "reno")])
def test_cubic_and_reno_share_a_drop_tail_bottleneck(order: tuple[str, str]) -> None:
    # Two associations through one 50 Mbit/s bottleneck with a 64 KiB queue.
    rates = goodput("bottleneck", 4.0, controllers=order)
    total = sum(rates)
    assert total > 0.9 * 50 * 1172 / 1200
    assert min(rates) >= 0.4 * total


@pytest.mark.parametrize(
    ("profile", "seconds", "gain"), [("wan-lossy", 2.0, 5.0), ("mobile", 5.0, 3.0)]
)
def test_cubic_with_loss_differentiation_beats_reno_on_random_loss(
    profile: str, seconds: float, gain: float
) -> None:
    (reno,) = goodput(profile, seconds, controllers=("reno",))
    (cubic,) = goodput(profile, seconds, controllers=("cubic",))
    assert cubic >= gain * reno


def test_a_loss_with_a_standing_queue_is_congestion() -> None:
    class W:
        cwnd = 100_000
        ssthresh = 50_000
        mtu = 1200
        srtt: float | None = 0.05

    cc = Cubic()
    now = 0.0
    for _ in range(50):  # an idle path: 50 ms round trips
        now += 0.01
        cc.on_rtt(0.05, now)
    cc.on_ack(W(), 100_000, 100_000, now)
    w = W()
    assert cc.on_loss(w, now) is False and w.cwnd == 100_000  # random: no cut
    for _ in range(20):  # a queue builds: 30 ms more in every sample for a while
        now += 0.01
        cc.on_rtt(0.08, now)
    assert cc.on_loss(w, now) is True
    assert w.cwnd == w.ssthresh == int(100_000 * CUBIC_BETA)
    r = W()
    assert Reno().on_loss(r, now) is True and r.cwnd == 50_000


# -- trace ---------------------------------------------------------------------------------


def test_the_trace_records_sacks_retransmissions_and_state_as_json_lines() -> None:
    trace = TraceBuffer(maxlen=100_000)
    client, server, link = make_pair(
        LinkConditions(loss=0.05, delay=0.02), seed=5, client_kw={"trace": trace}
    )
    for i in range(200):
        client.assoc.send(1, 53, payload(3000, i), now=link.now)
    link.run(lambda: len(server.received) == 200, timeout=120)
    sacks = trace.of("sack")
    assert sacks and any(r["gaps"] for r in sacks)
    state = {"t", "ev", "cwnd", "ssthresh", "flight", "rwnd", "srtt", "rto"}
    assert all(state <= set(r) for r in trace.records)
    rtx = trace.of("rtx")
    assert rtx and {r["cause"] for r in rtx} <= {"fast", "t3", "probe"}
    times = [float(r["t"]) for r in trace.records]  # type: ignore[arg-type]
    assert times == sorted(times)
    out = io.StringIO()
    trace.write(out)
    lines = out.getvalue().splitlines()
    assert len(lines) == len(trace.records)
    assert [json.loads(line) for line in lines] == list(trace.records)


def test_the_trace_is_bounded_and_off_by_default() -> None:
    trace = TraceBuffer(maxlen=10)
    client, server, link = make_pair(client_kw={"trace": trace})
    for i in range(100):
        client.assoc.send(1, 53, payload(2000, i), now=link.now)
    link.run(lambda: len(server.received) == 100)
    assert len(trace.records) == 10
    assert Peer(is_client=True, seed=1).assoc._outbound.trace is None
