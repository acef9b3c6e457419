"""The workloads, each run the same way against either server.

Every workload gets a freshly started server (so peak-RSS and per-connection
numbers start from the same baseline) and returns a dict of measurements.
Requests use the forms the server's generation reads (``Server.speaks_uris``:
``file://`` paths and a ``writeId`` for codex 0.171); the ``*_uri`` probes send
the 0.171 forms to execsrv too.
Everything here is bounded in count and time: socket timeouts turn a stuck
server into an error, never a hang.
"""

from __future__ import annotations

import base64
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import msgspec

from execsrv.sandbox.profiles import workspace_write

from .servers import CpuWatch, Server, memory_kb, wire_path
from .wsclient import SocketMode, WsClient

ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin"}
CWD = "/"


@dataclass(frozen=True)
class Sizes:
    rtt_iterations: int = 5000
    spawn_ordinary: int = 60
    spawn_hidden: int = 300
    pty_ordinary: int = 60
    pty_hidden: int = 1000
    throughput_bytes: int = 200 * 1024 * 1024
    fanout_processes: int = 200
    fanout_bytes: int = 1024 * 1024
    idle_connections: int = 500
    client_bytes: int = 200 * 1024 * 1024
    resume_iterations: int = 30
    detached_sessions: int = 500
    http_bytes: int = 100 * 1024 * 1024
    fs_read_bytes: int = 10 * 1024 * 1024
    fs_read_count: int = 50
    fs_large_bytes: int = 256 * 1024 * 1024
    """Workload 11b reads one file this large (issue 8: peak RSS ≤ codex's)."""
    latency_rounds: int = 10
    """Latency samples are taken in this many rounds, alternating the servers."""
    throughput_repeats: int = 3
    """Throughput runs per server, alternating; the best one is reported."""
    harness_seq_count: int = 1_000_000
    """Workload 12 reads ``seq 1 N`` as the codex 0.130 harness does (6.9 MB)."""


QUICK = Sizes(
    rtt_iterations=1000,
    spawn_ordinary=15,
    spawn_hidden=60,
    pty_ordinary=15,
    pty_hidden=200,
    throughput_bytes=50 * 1024 * 1024,
    fanout_processes=50,
    fanout_bytes=1024 * 1024,
    idle_connections=100,
    client_bytes=50 * 1024 * 1024,
    resume_iterations=10,
    detached_sessions=100,
    http_bytes=25 * 1024 * 1024,
    fs_read_count=15,
    latency_rounds=5,
    throughput_repeats=2,
)

WARMUP = 5
"""Iterations per probe before the measured rounds (discarded)."""


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def _summary(samples_s: list[float]) -> dict[str, float]:
    us = [s * 1e6 for s in samples_s]
    return {
        "p50_us": statistics.median(us),
        "p99_us": _percentile(us, 0.99),
        "mean_us": statistics.fmean(us),
        "min_us": min(us),
        "max_us": max(us),
        "n": len(us),
    }


def _start_params(
    process_id: str,
    argv: list[str],
    *,
    tty: bool = False,
    stdin: bool = False,
    uri: bool = False,
    cwd: str = CWD,
    sandbox: dict[str, object] | None = None,
) -> dict[str, object]:
    """``process/start`` params; ``uri``: 0.171's form (a ``file://`` cwd and a
    ``sandbox``, null unless given)."""
    params: dict[str, object] = {
        "processId": process_id,
        "argv": argv,
        "cwd": wire_path(cwd, uri=uri),
        "env": ENV,
        "tty": tty,
        "pipeStdin": stdin,
        "arg0": None,
    }
    if uri:
        params["sandbox"] = sandbox
    return params


def workspace_write_sandbox(project: str) -> dict[str, object]:
    """``process/start``'s ``sandbox`` as codex 0.171 sends it for a project root."""
    root = wire_path(project, uri=True)
    return {
        "permissions": workspace_write(),
        "cwd": root,
        "workspaceRoots": [root],
        "windowsSandboxLevel": "disabled",
        "useLegacyLandlock": False,
    }


# -- latency probes: one per server, run in interleaved rounds ----------------------


class Probe:
    """A connected client that runs ``n`` more iterations of one latency workload.

    The driver alternates the two servers' probes in rounds, so background
    noise on the machine lands on both alike.
    """

    socket_mode: SocketMode = "nodelay"
    always_uri: bool = False
    """Send 0.171's forms to every server (else only to those that read nothing else)."""
    runs_on: tuple[str, ...] | None = None
    """The server kinds this probe is for (None: all)."""

    def __init__(self, server: Server) -> None:
        self.uri = self.always_uri or server.speaks_uris
        self.client = WsClient(server.url, mode=self.socket_mode)
        self.client.initialize()
        self.setup()

    def setup(self) -> None:
        pass

    def run(self, n: int) -> list[float]:
        return [self.once() for _ in range(n)]

    def once(self) -> float:
        raise NotImplementedError

    def close(self) -> None:
        self.client.close()


class RoundTrip(Probe):
    """1. Sequential ``process/terminate`` of an unknown id (``{"running":false}``)."""

    def once(self) -> float:
        client = self.client
        request_id, payload = client.request_bytes("process/terminate", {"processId": "none"})
        t0 = time.perf_counter()
        client.send_raw(payload)
        while True:
            for m in client.recv():
                if m.id == request_id:
                    return time.perf_counter() - t0


class SpawnToClosed(Probe):
    """2. ``process/start`` of ``true`` (pipes) until its ``process/closed``."""

    sandbox_type: str | None = None
    """The ``sandboxType`` every start must answer (None: not checked)."""

    def setup(self) -> None:
        self.count = 0

    def start_params(self, process_id: str) -> dict[str, object]:
        return _start_params(process_id, ["true"], uri=self.uri)

    def once(self) -> float:
        client = self.client
        self.count += 1
        process_id = f"spawn-{self.count}"
        request_id, payload = client.request_bytes("process/start", self.start_params(process_id))
        t0 = time.perf_counter()
        client.send_raw(payload)
        closed_at = None
        replied = False
        while closed_at is None or not replied:  # the reply may come after `closed`
            for m in client.recv():
                if m.id == request_id and m.method is None:
                    if m.error:
                        raise RuntimeError(f"process/start failed: {bytes(m.error)!r}")
                    self.check_reply(bytes(m.result))
                    replied = True
                elif m.method == "process/closed" and m.params.processId == process_id:
                    closed_at = time.perf_counter()
        return closed_at - t0

    def check_reply(self, result: bytes) -> None:
        if self.sandbox_type is None:
            return
        answered = msgspec.json.decode(result).get("sandboxType")
        if answered != self.sandbox_type:
            raise RuntimeError(f"sandboxType {answered!r}, expected {self.sandbox_type!r}")


class SpawnOrdinary(SpawnToClosed):
    socket_mode = "ordinary"


class SpawnHidden(SpawnToClosed):
    socket_mode = "hidden"


class SpawnHiddenUri(SpawnHidden):
    """2b. The same, in 0.171's form (a ``file://`` cwd, ``sandbox: null``): execsrv
    against codex 0.171, which is what the 0.171 harness sends for every command."""

    always_uri = True
    runs_on = ("execsrv", "codex-0.171")


class SpawnSandboxedUri(SpawnHiddenUri):
    """2c. The same 0.171 start under ``workspace-write``: the profile, ``cwd`` and
    ``workspaceRoots`` codex 0.171's harness sends, for a fresh project root with a
    ``.git`` directory (which both servers keep read-only); every start must answer
    ``sandboxType: "linuxSeccomp"``, so an unconfined start cannot pass for a fast one."""

    sandbox_type = "linuxSeccomp"

    def setup(self) -> None:
        super().setup()
        self.project = tempfile.mkdtemp(prefix="bench-project-")
        (Path(self.project) / ".git").mkdir()
        self.sandbox = workspace_write_sandbox(self.project)

    def start_params(self, process_id: str) -> dict[str, object]:
        return _start_params(process_id, ["true"], uri=True, cwd=self.project, sandbox=self.sandbox)

    def close(self) -> None:
        try:
            super().close()
        finally:
            shutil.rmtree(self.project, ignore_errors=True)


class PtyEcho(Probe):
    """3. A raw, no-echo tty ``cat``: write one byte, time until it comes back."""

    process_id = "pty-echo"

    def setup(self) -> None:
        argv = ["/bin/sh", "-c", "stty raw -echo && printf R && exec cat"]
        start = _start_params(self.process_id, argv, tty=True, uri=self.uri)
        self.client.call("process/start", start)
        seen = b""
        while b"R" not in seen:
            for m in self.client.recv():
                if m.method == "process/output":
                    seen += m.params.chunk
                elif m.method in ("process/exited", "process/closed"):
                    raise RuntimeError(f"tty cat ended early: {seen!r}")
        self.count = 0

    def once(self) -> float:
        client = self.client
        self.count += 1
        byte = b"abcdefghijklmnopqrstuvwxyz"[self.count % 26 :][:1]
        chunk = base64.b64encode(byte).decode()
        write: dict[str, object] = {"processId": self.process_id, "chunk": chunk}
        if self.uri:
            write["writeId"] = str(self.count)  # 0.171 requires one, new each time
        request_id, payload = client.request_bytes("process/write", write)
        t0 = time.perf_counter()
        client.send_raw(payload)
        echoed_at = None
        replied = False
        while echoed_at is None or not replied:
            for m in client.recv():
                if m.id == request_id and m.method is None:
                    if m.error:
                        raise RuntimeError(f"process/write failed: {bytes(m.error)!r}")
                    replied = True
                elif m.method == "process/output":
                    if m.params.chunk != byte:
                        raise RuntimeError(f"unexpected tty output {m.params.chunk!r}")
                    echoed_at = time.perf_counter()
        return echoed_at - t0

    def close(self) -> None:
        try:
            self.client.call("process/terminate", {"processId": self.process_id})
        finally:
            super().close()


class PtyOrdinary(PtyEcho):
    socket_mode = "ordinary"


class PtyHidden(PtyEcho):
    socket_mode = "hidden"


def summarize(samples_s: list[float], socket_mode: str) -> dict[str, object]:
    return {"socket": socket_mode, **_summary(samples_s)}


# -- 4. throughput ----------------------------------------------------------------


def throughput(server: Server, sizes: Sizes) -> dict[str, object]:
    """One ``head -c N /dev/zero``; decoded payload bytes per second at the client."""
    total = sizes.throughput_bytes
    client = WsClient(server.url, mode="nodelay")
    try:
        client.initialize()
        process_id = "throughput"
        argv = ["head", "-c", str(total), "/dev/zero"]
        request_id, payload = client.request_bytes(
            "process/start", _start_params(process_id, argv, uri=server.speaks_uris)
        )
        watch = CpuWatch(server.pid)
        client.send_raw(payload)
        received = 0
        messages = 0
        closed = False
        while not closed:
            for m in client.recv():
                messages += 1
                if m.method == "process/output":
                    received += len(m.params.chunk)
                elif m.method == "process/closed":
                    closed = True
                elif m.id == request_id and m.error:
                    raise RuntimeError(f"process/start failed: {bytes(m.error)!r}")
        watch.stop()
        wall = watch.seconds
        if received != total:
            raise RuntimeError(f"received {received} of {total} bytes")
        return {
            "bytes": received,
            "seconds": wall,
            "mb_per_s": received / wall / 1e6,
            "messages": messages,
            **watch.percents(),
        }
    finally:
        client.close()


# -- 5. fan-out -------------------------------------------------------------------


FANOUT_IN_FLIGHT = 128
"""Starts pipelined at once: codex 0.171 stalls the connection for good with about 132
or more unanswered requests in flight (nothing more is answered or notified)."""


def fanout(server: Server, sizes: Sizes) -> dict[str, object]:
    """N concurrent ``head -c 1M /dev/zero`` on one connection; wall and server peak RSS.

    Peak RSS is the server's VmHWM. Output still sitting in pipe buffers is kernel
    memory and counts for neither server (execsrv asks for 1 MiB pipes, codex keeps
    the 64 KiB default); both servers retain up to 1 MiB of output per process.
    At most :data:`FANOUT_IN_FLIGHT` starts are pipelined at a time, for every server.
    """
    count, each = sizes.fanout_processes, sizes.fanout_bytes
    client = WsClient(server.url, mode="nodelay")
    try:
        client.initialize()
        before = memory_kb(server.pid)
        payloads = []
        for i in range(count):
            argv = ["head", "-c", str(each), "/dev/zero"]
            start = _start_params(f"f{i}", argv, uri=server.speaks_uris)
            payloads.append(client.request_bytes("process/start", start)[1])
        watch = CpuWatch(server.pid)
        client.send_many(payloads[:FANOUT_IN_FLIGHT])
        sent = min(count, FANOUT_IN_FLIGHT)
        received = 0
        closed = 0
        peak_rss = 0
        next_sample = watch.start
        while closed < count:
            for m in client.recv():
                if m.method == "process/output":
                    received += len(m.params.chunk)
                elif m.method == "process/closed":
                    closed += 1
                elif m.error:
                    raise RuntimeError(f"request failed: {bytes(m.error)!r}")
                elif m.method is None and sent < count:  # a start's reply: send the next
                    client.send_raw(payloads[sent])
                    sent += 1
            now = time.perf_counter()
            if now >= next_sample:  # VmHWM is the real peak; this is a cross-check
                peak_rss = max(peak_rss, memory_kb(server.pid)["VmRSS"])
                next_sample = now + 0.02
        watch.stop()
        wall = watch.seconds
        after = memory_kb(server.pid)
        if received != count * each:
            raise RuntimeError(f"received {received} of {count * each} bytes")
        return {
            "processes": count,
            "bytes_each": each,
            "seconds": wall,
            "rss_before_kb": before["VmRSS"],
            "peak_rss_kb": after["VmHWM"],
            "peak_rss_sampled_kb": peak_rss,
            "rss_after_kb": after["VmRSS"],
            **watch.percents(),
        }
    finally:
        client.close()


# -- 6. idle connections ----------------------------------------------------------


def idle_connections(server: Server, sizes: Sizes) -> dict[str, object]:
    """RSS growth for N initialized, idle connections, per connection."""
    count = sizes.idle_connections
    warm = WsClient(server.url, mode="nodelay")
    clients: list[WsClient] = [warm]
    try:
        warm.initialize()  # first-use allocations do not count as per-connection cost
        time.sleep(0.5)
        before = memory_kb(server.pid)["VmRSS"]
        t0 = time.perf_counter()
        for _ in range(count):
            client = WsClient(server.url, mode="nodelay")
            clients.append(client)
            client.initialize()
        setup = time.perf_counter() - t0
        # A request on the last connection after every `initialized`: all are set up.
        clients[-1].call("process/terminate", {"processId": "none"})
        time.sleep(1.0)
        after = memory_kb(server.pid)["VmRSS"]
        return {
            "connections": count,
            "rss_before_kb": before,
            "rss_after_kb": after,
            "kb_per_connection": (after - before) / count,
            "setup_seconds": setup,
        }
    finally:
        for client in clients:
            client.close()


# -- 8. resume latency and 9. detached sessions (sessions that survive a disconnect) ---

RESUME_OUTPUT_BYTES = 256 * 1024


def resume_latency(server: Server, sizes: Sizes) -> dict[str, object]:
    """Disconnect, then resume the session and catch up on 256 KiB of missed output.

    Each iteration: a client starts ``head -c 256K /dev/zero``, sees it close, and
    drops its socket having read none of the output. The clock runs from that
    drop until a new connection has resumed the session (retrying while the
    server still counts the old one as attached, as codex does) and a
    ``process/read afterSeq 0`` has returned all of it.
    """
    samples: list[float] = []
    for i in range(sizes.resume_iterations):
        first = WsClient(server.url, mode="nodelay")
        reply = first.call("initialize", {"clientName": "bench"})
        session_id = msgspec.json.decode(bytes(reply.result))["sessionId"]
        first.notify("initialized", {})
        process_id = f"r{i}"
        argv = ["head", "-c", str(RESUME_OUTPUT_BYTES), "/dev/zero"]
        first.call("process/start", _start_params(process_id, argv, uri=server.speaks_uris))
        while not any(m.method == "process/closed" for m in first.recv()):
            pass
        t0 = time.perf_counter()
        first.close()
        while True:
            second = WsClient(server.url, mode="nodelay")
            resumed = second.call_raw(
                "initialize", {"clientName": "bench", "resumeSessionId": session_id}
            )
            if not resumed.error:
                break
            second.close()  # still attached on the server's side: try again
        second.notify("initialized", {})
        read = second.call("process/read", {"processId": process_id, "afterSeq": 0})
        data = msgspec.json.decode(bytes(read.result))
        received = sum(len(base64.b64decode(c["chunk"])) for c in data["chunks"])
        samples.append(time.perf_counter() - t0)
        second.close()
        if received != RESUME_OUTPUT_BYTES:
            raise RuntimeError(f"caught up on {received} bytes, not {RESUME_OUTPUT_BYTES}")
    return summarize(samples, "nodelay")


def detached_sessions(server: Server, sizes: Sizes) -> dict[str, object]:
    """Server RSS growth per detached session (initialized, then disconnected).

    Measured well inside codex 0.130's 10 s detach TTL (0.171's is 80 s), so no
    session has expired.
    """
    count = sizes.detached_sessions
    warm = WsClient(server.url, mode="nodelay")
    warm.initialize()
    warm.close()
    time.sleep(0.5)
    before = memory_kb(server.pid)["VmRSS"]
    t0 = time.perf_counter()
    for _ in range(count):
        client = WsClient(server.url, mode="nodelay")
        client.initialize()
        client.call("process/terminate", {"processId": "none"})  # handshake complete
        client.close()
    setup = time.perf_counter() - t0
    time.sleep(1.0)
    after = memory_kb(server.pid)["VmRSS"]
    if setup + 1.5 > 9.0:
        raise RuntimeError(f"setup took {setup:.1f} s: codex's 10 s TTL may have expired some")
    return {
        "sessions": count,
        "rss_before_kb": before,
        "rss_after_kb": after,
        "kb_per_session": (after - before) / count,
        "setup_seconds": setup,
    }
