"""Invalid params: -32602 with serde's message verbatim (spec §3, §4)."""

from __future__ import annotations

from typing import Any

import pytest
import trio

from execsrv.protocol.generation import Generation

from ..servers import ServerKind
from ..wire import WireClient
from .support import (
    V0_130,
    V0_171,
    WAIT,
    assert_invalid_params,
    error,
    start_params,
    wire_path,
    write_params,
    xfail_on_execsrv,
)

POLICY = {
    "inherit": "none",
    "ignoreDefaultExcludes": False,
    "exclude": [],
    "set": {},
    "includeOnly": [],
}


def without(params: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in params.items() if k != key}


START = start_params(V0_130, "p", ["true"])


def in_generation(generation: Generation, method: str, params: Any) -> Any:
    """A case's params as ``generation`` writes them: its cwd a URI and its write with
    a ``writeId`` in 0.171, so only the field under test is wrong."""
    if generation is V0_130 or not isinstance(params, dict):
        return params
    if method == "process/start" and params.get("cwd") == START["cwd"]:
        return {**params, "cwd": wire_path(generation, START["cwd"])}
    if method == "process/write" and "writeId" not in params:
        return {**params, "writeId": "w"}
    return params


CASES: list[tuple[str, Any, str]] = [
    # initialize
    ("initialize", {}, "missing field `clientName`"),
    ("initialize", {"clientName": 5}, "invalid type: integer `5`, expected a string"),
    ("initialize", None, "invalid type: null, expected struct InitializeParams"),
    (
        "initialize",
        {"clientName": "x", "resumeSessionId": 5},
        "invalid type: integer `5`, expected a string",
    ),
    # process/start
    ("process/start", without(START, "processId"), "missing field `processId`"),
    ("process/start", without(START, "argv"), "missing field `argv`"),
    ("process/start", without(START, "cwd"), "missing field `cwd`"),
    ("process/start", without(START, "env"), "missing field `env`"),
    ("process/start", without(START, "tty"), "missing field `tty`"),
    ("process/start", {**START, "processId": 5}, "invalid type: integer `5`, expected a string"),
    ("process/start", {**START, "argv": []}, "argv must not be empty"),
    ("process/start", {**START, "argv": ["a", 1]}, "invalid type: integer `1`, expected a string"),
    ("process/start", {**START, "argv": "ls"}, 'invalid type: string "ls", expected a sequence'),
    ("process/start", {**START, "cwd": 5}, "invalid type: integer `5`, expected path string"),
    ("process/start", {**START, "env": {"A": 1}}, "invalid type: integer `1`, expected a string"),
    ("process/start", {**START, "env": None}, "invalid type: null, expected a map"),
    ("process/start", {**START, "tty": "yes"}, 'invalid type: string "yes", expected a boolean'),
    ("process/start", {**START, "pipeStdin": None}, "invalid type: null, expected a boolean"),
    ("process/start", {**START, "arg0": 5}, "invalid type: integer `5`, expected a string"),
    (
        "process/start",
        {**START, "envPolicy": {**POLICY, "inherit": "bogus"}},
        "unknown variant `bogus`, expected one of `core`, `all`, `none`",
    ),
    (
        "process/start",
        {**START, "envPolicy": {**POLICY, "inherit": 5}},
        "invalid type: integer `5`, expected string or map",
    ),
    ("process/start", {**START, "envPolicy": {}}, "missing field `inherit`"),
    (
        "process/start",
        {**START, "envPolicy": without(POLICY, "includeOnly")},
        "missing field `includeOnly`",
    ),
    (
        "process/start",
        {**START, "envPolicy": 5},
        "invalid type: integer `5`, expected struct ExecEnvPolicy",
    ),
    ("process/start", None, "invalid type: null, expected struct ExecParams"),
    # process/read
    ("process/read", None, "invalid type: null, expected struct ReadParams"),
    ("process/read", [], "invalid length 0, expected struct ReadParams with 4 elements"),
    ("process/read", ["p"], "invalid length 1, expected struct ReadParams with 4 elements"),
    (
        "process/read",
        {"processId": "p", "afterSeq": -1},
        "invalid value: integer `-1`, expected u64",
    ),
    ("process/read", {"processId": "p", "waitMs": -1}, "invalid value: integer `-1`, expected u64"),
    (
        "process/read",
        {"processId": "p", "maxBytes": -1},
        "invalid value: integer `-1`, expected usize",
    ),
    (
        "process/read",
        {"processId": "p", "afterSeq": 1.5},
        "invalid type: floating point `1.5`, expected u64",
    ),
    ("process/read", {"processId": "p", "afterSeq": "1"}, 'invalid type: string "1", expected u64'),
    ("process/read", {"processId": 5}, "invalid type: integer `5`, expected a string"),
    # process/write
    ("process/write", {"processId": "p"}, "missing field `chunk`"),
    ("process/write", {"processId": "p", "chunk": "!!!!"}, "Invalid symbol 33, offset 0."),
    ("process/write", {"processId": "p", "chunk": "aGk!"}, "Invalid symbol 33, offset 3."),
    *[
        ("process/write", {"processId": "p", "chunk": chunk}, message)
        for chunk, message in [
            ("aGkK=", "Invalid symbol 61, offset 4."),
            ("a", "Invalid input length: 1"),
            ("aGkKa", "Invalid input length: 5"),
            ("aGk", "Invalid padding"),
            ("aGk=aGk=", "Invalid symbol 61, offset 3."),
            ("aG=k", "Invalid symbol 61, offset 2."),
            ("!aaa!", "Invalid symbol 33, offset 4."),
            ("aGkKaG==x", "Invalid symbol 61, offset 6."),
            ("aGkKa===", "Invalid symbol 61, offset 5."),
            ("a===", "Invalid symbol 61, offset 1."),
            ("=aGk", "Invalid symbol 61, offset 0."),
            ("aGkK aGk=", "Invalid symbol 32, offset 4."),
            ("aGkK\n", "Invalid symbol 10, offset 4."),
            ("é", "Invalid symbol 195, offset 0."),
            ("aGkK-_==", "Invalid symbol 45, offset 4."),
        ]
    ],
    (
        "process/write",
        {"processId": "p", "chunk": 5},
        "invalid type: integer `5`, expected a string",
    ),
    ("process/write", {"processId": "p", "chunk": None}, "invalid type: null, expected a string"),
    # process/terminate
    ("process/terminate", {}, "missing field `processId`"),
    ("process/terminate", {"processId": None}, "invalid type: null, expected a string"),
    ("process/terminate", None, "invalid type: null, expected struct TerminateParams"),
]


@pytest.mark.parametrize(
    ("method", "params", "message"),
    CASES,
    ids=[f"{m}-{i}" for i, (m, _, _) in enumerate(CASES)],
)
async def test_invalid_params(
    wire: WireClient, generation: Generation, method: str, params: Any, message: str
) -> None:
    with trio.fail_after(WAIT):
        response = await wire.request(method, in_generation(generation, method, params))
    assert_invalid_params(generation, response, message)


SEQ_FORM = "execsrv does not decode params given as a JSON array (serde's struct-as-sequence form)"


SEQUENCES_0171 = {
    "process/write": ("", "invalid length 2, expected struct WriteParams with 3 elements"),
    "process/start": (
        "invalid length 0, expected struct WireExecParams with 14 elements",
        "invalid character: expected an optional prefix of `urn:uuid:` followed by "
        "[0-9a-fA-F-], found `t` at 1",
    ),
}
"""0.171's texts for the arrays below: (empty, not empty)."""


@pytest.mark.parametrize(
    ("method", "params", "expected"),
    [
        ("process/read", ["nope", None, None, None], error(-32600, "unknown process id nope")),
        ("process/terminate", ["nope"], {"running": False}),
        ("process/write", ["nope", "aGk="], {"status": "unknownProcess"}),
        (
            "process/read",
            ["nope", None, None, None, 5],
            error(-32602, "invalid length 5, expected fewer elements in array"),
        ),
        # The reference's ExecParams has 8 fields (execsrv's extensions are not counted),
        # in the order processId, argv, cwd, envPolicy, env, tty, pipeStdin, arg0.
        (
            "process/start",
            [],
            error(-32602, "invalid length 0, expected struct ExecParams with 8 elements"),
        ),
        (
            "process/start",
            ["p", ["true"], "/", {}, {}, False],
            error(-32602, "missing field `inherit`"),
        ),
    ],
)
async def test_params_as_a_sequence(
    wire: WireClient,
    kind: ServerKind,
    request: pytest.FixtureRequest,
    generation: Generation,
    method: str,
    params: list[Any],
    expected: dict[str, Any],
) -> None:
    """serde also accepts a struct as the array of its fields, in declaration order."""
    if generation is V0_171 and method in SEQUENCES_0171:
        # 0.171's structs have more fields (codex-exec-server-0.171.md §2.3 for writeId),
        # in its own order (measured on 0.171.0).
        expected = error(-32602, SEQUENCES_0171[method][len(params) > 0])
    if generation is V0_130 or (params and method != "process/write"):
        # In 0.171 execsrv words a too short array as serde does ([] and the write).
        xfail_on_execsrv(request, kind, SEQ_FORM)
    with trio.fail_after(WAIT):
        response = await wire.request(method, params)
    if expected.get("code") == -32602:
        assert_invalid_params(generation, response, expected["message"])
    else:
        assert response.get("result", response.get("error")) == expected


async def test_initialize_params_as_a_sequence(
    raw: WireClient, kind: ServerKind, request: pytest.FixtureRequest
) -> None:
    """``resumeSessionId`` has a serde default, so a one-element array is complete."""
    xfail_on_execsrv(request, kind, SEQ_FORM)
    with trio.fail_after(WAIT):
        response = await raw.request("initialize", ["x"])
    assert "sessionId" in response["result"]


@pytest.mark.parametrize("chunk", ["aGl=", "aG=="])
async def test_base64_with_trailing_bits_is_rejected(
    wire: WireClient,
    kind: ServerKind,
    request: pytest.FixtureRequest,
    chunk: str,
    generation: Generation,
) -> None:
    """The base64 crate rejects non-canonical input whose unused low bits are not zero."""
    xfail_on_execsrv(request, kind, "msgspec accepts base64 with non-zero trailing bits")
    symbol = chunk.rstrip("=")[-1]
    with trio.fail_after(WAIT):
        response = await wire.request("process/write", write_params(generation, "p", chunk))
    offset = len(chunk.rstrip("=")) - 1
    assert_invalid_params(
        generation, response, f"Invalid last symbol {ord(symbol)}, offset {offset}."
    )


async def test_u64_beyond_range(wire: WireClient, generation: Generation) -> None:
    """serde_json reads an integer above u64::MAX as a float, printed by ryu (``e+19``)."""
    with trio.fail_after(WAIT):
        at_max = await wire.request("process/read", {"processId": "p", "afterSeq": 2**64 - 1})
        beyond = await wire.request("process/read", {"processId": "p", "afterSeq": 2**64})
    assert at_max["error"] == error(-32600, "unknown process id p")
    assert_invalid_params(
        generation, beyond, "invalid type: floating point `1.8446744073709552e+19`, expected u64"
    )


@pytest.mark.parametrize(
    ("literal", "printed"),
    [
        ("1.5", "1.5"),
        ("-0.0", "-0.0"),
        ("0.00001", "0.00001"),
        ("1e-6", "1e-6"),
        ("5e-324", "5e-324"),
        ("1e15", "1000000000000000.0"),
        ("1e16", "1e+16"),
        ("1.25e17", "1.25e+17"),
        ("99999999999999999999999", "1e+23"),
        ("1.7976931348623157e308", "1.7976931348623157e+308"),
    ],
)
async def test_floats_are_printed_as_the_reference_prints_them(
    wire: WireClient,
    literal: str,
    printed: str,
    generation: Generation,
) -> None:
    """Plain notation from 1e-5 to below 1e16, else the shortest digits with ``e+N``."""
    frame = (
        '{"jsonrpc":"2.0","id":7,"method":"process/read",'
        f'"params":{{"processId":"p","afterSeq":{literal}}}}}'
    )
    with trio.fail_after(WAIT):
        await wire.send(frame)
        response = await wire.response(7)
    assert_invalid_params(
        generation, response, f"invalid type: floating point `{printed}`, expected u64"
    )


async def test_empty_chunk_is_a_valid_write(wire: WireClient, generation: Generation) -> None:
    with trio.fail_after(WAIT):
        response = await wire.request("process/write", write_params(generation, "p", ""))
    assert response["result"] == {"status": "unknownProcess"}
