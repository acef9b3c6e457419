"""``discover_project_docs``: AGENTS.md from the repository root down to cwd, on both backends."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
import trio

from execsrv import RemoteError
from execsrv.backend import ExecBackend, discover_project_docs, find_repository_root
from execsrv.fs import MAX_READ_FILE_BYTES


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


async def discover(backend: ExecBackend, cwd: Path | str, **kwargs) -> list[tuple[str, bytes]]:
    with trio.fail_after(10):
        docs = await discover_project_docs(backend, cwd, **kwargs)
    return [(doc.path, doc.content) for doc in docs]


async def test_root_to_cwd_in_order(backend: ExecBackend, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    write(tmp_path / "AGENTS.md", "outside the repository")
    write(repo / "AGENTS.md", "root")
    write(repo / "a" / "AGENTS.md", "a")
    write(repo / "a" / "b" / "c" / "AGENTS.md", "c")
    (repo / "a" / "b" / "c" / "d").mkdir()
    assert await discover(backend, repo / "a" / "b" / "c" / "d") == [
        (f"{repo}/AGENTS.md", b"root"),
        (f"{repo}/a/AGENTS.md", b"a"),
        (f"{repo}/a/b/c/AGENTS.md", b"c"),
    ]
    assert await discover(backend, repo) == [(f"{repo}/AGENTS.md", b"root")]


async def test_a_git_file_marks_the_root_and_the_nearest_wins(
    backend: ExecBackend, tmp_path: Path
) -> None:
    outer = tmp_path / "outer"
    (outer / ".git").mkdir(parents=True)
    write(outer / "AGENTS.md", "outer")
    inner = outer / "vendor" / "inner"
    write(inner / ".git", "gitdir: ../../.git/modules/inner\n")  # a submodule or worktree
    write(inner / "AGENTS.md", "inner")
    assert await find_repository_root(backend, inner / "src") == str(inner)
    assert await discover(backend, inner) == [(f"{inner}/AGENTS.md", b"inner")]


async def test_without_a_repository_only_cwd_is_searched(
    backend: ExecBackend, tmp_path: Path
) -> None:
    write(tmp_path / "AGENTS.md", "parent")
    write(tmp_path / "work" / "AGENTS.md", "cwd")
    assert await find_repository_root(backend, tmp_path / "work") is None
    assert await discover(backend, tmp_path / "work") == [(f"{tmp_path}/work/AGENTS.md", b"cwd")]
    (tmp_path / "empty").mkdir()
    assert await discover(backend, tmp_path / "empty") == []


async def test_a_directory_by_that_name_is_skipped(backend: ExecBackend, tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "AGENTS.md").mkdir()
    write(tmp_path / "sub" / "AGENTS.md", "file")
    assert await discover(backend, tmp_path / "sub") == [(f"{tmp_path}/sub/AGENTS.md", b"file")]


async def test_symlinks(backend: ExecBackend, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    write(tmp_path / "shared.md", "shared")
    os.symlink(tmp_path / "shared.md", repo / "AGENTS.md")  # a symlinked file counts
    write(repo / "real" / "AGENTS.md", "real")
    write(repo / "real" / "sub" / "AGENTS.md", "sub")
    os.symlink("real", repo / "link")  # a symlinked directory on the way
    os.symlink("missing.md", repo / "real" / "sub" / "CLAUDE.md")  # dangling: missing
    docs = await discover(backend, repo / "link" / "sub", names=("AGENTS.md", "CLAUDE.md"))
    assert docs == [
        (f"{repo}/AGENTS.md", b"shared"),
        (f"{repo}/link/AGENTS.md", b"real"),  # paths as walked, not resolved
        (f"{repo}/link/sub/AGENTS.md", b"sub"),
    ]


async def test_names_in_order_within_a_directory(backend: ExecBackend, tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    write(tmp_path / "AGENTS.md", "agents")
    write(tmp_path / "AGENTS.override.md", "override")
    docs = await discover(backend, tmp_path, names=("AGENTS.override.md", "AGENTS.md"))
    assert [content for _, content in docs] == [b"override", b"agents"]


async def test_unreadable_docs_are_skipped_with_a_warning(
    backend: ExecBackend, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / ".git").mkdir()
    huge = tmp_path / "AGENTS.md"
    write(huge, "")
    os.truncate(huge, MAX_READ_FILE_BYTES + 1)  # over the read limit, sparse: no disk used
    write(tmp_path / "sub" / "AGENTS.md", "readable")
    locked = tmp_path / "sub" / "deeper" / "AGENTS.md"
    write(locked, "secret")
    locked.chmod(0)  # unreadable unless we are root (root reads anything)
    with caplog.at_level(logging.WARNING, logger="execsrv.backend"):
        docs = await discover(backend, locked.parent)
    expected = [(f"{tmp_path}/sub/AGENTS.md", b"readable")]
    if os.geteuid() == 0:
        expected.append((str(locked), b"secret"))
    else:
        assert f"skipped unreadable project doc {locked}: Permission denied" in caplog.text
    assert docs == expected
    assert f"skipped unreadable project doc {huge}: file is too large" in caplog.text


async def test_a_relative_cwd_is_refused(backend: ExecBackend) -> None:
    with pytest.raises(RemoteError) as caught:
        await discover(backend, "relative/dir")
    assert caught.value.code == -32602
