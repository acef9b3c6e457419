"""``fs/walk`` and ``fs/canonicalize`` (codex 0.171) over a real execsrv, on the wire
and through the client (issue 10).

Expected URIs are built here with :func:`urllib.parse.quote`, not with execsrv's
formatter; the tree is made on disk with :mod:`os`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import execsrv
from execsrv import FileNotFound

from ..conformance.support import error, rpc
from ..wire import WireClient
from .support import uri

TOO_LARGE = "filesystem walk limits exceed maximums: depth=64, directories=10000, entries=50000"
NOT_POSITIVE = "filesystem walk limits must be greater than zero"
AS_ROOT = os.geteuid() == 0


def options(**overrides: Any) -> dict[str, Any]:
    return {
        "maxDepth": 64,
        "maxDirectories": 10000,
        "maxEntries": 50000,
        "followDirectorySymlinks": True,
        **overrides,
    }


async def walk(wire: WireClient, path: str, **overrides: Any) -> dict[str, Any]:
    response = await rpc(wire, "fs/walk", {"path": path, "options": options(**overrides)})
    return response["result"]  # type: ignore[no-any-return]


@pytest.fixture
def tree(tmp_path: Path) -> Iterator[Path]:
    """Files, nested directories, a hidden one, symlinks of each kind, odd names."""
    root = tmp_path.resolve() / "tree"  # no symlink above it: canonical paths are known
    (root / "sub" / "inner").mkdir(parents=True)
    (root / ".hidden").mkdir()
    (root / "locked").mkdir()
    (tmp_path / "outside").mkdir()
    for name in ("a file.txt", "b%20.txt", "ü.txt", ".dotfile"):
        (root / name).write_bytes(b"x")
    for name in ("sub/x.txt", "sub/inner/deep.txt", ".hidden/h.txt", "locked/z.txt"):
        (root / name).write_bytes(b"x")
    (tmp_path / "outside" / "o.txt").write_bytes(b"x")
    (root / "link-dir").symlink_to("sub")  # followed (inside the tree)
    (root / "outside-link").symlink_to(tmp_path / "outside")  # followed or left out
    (root / "dangling").symlink_to("missing")
    (root / "file-link").symlink_to("a file.txt")  # a symlink to a file: left out
    (root / "sub" / "inner" / "up").symlink_to("../..")  # a loop: listed, not read
    (root / "locked").chmod(0)
    yield root
    (root / "locked").chmod(0o755)


def entries(root: Path, *items: tuple[str, str]) -> list[dict[str, str]]:
    return [{"path": uri(str(root / name)), "kind": kind} for name, kind in items]


ROOT_CHILDREN = (
    (".dotfile", "file"),
    (".hidden", "directory"),
    ("a file.txt", "file"),
    ("b%20.txt", "file"),
    ("link-dir", "directory"),
    ("locked", "directory"),
    ("outside-link", "directory"),
    ("sub", "directory"),
    ("ü.txt", "file"),
)
UNFOLLOWED = {"link-dir", "outside-link"}


async def test_walk_breadth_first_sorted_following_symlinks(wire: WireClient, tree: Path) -> None:
    result = await walk(wire, uri(tree))
    expected = entries(
        tree,
        *ROOT_CHILDREN,
        (".hidden/h.txt", "file"),
        ("link-dir/inner", "directory"),
        ("link-dir/x.txt", "file"),
        *([("locked/z.txt", "file")] if AS_ROOT else []),
        ("outside-link/o.txt", "file"),
        ("sub/inner", "directory"),
        ("sub/x.txt", "file"),
        ("link-dir/inner/deep.txt", "file"),
        ("link-dir/inner/up", "directory"),
        ("sub/inner/deep.txt", "file"),
        ("sub/inner/up", "directory"),
    )
    assert result["entries"] == expected
    assert result["truncated"] is False
    if AS_ROOT:  # root reads a mode-0 directory: no error here (see the long-name test)
        assert result["errors"] == []
    else:
        assert result["errors"] == [
            {"path": uri(tree / "locked"), "message": "Permission denied (os error 13)"}
        ]


async def test_unfollowed_and_dangling_symlinks_are_left_out(wire: WireClient, tree: Path) -> None:
    result = await walk(wire, uri(tree), maxDepth=0, followDirectorySymlinks=False)
    expected = [item for item in ROOT_CHILDREN if item[0] not in UNFOLLOWED]
    assert result == {"entries": entries(tree, *expected), "errors": [], "truncated": False}
    deeper = await walk(wire, uri(tree), followDirectorySymlinks=False)
    names = [entry["path"] for entry in deeper["entries"]]
    assert uri(tree / "sub" / "inner" / "deep.txt") in names
    assert not any("link" in name or name.endswith("/up") for name in names)


async def test_max_depth_zero_lists_the_roots_children_only(wire: WireClient, tree: Path) -> None:
    result = await walk(wire, uri(tree), maxDepth=0)
    assert result == {"entries": entries(tree, *ROOT_CHILDREN), "errors": [], "truncated": False}
    one = await walk(wire, uri(tree), maxDepth=1, followDirectorySymlinks=False)
    assert uri(tree / "sub" / "inner") in [e["path"] for e in one["entries"]]
    assert uri(tree / "sub" / "inner" / "deep.txt") not in [e["path"] for e in one["entries"]]


async def test_prune_hidden_directories_lists_but_does_not_descend(
    wire: WireClient, tree: Path
) -> None:
    result = await walk(wire, uri(tree), pruneHiddenDirectories=True)
    paths = [entry["path"] for entry in result["entries"]]
    assert uri(tree / ".hidden") in paths
    assert uri(tree / ".dotfile") in paths
    assert uri(tree / ".hidden" / "h.txt") not in paths
    assert uri(tree / "sub" / "x.txt") in paths


async def test_a_file_root_is_empty_and_a_missing_root_is_not_found(
    wire: WireClient, tree: Path
) -> None:
    empty = {"entries": [], "errors": [], "truncated": False}
    assert await walk(wire, uri(tree / "a file.txt")) == empty
    missing = await rpc(wire, "fs/walk", {"path": uri(tree / "nope"), "options": options()})
    assert missing == {"error": error(-32004, "No such file or directory (os error 2)")}


async def test_limits_truncate(wire: WireClient, tree: Path) -> None:
    three = await walk(wire, uri(tree), maxEntries=3)
    assert three == {
        "entries": entries(tree, *ROOT_CHILDREN[:3]),
        "errors": [],
        "truncated": True,
    }
    exact = await walk(wire, uri(tree), maxDepth=0, maxEntries=len(ROOT_CHILDREN))
    assert exact["truncated"] is False
    assert len(exact["entries"]) == len(ROOT_CHILDREN)
    one_directory = await walk(wire, uri(tree), maxDirectories=1)
    assert one_directory == {
        "entries": entries(tree, *ROOT_CHILDREN),
        "errors": [],
        "truncated": True,
    }
    # The root and .hidden read; link-dir waits: truncated after .hidden's entries.
    two = await walk(wire, uri(tree), maxDirectories=2)
    assert two["entries"] == entries(tree, *ROOT_CHILDREN, (".hidden/h.txt", "file"))
    assert two["truncated"] is True


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"maxDepth": 65}, TOO_LARGE),
        ({"maxDirectories": 10001}, TOO_LARGE),
        ({"maxEntries": 50001}, TOO_LARGE),
        ({"maxDirectories": 0}, NOT_POSITIVE),
        ({"maxEntries": 0}, NOT_POSITIVE),
    ],
)
async def test_limit_errors(
    wire: WireClient, tmp_path: Path, overrides: dict[str, int], message: str
) -> None:
    params = {"path": uri(tmp_path), "options": options(**overrides)}
    assert await rpc(wire, "fs/walk", params) == {"error": error(-32600, message)}
    # checked before the file system: a missing root gets the same answer
    params = {"path": uri(tmp_path / "nope"), "options": options(**overrides)}
    assert await rpc(wire, "fs/walk", params) == {"error": error(-32600, message)}
    # and maxDepth 64 with the other maxima is fine
    assert (await walk(wire, uri(tmp_path)))["truncated"] is False


async def test_an_unreadable_directory_is_an_error_entry_even_as_root(
    wire: WireClient, tmp_path: Path
) -> None:
    """A directory whose path is longer than PATH_MAX cannot be read by anyone."""
    name = "d" * 250
    fd = os.open(tmp_path, os.O_RDONLY)
    depth = 0
    try:
        while len(str(tmp_path)) + (depth + 1) * (len(name) + 1) < 4096:
            os.mkdir(name, dir_fd=fd)
            child = os.open(name, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd, depth = child, depth + 1
        os.mkdir(name, dir_fd=fd)  # its path is longer than PATH_MAX allows
    finally:
        os.close(fd)
    result = await walk(wire, uri(tmp_path))
    too_long = str(tmp_path) + ("/" + name) * (depth + 1)
    message = "Filename too long (os error 36)"  # musl's text, as codex
    assert result["errors"] == [{"path": uri(too_long), "message": message}]
    assert result["entries"][-1] == {"path": uri(too_long), "kind": "directory"}
    assert len(result["entries"]) == depth + 1
    assert result["truncated"] is False


async def test_both_path_forms_and_a_disabled_sandbox(wire: WireClient, tree: Path) -> None:
    by_uri = await walk(wire, uri(tree), maxDepth=0)
    assert await walk(wire, str(tree), maxDepth=0) == by_uri
    assert await walk(wire, str(tree / "sub" / ".."), maxDepth=0) == by_uri
    disabled = {"permissions": {"type": "disabled"}, "windowsSandboxLevel": "disabled"}
    params = {"path": uri(tree), "options": options(maxDepth=0), "sandbox": disabled}
    assert await rpc(wire, "fs/walk", params) == {"result": by_uri}
    file_system = {"type": "restricted", "entries": []}  # 0.171 reads only typed profiles
    restricted = {
        "permissions": {"type": "managed", "file_system": file_system, "network": "restricted"},
        "windowsSandboxLevel": "disabled",
    }
    for method, extra in (("fs/walk", {"options": options()}), ("fs/canonicalize", {})):
        params = {"path": uri(tree), "sandbox": restricted, **extra}
        # No entry: nothing is readable, as if nothing were mounted (issue 11, point 3).
        not_found = error(-32004, "No such file or directory (os error 2)")
        assert await rpc(wire, method, params) == {"error": not_found}


async def test_canonicalize(wire: WireClient, tree: Path) -> None:
    (tree / "l1").symlink_to("l2")
    (tree / "l2").symlink_to("link-dir/inner")
    real = {"result": {"path": uri(tree / "sub" / "inner")}}
    for path in (uri(tree / "l1"), str(tree / "l1"), str(tree / "sub" / ".." / "l1")):
        assert await rpc(wire, "fs/canonicalize", {"path": path}) == real
    odd = {"path": uri(tree / "b%20.txt")}
    assert await rpc(wire, "fs/canonicalize", odd) == {"result": odd}
    not_found = {"error": error(-32004, "No such file or directory (os error 2)")}
    for path in (uri(tree / "nope"), str(tree / "dangling")):
        assert await rpc(wire, "fs/canonicalize", {"path": path}) == not_found


async def test_client_walk_and_canonicalize(client: execsrv.Client, tree: Path) -> None:
    found = await client.fs.walk(
        tree, max_depth=64, max_directories=1, max_entries=100, follow_directory_symlinks=False
    )
    expected = [item for item in ROOT_CHILDREN if item[0] not in UNFOLLOWED]
    assert [(e.path, e.kind) for e in found.entries] == [
        (str(tree / name), kind) for name, kind in expected
    ]
    assert found.truncated is True  # the root's subdirectories were left unread
    assert await client.fs.canonicalize(tree / "link-dir") == str(tree / "sub")
    with pytest.raises(FileNotFound):
        await client.fs.canonicalize(tree / "dangling")
