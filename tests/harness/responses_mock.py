"""A scripted mock of the OpenAI Responses API on 127.0.0.1 (trio + h11).

``codex exec`` POSTs the whole conversation to ``{base_url}/responses`` each time
the model is sampled and reads an SSE stream back: ``response.created``, one
``response.output_item.done`` per item, ``response.completed`` with ``usage``
(codex-harness.md §2). The mock answers each request with the next item the
:class:`ModelScript` decides on, from the tool outputs the request carries, and
records every request so tests can read what codex sent to the model.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Final

import h11
import trio

READ_SIZE: Final = 65536

Item = dict[str, Any]


def exec_command(call_id: str, cmd: str, **extra: Any) -> Item:
    """A ``function_call`` of ``exec_command`` (extra: ``yield_time_ms``, ``tty``, ...)."""
    arguments = json.dumps({"cmd": cmd, **extra})
    return {
        "type": "function_call",
        "call_id": call_id,
        "name": "exec_command",
        "arguments": arguments,
    }


def write_stdin(call_id: str, session_id: int, chars: str, **extra: Any) -> Item:
    arguments = json.dumps({"session_id": session_id, "chars": chars, **extra})
    return {
        "type": "function_call",
        "call_id": call_id,
        "name": "write_stdin",
        "arguments": arguments,
    }


def apply_patch(call_id: str, patch: str) -> Item:
    """A ``custom_tool_call`` of ``apply_patch`` (the freeform lark-grammar tool)."""
    return {"type": "custom_tool_call", "call_id": call_id, "name": "apply_patch", "input": patch}


def assistant_message(text: str) -> Item:
    return {
        "type": "message",
        "role": "assistant",
        "id": "msg_final",
        "content": [{"type": "output_text", "text": text}],
    }


def tool_outputs(request: dict[str, Any]) -> dict[str, str]:
    """The tool outputs a request carries, by call id, as text."""
    outputs: dict[str, str] = {}
    for item in request.get("input", []):
        if item.get("type") in ("function_call_output", "custom_tool_call_output"):
            outputs[item["call_id"]] = _text(item.get("output"))
    return outputs


def input_text(request: dict[str, Any]) -> str:
    """All text of a request's input messages (instructions, AGENTS.md docs, prompt)."""
    parts = []
    for item in request.get("input", []):
        if item.get("type") == "message":
            parts.append(_text(item.get("content")))
    return "\n".join(parts)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(_text(part.get("text", "")) for part in value if isinstance(part, dict))
    if isinstance(value, dict):  # {"content": ..., "success": ...} in some versions
        return _text(value.get("content", value.get("text", "")))
    return ""


Decide = Callable[[dict[str, str]], Item]
"""Given the tool outputs seen so far (by call id), the model's next item."""


class StepImpossible(Exception):
    """A step cannot be played (e.g. the command it feeds never started): skip it."""


@dataclass
class Step:
    """One model turn: ``decide`` builds the tool call (call id ``call_id``)."""

    call_id: str
    decide: Decide


@dataclass
class ModelScript:
    """Tool calls in order; each request is answered with the first step whose output
    the request does not carry yet, then with a final assistant message.

    Deciding from the request (not from a counter) keeps the mock right if codex
    retries a request or samples the model for something else in between.
    """

    steps: list[Step]
    final_text: str = "all done"
    skipped: dict[str, str] = field(default_factory=dict)
    """Steps that could not be played, by call id: why."""

    def next_item(self, request: dict[str, Any]) -> Item:
        outputs = tool_outputs(request)
        for step in self.steps:
            if step.call_id in outputs or step.call_id in self.skipped:
                continue
            try:
                return step.decide(outputs)
            except StepImpossible as exc:
                self.skipped[step.call_id] = str(exc)
        return assistant_message(self.final_text)


@dataclass
class ResponsesMock:
    script: ModelScript
    port: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)
    """Every request body, parsed, in arrival order."""
    unexpected: list[str] = field(default_factory=list)
    """Requests the mock did not understand (method and target)."""
    script_errors: list[str] = field(default_factory=list)
    """Why the script could not decide (the turn was ended there)."""

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def outputs(self) -> dict[str, str]:
        """Every tool output codex sent back, by call id (the last request has them all)."""
        merged: dict[str, str] = {}
        for request in self.requests:
            merged.update(tool_outputs(request))
        return merged

    async def _handle(self, stream: trio.SocketStream) -> None:
        conn = h11.Connection(h11.SERVER)
        try:
            while True:
                request, body = await _receive_request(stream, conn)
                if request is None:
                    return
                await self._answer(stream, conn, request, body)
                if conn.our_state is h11.MUST_CLOSE:
                    return
                conn.start_next_cycle()
        except (trio.BrokenResourceError, trio.ClosedResourceError, h11.ProtocolError):
            return
        finally:
            await trio.aclose_forcefully(stream)

    async def _answer(
        self, stream: trio.SocketStream, conn: h11.Connection, request: h11.Request, body: bytes
    ) -> None:
        target = request.target.decode()
        if request.method != b"POST" or not target.endswith("/responses"):
            self.unexpected.append(f"{request.method.decode()} {target}")
            await _send(stream, conn, 404, b"text/plain", b"not mocked")
            return
        parsed = json.loads(body)
        self.requests.append(parsed)
        number = len(self.requests)
        try:
            item = self.script.next_item(parsed)
        except Exception as exc:  # e.g. no session id where the script needs one
            # End the turn and keep the reason: a test reads it, the run goes on.
            self.script_errors.append(repr(exc))
            item = assistant_message(f"the script stopped: {exc!r}")
        events = [
            ("response.created", {"response": {"id": f"resp_{number}"}}),
            ("response.output_item.done", {"item": item}),
            (
                "response.completed",
                {
                    "response": {
                        "id": f"resp_{number}",
                        "usage": {
                            "input_tokens": 0,
                            "input_tokens_details": None,
                            "output_tokens": 0,
                            "output_tokens_details": None,
                            "total_tokens": 0,
                        },
                    }
                },
            ),
        ]
        sse = b"".join(
            f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n".encode()
            for kind, data in events
        )
        await _send(stream, conn, 200, b"text/event-stream", sse)


async def _receive_request(
    stream: trio.SocketStream, conn: h11.Connection
) -> tuple[h11.Request | None, bytes]:
    request: h11.Request | None = None
    body = bytearray()
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(await stream.receive_some(READ_SIZE))
        elif isinstance(event, h11.Request):
            request = event
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            return request, bytes(body)
        else:  # ConnectionClosed, or PAUSED after a cycle
            return None, b""


async def _send(
    stream: trio.SocketStream, conn: h11.Connection, status: int, content_type: bytes, body: bytes
) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    data = conn.send(h11.Response(status_code=status, headers=headers))
    data += conn.send(h11.Data(data=body))
    data += conn.send(h11.EndOfMessage())
    await stream.send_all(data)


@asynccontextmanager
async def open_responses_mock(script: ModelScript) -> AsyncIterator[ResponsesMock]:
    mock = ResponsesMock(script)
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, mock._handle, 0, host="127.0.0.1"))
        mock.port = listeners[0].socket.getsockname()[1]
        yield mock
        nursery.cancel_scope.cancel()
