"""Filesystem tests write large files and directories: remove them after each test.

pytest keeps the temporary directories of the last three sessions; without this,
each run would leave a few hundred megabytes and tens of thousands of entries
behind, every later session's cleanup of them would be slow, and pytest's own
cleanup (``shutil.rmtree``) cannot remove the deepest ones at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from execsrv import fs


@pytest.fixture
def tmp_path(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    # fs.remove, not shutil.rmtree: some trees are deeper than its recursion allows
    fs.remove(str(tmp_path), recursive=True, force=True)
