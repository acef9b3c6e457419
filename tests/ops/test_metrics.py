"""``--metrics``: Prometheus text at ``GET /metrics`` on the websocket port.

A real server does real work (children that exit, get signalled, time out, are
terminated or fail to start; an unknown method; output on every stream; a read past
evicted output; a resume after a dropped connection; refused handshakes), then the
test scrapes ``/metrics`` over a socket and parses it with prometheus_client's own
parser: the values match the work, and no label carries an id, an argv or a path.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterable, Sequence
from functools import partial
from pathlib import Path

import h11
import pytest
import trio
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

import execsrv
from execsrv.protocol.methods import INITIALIZE, METHODS
from execsrv.server.prometheus_metrics import ERROR_CODES, EXIT_OUTCOMES

from ..conftest import CHILD_ENV
from ..proxy import open_proxy
from ..servers import open_execsrv
from ..wire import open_wire

TOKEN = "metrics-test-token-0123456789abcdef"

LABEL_VALUES: dict[str, frozenset[str]] = {
    "method": frozenset({INITIALIZE.name, *METHODS, "other"}),
    "code": frozenset({"ok", "other", *(str(code) for code in ERROR_CODES)}),
    "outcome": frozenset({"started", "failed_to_start", *EXIT_OUTCOMES}),
    "stream": frozenset({"stdout", "stderr", "pty"}),
    "kind": frozenset({"resumed", "taken_over"}),
    "state": frozenset({"attached", "detached"}),
}
"""Every label the metrics may carry, with its closed set of values (``status`` is an
HTTP status and ``le`` a histogram bucket bound, both checked by form)."""


async def http_get(
    port: int, target: str = "/metrics", headers: Sequence[tuple[str, str]] = ()
) -> tuple[int, dict[bytes, bytes], bytes]:
    """One HTTP/1.1 GET over a fresh socket: status, headers (names lowercased), body."""
    connection = h11.Connection(h11.CLIENT)
    request = h11.Request(
        method="GET", target=target, headers=[("Host", f"127.0.0.1:{port}"), *headers]
    )
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(connection.send(request) + connection.send(h11.EndOfMessage()))
        response: h11.Response | None = None
        body = bytearray()
        while True:
            event = connection.next_event()
            if event is h11.NEED_DATA:
                connection.receive_data(await stream.receive_some(65536))
            elif isinstance(event, h11.Response):
                response = event
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                break
    assert response is not None
    return response.status_code, dict(response.headers), bytes(body)


class Scrape:
    """A parsed ``/metrics`` answer."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.samples: list[Sample] = [
            sample for family in text_string_to_metric_families(text) for sample in family.samples
        ]

    def value(self, name: str, **labels: str) -> float:
        """The one sample called ``name`` with exactly ``labels`` (0 if absent, as a
        counter whose label set was never used)."""
        found = [s.value for s in self.samples if s.name == name and s.labels == labels]
        assert len(found) <= 1, (name, labels, found)
        return found[0] if found else 0.0

    def label_sets(self) -> Iterable[dict[str, str]]:
        return (sample.labels for sample in self.samples)


async def scrape(port: int, token: str | None = None) -> Scrape:
    headers = [("Authorization", f"Bearer {token}")] if token else []
    status, response_headers, body = await http_get(port, headers=headers)
    assert status == 200, body
    assert response_headers[b"content-type"].startswith(b"text/plain")
    return Scrape(body.decode())


async def wait_for_connections(server: execsrv.ExecServer, count: int) -> None:
    """Until the server has seen every other connection end (the caller's deadline)."""
    while server.connection_count != count:  # noqa: ASYNC110 (no event to wait on)
        await trio.sleep(0.01)


@pytest.mark.execsrv_config(metrics=True, exited_retention_bytes=1)
async def test_scrape_counts_real_work_with_bounded_labels(
    server: execsrv.ExecServer, client: execsrv.Client
) -> None:
    assert server.port is not None
    secret = uuid.uuid4().hex  # in every id, argv and path: must never reach a label
    ids = (f"{secret}-{n}" for n in range(100))
    start = partial(client.start_process, env=CHILD_ENV)
    with trio.fail_after(20):
        exited = await start(["sh", "-c", f"printf out; printf err >&2; exit 3 # {secret}"])
        result = await exited.communicate()
        assert (result.stdout, result.stderr, result.exit_code) == (b"out", b"err", 3)
        killed = await start(["sh", "-c", f"kill -TERM $$ # {secret}"], process_id=next(ids))
        assert (await killed.wait()).signal == "SIGTERM"
        timed_out = await start(
            ["sh", "-c", "exec sleep 30", secret], timeout_ms=100, process_id=next(ids)
        )
        await timed_out.wait()
        terminated = await start(["sh", "-c", "exec sleep 30", secret], process_id=next(ids))
        assert await terminated.terminate()
        await terminated.wait()
        pty = await start(["printf", "hi"], tty=True, process_id=next(ids))
        assert (await pty.communicate()).stdout == b"hi"
        # Closed processes share 1 byte of retention (exited_retention_bytes): its
        # output is evicted as it closes, so a read from the start has a gap.
        big = await start(["sh", "-c", f"printf '%5000s' '' # {secret}"], process_id=next(ids))
        assert len((await big.communicate()).stdout) == 5000
        assert (await big.read(after_seq=0)).truncated
        await start(["sh", "-c", "exec sleep 30", secret], process_id=next(ids))  # still running
        with pytest.raises(execsrv.RemoteError) as failed:
            await start([f"/nonexistent/{secret}"], process_id=next(ids))

        async with open_wire(server.url or "") as wire:
            wire_session = await wire.handshake()
            reply = await wire.request(f"no/such/{secret}", {})
            assert reply["error"]["code"] == -32601

        async with (
            open_proxy(server.port) as proxy,
            execsrv.connect(proxy.url, auto_resume=True) as resuming,
        ):
            assert proxy.sever() == 1
            await resuming.wait_resumed(1)
            resumed_session = resuming.session_id

        assert (await http_get(server.port, f"/{secret}"))[0] == 404  # not the websocket path
        assert (await http_get(server.port, f"/?{secret}"))[0] == 400  # no upgrade
        upgrade = [
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("Sec-WebSocket-Version", "13"),
            ("Origin", "https://evil.example"),
        ]
        assert (await http_get(server.port, f"/?{secret}", upgrade))[0] == 403

        await wait_for_connections(server, 1)
        metrics = await scrape(server.port)

    assert metrics.value("execsrv_connections") == 1
    assert metrics.value("execsrv_sessions", state="attached") == 1
    assert metrics.value("execsrv_sessions", state="detached") == 2  # the wire's, the proxy's
    assert metrics.value("execsrv_processes_running") == 1

    assert metrics.value("execsrv_process_starts_total", outcome="started") == 7
    assert metrics.value("execsrv_process_starts_total", outcome="failed_to_start") == 1
    exits = {o: metrics.value("execsrv_process_exits_total", outcome=o) for o in EXIT_OUTCOMES}
    assert exits == {
        "exited": 3,
        "signalled": 1,
        "killed_timeout": 1,
        "terminated": 1,
        "session_ended": 0,
    }
    assert metrics.value("execsrv_process_duration_seconds_count") == 6

    assert metrics.value("execsrv_output_bytes_total", stream="stdout") == 3 + 5000
    assert metrics.value("execsrv_output_bytes_total", stream="stderr") == 3
    assert metrics.value("execsrv_output_bytes_total", stream="pty") == 2
    assert metrics.value("execsrv_retention_gaps_total") == 1

    start_error = str(failed.value.code)
    assert metrics.value("execsrv_rpc_requests_total", method="process/start", code="ok") == 7
    assert (
        metrics.value("execsrv_rpc_requests_total", method="process/start", code=start_error) == 1
    )
    assert metrics.value("execsrv_rpc_requests_total", method="other", code="-32601") == 1
    assert metrics.value("execsrv_rpc_requests_total", method="process/terminate", code="ok") == 1
    # The fixture's client, the wire client, the proxied client and its resume.
    assert metrics.value("execsrv_rpc_requests_total", method="initialize", code="ok") == 4
    assert metrics.value("execsrv_rpc_duration_seconds_count", method="process/start") == 8
    resumes = sum(
        metrics.value("execsrv_session_resumes_total", kind=kind) for kind in LABEL_VALUES["kind"]
    )
    assert resumes == 1

    assert metrics.value("execsrv_handshake_refusals_total", status="404") == 1
    assert metrics.value("execsrv_handshake_refusals_total", status="400") == 1
    assert metrics.value("execsrv_handshake_refusals_total", status="403") == 1

    # Bounded labels: every label is a known one with a value from its fixed set, and
    # nothing of an id, an argv or a path appears anywhere in the answer.
    for labels in metrics.label_sets():
        for name, value in labels.items():
            if name == "status":
                assert value.isdigit()
                assert 100 <= int(value) <= 599
            elif name == "le":
                float(value)
            else:
                assert value in LABEL_VALUES[name], (name, value)
    for never in (secret, client.session_id, wire_session, resumed_session, "/nonexistent"):
        assert never not in metrics.text


async def test_scrape_needs_the_token_when_one_is_configured(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    token_file.chmod(0o600)
    config = execsrv.ServerConfig(metrics=True, auth_token_file=str(token_file))
    server = await nursery.start(partial(execsrv.serve, "ws://127.0.0.1:0", config=config))
    with trio.fail_after(10):
        status, headers, body = await http_get(server.port)
        assert status == 401
        assert headers[b"www-authenticate"].startswith(b"Bearer")
        assert b"execsrv_" not in body
        status, _, body = await http_get(server.port, headers=[("Authorization", "Bearer nope")])
        assert status == 401
        assert b"execsrv_" not in body
        async with execsrv.connect(server.url, token=TOKEN):
            metrics = await scrape(server.port, TOKEN)
    assert metrics.value("execsrv_connections") == 1
    assert metrics.value("execsrv_handshake_refusals_total", status="401") == 2
    assert TOKEN not in metrics.text


async def test_two_servers_in_one_process_count_apart(nursery: trio.Nursery) -> None:
    """A registry per server: one server's work does not show in another's metrics."""
    config = execsrv.ServerConfig(metrics=True)
    busy = await nursery.start(partial(execsrv.serve, "ws://127.0.0.1:0", config=config))
    idle = await nursery.start(partial(execsrv.serve, "ws://127.0.0.1:0", config=config))
    with trio.fail_after(10):
        async with execsrv.connect(busy.url) as client:
            await (await client.start_process(["true"], env=CHILD_ENV)).wait()
        busy_metrics = await scrape(busy.port)
        idle_metrics = await scrape(idle.port)
    assert busy_metrics.value("execsrv_process_starts_total", outcome="started") == 1
    assert idle_metrics.value("execsrv_process_starts_total", outcome="started") == 0
    assert idle_metrics.value("execsrv_rpc_requests_total", method="initialize", code="ok") == 0


async def test_cli_flag_serves_metrics() -> None:
    async with open_execsrv("--metrics") as running:
        port = int(running.url.rsplit(":", 1)[1])
        with trio.fail_after(10):
            metrics = await scrape(port)
    assert metrics.value("execsrv_connections") == 0
    assert metrics.value("execsrv_processes_running") == 0


WITHOUT_METRICS = """
import sys
from functools import partial

import trio

import execsrv


async def main() -> None:
    async with trio.open_nursery() as nursery:
        server = await nursery.start(partial(execsrv.serve, "ws://127.0.0.1:0"))
        async with await trio.open_tcp_stream("127.0.0.1", server.port) as stream:
            await stream.send_all(b"GET /metrics HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
            answer = b""
            while chunk := await stream.receive_some():
                answer += chunk
        status = answer.split(b" ", 2)[1].decode()
        print(status, b"execsrv_" in answer, "prometheus_client" in sys.modules)
        nursery.cancel_scope.cancel()


trio.run(main)
"""


def run_in_own_process(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter from the checkout (imports are what it tests)."""
    root = Path(__file__).resolve().parents[2]
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_without_the_flag_there_is_no_metrics_page_and_no_prometheus_import() -> None:
    done = run_in_own_process(WITHOUT_METRICS)
    assert done.returncode == 0, done.stderr
    status, metrics_in_body, imported = done.stdout.split()
    assert status == "404"  # as any path the server does not serve
    assert (metrics_in_body, imported) == ("False", "False")


MISSING_EXTRA = """
import sys

sys.modules["prometheus_client"] = None  # as if the metrics extra were not installed
from execsrv.cli import main

sys.exit(main(["serve", "--metrics"]))
"""


def test_the_flag_without_the_extra_is_a_clear_startup_error() -> None:
    done = run_in_own_process(MISSING_EXTRA)
    assert done.returncode == 2
    assert done.stdout == ""  # nothing was bound
    assert "--metrics needs the prometheus-client package" in done.stderr
    assert "pip install 'execsrv[metrics]'" in done.stderr
