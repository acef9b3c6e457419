"""The README's embedding examples run as written (each in a fresh interpreter)."""

from __future__ import annotations

import re
import sys

import pytest
import trio

from .servers import ROOT, open_execsrv

SECTION = "## Embedding the server"
ASYNCIO_SECTION = "### From asyncio: `execsrv.aio`"
MCP_SECTION = "### MCP servers on the executor: `execsrv.mcp`"
PLACEHOLDER_URL = "ws://127.0.0.1:PORT"


def _section_examples(heading: str = SECTION) -> list[str]:
    text = (ROOT / "README.md").read_text()
    start = text.index(heading)
    level = len(heading) - len(heading.lstrip("#"))
    # The section ends at the next heading of its level or above ("# " lines in code
    # blocks are comments; the only level-1 heading is the title).
    end = re.compile(rf"\n#{{2,{level}}} ").search(text, start + len(heading))
    section = text[start : end.start() if end else len(text)]
    return re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)


def test_the_section_has_examples() -> None:
    examples = _section_examples()
    assert len(examples) >= 2
    assert any("nursery.start(partial(execsrv.serve" in code for code in examples)
    assert any("execsrv.open_server(" in code for code in examples)


@pytest.mark.parametrize("index", range(len(_section_examples())))
async def test_example_runs(index: int) -> None:
    code = _section_examples()[index]
    with trio.fail_after(30):
        result = await trio.run_process(
            [sys.executable, "-c", code],
            cwd=ROOT,
            capture_stdout=True,
            capture_stderr=True,
            check=False,
        )
    assert result.returncode == 0, result.stderr.decode(errors="replace")


async def test_the_asyncio_example_runs_against_a_real_server() -> None:
    [code] = _section_examples(ASYNCIO_SECTION)
    assert PLACEHOLDER_URL in code
    async with open_execsrv() as server:
        with trio.fail_after(30):
            result = await trio.run_process(
                [sys.executable, "-W", "error", "-c", code.replace(PLACEHOLDER_URL, server.url)],
                cwd=ROOT,
                capture_stdout=True,
                capture_stderr=True,
                check=False,
            )
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    assert result.stdout.decode().splitlines() == [
        "0 b'hello from asyncio\\n'",
        "still running: True",
        "b'data'",
        "gone: -32004",
    ]


async def test_the_mcp_example_runs_against_a_real_server() -> None:
    pytest.importorskip("mcp")
    [code, _streamable_http_fragment] = _section_examples(MCP_SECTION)
    assert PLACEHOLDER_URL in code
    async with open_execsrv() as server:
        with trio.fail_after(60):
            result = await trio.run_process(
                [sys.executable, "-c", code.replace(PLACEHOLDER_URL, server.url)],
                cwd=ROOT,
                capture_stdout=True,
                capture_stderr=True,
                check=False,
            )
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    assert result.stdout.decode().splitlines() == ["['add']", "42"]
