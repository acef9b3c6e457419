"""The protocol package is sans-IO: importing it pulls in no trio."""

from __future__ import annotations

import subprocess
import sys

from ..servers import ROOT


def test_protocol_package_imports_no_trio() -> None:
    code = (
        "import sys, execsrv.protocol, execsrv.protocol.methods, execsrv.protocol.params, "
        "execsrv.protocol.framing, execsrv.protocol.jsonrpc; "
        "assert 'trio' not in sys.modules, sorted(m for m in sys.modules if 'trio' in m)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
