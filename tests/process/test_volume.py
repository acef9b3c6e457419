"""Large and many: every byte of a big output arrives, in order; many processes at once
keep their output apart."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import trio

import execsrv

from .support import CHILD_ENV, Collector

BIG = 20 << 20


async def test_20_mb_on_stdout_and_stderr_arrive_complete_and_in_order(
    client: execsrv.Client, tmp_path: Path
) -> None:
    out, err = tmp_path / "out", tmp_path / "err"
    out.write_bytes(os.urandom(BIG))
    err.write_bytes(os.urandom(BIG))
    with trio.fail_after(30):
        # Both streams written at once, so their chunks interleave in seq order.
        proc = await client.start_process(
            ["sh", "-c", 'cat "$0" & cat "$1" >&2; wait', str(out), str(err)], env=CHILD_ENV
        )
        seen = await Collector(proc).finish()
    assert seen.exit_code == 0
    seen.assert_contiguous()
    assert len(seen.stdout) == BIG
    assert len(seen.stderr) == BIG
    assert hashlib.sha256(seen.stdout).digest() == hashlib.sha256(out.read_bytes()).digest()
    assert hashlib.sha256(seen.stderr).digest() == hashlib.sha256(err.read_bytes()).digest()
    # Large reads: tens of chunks, not thousands (DESIGN.md §2, ≥ 64 KiB reads).
    assert len(seen.chunks()) < 2 * BIG // (64 << 10)


COUNT = 200
LINES = 100
CHATTY = """
i=$0 n=0
while [ $n -lt {lines} ]; do echo "out-$i-$n"; echo "err-$i-$n" >&2; n=$((n + 1)); done
exit $((i % 256))
"""


def _expected(index: int, stream: str) -> bytes:
    return b"".join(f"{stream}-{index}-{n}\n".encode() for n in range(LINES))


async def test_200_concurrent_processes_complete_and_correctly_attributed(
    client: execsrv.Client,
) -> None:
    results: dict[int, Collector] = {}

    async def run(index: int) -> None:
        proc = await client.start_process(
            ["sh", "-c", CHATTY.format(lines=LINES), str(index)],
            process_id=f"p{index}",
            env=CHILD_ENV,
        )
        results[index] = await Collector(proc).finish()

    with trio.fail_after(40):
        async with trio.open_nursery() as nursery:
            for index in range(COUNT):
                nursery.start_soon(run, index)
    assert sorted(results) == list(range(COUNT))
    for index, seen in results.items():
        assert seen.exit_code == index % 256, index
        assert bytes(seen.stdout) == _expected(index, "out"), index
        assert bytes(seen.stderr) == _expected(index, "err"), index
        seen.assert_contiguous()
    listed = {info.process_id: info for info in await client.list_processes()}
    assert set(listed) == {f"p{index}" for index in range(COUNT)}
    assert all(not info.running for info in listed.values())
