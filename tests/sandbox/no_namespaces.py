"""Run a command where ``unshare`` is refused, as in a container under Docker's
default seccomp profile: ``python no_namespaces.py PROGRAM ARGS...``.

A seccomp filter (inherited by everything the command starts) answers every
``unshare`` with EPERM; all else is allowed. tests/sandbox/test_hostile_commands.py
runs a server under it, so its sandbox must do without a mount namespace.
"""

from __future__ import annotations

import ctypes
import os
import struct
import sys

PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
AUDIT_ARCH_X86_64 = 0xC000003E
SYS_UNSHARE = 272
EPERM = 1

BPF_LD_W_ABS = 0x20
BPF_JEQ_K = 0x15
BPF_RET_K = 0x06
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_KILL_PROCESS = 0x80000000


def _instruction(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def deny_unshare() -> None:
    program = b"".join(
        [
            _instruction(BPF_LD_W_ABS, 0, 0, 4),  # seccomp_data.arch
            _instruction(BPF_JEQ_K, 1, 0, AUDIT_ARCH_X86_64),
            _instruction(BPF_RET_K, 0, 0, SECCOMP_RET_KILL_PROCESS),
            _instruction(BPF_LD_W_ABS, 0, 0, 0),  # seccomp_data.nr
            _instruction(BPF_JEQ_K, 0, 1, SYS_UNSHARE),
            _instruction(BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | EPERM),
            _instruction(BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW),
        ]
    )
    filters = ctypes.create_string_buffer(program, len(program))
    fprog = struct.pack("=HxxxxxxQ", len(program) // 8, ctypes.addressof(filters))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.c_char_p(fprog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP)")


if __name__ == "__main__":
    deny_unshare()
    os.execv(sys.argv[1], sys.argv[1:])
