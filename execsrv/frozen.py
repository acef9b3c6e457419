"""The single-file executable's entry point.

execsrv starts small helper interpreters as ``sys.executable -I -S SCRIPT ARGS``
(the sandbox launcher, the death watch) or ``sys.executable -I -S -c CODE ARGS``
(``doctor``'s probes). In an executable built by PyInstaller, ``sys.executable``
is that executable, which has no Python command line: :func:`main` answers
those two forms itself (``-I -S`` as the first two arguments is never a valid
``execsrv`` command line, so it is an unambiguous marker) and hands everything
else to :func:`execsrv.cli.main`; ``tools/execsrv_exe.py`` is the build's
script. A helper start imports nothing of execsrv besides this module (the
package imports its parts lazily).

The helper scripts are shipped as files next to the bundled modules (the build
adds them as data), so ``Path(__file__).with_name(...)`` finds them as it does
in a checkout. :func:`helper_env` names the environment a re-executed helper
needs to reuse the running executable's unpacked files instead of unpacking
its own copy (a confined helper could not write one, and it would cost a
second unpack per start).
"""

from __future__ import annotations

import os
import runpy
import signal
import sys
from collections.abc import Sequence

__all__ = ["helper_env", "is_frozen", "main"]

HELPER_MARKER = ("-I", "-S")
"""How execsrv starts a helper interpreter: isolated, without ``site``."""

_UNPACKED_ENV = ("_PYI_APPLICATION_HOME_DIR", "_PYI_ARCHIVE_FILE", "_PYI_PARENT_PROCESS_LEVEL")
"""PyInstaller's variables that let a re-executed onefile binary reuse this
process's unpacked files (set by its bootloader; present in os.environ)."""


_PR_SET_PDEATHSIG = 1


def is_frozen() -> bool:
    """True inside a PyInstaller-built executable."""
    return bool(getattr(sys, "frozen", False))


def helper_env() -> dict[str, str]:
    """Environment a helper started from ``sys.executable`` needs besides its
    own: empty when running from a Python installation."""
    if not is_frozen():
        return {}
    return {name: os.environ[name] for name in _UNPACKED_ENV if name in os.environ}


def run_helper(args: Sequence[str]) -> None:
    """Run ``SCRIPT ARGS`` or ``-c CODE ARGS`` as ``python -I -S`` would."""
    if not args:
        raise SystemExit("execsrv: a helper start needs a script or -c CODE")
    if args[0] == "-c":
        if len(args) < 2:
            raise SystemExit("execsrv: -c needs an argument")
        sys.argv = ["-c", *args[2:]]
        exec(compile(args[1], "<string>", "exec"), {"__name__": "__main__"})
        return
    sys.argv = list(args)
    runpy.run_path(args[0], run_name="__main__")


def die_with_the_unpacker() -> None:
    """If this process is a onefile executable's Python (its parent is the same
    executable, the bootloader that unpacked it and forwards signals), die when
    that parent dies, so ``kill -9`` of the executable's pid ends the server as it
    ends a ``python -m execsrv`` server (whose death watch then kills the children).

    Only for the command line, never a helper: the death signal survives
    ``exec``, and the launcher becomes the user's command.
    """
    if not is_frozen():
        return
    parent = os.getppid()
    try:
        same = os.readlink(f"/proc/{parent}/exe") == os.path.realpath(sys.executable)
    except OSError:
        return
    if not same:
        return
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # it died before the prctl
        os.kill(os.getpid(), signal.SIGKILL)


def main() -> int:
    """The executable's entry: a helper start, or the ``execsrv`` command line."""
    if tuple(sys.argv[1:3]) == HELPER_MARKER:
        run_helper(sys.argv[3:])
        return 0
    die_with_the_unpacker()
    from .cli import main as cli_main

    return cli_main()
