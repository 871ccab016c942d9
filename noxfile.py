"""Test matrix and tooling sessions: `nox -l` lists them.

* ``tests``: the suite on every Python 3.10-3.13 found, with the newest trio;
  ``tests_oldest_trio``: the same on the oldest supported trio.
* ``lint`` (ruff), ``typecheck`` (mypy --strict), ``bench``, ``interop``, ``docs``, ``fuzz``.
"""

from __future__ import annotations

import shutil

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.error_on_missing_interpreters = False

PYTHONS = [v for v in ("3.10", "3.11", "3.12", "3.13") if shutil.which(f"python{v}")] or None
OLDEST_TRIO = "0.25.0"


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """Run the test suite with the newest trio."""
    session.install("-e", ".[test]")
    session.run("pytest", "-q", *session.posargs)


@nox.session(python=PYTHONS)
def tests_oldest_trio(session: nox.Session) -> None:
    """Run the test suite with the oldest trio we support."""
    session.install("-e", ".[test]", f"trio=={OLDEST_TRIO}")
    session.run("pytest", "-q", *session.posargs)


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
    """Benchmarks side by side with aiortc: ``nox -s bench -- --quick`` for a smoke run."""
    session.install("-e", ".", "aiortc>=1.9")
    session.run("python", "benchmarks/bench.py", *session.posargs)


@nox.session
def interop(session: nox.Session) -> None:
    """Interop suite against aiortc and Chromium (tests/interop)."""
    session.install("-e", ".[test]")
    session.run("pytest", "-q", "tests/interop", *session.posargs)


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
