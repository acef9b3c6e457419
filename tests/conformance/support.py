"""Helpers shared by the conformance tests (plain dicts on the wire, no execsrv code).

Every helper that builds a request takes the protocol generation it speaks
(``Generation`` is only the name of one): paths are written by
:func:`wire_path`, writes carry a ``writeId`` in 0.171. Where the generations
answer differently, the tests branch on ``generation`` with a comment citing
``codex-exec-server-0.171.md``.
"""

from __future__ import annotations

import base64
import itertools
import os
import re
from typing import Any, Final

import pytest
import trio

from execsrv.protocol.generation import Generation

from ..conftest import CHILD_ENV
from ..fs.support import uri
from ..wire import Message, WireClient

V0_130: Final = Generation.V0_130
V0_171: Final = Generation.V0_171

PROCESS_EVENTS = frozenset({"process/output", "process/exited", "process/closed"})

WAIT = 15
"""Generous seconds for anything that should take milliseconds (2 slow cores)."""


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def wire_path(generation: Generation, path: str | os.PathLike[str]) -> str:
    """``path`` as ``generation`` writes one: a plain absolute path (0.130), or a
    ``file://`` URI with every byte but unreserved ASCII percent-encoded (0.171,
    codex-exec-server-0.171.md §2.3, §2.4)."""
    text = os.fspath(path)
    return uri(text) if generation is V0_171 else text


def start_params(
    generation: Generation,
    process_id: str,
    argv: list[str],
    *,
    cwd: str = "/",
    env: dict[str, str] | None = None,
    tty: bool = False,
    **extra: Any,
) -> dict[str, Any]:
    """``process/start`` params with the required fields filled in; ``cwd`` is a host
    path, written in the generation's form."""
    return {
        "processId": process_id,
        "argv": argv,
        "cwd": wire_path(generation, cwd),
        "env": dict(CHILD_ENV) if env is None else env,
        "tty": tty,
        **extra,
    }


START_0171_FIELDS: Final = frozenset({"sandboxType"})
"""``process/start`` result fields 0.171 added (checked in test_process_start)."""


async def start(
    wire: WireClient, generation: Generation, process_id: str, argv: list[str], **kwargs: Any
) -> None:
    """Start a process and insist that it started."""
    params = start_params(generation, process_id, argv, **kwargs)
    response = await wire.request("process/start", params)
    assert "result" in response, response
    assert response["result"]["processId"] == process_id, response
    assert response["result"].keys() <= {"processId"} | START_0171_FIELDS, response


_write_ids = itertools.count(1)


def write_params(generation: Generation, process_id: str, chunk: str) -> dict[str, Any]:
    """``process/write`` params; 0.171 requires a ``writeId`` (codex-exec-server-0.171.md
    §2.3), a fresh one per call here so no write is taken for a retry."""
    params = {"processId": process_id, "chunk": chunk}
    if generation is V0_171:
        params["writeId"] = f"w{next(_write_ids)}"
    return params


async def write(
    wire: WireClient, generation: Generation, process_id: str, data: bytes
) -> dict[str, Any]:
    """``process/write`` of ``data``: the whole response."""
    return await wire.request("process/write", write_params(generation, process_id, b64(data)))


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


def killed_exit_code(generation: Generation) -> int:
    """The exit code of a pipe-mode process SIGKILLed (``process/terminate`` too):
    -1 in 0.130, 128+9 in 0.171 (codex-exec-server-0.171.md §2.3)."""
    return -1 if generation is V0_130 else 137


def exit_code_of(events: list[Message]) -> int:
    (exited,) = [e for e in events if e["method"] == "process/exited"]
    code = exited["params"]["exitCode"]
    assert isinstance(code, int)
    return code


async def run_to_close(
    wire: WireClient, generation: Generation, process_id: str, argv: list[str], **kwargs: Any
) -> list[Message]:
    """Start a process and collect all its events."""
    await start(wire, generation, process_id, argv, **kwargs)
    return await events_until_closed(wire, process_id)


def error(code: int, message: str) -> dict[str, Any]:
    return {"code": code, "message": message}


STRUCTS_0171: Final = {
    "ExecParams": "WireExecParams",
    "FileSystemSandboxContext": "WireFileSystemSandboxContext",
    **{
        f"Fs{name}Params": f"WireFs{name}Params"
        for name in [
            "ReadFile",
            "WriteFile",
            "CreateDirectory",
            "GetMetadata",
            "ReadDirectory",
            "Remove",
            "Copy",
        ]
    },
}
"""The params structs 0.171 names as its ``Wire*`` types (measured on 0.171.0)."""

_NUMBER_0171 = re.compile(r"invalid type: (?:integer|floating point) `[^`]*`, expected")
_INTEGER_0171 = re.compile(
    r"invalid (?:value|type): (?:integer|floating point) `[^`]*`, expected (?:u64|usize)"
)


def in_0171(message: str) -> str:
    """0.130's -32602 ``message`` as 0.171 words it (measured on 0.171.0 for issue 10):
    a number is ``number`` without its value; a negative, fractional or oversized
    integer is ``invalid number``; a path is ``a string`` (a PathUri), and a plain
    relative one is not a URI; some structs are its ``Wire*`` types. Field counts
    and sandbox profiles differ case by case: those cases say 0.171's text."""
    if _INTEGER_0171.fullmatch(message):
        return "invalid number"
    message = _NUMBER_0171.sub("invalid type: number, expected", message)
    message = message.replace("expected path string", "expected a string")
    if message == "AbsolutePathBuf deserialized without a base path":
        return "invalid URI: relative URL without a base"
    for name, wire_name in STRUCTS_0171.items():
        message = message.replace(f"struct {name}", f"struct {wire_name}")
    return message


def assert_invalid_params(
    generation: Generation, response: Message, message: str, v0171: str | None = None
) -> None:
    """``response`` is ``-32602`` with serde's ``message`` as ``generation`` words it:
    ``message`` is 0.130's; 0.171's is ``v0171`` if given, else :func:`in_0171` of it."""
    assert "error" in response, response
    if generation is V0_171:
        message = in_0171(message) if v0171 is None else v0171
    assert response["error"] == error(-32602, message), response


READ_EXTENSIONS = frozenset({"truncated", "exitSeq", "closedSeq"})
"""``process/read`` result fields execsrv adds (DESIGN.md §1.2)."""
EXITED_EXTENSIONS = frozenset({"signal"})
"""``process/exited`` fields execsrv adds (DESIGN.md §1.2)."""
ENVIRONMENT_INFO_FIELDS: Final = frozenset({"environmentInfo"})
"""The ``initialize`` result field 0.171 added (codex-exec-server-0.171.md §3.1)."""
SANDBOX_DENIED: Final = frozenset({"sandboxDenied"})
"""The ``process/read`` and ``process/exited`` field 0.171 added
(codex-exec-server-0.171.md §2.3); its own test is in test_process_read."""


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


def without_added_fields(
    generation: Generation, kind: str, params: dict[str, Any], fields: frozenset[str]
) -> dict[str, Any]:
    """``params`` minus result ``fields`` 0.171 added, which their own tests check.

    codex 0.130 never sends them; execsrv may send them to a 0.130 client too
    (unknown fields are ignored there).
    """
    if generation is V0_130 and kind == "codex":
        assert not fields & params.keys(), params
    return {k: v for k, v in params.items() if k not in fields}


async def read(
    wire: WireClient, generation: Generation, kind: str, process_id: str, **params: Any
) -> dict[str, Any]:
    """``process/read`` and its result without execsrv's extension fields and
    ``sandboxDenied`` (see :data:`SANDBOX_DENIED`)."""
    response = await wire.request("process/read", {"processId": process_id, **params})
    assert "result" in response, response
    result = without_extensions(kind, response["result"], READ_EXTENSIONS)
    return without_added_fields(generation, kind, result, SANDBOX_DENIED)


def xfail_on_execsrv(request: Any, kind: str, reason: str) -> None:
    """Mark a known execsrv gap (not a DESIGN.md difference): strict, so a fix shows."""
    if kind == "execsrv":
        request.applymarker(pytest.mark.xfail(strict=True, reason=reason))


# Features of issue 10 that execsrv does not have yet; each name is one pending() reason.


def pending(request: Any, kind: str, generation: Generation, feature: str) -> None:
    """Mark a 0.171 case execsrv fails until ``feature`` of issue 10 lands: strict,
    so the mark must go when the feature merges."""
    if kind == "execsrv" and generation is V0_171:
        request.applymarker(pytest.mark.xfail(strict=True, reason=f"issue 10: pending {feature}"))


SANDBOX_UNSUPPORTED = (
    "sandboxed filesystem operations are not supported by execsrv: these permissions "
    "restrict the file system, and execsrv has no sandbox to enforce them"
)


PATH_KEYS: Final = frozenset({"path", "sourcePath", "destinationPath", "cwd"})


def paths_in_form(generation: Generation, params: Any) -> Any:
    """``params`` with every absolute path under a path key (``path``, ``cwd``, ... at
    any depth) written by :func:`wire_path`; relative and odd values stay as given."""
    if isinstance(params, list):
        return [paths_in_form(generation, item) for item in params]
    if not isinstance(params, dict):
        return params
    return {
        key: wire_path(generation, value)
        if key in PATH_KEYS and isinstance(value, str) and value.startswith("/")
        else paths_in_form(generation, value)
        for key, value in params.items()
    }


async def rpc_as(
    wire: WireClient, generation: Generation, method: str, params: Any
) -> dict[str, Any]:
    """:func:`rpc` with the paths of ``params`` in the generation's form."""
    return await rpc(wire, method, paths_in_form(generation, params))


async def rpc(wire: WireClient, method: str, params: Any) -> dict[str, Any]:
    """The response without its id: ``{"result": ...}`` or ``{"error": ...}``."""
    with trio.fail_after(WAIT):
        response = await wire.request(method, params)
    del response["id"]
    return response
