"""``process/start`` with a restricting ``sandbox`` (issue 11, points 1 and 2): the
child runs confined by the kernel, and the results say so.

These check the semantics of each confinement step through a real server and
real children; tests/sandbox/test_hostile_commands.py tries to break out.
The workspace lives under /var/tmp, since ``workspace-write`` makes /tmp
(where pytest's files are) writable.
"""

from __future__ import annotations

import marshal
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio

from execsrv.protocol.generation import Generation
from execsrv.sandbox import kernel
from execsrv.sandbox.command import LAUNCHER, _rules
from execsrv.sandbox.policy import FsPolicy
from execsrv.sandbox.profiles import workspace_write

from ..conformance.support import error, events_until_closed, output_of, start_params, wire_path
from ..wire import WireClient

pytestmark = pytest.mark.skipif(kernel.landlock_abi() < 1, reason="the kernel has no Landlock")

WAIT = 30
V0171 = Generation.V0_171


@pytest.fixture
def workspace() -> Iterator[Path]:
    """A project with a ``.git`` under /var/tmp, and a sibling outside it."""
    base = Path(os.path.realpath("/var/tmp")) / f"execsrv-sandbox-{os.getpid()}-{id(object())}"
    (base / "project" / ".git").mkdir(parents=True)
    (base / "project" / ".git" / "config").write_bytes(b"[core]")
    (base / "outside").mkdir()
    yield base / "project"
    shutil.rmtree(base)


def confined(
    process_id: str, script: str, workspace: Path, *, permissions: Any = None, **extra: Any
) -> dict[str, Any]:
    """A 0.171 start of ``sh -c script`` in ``workspace`` under ``permissions``."""
    sandbox = {
        "permissions": workspace_write() if permissions is None else permissions,
        "cwd": wire_path(V0171, workspace),
        "workspaceRoots": [wire_path(V0171, workspace)],
        "windowsSandboxLevel": "disabled",
        "useLegacyLandlock": False,
    }
    argv = ["/bin/sh", "-c", script]
    return start_params(V0171, process_id, argv, cwd=str(workspace), sandbox=sandbox, **extra)


async def run(wire: WireClient, params: dict[str, Any]) -> tuple[dict[str, Any], list[Any]]:
    with trio.fail_after(WAIT):
        response = await wire.request("process/start", params)
        assert "result" in response, response
        return response["result"], await events_until_closed(wire, params["processId"])


def exited(events: list[Any]) -> dict[str, Any]:
    return next(e["params"] for e in events if e["method"] == "process/exited")


async def test_writes_land_only_in_the_writable_roots(
    wire: WireClient, workspace: Path, tmp_path: Path
) -> None:
    outside = workspace.parent / "outside"
    script = (
        "echo new > new.txt; mkdir -p src/deep && echo x > src/deep/f;"
        f"echo t > {tmp_path}/t;"
        "echo n > /dev/null;"
        f"echo o > {outside}/o; echo g > .git/config; echo h > .git/hook;"
        "ln -s ../outside up; echo s > up/s; echo d > src/../../outside/d; exit 0"
    )
    result, events = await run(wire, confined("w", script, workspace))
    assert result == {"processId": "w", "sandboxType": "linuxSeccomp"}
    assert (workspace / "new.txt").read_bytes() == b"new\n"
    assert (workspace / "src" / "deep" / "f").read_bytes() == b"x\n"
    assert (tmp_path / "t").read_bytes() == b"t\n"  # /tmp is a writable root
    assert list(outside.iterdir()) == []
    assert (workspace / ".git" / "config").read_bytes() == b"[core]"
    assert sorted(p.name for p in (workspace / ".git").iterdir()) == ["config"]
    errors = output_of(events, "stderr").decode()
    assert errors.count("Read-only file system") == 5, errors  # as under codex's mounts


async def test_shared_memory_is_private_and_writable(wire: WireClient, workspace: Path) -> None:
    """POSIX semaphores work (``/dev/shm``), in a tmpfs no one outside sees."""
    name = f"execsrv-shm-{os.getpid()}"
    script = f"echo s > /dev/shm/{name} && cat /dev/shm/{name}"
    _, events = await run(wire, confined("m", script, workspace))
    assert output_of(events, "stdout") == b"s\n"
    assert not await trio.Path(f"/dev/shm/{name}").exists()


@pytest.mark.parametrize("network", ["restricted", "enabled"])
async def test_the_network_follows_the_profile(
    wire: WireClient, workspace: Path, network: str
) -> None:
    """``restricted``: ``AF_UNIX`` sockets only; ``enabled``: the others too, while the
    files stay confined."""
    script = (
        "import socket\n"
        "for family in ('AF_UNIX', 'AF_INET', 'AF_INET6', 'AF_NETLINK'):\n"
        "    try:\n"
        "        socket.socket(getattr(socket, family), socket.SOCK_DGRAM).close()\n"
        "        print(family, 'open')\n"
        "    except OSError as error:\n"
        "        print(family, error.strerror)\n"
        "open('.git/config', 'w')\n"
    )
    params = confined("n", "", workspace, permissions={**workspace_write(), "network": network})
    params["argv"] = [sys.executable, "-c", script]
    result, events = await run(wire, params)
    assert result["sandboxType"] == "linuxSeccomp"
    others = "open" if network == "enabled" else "Operation not permitted"
    assert output_of(events, "stdout").decode().splitlines() == [
        "AF_UNIX open",
        f"AF_INET {others}",
        f"AF_INET6 {others}",
        f"AF_NETLINK {others}",
    ]
    assert b"Read-only file system" in output_of(events, "stderr")


async def test_nothing_can_be_undone_or_regained(wire: WireClient, workspace: Path) -> None:
    status = "grep -E '^(NoNewPrivs|Seccomp|CapEff|CapBnd):' /proc/self/status"
    _, events = await run(wire, confined("s", f'sh -c "{status}"', workspace))
    lines = dict(line.split(":\t") for line in output_of(events).decode().splitlines())
    assert lines == {
        "NoNewPrivs": "1",
        "Seccomp": "2",
        "CapEff": "0000000000000000",
        "CapBnd": "0000000000000000",
    }


async def test_sandbox_denied_reports_a_failure_on_a_denial(
    wire: WireClient, workspace: Path
) -> None:
    cases = {
        "denied": ("echo x > .git/config", True),
        "fine": ("echo x > ok.txt", False),
        "failed": ("echo no such thing >&2; exit 3", False),
        "denied but exited 0": ("echo x > .git/config; exit 0", False),
    }
    for name, (script, denied) in cases.items():
        _, events = await run(wire, confined(name, script, workspace))
        assert exited(events)["sandboxDenied"] is denied, name
        with trio.fail_after(WAIT):
            read = await wire.request("process/read", {"processId": name, "afterSeq": 0})
        assert read["result"]["sandboxDenied"] is denied, name


async def test_a_pty_child_keeps_its_terminal(wire: WireClient, workspace: Path) -> None:
    script = "tty >/dev/null && echo ok > /dev/tty; echo g > .git/config"
    _, events = await run(wire, confined("t", script, workspace, tty=True))
    output = output_of(events).decode()
    assert output.startswith("ok\r\n"), output
    assert "Read-only file system" in output


async def test_an_unconfining_profile_runs_as_before(wire: WireClient, workspace: Path) -> None:
    full = {"type": "managed", "file_system": {"type": "unrestricted"}, "network": "enabled"}
    result, events = await run(
        wire, confined("u", "echo g > .git/config", workspace, permissions=full)
    )
    assert result == {"processId": "u", "sandboxType": "none"}
    assert exited(events)["sandboxDenied"] is False
    assert (workspace / ".git" / "config").read_bytes() == b"g\n"


async def test_without_landlock_the_start_fails_with_sandbox_unavailable(
    wire: WireClient, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The kernel's answer is simulated at the probe (this kernel has Landlock)."""
    monkeypatch.setattr(kernel, "landlock_abi", lambda: 0)
    with trio.fail_after(WAIT):
        response = await wire.request("process/start", confined("x", "true", workspace))
    assert response["error"] == {
        **error(
            -32603,
            "sandbox unavailable: the kernel has no Landlock "
            "(Linux 5.13+ with landlock in the lsm= list)",
        ),
        "data": {"kind": "sandboxUnavailable"},
    }


def test_without_a_mount_namespace_the_protected_paths_are_left_out(workspace: Path) -> None:
    """The launcher's fallback, forced by a bind the kernel refuses (a writable root
    that is missing): Landlock alone keeps ``.git`` read-only, so no new entry
    directly in the root, and seccomp refuses every ``chmod``."""
    policy = FsPolicy(
        read_roots=("/",),
        write_roots=(str(workspace),),
        read_only=(str(workspace / ".git"),),
    )
    (workspace / "src").mkdir()
    rules, fallback = _rules(policy, None)
    script = "echo x > .git/config; echo y > src/f; echo z > top.txt; chmod 600 src/f"
    spec = {
        "file": "/bin/sh",
        "argv": ["sh", "-c", script],
        "env": {"PATH": "/usr/bin:/bin"},
        "deny_network": True,
        "rules": rules,
        "fallback_rules": fallback,
        "read_only": [str(workspace / ".git")],
        "write_roots": [str(workspace / "missing"), str(workspace)],
    }
    spec_fd = os.memfd_create("spec", 0)
    os.write(spec_fd, marshal.dumps(spec))
    os.lseek(spec_fd, 0, os.SEEK_SET)
    status_read, status_write = os.pipe()
    try:
        done = subprocess.run(
            [sys.executable, "-I", "-S", LAUNCHER, str(spec_fd), str(status_write)],
            pass_fds=(spec_fd, status_write),
            cwd=workspace,
            capture_output=True,
            check=False,
        )
    finally:
        os.close(spec_fd)
        os.close(status_write)
    with os.fdopen(status_read, "rb") as status:
        assert status.read() == b""  # the command ran
    assert (workspace / ".git" / "config").read_bytes() == b"[core]"
    assert (workspace / "src" / "f").read_bytes() == b"y\n"
    assert not (workspace / "top.txt").exists()
    assert done.stderr.count(b"Permission denied") == 2, done.stderr
    assert b"Operation not permitted" in done.stderr


def test_the_network_filter_knows_its_architectures() -> None:
    assert kernel.seccomp_filter("aarch64") != kernel.seccomp_filter("x86_64")
    with pytest.raises(kernel.KernelRefused, match="no seccomp filter for the sparc"):
        kernel.seccomp_filter("sparc")
