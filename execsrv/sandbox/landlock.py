"""Landlock through ctypes: confine the calling thread to an :class:`~.policy.FsPolicy`.

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

import ctypes
import errno
import os
import stat
import threading
from collections.abc import Callable
from typing import Final, TypeVar

from .policy import FsPolicy

__all__ = ["LandlockUnavailable", "landlock_abi", "restrict_current_thread", "run_restricted"]

T = TypeVar("T")

_SYS_CREATE_RULESET: Final = 444
_SYS_ADD_RULE: Final = 445
_SYS_RESTRICT_SELF: Final = 446
_CREATE_RULESET_VERSION: Final = 1
_RULE_PATH_BENEATH: Final = 1
_PR_SET_NO_NEW_PRIVS: Final = 38

EXECUTE: Final = 1 << 0
WRITE_FILE: Final = 1 << 1
READ_FILE: Final = 1 << 2
READ_DIR: Final = 1 << 3
REMOVE_DIR: Final = 1 << 4
REMOVE_FILE: Final = 1 << 5
MAKE_CHAR: Final = 1 << 6
MAKE_DIR: Final = 1 << 7
MAKE_REG: Final = 1 << 8
MAKE_SOCK: Final = 1 << 9
MAKE_FIFO: Final = 1 << 10
MAKE_BLOCK: Final = 1 << 11
MAKE_SYM: Final = 1 << 12
REFER: Final = 1 << 13  # ABI 2
TRUNCATE: Final = 1 << 14  # ABI 3
IOCTL_DEV: Final = 1 << 15  # ABI 5

_READ: Final = EXECUTE | READ_FILE | READ_DIR
_FILE_RIGHTS: Final = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV
_ENTRY: Final = REMOVE_DIR | REMOVE_FILE | MAKE_DIR | MAKE_REG | WRITE_FILE | TRUNCATE
"""What adding, writing or removing one direct child needs on its directory."""

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.prctl.restype = ctypes.c_int


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


class LandlockUnavailable(Exception):
    """The kernel cannot confine this operation (no Landlock, or a failed call)."""


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 when it has none (or it is disabled)."""
    version = _libc.syscall(_SYS_CREATE_RULESET, None, ctypes.c_size_t(0), _CREATE_RULESET_VERSION)
    return max(int(version), 0)


def _handled(abi: int) -> int:
    rights = (1 << 13) - 1
    if abi >= 2:
        rights |= REFER
    if abi >= 3:
        rights |= TRUNCATE
    if abi >= 5:
        rights |= IOCTL_DEV
    return rights


def _check(result: int, what: str) -> int:
    if result < 0:
        code = ctypes.get_errno()
        raise LandlockUnavailable(f"{what}: {os.strerror(code)} (errno {code})")
    return result


def _add(ruleset: int, path: str, rights: int, handled: int) -> None:
    """Grant ``rights`` beneath ``path`` (a file gets its file rights only); a missing
    path grants nothing."""
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return
    try:
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            rights &= _FILE_RIGHTS
        rule = _PathBeneath(rights & handled, fd)
        result = _libc.syscall(_SYS_ADD_RULE, ruleset, _RULE_PATH_BENEATH, ctypes.byref(rule), 0)
        _check(result, f"landlock_add_rule {path}")
    finally:
        os.close(fd)


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _grant_write(ruleset: int, directory: str, read_only: list[str], handled: int) -> None:
    """Write access to ``directory``'s tree except ``read_only`` paths inside it."""
    inside = [p for p in read_only if _within(p, directory)]
    if not inside:
        _add(ruleset, directory, handled, handled)
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
                _grant_write(ruleset, child, inside, handled)
            continue
        _add(ruleset, child, handled, handled)


def restrict_current_thread(policy: FsPolicy) -> None:
    """Confine the calling thread to ``policy``, for the rest of its life.

    Raises:
        LandlockUnavailable: the kernel has no Landlock or refused a call; the
            thread may then be partly confined and must not run the operation.
    """
    abi = landlock_abi()
    if abi < 1:
        raise LandlockUnavailable("the kernel has no Landlock")
    handled = _handled(abi)
    attr = ctypes.c_uint64(handled)
    ruleset = _check(
        _libc.syscall(_SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(8), 0),
        "landlock_create_ruleset",
    )
    try:
        for root in policy.read_roots:
            _add(ruleset, root, _READ, handled)
        read_only = list(policy.read_only)
        for root in policy.write_roots:
            _add(ruleset, root, _READ, handled)
            _grant_write(ruleset, root, read_only, handled)
        for root in policy.entry_roots:
            _add(ruleset, root, _ENTRY, handled)
        _check(_libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")
        _check(_libc.syscall(_SYS_RESTRICT_SELF, ruleset, 0), "landlock_restrict_self")
    finally:
        os.close(ruleset)


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
