"""Every example runs, and does what its docstring says (loopback only).

In-process examples are imported and their ``main()`` awaited; the signaling server and
its chat clients run as subprocesses, as a user would run them; the browser demo is
driven in headless Chromium and skips unless this process is in a network namespace whose
only interface is ``lo`` (``./run-tests`` makes one).
"""

from __future__ import annotations

import importlib.util
import io
import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import pytest
import trio

from trio_webrtc.__main__ import main as cli

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
ARTIFACTS = ROOT / "test-artifacts"
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


def load(relative: str) -> ModuleType:
    path = EXAMPLES / relative
    name = "example_" + path.stem
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module


def have_trio_websocket() -> bool:
    return importlib.util.find_spec("trio_websocket") is not None


# ----------------------------------------------------------------- in-process examples


async def test_hello() -> None:
    with trio.fail_after(30):
        received = await load("hello.py").main()
    assert received == ["hello, bob", b"hello, alice"]


async def test_file_transfer_checks_sha256(tmp_path: Path) -> None:
    source = tmp_path / "payload.bin"
    source.write_bytes(os.urandom(300_000) + b"tail")
    out = io.StringIO()
    with trio.fail_after(60):
        ok = await load("file_transfer.py").main(
            source, chunk=8192, directory=tmp_path / "in", out=out
        )
    assert ok
    assert (tmp_path / "in" / "payload.bin").read_bytes() == source.read_bytes()
    assert "100.0%" in out.getvalue() and "SHA-256 ok" in out.getvalue()


async def test_file_transfer_of_an_empty_file(tmp_path: Path) -> None:
    source = tmp_path / "empty"
    source.write_bytes(b"")
    with trio.fail_after(30):
        assert await load("file_transfer.py").main(source, out=io.StringIO())


async def test_godot_poll_loop() -> None:
    with trio.fail_after(30):
        received = await load("godot_poll_loop.py").main()
    assert received == ["hello from a", "hello from b"]


# ------------------------------------------------------- signaling server and chat


def read_line(process: subprocess.Popen[str], timeout: float) -> str:
    """The next stdout line of ``process``, failing after ``timeout`` seconds.

    Reads the pipe's file descriptor a byte at a time, never through the text wrapper:
    ``readline()`` would buffer what follows the line, and ``communicate()`` (which
    reads the descriptor) would then never see it -- lines the child printed in the same
    burst went missing that way."""
    assert process.stdout is not None
    fd = process.stdout.fileno()
    deadline = time.monotonic() + timeout
    line = bytearray()
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no output from the subprocess")
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            byte = os.read(fd, 1)
            if not byte:
                raise EOFError(f"subprocess exited with {process.wait()}")
            if byte == b"\n":
                return line.decode().strip()
            line += byte


@contextmanager
def running(*argv: str) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


@pytest.mark.skipif(not have_trio_websocket(), reason="trio-websocket is not installed")
def test_chat_round_trip_through_the_signaling_server() -> None:
    with running(str(EXAMPLES / "signaling_server.py"), "--port", "0") as server:
        url = read_line(server, 30).removeprefix("listening on ") + "/room-test"
        assert url.startswith("ws://127.0.0.1:")
        client = str(EXAMPLES / "chat_client.py")
        with running(
            client, url, "--name", "alice", "--say", "hi from alice", "--expect", "1"
        ) as a:
            time.sleep(0.2)  # alice is first in the room: she offers
            with running(
                client, url, "--name", "bob", "--say", "hi from bob", "--expect", "1"
            ) as b:
                out_b, err_b = b.communicate(timeout=60)
                out_a, err_a = a.communicate(timeout=60)
    assert b.returncode == 0, err_b
    assert a.returncode == 0, err_a
    assert "peer: hi from alice" in out_b
    assert "peer: hi from bob" in out_a
    assert "[alice] connected; channel 'chat' open" in out_a


@pytest.mark.skipif(not have_trio_websocket(), reason="trio-websocket is not installed")
def test_signaling_server_refuses_a_third_client() -> None:
    from trio_websocket import open_websocket_url

    async def scenario(url: str) -> list[str]:
        async with (
            open_websocket_url(url) as one,
            open_websocket_url(url) as two,
            open_websocket_url(url) as three,
        ):
            return [
                await one.get_message(),
                await one.get_message(),
                await two.get_message(),
                await three.get_message(),
            ]

    with running(str(EXAMPLES / "signaling_server.py"), "--port", "0") as server:
        url = read_line(server, 30).removeprefix("listening on ") + "/full"
        messages = trio.run(scenario, url)
    assert messages[0] == '{"type": "joined", "peers": 0}'
    assert messages[1] == '{"type": "peer-joined"}'
    assert messages[2] == '{"type": "joined", "peers": 1}'
    assert '"error"' in messages[3]


# ------------------------------------------------------------------ browser demo


def browser_skip_reason() -> str | None:
    sys.path.insert(0, str(ROOT / "tests" / "browser"))
    try:
        import cdp
    except ImportError as exc:
        return f"tests/browser/cdp.py unavailable: {exc}"
    finally:
        sys.path.pop(0)
    available, why = cdp.chromium_available()
    if not available:
        return why
    fenced, why_not = cdp.loopback_only()
    return None if fenced else why_not


async def test_browser_demo_round_trip() -> None:
    reason = browser_skip_reason()
    if reason is not None:
        pytest.skip(reason)
    sys.path.insert(0, str(ROOT / "tests" / "browser"))
    import cdp

    with running(
        str(EXAMPLES / "browser_demo" / "serve.py"), "--http-port", "0", "--signal-port", "0"
    ) as server:
        url = (await trio.to_thread.run_sync(read_line, server, 30)).removeprefix("open ")
        assert url.startswith("http://127.0.0.1:")
        with trio.fail_after(90):
            async with (
                cdp.launch_chromium() as browser,
                browser.new_page(grant_media=True) as page,
            ):
                await page.navigate(url)
                while await page.evaluate("document.getElementById('send').disabled"):
                    await trio.sleep(0.1)
                await page.evaluate("document.getElementById('send').click()")
                while not await page.evaluate("window.demo.received.length"):
                    await trio.sleep(0.1)
                received = await page.evaluate("window.demo.received")
                log = await page.evaluate("document.getElementById('log').textContent")
                state = await page.evaluate("window.demo.pc.connectionState")
                ARTIFACTS.mkdir(exist_ok=True)
                (ARTIFACTS / "browser_demo.png").write_bytes(await page.screenshot())
    assert received == ["echo: ping from the browser"]
    assert "me: ping from the browser" in log and "python: echo: ping" in log
    assert state == "connected"


# ------------------------------------------------------------------ command line


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        ([], "demo"),
        (["demo"], "--size"),
        (["sdp"], "standard input"),
        (["candidates"], "--bind-address"),
        (["offer"], "offer"),
    ],
)
def test_cli_help(argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli([*argv, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert needle in out
    assert "usage:" in out


def test_cli_offer_prints_a_parseable_offer(capsys: pytest.CaptureFixture[str]) -> None:
    from trio_webrtc.sdp.description import DataChannelDescription, SessionDescription

    assert cli(["offer"]) == 0
    text = capsys.readouterr().out
    description = DataChannelDescription.from_session(SessionDescription.parse(text))
    assert description.setup == "actpass"
    assert description.max_message_size == 262144


@pytest.mark.skipif(not have_trio_websocket(), reason="trio-websocket is not installed")
def test_chat_reports_the_peer_leaving_instead_of_a_traceback() -> None:
    """Issue 13: an interactive client whose peer left says so and exits 0 (it used to
    raise a four-level traceback on the next line typed)."""
    with running(str(EXAMPLES / "signaling_server.py"), "--port", "0") as server:
        url = read_line(server, 30).removeprefix("listening on ") + "/room-leave"
        client = str(EXAMPLES / "chat_client.py")
        alice = subprocess.Popen(
            [sys.executable, client, url, "--name", "alice", "--ice-server", "stun:127.0.0.1:9"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=ENV,
        )
        try:
            time.sleep(0.2)  # alice is first in the room: she offers
            with running(client, url, "--name", "bob", "--say", "see you", "--expect", "1") as b:
                assert read_line(alice, 60) == "[alice] connected; channel 'chat' open"
                assert alice.stdin is not None
                alice.stdin.write("hello bob\n")
                alice.stdin.flush()
                out_b, err_b = b.communicate(timeout=60)
            assert b.returncode == 0, err_b
            assert "peer: hello bob" in out_b
            out_a, err_a = alice.communicate(timeout=60)  # stdin stays open until here
        finally:
            if alice.poll() is None:
                alice.kill()
                alice.wait()
    assert alice.returncode == 0, err_a
    assert "peer: see you" in out_a  # bob's last line, sent just before he left
    assert "[alice] the peer left" in out_a or "[alice] connection lost" in out_a
    assert "Traceback" not in err_a


def test_chat_client_takes_ice_servers_and_bind_address() -> None:
    chat = load("chat_client.py")
    config = chat.configuration(
        ["stun:stun.example.org", "turn:turn.example.org:3478?transport=tcp"],
        bind_address="any",
        username="u",
        credential="p",
    )
    assert "bindAddress" not in config
    assert config["iceServers"] == [
        {"urls": ["stun:stun.example.org"]},
        {"urls": ["turn:turn.example.org:3478?transport=tcp"], "username": "u", "credential": "p"},
    ]
    assert chat.configuration([], bind_address="127.0.0.1") == {"bindAddress": "127.0.0.1"}


def test_file_transfer_keeps_the_received_file(tmp_path: Path) -> None:
    source = tmp_path / "doc.bin"
    source.write_bytes(os.urandom(100_000))
    keep = tmp_path / "kept"
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "file_transfer.py"), str(source), "--keep", str(keep)],
        capture_output=True,
        check=False,
        text=True,
        timeout=60,
        env=ENV,
    )
    assert done.returncode == 0, done.stderr
    assert (keep / "doc.bin").read_bytes() == source.read_bytes()
    assert str(keep / "doc.bin") in done.stdout
