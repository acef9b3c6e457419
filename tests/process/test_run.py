"""``ManagedProcess.run``: a process is born inside the nursery that supervises it.

``nursery.start(ManagedProcess.run, ...)`` returns the process right after the
spawn; a spawn error reaches the starter, and cancelling the starter before the
hand-over cancels the spawn (the forked child is killed and reaped).
"""

from __future__ import annotations

import os
from functools import partial

import pytest
import trio

from execsrv.process import ManagedProcess, ProcessEvent, ProcessLimits, ProcessSpec, SpawnFailed

from .support import CHILD_ENV


async def _sink(event: ProcessEvent) -> bool:
    return False


def _run(argv: list[str], forgotten: list[ManagedProcess]) -> partial[object]:
    return partial(
        ManagedProcess.run,
        ProcessSpec("p1", argv, "/", CHILD_ENV),
        sink=_sink,
        limits=ProcessLimits(exited_retention_seconds=0, kill_grace_seconds=0.5),
        forget=forgotten.append,
    )


async def test_the_started_process_is_supervised_then_forgets_itself() -> None:
    forgotten: list[ManagedProcess] = []
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            managed = await nursery.start(_run(["true"], forgotten))
            assert isinstance(managed, ManagedProcess)
        # the nursery waited for the supervisor: closed, reaped, forgotten
    assert forgotten == [managed]
    assert managed.closed
    assert managed.exit_code == 0


async def test_a_spawn_error_reaches_the_starter() -> None:
    forgotten: list[ManagedProcess] = []
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            with pytest.raises(SpawnFailed) as caught:
                await nursery.start(_run(["/nonexistent/program"], forgotten))
            assert not nursery.child_tasks
    assert str(caught.value) == "No such file or directory (os error 2)"
    assert forgotten == []


async def test_cancelling_the_starter_before_the_hand_over_reaps_the_child() -> None:
    """The fork is not cancellable; a starter cancelled meanwhile gets Cancelled and
    the child it would have been handed is killed and reaped, never supervised."""
    forgotten: list[ManagedProcess] = []
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            with trio.CancelScope() as request:
                request.cancel()
                await nursery.start(_run(["sleep", "60"], forgotten))
            assert request.cancelled_caught
            assert not nursery.child_tasks
    [managed] = forgotten
    with pytest.raises(ProcessLookupError):  # reaped, not merely dead
        os.kill(managed.pid, 0)
