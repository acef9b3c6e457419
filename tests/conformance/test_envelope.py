"""The JSON-RPC envelope (spec §1.4) and connection-level errors (§1.6)."""

from __future__ import annotations

import json

import pytest
import trio

from execsrv.protocol.generation import Generation

from ..servers import ServerKind
from ..wire import WireClient
from .support import (
    V0_130,
    V0_171,
    WAIT,
    error,
    run_to_close,
    xfail_on_execsrv,
)

PARSE_PREFIX = "failed to parse websocket JSON-RPC message from exec-server websocket"
NO_VARIANT = "data did not match any variant of untagged enum JSONRPCMessage"
I64_MAX = 2**63 - 1
I64_MIN = -(2**63)
BAD_ID = "data did not match any variant of untagged enum RequestId"


def parse_error_prefix(client: WireClient) -> str:
    """The reference names the peer (us) as ``ip:port`` in parse errors."""
    local = client.websocket.local
    return f"{PARSE_PREFIX} {local.address}:{local.port}: "


async def assert_still_open(client: WireClient) -> None:
    """The connection keeps working after the error (a harmless unknown-method call)."""
    response = await client.request("still/open", {}, id="probe")
    assert response == {
        "error": error(-32601, "exec-server stub does not implement `still/open` yet"),
        "id": "probe",
    }


# -- replies -----------------------------------------------------------------


async def test_replies_have_no_jsonrpc_member(wire: WireClient, generation: Generation) -> None:
    with trio.fail_after(WAIT):
        events = await run_to_close(wire, generation, "p", ["sh", "-c", "echo hi"])
        ok = await wire.request("process/read", {"processId": "p"})
        failed = await wire.request("process/read", {"processId": "nope"})
    for message in [*events, ok, failed]:
        assert "jsonrpc" not in message
    assert set(ok) == {"id", "result"}
    # error.data is omitted, never null.
    assert failed == {"error": error(-32600, "unknown process id nope"), "id": failed["id"]}
    for event in events:
        assert set(event) == {"method", "params"}


async def test_compact_text_frames(wire: WireClient) -> None:
    """One compact JSON message per text frame."""
    await wire.send({"id": 1, "method": "process/terminate", "params": {"processId": "p"}})
    with trio.fail_after(WAIT):
        frame = await wire.websocket.get_message()
    assert isinstance(frame, str)
    assert frame == '{"id":1,"result":{"running":false}}'


@pytest.mark.parametrize("jsonrpc", ["2.0", "1.0", 2, None, {"x": 1}])
async def test_incoming_jsonrpc_member_is_ignored(raw: WireClient, jsonrpc: object) -> None:
    await raw.send(
        {"jsonrpc": jsonrpc, "id": 1, "method": "initialize", "params": {"clientName": "x"}}
    )
    await raw.send({"jsonrpc": jsonrpc, "method": "initialized"})
    await raw.send(
        {"jsonrpc": jsonrpc, "id": 2, "method": "process/terminate", "params": {"processId": "p"}}
    )
    with trio.fail_after(WAIT):
        assert "sessionId" in (await raw.response(1))["result"]
        assert await raw.response(2) == {"id": 2, "result": {"running": False}}


async def test_unknown_envelope_members_are_ignored(wire: WireClient) -> None:
    await wire.send(
        {
            "id": 9,
            "method": "process/terminate",
            "params": {"processId": "p"},
            "trace": {"traceparent": "00-x"},
            "extra": [1, 2],
        }
    )
    with trio.fail_after(WAIT):
        assert await wire.response(9) == {"id": 9, "result": {"running": False}}


@pytest.mark.parametrize("request_id", [0, 7, -5, I64_MAX, I64_MIN, "abc", "", "1", "ü 🙂", " 7 "])
async def test_request_ids_are_echoed_unchanged(wire: WireClient, request_id: int | str) -> None:
    with trio.fail_after(WAIT):
        ok = await wire.request("process/terminate", {"processId": "p"}, id=request_id)
        failed = await wire.request("process/read", {"processId": "p"}, id=request_id)
    assert ok == {"id": request_id, "result": {"running": False}}
    assert failed == {"error": error(-32600, "unknown process id p"), "id": request_id}


@pytest.mark.parametrize("raw_id", ["7.5", "null", "1.0", str(I64_MAX + 1), "true", "[1]", "{}"])
async def test_request_with_invalid_id(
    wire: WireClient,
    kind: ServerKind,
    generation: Generation,
    request: pytest.FixtureRequest,
    raw_id: str,
) -> None:
    """0.130: not a Request, so it parses as a Notification; ``process/read`` is not one."""
    await wire.send(f'{{"id":{raw_id},"method":"process/read","params":{{"processId":"p"}}}}')
    with trio.fail_after(WAIT):
        if generation is V0_171:
            # codex-exec-server-0.171.md §2.1: 0.171 answers a parse error and stays open.
            reply = await wire.recv()
            assert reply == {"error": error(-32600, parse_error_prefix(wire) + BAD_ID), "id": -1}
            await assert_still_open(wire)
            return
        await wire.wait_closed()
    assert wire.responses == {}


@pytest.mark.parametrize("raw_id", ["null", "7.5"])
async def test_initialized_with_invalid_id(
    raw: WireClient,
    kind: ServerKind,
    generation: Generation,
    request: pytest.FixtureRequest,
    raw_id: str,
) -> None:
    """0.130: the same fall-through makes ``{"id":null,"method":"initialized"}`` count."""
    with trio.fail_after(WAIT):
        await raw.request("initialize", {"clientName": "x"})
        await raw.send(f'{{"id":{raw_id},"method":"initialized"}}')
        if generation is V0_171 and kind == "codex":
            # codex-exec-server-0.171.md §2.1: a parse error in 0.171, so it does not count.
            # execsrv cannot tell a 0.171 client before its first 0.171 request (protocol.md
            # Generations): right after initialize it still answers as 0.130.
            response = await raw.request("process/terminate", {"processId": "p"})
            assert response["error"] == error(
                -32600, "client must send initialized before using exec methods"
            )
            parse_error = error(-32600, parse_error_prefix(raw) + BAD_ID)
            assert raw.responses == {-1: {"error": parse_error, "id": -1}}
            return
        response = await raw.request("process/terminate", {"processId": "p"})
    assert response["result"] == {"running": False}
    assert raw.responses == {}


@pytest.mark.parametrize("params", [..., None])
async def test_missing_and_null_params_decode_as_null(wire: WireClient, params: object) -> None:
    with trio.fail_after(WAIT):
        response = await wire.request("process/read", params)
    assert response["error"] == error(-32602, "invalid type: null, expected struct ReadParams")


async def test_empty_object_params_report_the_missing_field(wire: WireClient) -> None:
    with trio.fail_after(WAIT):
        response = await wire.request("process/read", {})
    assert response["error"] == error(-32602, "missing field `processId`")


async def test_array_params(wire: WireClient) -> None:
    with trio.fail_after(WAIT):
        response = await wire.request("process/read", [])
    assert response["error"] == error(
        -32602, "invalid length 0, expected struct ReadParams with 4 elements"
    )


async def test_unknown_params_fields_are_ignored(wire: WireClient) -> None:
    with trio.fail_after(WAIT):
        response = await wire.request(
            "process/terminate", {"processId": "p", "unknownField": 1, "sandbox": None}
        )
    assert response["result"] == {"running": False}


# -- malformed frames (§1.6) --------------------------------------------------


NOT_AN_OBJECT = "expected a JSON-RPC object"
NO_ERROR = "missing field `error`"


@pytest.mark.parametrize(
    ("frame", "text_0171"),
    [
        ("[]", NOT_AN_OBJECT),
        ('[{"id":1,"method":"process/terminate","params":{"processId":"p"}}]', NOT_AN_OBJECT),
        ('{"foo":1}', NO_ERROR),
        ("{}", NO_ERROR),
        ('{"id":1}', NO_ERROR),
        ('{"id":1,"method":5}', "invalid type: number, expected a string"),
        ('"text"', NOT_AN_OBJECT),
        ("42", NOT_AN_OBJECT),
        ("null", NOT_AN_OBJECT),
    ],
)
async def test_frame_matching_no_envelope(
    wire: WireClient, generation: Generation, frame: str, text_0171: str
) -> None:
    await wire.send(frame)
    # codex-exec-server-0.171.md §2.1: 0.171 names what is wrong; 0.130 has one text.
    text = NO_VARIANT if generation is V0_130 else text_0171
    with trio.fail_after(WAIT):
        reply = await wire.recv()
        assert reply == {"error": error(-32600, parse_error_prefix(wire) + text), "id": -1}
        await assert_still_open(wire)


@pytest.mark.parametrize("frame", ["not json", "", "{", '{"id":1,"method":"x"} x', "{'a':1}"])
async def test_frame_that_is_not_json(wire: WireClient, frame: str) -> None:
    await wire.send(frame)
    with trio.fail_after(WAIT):
        reply = await wire.recv()
        assert set(reply) == {"error", "id"}
        assert reply["id"] == -1
        assert reply["error"]["code"] == -32600
        assert reply["error"]["message"].startswith(parse_error_prefix(wire))
        await assert_still_open(wire)


@pytest.mark.parametrize(
    ("frame", "serde_error"),
    [
        ("not json", "expected ident at line 1 column 2"),
        ("", "EOF while parsing a value at line 1 column 0"),
        ('{"id":1,"method":"x"} x', "trailing characters at line 1 column 23"),
    ],
)
async def test_syntax_error_text_is_serde_json(
    wire: WireClient,
    kind: ServerKind,
    request: pytest.FixtureRequest,
    frame: str,
    serde_error: str,
) -> None:
    xfail_on_execsrv(request, kind, "execsrv reports msgspec's syntax error text, not serde_json's")
    await wire.send(frame)
    with trio.fail_after(WAIT):
        reply = await wire.recv()
    assert reply["error"]["message"] == parse_error_prefix(wire) + serde_error


async def test_malformed_frames_before_initialize_keep_the_connection(raw: WireClient) -> None:
    for frame in ["not json", "[]", '{"foo":1}']:
        await raw.send(frame)
        with trio.fail_after(WAIT):
            reply = await raw.recv()
        assert reply["id"] == -1
        assert reply["error"]["code"] == -32600
    with trio.fail_after(WAIT):
        await raw.handshake()
        assert (await raw.request("process/terminate", {"processId": "p"}))["result"] == {
            "running": False
        }


async def test_binary_frame_with_json_is_processed(raw: WireClient) -> None:
    await raw.send_binary({"id": 1, "method": "initialize", "params": {"clientName": "bin"}})
    await raw.send_binary({"method": "initialized"})
    await raw.send_binary({"id": 2, "method": "process/terminate", "params": {"processId": "p"}})
    with trio.fail_after(WAIT):
        assert "sessionId" in (await raw.response(1))["result"]
        assert await raw.response(2) == {"id": 2, "result": {"running": False}}
        await raw.send_binary(b"not json")
        reply = await raw.recv()
    assert reply["id"] == -1
    assert reply["error"]["message"].startswith(parse_error_prefix(raw))


# -- unknown methods and unexpected messages ---------------------------------


@pytest.mark.parametrize(
    "method",
    [
        "foo/bar",
        "",
        "initialized",  # a notification name sent as a request
        "process/output",
        "process/exited",
        "fs/join",  # absent in 0.130 and 0.171 (fs/canonicalize is a 0.171 method)
        "process/resolveApproval",
        "Process/Start",
    ],
)
async def test_unknown_method(wire: WireClient, method: str) -> None:
    with trio.fail_after(WAIT):
        response = await wire.request(method, {})
    assert response == {
        "error": error(-32601, f"exec-server stub does not implement `{method}` yet"),
        "id": response["id"],
    }


async def test_environment_info_is_a_0171_method(
    wire: WireClient, kind: ServerKind, generation: Generation, request: pytest.FixtureRequest
) -> None:
    with trio.fail_after(WAIT):
        response = await wire.request("environment/info", {})
    if generation is V0_171:
        # codex-exec-server-0.171.md §3.1: a 0.171 method.
        assert set(response["result"]) >= {"shell", "cwd", "platformOs", "capabilities"}
    elif kind == "codex":
        assert response["error"] == error(
            -32601, "exec-server stub does not implement `environment/info` yet"
        )


async def test_unknown_method_before_initialize(raw: WireClient) -> None:
    with trio.fail_after(WAIT):
        response = await raw.request("foo/bar")
    assert response["error"] == error(-32601, "exec-server stub does not implement `foo/bar` yet")


@pytest.mark.parametrize("method", ["foo/bar", "process/read", "initialize", "process/output"])
async def test_unexpected_notification_closes(wire: WireClient, method: str) -> None:
    await wire.notify(method, {"processId": "p"})
    with trio.fail_after(WAIT):
        await wire.wait_closed()
    assert wire.responses == {}


async def test_unexpected_notification_closes_before_initialize(raw: WireClient) -> None:
    await raw.notify("foo/bar", {})
    with trio.fail_after(WAIT):
        await raw.wait_closed()
    assert raw.responses == {}


@pytest.mark.parametrize(
    "message",
    [
        {"id": 1, "result": {}},
        {"id": "x", "result": None},
        {"id": 1, "error": {"code": -32600, "message": "no"}},
        {"id": 1, "error": {"code": 1, "message": "m", "data": [1]}},
    ],
)
async def test_client_responses_close(wire: WireClient, message: dict[str, object]) -> None:
    await wire.send(json.dumps(message))
    with trio.fail_after(WAIT):
        await wire.wait_closed()
    assert wire.responses == {}
