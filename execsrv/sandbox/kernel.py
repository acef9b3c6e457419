"""The kernel's confinement primitives through ctypes: Landlock, seccomp, namespaces.

Standalone on purpose (the standard library only, no package imports): the
:mod:`.launcher` loads this file by path in a fresh interpreter that does not
import execsrv. Everything here acts on the calling thread (Landlock, seccomp,
``no_new_privs``) or process (``unshare``, ``mount``) and is inherited by what
it later starts; none of it can be undone.
"""

from __future__ import annotations

import ctypes
import os
import stat
import struct

TYPE_CHECKING = False  # typing and collections.abc cost the launcher ~10 ms to import
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Final

__all__ = [
    "KernelRefused",
    "bind",
    "install_seccomp",
    "landlock_abi",
    "landlock_restrict",
    "mount_points",
    "no_new_privs",
    "private_mounts",
    "private_tmpfs",
    "remount_read_only",
    "seccomp_filter",
]

# Landlock file system rights (uapi/linux/landlock.h).
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

READ: Final = EXECUTE | READ_FILE | READ_DIR
FILE_RIGHTS: Final = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV
"""The rights that mean anything on a file (the rest are about directories)."""

_NET_BIND_TCP: Final = 1 << 0  # ABI 4
_NET_CONNECT_TCP: Final = 1 << 1
_SCOPE_ABSTRACT_UNIX: Final = 1 << 0  # ABI 6
_SCOPE_SIGNAL: Final = 1 << 1

_SYS_CREATE_RULESET: Final = 444
_SYS_ADD_RULE: Final = 445
_SYS_RESTRICT_SELF: Final = 446
_CREATE_RULESET_VERSION: Final = 1
_RULE_PATH_BENEATH: Final = 1
_PR_SET_NO_NEW_PRIVS: Final = 38
_PR_SET_SECCOMP: Final = 22
_SECCOMP_MODE_FILTER: Final = 2
_CLONE_NEWNS: Final = 0x00020000
_CLONE_NEWUSER: Final = 0x10000000
_MS_RDONLY: Final = 1
_MS_NOSUID: Final = 2
_MS_NODEV: Final = 4
_MS_REMOUNT: Final = 32
_MS_BIND: Final = 4096
_MS_REC: Final = 16384
_MS_PRIVATE: Final = 1 << 18

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.prctl.restype = ctypes.c_int
_libc.unshare.restype = ctypes.c_int
_libc.mount.restype = ctypes.c_int
_libc.mount.argtypes = [
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_ulong,
    ctypes.c_void_p,
]


class KernelRefused(Exception):
    """A confinement call failed: the kernel lacks it or refused it. The caller
    may be partly confined and must not run what it was confining."""

    def __init__(self, message: str, errno: int = 0) -> None:
        super().__init__(message)
        self.errno = errno
        """The call's errno, 0 if it did not get as far as a call."""


def _check(result: int, what: str) -> int:
    if result < 0:
        code = ctypes.get_errno()
        raise KernelRefused(f"{what}: {os.strerror(code)} (errno {code})", code)
    return result


# -- Landlock -----------------------------------------------------------------------


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 when it has none (or it is disabled)."""
    version = _libc.syscall(_SYS_CREATE_RULESET, None, ctypes.c_size_t(0), _CREATE_RULESET_VERSION)
    return max(int(version), 0)


def handled_rights(abi: int) -> int:
    """Every file system right ``abi`` knows: what a ruleset denies unless granted."""
    rights = (1 << 13) - 1
    if abi >= 2:
        rights |= REFER
    if abi >= 3:
        rights |= TRUNCATE
    if abi >= 5:
        rights |= IOCTL_DEV
    return rights


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def landlock_restrict(
    rules: Iterable[tuple[str, int]] | None, *, network: bool = False, signals: bool = False
) -> None:
    """Confine the calling thread with Landlock, for good.

    ``rules`` (path, rights): every file system right the kernel knows is
    denied except where a rule grants it beneath its path (a file gets its file
    rights only; a missing path grants nothing); None leaves files alone.
    ``network`` denies TCP bind and connect (ABI 4+) and connecting to abstract
    ``AF_UNIX`` sockets made outside the sandbox (ABI 6+); ``signals`` keeps
    signals inside the sandbox (ABI 6+). Sets ``no_new_privs``, which Landlock
    requires. What the ABI lacks is not enforced by this call.

    Raises:
        KernelRefused: no Landlock while ``rules`` restrict files, or a call failed.
    """
    abi = landlock_abi()
    if abi < 1:
        if rules is None:
            return
        raise KernelRefused("the kernel has no Landlock")
    handled = 0 if rules is None else handled_rights(abi)
    fields = [handled]
    if abi >= 4:
        fields.append(_NET_BIND_TCP | _NET_CONNECT_TCP if network else 0)
    if abi >= 6:
        fields.append((_SCOPE_ABSTRACT_UNIX if network else 0) | (_SCOPE_SIGNAL if signals else 0))
    while fields and fields[-1] == 0:
        fields.pop()
    if not fields:
        return
    attr = ctypes.create_string_buffer(struct.pack(f"={len(fields)}Q", *fields))
    ruleset = _check(
        _libc.syscall(_SYS_CREATE_RULESET, attr, ctypes.c_size_t(len(attr.raw)), 0),
        "landlock_create_ruleset",
    )
    try:
        for path, rights in rules or ():
            _add_rule(ruleset, path, rights & handled)
        no_new_privs()
        _check(_libc.syscall(_SYS_RESTRICT_SELF, ruleset, 0), "landlock_restrict_self")
    finally:
        os.close(ruleset)


def _add_rule(ruleset: int, path: str, rights: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return
    try:
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            rights &= FILE_RIGHTS
        if not rights:
            return
        rule = _PathBeneath(rights, fd)
        result = _libc.syscall(_SYS_ADD_RULE, ruleset, _RULE_PATH_BENEATH, ctypes.byref(rule), 0)
        _check(result, f"landlock_add_rule {path}")
    finally:
        os.close(fd)


def no_new_privs() -> None:
    """``PR_SET_NO_NEW_PRIVS``: nothing executed later gains privileges (setuid bits,
    file capabilities); a prerequisite of Landlock and seccomp without privileges."""
    _check(_libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")


# -- seccomp ------------------------------------------------------------------------

_AUDIT_ARCH: Final = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
_X32_SYSCALL_BIT: Final = 0x40000000
_AF_UNIX: Final = 1
_SECCOMP_RET_ALLOW: Final = 0x7FFF0000
_SECCOMP_RET_ERRNO: Final = 0x00050000
_EPERM: Final = 1

_SOCKET_CALLS: Final = {"x86_64": (41, 53), "aarch64": (198, 199)}
"""``socket`` and ``socketpair``, whose family the filter checks."""
_NETWORK_DENIED: Final = {"x86_64": (101, 425, 426, 427), "aarch64": (117, 425, 426, 427)}
"""``ptrace``, ``io_uring_setup``, ``io_uring_enter``, ``io_uring_register``."""
_MODE_CHANGES: Final = {"x86_64": (90, 91, 268, 452), "aarch64": (52, 53, 452)}
"""``chmod`` (x86_64 only), ``fchmod``, ``fchmodat``, ``fchmodat2``."""

_BPF_LD_W_ABS: Final = 0x20
_BPF_JEQ_K: Final = 0x15
_BPF_JGE_K: Final = 0x35
_BPF_RET_K: Final = 0x06


class _SockFilter(ctypes.Structure):
    _fields_ = [
        ("code", ctypes.c_uint16),
        ("jt", ctypes.c_uint8),
        ("jf", ctypes.c_uint8),
        ("k", ctypes.c_uint32),
    ]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_uint16), ("filter", ctypes.POINTER(_SockFilter))]


def seccomp_filter(
    machine: str | None = None, *, network: bool = True, mode_changes: bool = False
) -> list[tuple[int, int, int, int]]:
    """The seccomp program (``code, jt, jf, k``) :func:`install_seccomp` installs.

    ``network``: ``socket``/``socketpair`` of any family but ``AF_UNIX`` fail
    with ``EPERM``, as do ``ptrace`` and ``io_uring`` (which can open sockets
    itself). ``mode_changes``: every ``chmod`` fails with ``EPERM`` (for the
    Landlock-only fallback: Landlock does not govern file modes). A system call
    of another ABI (32-bit ``socketcall``, x32) fails whatever it is.

    Raises:
        KernelRefused: an architecture this filter does not know.
    """
    machine = machine or os.uname().machine
    if machine not in _SOCKET_CALLS:
        raise KernelRefused(f"no seccomp filter for the {machine} architecture")
    families = _SOCKET_CALLS[machine] if network else ()
    denied = (_NETWORK_DENIED[machine] if network else ()) + (
        _MODE_CHANGES[machine] if mode_changes else ()
    )
    # Jumps name their targets; they are resolved to BPF's relative offsets below.
    program: list[tuple[int, str | int, str | int, int]] = [
        (_BPF_LD_W_ABS, 0, 0, 4),  # seccomp_data.arch
        (_BPF_JEQ_K, 0, "deny", _AUDIT_ARCH[machine]),
        (_BPF_LD_W_ABS, 0, 0, 0),  # seccomp_data.nr
        (_BPF_JGE_K, "deny", 0, _X32_SYSCALL_BIT),
        *((_BPF_JEQ_K, "family", 0, number) for number in families),
        *((_BPF_JEQ_K, "deny", 0, number) for number in denied),
        (_BPF_RET_K, 0, 0, _SECCOMP_RET_ALLOW),
        (_BPF_LD_W_ABS, 0, 0, 16),  # "family": the low half of seccomp_data.args[0]
        (_BPF_JEQ_K, 0, "deny", _AF_UNIX),
        (_BPF_RET_K, 0, 0, _SECCOMP_RET_ALLOW),
        (_BPF_RET_K, 0, 0, _SECCOMP_RET_ERRNO | _EPERM),  # "deny"
    ]
    labels = {"family": len(program) - 4, "deny": len(program) - 1}

    def offset(at: int, target: str | int) -> int:
        return target if isinstance(target, int) else labels[target] - at - 1

    return [(code, offset(i, jt), offset(i, jf), k) for i, (code, jt, jf, k) in enumerate(program)]


def install_seccomp(*, network: bool, mode_changes: bool) -> None:
    """Install :func:`seccomp_filter` on the calling thread (and ``no_new_privs``).

    Raises:
        KernelRefused: no seccomp, or an unknown architecture.
    """
    program = seccomp_filter(network=network, mode_changes=mode_changes)
    filters = (_SockFilter * len(program))(*(_SockFilter(*ins) for ins in program))
    fprog = _SockFprog(len(program), filters)
    no_new_privs()
    _check(
        _libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0),
        "prctl(PR_SET_SECCOMP)",
    )


# -- mount namespace ----------------------------------------------------------------


def private_mounts() -> None:
    """Enter a mount namespace of this process's own, where mounts do not propagate.

    As root a plain ``unshare(CLONE_NEWNS)``; otherwise in a new user namespace
    that maps only this uid and gid (so files keep their owners). Call in a
    single-threaded process.

    Raises:
        KernelRefused: the kernel does not allow it (e.g. unprivileged user
            namespaces disabled).
    """
    uid, gid = os.getuid(), os.getgid()
    if uid == 0:
        _check(_libc.unshare(_CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    else:
        _check(_libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNS), "unshare(CLONE_NEWUSER|CLONE_NEWNS)")
        for name, text in (
            ("setgroups", "deny"),
            ("uid_map", f"{uid} {uid} 1"),
            ("gid_map", f"{gid} {gid} 1"),
        ):
            try:
                with open(f"/proc/self/{name}", "w") as file:
                    file.write(text)
            except OSError as error:
                raise KernelRefused(f"/proc/self/{name}: {error.strerror}") from None
    _mount(None, b"/", None, _MS_REC | _MS_PRIVATE, "make / private")


def bind(path: str, *, read_only: bool) -> None:
    """Bind ``path`` onto itself, read-only or not (in the namespace of
    :func:`private_mounts`): a mount of its own, which later remounts of the
    mounts around it leave as it is.

    Raises:
        KernelRefused: the kernel refused a mount.
    """
    target = os.fsencode(path)
    _mount(target, target, None, _MS_BIND | _MS_REC, f"bind {path}")
    if read_only:
        remount_read_only(path, _locked_flags(path))


def private_tmpfs(path: str) -> None:
    """Mount an empty tmpfs of this namespace's own on ``path`` (``nosuid``, ``nodev``).

    Raises:
        KernelRefused: the kernel refused the mount.
    """
    target = os.fsencode(path)
    _mount(b"tmpfs", target, b"tmpfs", _MS_NOSUID | _MS_NODEV, f"tmpfs on {path}")


def remount_read_only(path: str, flags: int = 0) -> None:
    """Make the mount at ``path`` read-only, keeping ``flags`` (those a user
    namespace may not clear: ``nosuid``, ``nodev``, ``noexec``, atime).

    Raises:
        KernelRefused: the kernel refused.
    """
    target = os.fsencode(path)
    _mount(None, target, None, _MS_BIND | _MS_REMOUNT | _MS_RDONLY | flags, f"read-only {path}")


_MOUNT_FLAGS: Final = {
    "nosuid": _MS_NOSUID,
    "nodev": _MS_NODEV,
    "noexec": 8,
    "noatime": 1024,
    "nodiratime": 2048,
    "relatime": 1 << 21,
    "strictatime": 1 << 24,
}


def mount_points() -> list[tuple[str, int]]:
    """Every mount point of this mount namespace, with its per-mount flags."""
    with open("/proc/self/mountinfo", "rb") as file:
        lines = file.read().splitlines()
    points = []
    for line in lines:
        fields = line.split(b" ")
        path = os.fsdecode(_unescape(fields[4]))
        options = fields[5].decode("ascii", "replace").split(",")
        points.append((path, sum(_MOUNT_FLAGS.get(option, 0) for option in options)))
    return points


def _locked_flags(path: str) -> int:
    """The flags of the mount ``path`` is on: the deepest, and of those the last."""
    best, flags = "", 0
    for point, point_flags in mount_points():
        inside = path == point or path.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, flags = point, point_flags
    return flags


def _unescape(field: bytes) -> bytes:
    """mountinfo writes space, tab, newline and backslash as octal escapes."""
    out = bytearray()
    i = 0
    while i < len(field):
        if field[i : i + 1] == b"\\" and field[i + 1 : i + 4].isdigit():
            out.append(int(field[i + 1 : i + 4], 8))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return bytes(out)


def _mount(
    source: bytes | None, target: bytes, fstype: bytes | None, flags: int, what: str
) -> None:
    _check(_libc.mount(source, target, fstype, flags, None), what)
