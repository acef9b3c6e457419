"""``python -m execsrv exec URL -- ARGV``: output, exit status, --env, --cwd, --stdin, --tty."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from functools import partial

import pytest
import trio

import execsrv
from execsrv.remote_cli import EXIT_FAILURE, exit_status

from ..servers import ROOT

EXEC = [sys.executable, "-m", "execsrv", "exec"]


async def run_exec(
    url: str, *args: str, stdin: bytes = b"", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    with trio.fail_after(20):
        return await trio.run_process(
            [*EXEC, url, *args],
            cwd=ROOT,
            stdin=stdin,
            capture_stdout=True,
            capture_stderr=True,
            check=False,
            env=env,
        )


@pytest.fixture
def url(server: execsrv.ExecServer) -> str:
    assert server.url is not None
    return server.url


@pytest.mark.parametrize(
    ("script", "status"),
    [
        ("exit 0", 0),
        ("exit 3", 3),
        ("kill -KILL $$", 128 + signal.SIGKILL),
        ("kill -TERM $$", 128 + signal.SIGTERM),
    ],
)
async def test_exit_status(url: str, script: str, status: int) -> None:
    result = await run_exec(url, "--", "sh", "-c", script)
    assert result.returncode == status, result.stderr


async def test_output_is_binary_safe_and_streams_stay_apart(url: str) -> None:
    script = "printf 'a\\0\\377\\376\\n'; printf 'e\\377' >&2; printf 'z'"
    result = await run_exec(url, "--", "sh", "-c", script)
    assert result.returncode == 0
    assert result.stdout == b"a\0\xff\xfe\nz"
    assert result.stderr == b"e\xff"


async def test_env_is_added_to_the_server_environment(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXECSRV_PROBE", "inherited")
    monkeypatch.setenv("EXECSRV_PROBE_TOKEN", "secret")
    script = 'echo "$FOO|$BAR|$EXECSRV_PROBE|${EXECSRV_PROBE_TOKEN-unset}"'
    result = await run_exec(url, "--env", "FOO=a=b", "--env", "BAR=", "--", "sh", "-c", script)
    assert result.stdout == b"a=b||inherited|unset\n"


async def test_cwd(url: str, tmp_path) -> None:
    result = await run_exec(url, "--cwd", str(tmp_path), "--", "pwd")
    assert result.stdout.decode().strip() == str(tmp_path)
    default = await run_exec(url, "--", "pwd")
    assert default.stdout == b"/\n"


async def test_stdin_is_forwarded_only_when_asked(url: str) -> None:
    data = bytes(range(256)) * 1000
    piped = await run_exec(url, "--stdin", "--", "sh", "-c", "cat; echo done", stdin=data)
    assert piped.stdout == data + b"done\n"
    ignored = await run_exec(url, "--", "sh", "-c", "cat; echo done", stdin=b"nope")
    assert ignored.stdout == b"done\n"


async def test_tty_output_goes_to_stdout(url: str) -> None:
    result = await run_exec(url, "--tty", "--", "sh", "-c", "tty; stty size; exit 7")
    assert result.returncode == 7
    lines = result.stdout.decode().splitlines()
    assert lines[0].startswith("/dev/pts/")
    assert lines[1] == "24 80"  # not a terminal here: the default size


async def test_failures_of_execsrv_itself_exit_255(url: str) -> None:
    missing = await run_exec(url, "--", "/nonexistent/program")
    assert missing.returncode == EXIT_FAILURE
    assert b"could not start /nonexistent/program" in missing.stderr
    unreachable = await run_exec("ws://127.0.0.1:1", "--", "true")
    assert unreachable.returncode == EXIT_FAILURE
    assert b"could not connect" in unreachable.stderr


async def test_local_sigterm_is_forwarded(url: str) -> None:
    argv = [*EXEC, url, "--", "sh", "-c", "echo ready; sleep 30"]
    with trio.fail_after(20):
        process = await trio.lowlevel.open_process(argv, cwd=ROOT, stdout=subprocess.PIPE)
        try:
            assert process.stdout is not None
            assert await process.stdout.receive_some() == b"ready\n"
            process.send_signal(signal.SIGTERM)
            assert await process.wait() == 128 + signal.SIGTERM
        finally:
            process.kill()
            await process.wait()


@pytest.mark.parametrize(
    ("code", "name", "status"),
    [
        (0, None, 0),
        (-1, "SIGKILL", 137),
        (1, "SIGTERM", 143),  # a PTY process killed by a signal reports code 1
        (-1, "SIGRTMIN+2", 128 + signal.SIGRTMIN + 2),
        (-1, None, EXIT_FAILURE),  # codex: signal deaths are -1, without the name
        (1, "SIGNOPE", 1),
    ],
)
def test_exit_status_mapping(code: int, name: str | None, status: int) -> None:
    assert exit_status(code, name) == status


async def test_token_from_the_environment(nursery: trio.Nursery, tmp_path) -> None:
    (tmp_path / "token").write_text("s3cret-token-of-at-least-32-characters\n")
    (tmp_path / "token").chmod(0o600)
    config = execsrv.ServerConfig(auth_token_file=str(tmp_path / "token"))
    server = await nursery.start(partial(execsrv.serve, "ws://127.0.0.1:0", config=config))
    base = {k: v for k, v in os.environ.items() if k != "EXECSRV_TOKEN"}
    refused = await run_exec(server.url, "--", "true", env=base)
    assert refused.returncode == EXIT_FAILURE
    assert b"401" in refused.stderr
    allowed = await run_exec(
        server.url,
        "--",
        "echo",
        "in",
        env={**base, "EXECSRV_TOKEN": "s3cret-token-of-at-least-32-characters"},
    )
    assert (allowed.returncode, allowed.stdout) == (0, b"in\n")
    other = await run_exec(
        server.url,
        "--token-env",
        "MY_TOKEN",
        "--",
        "true",
        env={**base, "MY_TOKEN": "s3cret-token-of-at-least-32-characters"},
    )
    assert other.returncode == 0, other.stderr
