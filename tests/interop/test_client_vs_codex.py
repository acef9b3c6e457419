"""execsrv's client (``execsrv.connect``) driving the real codex 0.130.0 and 0.171.0 servers.

DESIGN.md §1: execsrv's client must work against codex for every method codex
has, in the generation that codex speaks (issue 10, point 4): every test runs
against both binaries, branched where the generations differ. Each test starts
its own codex (about 0.3 s), so killing one is harmless.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio
import trio.testing

import execsrv
from execsrv import Closed, Disconnected, Exited, Failed, FileNotFound, Output, RemoteError
from execsrv.protocol import process as p
from execsrv.protocol.generation import Generation
from execsrv.protocol.methods import PROCESS_READ, PROCESS_TERMINATE, PROCESS_WRITE

from ..conftest import CHILD_ENV
from ..proxy import open_proxy
from ..servers import RunningServer, open_codex

pytestmark = pytest.mark.interop

WAIT = 15

V0_130, V0_171 = Generation.V0_130, Generation.V0_171

KILLED = {V0_130: -1, V0_171: 137}
"""The exit code of a pipe process killed by SIGKILL (``process/terminate``)."""

ODD_NAME = "dir with spaces, 100% and é"
"""A name each generation must carry whole (plain: as UTF-8; URI: percent-encoded)."""


@pytest.fixture(params=[V0_130, V0_171], ids=["codex-0.130", "codex-0.171"])
def generation(request: pytest.FixtureRequest) -> Generation:
    generation: Generation = request.param
    return generation


@pytest.fixture
async def codex(generation: Generation) -> AsyncIterator[RunningServer]:
    async with open_codex(generation=generation) as server:
        yield server


def write_params(client: execsrv.Client, process_id: str, chunk: bytes) -> p.WriteParams:
    """A raw ``process/write``: 0.171 requires a ``writeId``."""
    write_id = "raw-1" if client.generation is V0_171 else None
    return p.WriteParams(process_id=process_id, chunk=chunk, write_id=write_id)


@pytest.fixture
async def client(codex: RunningServer) -> AsyncIterator[execsrv.Client]:
    async with execsrv.connect(codex.url, client_name="interop") as connected:
        yield connected


async def test_handshake(client: execsrv.Client, generation: Generation) -> None:
    assert len(client.session_id) == 36
    assert client.disconnected is None
    assert client.generation is generation  # 0.171 sends environmentInfo, 0.130 does not


async def test_output_events_in_seq_order(client: execsrv.Client) -> None:
    script = "echo out; echo err >&2; (sleep 0.2; echo late) & exit 3"
    with trio.fail_after(WAIT):
        proc = await client.start_process(["sh", "-c", script], env=CHILD_ENV)
        events = [event async for event in proc.events]
    seqs = [event.seq for event in events if not isinstance(event, Failed)]
    assert seqs == list(range(1, len(events) + 1))
    assert isinstance(events[-1], Closed)
    exits = [event for event in events if isinstance(event, Exited)]
    assert exits == [Exited(exits[0].seq, 3, None)]  # codex has no `signal` field
    outputs = [event for event in events if isinstance(event, Output)]
    stdout = b"".join(event.data for event in outputs if event.stream == "stdout")
    stderr = b"".join(event.data for event in outputs if event.stream == "stderr")
    assert stdout == b"out\nlate\n"
    assert stderr == b"err\n"
    late = next(event for event in outputs if event.data == b"late\n")
    assert exits[0].seq < late.seq


async def test_communicate(client: execsrv.Client) -> None:
    with trio.fail_after(WAIT):
        proc = await client.start_process(
            ["sh", "-c", "printf 'a\\0b'; printf e >&2; exit 4"], env=CHILD_ENV
        )
        result = await proc.communicate()
    assert bytes(result.stdout) == b"a\0b"
    assert bytes(result.stderr) == b"e"
    assert result.exit_code == 4
    assert result.signal is None


async def test_read_process(client: execsrv.Client, generation: Generation) -> None:
    with trio.fail_after(WAIT):
        proc = await client.start_process(
            ["sh", "-c", "printf one; exit 2"], env=CHILD_ENV, process_id="r"
        )
        await proc.communicate()
        read = await proc.read()
        again = await proc.read(after_seq=read.chunks[0].seq, wait_ms=5000)
        limited = await proc.read(max_bytes=0)
    assert [chunk.chunk for chunk in read.chunks] == [b"one"]
    assert read.chunks[0].stream == "stdout"
    if generation is V0_130:  # the nextSeq quirk: the last chunk + 1
        assert read.next_seq == read.chunks[0].seq + 1
    else:  # 0.171 without maxBytes: the true next seq
        assert read.next_seq == 4
    assert (read.exited, read.exit_code, read.closed, read.failure) == (True, 2, True, None)
    # codex has none of execsrv's read extensions; the client fills in defaults.
    assert (read.truncated, read.exit_seq, read.closed_seq) == (False, None, None)
    assert again.chunks == []
    assert again.next_seq == 4  # output, exited and closed took seqs 1-3
    assert limited.chunks == read.chunks


async def test_long_poll_read(client: execsrv.Client) -> None:
    with trio.fail_after(WAIT):
        proc = await client.start_process(
            ["sh", "-c", "sleep 0.3; echo woke; exec cat"], env=CHILD_ENV, pipe_stdin=True
        )
        read = await proc.read(after_seq=0, wait_ms=10_000)
        assert [chunk.chunk for chunk in read.chunks] == [b"woke\n"]
        assert read.exited is False
        assert await proc.terminate() is True


async def test_write_to_a_piped_cat(client: execsrv.Client, generation: Generation) -> None:
    with trio.fail_after(WAIT):
        proc = await client.start_process(["cat"], env=CHILD_ENV, pipe_stdin=True)
        assert await proc.write(b"hello\n") == "accepted"
        assert await proc.write(b"world\n") == "accepted"
        echoed = b""
        events = proc.events
        while echoed != b"hello\nworld\n":
            event = await events.__anext__()
            assert isinstance(event, Output)
            echoed += event.data
        assert await proc.terminate() is True
        rest = [event async for event in events]
    assert isinstance(rest[-1], Closed)
    assert [event.exit_code for event in rest if isinstance(event, Exited)] == [KILLED[generation]]


async def test_write_statuses(client: execsrv.Client) -> None:
    with trio.fail_after(WAIT):
        nope = write_params(client, "nope", b"x")
        assert (await client.call(PROCESS_WRITE, nope)).status == "unknownProcess"
        proc = await client.start_process(["true"], env=CHILD_ENV)
        assert await proc.write(b"x") == "stdinClosed"


async def test_terminate(client: execsrv.Client, generation: Generation) -> None:
    with trio.fail_after(WAIT):
        proc = await client.start_process(["sleep", "60"], env=CHILD_ENV)
        assert await proc.terminate() is True
        result = await proc.communicate()
        assert result.exit_code == KILLED[generation]
        assert await proc.terminate() is False
        nope = p.TerminateParams(process_id="nope")
        assert (await client.call(PROCESS_TERMINATE, nope)).running is False


async def test_remote_errors(client: execsrv.Client, generation: Generation) -> None:
    with trio.fail_after(WAIT):
        with pytest.raises(RemoteError) as unknown:
            await client.call(PROCESS_READ, p.ReadParams(process_id="nope"))
        assert (unknown.value.code, unknown.value.message) == (-32600, "unknown process id nope")

        dup = await client.start_process(["cat"], env=CHILD_ENV, pipe_stdin=True, process_id="dup")
        with pytest.raises(RemoteError) as duplicate:
            await client.start_process(["true"], env=CHILD_ENV, process_id="dup")
        assert (duplicate.value.code, duplicate.value.message) == (
            -32600,
            "process dup already exists",
        )

        with pytest.raises(RemoteError) as spawn:
            await client.start_process(["/no/such/program"], env=CHILD_ENV)
        assert (spawn.value.code, spawn.value.message) == (
            -32603,
            "No such file or directory (os error 2)",
        )

        if generation is V0_130:  # no process/signal before 0.171
            with pytest.raises(RemoteError) as missing:
                await dup.signal("interrupt")
            assert (missing.value.code, missing.value.message) == (
                -32601,
                "exec-server stub does not implement `process/signal` yet",
            )
        # execsrv's other signal names are extensions 0.171 does not know.
        with pytest.raises(RemoteError) as extension:
            await dup.signal("user1")
        assert extension.value.code == -32601 if generation is V0_130 else -32602
        # The connection is fine afterwards.
        assert await dup.terminate() is True


async def test_concurrent_calls_are_matched_by_id(client: execsrv.Client) -> None:
    """codex answers one at a time; the client still pairs every reply with its call."""
    results: dict[int, bool | str] = {}

    async def call(index: int) -> None:
        process_id = f"nope-{index}"
        if index % 2:
            terminate = p.TerminateParams(process_id=process_id)
            results[index] = (await client.call(PROCESS_TERMINATE, terminate)).running
        else:
            write = write_params(client, process_id, b"x")
            results[index] = (await client.call(PROCESS_WRITE, write)).status

    with trio.fail_after(WAIT):
        async with trio.open_nursery() as nursery:
            for index in range(40):
                nursery.start_soon(call, index)
    assert results == {i: False if i % 2 else "unknownProcess" for i in range(40)}


async def test_killed_server_fails_pending_and_later_calls(codex: RunningServer) -> None:
    async with execsrv.connect(codex.url) as client:
        with trio.fail_after(WAIT):
            proc = await client.start_process(["cat"], env=CHILD_ENV, pipe_stdin=True)
            pending: list[BaseException] = []

            async def long_poll() -> None:
                try:
                    await proc.read(after_seq=0, wait_ms=60_000)
                except Disconnected as error:
                    pending.append(error)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(long_poll)
                # Every task blocked: the read was sent and waits for its reply.
                await trio.testing.wait_all_tasks_blocked()
                codex.process.kill()
            assert len(pending) == 1
            assert isinstance(pending[0], Disconnected)

            with pytest.raises(Disconnected):
                await proc.terminate()
            with pytest.raises(Disconnected):
                await proc.read()
            assert client.disconnected is not None
            events = [event async for event in proc.events]
            assert len(events) == 1
            assert isinstance(events[0], Failed)


async def test_interrupt(client: execsrv.Client, generation: Generation) -> None:
    """0.171's ``process/signal`` delivers SIGINT: a trap runs."""
    if generation is V0_130:
        pytest.skip("codex 0.130 has no process/signal (see test_remote_errors)")
    with trio.fail_after(WAIT):
        script = "trap 'echo trapped; exit 7' INT; echo ready; while :; do sleep 0.05; done"
        proc = await client.start_process(["sh", "-c", script], env=CHILD_ENV)
        ready = await proc.events.__anext__()
        assert isinstance(ready, Output)
        assert ready.data == b"ready\n"
        await proc.signal("interrupt")
        result = await proc.communicate()
    assert (bytes(result.stdout), result.exit_code) == (b"trapped\n", 7)


async def test_writes_in_order_with_write_ids(client: execsrv.Client) -> None:
    """Each write is a new ``writeId`` to 0.171 (a repeated one would be dropped)."""
    with trio.fail_after(WAIT):
        proc = await client.start_process(["cat"], env=CHILD_ENV, pipe_stdin=True)
        for word in (b"a", b"b", b"a", b"a"):
            assert await proc.write(word) == "accepted"
        echoed = b""
        while echoed != b"abaa":
            event = await proc.events.__anext__()
            assert isinstance(event, Output)
            echoed += event.data
        assert await proc.terminate() is True


async def test_cwd_with_odd_names(client: execsrv.Client, tmp_path: Path) -> None:
    """The cwd goes out in the generation's form and arrives whole."""
    odd = tmp_path / ODD_NAME
    odd.mkdir()
    with trio.fail_after(WAIT):
        proc = await client.start_process(["pwd"], env=CHILD_ENV, cwd=str(odd))
        result = await proc.communicate()
    assert bytes(result.stdout) == os.fsencode(odd) + b"\n"


async def test_file_system(client: execsrv.Client, generation: Generation, tmp_path: Path) -> None:
    """Every 0.130 ``fs/*`` method, paths with spaces, ``%`` and non-ASCII in both forms."""
    root = tmp_path / ODD_NAME
    with trio.fail_after(WAIT):
        await client.fs.create_directory(root / "a" / "b")
        await client.fs.write_file(root / "a" / "50% é.txt", b"data\0")
        assert await client.fs.read_file(root / "a" / "50% é.txt") == b"data\0"
        meta = await client.fs.get_metadata(root / "a" / "50% é.txt")
        assert (meta.is_file, meta.is_directory, meta.is_symlink) == (True, False, False)
        assert meta.size == (None if generation is V0_130 else 5)  # 0.171 added size
        await client.fs.copy(root / "a", root / "copy", recursive=True)
        entries = await client.fs.read_directory(root / "copy")
        assert sorted((e.file_name, e.is_directory) for e in entries) == [
            ("50% é.txt", False),
            ("b", True),
        ]
        await client.fs.remove(root / "copy")
        with pytest.raises(FileNotFound):
            await client.fs.read_file(root / "copy" / "50% é.txt")
    assert (root / "a" / "50% é.txt").read_bytes() == b"data\0"


async def test_canonicalize_and_walk(
    client: execsrv.Client, generation: Generation, tmp_path: Path
) -> None:
    """0.171's ``fs/canonicalize`` and ``fs/walk`` answer URIs: the client gives host paths."""
    root = tmp_path / ODD_NAME
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "sub" / "f%.txt").write_bytes(b"")
    (root / "link").symlink_to("sub")
    with trio.fail_after(WAIT):
        if generation is V0_130:
            with pytest.raises(RemoteError) as missing:
                await client.fs.canonicalize(root / "link")
            assert missing.value.code == -32601
            return
        assert await client.fs.canonicalize(root / "link" / ".." / "link") == str(root / "sub")
        with pytest.raises(FileNotFound):
            await client.fs.canonicalize(root / "nope")
        walked = await client.fs.walk(
            root, max_depth=5, max_directories=10, max_entries=10, follow_directory_symlinks=False
        )
    assert [(entry.path, entry.kind) for entry in walked.entries] == [
        (str(root / "sub"), "directory"),
        (str(root / "sub" / "deeper"), "directory"),
        (str(root / "sub" / "f%.txt"), "file"),
    ]
    assert (walked.errors, walked.truncated) == ([], False)


async def test_auto_resume_catches_up_after_a_cut(codex: RunningServer) -> None:
    """A reset mid-command: the client resumes codex's session (0.171: TTL 80 s) and the
    event stream goes on with every seq exactly once."""
    port = int(codex.url.rsplit(":", 1)[1])
    async with open_proxy(port) as proxy, execsrv.connect(proxy.url, auto_resume=True) as client:
        with trio.fail_after(WAIT):
            script = "echo one; read line; echo two; echo three >&2"
            proc = await client.start_process(["sh", "-c", script], env=CHILD_ENV, pipe_stdin=True)
            first = await proc.events.__anext__()
            assert isinstance(first, Output)
            assert first.data == b"one\n"
            assert proxy.sever() == 1
            await client.wait_resumed()
            assert await proc.write(b"go\n") == "accepted"
            result = await proc.communicate()
    assert (bytes(result.stdout), bytes(result.stderr)) == (b"two\n", b"three\n")
    assert result.exit_code == 0
    assert result.gaps == []
