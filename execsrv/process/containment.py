"""Find every descendant of a managed child, even those that left its group.

A child runs in its own session and process group, so ``killpg`` reaches
what it starts, until a descendant calls ``setsid()`` (or is double-forked
into a new session): from then on only its ancestry links it to the child,
and that link breaks when an intermediate parent exits. Two ways to keep it:

* **cgroup v2** (where the server may create cgroups: root in most
  containers, or a delegated subtree): each child joins a cgroup of its own
  before ``exec``, every descendant inherits it, and no ``setsid`` or
  reparenting leaves it. ``cgroup.kill`` kills all of it at once.
* **Fallback, the process tree**: at kill time, everything whose process
  group or session is the child's (the kernel does not reuse a pid while it
  names a live group or session) and everything descending from those or from
  the still-unreaped child. A descendant that started its own session *and*
  whose parent chain to the child has already broken is not found this way.

A :class:`Containment` is made before the spawn and forks the child
(:meth:`Containment.fork_inside`): the server's process steps into the
child's cgroup for the fork and back out, so the child is born there and
``subprocess`` may still use ``vfork`` (no ``preexec_fn``). After the spawn
a child that did not land in its cgroup is contained by the fallback.

Either way the child is listed with the :mod:`.deathwatch`, so it and its
cgroup are killed when the server's process dies, even on ``kill -9``.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Final

import trio

from .deathwatch import DeathWatch

__all__ = ["Containment", "Leftovers", "death_watcher"]

log = logging.getLogger("execsrv.process")

_EMPTY_WAIT_SECONDS: Final = 1.0
"""How long a killed cgroup may take to empty before its directory is left behind."""

_unit_numbers = itertools.count(1)
_swept = False


def _own_cgroup_dir() -> Path | None:
    """Our cgroup v2 directory, if it is mounted and we may create cgroups in it."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
        mounts = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return None
    ours = next((line[3:] for line in lines if line.startswith("0::")), None)
    for mount in mounts:
        fields, _, after = mount.partition(" - ")
        if ours is None or not after.startswith("cgroup2 "):
            continue
        root, mount_point = fields.split()[3:5]
        if root != "/" and not (ours + "/").startswith(root.rstrip("/") + "/"):
            continue
        directory = Path(mount_point) / ours.removeprefix(root).lstrip("/")
        if (directory / "cgroup.procs").exists() and os.access(directory, os.W_OK):
            return directory
    return None


_CGROUP_PARENT: Final = _own_cgroup_dir()
"""The server's own cgroup (as it was at import), where child cgroups are made."""

_home_procs_fd: int | None = None
_death_watch: DeathWatch | None = None


def _the_death_watch() -> DeathWatch:
    global _death_watch
    if _death_watch is None:
        _death_watch = DeathWatch(_CGROUP_PARENT, f"execsrv-{os.getpid()}-")
    return _death_watch


def death_watcher() -> subprocess.Popen[bytes] | None:
    """The death watch's process, once a child has been forked (it is not an orphan)."""
    return None if _death_watch is None else _death_watch.watcher


def _move_home() -> None:
    """Move this process back into :data:`_CGROUP_PARENT`."""
    global _home_procs_fd
    assert _CGROUP_PARENT is not None
    if _home_procs_fd is None:
        _home_procs_fd = os.open(_CGROUP_PARENT / "cgroup.procs", os.O_WRONLY | os.O_CLOEXEC)
    os.write(_home_procs_fd, b"0")


class Containment:
    """Everything one managed child started; see the module docstring.

    :meth:`signal` and :meth:`close` never raise for processes that are gone.
    """

    def __init__(self, *, cgroup: bool = True) -> None:
        """``cgroup=False``: the process tree only, as on a host without cgroup v2."""
        self._cgroup: Path | None = None
        self._procs_fd: int | None = None
        self._leader: int | None = None
        if cgroup and _CGROUP_PARENT is not None:
            _sweep_once(_CGROUP_PARENT)
            path = _CGROUP_PARENT / f"execsrv-{os.getpid()}-{next(_unit_numbers)}"
            try:
                path.mkdir()
                self._procs_fd = os.open(path / "cgroup.procs", os.O_WRONLY | os.O_CLOEXEC)
            except OSError as error:
                log.debug("no cgroup for a child: %s", error)
                with contextlib.suppress(OSError):
                    path.rmdir()
            else:
                self._cgroup = path

    def fork_inside(self, fork: Callable[[], subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
        """``fork()``, with this process in the cgroup meanwhile so the child is born
        in it; then list the child with the death watch. Call on the fork thread
        (one fork at a time). Raises what ``fork`` raises, or ``OSError`` if this
        process cannot leave the cgroup again (the child is then killed and reaped).
        """
        inside = False
        if self._procs_fd is not None:
            try:
                os.write(self._procs_fd, b"0")
                inside = True
            except OSError as error:  # e.g. controllers enabled: the fallback contains it
                log.debug("cannot fork inside cgroup %s: %s", self._cgroup, error)
        try:
            child = fork()
        finally:
            if inside:
                self._leave()
        _the_death_watch().watch(child.pid)
        return child

    def _leave(self) -> None:
        try:
            _move_home()
        except OSError as error:
            # Never kill this cgroup while we are in it: it is no longer ours to use.
            log.error("cannot move back out of cgroup %s: %s", self._cgroup, error)
            self._cgroup = None
            raise

    @property
    def uses_cgroup(self) -> bool:
        return self._cgroup is not None

    def adopt(self, leader: int) -> None:
        """After the spawn: remember the child; keep the cgroup only if it landed there."""
        self._leader = leader
        self._close_procs_fd()
        if self._cgroup is None:
            return
        try:  # the child is unreaped, so /proc still knows it even if it exited
            lines = Path(f"/proc/{leader}/cgroup").read_text().splitlines()
        except OSError:
            lines = []
        if not any(
            line.startswith("0::") and line.endswith(f"/{self._cgroup.name}") for line in lines
        ):
            log.debug("child %d is not in its cgroup; using the process tree", leader)
            self._remove_cgroup()

    def release_if_empty(self) -> None:
        """Remove the cgroup now if nothing is left in it (nothing can enter it
        again); a cgroup per closed process kept for the retention time adds up."""
        if self._cgroup is not None and not self.members():
            self._remove_cgroup()
            self._unlist()  # nothing left to find: no process-tree walk either

    def abandon(self) -> None:
        """The spawn failed: release what :meth:`__init__` made."""
        self._close_procs_fd()
        self._remove_cgroup()

    def members(self) -> set[int]:
        """Every live process contained, the child included while it runs."""
        if self._cgroup is not None:
            try:
                text = (self._cgroup / "cgroup.procs").read_text()
            except OSError:
                return set()
            return {int(pid) for pid in text.split()}
        if self._leader is None:
            return set()
        return _tree_members(self._leader)

    def signal(self, sig: int, *, besides_group: int | None = None) -> None:
        """Send ``sig`` to every member (SIGKILL through ``cgroup.kill`` when it can).

        ``besides_group``: skip the members of that process group (the caller
        signalled it already; a second SIGTERM is not the same as one).
        """
        if sig == signal.SIGKILL and self._cgroup is not None:
            try:
                (self._cgroup / "cgroup.kill").write_text("1")
                return
            except OSError:
                pass  # kernels before 5.14: one by one
        for pid in self.members():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                if besides_group is None or os.getpgid(pid) != besides_group:
                    os.kill(pid, sig)

    async def close(self) -> None:
        """SIGKILL every member and remove the cgroup once it is empty.

        Waits (on pidfds) at most :data:`_EMPTY_WAIT_SECONDS`: killed processes
        exit in microseconds, and zombies do not keep a cgroup populated. Safe
        to call again and from a shielded scope.
        """
        self.signal(signal.SIGKILL)
        if self._cgroup is not None:
            with trio.move_on_after(_EMPTY_WAIT_SECONDS):
                await self.wait_empty()
            self._remove_cgroup()
        self._unlist()

    async def wait_empty(self) -> None:
        """Until no member is left (zombies do not count)."""
        while members := self.members():  # more if one forked meanwhile
            for pid in members:
                await _wait_exited(pid)

    def _unlist(self) -> None:
        if self._leader is not None:
            _the_death_watch().forget(self._leader)
            self._leader = None

    def _close_procs_fd(self) -> None:
        if self._procs_fd is not None:
            os.close(self._procs_fd)
            self._procs_fd = None

    def _remove_cgroup(self) -> None:
        if self._cgroup is None:
            return
        try:
            self._cgroup.rmdir()
        except OSError as error:
            log.warning("could not remove cgroup %s: %s", self._cgroup, error)
        self._cgroup = None


class Leftovers:
    """What exited processes left running, kept until their owner ends.

    A command that exits on its own may leave a daemon behind (``nohup
    server &``): it may run as long as the session (or LocalBackend) that
    started it, no longer. The owner runs :meth:`hold` in its nursery.
    """

    def __init__(self, kill_grace_seconds: float) -> None:
        self._kill_grace = kill_grace_seconds
        self._kept: list[Containment] = []
        self._closed = False

    async def keep(self, containment: Containment) -> None:
        """Take over ``containment`` (its cgroup is removed at once if it is empty)."""
        self._kept.append(containment)
        if self._closed:
            await self._close_all()
            return
        for kept in [c for c in self._kept if not c.members()]:
            self._kept.remove(kept)
            await kept.close()

    async def hold(self) -> None:
        """Until cancelled; then end everything kept (shielded): SIGTERM, the
        grace period, then SIGKILL."""
        try:
            await trio.sleep_forever()
        finally:
            self._closed = True
            with trio.CancelScope(shield=True):
                for kept in self._kept:
                    kept.signal(signal.SIGTERM)
                with trio.move_on_after(self._kill_grace):
                    for kept in self._kept:
                        await kept.wait_empty()
                await self._close_all()

    async def _close_all(self) -> None:
        while self._kept:
            await self._kept.pop().close()


def _sweep_once(parent: Path) -> None:
    """Kill and remove the cgroups of servers that died without cleaning up (kill -9):
    the descendants that escaped them are ended by the next server to start."""
    global _swept
    if _swept:
        return
    _swept = True
    for path in parent.glob("execsrv-*-*"):
        owner = path.name.split("-")[1]
        if not owner.isdigit() or int(owner) == os.getpid() or _alive(int(owner)):
            continue
        with contextlib.suppress(OSError):
            (path / "cgroup.kill").write_text("1")
            path.rmdir()  # EBUSY until the killed have exited: the next start retries


async def _wait_exited(pid: int) -> None:
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        await trio.lowlevel.wait_readable(pidfd)
    finally:
        os.close(pidfd)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def _tree_members(leader: int) -> set[int]:
    """The fallback: the group and session named by ``leader`` (the child, while
    it lives, is in both), and everything descending from their members."""
    parents: dict[int, int] = {}
    members: set[int] = set()
    try:
        entries = os.listdir("/proc")
    except OSError as error:  # out of descriptors: the caller's signal to the group must do
        log.warning("cannot walk /proc for a child's descendants: %s", error)
        return members
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        pid = int(entry)
        if fields[0] in (b"Z", b"X"):
            continue
        parents[pid] = int(fields[1])
        if leader in (int(fields[2]), int(fields[3])):
            members.add(pid)
    grew = True
    while grew:
        found = {pid for pid, parent in parents.items() if parent in members} - members
        members |= found
        grew = bool(found)
    return members
