"""Dispatcher fuzz: random frames at the server's real Connection and handlers.

Each example starts a fresh server engine (``tests/memory_pair.py``: sessions,
connections and handlers as a server has them, without a socket), sends a random
sequence of frames over one memory transport (valid and invalid JSON, requests
for every method in METHODS plus junk, random params, stray notifications and
responses) and checks the reference's connection-level rules (spec §1.6):

- every request gets exactly one reply, a result or an error, with its id;
- every malformed frame gets ``-32600`` with id ``-1`` and the connection stays;
- the connection is closed only for an unexpected notification (anything but
  ``initialized`` after ``initialize``) or a response object from the client;
- afterwards a fresh connection still completes a handshake: the server lives.

The only processes spawned run ``true``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import trio
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from execsrv.protocol.errors import MalformedParams, RpcError
from execsrv.protocol.generation import Generation
from execsrv.protocol.jsonrpc import (
    IncomingNotification,
    IncomingRequest,
    MalformedMessage,
    decode_message,
)
from execsrv.protocol.methods import METHODS
from execsrv.transport import MemoryTransport

from ..conftest import CHILD_ENV
from ..memory_pair import open_memory_server, open_memory_wire
from ..wire import WireClient, WireClosed
from .test_fuzz import json_values, params_objects

PARSE_ERROR_PREFIX = f"failed to parse {MemoryTransport.description}: "
PROCESS_IDS = ["p", "q", ""]
METHOD_NAMES = [
    *METHODS,
    "initialized",
    "foo/bar",
    "fs/readFile",
    "http/request",
    "",
    "PROCESS/READ",
]

valid_params: dict[str, st.SearchStrategy[Any]] = {
    "initialize": st.fixed_dictionaries(
        {"clientName": st.text(max_size=5)},
        optional={"resumeSessionId": st.none() | st.text(max_size=5)},
    ),
    "process/start": st.fixed_dictionaries(
        {
            "processId": st.sampled_from(PROCESS_IDS),
            "argv": st.just(["true"]),
            "cwd": st.sampled_from(["/", "/nonexistent-dir"]),
            "env": st.just(CHILD_ENV),
            "tty": st.booleans(),
        },
        optional={"pipeStdin": st.booleans(), "timeoutMs": st.integers(0, 10**30)},
    ),
    "process/read": st.fixed_dictionaries(
        {"processId": st.sampled_from(PROCESS_IDS)},
        optional={
            "afterSeq": st.none() | st.integers(0, 2**64),
            "maxBytes": st.none() | st.integers(0, 2**64),
            "waitMs": st.none() | st.integers(0, 50) | st.just(10**400),
        },
    ),
    "process/write": st.fixed_dictionaries(
        {"processId": st.sampled_from(PROCESS_IDS), "chunk": st.sampled_from(["", "aGkK"])}
    ),
    "process/terminate": st.fixed_dictionaries({"processId": st.sampled_from(PROCESS_IDS)}),
    "process/signal": st.fixed_dictionaries(
        {
            "processId": st.sampled_from(PROCESS_IDS),
            "signal": st.sampled_from(["interrupt", "terminate", "kill", "hangup", "bogus"]),
        }
    ),
    "process/resize": st.fixed_dictionaries(
        {
            "processId": st.sampled_from(PROCESS_IDS),
            "rows": st.integers(0, 70000),
            "cols": st.just(80),
        }
    ),
    "process/closeStdin": st.fixed_dictionaries({"processId": st.sampled_from(PROCESS_IDS)}),
    "process/list": st.just({}),
}


@st.composite
def request_frames(draw: st.DrawFn) -> dict[str, Any]:
    method = draw(st.sampled_from(METHOD_NAMES))
    frame: dict[str, Any] = {"method": method}
    if method in valid_params and draw(st.integers(0, 4)) > 0:
        frame["params"] = draw(valid_params[method])
    elif draw(st.booleans()):
        frame["params"] = draw(params_objects)
    return frame


def _harmless(frame: dict[str, Any]) -> dict[str, Any]:
    """Never let random params spawn anything but ``true``."""
    params = frame.get("params")
    if frame.get("method") == "process/start" and isinstance(params, dict):
        argv = params.get("argv")
        if isinstance(argv, list) and argv:
            params["argv"] = ["true"]
    return frame


malformed = st.one_of(
    st.sampled_from(
        [
            b"not json",
            b"[]",
            b'[{"id":1,"method":"process/list"}]',
            b'{"foo":1}',
            b"",
            b"{",
            b'{"id":1,"method":"m"} {"id":2,"method":"m"}',
            b'{"id":1,"method":5}',
            b'{"id":1,"method":"process/read","params":{"processId":"\xff"}}',
            b"[" * 5000,
            b'{"id":1,"error":"x"}',
        ]
    ),
    st.binary(max_size=30),
    st.text(max_size=30),
).map(lambda b: ("raw", b))
closers = st.one_of(
    st.fixed_dictionaries(
        {"method": st.sampled_from(METHOD_NAMES)}, optional={"params": json_values}
    ).map(lambda f: ("notification", f)),
    st.sampled_from([7.5, None, 2**63, True]).map(
        lambda bad_id: ("raw", json.dumps({"id": bad_id, "method": "process/read"}))
    ),
    st.sampled_from(
        [{"id": 1, "result": {}}, {"id": "x", "error": {"code": 1, "message": "m"}}]
    ).map(lambda f: ("raw", json.dumps(f))),
)
"""Frames after which the server closes the connection (unless the oracle says otherwise)."""
_FRAME_KINDS: dict[str, st.SearchStrategy[tuple[str, Any]]] = {
    "request": request_frames().map(lambda f: ("request", f)),
    "initialize": st.just(("initialize", None)),
    "initialized": st.just(("initialized", None)),
    "malformed": malformed,
    "closer": closers,
}
frame_specs = st.sampled_from(
    ["request"] * 12 + ["initialize", "initialized", "malformed", "malformed", "closer"]
).flatmap(_FRAME_KINDS.__getitem__)
"""Mostly requests; one frame in 17 is one the server closes the connection for."""


class Oracle:
    """What the server must do with each frame, from the sans-IO classification."""

    def __init__(self) -> None:
        self.initialize_started = False
        self.initialized = False
        self.speaks_0171 = False
        """The session has heard a 0.171 request (see ``Session.heard``): frames whose
        id is no RequestId then get 0.171's parse error instead of closing."""

    def expect(self, frame: bytes | str) -> str:
        """``reply`` (one reply by id), ``parse-error``, ``ignored`` or ``close``."""
        message = decode_message(frame)
        match message:
            case MalformedMessage():
                return "parse-error"
            case IncomingRequest(method="initialize", params=params):
                try:
                    decoded = METHODS["initialize"].decoder.decode(params)
                except RpcError:
                    return "reply"
                except MalformedParams:
                    return "parse-error"
                if not self.initialize_started:
                    # A resume of an unknown session fails and resets the flag.
                    self.initialize_started = decoded.resume_session_id is None
                return "reply"
            case IncomingRequest(method=method, params=params) if method in METHODS:
                method_spec = METHODS[method]
                speaks = Generation.V0_171 if self.speaks_0171 else Generation.V0_130
                try:
                    decoded = method_spec.decoder.decode(params, speaks)
                except MalformedParams:  # a number serde_json cannot read (10**400)
                    return "parse-error"
                except RpcError:
                    return "reply"
                heard = method_spec.generation_of(decoded) is Generation.V0_171
                if self.initialized and heard:
                    self.speaks_0171 = True
                return "reply"
            case IncomingRequest():
                return "reply"
            case IncomingNotification(invalid_id=True) if self.speaks_0171:
                return "parse-error"
            case IncomingNotification(method="initialized") if self.initialize_started:
                self.initialized = True
                return "ignored"
            case _:
                return "close"


async def _exchange(wire: WireClient, specs: list[tuple[str, Any]]) -> None:
    oracle = Oracle()
    next_id = 0
    pending: dict[Any, str] = {}  # request id (as JSON) -> method
    parse_errors = 0
    closing = False
    for kind, value in specs:
        binary = False
        if kind == "request":
            next_id += 1
            request_id: int | str = next_id if next_id % 2 else f"id-{next_id}"
            frame: bytes | str = json.dumps({"id": request_id, **_harmless(value)})
            binary = next_id % 3 == 0
        elif kind == "initialize":
            next_id += 1
            request_id = next_id
            frame = json.dumps(
                {"id": request_id, "method": "initialize", "params": {"clientName": "fuzz"}}
            )
        elif kind == "initialized":
            frame = '{"method":"initialized","params":{}}'
        elif kind == "notification":
            frame = json.dumps(value)
        else:
            frame = value
            binary = isinstance(value, bytes)
        expected = oracle.expect(frame)
        if expected == "reply":
            pending[json.dumps(request_id)] = kind
        elif expected == "parse-error":
            parse_errors += 1
        if isinstance(frame, bytes) and not binary:
            # A text frame must be valid UTF-8; send undecodable bytes as binary.
            try:
                frame = frame.decode()
            except UnicodeDecodeError:
                pass
        await wire.send_binary(frame) if binary else await wire.send(frame)
        if expected == "close":
            closing = True
            break

    replies: dict[str, dict[str, Any]] = {}
    parse_replies = 0
    while closing or len(replies) < len(pending) or parse_replies < parse_errors:
        try:
            message = await wire.recv()
        except WireClosed:
            assert closing, "the server closed a connection it should have kept"
            break
        if "method" in message:
            assert "id" not in message, message
            continue  # a process notification
        assert ("result" in message) != ("error" in message), message
        if "error" in message:
            assert isinstance(message["error"]["code"], int), message
            assert isinstance(message["error"]["message"], str), message
            assert set(message["error"]) == {"code", "message"}, message
        if message["id"] == -1:
            assert message["error"]["code"] == -32600, message
            assert message["error"]["message"].startswith(PARSE_ERROR_PREFIX), message
            parse_replies += 1
            continue
        key = json.dumps(message["id"])
        assert key in pending, f"reply to an unknown id: {message}"
        assert key not in replies, f"second reply for one id: {message}"
        replies[key] = message
    event("closed by a rule" if closing else "kept open")
    results = sum("result" in reply for reply in replies.values())
    event(f"successful replies: {min(results, 5)}{'+' if results >= 5 else ''}")
    if not closing:
        assert set(replies) == set(pending)
        assert parse_replies == parse_errors
    else:
        assert parse_replies <= parse_errors


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    specs=st.tuples(
        st.sampled_from(
            [[], [("initialize", None)]] + [[("initialize", None), ("initialized", None)]] * 4
        ),
        st.lists(frame_specs, min_size=2, max_size=12),
    ).map(lambda parts: parts[0] + parts[1])
)
@example(
    specs=[
        ("initialize", None),
        ("initialized", None),
        (
            "request",
            {
                "method": "process/start",
                "params": {
                    "processId": "p",
                    "argv": ["true"],
                    "cwd": "/",
                    "env": {},
                    "tty": False,
                    "timeoutMs": 10**400,
                },
            },
        ),
        ("request", {"method": "process/read", "params": {"processId": "p", "waitMs": 10**400}}),
    ]
)
@example(
    specs=[
        ("raw", b'{"id":1,"method":"initialize","params":{"clientName":"\xff"}}'),
        ("raw", b"[" * 5000),
    ]
)
async def test_dispatcher_fuzz(specs: list[tuple[str, Any]]) -> None:
    with capture_errors() as errors:
        await _run_against_fresh_server(specs)
    assert not errors, "the server logged errors:\n" + "\n".join(errors)


class _ErrorRecorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.errors: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.errors.append(self.format(record))


@contextmanager
def capture_errors() -> Iterator[list[str]]:
    """ERROR records of the ``execsrv`` loggers (e.g. a crashed connection task)."""
    recorder = _ErrorRecorder()
    logger = logging.getLogger("execsrv")
    logger.addHandler(recorder)
    try:
        yield recorder.errors
    finally:
        logger.removeHandler(recorder)


async def _run_against_fresh_server(specs: list[tuple[str, Any]]) -> None:
    async with open_memory_server() as server:
        with trio.fail_after(15):
            async with open_memory_wire(server) as wire:
                await _exchange(wire, specs)
            async with open_memory_wire(server) as fresh:
                await fresh.handshake()
                listed = await fresh.request("process/list", {})
                assert listed["result"] == {"processes": []}
