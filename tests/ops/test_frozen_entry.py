"""The executable's script (tools/execsrv_exe.py, execsrv/frozen.py) run by a plain interpreter:
the helper forms it answers itself, and the command line it hands on. The built
executable is tested in tests/ops/test_exe.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from execsrv.frozen import helper_env

from ..servers import ROOT

ENTRY = str(ROOT / "tools" / "execsrv_exe.py")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, ENTRY, *args],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "PYTHONPATH": str(ROOT)},  # this checkout's execsrv
    )


def test_a_helper_with_code_sees_its_arguments_as_python_c_would() -> None:
    result = _run("-I", "-S", "-c", "import sys; print(sys.argv, __name__)", "a", "b")
    assert result.stdout == "['-c', 'a', 'b'] __main__\n", result.stderr


def test_a_helper_script_runs_as_main_with_its_arguments(tmp_path: Path) -> None:
    script = tmp_path / "helper.py"
    script.write_text("import sys\nif __name__ == '__main__':\n    sys.exit(sys.argv[1])\n")
    result = _run("-I", "-S", str(script), "7")
    assert result.stderr == "7\n"
    assert result.returncode == 1


def test_anything_else_is_the_command_line() -> None:
    result = _run("--help")
    assert result.returncode == 0
    assert "serve" in result.stdout
    assert "doctor" in result.stdout


def test_a_python_installation_adds_nothing_to_a_helper_environment() -> None:
    assert helper_env() == {}
