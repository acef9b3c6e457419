"""``fs/*`` under a restricted profile run confined by Landlock (issue 11, point 3).

The profile is the one the harness sends under ``workspace-write`` (root
``read``; project roots ``write``; ``.git``, ``.agents``, ``.codex``, ``.aws`` ``read``)
without its ``/tmp`` and ``$TMPDIR`` entries, since pytest's files live in
``/tmp``: "outside" is then a sibling of the project root.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import pytest
import trio

import execsrv
from execsrv import RemoteError
from execsrv.protocol import fs as f
from execsrv.protocol.generation import Generation
from execsrv.protocol.methods import (
    FS_COPY,
    FS_CREATE_DIRECTORY,
    FS_READ_FILE,
    FS_REMOVE,
    FS_WRITE_FILE,
)
from execsrv.sandbox import PolicyUnsupported, fs_policy, landlock_abi, run_restricted
from execsrv.sandbox.policy import FsPolicy
from execsrv.sandbox.profiles import special, workspace_write

from ..conformance.support import b64, error, rpc
from ..wire import open_wire

pytestmark = pytest.mark.skipif(landlock_abi() < 1, reason="the kernel has no Landlock")

WAIT = 30
EROFS = (-32603, "Read-only file system (os error 30)")


WORKSPACE_WRITE = workspace_write(temporary=False)
FULL_ACCESS = {"type": "disabled"}


def sandbox(permissions: object, cwd: Path) -> f.FileSystemSandboxContext:
    return f.FileSystemSandboxContext(
        permissions=permissions, windows_sandbox_level="disabled", cwd=str(cwd)
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / ".git").mkdir(parents=True)
    (root / ".git" / "config").write_bytes(b"[core]")
    (root / "src").mkdir()
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret").write_bytes(b"s")
    return root


async def write(client: execsrv.Client, path: Path, permissions: object, cwd: Path) -> object:
    params = f.FsWriteFileParams(
        path=str(path),
        data_base64=base64.b64encode(b"data").decode(),
        sandbox=sandbox(permissions, cwd),
    )
    try:
        with trio.fail_after(WAIT):
            await client.call(FS_WRITE_FILE, params)
    except RemoteError as error:
        return (error.code, error.message)
    return "ok"


def targets(project: Path) -> dict[str, Path]:
    outside = project.parent / "outside"
    (project / "src" / "out").symlink_to(outside)
    (project / "leak").symlink_to(outside / "new")
    return {
        "outside": outside / "new",
        "git": project / ".git" / "config",
        "git new": project / ".git" / "hooks-new",
        "symlinked dir": project / "src" / "out" / "new",
        "symlinked file": project / "leak",
        "dot dot": Path(f"{project}/src/../../outside/new"),
    }


async def test_writes_inside_the_project_succeed(client: execsrv.Client, project: Path) -> None:
    for path in [project / "src" / "a.txt", project / "top.txt", project / ".gitignore"]:
        assert await write(client, path, WORKSPACE_WRITE, project) == "ok"
        assert path.read_bytes() == b"data"


async def test_writes_leaving_the_project_fail_with_codex_text(
    client: execsrv.Client, project: Path
) -> None:
    for name, path in targets(project).items():
        assert await write(client, path, WORKSPACE_WRITE, project) == EROFS, name
    assert (project / ".git" / "config").read_bytes() == b"[core]"
    assert not (project.parent / "outside" / "new").exists()


async def test_the_same_writes_succeed_under_full_access(
    client: execsrv.Client, project: Path
) -> None:
    for name, path in targets(project).items():
        assert await write(client, path, FULL_ACCESS, project) == "ok", name


async def test_other_changes_follow_the_profile(client: execsrv.Client, project: Path) -> None:
    box = sandbox(WORKSPACE_WRITE, project)
    outside = project.parent / "outside"
    calls: list[tuple[str, Any, object]] = [
        (
            FS_CREATE_DIRECTORY,
            f.FsCreateDirectoryParams(path=str(project / "new"), sandbox=box),
            "ok",
        ),
        (
            FS_CREATE_DIRECTORY,
            f.FsCreateDirectoryParams(path=str(outside / "d"), sandbox=box),
            EROFS,
        ),
        (
            FS_CREATE_DIRECTORY,
            f.FsCreateDirectoryParams(path=str(project / "new2" / "a" / "b"), sandbox=box),
            "ok",
        ),
        (
            FS_CREATE_DIRECTORY,
            f.FsCreateDirectoryParams(path=str(outside / "d" / "e"), sandbox=box),
            EROFS,
        ),
        (
            FS_CREATE_DIRECTORY,
            f.FsCreateDirectoryParams(path=str(project / ".git" / "n" / "m"), sandbox=box),
            EROFS,
        ),
        (
            FS_CREATE_DIRECTORY,
            f.FsCreateDirectoryParams(path=str(project / ".git" / "d"), sandbox=box),
            EROFS,
        ),
        (
            FS_COPY,
            f.FsCopyParams(
                source_path=str(outside / "secret"),
                destination_path=str(project / "src" / "c"),
                recursive=False,
                sandbox=box,
            ),
            "ok",
        ),
        (
            FS_COPY,
            f.FsCopyParams(
                source_path=str(project / ".git" / "config"),
                destination_path=str(outside / "c"),
                recursive=False,
                sandbox=box,
            ),
            EROFS,
        ),
        (FS_REMOVE, f.FsRemoveParams(path=str(project / ".git" / "config"), sandbox=box), EROFS),
        (FS_REMOVE, f.FsRemoveParams(path=str(project / ".git"), sandbox=box), EROFS),
        (FS_REMOVE, f.FsRemoveParams(path=str(outside / "secret"), sandbox=box), EROFS),
        (FS_REMOVE, f.FsRemoveParams(path=str(project / "src"), sandbox=box), "ok"),
    ]
    for method, params, expected in calls:
        try:
            with trio.fail_after(WAIT):
                await client.call(method, params)
            outcome: object = "ok"
        except RemoteError as error:
            outcome = (error.code, error.message)
        assert outcome == expected, (method, params)
    assert (project / ".git" / "config").exists()
    assert (outside / "secret").exists()
    assert (project / "new2" / "a" / "b").is_dir()
    assert not (project / ".git" / "n").exists()


async def test_reads_follow_the_profile(client: execsrv.Client, project: Path) -> None:
    """Root ``read`` reads anything; a profile reading only the project cannot read outside."""
    only_project = {
        "type": "managed",
        "network": "restricted",
        "file_system": {
            "type": "restricted",
            "entries": [{"path": special("project_roots"), "access": "write"}],
        },
    }
    secret = project.parent / "outside" / "secret"
    (project / "src" / "mine").write_bytes(b"m")
    with trio.fail_after(WAIT):
        read = f.FsReadFileParams(path=str(secret), sandbox=sandbox(WORKSPACE_WRITE, project))
        assert (await client.call(FS_READ_FILE, read)).data_base64 == b"s"
        mine = f.FsReadFileParams(
            path=str(project / "src" / "mine"), sandbox=sandbox(only_project, project)
        )
        assert (await client.call(FS_READ_FILE, mine)).data_base64 == b"m"
        denied = f.FsReadFileParams(path=str(secret), sandbox=sandbox(only_project, project))
        with pytest.raises(RemoteError) as caught:
            await client.call(FS_READ_FILE, denied)
    # codex's sandbox does not mount what it may not read (measured on 0.130.0)
    assert (caught.value.code, caught.value.message) == (
        -32004,
        "No such file or directory (os error 2)",
    )


def test_rename_and_hard_link_out_fail(project: Path) -> None:
    """Moving or linking a file out of a writable root is a denied change."""
    policy = FsPolicy(
        read_roots=("/",), write_roots=(str(project),), read_only=(str(project / ".git"),)
    )
    mine = project / "src" / "mine"
    mine.write_bytes(b"m")
    outside = project.parent / "outside"
    for action in [
        lambda: os.rename(mine, outside / "moved"),
        lambda: os.link(mine, outside / "linked"),
        lambda: os.rename(mine, project / ".git" / "moved"),
        lambda: os.link(outside / "secret", project / "src" / "in"),
    ]:
        with pytest.raises(OSError, match="Read-only file system"):
            run_restricted(policy, action, changes=True)
    run_restricted(policy, lambda: os.rename(mine, project / "src" / "renamed"), changes=True)
    assert (project / "src" / "renamed").exists()


async def test_handles_are_opened_inside_the_profile(
    server: execsrv.ExecServer, project: Path
) -> None:
    """``fs/open`` (0.171) opens its descriptor confined: ``replace`` outside the
    project is refused, inside it the handle writes."""
    box = {
        "permissions": WORKSPACE_WRITE,
        "cwd": project.as_uri(),
        "windowsSandboxLevel": "disabled",
    }
    outside = project.parent / "outside"
    assert server.url is not None
    async with open_wire(server.url) as wire:
        with trio.fail_after(WAIT):
            await wire.handshake("pytest")

            async def fs_open(handle_id: str, path: Path, mode: str) -> dict[str, Any]:
                params = {"handleId": handle_id, "path": path.as_uri(), "mode": mode}
                return await rpc(wire, "fs/open", {**params, "sandbox": box})

            denied = {"error": error(*EROFS)}
            assert await fs_open("out", outside / "h", "replace") == denied
            assert await fs_open("git", project / ".git" / "config", "replace") == denied
            opened = await fs_open("in", project / "src" / "h", "replace")
            assert opened == {"result": {"handleId": "in"}}
            write = {"handleId": "in", "offset": 0, "chunk": b64(b"hi")}
            assert await rpc(wire, "fs/writeBlock", write) == {"result": {}}
            assert await fs_open("r", outside / "secret", "read") == {"result": {"handleId": "r"}}
    assert (project / "src" / "h").read_bytes() == b"hi"
    assert not (outside / "h").exists()
    assert (project / ".git" / "config").read_bytes() == b"[core]"


def test_the_harness_profile_as_a_policy(tmp_path: Path) -> None:
    """The profile the harness sends under ``workspace-write``, resolved (sans-IO)."""
    harness = workspace_write()
    profile = f.parse_permissions(harness, Generation.V0_171)
    policy = fs_policy(profile, cwd="/srv/p", env={"TMPDIR": "/var/tmp/x"})
    assert policy is not None
    assert policy.read_roots[0] == "/"
    assert policy.write_roots == ("/srv/p", "/tmp", "/var/tmp/x")
    assert "/srv/p/.git" in policy.read_only
    assert policy.may_write("/srv/p/a")
    assert not policy.may_write("/srv/p/.git/config")
    assert not policy.may_write("/etc/passwd")
    assert fs_policy(f.parse_permissions(FULL_ACCESS), cwd="/srv/p", env={}) is None
    root_write_then_none = {
        "file_system": {
            "entries": [
                {"path": special("root"), "access": "write"},
                {"path": special("root"), "access": "none"},
            ]
        }
    }
    nothing = fs_policy(f.parse_permissions(root_write_then_none), cwd=None, env={})
    assert nothing == FsPolicy()
    deny_inside = {
        "file_system": {
            "entries": [
                {"path": special("root"), "access": "read"},
                {"path": {"type": "path", "path": "/srv/secret"}, "access": "none"},
            ]
        }
    }
    with pytest.raises(PolicyUnsupported):
        fs_policy(f.parse_permissions(deny_inside), cwd=None, env={})
