"""Fixtures that say which generations a conformance server answers as.

execsrv answers each request as the generation it speaks, so it runs both
generations' tests; a codex binary answers as its own release, read from its
``--version``. Import the fixtures a module uses (``from .generations import
v0130``) and mark tests ``@pytest.mark.usefixtures("v0130")`` (or ``v0171``): they
skip on a codex server of the other generation.
"""

from __future__ import annotations

import functools
import re
import subprocess

import pytest

from ..servers import RunningServer

__all__ = ["generations", "v0130", "v0171"]


@functools.cache
def _codex_generation(binary: str) -> str:
    output = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True)
    match = re.search(r"\b0\.(\d+)\.", output.stdout)
    assert match is not None, output.stdout
    return "0.171" if int(match.group(1)) >= 171 else "0.130"


@pytest.fixture
def generations(wire_server: RunningServer) -> frozenset[str]:
    """``{"0.130", "0.171"}`` for execsrv; codex's own one for codex."""
    if wire_server.kind == "execsrv":
        return frozenset({"0.130", "0.171"})
    return frozenset({_codex_generation(str(wire_server.process.args[0]))})


@pytest.fixture
def v0171(generations: frozenset[str]) -> None:
    """Skip on a codex 0.130 server: the test pins 0.171 behaviour."""
    if "0.171" not in generations:
        pytest.skip("0.171 behaviour; this server is codex 0.130")


@pytest.fixture
def v0130(generations: frozenset[str]) -> None:
    """Skip on a codex 0.171 server: the test pins 0.130 behaviour."""
    if "0.130" not in generations:
        pytest.skip("0.130 behaviour; this server is codex 0.171")
