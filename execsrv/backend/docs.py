"""Project-doc discovery (``AGENTS.md`` and friends) through :class:`ExecBackend`.

Only the backend's file-system methods are used, so the same call finds the
docs of a local checkout or of one on an exec-server's machine.
"""

from __future__ import annotations

import logging
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass

from ..client.errors import FileNotFound, RemoteError
from ..logs import clip
from .base import ExecBackend, PathArg, absolute

__all__ = ["ProjectDoc", "discover_project_docs", "find_repository_root"]

log = logging.getLogger("execsrv.backend")

REPOSITORY_MARKER = ".git"


@dataclass(frozen=True, slots=True)
class ProjectDoc:
    path: str
    """Where it was found: the directory (as walked, see below) joined with the name."""
    content: bytes


async def _exists(backend: ExecBackend, path: str) -> bool:
    try:
        await backend.get_metadata(path)
    except FileNotFound:
        return False
    return True


def _lineage(directory: str) -> list[str]:
    """``directory`` (absolute, normalised) and its parents up to ``/``, nearest first."""
    chain = [directory]
    while chain[-1] != "/":
        chain.append(posixpath.dirname(chain[-1]))
    return chain


async def find_repository_root(backend: ExecBackend, cwd: PathArg) -> str | None:
    """The nearest directory at or above ``cwd`` holding a ``.git`` entry (a
    directory, or a file as in worktrees and submodules), or None."""
    for directory in _lineage(absolute(cwd)):
        if await _exists(backend, posixpath.join(directory, REPOSITORY_MARKER)):
            return directory
    return None


async def discover_project_docs(
    backend: ExecBackend, cwd: PathArg, *, names: Sequence[str] = ("AGENTS.md",)
) -> list[ProjectDoc]:
    """Every file called one of ``names`` from the repository root down to ``cwd``.

    Ordered root first, ``cwd`` last (within a directory, in ``names`` order),
    so later docs can refine earlier ones.

    - The repository root is the nearest directory at or above ``cwd`` with a
      ``.git`` directory or file. **Without one, only ``cwd`` itself is searched**:
      a doc in some unrelated parent (``/tmp``, a home directory) is not the
      project's.
    - ``cwd`` is absolute and taken as given: its parents are found lexically
      (``..`` and ``.`` are normalised away first),
      not by resolving symlinks, and the paths returned are under it as given.
      Symlinks are followed when looking things up, so a symlinked doc or a
      symlinked directory on the way counts like the real one; a dangling
      symlink counts as missing.
    - Anything by that name that is not a regular file (a directory, a FIFO)
      is skipped.
    - A doc that exists but cannot be read (permission denied, over the
      512 MiB read limit) is **skipped** with a warning on the
      ``execsrv.backend`` logger: one bad file does not hide the others.
      Errors that are not about the file (the connection is gone) propagate.

    Raises:
        RemoteError: ``cwd`` is not absolute (``-32602``), or the backend failed.
    """
    directory = absolute(cwd)
    root = await find_repository_root(backend, directory)
    lineage = _lineage(directory)
    searched = lineage[: lineage.index(root) + 1] if root is not None else [directory]
    docs: list[ProjectDoc] = []
    for folder in reversed(searched):
        for name in names:
            path = posixpath.join(folder, name)
            try:
                if not (await backend.get_metadata(path)).is_file:
                    continue
                docs.append(ProjectDoc(path, await backend.read_file(path)))
            except FileNotFound:
                continue
            except RemoteError as error:
                log.warning(
                    "skipped unreadable project doc %s: %s", clip(path), clip(error.message)
                )
    return docs
