"""Where codex 0.130 and 0.171 disagree, a process follows the request that started it.

A URI ``cwd`` starts a 0.171 process, a plain one a 0.130 process, in the same
session alike (the session becoming 0.171 does not change a 0.130 process). The
wire behaviour of 0.171 requests is pinned against the real binary in
``tests/conformance/test_process_0171.py``; here the mixes and execsrv's own rules.
"""

from __future__ import annotations

from typing import Any

import pytest
import trio

import execsrv
from execsrv.process.write_ids import MAX_REMEMBERED_WRITE_IDS, WriteIds

from ..conformance.support import error, events_until_closed, exit_code_of, output_of
from ..wire import WireClient, open_wire
from .support import b64, exec_params, unb64

WAIT = 10


@pytest.fixture
async def wire(server: execsrv.ExecServer) -> Any:
    assert server.url is not None
    async with open_wire(server.url) as client:
        with trio.fail_after(WAIT):
            await client.handshake()
        yield client


async def _start(wire: WireClient, process_id: str, argv: list[str], **extra: Any) -> Any:
    response = await wire.request("process/start", exec_params(process_id, argv, **extra))
    assert "result" in response, response
    return response["result"]


async def test_each_process_keeps_the_generation_it_was_started_with(wire: WireClient) -> None:
    kill_self = ["sh", "-c", "kill -TERM $$"]
    with trio.fail_after(WAIT):
        new = await _start(wire, "new", kill_self, cwd="file:///")
        old = await _start(wire, "old", kill_self, cwd="/")  # the session is 0.171 by now
        assert new == {"processId": "new", "sandboxType": "none"}
        assert old == {"processId": "old"}  # 0.130's result, unchanged
        new_events = await events_until_closed(wire, "new")
        old_events = await events_until_closed(wire, "old")
    assert exit_code_of(new_events) == 143
    assert exit_code_of(old_events) == -1
    [new_exited] = [e["params"] for e in new_events if e["method"] == "process/exited"]
    [old_exited] = [e["params"] for e in old_events if e["method"] == "process/exited"]
    assert new_exited["sandboxDenied"] is False
    assert "sandboxDenied" not in old_exited
    with trio.fail_after(WAIT):
        new_read = (await wire.request("process/read", {"processId": "new"}))["result"]
        old_read = (await wire.request("process/read", {"processId": "old"}))["result"]
    assert new_read["sandboxDenied"] is False
    assert "sandboxDenied" not in old_read


async def test_next_seq_rule_follows_the_process(wire: WireClient) -> None:
    with trio.fail_after(WAIT):
        output_seq = {}
        for process_id, cwd in (("new", "file:///"), ("old", "/")):
            await _start(wire, process_id, ["echo", "x"], cwd=cwd)
            events = await events_until_closed(wire, process_id)
            assert [e["params"]["seq"] for e in events] == [1, 2, 3]  # output and exited: any order
            [output_seq[process_id]] = [
                e["params"]["seq"] for e in events if e["method"] == "process/output"
            ]
        new = (await wire.request("process/read", {"processId": "new"}))["result"]
        old = (await wire.request("process/read", {"processId": "old"}))["result"]
    assert new["nextSeq"] == 4  # 0.171: the true next seq
    assert old["nextSeq"] == output_seq["old"] + 1  # 0.130: the last chunk's + 1


async def test_spawn_errors_have_data_only_for_0171(wire: WireClient) -> None:
    with trio.fail_after(WAIT):
        new = await wire.request(
            "process/start", exec_params("n", ["/nonexistent"], cwd="file:///")
        )
        old = await wire.request("process/start", exec_params("o", ["/nonexistent"]))
        old_pty = await wire.request("process/start", exec_params("t", ["/nonexistent"], tty=True))
    assert new["error"] == {
        "code": -32603,
        "message": "No such file or directory (os error 2)",
        "data": {"kind": "spawnNotFound"},
    }
    assert old["error"] == error(-32603, "No such file or directory (os error 2)")
    assert old_pty["error"] == error(
        -32603,
        "Unable to spawn /nonexistent because it doesn't exist on the filesystem "
        "(ENOENT: No such file or directory)",
    )


async def test_metadata_is_an_unknown_field_to_a_0130_request(wire: WireClient) -> None:
    """0.130 ignores it: the child's environment stays exactly ``env``."""
    metadata = {"threadId": "0b7e3d4c-1111-4222-8333-444455556666", "toolCallId": "c"}
    with trio.fail_after(WAIT):
        await _start(wire, "p", ["env"], env={"A": "1"}, metadata=metadata)
        await _start(wire, "q", ["env"], env={"A": "1"}, metadata={"threadId": "bad"})
        assert output_of(await events_until_closed(wire, "p")) == b"A=1\n"
        assert output_of(await events_until_closed(wire, "q")) == b"A=1\n"


@pytest.mark.parametrize("cwd", ["/", "file:///"])
async def test_a_confining_sandbox_is_enforced_in_either_generation(
    wire: WireClient, cwd: str
) -> None:
    """A confinement is enforced whatever the generation (0.130 itself ignores the
    field): 0.130's untyped empty profile grants nothing, so not even ``true`` can be
    executed. 0.171 reads only typed profiles: the untyped one is its -32602."""
    sandbox = {"permissions": {"file_system": {"entries": []}}, "windowsSandboxLevel": "disabled"}
    with trio.fail_after(WAIT):
        response = await wire.request(
            "process/start", exec_params("s", ["true"], cwd=cwd, sandbox=sandbox)
        )
    if cwd == "/":
        assert response["error"] == error(-32603, "Permission denied (os error 13)")
    else:
        assert response["error"] == error(-32602, "missing field `type`")


@pytest.mark.parametrize(
    "sandbox",
    [
        {"x": 1},
        # A 0.171 sandbox cwd makes the profile 0.171's, where the untyped form is wrong.
        {
            "permissions": {"file_system": {"entries": []}},
            "windowsSandboxLevel": "disabled",
            "cwd": "file:///tmp",
        },
    ],
)
async def test_a_sandbox_a_0130_start_cannot_read_is_refused_not_ignored(
    wire: WireClient, sandbox: dict[str, object]
) -> None:
    """To a 0.130 request ``sandbox`` is an unknown field, but one that does not
    decode may still ask for confinement: refused (fail closed), never ignored."""
    with trio.fail_after(WAIT):
        response = await wire.request(
            "process/start", exec_params("s", ["true"], cwd="/", sandbox=sandbox)
        )
    message = "process/start asks for confinement execsrv cannot read (`sandbox`), so the"
    assert response["error"] == error(-32600, f"{message} process was not started")


async def test_a_sandbox_cwd_naming_another_host_is_refused(wire: WireClient) -> None:
    sandbox = {
        "permissions": {"type": "disabled"},
        "windowsSandboxLevel": "disabled",
        "cwd": "file://otherhost/tmp",
    }
    with trio.fail_after(WAIT):
        response = await wire.request(
            "process/start", exec_params("s", ["true"], cwd="file:///", sandbox=sandbox)
        )
    assert response["error"] == error(-32600, "'file://otherhost/tmp' is invalid on 'linux'")


async def test_extension_signals_keep_their_errors_in_a_0171_session(wire: WireClient) -> None:
    with trio.fail_after(WAIT):
        await _start(wire, "x", ["true"], cwd="file:///")  # the session speaks 0.171 now
        kill = await wire.request("process/signal", {"processId": "nope", "signal": "kill"})
        interrupt = await wire.request(
            "process/signal", {"processId": "nope", "signal": "interrupt"}
        )
    assert kill["error"] == error(-32600, "unknown process id nope")
    assert interrupt["result"] == {}


async def test_writes_without_write_id_are_always_written(wire: WireClient) -> None:
    with trio.fail_after(WAIT):
        await _start(wire, "c", ["cat"], cwd="file:///", pipeStdin=True)
        for data in (b"a", b"a"):
            params = {"processId": "c", "chunk": b64(data)}
            assert (await wire.request("process/write", params))["result"] == {"status": "accepted"}
        read = (await wire.request("process/read", {"processId": "c", "waitMs": 5000}))["result"]
        output = b"".join(unb64(chunk["chunk"]) for chunk in read["chunks"])
        while len(output) < 2:
            after = read["nextSeq"] - 1
            params = {"processId": "c", "afterSeq": after, "waitMs": 5000}
            read = (await wire.request("process/read", params))["result"]
            output += b"".join(unb64(chunk["chunk"]) for chunk in read["chunks"])
        await wire.request("process/terminate", {"processId": "c"})
    assert output == b"aa"


def test_write_ids_remember_the_most_recent_only() -> None:
    ids = WriteIds(limit=3)
    for write_id in ("1", "2", "3", "4"):
        ids.add(write_id)
    assert "1" not in ids
    assert all(write_id in ids for write_id in ("2", "3", "4"))
    assert len(ids) == 3
    assert MAX_REMEMBERED_WRITE_IDS == 4096


def test_write_ids_of_any_length_cost_the_same() -> None:
    ids = WriteIds()
    ids.add("x" * 1_000_000)
    ids.add("\ud800")  # a lone surrogate, as JSON may carry
    assert "x" * 1_000_000 in ids
    assert "\ud800" in ids
    assert "x" not in ids


async def test_a_0171_session_answers_a_null_id_after_resume(
    server: execsrv.ExecServer,
) -> None:
    assert server.url is not None
    async with open_wire(server.url) as first:
        with trio.fail_after(WAIT):
            session_id = await first.handshake()
            await _start(first, "x", ["true"], cwd="file:///")
    async with open_wire(server.url) as second:
        with trio.fail_after(WAIT):
            resumed = await second.request(
                "initialize", {"clientName": "x", "resumeSessionId": session_id}
            )
            assert "result" in resumed
            await second.notify("initialized", {})
            await second.send('{"id":null,"method":"process/read","params":{"processId":"x"}}')
            reply = await second.response(-1)
            assert reply["error"]["message"].endswith(
                "data did not match any variant of untagged enum RequestId"
            )
            assert "result" in await second.request("process/read", {"processId": "x"})


async def test_a_0130_session_still_closes_on_a_null_id(wire: WireClient) -> None:
    with trio.fail_after(WAIT):
        await wire.send('{"id":null,"method":"process/read","params":{"processId":"x"}}')
        code, reason = await wire.wait_closed()
    assert (code, reason) == (1008, "unexpected notification `process/read`")
