"""The client speaks the generation the server's ``initialize`` result shows (issue 10, point 4).

A real execsrv server (the memory pair) answers, made to look like a 0.130 server
(no ``environmentInfo``) or a 0.171 one (with it) by :class:`SpeakingAs`, which
also keeps every message the client sends: the tests check the forms on the wire
and that the real server, which reads both, did what was asked.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from execsrv.client import Disconnected, Output, RemoteError, RemoteProcess
from execsrv.client.supervisor import RESUME_WITHIN_SECONDS, RESUME_WITHIN_SECONDS_0_171
from execsrv.protocol.generation import Generation
from execsrv.protocol.paths import NOT_A_URI, PathForm, format_path
from execsrv.transport import MessageTransport

from ..conftest import CHILD_ENV
from ..memory_pair import open_memory_client, open_memory_server

V0_130, V0_171 = Generation.V0_130, Generation.V0_171
GENERATIONS = pytest.mark.parametrize("generation", [V0_130, V0_171], ids=["0.130", "0.171"])

ODD_NAME = "a dir, 100% é"


def requests(sent: list[dict[str, Any]], method: str) -> list[dict[str, Any]]:
    """The params of every ``method`` request the client sent."""
    return [message["params"] for message in sent if message.get("method") == method]


@GENERATIONS
async def test_the_generation_is_learned_from_initialize(generation: Generation) -> None:
    async with (
        open_memory_server() as server,
        open_memory_client(server, speaking_as=generation) as client,
    ):
        assert client.generation is generation
        assert client.wire_path("/a b") == ("/a b" if generation is V0_130 else "file:///a%20b")


@GENERATIONS
async def test_paths_go_out_in_the_generations_form(generation: Generation, tmp_path: Path) -> None:
    root = tmp_path / ODD_NAME
    form = PathForm.URI if generation is V0_171 else PathForm.PLAIN
    sent: list[dict[str, Any]] = []
    async with (
        open_memory_server() as server,
        open_memory_client(server, speaking_as=generation, sent=sent) as client,
    ):
        with trio.fail_after(10):
            await client.fs.create_directory(root / "sub")
            await client.fs.write_file(root / "sub" / "f%.txt", b"data")
            await client.fs.copy(root / "sub", root / "copy", recursive=True)
            assert await client.fs.read_file(root / "copy" / "f%.txt") == b"data"
            assert (await client.fs.get_metadata(root / "copy" / "f%.txt")).is_file
            assert [e.file_name for e in await client.fs.read_directory(root / "copy")] == [
                "f%.txt"
            ]
            await client.fs.remove(root / "copy")
            proc = await client.start_process(["pwd"], env=CHILD_ENV, cwd=str(root))
            result = await proc.communicate()
        assert bytes(result.stdout) == os.fsencode(root) + b"\n"
        # The server heard the generation the client spoke (a URI is 0.171 for good).
        [session] = server.registry.sessions()
        assert session.generation is generation
    assert not (root / "copy").exists()
    wire = {
        method: [value for params in requests(sent, method) for value in fields(params)]
        for method, fields in {
            "fs/createDirectory": lambda p: [p["path"]],
            "fs/writeFile": lambda p: [p["path"]],
            "fs/copy": lambda p: [p["sourcePath"], p["destinationPath"]],
            "fs/readFile": lambda p: [p["path"]],
            "fs/getMetadata": lambda p: [p["path"]],
            "fs/readDirectory": lambda p: [p["path"]],
            "fs/remove": lambda p: [p["path"]],
            "process/start": lambda p: [p["cwd"]],
        }.items()
    }
    assert wire == {
        "fs/createDirectory": [format_path(str(root / "sub"), form)],
        "fs/writeFile": [format_path(str(root / "sub" / "f%.txt"), form)],
        "fs/copy": [format_path(str(root / "sub"), form), format_path(str(root / "copy"), form)],
        "fs/readFile": [format_path(str(root / "copy" / "f%.txt"), form)],
        "fs/getMetadata": [format_path(str(root / "copy" / "f%.txt"), form)],
        "fs/readDirectory": [format_path(str(root / "copy"), form)],
        "fs/remove": [format_path(str(root / "copy"), form)],
        "process/start": [format_path(str(root), form)],
    }
    if generation is V0_171:
        assert wire["process/start"] == [f"file://{os.fspath(tmp_path)}/a%20dir,%20100%25%20%C3%A9"]


@GENERATIONS
async def test_results_come_back_as_host_paths(generation: Generation, tmp_path: Path) -> None:
    """``fs/canonicalize`` and ``fs/walk`` answer URIs; the client returns host paths."""
    root = tmp_path / ODD_NAME
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "sub" / "f%.txt").write_bytes(b"")
    (root / "link").symlink_to("sub")
    async with (
        open_memory_server() as server,
        open_memory_client(server, speaking_as=generation) as client,
    ):
        assert await client.fs.canonicalize(root / "link") == str(root / "sub")
        walked = await client.fs.walk(
            root, max_depth=5, max_directories=10, max_entries=10, follow_directory_symlinks=False
        )
    assert [(entry.path, entry.kind) for entry in walked.entries] == [
        (str(root / "sub"), "directory"),
        (str(root / "sub" / "deeper"), "directory"),
        (str(root / "sub" / "f%.txt"), "file"),
    ]


async def test_a_relative_cwd_is_plain_to_0_130_and_refused_for_0_171() -> None:
    sent: list[dict[str, Any]] = []
    async with open_memory_server() as server:
        async with open_memory_client(server, speaking_as=V0_130, sent=sent) as old:
            # 0.130 resolves it against the server's cwd (this process's, here).
            proc = await old.start_process(["pwd"], env=CHILD_ENV, cwd=".")
            result = await proc.communicate()
        assert bytes(result.stdout) == os.fsencode(os.getcwd()) + b"\n"
        assert [params["cwd"] for params in requests(sent, "process/start")] == ["."]
        async with open_memory_client(server, speaking_as=V0_171) as new:
            with pytest.raises(RemoteError) as refused:
                await new.start_process(["pwd"], env=CHILD_ENV, cwd=".")
            assert (refused.value.code, refused.value.message) == (-32602, NOT_A_URI)


@GENERATIONS
async def test_writes_carry_a_per_process_write_id_to_0_171_across_a_resume(
    generation: Generation,
) -> None:
    sent: list[dict[str, Any]] = []
    async with (
        open_memory_server() as server,
        open_memory_client(
            server, speaking_as=generation, sent=sent, dial=server.connect
        ) as client,
    ):
        with trio.fail_after(10):
            cat = await client.start_process(["cat"], env=CHILD_ENV, pipe_stdin=True)
            other = await client.start_process(["cat"], env=CHILD_ENV, pipe_stdin=True)
            assert await cat.write(b"a") == "accepted"
            assert await cat.write(b"b") == "accepted"
            assert await other.write(b"x") == "accepted"
            assert await server.sever() == 1
            await client.wait_resumed()
            assert client.generation is generation
            assert await cat.write(b"c") == "accepted"
            assert await echoed(cat, 3) == b"abc"
            await cat.terminate()
            await other.terminate()
    ids = [
        (params["processId"], params.get("writeId")) for params in requests(sent, "process/write")
    ]
    if generation is V0_130:
        assert ids == [("proc-1", None), ("proc-1", None), ("proc-2", None), ("proc-1", None)]
    else:  # a new id after the resume: a retried one would be dropped as a repeat
        assert ids == [("proc-1", "1"), ("proc-1", "2"), ("proc-2", "1"), ("proc-1", "3")]


async def echoed(proc: RemoteProcess, count: int) -> bytes:
    """What ``proc`` (a cat) echoed, until ``count`` bytes are in."""
    data = b""
    async for event in proc.events:
        if isinstance(event, Output):
            data += event.data
        if len(data) >= count:
            break
    return data


@pytest.mark.parametrize(
    ("generation", "window"),
    [(V0_130, RESUME_WITHIN_SECONDS), (V0_171, RESUME_WITHIN_SECONDS_0_171)],
    ids=["0.130", "0.171"],
)
async def test_auto_resume_keeps_trying_for_the_generations_session_ttl(
    generation: Generation, window: float, autojump_clock: trio.testing.MockClock
) -> None:
    """codex 0.171 keeps a detached session 80 s (0.130: 10 s, execsrv: 30 s by default)."""
    async with open_memory_server() as server:
        refusing = False

        async def dial() -> MessageTransport:
            if refusing:
                raise Disconnected("connection refused")
            return await server.connect()

        async with open_memory_client(server, speaking_as=generation, dial=dial) as client:
            refusing = True
            assert await server.sever() == 1
            lost_at = trio.current_time()
            with pytest.raises(Disconnected):
                await client.list_processes()
            with pytest.raises(Disconnected, match=f"could not resume within {window:g} s"):
                await client.wait_connected()
            assert trio.current_time() - lost_at == pytest.approx(window)
