"""The deployment files in deploy/ (issue 13, point 7) agree with the server, so
nothing in them can drift: every ``serve`` flag they use exists and takes the
value given (the real parser decides), the server they describe starts and
answers their probe paths, their ports agree, and their stop timeouts cover the
drain, the shutdown grace and the kill grace. ``systemd-analyze verify`` checks
the unit where it is installed.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

import pytest
import trio
import yaml

from execsrv.cli import build_parser

from ..cli.parsers import serve_options
from ..servers import LISTEN_ANY_PORT, ROOT, open_execsrv

DEPLOY: Final = ROOT / "deploy"
DOCKERFILE: Final = DEPLOY / "Dockerfile"
UNIT: Final = DEPLOY / "systemd" / "execsrv.service"
KUBERNETES: Final = DEPLOY / "kubernetes"
STOP_MARGIN: Final = 5.0
"""Seconds a stop timeout must leave beyond drain + shutdown grace + kill grace."""
PROBE_STATUSES: Final = (200, 503)
"""What a probe path answers (ready or not); anything else means it is not served."""


# --- parsers -------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """``(INSTRUCTION, rest)`` pairs, continuation lines joined, comments dropped."""
    logical: list[str] = []
    pending = ""
    for line in DOCKERFILE.read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    assert not pending, "a continuation line ends the Dockerfile"
    return [(text.split(None, 1)[0].upper(), text.split(None, 1)[1].strip()) for text in logical]


def dockerfile(instruction: str) -> list[str]:
    return [rest for name, rest in dockerfile_instructions() if name == instruction]


def exec_form(text: str) -> list[str]:
    """A JSON-array (exec form) argument list; the shell form is refused here on
    purpose: it would put a shell, not tini, in front of execsrv."""
    value = json.loads(text)
    assert isinstance(value, list), f"not an exec-form (JSON array) command: {text}"
    assert all(isinstance(item, str) for item in value)
    return value


def unit_settings() -> dict[str, dict[str, list[str]]]:
    """``[section] -> key -> values`` of the unit (systemd's syntax, simplified)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for line in UNIT.read_text().splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"a setting before any section: {line}"
        key, sep, value = line.partition("=")
        assert sep, f"not a key=value line: {line}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def unit_value(section: str, key: str) -> str:
    values = unit_settings()[section][key]
    assert len(values) == 1, f"{key} set {len(values)} times"
    return values[0]


def systemd_seconds(text: str) -> float:
    """A systemd time span in the forms a unit uses here: ``45``, ``45s``, ``2min``."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(s|sec|min|m)?", text)
    assert match, f"unsupported time span {text!r}"
    factor = 60 if match.group(2) in ("min", "m") else 1
    return float(match.group(1)) * factor


def kubernetes_documents() -> list[dict[str, Any]]:
    documents = []
    for path in sorted(KUBERNETES.glob("*.yaml")):
        documents += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return documents


def kubernetes(kind: str) -> list[dict[str, Any]]:
    return [doc for doc in kubernetes_documents() if doc["kind"] == kind]


def pod_spec() -> dict[str, Any]:
    (workload,) = kubernetes("StatefulSet")
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def container() -> dict[str, Any]:
    (only,) = pod_spec()["containers"]  # one execsrv per pod, and nothing else in it
    return only


# --- the serve command line of each file ---------------------------------------


def docker_serve_args() -> list[str]:
    (entrypoint,) = dockerfile("ENTRYPOINT")
    (cmd,) = dockerfile("CMD")
    first = exec_form(entrypoint)
    assert first[:2] == ["/usr/bin/tini", "--"], "tini is PID 1 and execs execsrv"
    assert first[2:] == ["execsrv"]
    return exec_form(cmd)


def kubernetes_serve_args() -> list[str]:
    spec = container()
    assert "command" not in spec, "the image's ENTRYPOINT (tini, execsrv) stays"
    return [str(arg) for arg in spec["args"]]


def systemd_serve_args() -> list[str]:
    argv = shlex.split(unit_value("Service", "ExecStart"))
    assert Path(argv[0]).name == "execsrv"
    return argv[1:]


SERVE_ARGS: Final = {
    "Dockerfile": docker_serve_args,
    "kubernetes": kubernetes_serve_args,
    "systemd": systemd_serve_args,
}


def parse_serve(args: Sequence[str]) -> argparse.Namespace:
    """``args`` (``serve`` first) as the real parser reads them; fails on an unknown
    flag, an abbreviation, or a value the flag does not take."""
    assert args[0] == "serve"
    options = serve_options()
    for arg in args[1:]:
        if arg.startswith("-"):
            flag = arg.partition("=")[0]
            assert flag in options, f"`serve {flag}` does not exist (or is abbreviated)"
    try:
        return build_parser().parse_args(list(args))
    except SystemExit as exit:
        raise AssertionError(f"`{shlex.join(args)}` is refused by the parser") from exit


def listen_port(args: argparse.Namespace) -> int:
    port = urlsplit(args.listen).port
    assert port is not None, args.listen
    return port


def required_stop_seconds(args: argparse.Namespace) -> float:
    """SIGTERM to SIGKILL: the drain, then the shutdown grace (children get
    SIGTERM), and the kill grace of a second signal, plus a margin."""
    return args.drain_timeout + args.shutdown_grace + args.kill_grace + STOP_MARGIN


# --- tests: flags and the server they describe ----------------------------------


@pytest.mark.parametrize("source", SERVE_ARGS)
def test_every_flag_exists_and_takes_the_value_given(source: str) -> None:
    args = parse_serve(SERVE_ARGS[source]())
    assert args.command == "serve"
    assert args.auth_token_file, "a non-loopback listener needs a token"
    assert not args.insecure_no_auth
    assert args.drain_timeout > 0, "SIGTERM drains"


@pytest.mark.parametrize("source", SERVE_ARGS)
async def test_the_server_they_describe_starts_and_serves_their_probe_paths(
    source: str, tmp_path: Path
) -> None:
    """The file's own arguments, with a free loopback port and a real token file."""
    args = SERVE_ARGS[source]()[1:]
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    args[args.index("--listen") + 1] = LISTEN_ANY_PORT
    args[args.index("--auth-token-file") + 1] = str(token)
    async with open_execsrv(*args) as server:
        port = urlsplit(server.url).port
        for path in probe_paths():
            status = await trio.to_thread.run_sync(http_status, f"http://127.0.0.1:{port}{path}")
            assert status in PROBE_STATUSES, (path, status)


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as error:
        return error.code


def probe_paths() -> set[str]:
    """Every HTTP path a file probes."""
    spec = container()
    paths = {spec["readinessProbe"]["httpGet"]["path"], spec["livenessProbe"]["httpGet"]["path"]}
    return paths | {urlsplit(docker_healthcheck_url()).path}


def docker_healthcheck_url() -> str:
    (healthcheck,) = dockerfile("HEALTHCHECK")
    command = healthcheck[healthcheck.index("CMD") + 3 :].strip()
    (url,) = re.findall(r"http://[^'\" ]+", " ".join(exec_form(command)))
    return url


async def test_the_docker_healthcheck_command_passes_against_a_real_server() -> None:
    """The HEALTHCHECK command itself, with the port of a live server."""
    (healthcheck,) = dockerfile("HEALTHCHECK")
    argv = exec_form(healthcheck[healthcheck.index("CMD") + 3 :].strip())
    assert argv[0] == "python"  # the slim image has no curl
    async with open_execsrv() as server:
        port = urlsplit(server.url).port
        argv = [sys.executable, *[a.replace(":8765/", f":{port}/") for a in argv[1:]]]
        result = await trio.run_process(argv, check=False, capture_stderr=True)
    assert result.returncode == 0, result.stderr


def test_the_probes_are_the_right_ones() -> None:
    spec = container()
    assert spec["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert spec["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert urlsplit(docker_healthcheck_url()).path == "/healthz"


# --- tests: ports ---------------------------------------------------------------


def test_every_file_uses_one_port() -> None:
    (exposed,) = dockerfile("EXPOSE")
    port = int(exposed)
    assert {listen_port(parse_serve(get())) for get in SERVE_ARGS.values()} == {port}
    assert urlsplit(docker_healthcheck_url()).port == port
    spec = container()
    named = {entry["name"]: entry["containerPort"] for entry in spec["ports"]}
    assert set(named.values()) == {port}
    for probe in ("readinessProbe", "livenessProbe"):
        probe_port = spec[probe]["httpGet"]["port"]
        assert named.get(probe_port, probe_port) == port, probe
    (service,) = kubernetes("Service")
    for entry in service["spec"]["ports"]:
        assert entry["port"] == port
        assert named.get(entry["targetPort"], entry["targetPort"]) == port


def test_the_default_listener_is_loopback_so_the_files_name_their_port() -> None:
    """``serve``'s default is ``ws://127.0.0.1:0`` (loopback, any port): no file may
    rely on it, since a pod or container must be reached from outside."""
    default = parse_serve(["serve"]).listen
    assert urlsplit(default).hostname == "127.0.0.1"
    for get in SERVE_ARGS.values():
        assert "--listen" in get()


# --- tests: stopping ------------------------------------------------------------


def test_kubernetes_grace_covers_drain_and_shutdown() -> None:
    args = parse_serve(kubernetes_serve_args())
    assert pod_spec()["terminationGracePeriodSeconds"] >= required_stop_seconds(args)


def test_systemd_stop_timeout_covers_drain_and_shutdown() -> None:
    args = parse_serve(systemd_serve_args())
    assert systemd_seconds(unit_value("Service", "TimeoutStopSec")) >= required_stop_seconds(args)


def test_the_documented_docker_stop_timeout_covers_drain_and_shutdown() -> None:
    (timeout,) = re.findall(r"--stop-timeout (\d+)", DOCKERFILE.read_text())
    assert float(timeout) >= required_stop_seconds(parse_serve(docker_serve_args()))


# --- tests: each file's own rules -------------------------------------------------


def test_the_image_is_slim_non_root_with_tini() -> None:
    (base,) = dockerfile("FROM")
    assert re.fullmatch(r"python:3\.\d+-slim", base), base
    (user,) = dockerfile("USER")
    assert user not in ("0", "root")
    assert any("tini" in rest for rest in dockerfile("RUN")), "tini is installed"
    assert dockerfile("HEALTHCHECK")


def test_kubernetes_one_execsrv_per_pod_behind_a_headless_service() -> None:
    (workload,) = kubernetes("StatefulSet")
    (service,) = kubernetes("Service")
    assert service["spec"]["clusterIP"] == "None"
    assert workload["spec"]["serviceName"] == service["metadata"]["name"]
    labels = workload["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert workload["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert pod_spec()["securityContext"]["runAsNonRoot"] is True


def test_kubernetes_token_file_is_the_mounted_secret() -> None:
    args = parse_serve(kubernetes_serve_args())
    spec = container()
    volumes = {volume["name"]: volume for volume in pod_spec()["volumes"]}
    files = set()
    for mount in spec["volumeMounts"]:
        secret = volumes[mount["name"]].get("secret")
        if secret is not None:
            files |= {f"{mount['mountPath']}/{item['path']}" for item in secret["items"]}
    assert args.auth_token_file in files


def test_the_unit_notifies_and_stops_in_order() -> None:
    service = unit_settings()["Service"]
    assert service["Type"] == ["notify"]
    assert service["KillMode"] == ["mixed"]
    args = parse_serve(systemd_serve_args())
    (credential,) = service["LoadCredential"]
    name = credential.partition(":")[0]
    assert args.auth_token_file == f"%d/{name}"  # %d: the unit's credentials directory


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    """With ExecStart's program replaced by this interpreter (verify checks that the
    program exists, and /opt/execsrv is an example path); any warning fails."""
    text = UNIT.read_text()
    program = shlex.split(unit_value("Service", "ExecStart"))[0]
    unit = tmp_path / UNIT.name
    unit.write_text(text.replace(f"ExecStart={program}", f"ExecStart={sys.executable} -m execsrv"))
    assert f"ExecStart={sys.executable} -m execsrv serve" in unit.read_text()
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert str(unit) not in result.stderr, result.stderr
