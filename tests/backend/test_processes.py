"""The process half of ExecBackend, identical on both backends."""

from __future__ import annotations

import pytest
import trio

from execsrv import Closed, Exited, Output, RemoteError, RemoteProcess
from execsrv.backend import ExecBackend, ExitStatus, RemoteBackend
from execsrv.protocol.process import EnvPolicy

from ..conftest import CHILD_ENV


async def test_output_and_exit_in_order(backend: ExecBackend) -> None:
    with trio.fail_after(10):
        proc = await backend.start(
            ["sh", "-c", "printf 'a\\0b'; printf err >&2; exit 3"], cwd="/", env=CHILD_ENV
        )
        events = [event async for event in proc.events]
    outputs = sorted((e for e in events if isinstance(e, Output)), key=lambda e: e.stream)
    assert [(o.stream, o.data) for o in outputs] == [("stderr", b"err"), ("stdout", b"a\0b")]
    assert [e.seq for e in events] == [1, 2, 3, 4]
    assert [(e.exit_code, e.signal) for e in events if isinstance(e, Exited)] == [(3, None)]
    assert isinstance(events[-1], Closed)  # always last; the exit may race the output
    assert await proc.wait() == ExitStatus(3)


async def test_communicate(backend: ExecBackend, tmp_path) -> None:
    with trio.fail_after(10):
        proc = await backend.start(["sh", "-c", "pwd; echo $A"], cwd=str(tmp_path), env={"A": "1"})
        result = await proc.communicate()
    assert bytes(result.stdout) == f"{tmp_path}\n1\n".encode()
    assert result.exit_code == 0
    assert result.gaps == []


async def test_env_is_exact_unless_a_policy_says_otherwise(
    backend: ExecBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BACKEND_PROBE", "server-side")
    with trio.fail_after(10):
        exact = await backend.start(["/usr/bin/env"], cwd="/", env={"ONLY": "this"})
        assert bytes((await exact.communicate()).stdout) == b"ONLY=this\n"
        policy = EnvPolicy(
            inherit="all",
            ignore_default_excludes=False,
            exclude=[],
            set={},
            include_only=["BACKEND_*"],
        )
        inherited = await backend.start(
            ["/usr/bin/env"], cwd="/", env={"BACKEND_X": "1"}, env_policy=policy
        )
        lines = sorted(bytes((await inherited.communicate()).stdout).decode().splitlines())
    assert lines == ["BACKEND_PROBE=server-side", "BACKEND_X=1"]


async def test_wait_keeps_the_output_for_the_events(backend: ExecBackend) -> None:
    with trio.fail_after(10):
        proc = await backend.start(["sh", "-c", "echo one; echo two"], cwd="/", env=CHILD_ENV)
        assert await proc.wait() == ExitStatus(0)
        result = await proc.communicate()
    assert bytes(result.stdout) == b"one\ntwo\n"


async def test_wait_while_another_task_iterates(backend: ExecBackend) -> None:
    script = "for i in 1 2 3 4 5; do echo $i; sleep 0.01; done; exit 6"
    seen: list[bytes] = []
    with trio.fail_after(10):
        proc = await backend.start(["sh", "-c", script], cwd="/", env=CHILD_ENV)

        async def consume() -> None:
            async for event in proc.events:
                if isinstance(event, Output):
                    seen.append(event.data)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(consume)
            assert await proc.wait() == ExitStatus(6)
    assert b"".join(seen) == b"1\n2\n3\n4\n5\n"


async def test_stdin_write_and_close(backend: ExecBackend) -> None:
    with trio.fail_after(10):
        proc = await backend.start(["cat"], cwd="/", env=CHILD_ENV, pipe_stdin=True)
        assert await proc.write(b"hello ") == "accepted"
        assert await proc.write(b"\xffworld") == "accepted"
        assert await proc.close_stdin() == "accepted"
        result = await proc.communicate()
    assert bytes(result.stdout) == b"hello \xffworld"
    assert result.exit_code == 0


async def test_stdin_not_piped(backend: ExecBackend) -> None:
    with trio.fail_after(10):
        proc = await backend.start(["cat"], cwd="/", env=CHILD_ENV)
        assert await proc.write(b"x") == "stdinClosed"
        assert (await proc.wait()).exit_code == 0


async def test_terminate_kills_the_group(backend: ExecBackend) -> None:
    with trio.fail_after(10):
        proc = await backend.start(["sleep", "30"], cwd="/", env=CHILD_ENV)
        assert await proc.terminate() is True
        assert await proc.wait() == ExitStatus(128 + 9, "SIGKILL")
        assert await proc.terminate() is False


async def test_signal(backend: ExecBackend) -> None:
    script = "trap 'echo got-usr1; exit 5' USR1; echo ready; while :; do sleep 0.01; done"
    with trio.fail_after(10):
        proc = await backend.start(["sh", "-c", script], cwd="/", env=CHILD_ENV)
        first = await proc.events.__anext__()
        assert first == Output(1, "stdout", b"ready\n")
        await proc.signal("user1")
        result = await proc.communicate()
    assert bytes(result.stdout) == b"got-usr1\n"
    assert result.exit_code == 5


async def test_pty_size_and_resize(backend: ExecBackend) -> None:
    script = "stty size; read line; stty size"
    with trio.fail_after(10):
        proc = await backend.start(
            ["sh", "-c", script], cwd="/", env=CHILD_ENV, tty=True, pty_size=(10, 40)
        )
        seen = b""
        while b"10 40\r\n" not in seen:  # the first `stty size`, however it is chunked
            event = await proc.events.__anext__()
            assert isinstance(event, Output)
            assert event.stream == "pty"
            seen += event.data
        await proc.resize(20, 50)
        await proc.write(b"\n")
        result = await proc.communicate()
    assert bytes(result.stdout).endswith(b"20 50\r\n")


async def test_resize_of_a_pipe_process_is_refused(backend: ExecBackend) -> None:
    with trio.fail_after(10):
        proc = await backend.start(["true"], cwd="/", env=CHILD_ENV)
        with pytest.raises(RemoteError) as caught:
            await proc.resize(10, 10)
        assert (caught.value.code, caught.value.message) == (
            -32600,
            f"process {proc.process_id} is not a tty",
        )
        await proc.wait()


async def test_timeout_terminates(backend: ExecBackend) -> None:
    with trio.fail_after(10):
        proc = await backend.start(["sleep", "30"], cwd="/", env=CHILD_ENV, timeout_ms=50)
        assert await proc.wait() == ExitStatus(128 + 15, "SIGTERM")


async def test_start_errors_are_the_protocol_errors(backend: ExecBackend, tmp_path) -> None:
    with trio.fail_after(10):
        await _check_start_errors(backend, tmp_path)


async def _check_start_errors(backend: ExecBackend, tmp_path) -> None:
    with pytest.raises(RemoteError) as empty:
        await backend.start([], cwd="/", env=CHILD_ENV)
    assert (empty.value.code, empty.value.message) == (-32602, "argv must not be empty")
    with pytest.raises(RemoteError) as missing:
        await backend.start(["/nonexistent/program"], cwd="/", env=CHILD_ENV)
    assert missing.value.code == -32603
    assert "No such file or directory" in missing.value.message
    with pytest.raises(RemoteError) as bad_cwd:
        await backend.start(["true"], cwd=str(tmp_path / "missing"), env=CHILD_ENV)
    assert bad_cwd.value.code == -32603
    proc = await backend.start(["true"], cwd="/", env=CHILD_ENV, process_id="twice")
    with pytest.raises(RemoteError) as duplicate:
        await backend.start(["true"], cwd="/", env=CHILD_ENV, process_id="twice")
    assert (duplicate.value.code, duplicate.value.message) == (
        -32600,
        "process twice already exists",
    )
    await proc.wait()


async def test_the_remote_handle_is_the_clients_process(backend: ExecBackend) -> None:
    """No wrapper: ``RemoteBackend.start`` returns the client's own ``RemoteProcess``."""
    with trio.fail_after(10):
        proc = await backend.start(["true"], cwd="/", env=CHILD_ENV)
        assert await proc.wait() == ExitStatus(0)
    assert isinstance(proc, RemoteProcess) == isinstance(backend, RemoteBackend)
