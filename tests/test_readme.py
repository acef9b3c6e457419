"""The README's embedding examples run as written (each in a fresh interpreter)."""

from __future__ import annotations

import re
import sys

import pytest
import trio

from .servers import ROOT

SECTION = "## Embedding the server"


def _section_examples() -> list[str]:
    text = (ROOT / "README.md").read_text()
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    section = text[start : end if end != -1 else len(text)]
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
