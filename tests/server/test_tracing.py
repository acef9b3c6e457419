"""Trace context: OpenTelemetry spans per RPC and per process lifetime, parented by
the request's ``trace`` carrier, and ``traceparent`` on outgoing ``http/request``s.

A real in-process server and a raw websocket client (execsrv's client sends no
``trace``); the spans go to the SDK's in-memory exporter.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import trio
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from execsrv.protocol.trace import parse_trace
from execsrv.server.tracing import TRACING, use_tracer_provider

from ..conftest import CHILD_ENV
from ..http.server import HttpServer, open_http_server
from ..wire import WireClient

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_ID = "b7ad6b7169203331"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"
TRACESTATE = "congo=t61rcWkgMzE"
CARRIER = {"traceparent": TRACEPARENT, "tracestate": TRACESTATE}

SECRET_ARG = "argv-secret-5b1e"
SECRET_ENV = "env-secret-9c3d"


class _Exporting(SimpleSpanProcessor):
    """Exports each span as it ends, and wakes the test waiting for it."""

    def __init__(self, exporter: InMemorySpanExporter) -> None:
        super().__init__(exporter)
        self.ended = trio.Event()

    def on_end(self, span: ReadableSpan) -> None:
        super().on_end(span)
        self.ended.set()
        self.ended = trio.Event()


class Spans(InMemorySpanExporter):
    def __init__(self) -> None:
        super().__init__()
        self.processor = _Exporting(self)

    def named(self, name: str) -> list[ReadableSpan]:
        return [span for span in self.get_finished_spans() if span.name == name]

    async def wait_for(self, name: str) -> ReadableSpan:
        """The first span called ``name`` once it has ended (a process span ends in a
        task of the server's, after the exit is reported)."""
        with trio.fail_after(10):
            while not self.named(name):
                await self.processor.ended.wait()
        return self.named(name)[0]


@pytest.fixture
def spans() -> Iterator[Spans]:
    """execsrv's spans, recorded by the SDK for this test only."""
    exporter = Spans()
    provider = TracerProvider()
    provider.add_span_processor(exporter.processor)
    use_tracer_provider(provider)
    try:
        yield exporter
    finally:
        use_tracer_provider(None)
        provider.shutdown()


@pytest.fixture
async def http_server() -> AsyncIterator[HttpServer]:
    async with open_http_server() as server:
        yield server


async def _request(wire: WireClient, method: str, params: Any, trace: Any = ...) -> Any:
    """A request with ``trace`` (JSON-encoded; a ``str`` is sent as the JSON text it is)."""
    request_id = f"{method}-{id(params)}"
    frame = json.dumps({"id": request_id, "method": method, "params": params})
    if trace is not ...:
        member = trace if isinstance(trace, str) else json.dumps(trace)
        frame = f'{frame[:-1]},"trace":{member}}}'
    with trio.fail_after(10):
        await wire.send(frame)
        return await wire.response(request_id)


def _start(process_id: str, argv: list[str], cwd: str = "/") -> dict[str, Any]:
    env = {**CHILD_ENV, "SECRET": SECRET_ENV}
    return {"processId": process_id, "argv": argv, "cwd": cwd, "env": env, "tty": False}


async def test_rpc_and_process_spans_follow_the_requests_traceparent(
    spans: Spans, wire: WireClient, tmp_path: Path
) -> None:
    argv = ["sh", "-c", f"exit 3 # {SECRET_ARG}"]
    reply = await _request(wire, "process/start", _start("p1", argv, str(tmp_path)), CARRIER)
    assert reply["result"]["processId"] == "p1"
    with trio.fail_after(10):
        await wire.next_notification("process/closed")
    await spans.wait_for("process")

    (start,) = spans.named("process/start")
    assert start.kind is SpanKind.SERVER
    assert start.parent is not None
    assert start.parent.is_remote
    assert format(start.parent.span_id, "016x") == PARENT_ID
    assert format(start.context.trace_id, "032x") == TRACE_ID
    assert start.context.trace_state.to_header() == TRACESTATE
    assert dict(start.attributes or {}) == {"rpc.system": "jsonrpc", "rpc.method": "process/start"}
    assert start.status.status_code is StatusCode.UNSET

    (process,) = spans.named("process")
    assert process.parent is not None
    assert process.parent.span_id == start.context.span_id
    assert process.context.trace_id == start.context.trace_id
    attributes = dict(process.attributes or {})
    assert attributes["process.exit.code"] == 3
    assert "execsrv.process.signal" not in attributes
    duration = attributes["execsrv.process.duration_s"]
    assert isinstance(duration, float)
    assert 0 <= duration < 10
    assert set(attributes) == {"process.exit.code", "execsrv.process.duration_s"}

    (initialize,) = spans.named("initialize")  # no carrier: a trace of its own
    assert initialize.parent is None
    assert initialize.context.trace_id != start.context.trace_id

    everything = "".join(span.to_json() for span in spans.get_finished_spans())
    for secret in (SECRET_ARG, SECRET_ENV, str(tmp_path), "sh -c"):
        assert secret not in everything


async def test_a_signal_and_an_error_code_are_recorded(spans: Spans, wire: WireClient) -> None:
    reply = await _request(wire, "process/start", _start("p2", ["sleep", "30"]))
    assert "result" in reply, reply
    reply = await _request(wire, "process/terminate", {"processId": "p2"}, CARRIER)
    assert reply["result"] == {"running": True}
    reply = await _request(wire, "process/read", {"processId": "nope"}, CARRIER)
    unknown_code = reply["error"]["code"]
    reply = await _request(wire, "process/read", {"processId": 5}, CARRIER)  # bad params
    bad_params_code = reply["error"]["code"]
    await spans.wait_for("process")

    (process,) = spans.named("process")
    assert process.attributes is not None
    assert process.attributes["execsrv.process.signal"] == "SIGKILL"  # terminate kills
    assert process.attributes["process.exit.code"] == -1  # as 0.130 reports it on pipes
    reads = spans.named("process/read")
    assert [read.attributes and read.attributes["rpc.jsonrpc.error_code"] for read in reads] == [
        unknown_code,
        bad_params_code,
    ]
    assert all(read.status.status_code is StatusCode.ERROR for read in reads)
    assert all(read.status.description is None for read in reads)  # messages may echo input
    assert all(read.parent and read.parent.span_id == int(PARENT_ID, 16) for read in reads)


@pytest.mark.parametrize(
    "trace",
    [
        "5",
        json.dumps(TRACEPARENT),
        json.dumps([CARRIER]),
        "null",
        "{}",
        '{"traceparent": 7}',
        '{"traceparent": "garbage"}',
        json.dumps({"traceparent": TRACEPARENT.upper()}),
        json.dumps({"traceparent": f"00-{'0' * 32}-{PARENT_ID}-01"}),
        json.dumps({"traceparent": f"00-{TRACE_ID}-{'0' * 16}-01"}),
        json.dumps({"traceparent": f"ff-{TRACE_ID}-{PARENT_ID}-01"}),
        json.dumps({"traceparent": TRACEPARENT + "-extra"}),
        '{"traceparent": 1e400}',
        '{"traceparent": {"deep": [[[1]]]}}',
    ],
)
async def test_a_malformed_carrier_is_ignored(spans: Spans, wire: WireClient, trace: Any) -> None:
    """A bad traceparent string is ignored (as codex does); so is a carrier of the wrong
    shape (codex refuses the message; execsrv accepts it, as it always has)."""
    with_trace = await _request(wire, "process/list", {}, trace)
    without = await _request(wire, "process/list", {})
    assert with_trace["result"] == without["result"] == {"processes": []}
    first, _second = spans.named("process/list")
    assert first.parent is None  # a root, as without a carrier


def test_parse_trace_keeps_what_is_valid() -> None:
    carrier = f'{{"traceparent": "{TRACEPARENT}", "tracestate": 9, "other": 1e400}}'
    parsed = parse_trace(carrier)
    assert parsed is not None
    assert parsed.traceparent == TRACEPARENT
    assert parsed.tracestate is None
    future = f"01-{TRACE_ID}-{PARENT_ID}-01-more"  # a later version may add fields
    assert parse_trace(json.dumps({"traceparent": future})) is not None
    long_state = json.dumps({"traceparent": TRACEPARENT, "tracestate": "a=" + "b" * 600})
    assert parse_trace(long_state) == parse_trace(json.dumps({"traceparent": TRACEPARENT}))


async def _fetch(wire: WireClient, url: str, headers: list[dict[str, str]], trace: Any) -> None:
    params = {"method": "GET", "url": url, "requestId": "r", "headers": headers}
    reply = await _request(wire, "http/request", params, trace)
    assert reply["result"]["status"] == 200, reply


async def test_http_requests_carry_the_rpc_spans_traceparent(
    spans: Spans, wire: WireClient, http_server: HttpServer
) -> None:
    await _fetch(wire, http_server.url(), [], CARRIER)
    (received,) = http_server.received
    (span,) = spans.named("http/request")
    expected = f"00-{TRACE_ID}-{span.context.span_id:016x}-01"
    assert received.header("traceparent") == [expected]
    assert received.header("tracestate") == [TRACESTATE]


async def test_a_traceparent_of_the_request_is_kept(
    spans: Spans, wire: WireClient, http_server: HttpServer
) -> None:
    own = f"00-{'1' * 32}-{'2' * 16}-00"
    await _fetch(wire, http_server.url(), [{"name": "TraceParent", "value": own}], CARRIER)
    (received,) = http_server.received
    assert received.header("traceparent") == [own]
    assert received.header("tracestate") == []


async def test_without_an_sdk_the_incoming_context_is_passed_on(
    wire: WireClient, http_server: HttpServer
) -> None:
    """No SDK: nothing records, no header appears from nowhere, and a request's own
    context still reaches the HTTP server (the API's pass-through)."""
    assert TRACING.enabled
    await _fetch(wire, http_server.url(), [], ...)
    await _fetch(wire, http_server.url(), [], CARRIER)
    untraced, traced = http_server.received
    assert untraced.header("traceparent") == []
    assert traced.header("traceparent") == [TRACEPARENT]


def test_without_opentelemetry_nothing_is_imported() -> None:
    """opentelemetry made unimportable: the hooks are no-ops and a server still runs."""
    script = textwrap.dedent(
        """
        import sys
        sys.modules["opentelemetry"] = None  # import opentelemetry now fails
        import trio, execsrv
        from execsrv.server.tracing import TRACING

        async def main():
            async with trio.open_nursery() as nursery:
                server = await nursery.start(execsrv.serve, "ws://127.0.0.1:0")
                async with execsrv.connect(server.url) as client:
                    process = await client.start_process(["true"], env={"PATH": "/usr/bin:/bin"})
                    assert (await process.communicate()).exit_code == 0
                nursery.cancel_scope.cancel()

        trio.run(main)
        loaded = [name for name in sys.modules if name.startswith("opentelemetry.")]
        print(type(TRACING).__name__, TRACING.enabled, loaded)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "_NoTracing False []"
