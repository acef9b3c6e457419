"""The shortest end-to-end path: start a process, see its output and exit."""

from __future__ import annotations

import execsrv

from .conftest import CHILD_ENV


async def test_echo_round_trip(client: execsrv.Client) -> None:
    proc = await client.start_process(
        ["sh", "-c", "printf out; printf err >&2; exit 3"], env=CHILD_ENV
    )
    result = await proc.communicate()
    assert bytes(result.stdout) == b"out"
    assert bytes(result.stderr) == b"err"
    assert result.exit_code == 3
