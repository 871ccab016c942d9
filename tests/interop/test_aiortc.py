"""Interoperability with aiortc (a separate asyncio process): every case of the matrix.

Our role (offer/answer) x candidates (trickled / embedded in the SDP) x face (Trio /
Godot); who closes the peer connection at the end alternates with the candidate mode.
What each case checks is in ``harness.run_interop_case``.
"""

from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path
from typing import Any

import pytest
from harness import (
    InteropError,
    echo_messages,
    embed_candidates,
    peer_max_message_size,
    run_interop_case,
)

needs_aiortc = pytest.mark.skipif(
    importlib.util.find_spec("aiortc") is None,
    reason="aiortc is not installed (pip install aiortc, part of the test extra)",
)

PEER = [sys.executable, str(Path(__file__).with_name("aiortc_peer.py"))]


def _aiortc_max_message_size() -> int:
    from importlib.metadata import version

    major, minor = (int(part) for part in version("aiortc").split(".")[:2])
    return 262144 if (major, minor) >= (1, 16) else 65536


@needs_aiortc
@pytest.mark.parametrize("face", ["trio", "godot"])
@pytest.mark.parametrize("trickle", [True, False], ids=["trickle", "in-sdp"])
@pytest.mark.parametrize("our_role", ["offer", "answer"])
async def test_aiortc(
    our_role: str, trickle: bool, face: str, peer_log_dir: Path, interop_results: list[Any]
) -> None:
    result = await run_interop_case(
        PEER,
        our_role=our_role,
        trickle=trickle,
        face=face,
        closer="us" if trickle else "peer",
        peer_name="aiortc",
        log_dir=peer_log_dir,
    )
    interop_results.append(result)
    assert result.echo_messages == 1000
    # aiortc 1.16 advertises a=max-message-size:262144, 1.15 (the newest on Python 3.10)
    # 65536: the messages went up to exactly what this peer advertised.
    assert result.max_message_size == _aiortc_max_message_size()
    assert "connected" in result.peer_states


# The harness itself: what it generates and how it fails must be right for the matrix to
# mean anything.


def test_echo_messages_cover_every_kind() -> None:
    limit = 262144
    messages = echo_messages(1000, limit, random.Random(1))
    assert len(messages) == 1000
    assert "" in messages and b"" in messages
    texts = [m for m in messages if isinstance(m, str)]
    binaries = [m for m in messages if isinstance(m, bytes)]
    assert any("\x00" in t for t in texts)
    assert any(any(ord(c) > 0xFFFF for c in t) for t in texts)  # astral plane
    assert any(any(0x7F < ord(c) <= 0xFFFF for c in t) for t in texts)
    assert max(len(t.encode()) for t in texts) == limit
    assert {1, limit - 1, limit} <= {len(b) for b in binaries}
    assert all(len(m.encode() if isinstance(m, str) else m) <= limit for m in messages)
    assert messages == echo_messages(1000, limit, random.Random(1))  # reproducible


def test_sdp_helpers() -> None:
    sdp = "v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:0\r\n"
    assert peer_max_message_size(sdp) == 65536  # RFC 8841 default
    assert peer_max_message_size(sdp + "a=max-message-size:1024\r\n") == 1024
    candidate = "candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host"
    embedded = embed_candidates(sdp + f"a={candidate}\r\n", [candidate])
    assert embedded.count(candidate) == 1
    assert embedded.endswith(f"a={candidate}\r\na=end-of-candidates\r\n")


async def test_a_dying_peer_fails_fast_with_its_stderr(peer_log_dir: Path) -> None:
    dying = [sys.executable, "-c", "import sys; print('boom here', file=sys.stderr); sys.exit(3)"]
    with pytest.raises(InteropError, match=r"(?s)(peer gone|exited).*boom here"):
        await run_interop_case(
            dying, our_role="offer", trickle=True, face="trio", log_dir=peer_log_dir
        )
