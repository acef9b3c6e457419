"""Handshake and connection state machine (spec §2)."""

from __future__ import annotations

import uuid

import pytest
import trio

from execsrv.protocol.generation import Generation

from ..servers import ServerKind
from ..wire import WireClient, open_wire
from .support import (
    ENVIRONMENT_INFO_FIELDS,
    V0_130,
    V0_171,
    WAIT,
    error,
    start_params,
    without_added_fields,
    write_params,
)

EXEC_METHODS = ["process/start", "process/read", "process/write", "process/terminate"]


def exec_params(generation: Generation, method: str) -> dict[str, object]:
    """Valid params of an exec method, in the generation's form."""
    return {
        "process/start": start_params(generation, "p", ["true"]),
        "process/read": {"processId": "p"},
        "process/write": write_params(generation, "p", ""),
        "process/terminate": {"processId": "p"},
    }[method]


def assert_uuid4(session_id: object) -> None:
    assert isinstance(session_id, str)
    parsed = uuid.UUID(session_id)
    assert parsed.version == 4
    assert str(parsed) == session_id


async def test_initialize_returns_a_fresh_uuid4_session(
    url: str, kind: ServerKind, generation: Generation, request: pytest.FixtureRequest
) -> None:
    async with open_wire(url) as first, open_wire(url) as second:
        with trio.fail_after(WAIT):
            one = await first.request("initialize", {"clientName": "a"})
            two = await second.request("initialize", {"clientName": ""})  # "" is fine
        assert set(one) == {"id", "result"}
        if generation is V0_171:
            # codex-exec-server-0.171.md §2.2, §3.1: 0.171 describes the executor too.
            assert set(one["result"]) == {"sessionId", "environmentInfo"}
        else:
            result = without_added_fields(generation, kind, one["result"], ENVIRONMENT_INFO_FIELDS)
            assert set(result) == {"sessionId"}
        assert_uuid4(one["result"]["sessionId"])
        assert_uuid4(two["result"]["sessionId"])
        assert one["result"]["sessionId"] != two["result"]["sessionId"]


@pytest.mark.parametrize("method", EXEC_METHODS)
async def test_exec_methods_before_initialize(
    raw: WireClient, method: str, generation: Generation
) -> None:
    with trio.fail_after(WAIT):
        response = await raw.request(method, exec_params(generation, method))
    assert response == {
        "error": error(-32600, "client must call initialize before using exec methods"),
        "id": 1,
    }


@pytest.mark.parametrize("method", EXEC_METHODS)
async def test_exec_methods_before_initialized(
    raw: WireClient, method: str, generation: Generation
) -> None:
    with trio.fail_after(WAIT):
        await raw.request("initialize", {"clientName": "x"})
        response = await raw.request(method, exec_params(generation, method))
        assert response["error"] == error(
            -32600, "client must send initialized before using exec methods"
        )
        # ... and once initialized arrives the same call goes through.
        await raw.notify("initialized", {})
        response = await raw.request("process/terminate", {"processId": "p"})
    assert response["result"] == {"running": False}


@pytest.mark.parametrize(
    ("method", "family"),
    [("environment/info", "environment info"), ("environment/status", "environment status")],
)
async def test_0171_methods_before_initialize(
    raw: WireClient,
    kind: ServerKind,
    generation: Generation,
    request: pytest.FixtureRequest,
    method: str,
    family: str,
) -> None:
    """codex-exec-server-0.171.md §2.1: 0.171's new methods have gate families of their own."""
    if generation is V0_130:
        pytest.skip("0.171 methods")
    with trio.fail_after(WAIT):
        response = await raw.request(method, None)
    message = f"client must call initialize before using {family} methods"
    assert response == {"error": error(-32600, message), "id": 1}


async def test_bad_params_checked_before_the_handshake_state(raw: WireClient) -> None:
    """Params are decoded first: -32602 wins over 'must call initialize'."""
    with trio.fail_after(WAIT):
        response = await raw.request("process/read", {})
    assert response["error"] == error(-32602, "missing field `processId`")


async def test_initialize_twice(wire: WireClient) -> None:
    with trio.fail_after(WAIT):
        response = await wire.request("initialize", {"clientName": "again"})
        assert response["error"] == error(-32600, "initialize may only be sent once per connection")
        # The connection and its session still work.
        response = await wire.request("process/terminate", {"processId": "p"})
    assert response["result"] == {"running": False}


async def test_initialize_twice_before_initialized(raw: WireClient) -> None:
    with trio.fail_after(WAIT):
        assert "result" in await raw.request("initialize", {"clientName": "x"})
        response = await raw.request("initialize", {"clientName": "x"})
    assert response["error"] == error(-32600, "initialize may only be sent once per connection")


async def test_failed_resume_allows_a_retry(raw: WireClient) -> None:
    unknown = str(uuid.uuid4())
    with trio.fail_after(WAIT):
        response = await raw.request("initialize", {"clientName": "x", "resumeSessionId": unknown})
        assert response["error"] == error(-32600, f"unknown session id {unknown}")
        response = await raw.request("initialize", {"clientName": "x", "resumeSessionId": None})
        assert_uuid4(response["result"]["sessionId"])
        await raw.notify("initialized")
        response = await raw.request("process/terminate", {"processId": "p"})
    assert response["result"] == {"running": False}


async def test_invalid_initialize_params_allow_a_retry(raw: WireClient) -> None:
    with trio.fail_after(WAIT):
        response = await raw.request("initialize", {})
        assert response["error"] == error(-32602, "missing field `clientName`")
        response = await raw.request("initialize", {"clientName": "x"})
    assert_uuid4(response["result"]["sessionId"])


async def test_initialized_before_initialize_closes(raw: WireClient) -> None:
    with trio.fail_after(WAIT):
        await raw.notify("initialized", {})
        await raw.wait_closed()
    assert raw.responses == {}
    assert raw.notifications == []


async def test_initialized_after_failed_initialize_closes(raw: WireClient) -> None:
    """A failed initialize resets the flag, so ``initialized`` is premature again."""
    with trio.fail_after(WAIT):
        response = await raw.request(
            "initialize", {"clientName": "x", "resumeSessionId": str(uuid.uuid4())}
        )
        assert response["error"]["code"] == -32600
        await raw.notify("initialized", {})
        await raw.wait_closed()


async def test_repeated_initialized_is_accepted(wire: WireClient) -> None:
    with trio.fail_after(WAIT):
        await wire.notify("initialized", {})
        await wire.notify("initialized", {})
        response = await wire.request("process/terminate", {"processId": "p"})
    assert response == {"id": 2, "result": {"running": False}}


@pytest.mark.parametrize("params", [..., None, {}, [1, 2], 5, "x", {"odd": True}])
async def test_initialized_params_are_ignored(raw: WireClient, params: object) -> None:
    with trio.fail_after(WAIT):
        await raw.request("initialize", {"clientName": "x"})
        await raw.notify("initialized", params)
        response = await raw.request("process/terminate", {"processId": "p"})
    assert response["result"] == {"running": False}


async def test_initialized_is_per_connection(url: str) -> None:
    """A resumed session still needs ``initialized`` on the new connection."""
    async with open_wire(url) as first:
        with trio.fail_after(WAIT):
            session_id = await first.handshake()
    async with open_wire(url) as second:
        with trio.fail_after(WAIT):
            response = await second.request(
                "initialize", {"clientName": "x", "resumeSessionId": session_id}
            )
            assert response["result"]["sessionId"] == session_id  # 0.171 adds environmentInfo
            response = await second.request("process/read", {"processId": "p"})
            assert response["error"] == error(
                -32600, "client must send initialized before using exec methods"
            )
            await second.notify("initialized", {})
            response = await second.request("process/read", {"processId": "p"})
    assert response["error"] == error(-32600, "unknown process id p")


async def test_pipelined_handshake(raw: WireClient) -> None:
    """initialize, initialized and a call sent back to back, without waiting."""
    await raw.send({"id": 1, "method": "initialize", "params": {"clientName": "x"}})
    await raw.send({"method": "initialized", "params": {}})
    await raw.send({"id": 2, "method": "process/terminate", "params": {"processId": "p"}})
    with trio.fail_after(WAIT):
        assert "sessionId" in (await raw.response(1))["result"]
        assert await raw.response(2) == {"id": 2, "result": {"running": False}}
