"""Filesystem tests write large files and directories: remove them after each test.

pytest keeps the temporary directories of the last three sessions; without this,
each run would leave a few hundred megabytes and tens of thousands of entries
behind, every later session's cleanup of them would be slow, and pytest's own
cleanup (``shutil.rmtree``) cannot remove the deepest ones at all.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from execsrv import fs

from ..servers import open_execsrv
from ..wire import WireClient, open_wire


@pytest.fixture
def tmp_path(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    # fs.remove, not shutil.rmtree: some trees are deeper than its recursion allows
    fs.remove(str(tmp_path), recursive=True, force=True)


@pytest.fixture
async def wire() -> AsyncIterator[WireClient]:
    """A raw JSON-RPC peer of a fresh execsrv, its handshake done."""
    async with open_execsrv() as server, open_wire(server.url) as client:
        await client.handshake()
        yield client
