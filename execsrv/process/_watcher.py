"""The death watch's process (see :mod:`.deathwatch`): ``python -I -S _watcher.py
CGROUP_PARENT PREFIX``, standard library only, so it starts fast and small.

Reads ``+<pid>`` / ``-<pid>`` lines on stdin (children started / ended). At
EOF, which the kernel delivers when the server's process ends however it ends,
it SIGKILLs every cgroup ``CGROUP_PARENT/PREFIX*`` and the process group of
every pid still listed, removes those cgroups once empty, and exits.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time

EMPTY_WAIT_SECONDS = 1.0


def _listed_until_eof() -> set[int]:
    leaders: set[int] = set()
    pending = b""
    while chunk := os.read(0, 4096):
        *lines, pending = (pending + chunk).split(b"\n")
        for line in lines:
            if line[:1] == b"+":
                leaders.add(int(line[1:]))
            elif line[:1] == b"-":
                leaders.discard(int(line[1:]))
    return leaders


def main() -> None:
    cgroup_parent, prefix = sys.argv[1], sys.argv[2]
    leaders = _listed_until_eof()
    cgroups = []
    if cgroup_parent:
        with contextlib.suppress(OSError):
            cgroups = [
                os.path.join(cgroup_parent, name)
                for name in os.listdir(cgroup_parent)
                if name.startswith(prefix)
            ]
    for cgroup in cgroups:
        with contextlib.suppress(OSError), open(os.path.join(cgroup, "cgroup.kill"), "w") as kill:
            kill.write("1")
    for leader in leaders:
        with contextlib.suppress(OSError):
            os.killpg(leader, signal.SIGKILL)
    deadline = time.monotonic() + EMPTY_WAIT_SECONDS
    while cgroups and time.monotonic() < deadline:
        for cgroup in list(cgroups):
            try:
                os.rmdir(cgroup)
            except FileNotFoundError:
                pass
            except OSError:
                continue  # EBUSY: still emptying
            cgroups.remove(cgroup)
        time.sleep(0.01)


if __name__ == "__main__":
    main()
