"""Every check the project runs: bare `nox` is what CI and the README run."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import nox
from nox.command import CommandFailed

ROOT = Path(__file__).resolve().parent
INTEROP_DIR = ROOT / ".interop"
CODEX_VERSION = "0.130.0"
CODEX_PACKAGE = f"@openai/codex@{CODEX_VERSION}"
PYTEST_NO_TESTS_COLLECTED = 5
LINT_PATHS = ["execsrv", "tests", "bench", "noxfile.py", "tools"]

nox.options.sessions = ["tests", "lint", "typecheck", "protocol", "interop"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite against execsrv alone (no codex binary needed)."""
    session.install(".[test]")
    session.run("pytest", "-m", "not interop", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """Check style and formatting with ruff."""
    session.install("ruff")
    paths = [p for p in LINT_PATHS if (ROOT / p).exists()]
    session.run("ruff", "check", *paths)
    session.run("ruff", "format", "--check", *paths)


@nox.session
def typecheck(session: nox.Session) -> None:
    """Type-check the package with mypy --strict."""
    session.install(".[dev]")
    session.run("mypy")


@nox.session
def protocol(session: nox.Session) -> None:
    """Fail if protocol.md is out of date with the wire types."""
    session.install(".")
    session.run("python", "tools/gen_protocol.py", "--check")


@nox.session
def interop(session: nox.Session) -> None:
    """Run the interop tests against the real codex exec-server 0.130.0."""
    if shutil.which("npm") is None:
        print("npm not found: skipping the codex interop tests")
        session.skip("npm not found: skipping the codex interop tests")
    binary = _find_codex_binary()
    if binary is None or not _is_wanted_version(binary):
        session.run(
            "npm",
            "install",
            "--prefix",
            str(INTEROP_DIR),
            "--no-audit",
            "--no-fund",
            "--no-save",
            CODEX_PACKAGE,
            external=True,
        )
        binary = _find_codex_binary()
        if binary is None or not _is_wanted_version(binary):
            session.error(f"npm installed {CODEX_PACKAGE} but no usable codex binary was found")
    session.install(".[test]")
    try:
        session.run(
            "pytest",
            "-m",
            "interop",
            *session.posargs,
            env={"EXECSRV_CODEX_BIN": str(binary)},
        )
    except CommandFailed as failure:
        # Any non-zero exit fails the session; exit 5 (nothing collected) gets its
        # own message, because an interop run that tested nothing is broken, not green.
        if getattr(failure, "return_code", None) == PYTEST_NO_TESTS_COLLECTED:
            session.error("pytest collected no interop tests: the interop session is broken")
        raise


@nox.session
def bench(session: nox.Session) -> None:
    """Run the benchmarks (not part of the default sessions)."""
    session.install(".")
    session.run("python", "-m", "bench", *session.posargs)


def _find_codex_binary() -> Path | None:
    """The platform binary npm unpacked, e.g. codex-linux-x64/vendor/<triple>/codex/codex."""
    scope = INTEROP_DIR / "node_modules" / "@openai"
    for candidate in sorted(scope.glob("codex-linux-*/vendor/*-unknown-linux-musl/codex/codex")):
        if candidate.is_file():
            return candidate.resolve()
    return None


def _is_wanted_version(binary: Path) -> bool:
    """True if `codex --version` reports the pinned release."""
    try:
        result = subprocess.run(
            [str(binary), "--version"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0 and CODEX_VERSION in result.stdout
