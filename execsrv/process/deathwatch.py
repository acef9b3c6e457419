"""Children die with the server, even on ``kill -9``.

A small process, the *watcher* (:mod:`._watcher`), holds the read end of a
pipe whose only write end is the server's. When the server's process ends,
however it ends, the kernel closes that end and the watcher reads EOF: it
then SIGKILLs the cgroups of this server's children and the process group of
every child still listed, and exits. The server lists each child as it is
forked (``+pid``) and unlists it once nothing it contains is left (``-pid``).

This replaces asking each child for ``PR_SET_PDEATHSIG`` between fork and
exec, which needs ``preexec_fn`` and so a full ``fork`` of the server (its
cost grows with the server's memory: 2 ms at 40 MB, 11 ms at 300 MB) where
``subprocess`` otherwise uses ``vfork`` (0.2 ms).

Only the fork thread starts the watcher (it forks); :meth:`DeathWatch.forget`
may be called from any thread. Writes never block: the pipe end is
non-blocking and a line that does not fit is dropped with a warning.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Final

__all__ = ["DeathWatch"]

log = logging.getLogger("execsrv.process")

WATCHER_SCRIPT: Final = Path(__file__).with_name("_watcher.py")


class DeathWatch:
    """The server's watcher; see the module docstring."""

    def __init__(self, cgroup_parent: Path | None, cgroup_prefix: str) -> None:
        self._cgroup_args = [str(cgroup_parent or ""), cgroup_prefix]
        self._lock = threading.Lock()
        self._pipe: int | None = None
        self.watcher: subprocess.Popen[bytes] | None = None
        """The watcher process, once started (the fork thread keeps it out of the reaper's way)."""
        self._leaders: set[int] = set()
        """Listed children, sent again to a restarted watcher."""
        self._warned = False

    def watch(self, leader: int) -> None:
        """List a child just forked; starts the watcher (again) if it is not running.
        Call on the fork thread only. Never raises: the child is forked already."""
        with self._lock:
            self._leaders.add(leader)
            if self._pipe is None or not self._send(b"+%d\n" % leader):
                try:
                    self._restart()
                except OSError as error:  # e.g. out of descriptors: the next spawn retries
                    self._warn(f"cannot start the death watch: {error}")

    def forget(self, leader: int) -> None:
        """Unlist a child: nothing it contained is left, and its pid may be reused."""
        with self._lock:
            if leader in self._leaders:
                self._leaders.discard(leader)
                if self._pipe is not None:
                    self._send(b"-%d\n" % leader)

    def _send(self, line: bytes) -> bool:
        """False if the watcher has gone (a broken pipe)."""
        assert self._pipe is not None
        try:
            os.write(self._pipe, line)
        except BlockingIOError:
            self._warn("the death watch is not reading; a child may outlive a killed server")
        except BrokenPipeError:
            return False
        return True

    def _restart(self) -> None:
        if self._pipe is not None:
            os.close(self._pipe)
            self._pipe = None
            self._warn("the death watch process ended; starting it again")
        if self.watcher is not None:
            self.watcher.kill()  # it has closed its end: ending or gone
            self.watcher.wait()
            self.watcher = None
        read_end, write_end = os.pipe2(os.O_CLOEXEC)
        try:
            self.watcher = subprocess.Popen(
                [sys.executable, "-I", "-S", str(WATCHER_SCRIPT), *self._cgroup_args],
                stdin=read_end,
                stdout=subprocess.DEVNULL,
                start_new_session=True,  # no terminal signal reaches it
            )
        except BaseException:
            os.close(write_end)
            raise
        finally:
            os.close(read_end)
        os.set_blocking(write_end, False)
        self._pipe = write_end
        for leader in self._leaders:
            self._send(b"+%d\n" % leader)

    def _warn(self, message: str) -> None:
        if not self._warned:  # once: a child that may outlive a killed server is not news
            self._warned = True
            log.warning(message)
