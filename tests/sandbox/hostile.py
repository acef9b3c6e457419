"""A hostile command: tries every escape it knows, one JSON line per attempt.

Run as ``python hostile.py <launch> <context JSON>`` by tests/sandbox/test_hostile_commands.py
inside a sandboxed ``process/start``. It only uses the standard library (and libc
through ctypes), so it runs under whichever interpreter the test runs.

Each action either succeeds (the escape worked: ``"ok": true``) or raises
``OSError`` (``"ok": false`` and the error text, which carries the kernel's words,
such as ``Permission denied``, so the server's denial heuristic can see them).
The test checks the disk and its own listeners as well: a line saying ``false``
proves nothing alone.

``launch`` says who runs the actions: ``direct`` (this process), ``detached`` (a
grandchild that left the session with ``setsid`` after a double fork; this
process waits for it through a pipe it inherits, so no sleep is needed).
"""

from __future__ import annotations

import ctypes
import errno
import json
import mmap
import os
import socket
import stat
import struct
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

Context = dict[str, Any]
Action = Callable[[Context], object]

libc = ctypes.CDLL(None, use_errno=True)

PR_SET_NO_NEW_PRIVS = 38
PR_GET_NO_NEW_PRIVS = 39
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
SYS_LANDLOCK_CREATE_RULESET = 444
SYS_LANDLOCK_RESTRICT_SELF = 446
LANDLOCK_ACCESS_FS_EXECUTE = 1
SECCOMP_RET_ALLOW = 0x7FFF0000


def _check(result: int) -> int:
    if result == -1:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return result


def _write_new(path: str | Path, data: bytes = b"escaped") -> None:
    with open(path, "xb") as file:
        file.write(data)


def _overwrite(path: str | Path) -> None:
    with open(path, "r+b") as file:
        file.write(b"X")


# --- files -----------------------------------------------------------------


def write_outside(ctx: Context) -> None:
    _write_new(Path(ctx["outside"]) / "new")


def victim(ctx: Context, action: str) -> Path:
    """The outside file ``action`` attacks (one each, so each leaves its own trace)."""
    return Path(ctx["outside"]) / f"victim-{action}"


def overwrite_outside(ctx: Context) -> None:
    _overwrite(victim(ctx, "overwrite"))


def truncate_outside(ctx: Context) -> None:
    os.truncate(victim(ctx, "truncate"), 0)


def mkdir_outside(ctx: Context) -> None:
    os.mkdir(Path(ctx["outside"]) / "dir")


def remove_outside(ctx: Context) -> None:
    os.unlink(Path(ctx["outside"]) / "removable")


def chmod_outside(ctx: Context) -> None:
    """A metadata change: think ``chmod u+s`` or ``chmod 666 /etc/shadow``."""
    os.chmod(victim(ctx, "chmod"), 0o4777)


def protected_writer(name: str) -> Action:
    def write(ctx: Context) -> None:
        _overwrite(Path(ctx["workspace"]) / name / "config")

    return write


def protected_creator(name: str) -> Action:
    def create(ctx: Context) -> None:
        _write_new(Path(ctx["workspace"]) / name / "new")

    return create


def protected_planter(name: str) -> Action:
    """Where the workspace has no ``name``, make one: a ``.git`` with a hook or a
    ``core.fsmonitor`` runs code the next time anyone uses git there, outside the
    sandbox; a ``.codex`` brings its own config."""

    def plant(ctx: Context) -> None:
        os.mkdir(Path(ctx["workspace"]) / name)
        _write_new(Path(ctx["workspace"]) / name / "config")

    return plant


def remove_git_file(ctx: Context) -> None:
    os.unlink(Path(ctx["workspace"]) / ".git" / "remove-me")


def rename_git_away(ctx: Context) -> None:
    """Move ``.git`` aside, so a fresh, writable ``.git`` could take its place."""
    workspace = Path(ctx["workspace"])
    os.rename(workspace / ".git", workspace / "git-moved")


def through_planted_dir_symlink(ctx: Context) -> None:
    _write_new(Path(ctx["workspace"]) / "link-dir" / "via-dir-link")


def through_planted_file_symlink(ctx: Context) -> None:
    _overwrite(Path(ctx["workspace"]) / "link-file")


def through_own_symlink(ctx: Context) -> None:
    """Plant the symlink now (allowed where the workspace is writable), then use it."""
    link = Path(ctx["workspace"]) / "my-link"
    try:
        os.symlink(ctx["outside"], link)
    except OSError:
        pass  # read-only: fall back to the planted one
    else:
        _write_new(link / "via-own-link")
        return
    _write_new(Path(ctx["workspace"]) / "link-dir" / "via-own-link")


def via_dot_dot(ctx: Context) -> None:
    _write_new(f"{ctx['workspace']}/src/../../outside/via-dot-dot")


def rename_out(ctx: Context) -> None:
    os.rename(Path(ctx["workspace"]) / "mine-out", Path(ctx["outside"]) / "renamed-out")


def rename_in(ctx: Context) -> None:
    os.rename(victim(ctx, "rename"), Path(ctx["workspace"]) / "renamed-in")


def rename_into_git(ctx: Context) -> None:
    workspace = Path(ctx["workspace"])
    os.rename(workspace / "mine-git", workspace / ".git" / "renamed-in")


def rename_out_of_git(ctx: Context) -> None:
    workspace = Path(ctx["workspace"])
    os.rename(workspace / ".git" / "rename-me", workspace / "renamed-config")


def hard_link_in(ctx: Context) -> None:
    """Link an outside file into the workspace and write through the link."""
    link = Path(ctx["workspace"]) / "src" / "hard-link-in"
    os.link(victim(ctx, "hardlink"), link)
    _overwrite(link)


def hard_link_out(ctx: Context) -> None:
    os.link(Path(ctx["workspace"]) / "mine-link", Path(ctx["outside"]) / "hard-link-out")


def hard_link_git(ctx: Context) -> None:
    workspace = Path(ctx["workspace"])
    link = workspace / "src" / "hard-link-git"
    os.link(workspace / ".git" / "link-me", link)
    _overwrite(link)


def fifo_outside(ctx: Context) -> None:
    os.mkfifo(Path(ctx["outside"]) / "fifo")


def device_outside(ctx: Context) -> None:
    os.mknod(Path(ctx["outside"]) / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))


def through_proc_cwd(ctx: Context) -> None:
    """The test's victim process sits in the outside directory: go through its cwd."""
    _write_new(f"/proc/{ctx['victim_pid']}/cwd/via-proc")


def open_by_handle(ctx: Context) -> None:
    """``open_by_handle_at`` (root has CAP_DAC_READ_SEARCH) skips the path walk."""

    class FileHandle(ctypes.Structure):
        _fields_ = [
            ("handle_bytes", ctypes.c_uint),
            ("handle_type", ctypes.c_int),
            ("f_handle", ctypes.c_ubyte * 128),
        ]

    handle = FileHandle(handle_bytes=128)
    mount_id = ctypes.c_int()
    target = os.fsencode(victim(ctx, "handle"))
    at_fdcwd = -100
    _check(
        libc.name_to_handle_at(at_fdcwd, target, ctypes.byref(handle), ctypes.byref(mount_id), 0)
    )
    mount_fd = os.open(ctx["outside"], os.O_RDONLY | os.O_DIRECTORY)
    try:
        fd = _check(libc.open_by_handle_at(mount_fd, ctypes.byref(handle), os.O_RDWR))
    finally:
        os.close(mount_fd)
    try:
        os.write(fd, b"X")
    finally:
        os.close(fd)


# --- network ----------------------------------------------------------------


def tcp(family: socket.AddressFamily, host: str, key: str) -> Action:
    def connect(ctx: Context) -> None:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.connect((host, ctx[key]))

    return connect


def udp(family: socket.AddressFamily, host: str, key: str) -> Action:
    def send(ctx: Context) -> None:
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.sendto(b"escaped", (host, ctx[key]))

    return send


def abstract_unix(ctx: Context) -> None:
    """An abstract AF_UNIX socket has no file for Landlock to guard: it reaches a
    service outside the sandbox unless the sandbox scopes them."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(b"\0" + ctx["abstract"].encode())


def raw_socket(ctx: Context) -> None:
    socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP).close()


# --- privileges ---------------------------------------------------------------


def in_child(body: Callable[[], None]) -> None:
    """Run ``body`` in a forked child (it may drop privileges or change namespaces);
    re-raise its ``OSError`` here."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        try:
            body()
            message = b""
        except OSError as error:
            message = f"{error.errno} {error.strerror}".encode()
        except BaseException as error:  # reported to the parent
            message = f"{errno.EIO} {error!r}".encode()
        os.write(write_end, message or b"ok")
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        report = pipe.read().decode()
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):  # e.g. SIGSYS from a seccomp filter
        raise OSError(errno.EINTR, f"killed by signal {os.WTERMSIG(status)}")
    if report != "ok":
        code, _, text = report.partition(" ")
        raise OSError(int(code), text)


def clear_no_new_privs(ctx: Context) -> None:
    """``PR_SET_NO_NEW_PRIVS`` cannot be cleared (EINVAL); then write outside anyway."""
    try:
        _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 0, 0, 0, 0))
    except OSError:
        pass
    _write_new(Path(ctx["outside"]) / "after-prctl")


def setuid_nobody(ctx: Context) -> None:
    """Become another user (the outside directory is world-writable) and write."""

    def body() -> None:
        os.setgroups([])
        os.setresgid(65534, 65534, 65534)
        os.setresuid(65534, 65534, 65534)
        _write_new(Path(ctx["outside"]) / "as-nobody")

    in_child(body)


def unshare_and_bind_mount(ctx: Context) -> None:
    """A new mount namespace (a user namespace if need be) and a bind mount of the
    outside directory into the workspace: writes there would land outside."""
    target = os.fsencode(Path(ctx["workspace"]) / "src")

    def body() -> None:
        if libc.unshare(CLONE_NEWNS) != 0:
            _check(libc.unshare(CLONE_NEWUSER | CLONE_NEWNS))
        _check(libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None))
        _check(libc.mount(os.fsencode(ctx["outside"]), target, None, MS_BIND, None))
        _write_new(Path(ctx["workspace"]) / "src" / "via-mount")

    in_child(body)


def new_seccomp_filter(ctx: Context) -> None:
    """Stack an allow-everything seccomp filter, then connect: filters only add up."""

    class SockFilter(ctypes.Structure):
        _fields_ = [
            ("code", ctypes.c_ushort),
            ("jt", ctypes.c_ubyte),
            ("jf", ctypes.c_ubyte),
            ("k", ctypes.c_uint),
        ]

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(SockFilter))]

    bpf_ret_k = 0x06
    allow = (SockFilter * 1)(SockFilter(bpf_ret_k, 0, 0, SECCOMP_RET_ALLOW))
    program = SockFprog(1, allow)

    def body() -> None:
        _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
        _check(libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(program), 0, 0))
        tcp(socket.AF_INET, "127.0.0.1", "seccomp")(ctx)

    in_child(body)


def new_landlock_domain(ctx: Context) -> None:
    """Stack a Landlock domain that restricts (almost) nothing, then write outside."""

    class RulesetAttr(ctypes.Structure):
        _fields_ = [("handled_access_fs", ctypes.c_uint64)]

    def body() -> None:
        attr = RulesetAttr(LANDLOCK_ACCESS_FS_EXECUTE)
        ruleset = libc.syscall(SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), 8, 0)
        if ruleset >= 0:
            libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
            libc.syscall(SYS_LANDLOCK_RESTRICT_SELF, ruleset, 0)
        _write_new(Path(ctx["outside"]) / "after-landlock")

    in_child(body)


I386_SOCKET_CODE = bytes.fromhex(
    "53"  # push rbx
    "b867010000"  # mov eax, 359 (i386 socket)
    "bb02000000"  # mov ebx, AF_INET
    "b901000000"  # mov ecx, SOCK_STREAM
    "31d2"  # xor edx, edx
    "cd80"  # int 0x80
    "5b"  # pop rbx
    "c3"  # ret
)


def i386_socket(ctx: Context) -> None:
    """``socket`` through the 32-bit syscall table (``int 0x80``): a filter that
    matches x86-64 syscall numbers without checking the architecture lets it by."""

    def body() -> None:
        code = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
        code.write(I386_SOCKET_CODE)
        address = ctypes.addressof(ctypes.c_char.from_buffer(code))
        fd = ctypes.CFUNCTYPE(ctypes.c_int)(address)()
        if fd < 0:
            raise OSError(-fd, os.strerror(-fd))
        with socket.socket(fileno=fd) as sock:
            sock.settimeout(5)
            sock.connect(("127.0.0.1", ctx["i386"]))

    in_child(body)


IORING_OP_SOCKET = 45
IORING_OP_CONNECT = 16
IORING_OFF_CQ_RING = 0x8000000
IORING_OFF_SQES = 0x10000000
IORING_ENTER_GETEVENTS = 1
SYS_IO_URING_SETUP = 425
SYS_IO_URING_ENTER = 426


class IoUring:
    """The least of io_uring: one submission at a time, waited for."""

    def __init__(self) -> None:
        params = bytearray(120)
        buffer = (ctypes.c_char * len(params)).from_buffer(params)
        self.fd = _check(libc.syscall(SYS_IO_URING_SETUP, 4, buffer))
        del buffer
        sq_entries, cq_entries = struct.unpack_from("<II", params, 0)
        self.sq_off = struct.unpack_from("<8I", params, 40)  # head tail mask entries ... array
        self.cq_off = struct.unpack_from("<8I", params, 80)  # head tail mask entries _ cqes
        shared = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)
        rw = mmap.PROT_READ | mmap.PROT_WRITE
        self.sq = mmap.mmap(self.fd, self.sq_off[6] + 4 * sq_entries, shared, rw, offset=0)
        cq_size = self.cq_off[5] + 16 * cq_entries
        self.cq = mmap.mmap(self.fd, cq_size, shared, rw, offset=IORING_OFF_CQ_RING)
        self.sqes = mmap.mmap(self.fd, 64 * sq_entries, shared, rw, offset=IORING_OFF_SQES)

    def submit(self, opcode: int, fd: int, off: int, addr: int, length: int) -> int:
        """Run one operation; its result (negative: an errno)."""
        self.sqes[0:64] = struct.pack("<BBHiQQII", opcode, 0, 0, fd, off, addr, length, 0).ljust(
            64, b"\0"
        )
        tail = struct.unpack_from("<I", self.sq, self.sq_off[1])[0]
        mask = struct.unpack_from("<I", self.sq, self.sq_off[2])[0]
        struct.pack_into("<I", self.sq, self.sq_off[6] + 4 * (tail & mask), 0)
        struct.pack_into("<I", self.sq, self.sq_off[1], tail + 1)
        _check(libc.syscall(SYS_IO_URING_ENTER, self.fd, 1, 1, IORING_ENTER_GETEVENTS, None, 0))
        head = struct.unpack_from("<I", self.cq, self.cq_off[0])[0]
        cq_mask = struct.unpack_from("<I", self.cq, self.cq_off[2])[0]
        _, result, _ = struct.unpack_from("<QiI", self.cq, self.cq_off[5] + 16 * (head & cq_mask))
        struct.pack_into("<I", self.cq, self.cq_off[0], head + 1)
        return int(result)


def io_uring_connect(ctx: Context) -> None:
    """``socket`` and ``connect`` as io_uring operations: no syscall for a seccomp
    filter to see but ``io_uring_enter``."""
    ring = IoUring()
    fd = ring.submit(IORING_OP_SOCKET, socket.AF_INET, socket.SOCK_STREAM, 0, 0)
    if fd < 0:
        raise OSError(-fd, os.strerror(-fd))
    address = ctypes.create_string_buffer(
        struct.pack("<H", socket.AF_INET)
        + struct.pack(">H", ctx["io_uring"])
        + socket.inet_aton("127.0.0.1")
        + bytes(8)
    )
    result = ring.submit(IORING_OP_CONNECT, fd, 16, ctypes.addressof(address), 0)
    os.close(fd)
    if result < 0:
        raise OSError(-result, os.strerror(-result))


def open_victim_memory(ctx: Context) -> None:
    """Writing another process's memory is full control of it (ptrace access)."""
    os.close(os.open(f"/proc/{ctx['victim_pid']}/mem", os.O_RDWR))


PROTECTED = (".git", ".codex", ".agents", ".aws")
"""The workspace subdirectories codex 0.171's profiles keep read-only."""

ACTIONS: dict[str, Action] = {
    "write outside": write_outside,
    "overwrite outside": overwrite_outside,
    "truncate outside": truncate_outside,
    "mkdir outside": mkdir_outside,
    "remove outside": remove_outside,
    "chmod outside": chmod_outside,
    **{f"write {name}": protected_writer(name) for name in PROTECTED},
    **{f"create in {name}": protected_creator(name) for name in PROTECTED},
    "remove in .git": remove_git_file,
    "planted dir symlink": through_planted_dir_symlink,
    "planted file symlink": through_planted_file_symlink,
    "own symlink": through_own_symlink,
    "dot dot": via_dot_dot,
    "rename out": rename_out,
    "rename in": rename_in,
    "rename into .git": rename_into_git,
    "rename out of .git": rename_out_of_git,
    "hard link in": hard_link_in,
    "hard link out": hard_link_out,
    "hard link .git": hard_link_git,
    "fifo outside": fifo_outside,
    "device outside": device_outside,
    "proc cwd": through_proc_cwd,
    "open by handle": open_by_handle,
    "rename .git away": rename_git_away,
    "tcp4": tcp(socket.AF_INET, "127.0.0.1", "tcp4"),
    "tcp6": tcp(socket.AF_INET6, "::1", "tcp6"),
    "udp4": udp(socket.AF_INET, "127.0.0.1", "udp4"),
    "udp6": udp(socket.AF_INET6, "::1", "udp6"),
    "raw socket": raw_socket,
    "abstract unix": abstract_unix,
    "clear no_new_privs": clear_no_new_privs,
    "setuid nobody": setuid_nobody,
    "unshare and bind mount": unshare_and_bind_mount,
    "new seccomp filter": new_seccomp_filter,
    "new landlock domain": new_landlock_domain,
    "victim memory": open_victim_memory,
    "i386 socket": i386_socket,
    "io_uring socket": io_uring_connect,
}
"""Every escape, by the name the test expects it under."""

PLANTS: dict[str, Action] = {f"plant {name}": protected_planter(name) for name in PROTECTED}
"""Making a protected path where the workspace has none (a workspace of its own)."""


# --- what a confined command may still do ----------------------------------------


def write_workspace(ctx: Context) -> None:
    _write_new(Path(ctx["workspace"]) / "src" / "written")


def mkdir_workspace(ctx: Context) -> None:
    os.mkdir(Path(ctx["workspace"]) / "src" / "made")


def remove_in_workspace(ctx: Context) -> None:
    os.unlink(Path(ctx["workspace"]) / "removable")


def rename_in_workspace(ctx: Context) -> None:
    workspace = Path(ctx["workspace"])
    os.rename(workspace / "renamable", workspace / "src" / "renamed")


def chmod_workspace(ctx: Context) -> None:
    os.chmod(Path(ctx["workspace"]) / "chmod-me", 0o755)


def write_tmp(ctx: Context) -> None:
    _write_new(Path(ctx["tmp"]) / "written")


def write_dev_null(ctx: Context) -> None:
    with open("/dev/null", "wb") as null:
        null.write(b"discarded")


def use_terminal(ctx: Context) -> None:
    """With a PTY: the terminal is ours to write to and to query."""
    if not os.isatty(1):
        raise OSError(errno.ENOTTY, "stdout is not a terminal")
    os.get_terminal_size(1)
    os.write(1, b"to the terminal\r\n")


def use_controlling_terminal(ctx: Context) -> None:
    with open("/dev/tty", "wb") as tty:
        tty.write(b"to the controlling terminal\r\n")


def unix_socketpair(ctx: Context) -> None:
    left, right = socket.socketpair(socket.AF_UNIX)
    with left, right:
        os.write(left.fileno(), b"ping")
        if os.read(right.fileno(), 4) != b"ping":
            raise OSError(errno.EIO, "AF_UNIX socketpair lost data")


def only_stdio_open(ctx: Context) -> None:
    """Nothing of the server's (its sockets above all) is inherited."""
    extra = [fd for fd in map(int, os.listdir("/proc/self/fd")) if fd > 2]
    leaked = {
        fd: os.readlink(f"/proc/self/fd/{fd}")
        for fd in extra
        if os.path.exists(f"/proc/self/fd/{fd}")
    }
    if leaked:
        raise OSError(errno.EBADF, f"inherited {leaked}")


def read_workspace(ctx: Context) -> None:
    os.listdir(ctx["workspace"])
    if (Path(ctx["workspace"]) / "readme").read_bytes() != b"original":
        raise OSError(errno.EIO, "readme changed")


def read_outside(ctx: Context) -> None:
    (Path(ctx["outside"]) / "victim-overwrite").read_bytes()


ALLOWED: dict[str, Action] = {
    "write workspace": write_workspace,
    "mkdir workspace": mkdir_workspace,
    "remove in workspace": remove_in_workspace,
    "rename in workspace": rename_in_workspace,
    "chmod workspace": chmod_workspace,
    "write tmp": write_tmp,
    "write /dev/null": write_dev_null,
    "terminal": use_terminal,
    "controlling terminal": use_controlling_terminal,
    "unix socketpair": unix_socketpair,
    "only stdio open": only_stdio_open,
    "read workspace": read_workspace,
    "read outside": read_outside,
}
"""What ``workspace-write`` allows (``read-only`` allows the last four and the
terminal): by the name the test expects it under."""


def run_all(ctx: Context, out: Callable[[str], None]) -> None:
    for name in ctx["actions"]:
        try:
            (ACTIONS.get(name) or ALLOWED.get(name) or PLANTS[name])(ctx)
            record = {"action": name, "ok": True}
        except OSError as error:
            record = {"action": name, "ok": False, "error": f"{error.strerror} ({error.errno})"}
        out(json.dumps(record))


def main() -> int:
    launch, ctx = sys.argv[1], json.loads(sys.argv[2])

    def out(line: str) -> None:
        print(line, flush=True)

    if launch == "direct":
        run_all(ctx, out)
    elif launch == "detached":
        read_end, write_end = os.pipe()
        if os.fork() == 0:
            os.close(read_end)
            os.setsid()
            if os.fork() == 0:
                run_all(ctx, out)
                os._exit(0)  # closes write_end: the waiting parent sees EOF
            os._exit(0)
        os.close(write_end)
        with os.fdopen(read_end, "rb") as pipe:
            pipe.read()
    else:
        raise SystemExit(f"unknown launch {launch!r}")
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
