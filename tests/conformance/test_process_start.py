"""``process/start`` and the events of a process (spec §4.3, §5, §6)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import trio

from execsrv.protocol.generation import Generation
from execsrv.protocol.process import UNREADABLE_CONFINEMENT

from ..conftest import CHILD_ENV
from ..servers import ROOT, ServerKind
from ..wire import WireClient
from .support import (
    EXITED_EXTENSIONS,
    SANDBOX_DENIED,
    START_0171_FIELDS,
    V0_130,
    V0_171,
    WAIT,
    error,
    events_until_closed,
    exit_code_of,
    output_of,
    run_to_close,
    start,
    start_params,
    unb64,
    without_added_fields,
    without_extensions,
    write_params,
)

CORE_VARS = {
    "HOME",
    "LANG",
    "LOGNAME",
    "PATH",
    "SHELL",
    "TEMP",
    "TMP",
    "TMPDIR",
    "USER",
    "USERNAME",
}
NO_SUCH_FILE = "No such file or directory (os error 2)"


def spawn_error(generation: Generation, message: str, data_kind: str) -> dict[str, object]:
    """A failed spawn's error: 0.171 adds ``data.kind`` (codex-exec-server-0.171.md §2.1)."""
    if generation is V0_130:
        return error(-32603, message)
    return {**error(-32603, message), "data": {"kind": data_kind}}


def parse_env(output: bytes) -> dict[str, str]:
    return dict(line.split("=", 1) for line in output.decode().splitlines())


def assert_servers_path(path: str) -> None:
    """The child got the server's own PATH (codex prepends its helper directory)."""
    assert path == os.environ["PATH"] or path.endswith(":" + os.environ["PATH"])


def policy(inherit: str, **fields: object) -> dict[str, object]:
    return {
        "inherit": inherit,
        "ignoreDefaultExcludes": False,
        "exclude": [],
        "set": {},
        "includeOnly": [],
        **fields,
    }


# -- events and seqs -----------------------------------------------------------


async def test_one_seq_counter_for_output_exited_and_closed(
    wire: WireClient,
    kind: ServerKind,
    generation: Generation,
) -> None:
    with trio.fail_after(WAIT):
        events = await run_to_close(
            wire, generation, "p", ["sh", "-c", "echo out; echo err >&2; exit 3"]
        )
    # events_until_closed checked the seqs are exactly 1..n; closed is the last.
    methods = [e["method"] for e in events]
    assert methods[-1] == "process/closed"
    assert methods.count("process/exited") == 1
    assert methods.count("process/closed") == 1
    assert output_of(events, "stdout") == b"out\n"
    assert output_of(events, "stderr") == b"err\n"
    assert exit_code_of(events) == 3
    for event in events:
        params = event["params"]
        if event["method"] == "process/output":
            assert set(params) == {"processId", "seq", "stream", "chunk"}
        elif event["method"] == "process/exited":
            params = without_extensions(kind, params, EXITED_EXTENSIONS)
            params = without_added_fields(generation, kind, params, SANDBOX_DENIED)
            assert params == {"processId": "p", "seq": params["seq"], "exitCode": 3}
        else:
            assert params == {"processId": "p", "seq": len(events)}


async def test_output_after_the_child_exits_gets_later_seqs(
    wire: WireClient, generation: Generation
) -> None:
    """A grandchild holding the pipe keeps producing output after ``exited``."""
    script = "echo early; (sleep 0.3; echo late) & exit 0"
    with trio.fail_after(WAIT):
        events = await run_to_close(wire, generation, "p", ["sh", "-c", script])
    seq_of = {}
    for event in events:
        if event["method"] == "process/output":
            for line in unb64(event["params"]["chunk"]).decode().split():
                seq_of[line] = event["params"]["seq"]
        else:
            seq_of[event["method"]] = event["params"]["seq"]
    assert seq_of["early"] < seq_of["late"]
    assert seq_of["process/exited"] < seq_of["late"] < seq_of["process/closed"]
    assert exit_code_of(events) == 0


@pytest.mark.parametrize(("script", "code"), [("exit 0", 0), ("exit 255", 255)])
async def test_exit_codes(wire: WireClient, script: str, code: int, generation: Generation) -> None:
    with trio.fail_after(WAIT):
        events = await run_to_close(wire, generation, "p", ["sh", "-c", script])
    assert exit_code_of(events) == code


@pytest.mark.parametrize(("signal", "signo"), [("KILL", 9), ("TERM", 15), ("HUP", 1)])
async def test_signal_death_exit_code(
    wire: WireClient,
    kind: ServerKind,
    generation: Generation,
    request: pytest.FixtureRequest,
    signal: str,
    signo: int,
) -> None:
    with trio.fail_after(WAIT):
        events = await run_to_close(wire, generation, "p", ["sh", "-c", f"kill -{signal} $$"])
    # codex-exec-server-0.171.md §2.3: a pipe-mode signal death is 128+N in 0.171, -1 in 0.130.
    assert exit_code_of(events) == (-1 if generation is V0_130 else 128 + signo)


async def test_start_result(
    wire: WireClient, kind: ServerKind, generation: Generation, request: pytest.FixtureRequest
) -> None:
    with trio.fail_after(WAIT):
        response = await wire.request("process/start", start_params(generation, "p", ["true"]))
        await events_until_closed(wire, "p")
    result = response["result"]
    if generation is V0_171:
        # codex-exec-server-0.171.md §2.3: 0.171 says which sandbox the process runs in.
        assert result == {"processId": "p", "sandboxType": "none"}
    else:
        assert without_added_fields(generation, kind, result, START_0171_FIELDS) == {
            "processId": "p"
        }


async def test_output_bytes_are_exact(wire: WireClient, generation: Generation) -> None:
    script = r"printf '\377\000\001caf\303\251\n'; printf '\342\202' >&2"
    with trio.fail_after(WAIT):
        events = await run_to_close(wire, generation, "p", ["sh", "-c", script])
    assert output_of(events, "stdout") == b"\xff\x00\x01caf\xc3\xa9\n"
    assert output_of(events, "stderr") == b"\xe2\x82"


async def test_empty_process_id_is_allowed(wire: WireClient, generation: Generation) -> None:
    with trio.fail_after(WAIT):
        events = await run_to_close(wire, generation, "", ["sh", "-c", "echo x"])
    assert output_of(events) == b"x\n"


async def test_unknown_start_fields_are_ignored(
    wire: WireClient, generation: Generation, kind: ServerKind
) -> None:
    """Later codex fields (sandbox, managedNetwork) are unknown to 0.130.0. (execsrv
    refuses ``enforceManagedNetwork: true`` in either form, and a ``sandbox`` it cannot
    read: it cannot enforce them, and fails closed.)"""
    extra: dict[str, object] = {"enforceManagedNetwork": False, "unknownField": [1]}
    if generation is V0_130:
        # codex-exec-server-0.171.md §2.3: 0.171 knows `sandbox` and type-checks it.
        extra["sandbox"] = {"x": 1}
        if kind == "execsrv":
            with trio.fail_after(WAIT):
                response = await wire.request(
                    "process/start", start_params(generation, "p", ["true"], **extra)
                )
            message = UNREADABLE_CONFINEMENT.format(field="sandbox")
            assert response["error"] == error(-32600, message)
            del extra["sandbox"]
    with trio.fail_after(WAIT):
        events = await run_to_close(wire, generation, "p", ["sh", "-c", "echo x"], **extra)
    assert output_of(events) == b"x\n"


# -- environment ---------------------------------------------------------------


async def test_env_is_exact(wire: WireClient, generation: Generation) -> None:
    with trio.fail_after(WAIT):
        events = await run_to_close(wire, generation, "p", ["/usr/bin/env"], env={"ONLY": "1"})
    assert output_of(events) == b"ONLY=1\n"


async def test_empty_env(wire: WireClient, generation: Generation) -> None:
    with trio.fail_after(WAIT):
        events = await run_to_close(wire, generation, "p", ["/usr/bin/env"], env={})
    assert output_of(events) == b""


async def test_program_is_found_on_the_childs_path(
    wire: WireClient, tmp_path: Path, generation: Generation
) -> None:
    program = tmp_path / "only-here"
    program.write_text("#!/bin/sh\necho found me\n")
    program.chmod(0o755)
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin"}
    with trio.fail_after(WAIT):
        events = await run_to_close(wire, generation, "p", ["only-here"], env=env)
    assert output_of(events) == b"found me\n"


async def test_env_policy_core_then_set_then_env(wire: WireClient, generation: Generation) -> None:
    env_policy = policy("core", set={"FROMSET": "s", "BOTH": "set"})
    with trio.fail_after(WAIT):
        events = await run_to_close(
            wire,
            generation,
            "p",
            ["/usr/bin/env"],
            env={"ONLY": "1", "BOTH": "env"},
            envPolicy=env_policy,
        )
    child = parse_env(output_of(events))
    assert child["FROMSET"] == "s"
    assert child["ONLY"] == "1"
    assert child["BOTH"] == "env"  # env is laid over the policy's result
    assert_servers_path(child["PATH"])
    assert set(child) <= CORE_VARS | {"FROMSET", "ONLY", "BOTH"}


async def test_env_policy_none(wire: WireClient, generation: Generation) -> None:
    env_policy = policy("none", set={"FROMSET": "s"})
    with trio.fail_after(WAIT):
        events = await run_to_close(
            wire, generation, "p", ["/usr/bin/env"], env={"ONLY": "1"}, envPolicy=env_policy
        )
    assert parse_env(output_of(events)) == {"FROMSET": "s", "ONLY": "1"}


async def test_env_policy_include_only_filters_set_but_not_env(
    wire: WireClient, generation: Generation
) -> None:
    env_policy = policy("all", set={"FROMSET": "s"}, includeOnly=["PAT?"])
    with trio.fail_after(WAIT):
        events = await run_to_close(
            wire, generation, "p", ["/usr/bin/env"], env={"ONLY": "1"}, envPolicy=env_policy
        )
    child = parse_env(output_of(events))
    assert set(child) == {"PATH", "ONLY"}
    assert child["ONLY"] == "1"
    assert_servers_path(child["PATH"])


async def test_env_policy_exclude(wire: WireClient, generation: Generation) -> None:
    env_policy = policy("core", exclude=["p*"], set={"KEEP": "1"})
    with trio.fail_after(WAIT):
        events = await run_to_close(
            wire, generation, "p", ["/usr/bin/env"], env={}, envPolicy=env_policy
        )
    child = parse_env(output_of(events))
    assert "PATH" not in child  # patterns are case-insensitive
    assert child["KEEP"] == "1"


async def test_env_policy_default_excludes_spare_set(
    wire: WireClient, generation: Generation
) -> None:
    """The *KEY*, *SECRET*, *TOKEN* excludes apply to inherited variables, not to `set`."""
    secrets = {"API_KEY": "1", "MY_SECRET": "2", "GH_TOKEN": "3", "PLAIN": "4"}
    with trio.fail_after(WAIT):
        dropped = await run_to_close(
            wire, generation, "a", ["/usr/bin/env"], env={}, envPolicy=policy("none", set=secrets)
        )
        kept = await run_to_close(
            wire,
            generation,
            "b",
            ["/usr/bin/env"],
            env={},
            envPolicy=policy("none", set=secrets, ignoreDefaultExcludes=True),
        )
    assert parse_env(output_of(dropped)) == secrets
    assert parse_env(output_of(kept)) == secrets


# -- argv, arg0, stdin, cwd ----------------------------------------------------------


async def test_arg0(wire: WireClient, generation: Generation) -> None:
    with trio.fail_after(WAIT):
        shell = await run_to_close(
            wire, generation, "a", ["sh", "-c", "echo $0"], arg0="custom-name"
        )
        cmdline = await run_to_close(
            wire, generation, "b", ["/bin/cat", "/proc/self/cmdline"], arg0="fake-cat"
        )
    assert output_of(shell) == b"custom-name\n"
    assert output_of(cmdline) == b"fake-cat\0/proc/self/cmdline\0"


@pytest.mark.parametrize("pipe_stdin", [..., False, True])
async def test_stdin_is_dev_null_unless_piped(
    wire: WireClient, pipe_stdin: object, generation: Generation
) -> None:
    extra = {} if pipe_stdin is ... else {"pipeStdin": pipe_stdin}
    with trio.fail_after(WAIT):
        events = await run_to_close(
            wire, generation, "p", ["sh", "-c", "readlink /proc/$$/fd/0"], **extra
        )
    target = output_of(events).decode().strip()
    if pipe_stdin is True:
        assert target.startswith("pipe:[")
    else:
        assert target == "/dev/null"


async def test_relative_cwd_is_relative_to_the_servers_cwd(
    wire: WireClient, kind: ServerKind, generation: Generation
) -> None:
    params = {**start_params(generation, "p", ["sh", "-c", "pwd -P"]), "cwd": "tests"}
    if generation is V0_171 and kind == "codex":
        # codex-exec-server-0.171.md §2.3: a 0.171 cwd is a URI, a relative path is refused.
        # execsrv reads a plain path as 0.130's form in any session (issue 10, point 1).
        response = await wire.request("process/start", params)
        assert response["error"] == error(-32602, "invalid URI: relative URL without a base")
        return
    # Both servers run from the repository root (tests/servers.py).
    with trio.fail_after(WAIT):
        assert "result" in await wire.request("process/start", params)
        events = await events_until_closed(wire, "p")
    assert output_of(events).decode().strip() == str((ROOT / "tests").resolve())


async def test_missing_cwd(
    wire: WireClient, generation: Generation, kind: ServerKind, request: pytest.FixtureRequest
) -> None:
    with trio.fail_after(WAIT):
        response = await wire.request(
            "process/start", start_params(generation, "p", ["true"], cwd="/no/such/dir")
        )
    assert response["error"] == spawn_error(generation, NO_SUCH_FILE, "spawnNotFound")


async def test_cwd_is_a_file(
    wire: WireClient, generation: Generation, kind: ServerKind, request: pytest.FixtureRequest
) -> None:
    with trio.fail_after(WAIT):
        response = await wire.request(
            "process/start", start_params(generation, "p", ["true"], cwd="/etc/hostname")
        )
    assert response["error"] == spawn_error(
        generation, "Not a directory (os error 20)", "spawnFailed"
    )


@pytest.mark.parametrize(
    ("argv", "message", "data_kind"),
    [
        (["/no/such/program"], NO_SUCH_FILE, "spawnNotFound"),
        (["no-such-program-on-path"], NO_SUCH_FILE, "spawnNotFound"),
        (["/"], "Permission denied (os error 13)", "spawnPermissionDenied"),
    ],
)
async def test_spawn_errors(
    wire: WireClient,
    argv: list[str],
    message: str,
    data_kind: str,
    generation: Generation,
    kind: ServerKind,
    request: pytest.FixtureRequest,
) -> None:
    with trio.fail_after(WAIT):
        response = await wire.request("process/start", start_params(generation, "p", argv))
    assert response["error"] == spawn_error(generation, message, data_kind)


async def test_not_executable(
    wire: WireClient,
    tmp_path: Path,
    generation: Generation,
    kind: ServerKind,
    request: pytest.FixtureRequest,
) -> None:
    program = tmp_path / "plain"
    program.write_text("#!/bin/sh\necho never\n")
    with trio.fail_after(WAIT):
        response = await wire.request(
            "process/start", start_params(generation, "p", [str(program)])
        )
    assert response["error"] == spawn_error(
        generation, "Permission denied (os error 13)", "spawnPermissionDenied"
    )


async def test_exec_format_error(
    wire: WireClient,
    tmp_path: Path,
    generation: Generation,
    kind: ServerKind,
    request: pytest.FixtureRequest,
) -> None:
    program = tmp_path / "garbage"
    program.write_bytes(b"\x7fELF\x00garbage")
    program.chmod(0o755)
    with trio.fail_after(WAIT):
        response = await wire.request(
            "process/start", start_params(generation, "p", [str(program)])
        )
    assert response["error"] == spawn_error(
        generation, "Exec format error (os error 8)", "spawnFailed"
    )


async def test_retry_after_failed_spawn(
    wire: WireClient, generation: Generation, kind: ServerKind, request: pytest.FixtureRequest
) -> None:
    with trio.fail_after(WAIT):
        failed = await wire.request(
            "process/start", start_params(generation, "p", ["/no/such/program"])
        )
        assert failed["error"] == spawn_error(generation, NO_SUCH_FILE, "spawnNotFound")
        events = await run_to_close(wire, generation, "p", ["sh", "-c", "echo second try"])
    assert output_of(events) == b"second try\n"


async def test_duplicate_process_id(wire: WireClient, generation: Generation) -> None:
    with trio.fail_after(WAIT):
        await start(wire, generation, "p", ["cat"], pipeStdin=True)
        running = await wire.request("process/start", start_params(generation, "p", ["true"]))
        assert running["error"] == error(-32600, "process p already exists")
        await run_to_close(wire, generation, "done", ["true"])
        # A closed process keeps its id during retention (30 s).
        closed = await wire.request("process/start", start_params(generation, "done", ["true"]))
        assert closed["error"] == error(-32600, "process done already exists")
        assert (await wire.request("process/terminate", {"processId": "p"}))["result"] == {
            "running": True
        }


# -- PTY -----------------------------------------------------------------------------


async def test_pty_size_and_stream_name(wire: WireClient, generation: Generation) -> None:
    with trio.fail_after(WAIT):
        events = await run_to_close(
            wire, generation, "p", ["sh", "-c", "stty size; echo err >&2"], tty=True
        )
    streams = {e["params"]["stream"] for e in events if e["method"] == "process/output"}
    assert streams == {"pty"}
    assert output_of(events).replace(b"\r\n", b"\n") == b"24 80\nerr\n"
    assert exit_code_of(events) == 0


async def test_pty_adds_shell(wire: WireClient, generation: Generation) -> None:
    with trio.fail_after(WAIT):
        events = await run_to_close(
            wire, generation, "p", ["/usr/bin/env"], env={"ONLY": "1"}, tty=True
        )
    lines = output_of(events).decode().split("\r\n")
    assert sorted(line for line in lines if line) == ["ONLY=1", "SHELL=/bin/bash"]


async def test_pty_signal_death_reports_1(wire: WireClient, generation: Generation) -> None:
    with trio.fail_after(WAIT):
        events = await run_to_close(wire, generation, "p", ["sh", "-c", "kill -TERM $$"], tty=True)
    assert exit_code_of(events) == 1


async def test_pty_stdin_is_writable(wire: WireClient, generation: Generation) -> None:
    with trio.fail_after(WAIT):
        await start(wire, generation, "p", ["sh", "-c", "read line; echo got $line"], tty=True)
        write = await wire.request("process/write", write_params(generation, "p", "aGkK"))
        assert write["result"] == {"status": "accepted"}
        events = await events_until_closed(wire, "p")
    assert b"got hi" in output_of(events)


async def test_pty_bad_cwd(wire: WireClient, kind: ServerKind, generation: Generation) -> None:
    with trio.fail_after(WAIT):
        response = await wire.request(
            "process/start", start_params(generation, "p", ["true"], cwd="/no/such/dir", tty=True)
        )
    if kind == "codex":
        # DESIGN §1.1.4: codex starts a PTY process with a bad cwd anyway (the
        # child then fails); execsrv fails the start like a pipe process does.
        assert "result" in response, response
    else:
        assert response["error"] == spawn_error(generation, NO_SUCH_FILE, "spawnNotFound")


def test_child_env_fixture_is_minimal() -> None:
    assert set(CHILD_ENV) == {"PATH", "LANG"}
