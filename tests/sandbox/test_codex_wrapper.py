"""The 0.130 harness's wrapped commands (issue 11, point 4): the helper's arguments
read into the command, its cwd and its sandbox; whatever cannot be honoured refused.

The arguments are those of a real ``process/start`` the codex 0.130 harness sent
to execsrv under ``workspace-write`` and ``read-only`` (``codex exec`` through
tests/harness/, frames recorded by its proxy); only the workspace path differs.
End to end, a 0.130 client's wrapped start, naming a helper that does not exist,
runs its command under execsrv's own sandbox (pipes and PTY) or is refused.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import trio

import execsrv
from execsrv.protocol import fs as f
from execsrv.protocol.generation import Generation
from execsrv.sandbox import landlock_abi
from execsrv.sandbox.codex_wrapper import (
    WrappedCommand,
    WrapperArgumentsInvalid,
    unwrap_codex_sandbox,
)
from execsrv.sandbox.profiles import special

from ..conformance.support import events_until_closed, exit_code_of, output_of, start_params
from ..conftest import CHILD_ENV
from ..wire import WireClient, open_wire

HELPER = "/root/.codex/tmp/arg0/codex-arg0AecvGc/codex-linux-sandbox"
"""argv[0] and arg0 as the harness sends them: its helper link, not the bare name."""
WORKSPACE = "/tmp/wrapcap/ws"
MEMORIES = "/root/.codex/memories"


WORKSPACE_WRITE: dict[str, Any] = {
    "type": "managed",
    "file_system": {
        "type": "restricted",
        "entries": [
            {"path": special("root"), "access": "read"},
            {"path": special("project_roots"), "access": "write"},
            {"path": special("slash_tmp"), "access": "write"},
            {"path": special("tmpdir"), "access": "write"},
            {"path": special("project_roots", subpath=".git"), "access": "read"},
            {"path": special("project_roots", subpath=".agents"), "access": "read"},
            {"path": special("project_roots", subpath=".codex"), "access": "read"},
            {"path": {"type": "path", "path": MEMORIES}, "access": "write"},
        ],
    },
    "network": "restricted",
}
READ_ONLY: dict[str, Any] = {
    "type": "managed",
    "file_system": {"type": "restricted", "entries": [{"path": special("root"), "access": "read"}]},
    "network": "restricted",
}
COMMAND = ["/bin/bash", "-lc", "echo hi > inside.txt; echo done"]


def helper_args(profile: Any = WORKSPACE_WRITE, *, cwd: str = WORKSPACE) -> list[str]:
    """The helper's arguments, as the harness orders them (without argv[0] and command)."""
    text = profile if isinstance(profile, str) else json.dumps(profile, separators=(",", ":"))
    return ["--sandbox-policy-cwd", cwd, "--command-cwd", cwd, "--permission-profile", text]


def wrapped(*args: str, command: list[str] = COMMAND) -> list[str]:
    return [HELPER, *args, "--", *command]


def unwrap(argv: list[str], arg0: str | None = HELPER) -> WrappedCommand:
    result = unwrap_codex_sandbox(argv, arg0)
    assert result is not None
    return result


def refusal(argv: list[str], arg0: str | None = HELPER) -> str:
    with pytest.raises(WrapperArgumentsInvalid) as raised:
        unwrap_codex_sandbox(argv, arg0)
    return raised.value.message


@pytest.mark.parametrize("profile", [WORKSPACE_WRITE, READ_ONLY], ids=["workspace-write", "ro"])
def test_the_harness_arguments_become_the_command_its_cwd_and_its_sandbox(profile: Any) -> None:
    command = unwrap(wrapped(*helper_args(profile)))

    assert command.argv == tuple(COMMAND)
    assert command.cwd == WORKSPACE
    assert command.sandbox == f.FileSystemSandboxContext(
        permissions=profile, cwd=WORKSPACE, windows_sandbox_level="disabled"
    )
    # The sandbox is one fs/* and a 0.171 process/start accept as such.
    command.sandbox.check_params(Generation.V0_130)
    assert command.sandbox.checked_profile() == f.parse_permissions(profile)


def test_the_command_runs_in_the_command_cwd_else_the_policy_cwd() -> None:
    args = ["--sandbox-policy-cwd", WORKSPACE, "--command-cwd", f"{WORKSPACE}/sub"]
    args += ["--permission-profile", json.dumps(READ_ONLY)]
    command = unwrap(wrapped(*args))
    assert (command.cwd, command.sandbox.cwd) == (f"{WORKSPACE}/sub", WORKSPACE)

    without = unwrap(wrapped("--sandbox-policy-cwd", WORKSPACE, *args[4:]))
    assert (without.cwd, without.sandbox.cwd) == (WORKSPACE, WORKSPACE)


def test_what_comes_after_the_separator_is_the_command_verbatim() -> None:
    command = ["/bin/echo", "--", "--no-proc", "--sandbox-policy-cwd", "x"]
    assert unwrap(wrapped(*helper_args(), command=command)).argv == tuple(command)


def test_flags_in_any_order_with_inline_values_and_switches_without_effect() -> None:
    args = [
        "--no-proc",
        f"--permission-profile={json.dumps(READ_ONLY)}",
        "--use-legacy-landlock",
        f"--sandbox-policy-cwd={WORKSPACE}",
    ]
    command = unwrap(wrapped(*args))
    assert (command.cwd, command.sandbox.permissions) == (WORKSPACE, READ_ONLY)


def test_arg0_decides_and_argv0_only_without_it() -> None:
    argv = wrapped(*helper_args())
    assert unwrap_codex_sandbox(argv, "codex-linux-sandbox") is not None
    assert unwrap_codex_sandbox(argv, None) is not None  # the program would see argv[0]
    # Another arg0: the program would not run as the helper, nor does execsrv unwrap.
    assert unwrap_codex_sandbox(argv, "codex") is None
    assert unwrap_codex_sandbox(["/bin/bash", "-lc", "true"], None) is None
    plain = ["/usr/bin/codex-linux-sandbox-not", "--x"]
    assert unwrap_codex_sandbox(plain, None) is None
    assert unwrap_codex_sandbox(["/bin/true"], "/opt/codex-linux-sandbox/true") is None


def test_a_bare_helper_name_as_arg0_unwraps_whatever_argv0_names() -> None:
    argv = ["/nowhere/codex", *helper_args(), "--", "/bin/true"]
    assert unwrap(argv, "codex-linux-sandbox").argv == ("/bin/true",)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        pytest.param(
            ["--sandbox-policy", '{"type":"read-only"}'], "'--sandbox-policy'", id="legacy"
        ),
        pytest.param(["--bogus"], "'--bogus'", id="unknown-flag"),
        pytest.param(["-h"], "'-h'", id="short-flag"),
        pytest.param(["/bin/true"], "no `--` before the command", id="positional-first"),
        pytest.param(["--no-proc=true"], "'--no-proc=true'", id="switch-with-value"),
        pytest.param(["--allow-network-for-proxy"], "managed network proxy", id="proxy"),
        pytest.param(["--proxy-route-spec", "x"], "managed network proxy", id="route-spec"),
        pytest.param(["--apply-seccomp-then-exec"], "second stage", id="inner-stage"),
        pytest.param(["--no-proc", "--no-proc"], "more than once", id="switch-twice"),
        pytest.param(["--command-cwd", "/a"], "more than once", id="value-twice"),
    ],
)
def test_a_flag_that_cannot_be_honoured_is_refused(args: list[str], says: str) -> None:
    assert says in refusal(wrapped(*helper_args(), *args))


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        pytest.param([HELPER, *helper_args(), *COMMAND], "no `--`", id="no-separator"),
        pytest.param([HELPER, *helper_args()], "no `--`", id="no-command-no-separator"),
        pytest.param([HELPER, *helper_args(), "--"], "no command", id="empty-command"),
        pytest.param([HELPER], "no `--`", id="no-arguments"),
        pytest.param(
            [HELPER, "--sandbox-policy-cwd", "--", "/bin/true"], "needs a value", id="no-value"
        ),
        pytest.param(
            wrapped(*helper_args()[2:]), "--sandbox-policy-cwd is required", id="no-policy-cwd"
        ),
        pytest.param(
            wrapped(*helper_args()[:4]), "--permission-profile is required", id="no-profile"
        ),
    ],
)
def test_a_malformed_wrapper_is_refused(argv: list[str], says: str) -> None:
    assert says in refusal(argv)


@pytest.mark.parametrize("path", ["relative/dir", "", "/tmp/ws/../etc", "file:///tmp/ws"], ids=repr)
@pytest.mark.parametrize("flag", ["--sandbox-policy-cwd", "--command-cwd"])
def test_a_cwd_that_is_not_absolute_or_goes_through_dotdot_is_refused(flag: str, path: str) -> None:
    args = helper_args()
    args[args.index(flag) + 1] = path
    assert f"{flag} must be an absolute path" in refusal(wrapped(*args))


@pytest.mark.parametrize(
    ("profile", "says"),
    [
        pytest.param("{not json", "is not JSON", id="not-json"),
        pytest.param('{"type":"managed"}', "is not a permission profile", id="missing-fields"),
        pytest.param('{"type":"read-only"}', "is not a permission profile", id="legacy-policy"),
        pytest.param("[]", "is not a permission profile", id="not-an-object"),
        pytest.param(
            json.dumps(
                {
                    "type": "managed",
                    "network": "restricted",
                    "file_system": {
                        "type": "restricted",
                        "entries": [{"path": {"type": "path", "path": "rel"}, "access": "write"}],
                    },
                }
            ),
            "is not a permission profile",
            id="relative-entry",
        ),
    ],
)
def test_a_profile_fs_would_not_accept_is_refused(profile: str, says: str) -> None:
    message = refusal(wrapped(*helper_args(profile)))
    assert says in message
    assert message.startswith("codex-linux-sandbox: --permission-profile")


# -- end to end: a 0.130 client's wrapped start against a real execsrv ------------------

WAIT = 30
ABSENT_HELPER = "/nonexistent/codex-home/tmp/arg0/codex-arg0Xq1z/codex-linux-sandbox"
"""The harness's helper path on a host without codex: execsrv must never need it."""


@pytest.fixture
async def wire(server: execsrv.ExecServer) -> AsyncIterator[WireClient]:
    assert server.url is not None
    async with open_wire(server.url) as client:
        with trio.fail_after(WAIT):
            await client.handshake("codex-environment")
        yield client


@pytest.fixture
def outside() -> Iterator[Path]:
    """A directory no workspace-write root covers (pytest's tmp_path is under /tmp)."""
    directory = Path(tempfile.mkdtemp(prefix="execsrv-wrap-", dir="/var/tmp"))
    try:
        yield directory
    finally:
        shutil.rmtree(directory)


def wrapped_start(
    process_id: str, root: Path, profile: Any, script: str, *, tty: bool
) -> dict[str, Any]:
    """A ``process/start`` as the 0.130 harness sends it, with plain paths."""
    command_cwd = root / "sub"
    argv = [
        ABSENT_HELPER,
        "--sandbox-policy-cwd",
        str(root),
        "--command-cwd",
        str(command_cwd),
        "--permission-profile",
        json.dumps(profile),
        "--",
        "/bin/sh",
        "-c",
        script,
    ]
    env = {**CHILD_ENV, "TMPDIR": str(root)}  # not the server's: the tmpdir entry stays inside
    return start_params(
        Generation.V0_130, process_id, argv, cwd=str(root), env=env, tty=tty, arg0=ABSENT_HELPER
    )


WRITES = "echo in > inside.txt || exit 10; echo out > {outside}/escaped.txt || exit 3"
"""Writes into the command cwd (inside the root), then outside: exit 3 if refused."""


@pytest.mark.skipif(landlock_abi() < 1, reason="the kernel has no Landlock")
@pytest.mark.parametrize("tty", [False, True], ids=["pipes", "tty"])
@pytest.mark.parametrize(
    ("profile", "exit_code"),
    [(WORKSPACE_WRITE, 3), ({"type": "disabled"}, 0)],
    ids=["workspace-write", "full-access"],
)
async def test_a_wrapped_command_runs_confined_without_the_helper_binary(
    wire: WireClient, tmp_path: Path, outside: Path, tty: bool, profile: Any, exit_code: int
) -> None:
    root = tmp_path / "project"
    (root / "sub").mkdir(parents=True)
    script = WRITES.format(outside=outside)
    params = wrapped_start("w1", root, profile, script, tty=tty)
    with trio.fail_after(WAIT):
        response = await wire.request("process/start", params)
        assert response.get("result") == {"processId": "w1"}, response
        events = await events_until_closed(wire, "w1")
    assert exit_code_of(events) == exit_code, output_of(events)
    assert (root / "sub" / "inside.txt").read_text() == "in\n"
    assert (outside / "escaped.txt").exists() is (exit_code == 0)


@pytest.mark.parametrize(
    ("flags", "fields", "says"),
    [
        pytest.param(
            ["--allow-network-for-proxy"],
            {},
            "codex-linux-sandbox: --allow-network-for-proxy asks for codex's managed network proxy",
            id="proxy-flag",
        ),
        pytest.param(
            [],
            {"sandbox": {"permissions": {"type": "disabled"}, "windowsSandboxLevel": "disabled"}},
            "codex-linux-sandbox: a wrapped command cannot also carry a `sandbox`",
            id="also-a-sandbox",
        ),
    ],
)
async def test_a_wrapper_that_cannot_be_honoured_is_refused_and_nothing_runs(
    wire: WireClient,
    tmp_path: Path,
    outside: Path,
    flags: list[str],
    fields: dict[str, Any],
    says: str,
) -> None:
    root = tmp_path / "project"
    (root / "sub").mkdir(parents=True)
    params = wrapped_start("w2", root, {"type": "disabled"}, f"touch {outside}/ran", tty=False)
    params["argv"][1:1] = flags
    params.update(fields)
    with trio.fail_after(WAIT):
        response = await wire.request("process/start", params)
    assert response["error"]["code"] == -32600, response
    assert response["error"]["message"].startswith(says), response
    assert not (outside / "ran").exists()
