"""The recording :class:`~.metrics.Metrics`, on ``prometheus_client`` (the ``metrics`` extra).

Imported only with ``--metrics``. Each server has a registry of its own (never the
library's global one), rendered by the server's own handler on the websocket port;
the library's threaded HTTP server is not used. Counters and histograms are updated
where things happen; the gauges are read from the server at scrape time, so they
cost nothing between scrapes and cannot drift.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Final, get_args

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from ..process import EventSink, Exited, ManagedProcess, Output, ProcessEvent
from ..protocol import errors
from ..protocol.methods import INITIALIZE, METHODS
from ..protocol.process import OutputStream
from .metrics import Metrics, Observed, ProcessWatch

__all__ = ["EXIT_OUTCOMES", "PrometheusMetrics"]

OTHER: Final = "other"
"""The label value of anything outside a label's fixed set."""

METHOD_LABELS: Final = frozenset({INITIALIZE.name, *METHODS})
ERROR_CODES: Final = frozenset(
    {
        errors.INVALID_REQUEST,
        errors.METHOD_NOT_FOUND,
        errors.INVALID_PARAMS,
        errors.INTERNAL_ERROR,
        errors.NOT_FOUND,
        errors.ALREADY_ATTACHED,
    }
)
EXIT_OUTCOMES: Final = ("exited", "signalled", "killed_timeout", "terminated", "session_ended")
"""``exited``: with an exit status; ``signalled``: by a signal it was not sent by
``timeoutMs`` or ``process/terminate``; ``killed_timeout``: its ``timeoutMs`` ran
out; ``terminated``: ``process/terminate`` (or its session ending with a kill);
``session_ended``: its session expired or the server shut down before it exited."""

PROCESS_SECONDS_BUCKETS: Final = (0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600)


class _Gauges:
    """Reads the server's live state at each scrape."""

    def __init__(self, server: Observed) -> None:
        self._server = server

    def collect(self) -> Iterable[Metric]:
        server = self._server
        yield GaugeMetricFamily(
            "execsrv_connections", "Websocket connections open.", server.connection_count
        )
        sessions = GaugeMetricFamily(
            "execsrv_sessions", "Live sessions, attached or detached.", labels=["state"]
        )
        live = [session for session in server.registry.sessions() if not session.ending]
        detached = sum(1 for session in live if session.detached)
        attached = sum(1 for session in live if session.attachment is not None)
        sessions.add_metric(["attached"], attached)
        sessions.add_metric(["detached"], detached)
        yield sessions
        running = sum(
            1
            for session in live
            for entry in session.processes.values()
            if isinstance(entry, ManagedProcess) and entry.running
        )
        yield GaugeMetricFamily(
            "execsrv_processes_running", "Child processes started and not exited.", running
        )


class _Watch(ProcessWatch):
    """One process: its output bytes, its exit outcome and its lifetime."""

    def __init__(self, metrics: PrometheusMetrics) -> None:
        self._metrics = metrics
        self._since = time.monotonic()
        self._process: ManagedProcess | None = None
        self._exit_recorded = False

    def wrap(self, sink: EventSink) -> EventSink:
        output = self._metrics.output_bytes

        async def watched(event: ProcessEvent) -> bool:
            if type(event) is Output:
                output[event.stream].inc(len(event.data))
            elif type(event) is Exited:
                self._exited(_outcome(self._process, event))
            return await sink(event)

        return watched

    def started(self, process: ManagedProcess) -> None:
        self._process = process
        self._metrics.starts.labels("started").inc()

    def failed_to_start(self) -> None:
        self._metrics.starts.labels("failed_to_start").inc()

    def forgotten(self) -> None:
        if self._process is not None and not self._exit_recorded:  # ended unexited
            self._exited("session_ended")

    def _exited(self, outcome: str) -> None:
        self._exit_recorded = True
        self._metrics.exits.labels(outcome).inc()
        self._metrics.process_seconds.observe(time.monotonic() - self._since)


def _outcome(process: ManagedProcess | None, exited: Exited) -> str:
    if process is not None and process.timed_out:
        return "killed_timeout"
    if process is not None and process.terminated:
        return "terminated"
    return "exited" if exited.signal is None else "signalled"


class PrometheusMetrics(Metrics):
    """Counters, histograms and scrape-time gauges in a registry of this server's own."""

    enabled = True

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self.rpc_requests = Counter(
            "execsrv_rpc_requests",
            "JSON-RPC requests answered, by method and result (ok or the error code).",
            ["method", "code"],
            registry=registry,
        )
        self.rpc_seconds = Histogram(
            "execsrv_rpc_duration_seconds",
            "Seconds from reading a request to answering it (long polls included).",
            ["method"],
            registry=registry,
        )
        self.starts = Counter(
            "execsrv_process_starts",
            "process/start spawns, by outcome (started, failed_to_start).",
            ["outcome"],
            registry=registry,
        )
        self.exits = Counter(
            "execsrv_process_exits",
            "Child processes ended, by outcome (" + ", ".join(EXIT_OUTCOMES) + ").",
            ["outcome"],
            registry=registry,
        )
        self.process_seconds = Histogram(
            "execsrv_process_duration_seconds",
            "Seconds from process/start to the child's exit.",
            buckets=PROCESS_SECONDS_BUCKETS,
            registry=registry,
        )
        output = Counter(
            "execsrv_output_bytes",
            "Bytes read from children, by stream (stdout, stderr, pty).",
            ["stream"],
            registry=registry,
        )
        self.output_bytes = {stream: output.labels(stream) for stream in get_args(OutputStream)}
        self.gaps = Counter(
            "execsrv_retention_gaps",
            "process/read answers that said truncated: output evicted before it was read.",
            registry=registry,
        )
        self.resumes = Counter(
            "execsrv_session_resumes",
            "Sessions resumed by initialize (taken_over: from a connection still attached).",
            ["kind"],
            registry=registry,
        )
        self.refusals = Counter(
            "execsrv_handshake_refusals",
            "Upgrade requests (and /metrics scrapes) refused, by HTTP status.",
            ["status"],
            registry=registry,
        )

    def observe(self, server: Observed) -> None:
        self.registry.register(_Gauges(server))

    def rpc_answered(self, method: str, code: int | None, seconds: float) -> None:
        method_label = method if method in METHOD_LABELS else OTHER
        code_label = "ok" if code is None else str(code) if code in ERROR_CODES else OTHER
        self.rpc_requests.labels(method_label, code_label).inc()
        self.rpc_seconds.labels(method_label).observe(seconds)

    def process_watch(self) -> ProcessWatch:
        return _Watch(self)

    def retention_gap(self) -> None:
        self.gaps.inc()

    def session_resumed(self, *, taken_over: bool) -> None:
        self.resumes.labels("taken_over" if taken_over else "resumed").inc()

    def handshake_refused(self, status: int) -> None:
        self.refusals.labels(str(status) if 100 <= status <= 599 else OTHER).inc()

    def render(self, accept: str) -> tuple[bytes, str]:
        encoder, content_type = choose_encoder(accept)
        return encoder(self.registry), content_type
