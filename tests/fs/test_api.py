"""fs/* through a real server and execsrv's client: typed calls, errors, threads.

The exact codes and messages of every error case are checked against both
servers in ``tests/conformance/test_fs.py``; this file covers the client API
and what only execsrv promises (work in threads, the ``size`` extension).
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import pytest
import trio

import execsrv
from execsrv import FileNotFound, RemoteError
from execsrv.protocol import fs as f
from execsrv.protocol.methods import FS_READ_FILE, FS_WRITE_FILE
from execsrv.protocol.paths import NOT_A_URI

from ..servers import open_execsrv
from .support import read_file_0130

MIB = 1024 * 1024
WAIT = 30


async def test_write_read_metadata_list_copy_remove(client: execsrv.Client, tmp_path: Path) -> None:
    with trio.fail_after(WAIT):
        await client.fs.create_directory(tmp_path / "a" / "b")
        await client.fs.write_file(tmp_path / "a" / "b" / "f", b"\0data\xff")
        assert await client.fs.read_file(tmp_path / "a" / "b" / "f") == b"\0data\xff"
        assert await client.fs.read_file(f"{tmp_path}/a/./x/../b/f/") == b"\0data\xff"

        metadata = await client.fs.get_metadata(str(tmp_path / "a" / "b" / "f"))
        assert isinstance(metadata, execsrv.client.fs.FileMetadata)
        assert (metadata.is_file, metadata.is_directory, metadata.is_symlink) == (
            True,
            False,
            False,
        )
        assert metadata.size == 6
        assert metadata.modified_at_ms == (tmp_path / "a" / "b" / "f").stat().st_mtime_ns // 10**6

        await client.fs.copy(tmp_path / "a", tmp_path / "c", recursive=True)
        entries = await client.fs.read_directory(tmp_path / "c" / "b")
        assert entries == [f.FsReadDirectoryEntry(file_name="f", is_directory=False, is_file=True)]

        await client.fs.remove(tmp_path / "a")
        assert os.listdir(tmp_path) == ["c"]


async def test_not_found_is_a_typed_remote_error(client: execsrv.Client, tmp_path: Path) -> None:
    with trio.fail_after(WAIT):
        with pytest.raises(FileNotFound) as caught:
            await client.fs.read_file(tmp_path / "missing")
        assert isinstance(caught.value, RemoteError)
        assert (caught.value.code, caught.value.message) == (
            -32004,
            "No such file or directory (os error 2)",
        )
        with pytest.raises(FileNotFound):
            await client.fs.remove(tmp_path / "missing", force=False)
        await client.fs.remove(tmp_path / "missing")  # force is the default

        with pytest.raises(RemoteError) as other:
            await client.fs.read_file(tmp_path)
        assert not isinstance(other.value, FileNotFound)
        # The client speaks 0.171 to execsrv: 0.171's rule for anything but a file.
        assert (other.value.code, other.value.message) == (
            -32600,
            f"path `{tmp_path}` is not a file",
        )


async def test_defaults_and_options(client: execsrv.Client, tmp_path: Path) -> None:
    with trio.fail_after(WAIT):
        with pytest.raises(FileNotFound):
            await client.fs.create_directory(tmp_path / "x" / "y", recursive=False)
        await client.fs.create_directory(tmp_path / "x", recursive=False)
        (tmp_path / "x" / "f").write_bytes(b"")
        with pytest.raises(RemoteError, match="Directory not empty"):
            await client.fs.remove(tmp_path / "x", recursive=False)
        with pytest.raises(RemoteError) as caught:
            await client.fs.copy(tmp_path / "x", tmp_path / "y", recursive=False)
        assert caught.value.code == -32600


async def test_relative_paths_are_refused(client: execsrv.Client) -> None:
    """As a ``file:`` URI (what the client sends execsrv) a relative path cannot be
    written at all (0.171's error); in a 0.130 request the server refuses it."""
    with pytest.raises(RemoteError) as unsent:
        await client.fs.read_file("etc/hostname")
    assert (unsent.value.code, unsent.value.message) == (-32602, NOT_A_URI)
    with trio.fail_after(WAIT), pytest.raises(RemoteError) as caught:
        await client.call(FS_READ_FILE, f.FsReadFileParams(path="etc/hostname"))
    assert (caught.value.code, caught.value.message) == (-32602, f.NOT_ABSOLUTE)


async def test_large_files_both_ways(client: execsrv.Client, tmp_path: Path) -> None:
    """50 MB read (server → client), 10 MB write (its base64 fits the 16 MiB message limit)."""
    big = os.urandom(MIB) * 50
    (tmp_path / "big").write_bytes(big)
    with trio.fail_after(WAIT):
        assert await client.fs.read_file(tmp_path / "big") == big
        await client.fs.write_file(tmp_path / "written", big[: 10 * MIB])
        assert (tmp_path / "written").read_bytes() == big[: 10 * MIB]


async def test_a_directory_with_many_entries(client: execsrv.Client, tmp_path: Path) -> None:
    count = 5000
    for i in range(count):
        os.close(os.open(tmp_path / f"entry-{i}", os.O_CREAT | os.O_WRONLY, 0o644))
    with trio.fail_after(WAIT):
        entries = await client.fs.read_directory(tmp_path)
    assert len(entries) == count
    assert {e.file_name for e in entries} == {f"entry-{i}" for i in range(count)}


async def test_a_blocked_operation_does_not_block_the_server(
    client: execsrv.Client, tmp_path: Path
) -> None:
    """A read that blocks in the kernel runs in a worker thread: other calls go on.

    The FIFO has a writer (our O_RDWR descriptor), so the server's read waits
    for data. Meanwhile metadata calls and a process run are answered.
    """
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    writer = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
    result: list[bytes] = []
    try:
        with trio.fail_after(WAIT):
            async with trio.open_nursery() as nursery:

                async def read() -> None:
                    result.append(await read_file_0130(client, fifo))

                nursery.start_soon(read)
                for _ in range(20):
                    metadata = await client.fs.get_metadata(fifo)
                    assert not metadata.is_file
                proc = await client.start_process(["true"], env={"PATH": os.defpath})
                assert (await proc.communicate()).exit_code == 0
                assert result == []  # still blocked in its thread
                os.write(writer, b"through the fifo")
                os.close(writer)
                writer = -1
    finally:
        if writer >= 0:
            os.close(writer)
    assert result == [b"through the fifo"]


async def test_many_concurrent_operations(client: execsrv.Client, tmp_path: Path) -> None:
    """More requests than worker threads: they queue on the limiter, all complete."""
    with trio.fail_after(WAIT):
        async with trio.open_nursery() as nursery:
            for i in range(100):
                nursery.start_soon(client.fs.write_file, tmp_path / f"f{i}", str(i).encode())
        async with trio.open_nursery() as nursery:
            results: dict[int, bytes] = {}

            async def read(i: int) -> None:
                results[i] = await client.fs.read_file(tmp_path / f"f{i}")

            for i in range(100):
                nursery.start_soon(read, i)
    assert results == {i: str(i).encode() for i in range(100)}


async def test_sandbox_field_through_the_client(client: execsrv.Client, tmp_path: Path) -> None:
    """Profiles that run directly work; a restricted one runs confined (Landlock)."""
    (tmp_path / "f").write_bytes(b"x")
    root = {"type": "special", "value": {"kind": "root"}}

    def params(permissions: object) -> f.FsReadFileParams:
        sandbox = f.FileSystemSandboxContext(
            permissions=permissions, windows_sandbox_level="disabled", cwd=str(tmp_path)
        )
        return f.FsReadFileParams(path=str(tmp_path / "f"), sandbox=sandbox)

    with trio.fail_after(WAIT):
        for direct in [
            f.DisabledPermissions(),
            {"type": "external", "network": "restricted"},
            {"file_system": {"entries": [{"path": root, "access": "write"}]}},
        ]:
            result = await client.call(FS_READ_FILE, params(direct))
            assert result.data_base64 == b"x"
        restricted = {"file_system": {"entries": [{"path": root, "access": "read"}]}}
        result = await client.call(FS_READ_FILE, params(restricted))
        assert result.data_base64 == b"x"
        write = f.FsWriteFileParams(
            path=str(tmp_path / "f"), data_base64="eQ==", sandbox=params(restricted).sandbox
        )
        with pytest.raises(RemoteError) as caught:
            await client.call(FS_WRITE_FILE, write)
        assert (caught.value.code, caught.value.message) == (
            -32603,
            "Read-only file system (os error 30)",
        )


async def test_permission_denied_is_invalid_request(client: execsrv.Client, tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root is never denied")
    (tmp_path / "secret").write_bytes(b"s")
    (tmp_path / "secret").chmod(0)
    with trio.fail_after(WAIT), pytest.raises(RemoteError) as caught:
        await client.fs.read_file(tmp_path / "secret")
    assert (caught.value.code, caught.value.message) == (
        -32600,
        f"Permission denied (os error {errno.EACCES})",
    )


CAP_SETPCAP = 8


def _has_capability(bit: int) -> bool:
    """Whether this process has capability ``bit`` in its effective set."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapEff:"):
            return bool(int(line.split()[1], 16) >> bit & 1)
    return False


async def test_permission_denied_is_invalid_request_as_root(tmp_path: Path) -> None:
    """The same denial as root: a server without the capabilities that override file modes.

    Root reads a mode-000 file through ``CAP_DAC_OVERRIDE``/``CAP_DAC_READ_SEARCH``;
    ``setpriv`` drops both (bounding and inheritable sets) before it execs the server,
    which keeps uid 0 (its interpreter may live under a root-only ``/root``) but gets
    the kernel's real ``EACCES``, as any unprivileged user would.
    """
    if os.geteuid() != 0:
        pytest.skip("not root: test_permission_denied_is_invalid_request covers this")
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv (util-linux) is not installed: cannot drop capabilities")
    if not _has_capability(CAP_SETPCAP):
        pytest.skip("no CAP_SETPCAP: cannot drop capabilities from the bounding set")
    (tmp_path / "secret").write_bytes(b"s")
    (tmp_path / "secret").chmod(0)
    dropped = "-dac_override,-dac_read_search"
    wrapper = [setpriv, f"--inh-caps={dropped}", f"--bounding-set={dropped}", "--"]
    with trio.fail_after(WAIT):
        async with (
            open_execsrv(wrapper=wrapper) as server,
            execsrv.connect(server.url, client_name="pytest") as client,
        ):
            with pytest.raises(RemoteError) as caught:
                await client.fs.read_file(tmp_path / "secret")
    assert (caught.value.code, caught.value.message) == (
        -32600,
        f"Permission denied (os error {errno.EACCES})",
    )
