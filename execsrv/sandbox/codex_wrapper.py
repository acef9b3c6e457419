"""The 0.130 harness's wrapped commands, read as what they ask for (sans-IO).

Under ``workspace-write`` and ``read-only`` the codex 0.130 harness does not send
a ``sandbox`` on ``process/start``: it wraps the command in its own sandbox
helper, which only works where the executor has codex at the same path. A
recorded start (``/tmp/ws`` standing for the workspace)::

    argv: [<CODEX_HOME>/tmp/arg0/codex-arg0XXXX/codex-linux-sandbox,
           --sandbox-policy-cwd, /tmp/ws, --command-cwd, /tmp/ws,
           --permission-profile, {"type":"managed","file_system":{...},"network":"restricted"},
           --, /bin/bash, -lc, <cmd>]
    arg0: <the same path as argv[0]>

:func:`unwrap_codex_sandbox` reads such a start into the command it wraps, its
working directory and its sandbox, so that execsrv runs the command under its
own sandbox with that profile, whether or not the named binary exists: exactly
as a codex 0.171 start with that ``sandbox`` would run.

Which starts are wrapped: those whose program would see ``codex-linux-sandbox``
as the last part of its ``argv[0]``, i.e. of ``arg0`` when given, else of
``argv[0]``. That is the rule codex's own binary dispatches on (its arg0
dispatch looks at the file name of the ``argv[0]`` it was started with), so a
start is unwrapped exactly when codex would have run it as the helper; the
harness sets ``arg0`` to the full path of its helper link, not to the bare name.

The arguments are those codex 0.130's helper parser accepts (``clap``; probed on
the 0.130.0 binary and read in codex-rs ``linux-sandbox/src/linux_run_main.rs``):

- ``--sandbox-policy-cwd <dir>`` (required): the directory the profile is
  resolved against (its project roots); the sandbox's ``cwd``.
- ``--command-cwd <dir>``: where the command runs; default the policy cwd.
- ``--permission-profile <json>`` (required in practice: the helper panics
  without it): the profile, in the shapes 0.130's ``fs/*`` ``sandbox`` accepts.
- ``--use-legacy-landlock``: chooses codex's Landlock-only pipeline over
  bubblewrap; execsrv has one mechanism, so it changes nothing here.
- ``--no-proc``: skip mounting ``/proc`` in codex's PID namespace; execsrv
  makes none, so it changes nothing here.
- ``--allow-network-for-proxy``, ``--proxy-route-spec``: codex's managed
  network proxy, which execsrv does not run: refused, like ``networkProxy``.
- ``--apply-seccomp-then-exec``: the helper's internal second stage, only
  meaningful inside its own bubblewrap namespace: refused.

``--name=value`` is accepted for the value flags, as clap does. The old
``--sandbox-policy <json>`` is gone from 0.130's helper (clap rejects it), so
it is refused like any other unknown flag. Everything the reader cannot
account for raises :class:`WrapperArgumentsInvalid`: the caller refuses the
start, and never runs the named binary or the command unconfined.
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass
from typing import Final

from ..protocol.errors import RpcError
from ..protocol.fs import FileSystemSandboxContext, parse_permissions
from ..protocol.generation import Generation

__all__ = [
    "HELPER_NAME",
    "WrappedCommand",
    "WrapperArgumentsInvalid",
    "unwrap_codex_sandbox",
    "unwraps",
]

HELPER_NAME: Final = "codex-linux-sandbox"
"""The name codex's binary dispatches to its sandbox helper on."""

_POLICY_CWD: Final = "--sandbox-policy-cwd"
_COMMAND_CWD: Final = "--command-cwd"
_PROFILE: Final = "--permission-profile"
_VALUE_FLAGS: Final = frozenset({_POLICY_CWD, _COMMAND_CWD, _PROFILE})
_NO_EFFECT_SWITCHES: Final = frozenset({"--use-legacy-landlock", "--no-proc"})
_REFUSED: Final = {
    "--allow-network-for-proxy": "asks for codex's managed network proxy, which execsrv does "
    "not run",
    "--proxy-route-spec": "asks for codex's managed network proxy, which execsrv does not run",
    "--apply-seccomp-then-exec": "is codex's internal second stage, meaningful only inside "
    "its own bubblewrap namespace",
}
"""Flags 0.130's helper accepts that execsrv cannot honour, and why."""


class WrapperArgumentsInvalid(Exception):
    """A wrapped start whose helper arguments cannot be honoured exactly; ``message``
    says which argument and why. The start must be refused."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class WrappedCommand:
    """What a wrapped start asks for: run ``argv`` in ``cwd``, confined by ``sandbox``.

    ``argv`` is the command after ``--`` (not empty; its own ``argv[0]`` is what
    the program sees). ``cwd`` is absolute. ``sandbox`` is what a 0.130-form
    ``sandbox`` field with this profile decodes to: ``permissions`` the profile's
    JSON value (accepted by :func:`~execsrv.protocol.fs.parse_permissions` as
    0.130), ``cwd`` the policy cwd, Windows level ``disabled``.
    """

    argv: tuple[str, ...]
    cwd: str
    sandbox: FileSystemSandboxContext


def unwraps(argv: list[str], arg0: str | None) -> bool:
    """Whether the start runs codex's sandbox helper (see the module docstring)."""
    seen_as = arg0 if arg0 is not None else (argv[0] if argv else "")
    return posixpath.basename(seen_as) == HELPER_NAME


def unwrap_codex_sandbox(argv: list[str], arg0: str | None) -> WrappedCommand | None:
    """The command a wrapped start runs, or None for a start that is not wrapped.

    Raises:
        WrapperArgumentsInvalid: an unknown or refused flag, a flag twice or
            without its value, no ``--`` before the command, an empty command, a
            missing or relative cwd, or a profile that is not JSON or not a
            permission profile.
    """
    if not unwraps(argv, arg0):
        return None
    values: dict[str, str] = {}
    switches: set[str] = set()
    args = argv[1:]
    index = 0
    while True:
        if index == len(args):
            raise WrapperArgumentsInvalid(f"{HELPER_NAME}: no `--` before the command")
        token = args[index]
        index += 1
        if token == "--":
            break
        name, equals, inline = token.partition("=")
        if name in _VALUE_FLAGS:
            if name in values:
                raise WrapperArgumentsInvalid(f"{HELPER_NAME}: {name} given more than once")
            if equals:
                values[name] = inline
            elif index < len(args) and not args[index].startswith("-"):
                values[name] = args[index]
                index += 1
            else:
                raise WrapperArgumentsInvalid(f"{HELPER_NAME}: {name} needs a value")
        elif name in _NO_EFFECT_SWITCHES and not equals:
            if name in switches:
                raise WrapperArgumentsInvalid(f"{HELPER_NAME}: {name} given more than once")
            switches.add(name)
        elif name in _REFUSED:
            raise WrapperArgumentsInvalid(
                f"{HELPER_NAME}: {name} {_REFUSED[name]}; execsrv refuses the command "
                "rather than run it otherwise confined"
            )
        elif not token.startswith("-"):
            raise WrapperArgumentsInvalid(
                f"{HELPER_NAME}: no `--` before the command (found {token!r})"
            )
        else:
            raise WrapperArgumentsInvalid(
                f"{HELPER_NAME}: unexpected argument {token!r}; execsrv runs a wrapped "
                "command only when it understands every helper argument"
            )
    command = tuple(args[index:])
    if not command:
        raise WrapperArgumentsInvalid(f"{HELPER_NAME}: no command after `--`")
    policy_cwd = _directory(values, _POLICY_CWD)
    command_cwd = _directory(values, _COMMAND_CWD) if _COMMAND_CWD in values else policy_cwd
    sandbox = FileSystemSandboxContext(
        permissions=_profile(values),
        cwd=policy_cwd,
        windows_sandbox_level="disabled",
    )
    return WrappedCommand(argv=command, cwd=command_cwd, sandbox=sandbox)


def _directory(values: dict[str, str], name: str) -> str:
    """An absolute directory argument, as given. A ``..`` component is refused: the
    sandbox root must not depend on whether ``..`` is read lexically or by the kernel
    (they differ past a symlink)."""
    path = values.get(name)
    if path is None:
        raise WrapperArgumentsInvalid(f"{HELPER_NAME}: {name} is required")
    if not path.startswith("/") or ".." in path.split("/"):
        raise WrapperArgumentsInvalid(
            f"{HELPER_NAME}: {name} must be an absolute path without `..`: {path!r}"
        )
    return path


def _profile(values: dict[str, str]) -> object:
    """The ``--permission-profile`` JSON value, checked as 0.130's ``fs/*`` check one."""
    text = values.get(_PROFILE)
    if text is None:
        raise WrapperArgumentsInvalid(f"{HELPER_NAME}: {_PROFILE} is required")
    try:
        value = json.loads(text)
    except ValueError as error:
        raise WrapperArgumentsInvalid(f"{HELPER_NAME}: {_PROFILE} is not JSON: {error}") from None
    try:
        parse_permissions(value, Generation.V0_130)
    except RpcError as error:
        raise WrapperArgumentsInvalid(
            f"{HELPER_NAME}: {_PROFILE} is not a permission profile: {error.message}"
        ) from None
    return value
