"""The real ``codex exec`` (0.130.0 and 0.171.0) end to end, with a remote executor.

Issue 10, point 6. A mock of the Responses API scripts the model; the executor is
execsrv or codex's own exec-server, reached through ``CODEX_EXEC_SERVER_URL``, or
(0.171) ``environments.toml`` with a ``url`` or a stdio ``program``. Every
scenario runs against every setup: what a setup fails, codex's own servers
included, is a strict xfail whose reason says why (:func:`expected_failure`), so
the matrix is visible in the report and a fix shows up as an XPASS.

One ``codex exec`` turn plays every scenario (a module-scoped run per setup); the
tests read that run: the tool outputs codex sent back to the model, the model
requests, and every exec-server message (websocket frames through a recording
proxy, stdio lines through a tee). The marker variable exists only in the
executor's environment, so a command that prints it ran on the executor; the
files and docs are touched on the same machine, so the frames are what prove they
went through ``fs/*``.

Issue 11, point 5: besides ``danger-full-access``, one turn per harness generation,
sandbox mode (``workspace-write``, ``read-only``) and server plays the sandboxed
scenarios (writes that must land, writes the kernel must refuse, ``apply_patch``),
asserted on disk, in what the model was told and in the frames.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import pytest
import trio

from . import scenarios as sc
from .codex_exec import MARKER, HarnessRun, Setup, run_codex_exec
from .responses_mock import input_text

pytestmark = pytest.mark.interop

MAIN_SETUPS = [
    Setup("0.130", "execsrv"),
    Setup("0.130", "codex-0.130"),
    Setup("0.130", "codex-0.171"),
    Setup("0.171", "execsrv"),
    Setup("0.171", "execsrv", "toml-url"),
    Setup("0.171", "execsrv", "toml-stdio"),
    Setup("0.171", "codex-0.171"),
    Setup("0.171", "codex-0.171", "toml-stdio"),
    Setup("0.171", "codex-0.130"),
]
CUT_SETUPS = [Setup("0.171", "execsrv"), Setup("0.171", "codex-0.171")]


def expected_failure(setup: Setup, scenario: str) -> str | None:
    """Why ``setup`` fails ``scenario`` today, or None when it must pass."""
    if setup.server == "codex-0.171" and setup.harness == "0.130":
        return (
            "codex 0.171's exec-server serves only 0.171: every plain path of the 0.130"
            " harness gets -32602 `invalid URI: relative URL without a base`"
        )
    if setup.server == "codex-0.130" and setup.harness == "0.171":
        return (
            "codex 0.130's exec-server serves only 0.130: the 0.171 harness's file: URIs"
            " get -32602 `AbsolutePathBuf deserialized without a base path` (fs/*) and"
            " -32603 `No such file or directory` (a pipe process/start's cwd; a tty start"
            " silently runs in $HOME instead)"
        )
    if scenario == "burst" and setup.harness == "0.130" and setup.server == "codex-0.130":
        return (
            "codex 0.130's server keeps 1 MiB per process and the 0.130 harness reads"
            " with process/read after each notification: a 6.9 MB burst loses its"
            " middle, silently (codex-harness.md §5.6)"
        )
    return None


def _params(scenario: str, setups: Sequence[Setup]) -> list[Any]:
    params = []
    for setup in setups:
        reason = expected_failure(setup, scenario)
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        params.append(pytest.param(setup, id=setup.id, marks=marks))
    return params


F = TypeVar("F", bound=Callable[..., None])


def scenario(
    name: str, run: str = "main_run", setups: Sequence[Setup] = MAIN_SETUPS
) -> Callable[[F], F]:
    """Run the test once per setup, on that setup's (shared) harness run."""
    return pytest.mark.parametrize(run, _params(name, setups), indirect=True, scope="module")


@dataclass(frozen=True)
class Played:
    """One setup's main turn and the workspace it played in."""

    run: HarnessRun
    workspace: sc.Workspace


@pytest.fixture(scope="module")
def main_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Played:
    setup: Setup = request.param
    workspace = sc.make_workspace(tmp_path_factory.mktemp("harness"))

    async def play() -> HarnessRun:
        after = partial(sc.left_running_is_gone, workspace.cwd)
        return await run_codex_exec(setup, sc.main_script(workspace), workspace.cwd, after=after)

    return Played(trio.run(play), workspace)


@pytest.fixture(scope="module")
def cut_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> HarnessRun:
    setup: Setup = request.param
    workspace = sc.make_workspace(tmp_path_factory.mktemp("harness-cut"))
    during = sc.cut_mid_command(workspace.cwd)

    async def play() -> HarnessRun:
        return await run_codex_exec(setup, sc.cut_script(), workspace.cwd, during=during)

    return trio.run(play)


def _output(run: HarnessRun, call_id: str) -> str:
    skipped = run.mock.script.skipped.get(call_id)
    assert skipped is None, f"the script skipped {call_id}: {skipped}"
    output = run.outputs.get(call_id)
    assert output is not None, f"codex never answered tool call {call_id}\n{run.describe()}"
    return output


def _local_path(wire_path: str) -> str:
    """A path as a request carried it: plain (0.130) or a file: URI (0.171)."""
    if wire_path.startswith("file:"):
        return unquote(urlsplit(wire_path).path, errors="surrogateescape")
    return wire_path


def _fs_paths(run: HarnessRun, method: str) -> list[str]:
    return [_local_path(path) for path in run.frames.paths(method)]


def _process_id(run: HarnessRun, command: str) -> str:
    process_id = run.frames.started_process(command)
    assert process_id is not None, f"no process/start ran {command!r}\n{run.describe()}"
    return process_id


@scenario("command")
def test_command_output_comes_from_the_executor(main_run: Played) -> None:
    run = main_run.run
    workspace = main_run.workspace
    output = _output(run, sc.COMMAND)
    assert f"marker={MARKER}" in output, run.describe()
    assert f"{workspace.cwd}\n" in output
    assert "Process exited with code 0" in output
    _process_id(run, sc.COMMAND_CMD)


@scenario("failing")
def test_failing_command_reports_exit_code_and_stderr(main_run: Played) -> None:
    run = main_run.run
    output = _output(run, sc.FAILING)
    assert "Process exited with code 3" in output, output
    assert "to-stdout" in output, output
    assert "to-stderr" in output, output


@scenario("streaming")
def test_long_command_streams_output(main_run: Played) -> None:
    run = main_run.run
    first = _output(run, sc.STREAM_START)
    assert "Process running with session ID" in first, first
    assert "tick-1" in first, first
    assert "tick-2" not in first, first
    rest = _output(run, sc.STREAM_REST)
    assert "tick-2" in rest, rest
    assert "Process exited with code 0" in rest, rest


@scenario("tty")
def test_tty_command_fed_by_write_stdin(main_run: Played) -> None:
    run = main_run.run
    workspace = main_run.workspace
    first = _output(run, sc.TTY_START)
    assert "Process running with session ID" in first, first
    answer = _output(run, sc.TTY_INPUT)
    assert f"got:{sc.TTY_INPUT_TEXT}" in answer, answer
    assert str(workspace.cwd) in first + answer  # in the cwd asked for, not somewhere else
    process_id = _process_id(run, sc.TTY_CMD)
    starts = run.frames.requests("process/start")
    assert any(s["params"]["processId"] == process_id and s["params"]["tty"] for s in starts)
    written = [
        base64.b64decode(w["params"]["chunk"])
        for w in run.frames.requests("process/write")
        if w["params"]["processId"] == process_id
    ]
    assert written == [f"{sc.TTY_INPUT_TEXT}\n".encode()]


@scenario("apply_patch")
def test_apply_patch_adds_and_edits_files_through_fs(main_run: Played) -> None:
    run = main_run.run
    workspace = main_run.workspace
    output = _output(run, sc.PATCH)
    assert workspace.added_file.read_text() == "added by apply_patch\n", output
    assert workspace.edited_file.read_text() == "first line\nnew middle\nlast line\n", output
    written = _fs_paths(run, "fs/writeFile")
    assert str(workspace.added_file) in written
    assert str(workspace.edited_file) in written


@scenario("agents_md")
def test_agents_md_from_the_repository_root_down_to_the_cwd(main_run: Played) -> None:
    run = main_run.run
    workspace = main_run.workspace
    assert run.mock.requests, run.describe()
    prompt = input_text(run.mock.requests[0])
    positions = [prompt.find(text) for _, text in workspace.docs]
    assert -1 not in positions, run.describe()
    assert positions == sorted(positions), run.describe()
    read = _fs_paths(run, "fs/readFile")
    for directory, _ in workspace.docs:
        assert str(directory / "AGENTS.md") in read


@scenario("odd_names")
def test_cwd_and_docs_with_spaces_percent_and_non_ascii(main_run: Played) -> None:
    run = main_run.run
    workspace = main_run.workspace
    assert f"\n{workspace.cwd}\n" in _output(run, sc.COMMAND)
    starts = run.frames.requests("process/start")
    assert starts
    assert all(_local_path(s["params"]["cwd"]) == str(workspace.cwd) for s in starts)
    if run.setup.harness == "0.171":  # percent-encoded UTF-8 on the wire
        assert all("odd%20dir%20100%25%20%C3%BC" in s["params"]["cwd"] for s in starts)
    assert workspace.added_file.exists(), run.describe()
    assert str(workspace.cwd / "AGENTS.md") in _fs_paths(run, "fs/readFile")


@scenario("burst")
def test_multi_megabyte_burst_arrives_whole(main_run: Played) -> None:
    run = main_run.run
    output = _output(run, sc.BURST)
    assert "Process exited with code 0" in output, output[:2000]
    # codex shows the model a head and a tail (with a truncation note of its own).
    assert "\n1\n2\n3\n4\n5\n" in output, output[:300]
    assert output.rstrip("\n").endswith("\n999998\n999999\n1000000"), output[-300:]
    # What the server delivered to the harness, byte for byte (the 0.130 harness
    # builds its output only from process/read results).
    process_id = _process_id(run, sc.BURST_CMD)
    delivered, _ = run.frames.output_delivered(process_id, from_reads=run.setup.harness == "0.130")
    assert len(delivered) == sc.BURST_BYTES, f"{sc.BURST_BYTES - len(delivered)} bytes lost"
    assert delivered == "".join(f"{n}\n" for n in range(1, sc.BURST_LINES + 1)).encode()


@scenario("left_running")
def test_command_left_running_at_the_end_of_the_turn_is_terminated(main_run: Played) -> None:
    run = main_run.run
    output = _output(run, sc.LEFT_RUNNING)
    assert "Process running with session ID" in output, output
    process_id = _process_id(run, sc.LEFT_RUNNING_CMD)
    terminates = [
        t
        for t in run.frames.requests("process/terminate")
        if t["params"]["processId"] == process_id
    ]
    assert terminates, run.describe()  # the harness asked for the kill...
    assert run.after_result == "gone", run.describe()  # ...and it happened


@scenario("cut_connection", run="cut_run", setups=CUT_SETUPS)
def test_connection_cut_mid_command_is_resumed_with_nothing_lost(cut_run: HarnessRun) -> None:
    output = _output(cut_run, sc.CUT)
    assert "Process exited with code 0" in output, cut_run.describe()
    assert output.split("Output:\n", 1)[1].rstrip("\n") == sc.CUT_EXPECTED.rstrip("\n")
    initializes = cut_run.frames.requests("initialize")
    assert len(initializes) == 2, cut_run.describe()
    first = cut_run.frames.response_to(initializes[0])
    resumed = cut_run.frames.response_to(initializes[1])
    assert first is not None
    assert resumed is not None
    session = first["result"]["sessionId"]
    assert initializes[1]["params"]["resumeSessionId"] == session
    assert resumed.get("result", {}).get("sessionId") == session, resumed
    delivered, _ = cut_run.frames.output_delivered(
        _process_id(cut_run, "cut-here"), from_reads=False
    )
    assert delivered == sc.CUT_EXPECTED.encode()


@scenario("advertised", setups=[setup for setup in MAIN_SETUPS if setup.harness == "0.171"])
def test_the_0171_harness_uses_what_the_server_advertises(main_run: Played) -> None:
    """``environmentInfo`` in ``initialize`` makes the 0.171 harness use the gated
    features (codex-exec-server-0.171.md §6.2): each is answered with a result, and
    nothing but ``-32004`` (a missing path) comes back as an error."""
    frames = main_run.run.frames
    (initialize, *_) = frames.requests("initialize")
    answer = frames.response_to(initialize)
    assert answer is not None
    assert "environmentInfo" in answer["result"], answer
    assert frames.requests("environment/info") == []  # only asked when initialize lacks it
    for method in ("fs/watchMissing", "environmentConfig/read"):
        requests = frames.requests(method)
        assert requests, f"the harness did not call {method}"
        for request in requests:
            response = frames.response_to(request)
            assert response is not None, request
            assert "result" in response, (request, response)
    errors = [
        frame.message["error"]
        for frame in frames.frames
        if frame.sender == "server" and "error" in frame.message
    ]
    assert all(error["code"] == -32004 for error in errors), errors


# Sandboxed turns (issue 11, point 5): `workspace-write` and `read-only`, each
# harness generation against execsrv and against its own generation's codex server
# (which enforces them: the reference). execsrv runs in a mount namespace where the
# harness's CODEX_HOME is hidden, as on a remote host: the 0.130 harness's
# `codex-linux-sandbox` link is not there, so execsrv must unwrap it itself.

SANDBOXED_SETUPS = [
    Setup(harness, server, sandbox=mode)
    for harness, server in [
        ("0.130", "execsrv"),
        ("0.130", "codex-0.130"),
        ("0.171", "execsrv"),
        ("0.171", "codex-0.171"),
    ]
    for mode in ("workspace-write", "read-only")
]
WORKSPACE_WRITE = [setup for setup in SANDBOXED_SETUPS if setup.sandbox == "workspace-write"]
READ_ONLY = [setup for setup in SANDBOXED_SETUPS if setup.sandbox == "read-only"]
WRAPPER_ARG0 = "codex-linux-sandbox"
DENIALS = ("Read-only file system", "Permission denied")
"""What a shell prints for a write the sandbox refused: bubblewrap's read-only mounts
give EROFS, Landlock gives EACCES."""


@dataclass(frozen=True)
class PlayedSandboxed:
    """One setup's sandboxed turn and the workspace it played in."""

    run: HarnessRun
    workspace: sc.SandboxedWorkspace


@pytest.fixture(scope="module")
def sandboxed_run(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PlayedSandboxed]:
    setup: Setup = request.param
    outside = sc.make_outside_dir()
    try:
        workspace = sc.make_sandboxed_workspace(tmp_path_factory.mktemp("sandboxed"), outside)
        if setup.sandbox == "workspace-write":
            script = sc.workspace_write_script(workspace)
        else:
            script = sc.read_only_script(workspace)

        async def play() -> HarnessRun:
            return await run_codex_exec(setup, script, workspace.cwd)

        yield PlayedSandboxed(trio.run(play), workspace)
    finally:
        shutil.rmtree(outside, ignore_errors=True)


def _restricted(profile: Any) -> bool:
    """A permission profile (0.130 and 0.171 shapes alike) that restricts the file system."""
    return isinstance(profile, dict) and profile.get("file_system", {}).get("type") == "restricted"


def _confined_start(run: HarnessRun, needle: str) -> str:
    """The process id of the start whose command holds ``needle``, checked to be one the
    harness asked to confine, and (0.171) that the server said it confined."""
    process_id = _process_id(run, needle)
    (start,) = [
        s for s in run.frames.requests("process/start") if s["params"]["processId"] == process_id
    ]
    params = start["params"]
    if run.setup.harness == "0.171":  # the profile travels, the server enforces it
        assert params["argv"][:2] == ["/bin/bash", "-lc"], params["argv"]
        assert _restricted(params["sandbox"]["permissions"]), params["sandbox"]
        answer = run.frames.response_to(start)
        assert answer is not None
        assert answer.get("result", {}).get("sandboxType") == "linuxSeccomp", answer
    else:  # the harness wraps the command in its own sandbox helper
        argv = params["argv"]
        assert PurePosixPath(params["arg0"]).name == WRAPPER_ARG0, params
        assert argv[0] == params["arg0"], params
        profile = json.loads(argv[argv.index("--permission-profile") + 1])
        assert _restricted(profile), profile
        assert argv[argv.index("--") + 1 : argv.index("--") + 3] == ["/bin/bash", "-lc"], argv
    return process_id


def _sandbox_denied(run: HarnessRun, process_id: str) -> bool | None:
    """``sandboxDenied`` of the process's exit (0.171; None for 0.130, which lacks it)."""
    if run.setup.harness == "0.130":
        return None
    (exited,) = [
        n["params"]
        for n in run.frames.notifications("process/exited")
        if n["params"]["processId"] == process_id
    ]
    return exited.get("sandboxDenied")


def _assert_refused_write(played: PlayedSandboxed, call_id: str, target: Path) -> None:
    """The command ran, confined, and the kernel refused its write; the model saw it."""
    run = played.run
    output = _output(run, call_id)
    assert not target.exists(), f"{target} was written\n{output}"
    exit_code = re.search(r"Process exited with code (-?\d+)", output)
    assert exit_code is not None, output
    assert exit_code.group(1) != "0", output
    assert any(denial in output for denial in DENIALS), output
    process_id = _confined_start(run, target.name)
    assert _sandbox_denied(run, process_id) in (None, True)


@scenario("sandboxed_shell_write", run="sandboxed_run", setups=WORKSPACE_WRITE)
def test_workspace_write_lets_a_command_write_in_the_workspace(
    sandboxed_run: PlayedSandboxed,
) -> None:
    run = sandboxed_run.run
    workspace = sandboxed_run.workspace
    output = _output(run, sc.SHELL_WRITE)
    assert "Process exited with code 0" in output, output
    assert sc.SHELL_WRITE_TEXT in output, output
    assert workspace.written_file.read_text() == f"{sc.SHELL_WRITE_TEXT}\n"
    process_id = _confined_start(run, workspace.written_file.name)
    assert _sandbox_denied(run, process_id) in (None, False)


@scenario("sandboxed_patch", run="sandboxed_run", setups=WORKSPACE_WRITE)
def test_workspace_write_lets_apply_patch_add_and_update_files(
    sandboxed_run: PlayedSandboxed,
) -> None:
    run = sandboxed_run.run
    workspace = sandboxed_run.workspace
    output = _output(run, sc.SANDBOXED_PATCH)
    assert "Success." in output, output
    assert workspace.added_file.read_text() == sc.ADDED_TEXT
    assert workspace.edited_file.read_text() == sc.EDITED_AFTER
    # The writes went through fs/* under the restricted profile (0.130: every call of
    # the patch; 0.171: the writes), and the executor carried them out.
    patched = {str(workspace.added_file), str(workspace.edited_file)}
    method = "fs/writeFile" if run.setup.harness == "0.171" else "fs/"
    calls = [
        frame.message
        for frame in run.frames.frames
        if frame.sender == "client"
        and str(frame.message.get("method", "")).startswith(method)
        and _local_path(str(frame.message["params"].get("path"))) in patched
    ]
    written = {_local_path(c["params"]["path"]) for c in calls if c["method"] == "fs/writeFile"}
    assert written == patched, run.describe()
    for call in calls:
        assert _restricted(call["params"]["sandbox"]["permissions"]), call
        if call["method"] == "fs/writeFile":  # (probes of the file to add find nothing)
            answer = run.frames.response_to(call)
            assert answer is not None, call
            assert "result" in answer, (call, answer)


@scenario("sandboxed_outside_write", run="sandboxed_run", setups=WORKSPACE_WRITE)
def test_workspace_write_refuses_a_write_outside_the_roots(
    sandboxed_run: PlayedSandboxed,
) -> None:
    _assert_refused_write(sandboxed_run, sc.OUTSIDE_WRITE, sandboxed_run.workspace.outside_file)


@scenario("sandboxed_git_write", run="sandboxed_run", setups=WORKSPACE_WRITE)
def test_workspace_write_refuses_a_write_into_git(sandboxed_run: PlayedSandboxed) -> None:
    _assert_refused_write(sandboxed_run, sc.GIT_WRITE, sandboxed_run.workspace.git_file)


@scenario("sandboxed_tty_outside_write", run="sandboxed_run", setups=WORKSPACE_WRITE)
def test_workspace_write_refuses_a_write_outside_the_roots_from_a_tty(
    sandboxed_run: PlayedSandboxed,
) -> None:
    target = sandboxed_run.workspace.tty_outside_file
    _assert_refused_write(sandboxed_run, sc.TTY_OUTSIDE_WRITE, target)
    process_id = _process_id(sandboxed_run.run, target.name)
    starts = sandboxed_run.run.frames.requests("process/start")
    assert [s["params"]["tty"] for s in starts if s["params"]["processId"] == process_id] == [True]


@scenario("sandboxed_shell_read", run="sandboxed_run", setups=READ_ONLY)
def test_read_only_lets_a_command_read(sandboxed_run: PlayedSandboxed) -> None:
    run = sandboxed_run.run
    output = _output(run, sc.SHELL_READ)
    assert "Process exited with code 0" in output, output
    assert sc.READABLE_TEXT in output, output
    process_id = _confined_start(run, sandboxed_run.workspace.readable_file.name)
    assert _sandbox_denied(run, process_id) in (None, False)


@scenario("sandboxed_refused_write", run="sandboxed_run", setups=READ_ONLY)
def test_read_only_refuses_a_write_in_the_workspace(sandboxed_run: PlayedSandboxed) -> None:
    _assert_refused_write(sandboxed_run, sc.SHELL_WRITE, sandboxed_run.workspace.written_file)


@scenario("sandboxed_refused_patch", run="sandboxed_run", setups=READ_ONLY)
def test_read_only_apply_patch_is_refused_by_the_harness(sandboxed_run: PlayedSandboxed) -> None:
    """Both generations refuse the patch themselves under ``read-only`` with approvals
    off: the executor is never asked to write."""
    run = sandboxed_run.run
    workspace = sandboxed_run.workspace
    output = _output(run, sc.SANDBOXED_PATCH)
    assert "patch rejected: writing is blocked by read-only sandbox" in output, output
    assert not workspace.added_file.exists()
    assert workspace.edited_file.read_text() == sc.EDITED_BEFORE
    assert run.frames.requests("fs/writeFile") == [], run.describe()
