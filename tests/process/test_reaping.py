"""No zombies, no orphans (DESIGN.md §6), checked from outside a server subprocess.

The server runs as ``python -m execsrv serve`` so /proc shows exactly its own
children, and so it can be stopped with real signals (two-phase shutdown,
DESIGN.md §2: stop accepting, TERM every group, the grace, then KILL).
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
import trio

import execsrv

from ..servers import open_execsrv
from .support import CHILD_ENV, Collector, children_of, py, wait_dead

GRACE = 0.5


async def test_no_zombies_after_many_processes_end_in_every_way() -> None:
    async with (
        open_execsrv("--kill-grace", str(GRACE)) as server,
        execsrv.connect(server.url) as client,
    ):

        async def run(
            argv: list[str], end: str = "", tty: bool = False, timeout_ms: int | None = None
        ) -> None:
            proc = await client.start_process(argv, env=CHILD_ENV, tty=tty, timeout_ms=timeout_ms)
            seen = Collector(proc)
            if end == "terminate":
                await proc.terminate()
            elif end == "signal":
                await proc.signal("kill")
            await seen.finish()

        with trio.fail_after(30):
            async with trio.open_nursery() as nursery:
                for _ in range(20):
                    nursery.start_soon(run, ["true"])
                    nursery.start_soon(run, ["sh", "-c", "exit 7"])
                for _ in range(8):
                    nursery.start_soon(run, ["sleep", "60"], "terminate")
                    nursery.start_soon(run, ["sleep", "60"], "signal")
                    nursery.start_soon(run, ["sleep", "60"], "", False, 100)
                    nursery.start_soon(run, ["sh", "-c", "kill -SEGV $$"])
                    nursery.start_soon(run, ["true"], "", True)
                    nursery.start_soon(run, ["sleep", "60"], "terminate", True)
                    # The leader exits while its background child holds the pipes.
                    nursery.start_soon(run, ["sh", "-c", "sleep 0.1 & exit 0"])
        # Every `closed` came after its child was reaped: nothing is left at all.
        assert children_of(server.process.pid) == {}
        assert len(await client.list_processes()) == 20 * 2 + 8 * 7


async def test_closed_processes_hold_no_descriptors_while_retained() -> None:
    """A closed process stays readable for the retention time (30 s by default), but
    its pipes and PTY are at EOF: holding them would exhaust the fd limit."""
    async with (
        open_execsrv() as server,
        execsrv.connect(server.url) as client,
    ):
        fds = Path(f"/proc/{server.process.pid}/fd")
        baseline = len(os.listdir(fds))
        with trio.fail_after(20):
            running = await client.start_process(["sleep", "60"], env=CHILD_ENV, pipe_stdin=True)
            assert len(os.listdir(fds)) >= baseline + 3  # stdin, stdout, stderr
            await running.terminate()
            await Collector(running).finish()
            for index in range(30):
                for tty in (False, True):
                    proc = await client.start_process(
                        ["echo", str(index)], env=CHILD_ENV, tty=tty, pipe_stdin=not tty
                    )
                    await Collector(proc).finish()
        assert len(await client.list_processes()) == 61  # all still retained
        # Opened once, at the first spawn: the death watch's pipe and the server's
        # own cgroup.procs (to step back out of a child's cgroup).
        # A /proc file open now is a scan in progress (the reaper listing the server's
        # threads and their children after a SIGCHLD): transient, never held.
        held = {name: _target(fds / name) for name in os.listdir(fds)}
        held = {name: target for name, target in held.items() if target is not None}
        held = {name: target for name, target in held.items() if not target.startswith("/proc/")}
        assert len(held) <= baseline + 2, sorted(held.items())


def _target(fd: Path) -> str | None:
    """What an open descriptor refers to (None if it closed meanwhile)."""
    try:
        return os.readlink(fd)
    except FileNotFoundError:
        return None


# Writes a marker when SIGTERM comes, then carries on until SIGKILL.
STUBBORN = """
import os, signal, sys
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
os.write(1, b"ready\\n")
signal.sigwaitinfo({signal.SIGTERM})
open(sys.argv[1], "w").close()
while True:
    signal.pause()
"""

SPAWNER = "sleep 60 >/dev/null 2>&1 & echo $!; echo started; wait"


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_server_shutdown_kills_every_child_two_phase(
    stop: signal.Signals, tmp_path: Path
) -> None:
    marker = tmp_path / "got-term"
    async with open_execsrv("--shutdown-grace", str(GRACE)) as server:
        server_pid = server.process.pid
        pids: list[int] = []
        async with execsrv.connect(server.url) as client:
            with trio.fail_after(10):
                for tty in (False, True):
                    await client.start_process(["sleep", "60"], env=CHILD_ENV, tty=tty)
                spawner = Collector(
                    await client.start_process(["sh", "-c", SPAWNER], env=CHILD_ENV)
                )
                await spawner.until_output(b"started\n")
                pids.append(int(spawner.output.split()[0]))  # the grandchild
                stubborn = Collector(
                    await client.start_process([*py(STUBBORN), str(marker)], env=CHILD_ENV)
                )
                await stubborn.until_output(b"ready\n")
                children = children_of(server_pid)
                assert len(children) == 4
                assert set(children.values()) <= {"S", "R"}
                pids += children
            pidfds = [os.pidfd_open(pid) for pid in pids]
            try:
                began = trio.current_time()
                server.process.send_signal(stop)
                with trio.fail_after(10):
                    assert await server.process.wait() == 0
                    elapsed = trio.current_time() - began
                    for pidfd in pidfds:
                        await wait_dead(pidfd)
            finally:
                for pidfd in pidfds:
                    os.close(pidfd)
    # Phase two: the stubborn child got TERM first and was killed only at the
    # shutdown grace's end; the others exited on TERM.
    assert marker.exists()
    assert elapsed >= GRACE
    assert elapsed < GRACE + 5
