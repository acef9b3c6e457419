"""``python -m execsrv shell URL`` in a real terminal: tmux.

Each test runs the client in a detached tmux pane, types into it with
``send-keys`` and reads the screen with ``capture-pane``, polling (bounded)
for the text it expects. After the client ends, the pane runs ``stty -a`` so
the tests can check the local terminal was given back in its cooked mode.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sys
from collections.abc import AsyncIterator

import pytest
import trio

import execsrv

from ..servers import ROOT

pytestmark = pytest.mark.skipif(
    shutil.which("tmux") is None,
    reason="tmux is not installed (.ci/run installs it; or: apt-get install tmux)",
)

POLL_SECONDS = 0.05
COOKED = [re.compile(r"(?<![-\w])icanon\b"), re.compile(r"(?<![-\w])echo\b")]


class Pane:
    """One detached tmux session on a private server socket."""

    def __init__(self, socket: str) -> None:
        self._socket = socket

    async def tmux(self, *args: str) -> str:
        result = await trio.run_process(
            ["tmux", "-S", self._socket, *args], capture_stdout=True, capture_stderr=True
        )
        return result.stdout.decode()

    async def send(self, *keys: str) -> None:
        await self.tmux("send-keys", "-t", "test", *keys)

    async def screen(self) -> str:
        return await self.tmux("capture-pane", "-p", "-t", "test")

    async def size(self) -> str:
        return (
            await self.tmux("display", "-p", "-t", "test", "#{pane_height} #{pane_width}")
        ).strip()

    async def wait_for(self, pattern: str, seconds: float = 10) -> str:
        """Poll the screen until ``pattern`` (a multiline regex) matches; return the screen."""
        regex = re.compile(pattern, re.MULTILINE)
        screen = ""
        try:
            with trio.fail_after(seconds):
                while not regex.search(screen := await self.screen()):  # noqa: ASYNC110
                    await trio.sleep(POLL_SECONDS)
        except trio.TooSlowError:
            pytest.fail(f"{pattern!r} did not appear on the screen:\n{screen}")
        return screen

    def client_pid(self, pane_pid: int) -> int:
        """The python client: the child of the pane's shell."""
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as stat:
                        fields = stat.read().rpartition(")")[2].split()
                except OSError:
                    continue
                if int(fields[1]) == pane_pid:
                    return int(entry)
        raise AssertionError("no client process in the pane")


@pytest.fixture
async def pane(server: execsrv.ExecServer, tmp_path) -> AsyncIterator[Pane]:
    assert server.url is not None
    client = shlex.join(
        [sys.executable, "-m", "execsrv", "shell", "--env", "HISTFILE=/dev/null", server.url]
    )
    command = f"cd {shlex.quote(str(ROOT))}; {client}; echo exit=$?; stty -a; exec sleep 600"
    pane = Pane(str(tmp_path / "tmux.sock"))
    await pane.tmux(
        "-f", "/dev/null", "new-session", "-d", "-s", "test", "-x", "100", "-y", "30", command
    )
    try:
        await pane.wait_for(r"\S")  # the remote shell's prompt
        yield pane
    finally:
        with trio.move_on_after(5, shield=True):
            await pane.tmux("kill-server")


async def test_commands_run_in_the_remote_shell(pane: Pane) -> None:
    await pane.send("echo hi-$((1+1))", "Enter")
    await pane.wait_for(r"^hi-2$")


async def test_size_follows_the_local_terminal(pane: Pane) -> None:
    await pane.send("stty size", "Enter")
    height, width = (await pane.size()).split()
    await pane.wait_for(rf"^{height} {width}$")
    await pane.tmux("resize-window", "-t", "test", "-x", "120", "-y", "40")
    new_height, new_width = (await pane.size()).split()
    assert (new_height, new_width) != (height, width)
    await pane.send("stty size", "Enter")
    await pane.wait_for(rf"^{new_height} {new_width}$")


async def test_ctrl_c_reaches_the_remote_foreground_job(pane: Pane) -> None:
    await pane.send("sleep 30", "Enter")
    await pane.wait_for(r"sleep 30$")
    await pane.send("C-c")
    await pane.send("echo after-$((2+3))", "Enter")
    await pane.wait_for(r"^after-5$", seconds=5)  # sleep was interrupted, the client lives


async def test_exit_gives_back_a_cooked_terminal(pane: Pane) -> None:
    await pane.send("exit 4", "Enter")
    screen = await pane.wait_for(r"^exit=4$(.|\n)*icanon")
    for mode in COOKED:
        assert mode.search(screen.partition("exit=4")[2]), screen


async def test_sigterm_hangs_up_and_restores_the_terminal(pane: Pane) -> None:
    pane_pid = int(await pane.tmux("display", "-p", "-t", "test", "#{pane_pid}"))
    os.kill(pane.client_pid(pane_pid), 15)
    screen = await pane.wait_for(r"^exit=129$(.|\n)*icanon")  # the remote shell got SIGHUP
    for mode in COOKED:
        assert mode.search(screen.partition("exit=129")[2]), screen
