"""Helpers shared by the conformance tests (plain dicts on the wire, no execsrv code)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import trio

from ..conftest import CHILD_ENV
from ..wire import Message, WireClient

PROCESS_EVENTS = frozenset({"process/output", "process/exited", "process/closed"})

WAIT = 15
"""Generous seconds for anything that should take milliseconds (2 slow cores)."""


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def start_params(
    process_id: str,
    argv: list[str],
    *,
    cwd: str = "/",
    env: dict[str, str] | None = None,
    tty: bool = False,
    **extra: Any,
) -> dict[str, Any]:
    """``process/start`` params with the required fields filled in."""
    return {
        "processId": process_id,
        "argv": argv,
        "cwd": cwd,
        "env": dict(CHILD_ENV) if env is None else env,
        "tty": tty,
        **extra,
    }


async def start(wire: WireClient, process_id: str, argv: list[str], **kwargs: Any) -> None:
    """Start a process and insist that it started."""
    response = await wire.request("process/start", start_params(process_id, argv, **kwargs))
    expected: dict[str, Any] = {"processId": process_id}
    if str(kwargs.get("cwd", "")).startswith("file:"):  # a codex 0.171 request
        expected["sandboxType"] = "none"
    assert response == {"id": response["id"], "result": expected}, response


async def events_until_closed(wire: WireClient, process_id: str) -> list[Message]:
    """Every process event of ``process_id`` through ``closed``, in seq order.

    Delivery order may differ from seq order (codex sends from three tasks), so
    this waits until every seq from 1 to the closed event's seq has arrived.
    """

    def ours(message: Message) -> bool:
        return (
            message.get("method") in PROCESS_EVENTS
            and message["params"].get("processId") == process_id
        )

    by_seq: dict[int, Message] = {}
    closed_seq: int | None = None
    while closed_seq is None or len(by_seq) < closed_seq:
        message = await wire.next_notification(predicate=ours)
        seq = message["params"]["seq"]
        assert seq not in by_seq, f"seq {seq} sent twice: {by_seq[seq]} and {message}"
        by_seq[seq] = message
        if message["method"] == "process/closed":
            closed_seq = seq
    assert closed_seq is not None
    assert sorted(by_seq) == list(range(1, closed_seq + 1)), sorted(by_seq)
    return [by_seq[seq] for seq in sorted(by_seq)]


def output_of(events: list[Message], stream: str | None = None) -> bytes:
    """The concatenated output chunks (of one stream, if given)."""
    return b"".join(
        unb64(e["params"]["chunk"])
        for e in events
        if e["method"] == "process/output" and stream in (None, e["params"]["stream"])
    )


def exit_code_of(events: list[Message]) -> int:
    (exited,) = [e for e in events if e["method"] == "process/exited"]
    code = exited["params"]["exitCode"]
    assert isinstance(code, int)
    return code


async def run_to_close(
    wire: WireClient, process_id: str, argv: list[str], **kwargs: Any
) -> list[Message]:
    """Start a process and collect all its events."""
    await start(wire, process_id, argv, **kwargs)
    return await events_until_closed(wire, process_id)


def error(code: int, message: str) -> dict[str, Any]:
    return {"code": code, "message": message}


READ_EXTENSIONS = frozenset({"truncated", "exitSeq", "closedSeq"})
"""``process/read`` result fields execsrv adds (DESIGN.md §1.2)."""
EXITED_EXTENSIONS = frozenset({"signal"})
"""``process/exited`` fields execsrv adds (DESIGN.md §1.2)."""


def without_extensions(
    kind: str, params: dict[str, Any], extensions: frozenset[str]
) -> dict[str, Any]:
    """``params`` minus execsrv's additive fields, so both servers compare alike.

    DESIGN §1.2: extension fields are additive on output; codex never sends them.
    """
    if kind == "codex":
        assert not extensions & params.keys(), params
        return params
    return {k: v for k, v in params.items() if k not in extensions}


async def read(wire: WireClient, kind: str, process_id: str, **params: Any) -> dict[str, Any]:
    """``process/read`` and its result without execsrv's extension fields."""
    response = await wire.request("process/read", {"processId": process_id, **params})
    assert "result" in response, response
    return without_extensions(kind, response["result"], READ_EXTENSIONS)


def xfail_on_execsrv(request: Any, kind: str, reason: str) -> None:
    """Mark a known execsrv gap (not a DESIGN.md difference): strict, so a fix shows."""
    if kind == "execsrv":
        request.applymarker(pytest.mark.xfail(strict=True, reason=reason))


SANDBOX_UNSUPPORTED = (
    "sandboxed filesystem operations are not supported by execsrv: these permissions "
    "restrict the file system, and execsrv has no sandbox to enforce them"
)


async def rpc(wire: WireClient, method: str, params: Any) -> dict[str, Any]:
    """The response without its id: ``{"result": ...}`` or ``{"error": ...}``."""
    with trio.fail_after(WAIT):
        response = await wire.request(method, params)
    del response["id"]
    return response
