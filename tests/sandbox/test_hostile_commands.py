"""Commands started with a restricting sandbox cannot escape it (issue 11, point 5).

Each test starts ``tests/sandbox/hostile.py`` through a real server over a real
websocket with a 0.171 ``process/start`` carrying the ``sandbox`` codex 0.171's
harness sends (captured from ``codex exec --sandbox read-only`` and
``--sandbox workspace-write`` against codex 0.171's own exec-server), with pipes
and with a PTY, run directly, as a grandchild of two shells, and as a grandchild
that double-forked out of the session. The script tries every escape it knows and
reports each; the test then checks the disk and its own listeners, not only what
the script said. Under ``danger-full-access`` (``sandbox: null``, as codex sends
it) every one of the same actions succeeds: that is what makes a failure above
mean "the sandbox stopped it".

The servers are execsrv (the default suite) and codex 0.171 (``interop``):
codex enforces the same profiles itself (bubblewrap, Landlock, seccomp), so its
results are the reference; where the two differ the expectation says why. A
third server is execsrv where every ``unshare`` is refused (``no_namespaces.py``,
as in a container under Docker's default seccomp profile): its sandbox falls back
to Landlock alone, and what it then gets wrong (``NO_NAMESPACE_GAPS``) is left
out of the matrix and tested on its own as strict xfails, so it masks nothing.

"Outside" must not be under ``/tmp``, which ``workspace-write`` makes writable:
the workspace and the outside directory are siblings in a fresh directory under
``/var/tmp``.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import platform
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Final

import pytest
import trio

from execsrv.sandbox import landlock_abi
from execsrv.sandbox.profiles import read_only, workspace_write

from ..conformance.conftest import _ServerPool, _ServerThread
from ..conftest import CHILD_ENV
from ..fs.support import uri
from ..servers import ServerKind, open_execsrv
from ..wire import Message, open_wire
from .hostile import ACTIONS, ALLOWED, PLANTS, PROTECTED

pytestmark = pytest.mark.skipif(landlock_abi() < 1, reason="the kernel has no Landlock")

WAIT: Final = 60
"""Seconds one hostile run may take (it makes ~40 attempts; 2 busy cores)."""
HOSTILE: Final = str(Path(__file__).with_name("hostile.py"))


PROFILES: Final = {"read-only": read_only(), "workspace-write": workspace_write()}
"""``permissions`` of codex 0.171 ``--sandbox read-only`` / ``workspace-write``
(captured; workspace-write protects ``.aws`` too)."""


SERVERS: Final = [
    pytest.param("execsrv", id="execsrv"),
    pytest.param("execsrv-no-namespaces", id="execsrv-no-namespaces"),
    pytest.param("codex-0.171", id="codex-0.171", marks=pytest.mark.interop),
]
LAUNCHES: Final = ["direct", "grandchild", "detached"]
"""Who runs the actions: the command itself; ``sh -c 'sh -c …'``; a grandchild
that double-forked and called ``setsid``."""

_process_ids = itertools.count(1)


# --- servers ------------------------------------------------------------------


@pytest.fixture(scope="module")
def _servers() -> Iterator[_ServerPool]:
    pool = _ServerPool()
    try:
        yield pool
    finally:
        pool.stop()


@pytest.fixture(params=SERVERS)
def server_kind(request: pytest.FixtureRequest) -> str:
    """``execsrv``, ``codex-0.171``, or ``execsrv-no-namespaces`` (an execsrv where
    the kernel refuses mount namespaces, see ``no_namespace_url``)."""
    kind: str = request.param
    return kind


@pytest.fixture
def url(request: pytest.FixtureRequest, server_kind: str, _servers: _ServerPool) -> str:
    if server_kind == "execsrv-no-namespaces":
        no_namespaces: str = request.getfixturevalue("no_namespace_url")
        return no_namespaces
    kind: ServerKind = "execsrv" if server_kind == "execsrv" else "codex-0.171"
    return _servers.get(kind).url


# --- the scene: workspace, outside, listeners, a victim process ----------------


@dataclass
class Scene:
    """What the hostile command attacks, and how the test sees what it did."""

    workspace: Path
    outside: Path
    allowed_tmp: Path
    victim: subprocess.Popen[bytes]
    listeners: dict[str, socket.socket]

    def context(self, actions: list[str]) -> dict[str, Any]:
        ports = {
            name: sock.getsockname().decode().lstrip("\0")
            if sock.family == socket.AF_UNIX
            else sock.getsockname()[1]
            for name, sock in self.listeners.items()
        }
        return {
            "workspace": str(self.workspace),
            "outside": str(self.outside),
            "tmp": str(self.allowed_tmp),
            "victim_pid": self.victim.pid,
            "actions": actions,
            **ports,
        }

    def reached(self) -> dict[str, int]:
        """Connections and datagrams each listener got (drained: asking again says 0)."""
        counts = {}
        for name, sock in self.listeners.items():
            count = 0
            while True:
                try:
                    if sock.type == socket.SOCK_STREAM:
                        sock.accept()[0].close()
                    else:
                        sock.recvfrom(64)
                except BlockingIOError:
                    break
                count += 1
            counts[name] = count
        return counts


ORIGINAL: Final = b"original"
VICTIMS: Final = ["overwrite", "truncate", "chmod", "symlink", "rename", "hardlink", "handle"]
"""Outside files, one per action that attacks an existing file (``victim-<name>``)."""
LISTENERS: Final = {
    "tcp4": (socket.AF_INET, socket.SOCK_STREAM, "127.0.0.1"),
    "tcp6": (socket.AF_INET6, socket.SOCK_STREAM, "::1"),
    "udp4": (socket.AF_INET, socket.SOCK_DGRAM, "127.0.0.1"),
    "udp6": (socket.AF_INET6, socket.SOCK_DGRAM, "::1"),
    "seccomp": (socket.AF_INET, socket.SOCK_STREAM, "127.0.0.1"),
    "i386": (socket.AF_INET, socket.SOCK_STREAM, "127.0.0.1"),
    "io_uring": (socket.AF_INET, socket.SOCK_STREAM, "127.0.0.1"),
    "abstract": (socket.AF_UNIX, socket.SOCK_STREAM, ""),
}
"""The test's own listeners, by the context key the script finds their port under."""


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


IPV6: Final = _has_ipv6_loopback()


@pytest.fixture
def scene(tmp_path: Path) -> Iterator[Scene]:
    base = Path(tempfile.mkdtemp(prefix="execsrv-hostile-", dir="/var/tmp"))
    victim: subprocess.Popen[bytes] | None = None
    listeners: dict[str, socket.socket] = {}
    try:
        base.chmod(0o755)
        workspace, outside = base / "workspace", base / "outside"
        (workspace / "src").mkdir(parents=True)
        for name in PROTECTED:
            (workspace / name).mkdir()
            (workspace / name / "config").write_bytes(ORIGINAL)
        for name in ["remove-me", "rename-me", "link-me"]:
            (workspace / ".git" / name).write_bytes(ORIGINAL)
        for name in [
            *["mine-out", "mine-git", "mine-link", "readme"],
            *["removable", "renamable", "chmod-me"],
        ]:
            (workspace / name).write_bytes(ORIGINAL)
        outside.mkdir()
        outside.chmod(0o1777)  # "setuid nobody" must be able to write here unconfined
        for name in VICTIMS:
            (outside / f"victim-{name}").write_bytes(ORIGINAL)
        (outside / "victim-chmod").chmod(0o644)
        (workspace / "chmod-me").chmod(0o644)
        (outside / "removable").write_bytes(ORIGINAL)
        (workspace / "link-dir").symlink_to(outside)
        (workspace / "link-file").symlink_to(outside / "victim-symlink")
        victim = subprocess.Popen(
            [sys.executable, "-c", "import sys; sys.stdin.read()"],
            stdin=subprocess.PIPE,
            cwd=outside,
        )
        for name, (family, sock_type, host) in LISTENERS.items():
            if family == socket.AF_INET6 and not IPV6:
                continue
            sock = listeners[name] = socket.socket(family, sock_type)
            sock.bind(f"\0{base.name}".encode() if family == socket.AF_UNIX else (host, 0))
            if sock_type == socket.SOCK_STREAM:
                sock.listen(16)
            sock.setblocking(False)
        yield Scene(workspace, outside, tmp_path, victim, listeners)
    finally:
        for sock in listeners.values():
            sock.close()
        if victim is not None:
            assert victim.stdin is not None
            victim.stdin.close()
            victim.wait()
        shutil.rmtree(base, ignore_errors=True)


# --- running a command ----------------------------------------------------------


@dataclass
class Run:
    start: Message
    """The ``process/start`` response."""
    exited: dict[str, Any]
    """The ``process/exited`` params."""
    read: Message
    """A ``process/read`` after ``closed`` (the 0.171 harness reads once after exit)."""
    output: str

    @property
    def results(self) -> dict[str, dict[str, Any]]:
        """The script's report, by action."""
        found = {}
        for line in self.output.splitlines():
            line = line.strip()
            if line.startswith("{"):
                record = json.loads(line)
                found[record["action"]] = record
        return found

    def outcomes(self) -> dict[str, bool]:
        return {name: record["ok"] for name, record in self.results.items()}


def sandbox(profile: dict[str, Any] | None, workspace: Path) -> dict[str, Any] | None:
    """The ``sandbox`` of a 0.171 ``process/start`` (``None``: danger-full-access)."""
    if profile is None:
        return None
    return {
        "permissions": profile,
        "cwd": uri(str(workspace)),
        "workspaceRoots": [uri(str(workspace))],
        "windowsSandboxLevel": "disabled",
        "useLegacyLandlock": False,
    }


async def run(
    url: str, argv: list[str], *, cwd: Path, box: dict[str, Any] | None, tty: bool
) -> Run:
    """Start ``argv`` and wait for it to close; ``exited`` is its exit notification."""
    process_id = f"hostile-{os.getpid()}-{next(_process_ids)}"
    params = {
        "processId": process_id,
        "argv": argv,
        "cwd": uri(str(cwd)),
        "env": dict(CHILD_ENV),
        "tty": tty,
        "arg0": None,
        "sandbox": box,
    }
    chunks: list[bytes] = []
    exited: dict[str, Any] = {}
    async with open_wire(url) as wire:
        with trio.fail_after(WAIT):
            await wire.handshake("hostile")
            start = await wire.request("process/start", params)
            assert "result" in start, start

            def ours(message: Message) -> bool:
                return message["params"].get("processId") == process_id

            while True:
                event = await wire.next_notification(predicate=ours)
                if event["method"] == "process/output":
                    chunks.append(base64.b64decode(event["params"]["chunk"]))
                elif event["method"] == "process/exited":
                    exited = event["params"]
                elif event["method"] == "process/closed":
                    break
            read_params = {"processId": process_id, "afterSeq": 0, "maxBytes": None, "waitMs": 0}
            read = await wire.request("process/read", read_params)
    return Run(start, exited, read, b"".join(chunks).decode(errors="replace"))


def hostile_argv(launch: str, context: dict[str, Any]) -> list[str]:
    direct = [sys.executable, HOSTILE, "direct", json.dumps(context)]
    if launch == "direct":
        return direct
    if launch == "detached":
        return [sys.executable, HOSTILE, "detached", json.dumps(context)]
    inner = f"{shlex.join(direct)}; exit $?"  # a list: neither shell execs it away
    return ["/bin/sh", "-c", f"/bin/sh -c {shlex.quote(inner)}; exit $?"]


# --- what each action leaves behind ------------------------------------------------


def _changed(path: Path) -> bool:
    return not path.is_file() or path.read_bytes() != ORIGINAL


def _git(scene: Scene) -> Path:
    """``.git``, or where "rename .git away" put it."""
    moved = scene.workspace / "git-moved"
    return moved if moved.exists() else scene.workspace / ".git"


def traces(scene: Scene, reported: dict[str, bool]) -> dict[str, bool]:
    """For each action, whether the disk or a listener shows it happened.

    Two actions leave nothing the test can see afterwards (a raw socket that
    sent nothing; a descriptor on the victim's memory): their report stands.
    """
    ws, out = scene.workspace, scene.outside
    reached = scene.reached()

    def protected(name: str) -> Path:
        return _git(scene) if name == ".git" else ws / name

    found = {
        "write outside": (out / "new").exists(),
        "overwrite outside": _changed(out / "victim-overwrite"),
        "truncate outside": (out / "victim-truncate").stat().st_size == 0,
        "mkdir outside": (out / "dir").is_dir(),
        "remove outside": not (out / "removable").exists(),
        "chmod outside": (out / "victim-chmod").stat().st_mode & 0o7777 != 0o644,
        **{f"write {name}": _changed(protected(name) / "config") for name in PROTECTED},
        **{f"create in {name}": (protected(name) / "new").exists() for name in PROTECTED},
        "remove in .git": not (_git(scene) / "remove-me").exists(),
        "planted dir symlink": (out / "via-dir-link").exists(),
        "planted file symlink": _changed(out / "victim-symlink"),
        "own symlink": (out / "via-own-link").exists(),
        "dot dot": (out / "via-dot-dot").exists(),
        "rename out": (out / "renamed-out").exists() or not (ws / "mine-out").exists(),
        "rename in": not (out / "victim-rename").exists(),
        "rename into .git": (_git(scene) / "renamed-in").exists(),
        "rename out of .git": (ws / "renamed-config").exists(),
        "hard link in": _changed(out / "victim-hardlink"),
        "hard link out": (out / "hard-link-out").exists(),
        "hard link .git": _changed(_git(scene) / "link-me"),
        "fifo outside": (out / "fifo").is_fifo(),
        "device outside": (out / "null").is_char_device(),
        "proc cwd": (out / "via-proc").exists(),
        "open by handle": _changed(out / "victim-handle"),
        "rename .git away": (ws / "git-moved").exists(),
        **{name: reached[name] > 0 for name in ["tcp4", "tcp6", "udp4", "udp6"] if name in reached},
        "raw socket": reported.get("raw socket", False),
        "abstract unix": reached["abstract"] > 0,
        "clear no_new_privs": (out / "after-prctl").exists(),
        "setuid nobody": (out / "as-nobody").exists(),
        "unshare and bind mount": (out / "via-mount").exists(),
        "new seccomp filter": reached["seccomp"] > 0,
        "new landlock domain": (out / "after-landlock").exists(),
        "victim memory": reported.get("victim memory", False),
        "i386 socket": reached["i386"] > 0,
        "io_uring socket": reached["io_uring"] > 0,
    }
    assert found.keys() == set(attempted()), "every action has its trace"
    return found


def attempted() -> list[str]:
    """Every action of hostile.py, but IPv6 where the host has no ``::1``."""
    return [name for name in ACTIONS if IPV6 or name not in {"tcp6", "udp6"}]


def hostile_run(
    url: str,
    scene: Scene,
    launch: str,
    profile: dict[str, Any] | None,
    tty: bool,
    actions: list[str],
) -> tuple[Run, dict[str, bool]]:
    """Run ``actions`` under ``profile``; the run and the traces they left."""
    argv = hostile_argv(launch, scene.context(actions))
    box = sandbox(profile, scene.workspace)

    async def go() -> Run:
        return await run(url, argv, cwd=scene.workspace, box=box, tty=tty)

    done = trio.run(go)
    assert done.output.rstrip().endswith("done"), done.output
    reported = done.outcomes()
    assert sorted(reported) == sorted(actions), done.output
    found = traces(scene, reported)
    return done, {name: found[name] for name in actions}


# --- the tests -------------------------------------------------------------------------


@pytest.fixture(params=[False, True], ids=["pipe", "pty"])
def tty(request: pytest.FixtureRequest) -> bool:
    value: bool = request.param
    return value


@pytest.mark.parametrize("launch", LAUNCHES)
@pytest.mark.parametrize("profile", list(PROFILES))
def test_every_escape_fails_and_leaves_no_trace(
    url: str, server_kind: str, scene: Scene, launch: str, profile: str, tty: bool
) -> None:
    actions = attempted()
    if server_kind == "execsrv-no-namespaces":
        actions.remove("chmod outside")  # in NO_NAMESPACE_GAPS, tested on its own
    done, found = hostile_run(url, scene, launch, PROFILES[profile], tty, actions)
    assert done.start["result"]["sandboxType"] == "linuxSeccomp"
    escaped = {name for name, ok in done.outcomes().items() if ok}
    assert not escaped, {name: done.results[name] for name in escaped}
    assert not {name for name, seen in found.items() if seen}, found
    if profile == "workspace-write":
        # Linking a file into a place that grants more than where it lives is not a
        # plain denial: Landlock refuses it without REFER on both sides, codex's
        # bubblewrap because the two are different mounts. Either way: EXDEV.
        for name in ["hard link in", "hard link .git"]:
            assert done.results[name]["error"] == "Invalid cross-device link (18)", name


@pytest.mark.parametrize("launch", LAUNCHES)
def test_every_escape_succeeds_under_full_access(
    url: str, server_kind: str, scene: Scene, launch: str, tty: bool
) -> None:
    """The control: with ``sandbox: null`` (danger-full-access) each action works, so a
    failure under a profile is the sandbox's doing, not the action's."""
    if server_kind == "execsrv-no-namespaces":
        pytest.skip("no_namespaces.py itself refuses unshare and 32-bit syscalls to all")
    done, found = hostile_run(url, scene, launch, None, tty, attempted())
    assert done.start["result"]["sandboxType"] == "none"
    failed = {name: record for name, record in done.results.items() if not record["ok"]}
    assert not failed, failed
    assert {name for name, seen in found.items() if not seen} == set(), found


ALLOWED_READS: Final = [
    "only stdio open",
    "read workspace",
    "read outside",
    "write /dev/null",
    "unix socketpair",
]


def allowed(server_kind: str, profile: str, tty: bool) -> dict[str, bool]:
    """What a confined command may do: everything in ``ALLOWED`` under
    ``workspace-write``, only reads (and ``/dev/null``, the terminal, AF_UNIX) under
    ``read-only``. The terminal is only there with a PTY."""
    expected = {name: profile == "workspace-write" or name in ALLOWED_READS for name in ALLOWED}
    expected["terminal"] = tty
    # codex runs the command in a new session (bubblewrap's --new-session, against
    # TIOCSTI injection): the PTY is its stdio, but not its controlling terminal.
    expected["controlling terminal"] = tty and server_kind != "codex-0.171"
    if server_kind == "execsrv-no-namespaces":
        for gap_profile, action in NO_NAMESPACE_GAPS:
            if gap_profile == profile:
                expected.pop(action, None)  # tested on its own
    return expected


@pytest.mark.parametrize("profile", list(PROFILES))
def test_what_the_profile_allows_works(
    url: str, server_kind: str, scene: Scene, profile: str, tty: bool
) -> None:
    """``workspace-write``: the workspace and ``/tmp`` take writes; ``read-only``: reads
    work and every change in the workspace (or ``/tmp``) fails. ``/dev/null``, the PTY
    and AF_UNIX sockets stay usable under both."""
    expected = allowed(server_kind, profile, tty)
    argv = [sys.executable, HOSTILE, "direct", json.dumps(scene.context(list(expected)))]
    box = sandbox(PROFILES[profile], scene.workspace)
    done = trio.run(partial(run, url, argv, cwd=scene.workspace, box=box, tty=tty))
    assert done.start["result"]["sandboxType"] == "linuxSeccomp"
    assert done.outcomes() == expected, done.output
    ws = scene.workspace
    on_disk = {
        "write workspace": (ws / "src" / "written").read_bytes() == b"escaped"
        if (ws / "src" / "written").exists()
        else False,
        "mkdir workspace": (ws / "src" / "made").is_dir(),
        "remove in workspace": not (ws / "removable").exists(),
        "rename in workspace": (ws / "src" / "renamed").exists(),
        "chmod workspace": (ws / "chmod-me").stat().st_mode & 0o777 == 0o755,
        "write tmp": (scene.allowed_tmp / "written").exists(),
    }
    assert {name: seen for name, seen in on_disk.items() if name in expected} == {
        name: expected[name] for name in on_disk if name in expected
    }


@pytest.mark.parametrize("profile", [None, *PROFILES], ids=["full-access", *PROFILES])
def test_protected_paths_cannot_be_planted(
    request: pytest.FixtureRequest, url: str, server_kind: str, scene: Scene, profile: str | None
) -> None:
    """In a workspace with none of the protected paths, a command cannot make one
    under either profile (it can under danger-full-access): they exist, empty and
    read-only, while it runs, and are gone again after it."""
    bare = scene.workspace.parent / "bare"
    bare.mkdir()
    context = {**scene.context(list(PLANTS)), "workspace": str(bare)}
    argv = [sys.executable, HOSTILE, "direct", json.dumps(context)]
    box = sandbox(None if profile is None else PROFILES[profile], bare)
    done = trio.run(partial(run, url, argv, cwd=bare, box=box, tty=False))
    planted = profile is None
    assert done.outcomes() == dict.fromkeys(PLANTS, planted), done.output
    assert sorted(os.listdir(bare)) == (sorted(PROTECTED) if planted else [])


@pytest.mark.parametrize("profile", list(PROFILES))
def test_a_denied_write_says_sandbox_denied(
    url: str, scene: Scene, profile: str, tty: bool
) -> None:
    """``sandboxDenied`` in ``process/exited`` and ``process/read``: true for a
    command that failed on a denial (codex's rule: a non-zero exit and the kernel's
    words in the output), false for one that failed otherwise or succeeded, and
    false without a sandbox."""
    box = sandbox(PROFILES[profile], scene.workspace)

    async def exited(script: str, box: dict[str, Any] | None) -> dict[str, Any]:
        argv = ["/bin/sh", "-c", script]
        done = await run(url, argv, cwd=scene.workspace, box=box, tty=tty)
        read = done.read["result"]
        assert read["sandboxDenied"] == done.exited["sandboxDenied"], (read, done.exited)
        return done.exited

    async def go() -> list[dict[str, Any]]:
        denied_write = f"echo x > {shlex.quote(str(scene.outside / 'denied'))}"
        return [
            await exited(denied_write, box),
            await exited("echo no such luck >&2; exit 3", box),
            await exited("echo fine", box),
            await exited(denied_write, None),
        ]

    denied, failed, fine, unconfined = trio.run(go)
    assert denied["exitCode"] != 0
    assert (denied["sandboxDenied"], failed["sandboxDenied"], fine["sandboxDenied"]) == (
        True,
        False,
        False,
    )
    assert (failed["exitCode"], fine["exitCode"]) == (3, 0)
    assert unconfined == {**unconfined, "exitCode": 0, "sandboxDenied": False}
    assert (scene.outside / "denied").read_bytes() == b"x\n"


# --- where the kernel refuses a mount namespace -------------------------------------

NO_NAMESPACES: Final = str(Path(__file__).with_name("no_namespaces.py"))


@pytest.fixture(scope="module")
def no_namespace_url() -> Iterator[str]:
    """An execsrv whose every ``unshare`` gets EPERM (a container under Docker's
    default seccomp profile): its sandbox falls back to Landlock rules alone."""
    if platform.machine() != "x86_64":
        pytest.skip("no_namespaces.py filters x86-64 syscall numbers")
    runner = _ServerThread(partial(open_execsrv, wrapper=[sys.executable, NO_NAMESPACES]))
    try:
        yield runner.start().url
    finally:
        runner.stop()


NO_CHMOD_GAP: Final = (
    "execsrv gap: without a mount namespace Landlock alone cannot keep file modes "
    "outside the roots unchanged, so seccomp refuses every chmod, inside the "
    "workspace too (EPERM; codex and execsrv with a namespace allow it there)"
)

ROOT_ENTRIES_GAP: Final = (
    "execsrv gap: without a mount namespace the protected paths are kept out of "
    "the Landlock rules by granting the workspace root's entries one by one, so "
    "under workspace-write an existing file directly in the root cannot be removed "
    "or renamed (EACCES; codex and execsrv with a namespace allow both)"
)
NO_NAMESPACE_GAPS: Final = {
    ("workspace-write", "chmod workspace"): NO_CHMOD_GAP,
    ("workspace-write", "remove in workspace"): ROOT_ENTRIES_GAP,
    ("workspace-write", "rename in workspace"): ROOT_ENTRIES_GAP,
}
"""What execsrv gets wrong where the kernel refuses a mount namespace, by profile
and action; left out of the matrix above and tested on their own below."""


@pytest.mark.parametrize(
    ("profile", "action"),
    [
        pytest.param(*case, marks=pytest.mark.xfail(strict=True, reason=reason))
        for case, reason in NO_NAMESPACE_GAPS.items()
    ],
)
def test_without_a_mount_namespace_the_gaps_are_closed(
    no_namespace_url: str, scene: Scene, profile: str, action: str
) -> None:
    """Each gap of ``NO_NAMESPACE_GAPS`` on its own: the action must have the
    outcome the profile gives it elsewhere (a strict xfail until it does)."""
    argv = [sys.executable, HOSTILE, "direct", json.dumps(scene.context([action]))]
    box = sandbox(PROFILES[profile], scene.workspace)
    done = trio.run(partial(run, no_namespace_url, argv, cwd=scene.workspace, box=box, tty=False))
    assert done.start["result"]["sandboxType"] == "linuxSeccomp"
    should_work = action in ALLOWED and allowed("execsrv", profile, tty=False)[action]
    assert done.outcomes() == {action: should_work}, done.output
    ws = scene.workspace
    changed = {
        "chmod outside": (scene.outside / "victim-chmod").stat().st_mode & 0o7777 != 0o644,
        "chmod workspace": (ws / "chmod-me").stat().st_mode & 0o7777 != 0o644,
        "remove in workspace": not (ws / "removable").exists(),
        "rename in workspace": (ws / "src" / "renamed").exists(),
    }
    assert changed[action] is should_work
