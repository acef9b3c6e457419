"""The file half of ExecBackend: same results and same errors on both backends."""

from __future__ import annotations

import os

import pytest
import trio

from execsrv import FileNotFound, RemoteError
from execsrv.backend import ExecBackend


async def test_write_then_read_is_byte_exact(backend: ExecBackend, tmp_path) -> None:
    data = bytes(range(256)) * 64
    with trio.fail_after(10):
        await backend.write_file(tmp_path / "f.bin", data)
        assert await backend.read_file(tmp_path / "f.bin") == data
        assert await backend.read_file(str(tmp_path / "f.bin")) == data
        meta = await backend.get_metadata(tmp_path / "f.bin")
    assert (meta.is_file, meta.is_directory, meta.is_symlink, meta.size) == (
        True,
        False,
        False,
        len(data),
    )
    assert meta.modified_at_ms > 0


async def test_directories(backend: ExecBackend, tmp_path) -> None:
    with trio.fail_after(10):
        await backend.create_directory(tmp_path / "a" / "b")
        await backend.create_directory(tmp_path / "a" / "b")  # recursive: existing is fine
        await backend.write_file(tmp_path / "a" / "f", b"x")
        os.symlink("b", tmp_path / "a" / "link")
        os.symlink("missing", tmp_path / "a" / "dangling")
        entries = sorted(await backend.read_directory(tmp_path / "a"), key=lambda e: e.file_name)
        assert [(e.file_name, e.is_directory, e.is_file) for e in entries] == [
            ("b", True, False),
            ("f", False, True),
            ("link", True, False),  # type flags follow the symlink; the dangling one is left out
        ]
        link = await backend.get_metadata(tmp_path / "a" / "link")
        assert (link.is_directory, link.is_symlink) == (True, True)
        with pytest.raises(RemoteError) as exists:
            await backend.create_directory(tmp_path / "a" / "b", recursive=False)
        assert (exists.value.code, exists.value.message) == (-32603, "File exists (os error 17)")


async def test_remove_and_copy(backend: ExecBackend, tmp_path) -> None:
    with trio.fail_after(10):
        await backend.create_directory(tmp_path / "src" / "sub")
        await backend.write_file(tmp_path / "src" / "sub" / "f", b"data")
        os.symlink("sub/f", tmp_path / "src" / "link")
        with pytest.raises(RemoteError) as needs_recursive:
            await backend.copy(tmp_path / "src", tmp_path / "dst", recursive=False)
        assert needs_recursive.value.code == -32600
        await backend.copy(tmp_path / "src", tmp_path / "dst", recursive=True)
        assert await backend.read_file(tmp_path / "dst" / "sub" / "f") == b"data"
        assert os.readlink(tmp_path / "dst" / "link") == "sub/f"  # copied as a symlink
        await backend.remove(tmp_path / "dst" / "link")
        assert (tmp_path / "src" / "sub" / "f").exists()  # the target stays
        await backend.remove(tmp_path / "dst")
        assert not (tmp_path / "dst").exists()
        await backend.remove(tmp_path / "dst")  # force: missing is fine
        with pytest.raises(FileNotFound):
            await backend.remove(tmp_path / "dst", force=False)


async def test_errors_are_the_protocols(backend: ExecBackend, tmp_path) -> None:
    with trio.fail_after(10):
        with pytest.raises(FileNotFound) as missing:
            await backend.read_file(tmp_path / "missing")
        assert (missing.value.code, missing.value.message) == (
            -32004,
            "No such file or directory (os error 2)",
        )
        with pytest.raises(RemoteError) as directory:
            await backend.read_file(tmp_path)
        assert (directory.value.code, directory.value.message) == (
            -32600,
            f"path `{tmp_path}` is not a file",  # codex 0.171's rule, on both backends
        )
        with pytest.raises(RemoteError) as relative:
            await backend.get_metadata("relative/path")
        assert relative.value.code == -32602  # 0.130's text locally, 0.171's remotely
        with pytest.raises(FileNotFound):
            await backend.write_file(tmp_path / "no" / "parent", b"")
