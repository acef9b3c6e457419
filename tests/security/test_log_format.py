"""``serve --log-format json``: one object per line, the same fields the text format
shows (session ids shortened, peer text clipped), and never a token in either format."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import pytest
import trio

import execsrv
from execsrv.logs import JsonFormatter, KeyValueFormatter, clip
from execsrv.server.session import short_id

from ..conftest import CHILD_ENV
from ..servers import open_execsrv
from .support import TOKEN, token_file, upgrade

CREATED = 1796419798.123  # 2026-12-04T21:29:58.123Z
WRONG_TOKEN = "wrong-" + TOKEN[::-1]


def _record(msg: str, *args: object, **extras: object) -> logging.LogRecord:
    record = logging.LogRecord("execsrv.connection", logging.INFO, __file__, 1, msg, args, None)
    record.created = CREATED
    record.msecs = 123.0
    record.__dict__.update(extras)
    return record


def _text(record: logging.LogRecord) -> str:
    formatter = KeyValueFormatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s", "%Y-%m-%dT%H:%M:%SZ"
    )
    return formatter.format(record)


def test_golden_line() -> None:
    record = _record("session detached", session="0123abcd", reason=clip("peer went away"))
    assert JsonFormatter().format(record) == (
        '{"ts":"2026-12-04T21:29:58.123Z","level":"INFO","logger":"execsrv.connection",'
        '"msg":"session detached","session":"0123abcd","reason":"peer went away"}'
    )
    assert _text(record) == (
        "2026-12-04T21:29:58Z INFO execsrv.connection session detached "
        "session=0123abcd reason=peer went away"
    )


def test_golden_line_with_arguments_numbers_and_a_clash() -> None:
    record = _record("limit %s reached", 12, limit=12, grace_s=0.5, level="extra", path=Path("/x"))
    assert JsonFormatter().format(record) == (
        '{"ts":"2026-12-04T21:29:58.123Z","level":"INFO","logger":"execsrv.connection",'
        '"msg":"limit 12 reached","limit":12,"grace_s":0.5,"level_":"extra","path":"/x"}'
    )


def test_a_value_cannot_forge_a_line() -> None:
    forged = "x\n2026-01-01T00:00:00Z WARNING execsrv.server forged\r\n"
    line = JsonFormatter().format(_record(forged, client=forged))
    assert "\n" not in line
    assert "\r" not in line
    assert json.loads(line)["client"] == forged


def test_a_traceback_is_one_clipped_field() -> None:
    try:
        raise ValueError("boom " + "y" * 5000)
    except ValueError:
        record = _record("internal error in %s", "process/start")
        record.exc_info = sys.exc_info()
    line = JsonFormatter().format(record)
    assert "\n" not in line
    fields = json.loads(line)
    assert fields["msg"] == "internal error in process/start"
    assert fields["exc"].startswith("Traceback (most recent call last):")
    assert "ValueError: boom yyy" in fields["exc"]
    assert "…[" in fields["exc"]  # the 5000-character line was clipped
    assert len(fields["exc"]) < 3000


@pytest.mark.parametrize("log_format", ["text", "json"])
async def test_tokens_never_reach_the_log(tmp_path: Path, log_format: str) -> None:
    """A refused handshake (a wrong token, and the right one in a wrong scheme) and an
    accepted one, at debug level: neither token appears anywhere on stderr, and the
    session id only shortened."""
    args = ("--log-level", "debug", "--log-format", log_format)
    async with open_execsrv(*args, "--auth-token-file", token_file(tmp_path)) as server:
        with trio.fail_after(20):
            refused = await upgrade(server.url, [("Authorization", f"Bearer {WRONG_TOKEN}")])
            assert refused.status == 401
            refused = await upgrade(server.url, [("Authorization", f"Basic {TOKEN}")])
            assert refused.status == 401
            async with execsrv.connect(server.url, token=TOKEN) as client:
                session_id = client.session_id
                process = await client.start_process(["true"], env=CHILD_ENV)
                await process.communicate()
            while "session detached" not in server.stderr_text():  # noqa: ASYNC110 (another process)
                await trio.sleep(0.02)
        stderr = server.stderr_text()
    assert stderr.count("handshake refused") == 2, stderr  # both refusals were logged
    assert TOKEN not in stderr
    assert WRONG_TOKEN not in stderr
    assert TOKEN[:12] not in stderr
    assert session_id not in stderr
    assert short_id(session_id) in stderr
    if log_format == "json":
        lines = [json.loads(line) for line in stderr.splitlines()]
        assert all(list(line)[:4] == ["ts", "level", "logger", "msg"] for line in lines)
        detached = [line for line in lines if line["msg"] == "session detached"]
        assert detached
        assert detached[0]["session"] == short_id(session_id)
