"""Signals and killing: ``process/signal`` and ``timeoutMs`` (extensions), and
``process/terminate`` taking the whole process group with it (spec §4.6, DESIGN.md §1.2)."""

from __future__ import annotations

import os
import signal

import pytest
import trio

import execsrv
from execsrv.protocol import process as p
from execsrv.protocol.methods import PROCESS_SIGNAL

from ..conftest import TEST_CONFIG
from .support import CHILD_ENV, Collector, is_dead, py, wait_dead

CATCHABLE = {
    "interrupt": signal.SIGINT,
    "terminate": signal.SIGTERM,
    "hangup": signal.SIGHUP,
    "quit": signal.SIGQUIT,
    "user1": signal.SIGUSR1,
    "user2": signal.SIGUSR2,
}

# A parent and a forked child in the same process group each report every signal
# they receive. Signals are blocked and taken with sigwaitinfo: none can be missed.
REPORTERS = f"""
import os, signal
wanted = {{{", ".join(f"signal.{s.name}" for s in CATCHABLE.values())}}}
signal.pthread_sigmask(signal.SIG_BLOCK, wanted)
who = "child" if os.fork() == 0 else "parent"
os.write(1, f"ready {{who}} {{os.getpid()}}\\n".encode())
while True:
    info = signal.sigwaitinfo(wanted)
    os.write(1, f"{{who}} {{signal.Signals(info.si_signo).name}}\\n".encode())
"""


def _pids(output: bytes) -> dict[str, int]:
    """``ready WHO PID`` lines → {WHO: PID}."""
    pids = {}
    for line in output.decode().splitlines():
        if line.startswith("ready "):
            _, who, pid = line.split()
            pids[who] = int(pid)
    return pids


async def test_signals_reach_the_whole_process_group(client: execsrv.Client) -> None:
    with trio.fail_after(15):
        proc = await client.start_process(py(REPORTERS), env=CHILD_ENV)
        seen = Collector(proc)
        await seen.until(lambda c: len(_pids(c.output)) == 2)
        pidfds = {who: os.pidfd_open(pid) for who, pid in _pids(seen.output).items()}
        try:
            for name, number in CATCHABLE.items():
                await proc.signal(name)  # type: ignore[arg-type]
                lines = [f"parent {number.name}\n".encode(), f"child {number.name}\n".encode()]
                await seen.until(lambda c, lines=lines: all(x in c.output for x in lines))
            for number in CATCHABLE.values():
                for who in ("parent", "child"):
                    assert seen.output.count(f"{who} {number.name}\n".encode()) == 1
            assert seen.exited is None

            await proc.signal("kill")
            await seen.finish()
            assert seen.exited is not None
            assert (seen.exited.exit_code, seen.exited.signal) == (128 + 9, "SIGKILL")
            for pidfd in pidfds.values():
                await wait_dead(pidfd)  # the forked child too
        finally:
            for pidfd in pidfds.values():
                os.close(pidfd)
        # After the exit a signal is a no-op, not an error.
        await proc.signal("terminate")


async def test_signal_to_unknown_process_is_an_error(client: execsrv.Client) -> None:
    with pytest.raises(execsrv.RemoteError) as error:
        await client.call(PROCESS_SIGNAL, p.SignalParams(process_id="nope", signal="interrupt"))
    assert (error.value.code, error.value.message) == (-32600, "unknown process id nope")


# Reports SIGTERM and carries on: only SIGKILL ends it.
STUBBORN = """
import os, signal
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
os.write(1, b"ready\\n")
while True:
    signal.sigwaitinfo({signal.SIGTERM})
    os.write(1, b"got TERM\\n")
"""

GRACE = TEST_CONFIG.kill_grace


async def test_timeout_terms_then_kills_a_child_that_ignores_term(client: execsrv.Client) -> None:
    with trio.fail_after(10):
        began = trio.current_time()
        proc = await client.start_process(py(STUBBORN), env=CHILD_ENV, timeout_ms=300)
        seen = await Collector(proc).finish()
        elapsed = trio.current_time() - began
        assert bytes(seen.stdout) == b"ready\ngot TERM\n"
        assert seen.exited is not None
        assert (seen.exited.exit_code, seen.exited.signal) == (128 + 9, "SIGKILL")
        assert elapsed >= 0.3 + GRACE
        seen.assert_contiguous()


async def test_timeout_ends_a_well_behaved_child_with_term(client: execsrv.Client) -> None:
    with trio.fail_after(10):
        began = trio.current_time()
        proc = await client.start_process(["sleep", "30"], env=CHILD_ENV, timeout_ms=200)
        seen = await Collector(proc).finish()
        elapsed = trio.current_time() - began
        assert seen.exited is not None
        assert (seen.exited.exit_code, seen.exited.signal) == (128 + 15, "SIGTERM")
        assert elapsed >= 0.2  # and SIGTERM, not SIGKILL: the grace was not needed


async def test_timeout_does_not_touch_a_process_that_finishes_first(
    client: execsrv.Client,
) -> None:
    with trio.fail_after(10):
        proc = await client.start_process(["echo", "hi"], env=CHILD_ENV, timeout_ms=60_000)
        seen = await Collector(proc).finish()
        assert bytes(seen.stdout) == b"hi\n"
        assert seen.exited is not None
        assert (seen.exited.exit_code, seen.exited.signal) == (0, None)


# Background grandchildren that do not hold the output pipes (so ``closed`` says
# nothing about them), one of them orphaned at once by its subshell.
SPAWNER = """
sleep 60 >/dev/null 2>&1 &
echo $!
( sleep 60 >/dev/null 2>&1 & echo $! )
echo started
wait
"""


async def _grandchildren(client: execsrv.Client, **kwargs: object) -> tuple[Collector, list[int]]:
    proc = await client.start_process(["sh", "-c", SPAWNER], env=CHILD_ENV, **kwargs)
    seen = Collector(proc)
    await seen.until_output(b"started\n")
    pids = [int(line) for line in seen.output.split()[:-1]]
    assert len(pids) == 2
    return seen, pids


async def _assert_all_die(pids: list[int]) -> None:
    pidfds = [os.pidfd_open(pid) for pid in pids]
    try:
        for pidfd in pidfds:
            await wait_dead(pidfd)
    finally:
        for pidfd in pidfds:
            os.close(pidfd)
    assert all(is_dead(pid) for pid in pids)


async def test_terminate_kills_background_grandchildren(client: execsrv.Client) -> None:
    with trio.fail_after(10):
        seen, pids = await _grandchildren(client)
        assert not any(is_dead(pid) for pid in pids)
        assert await seen.proc.terminate() is True
        await seen.finish()
        assert seen.exit_signal == "SIGKILL"
        await _assert_all_die(pids)


async def test_timeout_kills_background_grandchildren(client: execsrv.Client) -> None:
    with trio.fail_after(10):
        seen, pids = await _grandchildren(client, timeout_ms=300)
        await seen.finish()
        assert seen.exit_signal == "SIGTERM"
        await _assert_all_die(pids)


async def test_signal_kill_takes_the_group_too(client: execsrv.Client) -> None:
    with trio.fail_after(10):
        seen, pids = await _grandchildren(client)
        await seen.proc.signal("kill")
        await seen.finish()
        await _assert_all_die(pids)
