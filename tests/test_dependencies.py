"""A plain ``pip install execsrv`` stays lean: the integrations' libraries come only with
their extras, and importing execsrv's core loads none of them."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

PYPROJECT = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
OPTIONAL_LIBRARIES = {
    "mcp",
    "httpx",
    "httpx2",
    "anyio",
    "pydantic",
    "prometheus_client",
}
"""What the extras bring (anyio and pydantic through mcp) and the core must not load.
(``opentelemetry``, the ``otel`` extra, is used whenever it is installed: by design.)"""


def names(requirements: list[str]) -> set[str]:
    return {Requirement(text).name.lower() for text in requirements}


def test_the_core_dependencies_include_no_integration_library() -> None:
    assert names(PROJECT["dependencies"]) == {
        "trio",
        "trio-websocket",
        "wsproto",
        "msgspec",
        "h11",
    }


def test_each_integration_comes_with_its_extra() -> None:
    extras = {extra: names(deps) for extra, deps in PROJECT["optional-dependencies"].items()}
    assert "httpx" in extras["httpx"]
    assert "httpx2" in extras["httpx2"]
    assert {"mcp", "trio"} <= extras["mcp"]
    assert "prometheus-client" in extras["metrics"]
    assert "opentelemetry-api" in extras["otel"]


def test_the_mcp_extra_raises_the_trio_floor_for_anyio() -> None:
    """anyio's trio backend (which the mcp SDK runs on) needs trio 0.32."""
    [trio_requirement] = [
        Requirement(text)
        for text in PROJECT["optional-dependencies"]["mcp"]
        if Requirement(text).name == "trio"
    ]
    assert trio_requirement.specifier.contains("0.32")
    assert not trio_requirement.specifier.contains("0.31")


def test_importing_execsrv_loads_no_integration_library() -> None:
    code = (
        "import sys, execsrv, execsrv.client, execsrv.backend, execsrv.server, execsrv.streams\n"
        "execsrv.connect, execsrv.serve, execsrv.open_process_stream\n"
        "print(' '.join(sorted({name.split('.')[0] for name in sys.modules})))"
    )
    loaded = subprocess.run(
        [sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert "trio" in loaded
    assert not OPTIONAL_LIBRARIES & set(loaded)
