"""The child's environment: exact ``env``, or the reference's ``envPolicy``."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Mapping
from typing import Final

from ..protocol.process import EnvPolicy

__all__ = ["build_child_env"]

CORE_VARS: Final = frozenset(
    {"HOME", "LANG", "LOGNAME", "PATH", "SHELL", "TEMP", "TMP", "TMPDIR", "USER", "USERNAME"}
)
DEFAULT_EXCLUDES: Final = ("*KEY*", "*SECRET*", "*TOKEN*")


def _matches(name: str, patterns: list[str] | tuple[str, ...]) -> bool:
    upper = name.upper()
    return any(fnmatch.fnmatchcase(upper, pattern.upper()) for pattern in patterns)


def build_child_env(
    env: Mapping[str, str],
    policy: EnvPolicy | None,
    server_env: Mapping[str, str] = os.environ,
) -> dict[str, str]:
    """Build the environment a child starts with.

    Without a policy the child gets exactly ``env`` and inherits nothing. With
    one, the steps run in the reference's order: inherit (``all``, ``core`` or
    ``none``), drop the default secret patterns unless told not to, drop
    ``exclude``, apply ``set``, keep only ``includeOnly`` (when non-empty), and
    finally lay ``env`` over the result (``env`` wins over ``set``).
    """
    if policy is None:
        return dict(env)
    if policy.inherit == "all":
        child = dict(server_env)
    elif policy.inherit == "core":
        child = {k: v for k, v in server_env.items() if k in CORE_VARS}
    else:
        child = {}
    if not policy.ignore_default_excludes:
        child = {k: v for k, v in child.items() if not _matches(k, DEFAULT_EXCLUDES)}
    if policy.exclude:
        child = {k: v for k, v in child.items() if not _matches(k, policy.exclude)}
    child.update(policy.set)
    if policy.include_only:
        child = {k: v for k, v in child.items() if _matches(k, policy.include_only)}
    child.update(env)
    return child
