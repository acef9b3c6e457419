"""OpenTelemetry spans for RPCs and process lifetimes, when ``opentelemetry-api`` is
installed (``pip install execsrv[otel]``); nothing at all otherwise.

What a span carries, and what it never carries:

- one span per RPC (kind SERVER), named after the method (a method no route serves
  gets none: a name the peer made up is no span name). Its parent is the request's
  ``trace`` carrier (codex's W3C ``traceparent``/``tracestate``, read leniently by
  :func:`~execsrv.protocol.trace.parse_trace`); without one it is a root. Attributes:
  ``rpc.system`` (``jsonrpc``), ``rpc.method``, and ``rpc.jsonrpc.error_code`` with an
  error status when the answer is an error. Error messages are not recorded: they
  may quote paths and input.
- one span per process lifetime (``process``), a child of its ``process/start`` span,
  from the spawn to the exit: ``process.exit.code``, ``execsrv.process.signal`` (when
  a signal ended it) and ``execsrv.process.duration_s``. Never argv, env, cwd or any
  path.
- an ``http/request`` made while its RPC span is current gets that span's
  ``traceparent`` (and ``tracestate``) header, unless the request already has a
  ``traceparent`` of its own.

The spans go to the global tracer provider (the application's SDK and exporter),
or to the one given to :func:`use_tracer_provider`. With the API but no SDK, spans
record nothing, and a request's incoming context still reaches ``http/request``
headers. Without ``opentelemetry`` nothing is imported and :data:`TRACING` is a
no-op whose hooks do nothing.

The hooks: :meth:`Tracing.rpc` at dispatch (:mod:`.connection`),
:meth:`Tracing.watch_process` after a spawn (:mod:`.process_api`),
:meth:`Tracing.outgoing_headers` when an ``http/request`` is built (:mod:`.http_api`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Final, Protocol, TypeVar

import msgspec
import trio

from ..protocol.trace import parse_trace

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer, TracerProvider

    from ..process import ManagedProcess

__all__ = ["TRACING", "RpcSpan", "Tracing", "use_tracer_provider"]

A = TypeVar("A")
R = TypeVar("R")

TRACER_NAME: Final = "execsrv"

PROCESS_SPAN: Final = "process"
"""The name of a process lifetime's span."""


class RpcSpan(Protocol):
    """One RPC's span, from dispatch to answer."""

    def run(self, handler: Callable[[A], Awaitable[R]], call: A) -> Awaitable[R]:
        """``handler(call)`` with this span current (so what the handler starts, a
        process or an HTTP request, is its child)."""
        ...

    def end(self, error_code: int | None = None) -> None:
        """The RPC is answered, with ``error_code`` if the answer is an error. Once."""
        ...


class Tracing(Protocol):
    enabled: bool
    """``opentelemetry-api`` is installed: spans are made (they record only with an SDK)."""

    def rpc(self, method: str, carrier: msgspec.Raw | None) -> RpcSpan:
        """Start the span of a request to ``method`` with the ``trace`` ``carrier``."""
        ...

    def watch_process(self, process: ManagedProcess, nursery: trio.Nursery) -> None:
        """Start ``process``'s lifetime span (it has just been spawned); a task in
        ``nursery`` ends it when the process exits."""
        ...

    def outgoing_headers(self, names: Iterable[str]) -> list[tuple[str, str]]:
        """The trace headers to add to an HTTP request that has headers ``names``:
        none if one is ``traceparent`` (any case), or if no span is current."""
        ...


class _NoSpan:
    def run(self, handler: Callable[[A], Awaitable[R]], call: A) -> Awaitable[R]:
        return handler(call)  # the handler's own coroutine: not even a frame more

    def end(self, error_code: int | None = None) -> None:
        pass


_NO_SPAN: Final = _NoSpan()


class _NoTracing:
    enabled = False

    def rpc(self, method: str, carrier: msgspec.Raw | None) -> RpcSpan:
        return _NO_SPAN

    def watch_process(self, process: ManagedProcess, nursery: trio.Nursery) -> None:
        pass

    def outgoing_headers(self, names: Iterable[str]) -> list[tuple[str, str]]:
        return []


class _OtelSpan:
    def __init__(self, tracing: _OtelTracing, span: Span) -> None:
        self._tracing = tracing
        self._span = span
        self._ended = False

    async def run(self, handler: Callable[[A], Awaitable[R]], call: A) -> R:
        with self._tracing.use_span(
            self._span, record_exception=False, set_status_on_exception=False
        ):
            return await handler(call)

    def end(self, error_code: int | None = None) -> None:
        if self._ended:
            return
        self._ended = True
        if error_code is not None and self._span.is_recording():
            self._span.set_attribute("rpc.jsonrpc.error_code", error_code)
            self._span.set_status(self._tracing.error_status)
        self._span.end()


class _OtelTracing:
    """Imports ``opentelemetry`` (ImportError without it)."""

    enabled = True

    def __init__(self) -> None:
        from opentelemetry import trace
        from opentelemetry.context import Context
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        self._trace = trace
        self.use_span = trace.use_span
        self.error_status = trace.Status(trace.StatusCode.ERROR)
        self._root = Context()  # no parent: a request without a carrier starts a trace
        self._propagator = TraceContextTextMapPropagator()
        self._tracer = self._get_tracer(None)

    def _get_tracer(self, provider: TracerProvider | None) -> Tracer:
        from .. import __version__

        return self._trace.get_tracer(TRACER_NAME, __version__, tracer_provider=provider)

    def use_provider(self, provider: TracerProvider | None) -> None:
        self._tracer = self._get_tracer(provider)

    def rpc(self, method: str, carrier: msgspec.Raw | None) -> RpcSpan:
        parent = self._root
        context = parse_trace(carrier)
        if context is not None:
            headers = {"traceparent": context.traceparent}
            if context.tracestate is not None:
                headers["tracestate"] = context.tracestate
            parent = self._propagator.extract(headers, context=self._root)
        span = self._tracer.start_span(
            method,
            context=parent,
            kind=self._trace.SpanKind.SERVER,
            attributes={"rpc.system": "jsonrpc", "rpc.method": method},
            record_exception=False,
            set_status_on_exception=False,
        )
        if not span.get_span_context().is_valid:
            return _NO_SPAN  # no SDK and no carrier: nothing to record or pass on
        return _OtelSpan(self, span)

    def watch_process(self, process: ManagedProcess, nursery: trio.Nursery) -> None:
        span = self._tracer.start_span(PROCESS_SPAN, record_exception=False)
        nursery.start_soon(self._end_at_exit, span, process, trio.current_time())

    @staticmethod
    async def _end_at_exit(span: Span, process: ManagedProcess, started: float) -> None:
        try:
            await process.wait_exited()
        finally:  # cancelled too (the session ended): the span still ends
            if span.is_recording():
                if process.exit_code is not None:
                    span.set_attribute("process.exit.code", process.exit_code)
                if process.exit_signal is not None:
                    span.set_attribute("execsrv.process.signal", process.exit_signal)
                span.set_attribute("execsrv.process.duration_s", trio.current_time() - started)
            span.end()

    def outgoing_headers(self, names: Iterable[str]) -> list[tuple[str, str]]:
        if any(name.lower() == "traceparent" for name in names):
            return []
        carrier: dict[str, str] = {}
        self._propagator.inject(carrier)  # nothing when no valid span is current
        return list(carrier.items())


def _load() -> Tracing:
    try:
        return _OtelTracing()
    except ImportError:
        return _NoTracing()


TRACING: Final[Tracing] = _load()
"""The server's tracing hooks: OpenTelemetry's when it is installed, else no-ops."""


def use_tracer_provider(provider: TracerProvider | None) -> None:
    """Send execsrv's spans to ``provider`` rather than the global one (None: back to
    the global one), e.g. for an application that keeps its own provider, or a test's
    in-memory exporter. Raises RuntimeError without ``opentelemetry``."""
    if not isinstance(TRACING, _OtelTracing):
        raise RuntimeError("opentelemetry-api is not installed (pip install execsrv[otel])")
    TRACING.use_provider(provider)
