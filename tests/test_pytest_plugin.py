"""execsrv's pytest plugin (execsrv/pytest_plugin.py), run by pytest itself on test files.

Each test writes a small test directory and runs pytest on it with ``pytester``: inline
(in this process, so these tests are sync: the inner run calls ``trio.run``) or, for the
entry point, in a fresh interpreter.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

import pytest
import trio

from .conftest import PLUGIN, PLUGIN_INSTALLED
from .servers import ROOT

SECTION = "## Testing with pytest"

PLUGIN_ARGS = () if PLUGIN_INSTALLED else ("-p", PLUGIN)
"""Inline runs load the plugin as pytest would: by its entry point when execsrv's
installed metadata has it, else by name (the entry point is tested on its own below)."""


def readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    (example,) = re.findall(r"```python\n(.*?)```", text[start:end], flags=re.DOTALL)
    return example


def test_the_readme_example_passes_on_both_backends(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_example=readme_example())
    result = pytester.runpytest("-v", *PLUGIN_ARGS)
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        [
            "*test_echo_on_both_backends?local? PASSED*",
            "*test_echo_on_both_backends?remote? PASSED*",
            "*test_a_client PASSED*",
        ]
    )


def test_a_failing_test_on_one_backend_fails_that_backend_only(pytester: pytest.Pytester) -> None:
    """The parametrization is real: each id gets its own backend type."""
    pytester.makepyfile(
        """
        import pytest
        from execsrv.backend import LocalBackend

        pytestmark = pytest.mark.trio

        async def test_local_only(execsrv_backend):
            assert isinstance(execsrv_backend, LocalBackend)
        """
    )
    result = pytester.runpytest("-v", *PLUGIN_ARGS)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["*test_local_only?local? PASSED*", "*test_local_only?remote? FAILED*"]
    )


def test_config_from_a_conftest_override_and_markers(pytester: pytest.Pytester) -> None:
    """A conftest's ``execsrv_base_config`` reaches the server and the local backend's
    limits; markers replace fields on top, the closest marker winning."""
    pytester.makeconftest(
        """
        import pytest
        import execsrv

        @pytest.fixture
        def execsrv_base_config():
            return execsrv.ServerConfig(kill_grace=0.25, retention_bytes=4096)
        """
    )
    pytester.makepyfile(
        """
        import pytest
        from execsrv.backend import LocalBackend, RemoteBackend

        pytestmark = [pytest.mark.trio, pytest.mark.execsrv_config(session_ttl=7.0, kill_grace=1.0)]

        async def test_module_marker(execsrv_server):
            config = execsrv_server.config
            assert (config.kill_grace, config.retention_bytes) == (1.0, 4096)
            assert config.session_ttl == 7.0

        @pytest.mark.execsrv_config(kill_grace=0.75)
        async def test_closest_marker_wins(execsrv_server, execsrv_client):
            assert execsrv_server.config.kill_grace == 0.75
            assert execsrv_server.config.session_ttl == 7.0
            proc = await execsrv_client.start_process(["true"], env={"PATH": "/usr/bin:/bin"})
            assert (await proc.wait()).exit_code == 0

        @pytest.mark.execsrv_config(kill_grace=0.5)
        async def test_backend_config(execsrv_backend, execsrv_server_config):
            assert execsrv_server_config.kill_grace == 0.5
            if isinstance(execsrv_backend, LocalBackend):
                assert execsrv_backend._limits.kill_grace_seconds == 0.5
                assert execsrv_backend._limits.retained_output_bytes == 4096
            else:
                assert isinstance(execsrv_backend, RemoteBackend)
        """
    )
    result = pytester.runpytest("-v", "--strict-markers", *PLUGIN_ARGS)
    result.assert_outcomes(passed=4)


def test_a_positional_marker_argument_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.trio
        @pytest.mark.execsrv_config(0.5)
        async def test_config(execsrv_server_config):
            pass
        """
    )
    result = pytester.runpytest(*PLUGIN_ARGS)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*execsrv_config takes keyword arguments only*"])


def test_the_entry_point_loads_the_plugin(pytester: pytest.Pytester, tmp_path: Path) -> None:
    """pytest in a fresh interpreter, given only the entry points pyproject.toml
    declares as installed metadata (no ``-p``), registers the plugin as ``execsrv``."""
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    assert declared["pytest11"] == {"execsrv": PLUGIN}
    site = tmp_path / "site"
    dist_info = site / "execsrv_entry_points-0.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: execsrv-entry-points\nVersion: 0\n"
    )
    (dist_info / "entry_points.txt").write_text(
        "".join(
            f"[{group}]\n" + "".join(f"{name} = {value}\n" for name, value in entries.items())
            for group, entries in declared.items()
        )
    )
    pytester.makepyfile(
        """
        import pytest
        import execsrv.pytest_plugin

        def test_registered(pytestconfig):
            assert pytestconfig.pluginmanager.get_plugin("execsrv") is execsrv.pytest_plugin

        @pytest.mark.trio
        async def test_client(execsrv_client):
            proc = await execsrv_client.start_process(["true"], env={"PATH": "/usr/bin:/bin"})
            assert (await proc.wait()).exit_code == 0
        """
    )
    pytester._monkeypatch.setenv("PYTHONPATH", f"{ROOT}:{site}")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    turned_off = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:execsrv")
    turned_off.assert_outcomes(failed=1, errors=1)
    turned_off.stdout.fnmatch_lines(["*fixture 'execsrv_client' not found*"])


async def test_loading_the_plugin_imports_no_more_of_execsrv_and_no_trio() -> None:
    """pytest loads the plugin in every run where execsrv is installed, before coverage
    starts measuring: execsrv's modules (and trio) wait for the first fixture."""
    code = (
        "import sys, execsrv.pytest_plugin; "
        "print(sorted(m for m in sys.modules if m == 'trio' or m.startswith('execsrv')))"
    )
    with trio.fail_after(30):
        result = await trio.run_process(
            [sys.executable, "-c", code], cwd=ROOT, capture_stdout=True, check=True
        )
    assert result.stdout.decode().strip() == "['execsrv', 'execsrv.pytest_plugin']"
