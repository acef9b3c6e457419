"""``connect_stdio``: the server command on pipes, its early death, its process group.

Spec §11: the command runs from argv (no shell) in its own process group; on
exit the client closes its stdin, SIGTERMs the group, waits a grace period,
then SIGKILLs it. A command that dies surfaces as ``Disconnected`` with its
exit status and stderr.
"""

from __future__ import annotations

import os
import signal
import sys

import pytest
import trio

import execsrv
from execsrv import Disconnected, Exited, Failed, Output

from ..conftest import CHILD_ENV
from ..servers import ROOT

STDIO_SERVER = [sys.executable, "-m", "execsrv", "serve", "--listen", "stdio"]

FAKE_SERVER = r"""
import json, os, signal, subprocess, sys
mode = sys.argv[1]
if mode == "ignore-term":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # inherited by the grandchild
    grandchild = subprocess.Popen(["sleep", "60"])
    session = f"{os.getpid()},{grandchild.pid}"
else:
    session = f"{os.environ.get('FAKE_VAR', '-')}@{os.getcwd()}"
for line in sys.stdin:
    message = json.loads(line)
    if message.get("method") == "initialize":
        print(json.dumps({"id": message["id"], "result": {"sessionId": session}}), flush=True)
    elif message.get("method") == "initialized" and mode == "exit-after-handshake":
        sys.stderr.write("bye\n")
        sys.exit(5)
if mode == "ignore-term":
    while True:
        signal.pause()
"""


def fake_server(mode: str) -> list[str]:
    return [sys.executable, "-c", FAKE_SERVER, mode]


def live_group_members(pgid: int) -> list[int]:
    """Processes of group ``pgid`` that are not zombies."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry))
    return members


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


async def wait_until_gone(pgid: int) -> None:
    """Poll (bounded) until group ``pgid`` has no live member: SIGKILL is asynchronous."""
    with trio.fail_after(5):
        while live_group_members(pgid):  # noqa: ASYNC110 (no event for a kernel state)
            await trio.sleep(0.01)


async def test_a_process_runs_over_stdio() -> None:
    with trio.fail_after(20):
        async with execsrv.connect_stdio(STDIO_SERVER, cwd=ROOT) as client:
            proc = await client.start_process(["sh", "-c", "printf 'a\\0b'; exit 4"], env=CHILD_ENV)
            events = [event async for event in proc.events]
            # The exit may take its seq before the output: compare without seqs.
            assert [e.data for e in events if isinstance(e, Output)] == [b"a\0b"]
            assert [e.exit_code for e in events if isinstance(e, Exited)] == [4]
            assert client.session_id


async def test_leaving_stops_the_server_and_its_children() -> None:
    with trio.fail_after(20):
        async with execsrv.connect_stdio(STDIO_SERVER, cwd=ROOT) as client:
            argv = ["sh", "-c", "echo $PPID $$; exec sleep 60"]
            proc = await client.start_process(argv, env=CHILD_ENV)
            event = await proc.events.__anext__()
            assert isinstance(event, Output)
            server_pid, child_pid = map(int, event.data.split())
            assert alive(child_pid)
            assert server_pid in live_group_members(server_pid)  # its own group
        await wait_until_gone(server_pid)
        assert not alive(child_pid)


async def test_early_death_gives_exit_status_and_stderr() -> None:
    argv = [sys.executable, "-c", "import sys; sys.stderr.write('boom'); sys.exit(3)"]
    with trio.fail_after(10), pytest.raises(Disconnected) as caught:
        async with execsrv.connect_stdio(argv):
            pytest.fail("the handshake cannot succeed")
    assert "exited with code 3" in caught.value.reason
    assert "boom" in caught.value.reason


async def test_death_after_the_handshake_fails_calls_and_streams() -> None:
    with trio.fail_after(10):
        async with execsrv.connect_stdio(fake_server("exit-after-handshake")) as client:
            with pytest.raises(Disconnected) as caught:
                await client.list_processes()
            assert "exited with code 5" in caught.value.reason
            assert "stderr: bye" in caught.value.reason
            with pytest.raises(Disconnected):
                await client.list_processes()


async def test_a_killed_server_ends_streams_with_the_reason() -> None:
    with trio.fail_after(20):
        async with execsrv.connect_stdio(STDIO_SERVER, cwd=ROOT) as client:
            argv = ["sh", "-c", "echo $PPID $$; exec sleep 60"]
            proc = await client.start_process(argv, env=CHILD_ENV)
            first = await proc.events.__anext__()
            assert isinstance(first, Output)
            server_pid, child_pid = map(int, first.data.split())
            try:
                os.kill(server_pid, signal.SIGKILL)
                last = [event async for event in proc.events][-1]
            finally:
                os.kill(child_pid, signal.SIGKILL)  # orphaned by the SIGKILLed server
            assert isinstance(last, Failed)
            assert "was killed by SIGKILL" in last.reason


async def test_env_is_added_and_cwd_is_used(tmp_path) -> None:
    with trio.fail_after(10):
        argv = fake_server("echo")
        async with execsrv.connect_stdio(argv, env={"FAKE_VAR": "v1"}, cwd=tmp_path) as client:
            assert client.session_id == f"v1@{tmp_path}"


async def test_a_missing_command_is_disconnected() -> None:
    with pytest.raises(Disconnected, match="could not start exec-server command"):
        async with execsrv.connect_stdio(["/nonexistent/execsrv-server"]):
            pytest.fail("unreachable")


async def test_a_server_ignoring_term_is_killed_with_its_group() -> None:
    grace = 0.3
    with trio.fail_after(10):
        argv = fake_server("ignore-term")
        async with execsrv.connect_stdio(argv, kill_grace=grace) as client:
            server_pid, grandchild_pid = map(int, client.session_id.split(","))
            assert set(live_group_members(server_pid)) == {server_pid, grandchild_pid}
            started = trio.current_time()
        assert trio.current_time() - started >= grace  # TERM was ignored: it took the grace
        await wait_until_gone(server_pid)
        assert not alive(grandchild_pid)
