"""Output bytes are preserved exactly (DESIGN.md §6): binary, invalid UTF-8, split characters.

Each test checks both paths a client can get output by: the ``process/output``
notifications (the client's event stream) and ``process/read``.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import trio

import execsrv

from .support import CHILD_ENV, Collector, py

ALL_BYTES = bytes(range(256))

INVALID_UTF8 = b"".join(
    [
        b"\xff\xfe",  # never valid
        b"\xc3\x28",  # bad continuation
        b"\xa0\xa1",  # lone continuations
        b"\xe2\x28\xa1",  # bad 3-byte sequence
        b"\xf0\x28\x8c\xbc",  # bad 4-byte sequence
        b"\xed\xa0\x80",  # encoded surrogate (CESU)
        b"\xc0\xaf",  # overlong '/'
        b"\xf4\x90\x80\x80",  # above U+10FFFF
        b"\x00",  # NUL
        b"\xe2\x82",  # truncated at the very end
    ]
)

EURO = "€".encode()  # e2 82 ac


async def _read_all(proc: execsrv.RemoteProcess) -> dict[str, bytes]:
    """Every retained chunk via ``process/read``, joined per stream."""
    response = await proc.read(after_seq=0)
    joined: dict[str, bytearray] = {}
    seqs = [chunk.seq for chunk in response.chunks]
    assert seqs == sorted(seqs)
    for chunk in response.chunks:
        joined.setdefault(chunk.stream, bytearray()).extend(chunk.chunk)
    return {stream: bytes(data) for stream, data in joined.items()}


async def test_all_byte_values_on_pipes(client: execsrv.Client) -> None:
    with trio.fail_after(10):
        proc = await client.start_process(
            py(
                """
                import sys
                data = bytes(range(256)) * 4
                sys.stdout.buffer.write(data)
                sys.stderr.buffer.write(data[::-1])
                """
            ),
            env=CHILD_ENV,
        )
        seen = await Collector(proc).finish()
        assert seen.exit_code == 0
        assert bytes(seen.stdout) == ALL_BYTES * 4
        assert bytes(seen.stderr) == (ALL_BYTES * 4)[::-1]
        assert await _read_all(proc) == {
            "stdout": ALL_BYTES * 4,
            "stderr": (ALL_BYTES * 4)[::-1],
        }


async def test_invalid_utf8_on_pipes(client: execsrv.Client) -> None:
    with trio.fail_after(10):
        proc = await client.start_process(
            py(
                f"""
                import sys
                sys.stdout.buffer.write({INVALID_UTF8!r})
                sys.stderr.buffer.write({INVALID_UTF8[::-1]!r})
                """
            ),
            env=CHILD_ENV,
        )
        seen = await Collector(proc).finish()
        assert bytes(seen.stdout) == INVALID_UTF8
        assert bytes(seen.stderr) == INVALID_UTF8[::-1]
        assert await _read_all(proc) == {"stdout": INVALID_UTF8, "stderr": INVALID_UTF8[::-1]}


# The child writes the first two bytes of "€", then blocks on stdin until the
# test has seen them arrive as a chunk of their own; only then the last byte.
SPLIT_CHILD = """
import os, sys
out = sys.stdout.buffer
out.write(b"\\xe2\\x82"); out.flush()
os.read(0, 1)
out.write(b"\\xac"); out.flush()
"""


async def test_multibyte_character_split_across_writes_on_pipes(client: execsrv.Client) -> None:
    with trio.fail_after(10):
        proc = await client.start_process(py(SPLIT_CHILD), env=CHILD_ENV, pipe_stdin=True)
        seen = Collector(proc)
        await seen.until(lambda c: len(c.stdout) >= 2)
        # The server forwarded the half character as is: no decoding, no holding back.
        assert [c.data for c in seen.chunks()] == [EURO[:2]]
        assert await proc.write(b"g") == "accepted"
        await seen.finish()
        assert [c.data for c in seen.chunks()] == [EURO[:2], EURO[2:]]
        assert bytes(seen.stdout) == EURO
        assert await _read_all(proc) == {"stdout": EURO}


def raw_pty(argv: list[str], *, announce: bytes = b"") -> list[str]:
    """Run ``argv`` after ``stty raw -echo``: no output translation (``-opost``), no
    echo, no line discipline on input, so PTY bytes pass verbatim both ways.

    ``announce`` is printed once the terminal is raw: input sent before that
    would still be echoed and cooked.
    """
    script = f"stty raw -echo && printf '{announce.decode()}' && exec \"$@\""
    return ["sh", "-c", script, "sh", *argv]


async def test_all_byte_values_and_invalid_utf8_on_pty(client: execsrv.Client) -> None:
    payload = ALL_BYTES + INVALID_UTF8
    with trio.fail_after(10):
        proc = await client.start_process(
            raw_pty(py(f"import os; os.write(1, {payload!r})")),
            env=CHILD_ENV,
            tty=True,
        )
        seen = await Collector(proc).finish()
        assert seen.exit_code == 0
        assert bytes(seen.pty) == payload
        assert await _read_all(proc) == {"pty": payload}


async def test_pty_translates_newlines_when_cooked(client: execsrv.Client) -> None:
    """Without ``stty raw`` the terminal's ONLCR applies: the one known translation."""
    with trio.fail_after(10):
        proc = await client.start_process(["printf", "a\\nb\\n"], env=CHILD_ENV, tty=True)
        seen = await Collector(proc).finish()
        assert bytes(seen.pty) == b"a\r\nb\r\n"


async def test_multibyte_character_split_across_writes_on_pty(client: execsrv.Client) -> None:
    with trio.fail_after(10):
        proc = await client.start_process(
            raw_pty(py(SPLIT_CHILD)),
            env=CHILD_ENV,
            tty=True,
        )
        seen = Collector(proc)
        await seen.until(lambda c: len(c.pty) >= 2)
        assert [c.data for c in seen.chunks()] == [EURO[:2]]
        assert await proc.write(b"g") == "accepted"
        await seen.finish()
        assert [c.data for c in seen.chunks()] == [EURO[:2], EURO[2:]]
        assert await _read_all(proc) == {"pty": EURO}


async def test_large_binary_output_and_input_on_pty(client: execsrv.Client) -> None:
    """2 MiB of random bytes through a raw PTY both ways: ``cat`` echoes our stdin
    verbatim; nothing is lost when the child exits with output still in the PTY."""
    data = os.urandom(2 << 20)
    with trio.fail_after(20):
        proc = await client.start_process(
            raw_pty(["cat"], announce=b"raw"), env=CHILD_ENV, tty=True
        )
        seen = Collector(proc)
        await seen.until(lambda c: c.pty == b"raw")
        del seen.pty[:]

        async def feed() -> None:
            for offset in range(0, len(data), 256 << 10):
                assert await proc.write(data[offset : offset + (256 << 10)]) == "accepted"

        async with trio.open_nursery() as nursery:
            nursery.start_soon(feed)
            await seen.until(lambda c: len(c.pty) >= len(data))
        assert hashlib.sha256(seen.pty).digest() == hashlib.sha256(data).digest()
        await proc.terminate()
        await seen.finish()


async def test_output_written_just_before_exit_is_not_lost_on_pty(
    client: execsrv.Client, tmp_path: Path
) -> None:
    data = os.urandom(1 << 20)
    source = tmp_path / "data"
    source.write_bytes(data)
    with trio.fail_after(20):
        proc = await client.start_process(raw_pty(["cat", str(source)]), env=CHILD_ENV, tty=True)
        seen = await Collector(proc).finish()
        assert seen.exit_code == 0
        assert len(seen.pty) == len(data)
        assert bytes(seen.pty) == data
