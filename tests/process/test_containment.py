"""Nothing a managed child starts outlives the server's kill paths (ISSUE 8, point 3).

Direct children die with the server even on ``kill -9`` (the death watch),
and descendants that left the child's process group and session (``setsid``
after a double fork, reparented away from the child) are still found and
killed on ``process/terminate``, on timeout and on server shutdown. The
server runs as ``python -m execsrv serve`` so it can be SIGKILLed for real.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import trio

import execsrv
from execsrv.process import containment as containment_module
from execsrv.process.containment import Containment
from execsrv.process.deathwatch import WATCHER_SCRIPT

from ..servers import open_execsrv
from .support import CHILD_ENV, Collector, children_of, pidfd_of, proc_state, py, wait_dead

# Ignores SIGHUP, so a PTY hangup alone would not end it.
STAYS_UP = """
import signal
signal.signal(signal.SIGHUP, signal.SIG_IGN)
print("ready", flush=True)
while True:
    signal.pause()
"""

# A double fork: the subshell starts `sleep` in a session of its own and exits,
# so the sleep is neither in the child's group nor its descendant any more.
ESCAPES = (
    "(setsid sh -c 'echo $$ started; exec sleep 1000 >/dev/null 2>&1' </dev/null &); "
    "trap '' HUP; exec sleep 1000"
)


async def start_escaper(
    client: execsrv.Client, *, tty: bool, timeout_ms: int | None = None
) -> tuple[execsrv.RemoteProcess, int]:
    """Start the ESCAPES child; it and the pid of its escaped grandchild."""
    proc = await client.start_process(
        ["sh", "-c", ESCAPES], env=CHILD_ENV, tty=tty, timeout_ms=timeout_ms
    )
    seen = Collector(proc)
    await seen.until_output(b"started")
    return proc, int(seen.output.split()[0])


@pytest.mark.parametrize("tty", [False, True], ids=["pipe", "pty"])
async def test_direct_children_die_with_a_sigkilled_server(tty: bool) -> None:
    async with open_execsrv() as server, execsrv.connect(server.url) as client:
        with trio.fail_after(5):
            seen = Collector(await client.start_process(py(STAYS_UP), env=CHILD_ENV, tty=tty))
            await seen.until_output(b"ready")
            (child,) = children_of(server.process.pid)
            with pidfd_of(child) as pidfd:
                server.process.send_signal(signal.SIGKILL)
                await server.process.wait()
                await wait_dead(pidfd)


async def test_escaped_descendants_die_with_a_sigkilled_server() -> None:
    """The death watch kills the child's cgroup, escaped descendants and all."""
    if containment_module._CGROUP_PARENT is None:
        pytest.skip("no writable cgroup v2 here")
    async with open_execsrv() as server, execsrv.connect(server.url) as client:
        with trio.fail_after(5):
            _, grandchild = await start_escaper(client, tty=False)
            with pidfd_of(grandchild) as pidfd:
                server.process.send_signal(signal.SIGKILL)
                await server.process.wait()
                await wait_dead(pidfd)


def watcher_of(server_pid: int) -> int:
    """The server's death watch process."""
    children = [
        int(pid)
        for task in Path(f"/proc/{server_pid}/task").iterdir()
        for pid in (task / "children").read_text().split()
    ]
    (watcher,) = (
        pid
        for pid in children
        if str(WATCHER_SCRIPT).encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    )
    return watcher


async def start_waiter(client: execsrv.Client) -> int:
    """Start a child that waits for signals; its pid."""
    code = "import os, signal\nprint(os.getpid(), flush=True)\nwhile True: signal.pause()"
    seen = Collector(await client.start_process(py(code), env=CHILD_ENV))
    await seen.until_output(b"\n")
    return int(seen.output)


async def test_a_killed_death_watch_is_started_again_with_every_child_listed() -> None:
    async with open_execsrv() as server, execsrv.connect(server.url) as client:
        with trio.fail_after(5):
            first = await start_waiter(client)
            old_watcher = watcher_of(server.process.pid)
            with pidfd_of(old_watcher) as pidfd:
                os.kill(old_watcher, signal.SIGKILL)
                await wait_dead(pidfd)
            second = await start_waiter(client)
            assert watcher_of(server.process.pid) != old_watcher
            with pidfd_of(first) as first_pidfd, pidfd_of(second) as second_pidfd:
                server.process.send_signal(signal.SIGKILL)
                await server.process.wait()
                await wait_dead(first_pidfd)
                await wait_dead(second_pidfd)


# Forks one child as the server does, with cgroups off (as on a host without a
# writable cgroup v2), prints its pid and waits to be killed.
WITHOUT_CGROUPS = """
import sys, trio
from execsrv.process import containment
containment._CGROUP_PARENT = None
from execsrv.process.spawn import spawn_child

async def main():
    child = await spawn_child(
        ["sh", "-c", "trap '' HUP; exec sleep 1000"],  # a hangup alone would not end it
        cwd="/", env={"PATH": "/usr/bin:/bin"}, tty=sys.argv[1] == "pty",
        pipe_stdin=False, arg0=None, pty_rows=24, pty_cols=80,
    )
    print(child.process.pid, child.containment.uses_cgroup, flush=True)
    await trio.sleep_forever()

trio.run(main)
"""


@pytest.mark.parametrize("tty", [False, True], ids=["pipe", "pty"])
async def test_without_cgroups_children_die_with_a_sigkilled_server(tty: bool) -> None:
    server = await trio.lowlevel.open_process(
        [*py(WITHOUT_CGROUPS), "pty" if tty else "pipe"], stdout=subprocess.PIPE
    )
    assert server.stdout is not None
    try:
        with trio.fail_after(5):
            line = b""
            while not line.endswith(b"\n"):
                line += await server.stdout.receive_some()
            pid, uses_cgroup = line.split()
            assert uses_cgroup == b"False"
            with pidfd_of(int(pid)) as pidfd:
                server.kill()
                await server.wait()
                await wait_dead(pidfd)
    finally:
        server.kill()
        await server.wait()
        await server.stdout.aclose()


@pytest.mark.parametrize("tty", [False, True], ids=["pipe", "pty"])
async def test_terminate_kills_descendants_that_left_the_session(tty: bool) -> None:
    async with open_execsrv() as server, execsrv.connect(server.url) as client:
        with trio.fail_after(5):
            proc, grandchild = await start_escaper(client, tty=tty)
            with pidfd_of(grandchild) as pidfd:
                assert os.getsid(grandchild) == grandchild  # it did leave
                assert await proc.terminate() is True
                await wait_dead(pidfd)


async def test_timeout_kills_descendants_that_left_the_session() -> None:
    async with open_execsrv("--kill-grace", "0.2") as server, execsrv.connect(server.url) as client:
        with trio.fail_after(5):
            _, grandchild = await start_escaper(client, tty=False, timeout_ms=300)
            with pidfd_of(grandchild) as pidfd:
                await wait_dead(pidfd)


@pytest.mark.parametrize("tty", [False, True], ids=["pipe", "pty"])
async def test_shutdown_kills_descendants_that_left_the_session(tty: bool) -> None:
    async with open_execsrv("--kill-grace", "0.2") as server:
        async with execsrv.connect(server.url) as client:
            with trio.fail_after(5):
                _, grandchild = await start_escaper(client, tty=tty)
        with pidfd_of(grandchild) as pidfd:
            server.process.send_signal(signal.SIGTERM)
            with trio.fail_after(5):
                assert await server.process.wait() == 0
                await wait_dead(pidfd)


# The grandchild leaves the session while its parent, the child, lives on.
LEAVES_SESSION = (
    "setsid sh -c 'echo $$; exec sleep 1000 >/dev/null' </dev/null & exec sleep 1000 >/dev/null"
)


async def test_the_process_tree_fallback_finds_a_descendant_in_its_own_session() -> None:
    """Without cgroup v2, the kill paths walk /proc: the group, the session and
    everything descending from them."""
    containment = Containment(cgroup=False)
    assert not containment.uses_cgroup
    process = await trio.lowlevel.open_process(
        ["sh", "-c", LEAVES_SESSION], stdout=subprocess.PIPE, start_new_session=True
    )
    containment.adopt(process.pid)
    assert process.stdout is not None
    with trio.fail_after(5):
        grandchild = int(await process.stdout.receive_some())
        pidfd = os.pidfd_open(grandchild)
        try:
            assert os.getsid(grandchild) == grandchild
            assert containment.members() == {process.pid, grandchild}
            await containment.close()
            assert await process.wait() == -signal.SIGKILL
            await wait_dead(pidfd)
        finally:
            os.close(pidfd)
            await process.stdout.aclose()


def leaves_everything(cgroup_procs: str) -> str:
    """A double fork whose orphan also moves itself out of its cgroup (root may)."""
    return (
        f"(setsid sh -c 'echo $$ >{cgroup_procs} 2>/dev/null; echo $$ started; "
        "exec sleep 1000 >/dev/null 2>&1' </dev/null &); exec sleep 1000"
    )


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


async def until(condition: Callable[[], bool]) -> None:
    """Poll, under the caller's deadline: reparenting and reaping send no event."""
    while not condition():  # noqa: ASYNC110 (no event for a kernel state)
        await trio.sleep(0.01)


async def test_the_server_adopts_reaps_and_at_shutdown_kills_orphans(tmp_path: Path) -> None:
    """``execsrv serve`` is its children's subreaper: an orphan that escaped every
    containment is still its child, reaped when it exits and killed at shutdown."""
    parent = containment_module._CGROUP_PARENT
    cgroup_procs = str(parent / "cgroup.procs") if parent else "/dev/null"
    async with open_execsrv("--kill-grace", "0.2") as server:
        server_pid = server.process.pid
        async with execsrv.connect(server.url) as client:
            with trio.fail_after(5):
                orphans = []
                for _ in range(2):
                    argv = ["sh", "-c", leaves_everything(cgroup_procs)]
                    seen = Collector(await client.start_process(argv, env=CHILD_ENV))
                    await seen.until_output(b"started")
                    orphans.append(int(seen.output.split()[0]))
                for orphan in orphans:
                    await until(lambda: parent_of(orphan) == server_pid)  # noqa: B023
                dies_now, outlives = orphans
                os.kill(dies_now, signal.SIGKILL)
                await until(lambda: proc_state(dies_now) is None)  # reaped, not a zombie
        with pidfd_of(outlives) as pidfd:
            server.process.send_signal(signal.SIGTERM)
            with trio.fail_after(5):
                assert await server.process.wait() == 0
                await wait_dead(pidfd)
        assert proc_state(outlives) is None  # the server reaped it before exiting


async def test_a_closed_process_with_nothing_left_holds_no_cgroup() -> None:
    """Retained for reading, but its cgroup is gone: hundreds of short commands
    within the retention time must not pile up cgroups."""
    parent = containment_module._CGROUP_PARENT
    if parent is None:
        pytest.skip("no writable cgroup v2 here")
    async with open_execsrv() as server, execsrv.connect(server.url) as client:
        cgroups = f"execsrv-{server.process.pid}-*"
        with trio.fail_after(5):
            running = await client.start_process(["sleep", "60"], env=CHILD_ENV)
            assert len(list(parent.glob(cgroups))) == 1
            for _ in range(5):
                await Collector(await client.start_process(["true"], env=CHILD_ENV)).finish()
            assert len(await client.list_processes()) == 6
            assert len(list(parent.glob(cgroups))) == 1  # the running one's
            await running.terminate()
            await Collector(running).finish()
            assert list(parent.glob(cgroups)) == []
