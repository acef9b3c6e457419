"""Empty directories standing in for the read-only paths a writable root lacks.

A confined command may write anywhere in a writable root, so a ``.git``,
``.agents`` or ``.codex`` (or a profile's ``read`` entry there, like ``.aws``)
that does not exist yet could be created there and filled: a ``.git/config``
whose ``core.fsmonitor`` runs outside the sandbox at the next ``git`` command.
codex's bubblewrap makes them exist, read-only, while a command runs; so does
this: an empty directory is made before the start (the launcher then binds it
read-only like any protected path) and removed once no confined command that
held it runs any more, if it is still empty.

All calls come from the server's trio thread; none blocks for long.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable

from .policy import FsPolicy

__all__ = ["Placeholders", "missing_protected"]


def missing_protected(policy: FsPolicy) -> list[str]:
    """The read-only paths inside ``policy``'s writable roots (the protected names,
    the profile's ``read`` entries there) that do not exist, in an existing directory."""
    return [
        path
        for path in policy.read_only
        if os.path.isdir(posixpath.dirname(path)) and not os.path.lexists(path)
    ]


class Placeholders:
    """The placeholder directories this server made, with how many commands hold each."""

    def __init__(self) -> None:
        self._holders: dict[str, int] = {}

    def hold(self, paths: Iterable[str]) -> list[str]:
        """Make each missing path an empty directory (or hold the one made already);
        returns those held, for :meth:`release`. A path that cannot be made is left
        alone: the confined command, with no more rights than the server, cannot
        make it either."""
        held = []
        for path in paths:
            if path not in self._holders:
                try:
                    os.mkdir(path, 0o755)
                except OSError:
                    continue  # made meanwhile by someone else (then protected), or not ours to make
                self._holders[path] = 0
            self._holders[path] += 1
            held.append(path)
        return held

    def release(self, paths: Iterable[str]) -> None:
        """Let go of what :meth:`hold` returned; a directory no command holds any more
        is removed if it is still empty."""
        for path in paths:
            self._holders[path] -= 1
            if self._holders[path] == 0:
                del self._holders[path]
                try:
                    os.rmdir(path)
                except OSError:
                    pass  # something was put in it from outside: it is not ours any more
