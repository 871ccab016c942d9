"""Test matrix and tooling sessions: `nox -l` lists them.

* ``tests``: the suite on every Python 3.10-3.13, with the newest trio;
  ``tests_oldest_trio``: the same on the oldest supported trio.
* ``lint`` (ruff), ``typecheck`` (mypy --strict), ``bench``, ``interop``, ``docs``, ``fuzz``.

Interpreters are looked up on ``PATH`` and, when pyenv is installed, among pyenv's
versions (so ``python3.12`` need not be on ``PATH``). A Python of the matrix that is not
found is an error, not a silent skip; ``nox --no-error-on-missing-interpreters`` skips it.

Like ``./run-tests``, pytest runs inside a fresh network namespace whose only interface is
``lo`` when the kernel lets us make one (``unshare --net``, as root), so no test can reach
another interface and the browser tests run; elsewhere it runs on the host's loopback and
the browser tests skip.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.error_on_missing_interpreters = True

PYTHONS = ["3.10", "3.11", "3.12", "3.13"]
OLDEST_TRIO = "0.25.0"


def _add_pyenv_versions_to_path() -> None:
    """Put the newest installed pyenv build of each matrix Python first on PATH for nox."""
    root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    versions = Path(root) / "versions"
    if not versions.is_dir():
        return
    extra = []
    for minor in PYTHONS:
        builds = sorted(
            (p for p in versions.glob(f"{minor}.*") if (p / "bin" / f"python{minor}").exists()),
            key=lambda p: tuple(int(x) for x in p.name.split(".") if x.isdigit()),
        )
        # pyenv's shims answer for every version but run only the selected ones: put
        # the real interpreter first whenever one is installed.
        if builds:
            extra.append(str(builds[-1] / "bin"))
    if extra:
        os.environ["PATH"] = os.pathsep.join([*extra, os.environ.get("PATH", "")])


_add_pyenv_versions_to_path()


def _can_isolate() -> bool:
    try:
        probe = subprocess.run(["unshare", "--net", "true"], check=False, capture_output=True)
    except OSError:
        return False
    return probe.returncode == 0


def _pytest(session: nox.Session, *args: str) -> None:
    """Run pytest as ./run-tests does: in a loopback-only namespace when possible."""
    if not _can_isolate():
        session.log("no network namespace available: running on the host's loopback")
        session.run("python", "-m", "pytest", "-q", *args)
        return
    python = str(Path(session.bin) / "python")
    script = 'ip link set lo up && exec "$0" -m pytest -q "$@"'
    session.run("unshare", "--net", "--", "sh", "-c", script, python, *args, external=True)


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """Run the test suite with the newest trio."""
    session.install("-e", ".[test]")
    _pytest(session, *session.posargs)


@nox.session(python=PYTHONS)
def tests_oldest_trio(session: nox.Session) -> None:
    """Run the test suite with the oldest trio we support."""
    session.install("-e", ".[test]", f"trio=={OLDEST_TRIO}")
    _pytest(session, *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and format check."""
    session.install("ruff>=0.5")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the package."""
    session.install("-e", ".[test]", "mypy>=1.10")
    session.run("mypy", "--strict", "trio_webrtc")


@nox.session
def bench(session: nox.Session) -> None:
    """trio_webrtc (Trio and Godot faces), aiortc and libdatachannel side by side (bench.py
    makes its own Python 3.13 venv for libdatachannel): ``nox -s bench -- --quick`` for a
    smoke run, ``nox -s bench -- --all`` adds many connections and the 200-client server."""
    session.install("-e", ".[bench]")
    session.run("python", "benchmarks/bench.py", *session.posargs)


@nox.session
def interop(session: nox.Session) -> None:
    """Interop suite against aiortc and Chromium (tests/interop), loopback-only namespace."""
    session.install("-e", ".[test]")
    _pytest(session, "tests/interop", *session.posargs)


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation site with warnings as errors."""
    session.install("-e", ".[docs]")
    session.run("mkdocs", "build", "--strict")


@nox.session
def fuzz(session: nox.Session) -> None:
    """atheris on every parser: ``nox -s fuzz -- 500000`` executions each (default 200000)."""
    session.install("-e", ".[fuzz]")
    count = session.posargs[0] if session.posargs else "200000"
    session.run("python", "fuzz/run.py", "--count", count, "--jobs", "2")
