"""A fleet on one machine: several ``execsrv serve`` processes on their own loopback
addresses, a batch of jobs placed least-loaded over them with the client, and one
server drained (SIGTERM, ``--drain-timeout``) mid-batch.

What an orchestrator relies on: the drained server's ``/readyz`` turns 503 before it
stops accepting, the jobs it runs finish, new jobs go elsewhere, no job is lost or run
twice (each run leaves a marker file named after the job and its shell's pid), and it
exits 0. Bounded: 4 servers, 40 jobs of 0.4 s, 8 at a time (a few seconds).
"""

from __future__ import annotations

import os
import signal
from collections import Counter
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import h11
import pytest
import trio

import execsrv
from execsrv.changed import Changed

from ..conftest import CHILD_ENV
from ..servers import RunningServer, open_execsrv
from .support import get

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="the fleet test runs as root only (as in CI)"
)

SERVERS: Final = 4
JOBS: Final = 40
WORKERS: Final = 8
JOB_SECONDS: Final = 0.4
DRAIN_AFTER_JOBS: Final = 10
"""Jobs done before one server is drained: mid-batch."""
PROBE_EVERY: Final = 0.02
"""Seconds between two probes of one server (an orchestrator's probe period, shortened)."""
JOB_QUEUE_SIZE: Final = JOBS
"""Every job fits in the queue, as do the ones put back after a refusal."""
JUST_STARTED: Final = 0.05
"""Seconds: a job started this recently still runs for most of JOB_SECONDS."""
DRAIN_TIMEOUT: Final = 10.0
BATCH_SECONDS: Final = 30.0
"""Upper bound of the whole batch (it takes a few)."""


@dataclass
class Executor:
    """One server of the fleet, as the pool sees it."""

    server: RunningServer
    ready: bool = False
    in_flight: int = 0
    seen: list[int | str] = field(default_factory=list)
    """What each probe saw: an HTTP status, or ``refused``; repeats left out."""


@dataclass
class Run:
    job: str
    executor: int
    requested_at: float
    """When the worker began connecting for it (trio clock)."""
    started_at: float | None = None
    """When its ``process/start`` was answered."""
    exit_code: int | None = None


@dataclass
class Batch:
    executors: list[Executor]
    marker_dir: Path
    changed: Changed = field(default_factory=Changed)
    done: list[Run] = field(default_factory=list)
    refused: list[tuple[str, int, str]] = field(default_factory=list)
    """Placements the server refused (job, executor, why); the job was placed again."""
    failures: list[str] = field(default_factory=list)
    started_on: dict[int, list[Run]] = field(default_factory=dict)
    """Per executor, the runs whose ``process/start`` was answered and not done yet."""

    def least_loaded(self) -> int | None:
        ready = [i for i, executor in enumerate(self.executors) if executor.ready]
        return min(ready, key=lambda i: self.executors[i].in_flight, default=None)


async def probe(batch: Batch, index: int) -> None:
    """Probe one server's ``/readyz`` forever; place on it only while it answers 200."""
    executor = batch.executors[index]
    while True:
        seen: int | str | None
        try:
            seen = (await get(executor.server.url, "/readyz")).status
        except OSError:
            seen = "refused"
        except (h11.RemoteProtocolError, trio.BrokenResourceError):
            seen = None  # accepted, then closed unanswered as the listener shut: no state
        if seen is not None and (not executor.seen or executor.seen[-1] != seen):
            executor.seen.append(seen)
            executor.ready = seen == 200
            batch.changed.notify()
        await trio.sleep(PROBE_EVERY)


async def run_job(batch: Batch, job: str) -> bool:
    """Place and run ``job`` once; False if the server refused it before it could run
    (the caller places it again). Anything else that goes wrong is a test failure."""
    while (index := batch.least_loaded()) is None:
        await batch.changed.wait()
    executor = batch.executors[index]
    run = Run(job, index, trio.current_time())
    executor.in_flight += 1
    phase = "connect"
    try:
        async with execsrv.connect(executor.server.url, client_name=job) as client:
            phase = "start"
            command = f"sleep {JOB_SECONDS}; : > {batch.marker_dir}/{job}.$$"
            process = await client.start_process(["sh", "-c", command], env=CHILD_ENV)
            phase = "run"
            run.started_at = trio.current_time()
            batch.started_on.setdefault(index, []).append(run)
            batch.changed.notify()
            result = await process.communicate()
            run.exit_code = result.exit_code
            batch.started_on[index].remove(run)
    except execsrv.ClientError as error:
        # Refused at initialize (draining) or at process/start, or nothing listens any
        # more: the job did not run. A drop after the start was sent: it may have.
        refused = isinstance(error, execsrv.RemoteError) and phase != "run"
        if refused or phase == "connect":
            batch.refused.append((job, index, str(error)))
            return False
        batch.failures.append(f"{job} on {index} ({phase}): {error!r}")
    else:
        batch.done.append(run)
    finally:
        executor.in_flight -= 1
        batch.changed.notify()
    return True


async def worker(
    batch: Batch, jobs: trio.MemoryReceiveChannel[str], again: trio.MemorySendChannel[str]
) -> None:
    async for job in jobs:
        if not await run_job(batch, job):
            again.send_nowait(job)


async def test_a_drained_server_finishes_its_jobs_and_loses_none(tmp_path: Path) -> None:
    victim = 0
    async with AsyncExitStack() as stack:
        servers = [
            await stack.enter_async_context(
                open_execsrv(
                    *("--listen", f"ws://127.0.1.{i + 1}:0"),
                    *("--drain-timeout", str(DRAIN_TIMEOUT), "--kill-grace", "0.5"),
                )
            )
            for i in range(SERVERS)
        ]
        batch = Batch([Executor(server) for server in servers], tmp_path)
        send_job, receive_job = trio.open_memory_channel[str](JOB_QUEUE_SIZE)
        for n in range(JOBS):
            send_job.send_nowait(f"job-{n:02d}")
        with trio.fail_after(BATCH_SECONDS):
            async with trio.open_nursery() as probes:
                for index in range(SERVERS):
                    probes.start_soon(probe, batch, index)
                async with trio.open_nursery() as work:
                    for _ in range(WORKERS):
                        work.start_soon(worker, batch, receive_job.clone(), send_job)

                    # Mid-batch, as a job has just started on the victim: SIGTERM it
                    # (the drain then lasts about JOB_SECONDS).
                    def time_to_drain() -> bool:
                        now = trio.current_time()
                        return len(batch.done) >= DRAIN_AFTER_JOBS and any(
                            run.started_at is not None and now - run.started_at < JUST_STARTED
                            for run in batch.started_on.get(victim, [])
                        )

                    await batch.changed.wait_until(time_to_drain)
                    running_at_sigterm = [run.job for run in batch.started_on[victim]]
                    sigterm_at = trio.current_time()
                    servers[victim].process.send_signal(signal.SIGTERM)
                    status = await servers[victim].process.wait()
                    drain_took = trio.current_time() - sigterm_at
                    await batch.changed.wait_until(
                        lambda: len(batch.done) + len(batch.failures) == JOBS
                    )
                    send_job.close()  # the workers end
                await batch.changed.wait_until(lambda: batch.executors[victim].ready is False)
                while batch.executors[victim].seen[-1] != "refused":
                    await batch.changed.wait()
                probes.cancel_scope.cancel()
    markers = Counter(
        name.split(".")[0] for name in await trio.to_thread.run_sync(os.listdir, tmp_path)
    )

    assert batch.failures == [], batch.refused
    assert status == 0, servers[victim].stderr_text()  # the drain ended clean ...
    assert drain_took < DRAIN_TIMEOUT  # ... before its deadline
    # readyz turned 503 while the victim still listened, and never back to 200.
    assert batch.executors[victim].seen == [200, 503, "refused"]
    # The jobs it ran at SIGTERM finished, there.
    assert running_at_sigterm
    finished = {run.job: run for run in batch.done}
    for job in running_at_sigterm:
        assert (finished[job].executor, finished[job].exit_code) == (victim, 0)
    # Every job ran exactly once, and succeeded; those after SIGTERM ran elsewhere.
    assert sorted(finished) == [f"job-{n:02d}" for n in range(JOBS)]
    assert all(run.exit_code == 0 for run in batch.done)
    assert markers == Counter(dict.fromkeys(finished, 1))
    later = {run.executor for run in batch.done if run.requested_at > sigterm_at}
    assert later - {victim}
