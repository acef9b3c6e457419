"""Fixtures for tests that pin one generation's behaviour.

Mark a test ``@pytest.mark.usefixtures("v0171")`` (or ``v0130``) and import the
fixture into its module: it then runs only against targets of that generation
(execsrv spoken to as it, and that generation's codex binary).
"""

from __future__ import annotations

import pytest

from execsrv.protocol.generation import Generation

__all__ = ["v0130", "v0171"]


@pytest.fixture
def v0171(generation: Generation) -> None:
    """Skip unless the test speaks 0.171."""
    if generation is not Generation.V0_171:
        pytest.skip("0.171 behaviour; this target speaks 0.130")


@pytest.fixture
def v0130(generation: Generation) -> None:
    """Skip unless the test speaks 0.130."""
    if generation is not Generation.V0_130:
        pytest.skip("0.130 behaviour; this target speaks 0.171")
