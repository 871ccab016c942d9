"""Configuration parsing: Godot/W3C dictionaries and ICE server URLs (RFC 7064/7065)."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from trio_webrtc import PeerConnection, connect_pair
from trio_webrtc.config import Configuration, parse_ice_url
from trio_webrtc.testing import MemoryNetwork


def test_empty_configuration_defaults() -> None:
    config = Configuration.from_dict({})
    assert config.ice_servers == ()
    assert config.bind_address is None
    assert config.port_range is None
    assert config.max_message_size == 262144


def test_godot_ice_servers_every_url_kept() -> None:
    config = Configuration.from_dict(
        {
            "iceServers": [
                {"urls": ["stun:127.0.0.1:3478", "stun:[::1]:3479"]},
                {
                    "urls": "turn:127.0.0.1?transport=tcp",
                    "username": "user",
                    "credential": "secret",
                },
            ],
            "bindAddress": "127.0.0.1",
            "portRangeBegin": 40000,
            "portRangeEnd": 40010,
        }
    )
    first, second = config.ice_servers
    assert [(u.host, u.port) for u in first.urls] == [("127.0.0.1", 3478), ("::1", 3479)]
    assert second.urls[0].scheme == "turn"
    assert second.urls[0].transport == "tcp"
    assert second.urls[0].port == 3478
    assert (second.username, second.credential) == ("user", "secret")
    assert config.bind_address == "127.0.0.1"
    assert config.port_range == (40000, 40010)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("stun:127.0.0.1", ("stun", "127.0.0.1", 3478, "udp")),
        ("turns:example.org", ("turns", "example.org", 5349, "tcp")),
        ("turn:[::1]:5000?transport=udp", ("turn", "::1", 5000, "udp")),
    ],
)
def test_parse_ice_url(url: str, expected: tuple[str, str, int, str]) -> None:
    parsed = parse_ice_url(url)
    assert (parsed.scheme, parsed.host, parsed.port, parsed.transport) == expected


@pytest.mark.parametrize(
    "url",
    [
        "http://x",
        "stun:",
        "stun:host:notaport",
        "stun:host:70000",
        "turn:h?transport=sctp",
        "stun:[::1",
    ],
)
def test_bad_ice_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError):
        parse_ice_url(url)


@pytest.mark.parametrize(
    "config",
    [
        {"bindAddress": "localhost"},
        {"portRangeBegin": 5000, "portRangeEnd": 4000},
        {"iceServers": "stun:127.0.0.1"},
        {"iceServers": [{"urls": []}]},
        {"unknownKey": 1},
        {"mtu": 10},
        {"mtu": 1200.5},
        {"iceTransportPolicy": "none"},
    ],
)
def test_bad_configurations_are_refused(config: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Configuration.from_dict(config)


def test_receive_window_and_congestion_control_keys() -> None:
    """Defaults: a 2 MiB window (above 50 Mbit/s x 200 ms) and CUBIC; both configurable,
    bad values refused; the window is never below the max-message-size."""
    default = Configuration.from_dict({})
    assert default.receive_window == 2 << 20
    assert default.congestion_control == "cubic"
    custom = Configuration.from_dict({"receiveWindow": 4 << 20, "congestionControl": "reno"})
    assert (custom.receive_window, custom.congestion_control) == (4 << 20, "reno")
    small = Configuration.from_dict({"receiveWindow": 65536, "maxMessageSize": 262144})
    assert small.receive_window == 262144
    for bad in ({"receiveWindow": 1000}, {"congestionControl": "bbr"}):
        with pytest.raises(ValueError):
            Configuration.from_dict(bad)


async def test_configured_window_and_controller_reach_the_sctp_association(
    autojump_clock: trio.testing.MockClock,
) -> None:
    config = {"receiveWindow": 3 << 20, "congestionControl": "reno"}
    net = MemoryNetwork(seed=1)
    async with PeerConnection(config, network=net) as a, PeerConnection(network=net) as b:
        a.create_data_channel("x")
        await connect_pair(a, b)
        await b.accept_channel()
        ours, theirs = a._core.sctp, b._core.sctp
        assert ours is not None and theirs is not None
        assert ours._outbound.congestion_control == "reno"
        assert theirs._outbound.congestion_control == "cubic"
        assert ours._inbound.window == 3 << 20
