"""Run the real ``codex exec`` against a mock model and a chosen exec-server.

One :func:`run_codex_exec` is one ``codex exec`` turn: the mock of the Responses API
plays :class:`ModelScript`, the executor is execsrv or codex's own exec-server
(``execsrv serve`` / ``codex exec-server``, real subprocesses), reached over the
transport the :class:`Setup` names. Websocket transports go through a
``tests/proxy.py`` proxy whose tap records every frame (and which can cut the
connection); the stdio transport runs the server under ``stdio_tee.py``. The
result keeps everything a test asserts on: codex's exit status and output, every
model request, every exec-server message.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest
import trio

from execsrv.protocol.generation import Generation

from ..proxy import Proxy, open_proxy
from ..servers import CODEX_KINDS, ROOT, RunningServer, codex_binary, open_codex, open_execsrv
from .frames import FrameLog
from .responses_mock import ModelScript, ResponsesMock, open_responses_mock

Version = Literal["0.130", "0.171"]
ServerKind = Literal["execsrv", "codex-0.130", "codex-0.171"]
Transport = Literal["env", "toml-url", "toml-stdio"]
SandboxMode = Literal["danger-full-access", "workspace-write", "read-only"]

GENERATIONS: dict[Version, Generation] = {"0.130": Generation.V0_130, "0.171": Generation.V0_171}
MARKER_VAR = "EXECSRV_HARNESS_MARKER"
"""Set only in the exec-server's environment: a command that echoes it ran there."""
MARKER = "executor-side-7f3a"
RUN_TIMEOUT = 90.0
"""Seconds one ``codex exec`` turn may take (start-up is a few seconds on 2 busy cores)."""
HOMES = ROOT / ".interop" / "codex-homes"
"""CODEX_HOME parent: codex will not set up its helpers under a temporary directory."""


@dataclass(frozen=True)
class Setup:
    """Which harness, which exec-server, and how the harness reaches it."""

    harness: Version
    server: ServerKind
    transport: Transport = "env"
    sandbox: SandboxMode = "danger-full-access"
    """codex's ``sandbox_mode``: what the harness asks the executor to enforce."""

    @property
    def id(self) -> str:
        base = f"{self.harness}-harness/{self.server}/{self.transport}"
        return base if self.sandbox == "danger-full-access" else f"{base}/{self.sandbox}"

    @property
    def server_version(self) -> Version | None:
        return None if self.server == "execsrv" else self.server.removeprefix("codex-")  # type: ignore[return-value]


@dataclass
class HarnessRun:
    setup: Setup
    returncode: int
    stdout: str
    stderr: str
    mock: ResponsesMock
    frames: FrameLog
    server_stderr: str
    after_result: object = None

    @property
    def outputs(self) -> dict[str, str]:
        return self.mock.outputs()

    def describe(self) -> str:
        """What to print when an assertion fails: codex's own account of the run."""
        return (
            f"{self.setup.id}: codex exec exited {self.returncode}\n"
            f"--- codex stderr (tail)\n{self.stderr[-3000:]}\n"
            f"--- server stderr (tail)\n{self.server_stderr[-1500:]}\n"
            f"--- frame log errors: {self.frames.errors[:5]}\n"
            f"--- script errors: {self.mock.script_errors}"
        )


def binary(version: Version) -> str:
    """The codex binary of ``version``; skips the test when it is not configured."""
    generation = GENERATIONS[version]
    path = codex_binary(generation)
    if path is None:
        env_var = CODEX_KINDS[generation][1]
        pytest.skip(f"{env_var} not set: no codex {version} binary (run: nox -s interop)")
    return path


def _codex_home() -> Path:
    HOMES.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="harness-", dir=HOMES))


def _stdio_server_argv(server: ServerKind) -> list[str]:
    if server == "execsrv":
        return [sys.executable, "-m", "execsrv", "serve", "--listen", "stdio"]
    return [binary(server.removeprefix("codex-")), "exec-server", "--listen", "stdio"]  # type: ignore[arg-type]


def _hide_harness_homes() -> list[str]:
    """A wrapper that runs the server in a mount namespace of its own where HOMES is an
    empty tmpfs: there the executor cannot see the harness's CODEX_HOME, so it lacks
    the ``codex-linux-sandbox`` link the 0.130 harness wraps sandboxed commands in, as
    a truly remote executor would (same machine otherwise: paths still agree)."""
    if shutil.which("unshare") is None:
        pytest.skip("util-linux unshare is needed to hide the harness's files from execsrv")
    user_namespace = [] if os.geteuid() == 0 else ["--map-root-user"]
    mount_then_exec = 'mount -t tmpfs -o size=1m harness-homes "$0" && exec "$@"'
    return ["unshare", *user_namespace, "--mount", "--", "sh", "-c", mount_then_exec, str(HOMES)]


@asynccontextmanager
async def _open_ws_server(setup: Setup) -> AsyncIterator[RunningServer]:
    server = setup.server
    if server == "execsrv":
        sandboxed = setup.sandbox != "danger-full-access"
        wrapper = _hide_harness_homes() if sandboxed else []
        async with open_execsrv(env={MARKER_VAR: MARKER}, wrapper=wrapper) as running:
            yield running
        return
    version: Version = "0.130" if server == "codex-0.130" else "0.171"
    async with open_codex(generation=GENERATIONS[version], env={MARKER_VAR: MARKER}) as running:
        yield running


def _config_toml(mock: ResponsesMock, sandbox: SandboxMode) -> str:
    return f"""\
model = "gpt-5.5"
model_provider = "mock"
approval_policy = "never"
sandbox_mode = "{sandbox}"

[model_providers.mock]
name = "mock"
base_url = "{mock.base_url}"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0
stream_idle_timeout_ms = 60000
"""


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _environments_toml(*, url: str | None = None, program: list[str] | None = None) -> str:
    lines = [
        'default = "executor"',
        "include_local = false",
        "",
        "[[environments]]",
        'id = "executor"',
    ]
    if url is not None:
        lines.append(f"url = {_toml_string(url)}")
    if program is not None:
        lines.append(f"program = {_toml_string(program[0])}")
        lines.append("args = [" + ", ".join(_toml_string(arg) for arg in program[1:]) + "]")
        lines.append(f"cwd = {_toml_string(str(ROOT))}")
        lines.append(f"env = {{ {MARKER_VAR} = {_toml_string(MARKER)} }}")
    return "\n".join(lines) + "\n"


During = Callable[[Proxy | None, FrameLog], Awaitable[None]]
"""Runs beside ``codex exec`` (e.g. to cut the connection at the right moment)."""
After = Callable[[], Awaitable[object]]
"""Runs once ``codex exec`` has exited, the exec-server still up; its result is kept."""


async def run_codex_exec(
    setup: Setup,
    script: ModelScript,
    cwd: Path,
    *,
    during: During | None = None,
    after: After | None = None,
) -> HarnessRun:
    """One ``codex exec`` turn; harness failures are returned, never raised."""
    harness_bin = binary(setup.harness)
    home = _codex_home()
    frames = FrameLog()
    proxy: Proxy | None = None
    server: RunningServer | None = None
    try:
        async with AsyncExitStack() as stack:
            mock = await stack.enter_async_context(open_responses_mock(script))
            (home / "config.toml").write_text(_config_toml(mock, setup.sandbox))
            env = {k: v for k, v in os.environ.items() if k != MARKER_VAR}
            env["CODEX_HOME"] = str(home)
            env.pop("CODEX_EXEC_SERVER_URL", None)
            if setup.transport == "toml-stdio":
                tee_log = home / "stdio-frames.log"
                program = [
                    sys.executable,
                    str(Path(__file__).with_name("stdio_tee.py")),
                    str(tee_log),
                    "--",
                ]
                program += _stdio_server_argv(setup.server)
                (home / "environments.toml").write_text(_environments_toml(program=program))
            else:
                server = await stack.enter_async_context(_open_ws_server(setup))
                upstream_port = int(server.url.rsplit(":", 1)[1])
                proxy = await stack.enter_async_context(open_proxy(upstream_port, frames.tap))
                if setup.transport == "env":
                    env["CODEX_EXEC_SERVER_URL"] = proxy.url
                else:
                    (home / "environments.toml").write_text(_environments_toml(url=proxy.url))
            argv = [
                harness_bin,
                "exec",
                "--skip-git-repo-check",
                "-C",
                str(cwd),
                "--json",
                "Run the scripted scenarios.",
            ]
            stdout_path, stderr_path = home / "stdout.jsonl", home / "stderr.log"
            with stdout_path.open("wb") as stdout, stderr_path.open("wb") as stderr:
                with trio.fail_after(RUN_TIMEOUT):
                    async with trio.open_nursery() as nursery:
                        if during is not None:
                            nursery.start_soon(during, proxy, frames)
                        completed = await trio.run_process(
                            argv,
                            env=env,
                            cwd=cwd,
                            stdin=subprocess.DEVNULL,
                            stdout=stdout,
                            stderr=stderr,
                            check=False,
                        )
                        nursery.cancel_scope.cancel()
                    after_result = None if after is None else await after()
            if setup.transport == "toml-stdio":
                frames.load_tee(tee_log)
            return HarnessRun(
                setup=setup,
                returncode=completed.returncode,
                stdout=stdout_path.read_text(errors="replace"),
                stderr=stderr_path.read_text(errors="replace"),
                mock=mock,
                frames=frames,
                server_stderr=server.stderr_text() if server is not None else "",
                after_result=after_result,
            )
    finally:
        shutil.rmtree(home, ignore_errors=True)
