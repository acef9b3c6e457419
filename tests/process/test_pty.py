"""PTY processes: terminal size (default, ``ptySize``, ``process/resize`` with SIGWINCH),
spawn errors like pipes (DESIGN.md §1.1.4), and exit status mapping (spec §5.2)."""

from __future__ import annotations

import pytest
import trio

import execsrv
from execsrv.protocol import process as p
from execsrv.protocol.methods import PROCESS_RESIZE

from .support import CHILD_ENV, Collector, py


async def _stty_size(client: execsrv.Client, **kwargs: object) -> bytes:
    proc = await client.start_process(["stty", "size"], env=CHILD_ENV, tty=True, **kwargs)
    seen = await Collector(proc).finish()
    assert seen.exit_code == 0
    return bytes(seen.pty)


async def test_default_size_is_24_by_80(client: execsrv.Client) -> None:
    with trio.fail_after(10):
        assert await _stty_size(client) == b"24 80\r\n"


async def test_pty_size_is_honoured(client: execsrv.Client) -> None:
    with trio.fail_after(10):
        assert await _stty_size(client, pty_size=(50, 132)) == b"50 132\r\n"
        assert await _stty_size(client, pty_size=(1, 1)) == b"1 1\r\n"


async def test_pty_is_the_controlling_terminal_and_shell_is_set(client: execsrv.Client) -> None:
    with trio.fail_after(10):
        proc = await client.start_process(
            ["sh", "-c", 'test -t 0 && test -t 1 && test -t 2 && echo "tty $SHELL" >/dev/tty'],
            env=CHILD_ENV,
            tty=True,
        )
        seen = await Collector(proc).finish()
        assert bytes(seen.pty) == b"tty /bin/bash\r\n"
        assert seen.exit_code == 0


# SIGWINCH is blocked and taken with sigwaitinfo: no window in which one is missed.
WINCH_REPORTER = """
import os, signal
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGWINCH})
os.write(1, b"ready\\n")
while True:
    signal.sigwaitinfo({signal.SIGWINCH})
    size = os.get_terminal_size(0)
    os.write(1, f"winch {size.lines} {size.columns}\\n".encode())
"""


async def test_resize_sends_sigwinch_with_the_new_size(client: execsrv.Client) -> None:
    with trio.fail_after(10):
        proc = await client.start_process(py(WINCH_REPORTER), env=CHILD_ENV, tty=True)
        seen = Collector(proc)
        await seen.until_output(b"ready\r\n")
        await proc.resize(40, 100)
        await seen.until_output(b"winch 40 100\r\n")
        await proc.resize(10, 20)
        await seen.until_output(b"winch 10 20\r\n")
        assert bytes(seen.pty) == b"ready\r\nwinch 40 100\r\nwinch 10 20\r\n"
        await proc.terminate()
        await seen.finish()


async def test_resize_of_a_pipe_process_is_refused(client: execsrv.Client) -> None:
    with trio.fail_after(10):
        proc = await client.start_process(["sleep", "30"], env=CHILD_ENV)
        with pytest.raises(execsrv.RemoteError) as error:
            await proc.resize(40, 100)
        assert error.value.code == -32600
        with pytest.raises(execsrv.RemoteError) as unknown:
            await client.call(PROCESS_RESIZE, p.ResizeParams(process_id="nope", rows=40, cols=100))
        assert (unknown.value.code, unknown.value.message) == (-32600, "unknown process id nope")
        await proc.terminate()


async def test_bad_cwd_fails_in_pty_mode_like_pipes(client: execsrv.Client) -> None:
    errors = {}
    with trio.fail_after(10):
        for tty in (False, True):
            with pytest.raises(execsrv.RemoteError) as error:
                await client.start_process(
                    ["true"], process_id="p", cwd="/nonexistent/dir", env=CHILD_ENV, tty=tty
                )
            errors[tty] = (error.value.code, error.value.message)
        assert errors[True] == errors[False] == (-32603, "No such file or directory (os error 2)")
        # The failed spawn released the id.
        proc = await client.start_process(["true"], process_id="p", env=CHILD_ENV, tty=True)
        seen = await Collector(proc).finish()
        assert seen.exit_code == 0


async def test_missing_program_in_pty_mode_has_the_reference_message(
    client: execsrv.Client,
) -> None:
    with pytest.raises(execsrv.RemoteError) as error:
        await client.start_process(["/no/such/program"], env=CHILD_ENV, tty=True)
    # The client speaks 0.171 to execsrv; 0.130's "Unable to spawn …" text is checked in
    # tests/conformance/test_process_start.py.
    assert error.value.code == -32603
    assert error.value.message == "No such file or directory (os error 2)"


@pytest.mark.parametrize(
    ("tty", "script", "exit_code", "signal"),
    [
        (True, "exit 3", 3, None),
        (False, "exit 3", 3, None),
        (True, "exit 255", 255, None),
        (True, "kill -TERM $$", 1, "SIGTERM"),  # the reference's PTY layer reports 1
        (False, "kill -TERM $$", 128 + 15, "SIGTERM"),  # 0.171; 0.130 says -1
        (True, "kill -KILL $$", 1, "SIGKILL"),
        (False, "kill -SEGV $$", 128 + 11, "SIGSEGV"),
        # Real-time signals have no signal.Signals member: this once crashed the server.
        (False, "kill -40 $$", 128 + 40, "SIGRTMIN+6"),
        (True, "kill -40 $$", 1, "SIGRTMIN+6"),
    ],
)
async def test_exit_status_mapping(
    client: execsrv.Client, tty: bool, script: str, exit_code: int, signal: str | None
) -> None:
    with trio.fail_after(10):
        proc = await client.start_process(["sh", "-c", script], env=CHILD_ENV, tty=tty)
        seen = await Collector(proc).finish()
        assert seen.exited is not None
        assert (seen.exited.exit_code, seen.exited.signal) == (exit_code, signal)
        read = await proc.read()
        assert (read.exited, read.exit_code) == (True, exit_code)
        listed = {info.process_id: info for info in await client.list_processes()}
        assert listed[proc.process_id].exit_code == exit_code
        assert listed[proc.process_id].tty is tty


async def test_terminate_of_a_pty_process_reports_1_and_sigkill(client: execsrv.Client) -> None:
    with trio.fail_after(10):
        proc = await client.start_process(["sleep", "30"], env=CHILD_ENV, tty=True)
        seen = Collector(proc)
        assert await proc.terminate() is True
        await seen.finish()
        assert seen.exited is not None
        assert (seen.exited.exit_code, seen.exited.signal) == (1, "SIGKILL")
