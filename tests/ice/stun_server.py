"""Servers for gathering tests, all on 127.0.0.1.

* :func:`stun_server`: a tiny trio STUN Binding responder (RFC 8489 §6.3) on port 0.
  ``mapping`` rewrites the reflexive address it reports, to play a NAT on loopback
  (where the mapped address otherwise equals the base and is redundant).
* :func:`silent_udp_server`: a bound UDP socket that never answers.
* :class:`Coturn`: Debian's ``turnserver`` with a generated configuration on free ports
  (``turnserver_available()`` tells tests whether to skip).
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass

import trio

from trio_webrtc.ice import stun

Address = tuple[str, int]

REALM = "trio-webrtc.test"
USER = "test"
PASSWORD = "secret"


@dataclass
class StunServerInfo:
    address: Address
    requests: int = 0


@contextlib.asynccontextmanager
async def stun_server(
    mapping: Callable[[Address], Address] | None = None,
) -> AsyncIterator[StunServerInfo]:
    """Run a STUN Binding server on 127.0.0.1 for the duration of the block."""
    sock = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM)
    await sock.bind(("127.0.0.1", 0))
    info = StunServerInfo(sock.getsockname()[:2])

    async def serve() -> None:
        while True:
            data, source = await sock.recvfrom(2048)
            try:
                request = stun.parse_message(data)
            except ValueError:
                continue
            if (
                request.method != stun.Method.BINDING
                or request.message_class is not stun.MessageClass.REQUEST
            ):
                continue
            info.requests += 1
            source = (source[0], source[1])
            mapped = mapping(source) if mapping else source
            response = stun.Message(
                stun.Method.BINDING,
                stun.MessageClass.SUCCESS,
                request.transaction_id,
                ((stun.XOR_MAPPED_ADDRESS, mapped),),
            )
            await sock.sendto(stun.encode(response, fingerprint=True), source)

    with sock:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(serve)
            yield info
            nursery.cancel_scope.cancel()


@contextlib.contextmanager
def silent_udp_server() -> Iterator[Address]:
    """A UDP port on 127.0.0.1 that is bound (no ICMP unreachable) but never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[:2]


def turnserver_available() -> bool:
    return shutil.which("turnserver") is not None


def _free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _write_self_signed(directory: str) -> tuple[str, str]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = os.path.join(directory, "cert.pem")
    key_path = os.path.join(directory, "key.pem")
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return cert_path, key_path


class Coturn:
    """coturn on 127.0.0.1: ``port`` (UDP and TCP), ``tls_port`` and ``ca_file`` with TLS."""

    def __init__(self, *, tls: bool = False) -> None:
        self.tls = tls
        self.port = 0
        self.tls_port = 0
        self.ca_file: str | None = None
        self._dir = tempfile.mkdtemp(prefix="coturn-")
        self._process: subprocess.Popen[bytes] | None = None
        self.log_path = os.path.join(self._dir, "turn.log")

    def __enter__(self) -> Coturn:
        self.port = _free_port(socket.SOCK_STREAM)
        lines = [
            "listening-ip=127.0.0.1",
            "relay-ip=127.0.0.1",
            f"listening-port={self.port}",
            "min-port=50000",
            "max-port=50999",
            "no-cli",
            "lt-cred-mech",
            f"user={USER}:{PASSWORD}",
            f"realm={REALM}",
            "allowed-peer-ip=127.0.0.1",
            "allow-loopback-peers",
            "no-multicast-peers",
            "no-software-attribute",
            "no-rfc5780",
            "no-stun-backward-compatibility",
            f"log-file={self.log_path}",
            "simple-log",
            "verbose",
        ]
        if self.tls:
            cert, key = _write_self_signed(self._dir)
            self.ca_file = cert
            self.tls_port = _free_port(socket.SOCK_STREAM)
            lines += [f"tls-listening-port={self.tls_port}", f"cert={cert}", f"pkey={key}"]
            lines += ["no-dtls"]
        else:
            lines += ["no-tls", "no-dtls"]
        config = os.path.join(self._dir, "turnserver.conf")
        with open(config, "w") as f:
            f.write("\n".join(lines) + "\n")
        self._process = subprocess.Popen(
            ["turnserver", "-c", config, "--pidfile", os.path.join(self._dir, "pid")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._wait_listening()
        return self

    def _wait_listening(self) -> None:
        deadline = time.monotonic() + 10
        ports = [self.port] + ([self.tls_port] if self.tls else [])
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise RuntimeError(f"turnserver exited: see {self.log_path}")
            try:
                for port in ports:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("turnserver did not start listening")

    def __exit__(self, *exc: object) -> None:
        process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(self._dir, ignore_errors=True)

    def log(self) -> str:
        try:
            with open(self.log_path) as f:
                return f.read()
        except OSError:
            return ""
