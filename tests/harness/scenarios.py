"""The model's side of the harness scenarios: a workspace and the scripted tool calls.

codex exec costs seconds to start, so one turn plays every scenario in sequence
(the mock answers each tool output with the next call); only the cut connection
needs a turn of its own. Commands wait on files the script creates (never on
time), so "still running" and "streamed before the end" are deterministic.
"""

from __future__ import annotations

import base64
import os
import re
import shlex
import tempfile
from dataclasses import dataclass
from pathlib import Path

import trio

from ..proxy import Proxy
from .codex_exec import During
from .frames import Frame, FrameLog
from .responses_mock import (
    ModelScript,
    Step,
    StepImpossible,
    apply_patch,
    exec_command,
    write_stdin,
)

ODD_NAME = "odd dir 100% ü"
"""A space, a `%` and non-ASCII: percent-encoding and UTF-8 must both round-trip."""
BURST_LINES = 1_000_000
BURST_BYTES = len("".join(f"{n}\n" for n in range(1, BURST_LINES + 1)).encode())  # ~6.9 MB


@dataclass(frozen=True)
class Workspace:
    """A git repository with an AGENTS.md at the root, one level down, and in the cwd."""

    root: Path
    cwd: Path

    @property
    def docs(self) -> list[tuple[Path, str]]:
        """Each AGENTS.md, root first, with the text it holds."""
        mid = self.cwd.parent
        return [(self.root, "ROOT-DOC-b41c"), (mid, "MID-DOC-93e2"), (self.cwd, "CWD-DOC-5d07")]

    @property
    def added_file(self) -> Path:
        return self.cwd / f"added {ODD_NAME}.txt"

    @property
    def edited_file(self) -> Path:
        return self.cwd / f"edited {ODD_NAME}.txt"


def make_workspace(base: Path) -> Workspace:
    root = base / "repo"
    workspace = Workspace(root, root / "mid level" / ODD_NAME)
    workspace.cwd.mkdir(parents=True)
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    for directory, text in workspace.docs:
        (directory / "AGENTS.md").write_text(f"{text}\n")
    workspace.edited_file.write_text("first line\nold middle\nlast line\n")
    return workspace


def session_id(tool_output: str) -> int:
    """The unified-exec session id codex tells the model for a still-running command."""
    found = re.search(r"session ID (\d+)", tool_output)
    if found is None:
        raise StepImpossible(f"no running session in the tool output: {tool_output[:500]}")
    return int(found.group(1))


# Call ids, one per tool call of the main turn.
COMMAND = "call_command"
FAILING = "call_failing"
STREAM_START = "call_stream_start"
STREAM_RELEASE = "call_stream_release"
STREAM_REST = "call_stream_rest"
TTY_START = "call_tty_start"
TTY_INPUT = "call_tty_input"
PATCH = "call_patch"
BURST = "call_burst"
LEFT_RUNNING = "call_left_running"

COMMAND_CMD = 'echo "marker=${EXECSRV_HARNESS_MARKER:-absent}"; pwd'
FAILING_CMD = "echo to-stdout; echo to-stderr >&2; exit 3"
STREAM_CMD = "echo tick-1; while [ ! -e go-stream ]; do sleep 0.02; done; echo tick-2"
TTY_CMD = 'pwd; read -r line; echo "got:$line"'
TTY_INPUT_TEXT = "hello-tty"
BURST_CMD = f"seq 1 {BURST_LINES}"
LEFT_RUNNING_CMD = "echo $$ > left-running.pid; exec sleep 600"
LEFT_RUNNING_GRACE = 10.0
"""Seconds after the turn for the left-running command to be gone."""


def _patch(workspace: Workspace) -> str:
    return (
        "*** Begin Patch\n"
        f"*** Add File: {workspace.added_file.name}\n"
        "+added by apply_patch\n"
        f"*** Update File: {workspace.edited_file.name}\n"
        "@@\n"
        " first line\n"
        "-old middle\n"
        "+new middle\n"
        " last line\n"
        "*** End Patch"
    )


def main_script(workspace: Workspace) -> ModelScript:
    """Every scenario but the cut connection, in one turn."""
    return ModelScript(
        [
            Step(COMMAND, lambda _: exec_command(COMMAND, COMMAND_CMD)),
            Step(FAILING, lambda _: exec_command(FAILING, FAILING_CMD)),
            # Streaming: the first part is reported while the command still runs.
            Step(
                STREAM_START, lambda _: exec_command(STREAM_START, STREAM_CMD, yield_time_ms=1_000)
            ),
            Step(STREAM_RELEASE, lambda _: exec_command(STREAM_RELEASE, "touch go-stream")),
            Step(
                STREAM_REST,
                lambda out: write_stdin(
                    STREAM_REST, session_id(out[STREAM_START]), "", yield_time_ms=10_000
                ),
            ),
            Step(
                TTY_START, lambda _: exec_command(TTY_START, TTY_CMD, tty=True, yield_time_ms=500)
            ),
            Step(
                TTY_INPUT,
                lambda out: write_stdin(
                    TTY_INPUT,
                    session_id(out[TTY_START]),
                    f"{TTY_INPUT_TEXT}\n",
                    yield_time_ms=5_000,
                ),
            ),
            Step(PATCH, lambda _: apply_patch(PATCH, _patch(workspace))),
            Step(BURST, lambda _: exec_command(BURST, BURST_CMD, yield_time_ms=30_000)),
            # Last: still running when the turn ends.
            Step(
                LEFT_RUNNING,
                lambda _: exec_command(LEFT_RUNNING, LEFT_RUNNING_CMD, yield_time_ms=300),
            ),
        ]
    )


async def left_running_is_gone(cwd: Path) -> str:
    """After the turn (the server still up): wait, on a pidfd, for the command left
    running to die. Returns what happened, for the test to assert on."""
    pid_file = cwd / "left-running.pid"
    if not pid_file.exists():
        return "the command never wrote its pid"
    pid = int(pid_file.read_text())
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return "gone"
    try:
        with trio.move_on_after(LEFT_RUNNING_GRACE):
            await trio.lowlevel.wait_readable(pidfd)
            return "gone"
        return f"pid {pid} still running {LEFT_RUNNING_GRACE:g} s after the turn"
    finally:
        os.close(pidfd)


# The cut connection (0.171 harness): output before the cut, more while cut off.
CUT = "call_cut"
CUT_LINES = 200
CUT_CMD = (
    f"for i in $(seq 1 {CUT_LINES}); do echo before-$i; done; echo cut-here;"
    " while [ ! -e go-cut ]; do sleep 0.02; done;"
    f" for i in $(seq 1 {CUT_LINES}); do echo after-$i; done"
)
CUT_EXPECTED = (
    "".join(f"before-{i}\n" for i in range(1, CUT_LINES + 1))
    + "cut-here\n"
    + "".join(f"after-{i}\n" for i in range(1, CUT_LINES + 1))
)


def cut_script() -> ModelScript:
    return ModelScript([Step(CUT, lambda _: exec_command(CUT, CUT_CMD, yield_time_ms=20_000))])


def cut_mid_command(cwd: Path) -> During:
    """A ``during`` hook: once the harness has seen ``cut-here``, reset the connection,
    then let the command go on, so the rest is produced while the harness is cut off."""

    async def during(proxy: Proxy | None, frames: FrameLog) -> None:
        assert proxy is not None, "the cut needs a websocket proxy"
        await frames.wait_for(_carries_cut_marker)
        assert proxy.sever() == 1
        await trio.Path(cwd / "go-cut").touch()

    return during


def _carries_cut_marker(frame: Frame) -> bool:
    if frame.sender != "server" or frame.message.get("method") != "process/output":
        return False
    return b"cut-here" in base64.b64decode(frame.message["params"]["chunk"])


# Sandboxed turns (issue 11, point 5): one turn per harness generation and mode.


@dataclass(frozen=True)
class SandboxedWorkspace:
    """A repository whose root is the cwd (so its ``.git`` lies under the writable
    root), and a directory outside every root the harness makes writable: not under
    the workspace, /tmp or $TMPDIR."""

    cwd: Path
    outside: Path

    @property
    def readable_file(self) -> Path:
        return self.cwd / "readable.txt"

    @property
    def edited_file(self) -> Path:
        return self.cwd / "edited.txt"

    @property
    def written_file(self) -> Path:
        return self.cwd / "written by shell.txt"

    @property
    def added_file(self) -> Path:
        return self.cwd / "added by patch.txt"

    @property
    def git_file(self) -> Path:
        return self.cwd / ".git" / "planted"

    @property
    def outside_file(self) -> Path:
        return self.outside / "escaped.txt"

    @property
    def tty_outside_file(self) -> Path:
        return self.outside / "escaped from a tty.txt"


READABLE_TEXT = "readable-5c1e"
EDITED_BEFORE = "first line\nold middle\nlast line\n"
EDITED_AFTER = "first line\nnew middle\nlast line\n"
ADDED_TEXT = "added by apply_patch\n"


OUTSIDE_PARENTS = (Path("/var/tmp"), Path.home())
"""Where the outside directory may go: the first of these not under /tmp or $TMPDIR."""


def make_outside_dir() -> Path:
    """A fresh directory no root of ``workspace-write`` covers (the caller removes it)."""
    writable = [Path("/tmp").resolve(), Path(tempfile.gettempdir()).resolve()]
    for parent in OUTSIDE_PARENTS:
        resolved = parent.resolve()
        if resolved.is_dir() and not any(resolved.is_relative_to(root) for root in writable):
            return Path(tempfile.mkdtemp(prefix="execsrv-harness-outside-", dir=resolved))
    raise RuntimeError(f"none of {OUTSIDE_PARENTS} lies outside /tmp and $TMPDIR")


def make_sandboxed_workspace(base: Path, outside: Path) -> SandboxedWorkspace:
    workspace = SandboxedWorkspace(base / "sandboxed repo", outside)
    (workspace.cwd / ".git").mkdir(parents=True)
    (workspace.cwd / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    workspace.readable_file.write_text(f"{READABLE_TEXT}\n")
    workspace.edited_file.write_text(EDITED_BEFORE)
    return workspace


SHELL_WRITE = "call_shell_write"
SHELL_READ = "call_shell_read"
SANDBOXED_PATCH = "call_sandboxed_patch"
OUTSIDE_WRITE = "call_outside_write"
GIT_WRITE = "call_git_write"
TTY_OUTSIDE_WRITE = "call_tty_outside_write"
SHELL_WRITE_TEXT = "written-by-shell-0d4a"


def _write_cmd(target: Path, text: str) -> str:
    return f"echo {text} > {shlex.quote(str(target))} && cat {shlex.quote(str(target))}"


def _sandboxed_patch(workspace: SandboxedWorkspace) -> str:
    return (
        "*** Begin Patch\n"
        f"*** Add File: {workspace.added_file.name}\n"
        f"+{ADDED_TEXT}"
        f"*** Update File: {workspace.edited_file.name}\n"
        "@@\n"
        " first line\n"
        "-old middle\n"
        "+new middle\n"
        " last line\n"
        "*** End Patch"
    )


def workspace_write_script(workspace: SandboxedWorkspace) -> ModelScript:
    """Under ``workspace-write``: two writes that must land, two that must be refused."""
    return ModelScript(
        [
            Step(
                SHELL_WRITE,
                lambda _: exec_command(
                    SHELL_WRITE, _write_cmd(workspace.written_file, SHELL_WRITE_TEXT)
                ),
            ),
            Step(
                SANDBOXED_PATCH, lambda _: apply_patch(SANDBOXED_PATCH, _sandboxed_patch(workspace))
            ),
            Step(
                OUTSIDE_WRITE,
                lambda _: exec_command(
                    OUTSIDE_WRITE, _write_cmd(workspace.outside_file, "escaped")
                ),
            ),
            Step(
                GIT_WRITE,
                lambda _: exec_command(GIT_WRITE, _write_cmd(workspace.git_file, "planted")),
            ),
            Step(
                TTY_OUTSIDE_WRITE,
                lambda _: exec_command(
                    TTY_OUTSIDE_WRITE,
                    _write_cmd(workspace.tty_outside_file, "escaped"),
                    tty=True,
                    yield_time_ms=10_000,
                ),
            ),
        ]
    )


def read_only_script(workspace: SandboxedWorkspace) -> ModelScript:
    """Under ``read-only``: a read that works, a write and a patch that must not."""
    return ModelScript(
        [
            Step(
                SHELL_READ,
                lambda _: exec_command(
                    SHELL_READ, f"cat {shlex.quote(str(workspace.readable_file))}"
                ),
            ),
            Step(
                SHELL_WRITE,
                lambda _: exec_command(
                    SHELL_WRITE, _write_cmd(workspace.written_file, SHELL_WRITE_TEXT)
                ),
            ),
            Step(
                SANDBOXED_PATCH, lambda _: apply_patch(SANDBOXED_PATCH, _sandboxed_patch(workspace))
            ),
        ]
    )
