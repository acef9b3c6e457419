"""``python -m execsrv doctor``: can this host confine commands as the server does?

:func:`diagnose` reports what decides it (kernel, architecture, Landlock ABI,
seccomp, mount namespaces, identity), then proves it: it starts a command
through the server's own spawn path (:func:`~execsrv.process.spawn.spawn_child`
with a :class:`~.command.CommandSandbox` of a ``workspace-write`` profile) and
checks from outside what the command could and could not do. A
:class:`Report` is ``ok`` exactly when a sandboxed ``process/start`` works
here; each problem says what fails because of it.

The probes are parameters of :func:`diagnose` so that a test can stand in for
a kernel it does not have; the proof always runs on the real one.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Final

import trio

from ..frozen import helper_env
from ..process.errors import SpawnFailed
from ..process.spawn import spawn_child
from ..protocol import fs as f
from ..protocol.generation import Generation
from . import kernel
from .command import CommandSandbox, command_sandbox, sandbox_problems
from .profiles import workspace_write

__all__ = ["Finding", "Report", "diagnose"]

UNAVAILABLE: Final = "sandboxed starts fail with sandboxUnavailable"
PROOF_TIMEOUT: Final = 30.0

LANDLOCK_FEATURES: Final = (
    (1, "files"),
    (2, "refer"),
    (3, "truncate"),
    (4, "TCP"),
    (5, "device ioctl"),
    (6, "signal and abstract socket scoping"),
)
"""What each Landlock ABI adds that execsrv uses."""

LANDLOCK_GAPS: Final = (
    (2, "renames and links across directories fail (EXDEV), even inside the roots"),
    (3, "truncate(2) is not restricted: a file outside the roots can be emptied"),
    (4, "TCP is refused by seccomp only (sockets other than AF_UNIX cannot be opened)"),
    (5, "ioctl on device files is not restricted"),
    (
        6,
        "signals and abstract AF_UNIX sockets are not scoped: a confined command can "
        "signal this user's other processes and reach abstract sockets outside",
    ),
)
"""What a confined command can still do below each Landlock ABI."""


_CONFINED_SCRIPT: Final = """
import json, os, socket, sys
workspace, outside, abstract, pid = sys.argv[1:5]
def attempt(action):
    try:
        action()
    except OSError as error:
        return error.strerror or str(error)
    return "ok"
def write(path):
    def create():
        with open(path, "x") as file:
            file.write("doctor")
    return create
def connect(family):
    return lambda: socket.socket(family, socket.SOCK_STREAM).close()
def reach(name):
    def go():
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(name)
    return go
print(json.dumps({
    "inside": attempt(write(workspace + "/src/doctor")),
    "root entry": attempt(write(workspace + "/doctor")),
    "outside": attempt(write(outside + "/doctor")),
    ".git": attempt(write(workspace + "/.git/doctor")),
    "AF_INET": attempt(connect(socket.AF_INET)),
    "AF_INET6": attempt(connect(socket.AF_INET6)),
    "AF_UNIX": attempt(connect(socket.AF_UNIX)),
    "abstract": attempt(reach("\\0" + abstract)),
    "signal": attempt(lambda: os.kill(int(pid), 0)),
}))
"""
"""Run confined: tries each action and reports ``ok`` or the error's text."""

_NAMESPACE_SCRIPT: Final = """
import sys
sys.path.insert(0, sys.argv[1])
import kernel
try:
    kernel.private_mounts()
except kernel.KernelRefused as error:
    sys.exit(str(error))
"""


@dataclass(frozen=True)
class Finding:
    """One line of the report."""

    name: str
    value: str
    problem: str | None = None
    """What fails on this host because of it; None: nothing."""
    notes: list[str] = field(default_factory=list)
    """Limits worth knowing that do not make a sandboxed start fail."""


@dataclass(frozen=True)
class Report:
    findings: list[Finding]

    @property
    def ok(self) -> bool:
        """Whether a sandboxed ``process/start`` works here."""
        return not any(finding.problem for finding in self.findings)

    def as_json(self) -> str:
        return json.dumps({"ok": self.ok, "findings": [asdict(x) for x in self.findings]})

    def as_text(self) -> str:
        width = max(len(finding.name) for finding in self.findings)
        lines = []
        for finding in self.findings:
            lines.append(f"{finding.name:<{width}}  {finding.value}")
            lines += [f"{'':<{width}}  note: {note}" for note in finding.notes]
        lines.append("")
        problems = [x for x in self.findings if x.problem]
        lines += [f"problem: {x.name}: {x.problem}" for x in problems]
        if not problems:
            lines.append("ok: sandboxed process/start and fs/* calls work on this host")
        return "\n".join(lines)


# -- probes (each reads the real kernel) --------------------------------------------


def _proc_status() -> dict[str, str]:
    lines = Path("/proc/self/status").read_text().splitlines()
    return {key: value.strip() for key, _, value in (line.partition(":") for line in lines)}


def seccomp_status() -> dict[str, str]:
    """The ``Seccomp`` lines of ``/proc/self/status`` (none: no seccomp in the kernel)."""
    return {k: v for k, v in _proc_status().items() if k.startswith("Seccomp")}


def private_mount_namespace() -> str | None:
    """Why a launcher cannot enter a private mount namespace here; None: it can.
    Tried in a fresh single-threaded interpreter, as the launcher does."""
    try:
        result = subprocess.run(
            [
                sys.executable,
                "-I",
                "-S",
                "-c",
                _NAMESPACE_SCRIPT,
                str(Path(kernel.__file__).parent),
            ],
            capture_output=True,
            text=True,
            timeout=PROOF_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"no answer in {PROOF_TIMEOUT:g} s"
    if result.returncode == 0:
        return None
    return result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "refused"


# -- findings -----------------------------------------------------------------------


def _architecture() -> Finding:
    machine = os.uname().machine
    try:
        kernel.seccomp_filter(machine)
    except kernel.KernelRefused as error:
        return Finding(
            "architecture", machine, f"{UNAVAILABLE} when the network is restricted: {error}"
        )
    return Finding("architecture", machine)


def _landlock(abi: int) -> Finding:
    if abi < 1:
        return Finding(
            "landlock",
            "none",
            f"{UNAVAILABLE}, and fs/* calls are refused (-32600), when the file system is "
            "restricted: the kernel has no Landlock (Linux 5.13+ built with it and "
            "landlock in the lsm= list)",
        )
    features = [name for version, name in LANDLOCK_FEATURES if version <= abi]
    notes = [gap for version, gap in LANDLOCK_GAPS if abi < version]
    return Finding("landlock", f"ABI {abi}: {', '.join(features)}", notes=notes)


def _seccomp(status: dict[str, str]) -> Finding:
    if "Seccomp" not in status:
        return Finding(
            "seccomp", "none", f"{UNAVAILABLE} when the network is restricted: no seccomp"
        )
    modes = {"0": "none", "1": "strict", "2": "filtered"}
    mode = modes.get(status["Seccomp"], status["Seccomp"])
    filters = status.get("Seccomp_filters")
    own = f"this process: {mode}" + (f", {filters} filters" if filters not in (None, "0") else "")
    return Finding("seccomp", f"yes ({own})")


def _mount_namespace(refused: str | None, uid: int) -> Finding:
    if refused is None:
        how = "as root" if uid == 0 else "in an unprivileged user namespace"
        return Finding("mount namespace", f"yes ({how}): denied writes read Read-only file system")
    return Finding(
        "mount namespace",
        f"no ({refused})",
        notes=[
            "Landlock-only fallback: denied writes read Permission denied, not Read-only "
            "file system; no entry can be added, removed or renamed directly in a "
            "writable root holding .git; chmod is refused everywhere"
        ],
    )


def _identity(status: dict[str, str]) -> Finding:
    uid = os.geteuid()
    caps = status.get("CapEff", "?")
    if uid == 0:
        return Finding("identity", f"uid 0, capabilities {caps}: all dropped in confined commands")
    held = "none" if caps.strip("0") == "" else caps
    return Finding("identity", f"uid {uid}, capabilities {held}")


# -- the proof ----------------------------------------------------------------------

_CHECKS: Final = (
    ("write inside", "inside", True),
    ("new file in root", "root entry", None),
    ("write outside", "outside", False),
    ("write into .git", ".git", False),
    ("AF_INET socket", "AF_INET", False),
    ("AF_INET6 socket", "AF_INET6", False),
    ("AF_UNIX socket", "AF_UNIX", True),
    ("abstract socket outside", "abstract", 6),
    ("signal outside", "signal", 6),
)
"""What the confined command reports: label, its key, whether it must succeed (None:
either; a new entry directly in the workspace root is refused by the Landlock-only
fallback that runs where the kernel refuses a private mount namespace), or from which
Landlock ABI on it must be refused."""


async def _prove(abi: int) -> list[Finding]:
    """Start a command confined to a scratch workspace and check what it could do,
    with an abstract socket listening and this process to signal outside it."""
    scratch = Path(tempfile.mkdtemp(prefix="execsrv-doctor-"))
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        abstract = f"execsrv-doctor-{os.getpid()}-{scratch.name}"
        listener.bind("\0" + abstract)
        listener.listen(1)
        workspace, outside = scratch / "workspace", scratch / "outside"
        (workspace / "src").mkdir(parents=True)
        (workspace / ".git").mkdir()
        outside.mkdir()
        profile = f.parse_permissions(workspace_write(temporary=False), Generation.V0_171)
        sandbox = command_sandbox(profile, cwd=str(workspace), project_roots=[], env={})
        assert sandbox is not None
        if problems := sandbox_problems(sandbox):
            return [Finding("confined start", "not run", f"{UNAVAILABLE}: {'; '.join(problems)}")]
        script = [_CONFINED_SCRIPT, str(workspace), str(outside), abstract, str(os.getpid())]
        argv = [sys.executable, "-I", "-S", "-c", *script]
        try:
            with trio.fail_after(PROOF_TIMEOUT):
                output, errors = await _run_confined(argv, str(workspace), sandbox)
        except SpawnFailed as error:
            return [Finding("confined start", "failed", f"{UNAVAILABLE}: {error}")]
        except trio.TooSlowError:
            return [Finding("confined start", "timed out", f"no report in {PROOF_TIMEOUT:g} s")]
        return _judge(output, errors, workspace, outside, abi)
    finally:
        listener.close()
        shutil.rmtree(scratch, ignore_errors=True)


async def _run_confined(argv: list[str], cwd: str, sandbox: CommandSandbox) -> tuple[bytes, bytes]:
    """``argv``'s stdout and stderr, started as the server starts a confined
    ``process/start``."""
    child = await spawn_child(
        argv,
        cwd=cwd,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **helper_env()},
        tty=False,
        pipe_stdin=False,
        arg0=None,
        pty_rows=24,
        pty_cols=80,
        generation=Generation.V0_171,
        sandbox=sandbox,
    )
    process = child.process
    streams = [process.stdout, process.stderr]
    try:
        outputs = [b"", b""]
        for index, stream in enumerate(streams):  # a few hundred bytes: no deadlock
            assert stream is not None
            while chunk := await stream.receive_some():
                outputs[index] += chunk
        await process.wait()
        return outputs[0], outputs[1]
    finally:
        with trio.CancelScope(shield=True):
            await child.containment.close()
            await process.wait()
            for stream in streams:
                if stream is not None:
                    await stream.aclose()


def _judge(output: bytes, errors: bytes, workspace: Path, outside: Path, abi: int) -> list[Finding]:
    """What the confined command reported, checked against what it left behind."""
    try:
        seen: dict[str, str] = json.loads(output)
    except ValueError:
        text = (output + errors).decode(errors="replace").strip()[-300:]
        return [Finding("confined start", "no report", f"the confined command failed: {text}")]
    findings = [Finding("confined start", "ok: workspace-write, as a process/start runs it")]
    for label, key, expected in _CHECKS:
        must_work = expected
        if not isinstance(expected, bool | None):  # an ABI: refused from it on
            must_work = False if abi >= expected else None
        result = seen.get(key, "not tried")
        value = "allowed" if result == "ok" else f"refused ({result})"
        wrong = must_work is not None and (result == "ok") != must_work
        problem = f"expected {'allowed' if must_work else 'refused'}" if wrong else None
        findings.append(Finding(label, value, problem))
    for path in (outside / "doctor", workspace / ".git" / "doctor"):
        if path.exists():
            findings.append(Finding("escaped", str(path), "the sandbox let a write out"))
    return findings


async def diagnose(
    *,
    landlock_abi: Callable[[], int] = kernel.landlock_abi,
    seccomp: Callable[[], dict[str, str]] = seccomp_status,
    mount_namespace: Callable[[], str | None] = private_mount_namespace,
) -> Report:
    """Every finding, the confined start last; the start is skipped (and says so)
    when a probe already shows that it would fail."""
    uid = os.geteuid()
    findings = [
        Finding("kernel", os.uname().release),
        _architecture(),
        _landlock(abi := landlock_abi()),
        _seccomp(seccomp()),
        _mount_namespace(await trio.to_thread.run_sync(mount_namespace), uid),
        _identity(_proc_status()),
    ]
    if any(finding.problem for finding in findings):
        findings.append(Finding("confined start", "not run: the problems below stop it"))
    else:
        findings += await _prove(abi)
    return Report(findings)
