"""Confine the calling thread to an :class:`~.policy.FsPolicy` with Landlock (:mod:`.kernel`).

Landlock confines one thread (and what it later starts), for good. So
:func:`run_restricted` runs each confined operation on a new thread of its
own, which restricts itself and ends with the operation: never on a pooled
worker thread that would later serve unconfined requests.

Rights are granted per tree (``path_beneath``). A writable root with
read-only parts inside (``.git``, ``.agents``, ``.codex`` and the profile's
``read`` entries under it) is granted child by child: every existing child
outside the read-only parts gets write access to its tree, a child that holds
a read-only part is descended into, and a symlinked child gets nothing (its
target is not the root's to give). Adding or removing a direct child of such
a root needs rights on the root itself, which would reach the read-only parts
too, so those are granted only per operation for one checked path
(:meth:`~.policy.FsPolicy.with_entry_in`). A hard link already inside a
writable root to a file in a read-only part shares its inode, and is writable,
as under codex's read-only bind mounts.
"""

from __future__ import annotations

import errno
import os
import stat
import threading
from collections.abc import Callable, Iterator
from typing import Final, TypeVar

from . import kernel
from .kernel import KernelRefused as LandlockUnavailable
from .kernel import landlock_abi
from .policy import FsPolicy

__all__ = [
    "LandlockUnavailable",
    "fs_rules",
    "landlock_abi",
    "restrict_current_thread",
    "run_restricted",
]

T = TypeVar("T")

ALL: Final = (1 << 16) - 1
"""Every right (the kernel grants only those its ABI handles)."""
_ENTRY: Final = (
    kernel.REMOVE_DIR
    | kernel.REMOVE_FILE
    | kernel.MAKE_DIR
    | kernel.MAKE_REG
    | kernel.WRITE_FILE
    | kernel.TRUNCATE
)
"""What adding, writing or removing one direct child needs on its directory."""


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _grant_write(directory: str, read_only: list[str], rights: int) -> Iterator[tuple[str, int]]:
    """``rights`` on ``directory``'s tree except ``read_only`` paths inside it."""
    inside = [p for p in read_only if _within(p, directory)]
    if not inside:
        yield directory, rights
        return
    if directory in inside:
        return
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        child = os.path.join(directory, name)
        try:
            mode = os.lstat(child).st_mode
        except OSError:
            continue
        if stat.S_ISLNK(mode):
            continue  # its target is not this root's to give
        if any(_within(p, child) for p in inside):
            if stat.S_ISDIR(mode):
                yield from _grant_write(child, inside, rights)
            continue
        yield child, rights


def fs_rules(policy: FsPolicy, *, write: int = ALL) -> list[tuple[str, int]]:
    """``policy`` as Landlock rules: read beneath the read roots; ``write`` rights
    beneath the write roots, child by child around their read-only parts."""
    rules = [(root, kernel.READ) for root in policy.read_roots + policy.write_roots]
    read_only = list(policy.read_only)
    for root in policy.write_roots:
        rules += _grant_write(root, read_only, write)
    rules += [(root, _ENTRY) for root in policy.entry_roots]
    return rules


def restrict_current_thread(policy: FsPolicy) -> None:
    """Confine the calling thread to ``policy``, for the rest of its life.

    Raises:
        LandlockUnavailable: the kernel has no Landlock or refused a call; the
            thread may then be partly confined and must not run the operation.
    """
    kernel.landlock_restrict(fs_rules(policy))


def run_restricted(policy: FsPolicy, function: Callable[[], T], *, changes: bool) -> T:
    """``function()`` on a new thread confined to ``policy``; blocks until it is done.

    A denial reads as under codex's bubblewrap mounts: a change (``changes``)
    failing with ``EACCES``/``EXDEV`` on a path the policy does not let it
    change is ``EROFS`` (a read-only bind); a read failing with ``EACCES`` on a
    path the policy does not let it read is ``ENOENT`` (not mounted). A denial
    on a path the policy allows (the file's own mode) stays as it is.

    Raises:
        LandlockUnavailable: the thread could not be confined (nothing ran).
        OSError: what ``function`` raised, a denial as above.
    """
    outcome: list[tuple[bool, object]] = []

    def confined() -> None:
        try:
            restrict_current_thread(policy)
            outcome.append((True, function()))
        except BaseException as error:  # handed to the caller's thread
            outcome.append((False, error))

    thread = threading.Thread(target=confined, name="execsrv-landlock", daemon=True)
    thread.start()
    thread.join()
    ok, value = outcome[0]
    if ok:
        return value  # type: ignore[return-value]
    assert isinstance(value, BaseException)
    if isinstance(value, OSError):
        denied = _as_codex_denial(policy, value, changes=changes)
        if denied is not None:
            raise denied from value
    raise value


def _as_codex_denial(policy: FsPolicy, error: OSError, *, changes: bool) -> OSError | None:
    """``error`` as codex's sandbox reports the same denial, or None if it is not one."""
    paths = [os.path.realpath(p) for p in (error.filename, error.filename2) if p is not None]
    outside_writes = not paths or not all(policy.may_write(p) for p in paths)
    outside_reads = not paths or not all(policy.may_read(p) for p in paths)
    if changes and error.errno in (errno.EACCES, errno.EXDEV) and outside_writes:
        return OSError(errno.EROFS, os.strerror(errno.EROFS), error.filename)
    if not changes and error.errno == errno.EACCES and outside_reads:
        return OSError(errno.ENOENT, os.strerror(errno.ENOENT), error.filename)
    return None
