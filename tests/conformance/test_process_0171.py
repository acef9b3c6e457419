"""``process/*`` as codex 0.171 speaks it: requests with a ``file:`` URI ``cwd``.

Run against execsrv and (under the ``interop`` mark, with ``EXECSRV_CODEX_171_BIN``)
against the real codex 0.171.0 binary. Where execsrv deliberately differs (it has no
sandbox, so it refuses what 0.171 would confine; it keeps accepting writes without
``writeId`` and its extension signal names), the test branches on ``kind``.
The same behaviours for 0.130 requests (plain ``cwd``) are pinned by the other
``test_process_*.py`` files.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio

from ..conftest import CHILD_ENV
from ..wire import WireClient, open_wire
from .conftest import ONLY_0171
from .support import WAIT, b64, error, events_until_closed, exit_code_of, output_of, unb64

pytestmark = ONLY_0171

THREAD_ID = "0b7e3d4c-1111-4222-8333-444455556666"


def start_params(process_id: str, argv: list[str], **extra: Any) -> dict[str, Any]:
    """``process/start`` params as codex 0.171 sends them: a URI ``cwd``."""
    return {
        "processId": process_id,
        "argv": argv,
        "cwd": "file:///tmp",
        "env": dict(CHILD_ENV),
        "tty": False,
        **extra,
    }


async def start(wire: WireClient, process_id: str, argv: list[str], **extra: Any) -> None:
    response = await wire.request("process/start", start_params(process_id, argv, **extra))
    assert response.get("result") == {"processId": process_id, "sandboxType": "none"}, response


async def start_error(wire: WireClient, **extra: Any) -> dict[str, Any]:
    params = {**start_params("e", ["true"]), **extra}
    response = await wire.request("process/start", params)
    assert "error" in response, response
    result: dict[str, Any] = response["error"]
    return result


async def write(wire: WireClient, process_id: str, data: bytes, **extra: Any) -> dict[str, Any]:
    params = {"processId": process_id, "chunk": b64(data), **extra}
    response: dict[str, Any] = await wire.request("process/write", params)
    return response


async def read_all(wire: WireClient, process_id: str, **params: Any) -> dict[str, Any]:
    response = await wire.request("process/read", {"processId": process_id, **params})
    result: dict[str, Any] = response["result"]
    return result


# -- process/write writeId ---------------------------------------------------------


async def test_a_repeated_write_id_is_acknowledged_not_written(wire: WireClient) -> None:
    with trio.fail_after(WAIT):
        await start(wire, "c", ["cat"], pipeStdin=True)
        for data, write_id in ((b"a", "1"), (b"b", "1"), (b"c", "2"), (b"d", " ")):
            assert (await write(wire, "c", data, writeId=write_id))["result"] == {
                "status": "accepted"
            }
        output, after = b"", 0
        while len(output) < 3:
            read = await read_all(wire, "c", afterSeq=after, waitMs=WAIT * 1000)
            output += b"".join(unb64(chunk["chunk"]) for chunk in read["chunks"])
            after = read["nextSeq"] - 1
        await wire.request("process/terminate", {"processId": "c"})
    assert output == b"acd"


async def test_write_id_must_not_be_empty(wire: WireClient) -> None:
    with trio.fail_after(WAIT):
        await start(wire, "c", ["cat"], pipeStdin=True)
        response = await write(wire, "c", b"x", writeId="")
        assert response["error"] == error(-32602, "writeId must not be empty")
        response = await write(wire, "c", b"x", writeId=True)
        assert response["error"] == error(-32602, "invalid type: boolean `true`, expected a string")


async def test_a_write_without_write_id(wire: WireClient, kind: str) -> None:
    """codex 0.171 requires it; execsrv also takes a write without one (0.130's form)."""
    with trio.fail_after(WAIT):
        await start(wire, "c", ["cat"], pipeStdin=True)
        response = await write(wire, "c", b"x")
    if kind == "execsrv":
        assert response["result"] == {"status": "accepted"}
    else:
        assert response["error"] == error(-32602, "missing field `writeId`")


async def test_write_ids_of_refused_writes_are_not_remembered(wire: WireClient) -> None:
    with trio.fail_after(WAIT):
        await start(wire, "n", ["sleep", "5"])  # no writable stdin
        for _ in range(2):
            response = await write(wire, "n", b"x", writeId="1")
            assert response["result"] == {"status": "stdinClosed"}
        for _ in range(2):
            response = await write(wire, "nope", b"x", writeId="1")
            assert response["result"] == {"status": "unknownProcess"}
        await wire.request("process/terminate", {"processId": "n"})


async def test_a_repeated_write_id_is_acknowledged_after_resume(
    url: str,
) -> None:
    async with open_wire(url) as first:
        with trio.fail_after(WAIT):
            session = await first.handshake()
            await start(first, "c", ["cat"], pipeStdin=True)
            assert (await write(first, "c", b"a", writeId="1"))["result"]["status"] == "accepted"
            await first.next_notification("process/output")
    async with open_wire(url) as second:
        with trio.fail_after(WAIT):
            resumed = await second.request(
                "initialize", {"clientName": "x", "resumeSessionId": session}
            )
            assert "result" in resumed, resumed
            await second.notify("initialized", {})
            assert (await write(second, "c", b"b", writeId="1"))["result"]["status"] == "accepted"
            assert (await write(second, "c", b"c", writeId="2"))["result"]["status"] == "accepted"
            read = await read_all(second, "c", afterSeq=1, waitMs=WAIT * 1000)
            await second.request("process/terminate", {"processId": "c"})
    assert b"".join(unb64(chunk["chunk"]) for chunk in read["chunks"]) == b"c"


# -- process/start: metadata --------------------------------------------------------


async def test_metadata_sets_codex_variables_over_env_and_env_policy(wire: WireClient) -> None:
    script = ["sh", "-c", 'echo "$CODEX_THREAD_ID|$CODEX_TOOL_CALL_ID|$X"']
    policy = {
        "inherit": "none",
        "ignoreDefaultExcludes": True,
        "exclude": [],
        "set": {"CODEX_THREAD_ID": "from-set"},
        "includeOnly": [],
    }
    env = {**CHILD_ENV, "CODEX_TOOL_CALL_ID": "from-env", "X": "1"}
    metadata = {"threadId": THREAD_ID.upper().replace("-", ""), "toolCallId": "call_1"}
    with trio.fail_after(WAIT):
        await start(wire, "m", script, env=env, envPolicy=policy, metadata=metadata)
        events = await events_until_closed(wire, "m")
    assert output_of(events) == f"{THREAD_ID}|call_1|1\n".encode()


@pytest.mark.parametrize(
    "metadata",
    [None, {}, {"threadId": None, "toolCallId": None}, {"other": 1}, [None, None]],
)
async def test_empty_metadata_adds_nothing(wire: WireClient, metadata: Any) -> None:
    with trio.fail_after(WAIT):
        await start(wire, "m", ["env"], env={"A": "1"}, metadata=metadata)
        events = await events_until_closed(wire, "m")
    assert output_of(events) == b"A=1\n"


async def test_metadata_on_a_pty(wire: WireClient) -> None:
    script = ["sh", "-c", 'printf "%s" "$CODEX_TOOL_CALL_ID"']
    with trio.fail_after(WAIT):
        await start(wire, "t", script, tty=True, metadata={"toolCallId": ""})
        await start(wire, "u", script, tty=True, metadata=[None, "t"])
        assert output_of(await events_until_closed(wire, "t")) == b""
        assert output_of(await events_until_closed(wire, "u")) == b"t"


UUID_ERRORS = [
    ("", "invalid length: expected length 32 for simple format, found 0"),
    ("0b7e3d4c", "invalid length: expected length 32 for simple format, found 8"),
    ("0b7e3d4c-1111-4222-8333", "invalid group count: expected 5, found 4"),
    (THREAD_ID + "-", "invalid group count: expected 5, found 6"),
    (THREAD_ID[:-1], "invalid group length in group 4: expected 12, found 11"),
    ("0b7e3d4c-111-4222-8333-444455556666", "invalid group length in group 1: expected 4, found 3"),
    (
        "0b7e3d4c1-111-4222-8333-444455556666",
        "invalid group length in group 0: expected 8, found 9",
    ),
    ("{" + THREAD_ID[:-1] + "}", "invalid group length in group 4: expected 12, found 13"),
    ("urn:uuid:" + THREAD_ID[:-1], "invalid group length in group 4: expected 12, found 20"),
    ("{" + "a" * 31 + "}", "invalid group count: expected 5, found 1"),
    (
        "nope",
        "invalid character: expected an optional prefix of `urn:uuid:` followed by "
        "[0-9a-fA-F-], found `n` at 1",
    ),
    (
        "urn:uuid:zz",
        "invalid character: expected an optional prefix of `urn:uuid:` followed by "
        "[0-9a-fA-F-], found `z` at 10",
    ),
    (
        THREAD_ID[:-1] + "é",
        "invalid character: expected an optional prefix of `urn:uuid:` followed by "
        "[0-9a-fA-F-], found `é` at 36",
    ),
]


@pytest.mark.parametrize(("thread_id", "message"), UUID_ERRORS)
async def test_thread_id_must_be_a_uuid(wire: WireClient, thread_id: str, message: str) -> None:
    with trio.fail_after(WAIT):
        refused = await start_error(wire, metadata={"threadId": thread_id})
    assert refused == error(-32602, message)


@pytest.mark.parametrize(
    "thread_id", ["{" + THREAD_ID + "}", "urn:uuid:" + THREAD_ID, THREAD_ID.upper()]
)
async def test_thread_id_forms(wire: WireClient, thread_id: str) -> None:
    with trio.fail_after(WAIT):
        await start(
            wire, "m", ["sh", "-c", 'echo "$CODEX_THREAD_ID"'], metadata={"threadId": thread_id}
        )
        assert output_of(await events_until_closed(wire, "m")) == f"{THREAD_ID}\n".encode()


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        (5, "invalid type: number, expected struct ExecMetadata"),
        ("x", 'invalid type: string "x", expected struct ExecMetadata'),
        (True, "invalid type: boolean `true`, expected struct ExecMetadata"),
        ({"threadId": 5}, "invalid type: number, expected a string"),
        ({"toolCallId": 1.5}, "invalid type: number, expected a string"),
        ({"toolCallId": [1]}, "invalid type: sequence, expected a string"),
        ({"threadId": {}}, "invalid type: map, expected a string"),
        ([1], "invalid type: number, expected a string"),
        ([THREAD_ID, "x", 3], "invalid length 3, expected fewer elements in array"),
    ],
)
async def test_metadata_is_type_checked(wire: WireClient, metadata: Any, message: str) -> None:
    with trio.fail_after(WAIT):
        assert await start_error(wire, metadata=metadata) == error(-32602, message)


# -- process/start: the other 0.171 fields -------------------------------------------


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"sandbox": 5}, "invalid type: number, expected struct WireFileSystemSandboxContext"),
        ({"shellSnapshot": {"scopeId": "s"}}, "missing field `shell`"),
        ({"shellSnapshot": 5}, "invalid type: number, expected struct ShellSnapshotRequest"),
        ({"enforceManagedNetwork": None}, "invalid type: null, expected a boolean"),
        (
            {"managedNetwork": 5},
            "invalid type: number, expected struct ManagedNetworkSandboxContext",
        ),
        ({"networkProxy": {}}, "missing field `proxy`"),
        (
            {"networkProxy": 5},
            "invalid type: number, expected struct RemoteNetworkProxyLaunchConfig",
        ),
    ],
)
async def test_new_start_fields_are_type_checked(
    wire: WireClient, extra: dict[str, Any], message: str
) -> None:
    with trio.fail_after(WAIT):
        assert await start_error(wire, **extra) == error(-32602, message)


async def test_accepted_start_fields_run_the_process(wire: WireClient) -> None:
    extra = {
        "shellSnapshot": {"scopeId": "s", "shell": {"name": "sh", "path": "/bin/sh"}},
        "enforceManagedNetwork": False,
        "managedNetwork": {"loopbackPorts": [1], "allowLocalBinding": True},
        "networkProxy": None,
        "sandbox": None,
        "arg0": None,
    }
    with trio.fail_after(WAIT):
        await start(wire, "p", ["sh", "-c", "echo ok"], **extra)
        assert output_of(await events_until_closed(wire, "p")) == b"ok\n"


def _sandbox(permissions: dict[str, Any]) -> dict[str, Any]:
    return {"permissions": permissions, "windowsSandboxLevel": "disabled"}


ROOT_WRITE = {"path": {"type": "special", "value": {"kind": "root"}}, "access": "write"}
ROOT_READ = {"path": {"type": "special", "value": {"kind": "root"}}, "access": "read"}


@pytest.mark.parametrize(
    "permissions",
    [
        {"type": "disabled"},
        {"type": "external", "network": "enabled"},
        {"type": "managed", "file_system": {"type": "unrestricted"}, "network": "enabled"},
        {
            "type": "managed",
            "file_system": {"type": "restricted", "entries": [ROOT_WRITE]},
            "network": "enabled",
        },
    ],
)
async def test_a_sandbox_that_restricts_nothing_runs(
    wire: WireClient, kind: str, permissions: dict[str, Any]
) -> None:
    """codex wraps the child in its (here permissive) seccomp sandbox; execsrv runs it
    directly and says so."""
    params = start_params("s", ["sh", "-c", "echo ok"], sandbox=_sandbox(permissions))
    with trio.fail_after(WAIT):
        response = await wire.request("process/start", params)
        sandbox_type = "none" if kind == "execsrv" else "linuxSeccomp"
        assert response["result"] == {"processId": "s", "sandboxType": sandbox_type}
        assert output_of(await events_until_closed(wire, "s")) == b"ok\n"


@pytest.mark.parametrize(
    "permissions",
    [
        {"type": "external", "network": "restricted"},
        {"type": "managed", "file_system": {"type": "unrestricted"}, "network": "restricted"},
        {
            "type": "managed",
            "file_system": {"type": "restricted", "entries": [ROOT_READ]},
            "network": "enabled",
        },
    ],
)
async def test_a_sandbox_that_confines_runs_the_child_confined(
    wire: WireClient, kind: str, permissions: dict[str, Any]
) -> None:
    """codex confines the child (bubblewrap, seccomp), execsrv too (Landlock, seccomp):
    both answer ``linuxSeccomp``, and the child runs."""
    params = start_params("s", ["echo", "ok"], sandbox=_sandbox(permissions))
    with trio.fail_after(WAIT):
        response = await wire.request("process/start", params)
        assert response["result"] == {"processId": "s", "sandboxType": "linuxSeccomp"}
        assert output_of(await events_until_closed(wire, "s")) == b"ok\n"


MANAGED_NETWORK_REFUSED = error(
    -32600,
    "managed networking is not supported by execsrv: enforceManagedNetwork and "
    "networkProxy cannot be enforced, so the process was not started",
)


@pytest.mark.parametrize("cwd", ["file:///tmp", "/tmp"])
async def test_enforced_managed_network_fails_closed_in_execsrv(
    wire: WireClient, kind: str, cwd: str
) -> None:
    """codex 0.171 starts it anyway, with no network restriction (measured); execsrv
    refuses, whatever the request's generation, rather than run it unconfined."""
    params = start_params("n", ["true"], cwd=cwd, enforceManagedNetwork=True)
    with trio.fail_after(WAIT):
        response = await wire.request("process/start", params)
    if kind == "execsrv":
        assert response["error"] == MANAGED_NETWORK_REFUSED
    elif cwd.startswith("file:"):
        assert response["result"] == {"processId": "n", "sandboxType": "none"}
    else:
        assert response["error"]["code"] == -32602  # codex 0.171 wants a URI


# -- exits, reads and signals ------------------------------------------------------


@pytest.mark.parametrize(("signal", "code"), [("KILL", 137), ("TERM", 143), ("HUP", 129)])
async def test_signal_death_on_pipes_is_128_plus_n(
    wire: WireClient, signal: str, code: int
) -> None:
    with trio.fail_after(WAIT):
        await start(wire, "k", ["sh", "-c", f"kill -{signal} $$"])
        events = await events_until_closed(wire, "k")
    assert exit_code_of(events) == code
    exited = next(e for e in events if e["method"] == "process/exited")
    assert exited["params"]["sandboxDenied"] is False


async def test_terminate_reports_137_and_a_pty_signal_death_1(wire: WireClient) -> None:
    with trio.fail_after(WAIT):
        await start(wire, "p", ["sleep", "30"])
        await start(wire, "t", ["sh", "-c", "kill -KILL $$"], tty=True)
        assert (await wire.request("process/terminate", {"processId": "p"}))["result"] == {
            "running": True
        }
        assert exit_code_of(await events_until_closed(wire, "p")) == 137
        assert exit_code_of(await events_until_closed(wire, "t")) == 1


async def test_next_seq_without_max_bytes_is_the_true_next_seq(wire: WireClient) -> None:
    with trio.fail_after(WAIT):
        await start(wire, "r", ["sh", "-c", "echo a; sleep 0.2; echo b >&2"])
        events = await events_until_closed(wire, "r")
        output_seqs = [e["params"]["seq"] for e in events if e["method"] == "process/output"]
        closed_seq = events[-1]["params"]["seq"]
        read = await read_all(wire, "r")
        assert [chunk["seq"] for chunk in read["chunks"]] == output_seqs
        assert read["nextSeq"] == closed_seq + 1  # it counts exit and close
        assert read["sandboxDenied"] is False
        assert (await read_all(wire, "r", maxBytes=None))["nextSeq"] == closed_seq + 1
        # with maxBytes, the old rule: the last returned chunk + 1
        assert (await read_all(wire, "r", maxBytes=65536))["nextSeq"] == output_seqs[-1] + 1
        assert (await read_all(wire, "r", maxBytes=0))["nextSeq"] == output_seqs[0] + 1


async def test_interrupt_delivers_sigint(wire: WireClient) -> None:
    script = "trap 'exit 7' INT; echo ready; while :; do sleep 0.05; done"
    with trio.fail_after(WAIT):
        for process_id, tty in (("pipe", False), ("pty", True)):
            await start(wire, process_id, ["sh", "-c", script], tty=tty)
            ready = await read_all(wire, process_id, waitMs=WAIT * 1000)
            assert ready["chunks"], ready  # the trap is set
            params = {"processId": process_id, "signal": "interrupt"}
            assert (await wire.request("process/signal", params))["result"] == {}
            assert exit_code_of(await events_until_closed(wire, process_id)) == 7
            # an exited process, and one never started, are fine too
            assert (await wire.request("process/signal", params))["result"] == {}
        unknown = {"processId": "nope", "signal": "interrupt"}
        assert (await wire.request("process/signal", unknown))["result"] == {}


async def test_other_signal_names_are_execsrv_extensions(wire: WireClient, kind: str) -> None:
    with trio.fail_after(WAIT):
        await start(wire, "s", ["sleep", "30"])
        response = await wire.request("process/signal", {"processId": "s", "signal": "kill"})
        if kind == "execsrv":
            assert response["result"] == {}
            assert exit_code_of(await events_until_closed(wire, "s")) == 137
        else:
            assert response["error"] == error(
                -32602, "unknown variant `kill`, expected `interrupt`"
            )
            await wire.request("process/terminate", {"processId": "s"})


# -- spawn errors --------------------------------------------------------------------


@pytest.fixture(scope="module")
def unrunnable() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        (root / "noexec.sh").write_text("echo hi\n")
        (root / "badelf").write_bytes(b"\x7fELFjunk")
        (root / "badelf").chmod(0o755)
        yield root


@pytest.mark.parametrize("tty", [False, True])
async def test_spawn_errors_carry_their_kind(wire: WireClient, unrunnable: Path, tty: bool) -> None:
    cases = [
        (
            ["/nonexistent"],
            "file:///tmp",
            "spawnNotFound",
            "No such file or directory (os error 2)",
        ),
        (
            [str(unrunnable / "noexec.sh")],
            "file:///tmp",
            "spawnPermissionDenied",
            "Permission denied (os error 13)",
        ),
        (
            [str(unrunnable / "badelf")],
            "file:///tmp",
            "spawnFailed",
            "Exec format error (os error 8)",
        ),
        (["/tmp"], "file:///tmp", "spawnPermissionDenied", "Permission denied (os error 13)"),
    ]
    if not tty:  # codex runs a PTY in $HOME instead (an anchor bug execsrv fixes)
        cases.append(
            (
                ["true"],
                "file:///nonexistent-dir",
                "spawnNotFound",
                "No such file or directory (os error 2)",
            )
        )
    with trio.fail_after(WAIT):
        for argv, cwd, spawn_kind, message in cases:
            refused = await start_error(wire, argv=argv, cwd=cwd, tty=tty)
            assert refused == {"code": -32603, "message": message, "data": {"kind": spawn_kind}}


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        ({"PATH": "/nonexistent"}, 'No viable candidates found in PATH "/nonexistent"'),
        ({"PATH": ""}, 'No viable candidates found in PATH ""'),
    ],
)
async def test_pty_program_not_on_path(wire: WireClient, env: dict[str, str], reason: str) -> None:
    with trio.fail_after(WAIT):
        refused = await start_error(wire, argv=["no-such-program"], env=env, tty=True)
    assert refused == {
        "code": -32603,
        "message": f"Unable to spawn no-such-program because:\n{reason}",
        "data": {"kind": "spawnFailed"},
    }


# -- the envelope in a 0.171 session ------------------------------------------------------


@pytest.mark.parametrize("request_id", ["null", "1.5", "true"])
async def test_an_id_that_is_no_request_id_is_a_parse_error(
    wire: WireClient, request_id: str
) -> None:
    """0.130 reads it as a notification and closes; a 0.171 session stays open."""
    with trio.fail_after(WAIT):
        await start(wire, "x", ["true"])  # the session speaks 0.171 now
        await wire.send(f'{{"id":{request_id},"method":"process/read","params":{{}}}}')
        reply = await wire.response(-1)
        assert reply["error"]["code"] == -32600
        assert reply["error"]["message"].startswith("failed to parse ")
        assert reply["error"]["message"].endswith(
            ": data did not match any variant of untagged enum RequestId"
        )
        still_open = await wire.request("process/read", {"processId": "x"})
    assert "result" in still_open
