"""What the executor is: the facts behind ``environmentInfo`` (codex 0.171).

Each value is found as 0.171 finds it for its own process (measured on the
binary), except the two that name the implementation (``executorVersion``,
``providerId``; see :func:`local_environment_info`). Blocking only on
``getpwuid`` and ``stat``; no trio.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pwd
import shutil
import socket
import sys
from pathlib import Path
from typing import Final

from ..protocol.environment import EnvironmentCapabilities, EnvironmentInfo, ShellInfo
from ..protocol.generation import Generation
from ..protocol.paths import PathForm, format_path

__all__ = [
    "EXECUTOR_VERSION",
    "local_environment_info",
    "login_shell",
    "provider_id",
    "user_home_uri",
]

EXECUTOR_VERSION: Final = Generation.V0_171.value
"""``executorVersion``: the newest codex generation execsrv speaks. A 0.171 client
compares it for version-based decisions, and execsrv answers 0.171 requests as
0.171 does, so this, not execsrv's own version, is what it may rely on."""

_SHELLS: Final = ("bash", "zsh", "sh")


@functools.cache
def login_shell() -> ShellInfo:
    """The user's login shell (the passwd entry, not ``$SHELL``) when it is bash,
    zsh or sh; else bash, else sh, found on ``PATH`` (codex's fallbacks). Found once
    per process, as codex does."""
    try:
        configured = pwd.getpwuid(os.getuid()).pw_shell
    except KeyError:
        configured = ""
    name = os.path.basename(configured)
    if name in _SHELLS and os.access(configured, os.X_OK):
        return ShellInfo(name=name, path=configured)
    for fallback in ("bash", "sh"):
        found = shutil.which(fallback) or f"/bin/{fallback}"
        if os.access(found, os.X_OK):
            return ShellInfo(name=fallback, path=found)
    return ShellInfo(name="sh", path="/bin/sh")


@functools.cache
def provider_id() -> str:
    """``sha256:`` and the hex SHA-256 of ``execsrv:<hostname>:<uid>``: the same for
    every execsrv run by one user on one host, different from codex's own."""
    identity = f"execsrv:{socket.gethostname()}:{os.getuid()}"
    return "sha256:" + hashlib.sha256(identity.encode()).hexdigest()


def _uri(path: str | Path) -> str:
    return format_path(os.fspath(path), PathForm.URI)


def _absolute(path: str, cwd: str | None) -> str | None:
    if os.path.isabs(path):
        return path
    return None if cwd is None else os.path.join(cwd, path)


def user_home_uri() -> str | None:
    """``~`` as a URI: ``$HOME``, else the passwd entry's home (Rust's ``home_dir``)."""
    home = os.path.expanduser("~")
    return _uri(home) if os.path.isabs(home) else None


def local_environment_info(capabilities: EnvironmentCapabilities) -> EnvironmentInfo:
    """This process's environment, as of now (cwd, ``$HOME``, ``$TMPDIR``)."""
    try:
        cwd: str | None = os.getcwd()
    except OSError:
        cwd = None
    tmpdir = os.environ.get("TMPDIR") or None
    tmp = None if tmpdir is None else _absolute(tmpdir, cwd)
    return EnvironmentInfo(
        shell=login_shell(),
        executor_version=EXECUTOR_VERSION,
        provider_id=provider_id(),
        cwd=None if cwd is None else _uri(cwd),
        user_home_dir=user_home_uri(),
        platform_os="macos" if sys.platform == "darwin" else sys.platform,
        prepend_path_dirs=[],
        temporary_directories=[] if tmp is None else [_uri(tmp)],
        temp_dir=_uri(tmp or "/tmp"),
        capabilities=capabilities,
    )
