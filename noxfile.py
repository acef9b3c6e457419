"""Every check the project runs: bare `nox` is what CI and the README run."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import nox
from nox.command import CommandFailed

ROOT = Path(__file__).resolve().parent
INTEROP_DIR = ROOT / ".interop"
CODEX_BINARIES = {
    # version: (the env var the tests read, where the npm platform package keeps the binary)
    "0.130.0": ("EXECSRV_CODEX_BIN", "vendor/*-unknown-linux-musl/codex/codex"),
    "0.171.0": ("EXECSRV_CODEX_171_BIN", "vendor/*-unknown-linux-musl/bin/codex"),
}
PYTEST_NO_TESTS_COLLECTED = 5
LINT_PATHS = ["execsrv", "tests", "bench", "noxfile.py", "tools"]

nox.options.sessions = ["tests", "mcp1", "lint", "typecheck", "protocol", "interop", "exe"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite against execsrv alone (no codex binary needed)."""
    # Editable: pytest loads the execsrv plugin (its pytest11 entry point) before the
    # tests, and the servers the tests start run from this checkout: one copy for both.
    session.install("-e", ".[test]")
    session.run("pytest", "-m", "not interop", *session.posargs)


@nox.session
def mcp1(session: nox.Session) -> None:
    """Run the MCP tests with the mcp 1.x SDK (``tests`` runs them with 2.x, the newest)."""
    session.install("-e", ".[test]", "mcp>=1.24,<2")
    session.run("pytest", "-m", "not interop", "tests/mcp", *session.posargs)


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
    """Run the interop tests against the real codex exec-server 0.130.0 and 0.171.0."""
    if shutil.which("npm") is None:
        print("npm not found: skipping the codex interop tests")
        session.skip("npm not found: skipping the codex interop tests")
    env: dict[str, str] = {}
    for version, (env_var, layout) in CODEX_BINARIES.items():
        env[env_var] = str(_install_codex(session, version, layout))
    session.install("-e", ".[test]")  # one copy of execsrv: see tests()
    try:
        session.run("pytest", "-m", "interop", *session.posargs, env=env)
    except CommandFailed as failure:
        # Any non-zero exit fails the session; exit 5 (nothing collected) gets its
        # own message, because an interop run that tested nothing is broken, not green.
        if getattr(failure, "return_code", None) == PYTEST_NO_TESTS_COLLECTED:
            session.error("pytest collected no interop tests: the interop session is broken")
        raise


EXE_DIR = ROOT / "dist" / "exe"
EXE_HELPER_SCRIPTS = {
    # Scripts execsrv starts as `sys.executable -I -S SCRIPT`, shipped as files next
    # to the bundled modules (execsrv/frozen.py runs them): folder -> files.
    "execsrv/sandbox": ["launcher.py", "kernel.py"],
    "execsrv/process": ["_watcher.py"],
}
EXE_EXCLUDED = [
    # Client-side integrations whose libraries the executable does not carry.
    *["execsrv.httpx", "execsrv.httpx2", "execsrv._httpx_core", "execsrv.pytest_plugin"],
    "execsrv.mcp",
    # Optional imports of trio (hypothesis-trio, a cffi waitid for old Pythons) that the
    # test extra installs in this venv (9 MiB the server never loads), and PyYAML.
    *["hypothesis", "pytest", "_pytest", "cffi", "_cffi_backend", "setuptools", "yaml"],
]


@nox.session
def exe(session: nox.Session) -> None:
    """Build the single-file executable dist/exe/execsrv (PyInstaller, onefile) and test it
    where no Python is on PATH (tests/ops/test_exe.py)."""
    # The tested 6.x: execsrv/frozen.py relies on its onefile bootloader's _PYI_* variables.
    session.install("-e", ".[test]", "pyinstaller>=6.22,<7")
    build = ROOT / "build" / "exe"
    data = [
        f"--add-data={ROOT / folder / name}:{folder}"
        for folder, names in EXE_HELPER_SCRIPTS.items()
        for name in names
    ]
    session.run(
        "pyinstaller",
        "--onefile",
        "--noconfirm",
        "--clean",
        "--log-level=WARN",
        "--name=execsrv",
        f"--distpath={EXE_DIR}",
        f"--workpath={build}",
        f"--specpath={build}",
        f"--paths={ROOT}",
        "--collect-submodules=execsrv",
        *(f"--exclude-module={name}" for name in EXE_EXCLUDED),
        *data,
        str(ROOT / "tools" / "execsrv_exe.py"),
    )
    executable = EXE_DIR / "execsrv"
    session.log(f"built {executable}: {executable.stat().st_size / 2**20:.1f} MiB")
    session.run(
        "pytest",
        "tests/ops/test_exe.py",
        *session.posargs,
        env={"EXECSRV_EXE": str(executable)},
    )


@nox.session
def bench(session: nox.Session) -> None:
    """Run the benchmarks (not part of the default sessions)."""
    session.install(".")
    session.run("python", "-m", "bench", *session.posargs)


def _install_codex(session: nox.Session, version: str, layout: str) -> Path:
    """The codex ``version`` binary, npm-installed into ``.interop/codex-<version>/``
    unless a binary reporting that version is already there."""
    prefix = INTEROP_DIR / f"codex-{version}"
    binary = _find_codex_binary(prefix, layout)
    if binary is None or not _reports_version(binary, version):
        session.run(
            "npm",
            "install",
            "--prefix",
            str(prefix),
            "--no-audit",
            "--no-fund",
            "--no-save",
            f"@openai/codex@{version}",
            external=True,
        )
        binary = _find_codex_binary(prefix, layout)
        if binary is None or not _reports_version(binary, version):
            session.error(f"npm installed @openai/codex@{version} but no usable binary was found")
    return binary


def _find_codex_binary(prefix: Path, layout: str) -> Path | None:
    """The platform binary npm unpacked under ``prefix``, e.g.
    ``node_modules/@openai/codex-linux-x64/vendor/<triple>/bin/codex``."""
    scope = prefix / "node_modules" / "@openai"
    for candidate in sorted(scope.glob(f"codex-linux-*/{layout}")):
        if candidate.is_file():
            return candidate.resolve()
    return None


def _reports_version(binary: Path, version: str) -> bool:
    """True if ``codex --version`` reports ``version``."""
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
    return result.returncode == 0 and result.stdout.split() == ["codex-cli", version]
