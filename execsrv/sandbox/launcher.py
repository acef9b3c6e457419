"""The re-exec helper that confines a command, then becomes it.

The server starts ``python -I -S launcher.py SPEC_FD STATUS_FD`` (see
:mod:`.command`) where it would start the command. This process is
single-threaded and runs nothing of the server's, so it may enter namespaces
the server's threads cannot. It reads the launch spec (``marshal``: the same
interpreter wrote it, and ``json`` would cost ~10 ms to import) from
``SPEC_FD``, then:

1. enters a private mount namespace where every mount outside the writable
   roots, and the protected paths inside them, are read-only (if the kernel
   refuses, it falls back to Landlock rules that leave the protected paths
   out, which the spec also carries);
2. as root, drops every capability, as codex's sandbox does;
3. restricts itself with Landlock: files, and with a restricted network TCP
   and abstract ``AF_UNIX`` sockets outside the sandbox, signals to processes
   outside it (as the ABI allows; ``no_new_privs`` included);
4. installs a seccomp filter: ``AF_UNIX`` sockets only if the network is
   restricted, and no ``chmod`` in the Landlock-only fallback (Landlock does
   not govern file modes; the read-only mounts do);
5. ``execvpe``\\ s the command with the spec's environment.

``STATUS_FD`` is close-on-exec from step 5: the server reads end-of-file
when the command runs, or, when it did not, a dict (``marshal`` again):
``{"errno", "filename"}`` for a failed exec, ``{"sandbox": text}`` for a
confinement step the kernel refused (nothing was run). Only the standard library and :mod:`.kernel`
(loaded by path) are imported, so the start costs an interpreter, not execsrv.
"""

from __future__ import annotations

import errno
import marshal
import os
import sys

TYPE_CHECKING = False  # typing costs the launcher ~7 ms to import

if TYPE_CHECKING:
    from typing import Any

    from . import kernel
else:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import kernel

_CAP_LAST_FALLBACK = 63
_PR_CAPBSET_DROP = 24
_PR_CAP_AMBIENT = 47
_PR_CAP_AMBIENT_CLEAR_ALL = 4


def _drop_capabilities() -> None:
    """Empty the bounding, ambient, inheritable, permitted and effective sets."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    try:
        with open("/proc/sys/kernel/cap_last_cap") as file:
            last = int(file.read())
    except OSError:
        last = _CAP_LAST_FALLBACK
    for cap in range(last + 1):
        if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 and ctypes.get_errno() != 22:
            raise kernel.KernelRefused(f"prctl(PR_CAPBSET_DROP, {cap}) failed")
    libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [(n, ctypes.c_uint32) for n in ("effective", "permitted", "inheritable")]

    header = Header(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (Data * 2)()
    if libc.capset(ctypes.byref(header), data) != 0:
        raise kernel.KernelRefused(f"capset: {os.strerror(ctypes.get_errno())}")


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _read_only_view(spec: dict[str, Any]) -> None:
    """In a private mount namespace: every mount outside the writable roots
    read-only, so a denied write reads ``Read-only file system`` as under codex's
    mounts (best effort: Landlock denies it regardless), and the protected paths
    inside them read-only (required: the rules then grant the whole roots). Each of
    ``private_dirs`` (``/dev/shm``) gets an empty, writable tmpfs of its own."""
    writable = spec["write_roots"]
    try:
        for root in writable:
            kernel.bind(root, read_only=False)
        for point, flags in kernel.mount_points():
            if not any(_within(point, root) for root in writable):
                try:
                    kernel.remount_read_only(point, flags)
                except kernel.KernelRefused:
                    pass
        for path in spec["read_only"]:
            try:
                kernel.bind(path, read_only=True)
            except kernel.KernelRefused as error:
                if error.errno != errno.ENOENT:
                    raise
                # gone since the server looked: nothing there to keep read-only
    finally:
        os.chdir(os.getcwd())  # onto the new mounts: the old cwd is on the one below
    for path, rights in spec["private_dirs"]:
        try:
            kernel.private_tmpfs(path)
        except kernel.KernelRefused:
            continue  # read-only, like the rest
        spec["rules"].append((path, rights))


def _confine(spec: dict[str, Any]) -> None:
    rules = spec["rules"]
    if rules is not None:
        try:
            kernel.private_mounts()
            _read_only_view(spec)
        except kernel.KernelRefused:
            rules = spec["fallback_rules"]  # the protected paths left out instead
    if os.geteuid() == 0:
        _drop_capabilities()
    kernel.landlock_restrict(
        None if rules is None else [(path, rights) for path, rights in rules],
        network=spec["deny_network"],
        signals=True,
    )
    fallback = rules is not None and rules is spec["fallback_rules"]
    if spec["deny_network"] or fallback:
        kernel.install_seccomp(network=spec["deny_network"], mode_changes=fallback)
    kernel.no_new_privs()


def main(spec_fd: int, status_fd: int) -> None:
    with os.fdopen(spec_fd, "rb") as file:
        spec = marshal.loads(file.read())
    try:
        _confine(spec)
    except (kernel.KernelRefused, OSError) as error:
        _report(status_fd, {"sandbox": str(error)})
        os._exit(126)
    os.set_inheritable(status_fd, False)
    args = [os.fsencode(arg) for arg in spec["argv"]]
    env = {os.fsencode(k): os.fsencode(v) for k, v in spec["env"].items()}
    try:
        os.execvpe(os.fsencode(spec["file"]), args, env)
    except OSError as error:
        _report(status_fd, {"errno": error.errno, "filename": spec["file"]})
        os._exit(127)


def _report(status_fd: int, status: dict[str, object]) -> None:
    os.write(status_fd, marshal.dumps(status))


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
