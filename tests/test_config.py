"""Configuration parsing: Godot/W3C dictionaries and ICE server URLs (RFC 7064/7065)."""

from __future__ import annotations

import pytest

from trio_webrtc.config import Configuration, parse_ice_url


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
