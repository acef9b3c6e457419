"""What the server counts for ``GET /metrics`` (``--metrics``), behind one thin object.

The server calls a :class:`Metrics` at the points where things happen (an RPC
answered, a process started or exited, a handshake refused, a session resumed).
This base class does nothing, so a server without ``--metrics`` pays a method call
at most and never imports ``prometheus_client``; :func:`open_metrics` returns the
Prometheus one (:mod:`.prometheus_metrics`) when ``config.metrics`` is set.

Labels are bounded by construction: a method name the server does not serve, an
error code it does not send, a status it does not answer become ``other``; no
session id, process id, argv or path is ever a label.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from ..process import EventSink, ManagedProcess
from .config import ServerConfig
from .security import ConfigError

if TYPE_CHECKING:
    from .session import SessionRegistry

__all__ = ["Metrics", "Observed", "ProcessWatch", "open_metrics"]


class Observed(Protocol):
    """The server state the gauges read at scrape time (nothing is counted for them)."""

    @property
    def connection_count(self) -> int: ...

    @property
    def registry(self) -> SessionRegistry: ...


class ProcessWatch:
    """One process start, from before the spawn to its exit; this one records nothing."""

    def wrap(self, sink: EventSink) -> EventSink:
        """The sink to give the process: ``sink``, seeing its events on the way."""
        return sink

    def started(self, process: ManagedProcess) -> None:
        """The spawn worked: ``process`` runs."""

    def failed_to_start(self) -> None:
        """The spawn failed (an error answer follows)."""

    def forgotten(self) -> None:
        """The process left the session's table (after its retention, or the session ended)."""


NO_WATCH = ProcessWatch()


class Metrics:
    """The instrumentation points; this base class records nothing (``--metrics`` off)."""

    enabled = False
    """Whether ``GET /metrics`` is served."""

    def observe(self, server: Observed) -> None:
        """Read ``server``'s gauges at each scrape."""

    def rpc_answered(self, method: str, code: int | None, seconds: float) -> None:
        """A request of ``method`` was answered: ``code`` None for a result, else the
        error's code; ``seconds`` from reading it to answering it."""

    def process_watch(self) -> ProcessWatch:
        """What to tell about one ``process/start``."""
        return NO_WATCH

    def retention_gap(self) -> None:
        """A ``process/read`` answered ``truncated``: output it asked for was evicted."""

    def session_resumed(self, *, taken_over: bool) -> None:
        """An ``initialize`` resumed a session (``taken_over``: from a live connection)."""

    def handshake_refused(self, status: int) -> None:
        """An upgrade request (or a ``/metrics`` scrape) was refused with ``status``."""

    def render(self, accept: str) -> tuple[bytes, str]:
        """The body and ``Content-Type`` of a scrape, in a format ``accept`` allows."""
        raise RuntimeError("metrics are not enabled")


def open_metrics(config: ServerConfig) -> Metrics:
    """The server's metrics: recording ones with ``config.metrics``, else the no-op.

    Raises :class:`~.security.ConfigError` if ``config.metrics`` is set and
    ``prometheus_client`` is not installed (the ``metrics`` extra).
    """
    if not config.metrics:
        return Metrics()
    try:
        from .prometheus_metrics import PrometheusMetrics
    except ImportError as error:
        raise ConfigError(
            f"--metrics needs the prometheus-client package ({error}): "
            "pip install 'execsrv[metrics]'"
        ) from None
    return PrometheusMetrics()
