"""One suite, two backends: every test here runs on LocalBackend and RemoteBackend.

The backends are the pytest plugin's ``execsrv_backend`` (execsrv/pytest_plugin.py); the
remote one talks to an in-process execsrv over a real websocket.
"""

from __future__ import annotations

import pytest

from execsrv.backend import ExecBackend


@pytest.fixture
def backend(execsrv_backend: ExecBackend) -> ExecBackend:
    return execsrv_backend
