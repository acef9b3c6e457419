"""Start and stop the two servers; read their CPU time and memory from /proc."""

from __future__ import annotations

import os
import selectors
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CODEX_BINARIES = {
    # version: (the env var naming it, where `nox -s interop` unpacks it under .interop/)
    "0.130.0": ("EXECSRV_CODEX_BIN", "codex-0.130.0/node_modules/@openai/codex-linux-*/"
                "vendor/*-unknown-linux-musl/codex/codex"),
    "0.171.0": ("EXECSRV_CODEX_171_BIN", "codex-0.171.0/node_modules/@openai/codex-linux-*/"
                "vendor/*-unknown-linux-musl/bin/codex"),
}  # fmt: skip
LISTEN = "ws://127.0.0.1:0"
STARTUP_TIMEOUT = 20.0
STOP_GRACE = 5.0
CLK_TCK = os.sysconf("SC_CLK_TCK")


def find_codex(version: str = "0.130.0") -> str | None:
    """The codex ``version`` binary (``0.130.0`` or ``0.171.0``): its env var
    (``$EXECSRV_CODEX_BIN``, ``$EXECSRV_CODEX_171_BIN``), else the one
    ``nox -s interop`` unpacked into ``.interop/codex-<version>/``."""
    env_var, layout = CODEX_BINARIES[version]
    configured = os.environ.get(env_var)
    if configured:
        return configured
    for candidate in sorted((ROOT / ".interop").glob(layout)):
        if candidate.is_file():
            return str(candidate.resolve())
    return None


def server_argv(kind: str, codex_bin: str | None) -> list[str]:
    if kind == "execsrv":
        return [sys.executable, "-m", "execsrv", "serve", "--listen", LISTEN]
    assert codex_bin is not None
    return [codex_bin, "exec-server", "--listen", LISTEN]


def describe_command(kind: str, codex_bin: str | None) -> str:
    argv = shlex.join(server_argv(kind, codex_bin))
    if kind == "codex":
        return f"CODEX_HOME={ROOT / '.interop' / 'codex-homes'}/bench-XXXX {argv}"
    return f"(cd {ROOT} && {argv})"


@dataclass
class Server:
    kind: str
    url: str
    popen: subprocess.Popen[bytes]
    argv: list[str]
    _cleanup: list[Path] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(STOP_GRACE)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        if self.popen.stdout is not None:
            self.popen.stdout.close()
        for path in self._cleanup:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start(kind: str, codex_bin: str | None) -> Server:
    """Run a server on an ephemeral loopback port; return once it printed its URL."""
    argv = server_argv(kind, codex_bin)
    env = dict(os.environ)
    cleanup: list[Path] = []
    if kind == "codex":
        # Not under /tmp: codex would warn and skip setting up its helper binaries.
        homes = ROOT / ".interop" / "codex-homes"
        homes.mkdir(parents=True, exist_ok=True)
        home = Path(tempfile.mkdtemp(prefix="bench-", dir=homes))
        cleanup.append(home)
        env["CODEX_HOME"] = str(home)
    stderr_fd, stderr_name = tempfile.mkstemp(prefix=f"bench-{kind}-", suffix=".log")
    cleanup.append(Path(stderr_name))
    popen = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr_fd, env=env, cwd=ROOT
    )
    os.close(stderr_fd)
    assert popen.stdout is not None
    fd = popen.stdout.fileno()
    buffer = b""
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while b"\n" not in buffer:
            if not selector.select(STARTUP_TIMEOUT):
                popen.kill()
                popen.wait()
                raise RuntimeError(f"{kind}: no URL within {STARTUP_TIMEOUT} s: {argv}")
            chunk = os.read(fd, 4096)
            if not chunk:
                popen.wait()
                log = Path(stderr_name).read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{kind} exited ({popen.returncode}) before its URL:\n{log}")
            buffer += chunk
    url = buffer.split(b"\n", 1)[0].decode().strip()
    return Server(kind, url, popen, argv, cleanup)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of every thread of ``pid`` (not of its children)."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        stat = f.read()
    fields = stat[stat.rindex(b")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


class CpuWatch:
    """Wall time, this process's CPU and the server's CPU, from creation to :meth:`stop`."""

    def __init__(self, server_pid: int) -> None:
        self._pid = server_pid
        self._server0 = cpu_seconds(server_pid)
        self._own0 = time.process_time()
        self.start = time.perf_counter()
        self.seconds = self.own_cpu = self.server_cpu = 0.0

    def stop(self) -> None:
        self.seconds = time.perf_counter() - self.start
        self.own_cpu = time.process_time() - self._own0
        self.server_cpu = cpu_seconds(self._pid) - self._server0

    def percents(self, own: str = "loadgen_cpu_pct") -> dict[str, float]:
        """``server_cpu_pct`` and ``own`` (this process's CPU) as % of the wall time."""
        return {
            "server_cpu_pct": 100 * self.server_cpu / self.seconds,
            own: 100 * self.own_cpu / self.seconds,
        }


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) in KiB."""
    out: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, value = line.split(":", 1)
                out[key] = int(value.split()[0])
    return out


def machine_facts() -> dict[str, object]:
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    uname = os.uname()
    return {
        "cpus_online": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "cpu_model": model,
        "kernel": f"{uname.sysname} {uname.release} {uname.machine}",
        "python": sys.version.split()[0],
        "python_executable": sys.executable,
        "loadavg_at_start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }
