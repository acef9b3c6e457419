"""Workload 10: a streamed ``http/request`` download, N bytes from a local HTTP server.

The load generator serves the bytes itself, from a thread, on 127.0.0.1 (a
plain blocking HTTP/1.1 server writing one pre-built 1 MiB block over and
over, so it is never the bottleneck). The exec-server fetches them with
``streamResponse: true`` and relays them as ``http/request/bodyDelta``
notifications; the clock runs from sending the request to the ``done`` frame.
The load generator's CPU therefore includes the HTTP server thread.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import msgspec

from .servers import CpuWatch, Server
from .workloads import Sizes
from .wsclient import WsClient

BLOCK = b"\x5a" * (1 << 20)


class _Bytes(BaseHTTPRequestHandler):
    """``GET /bytes?n=N``: N bytes with a content-length."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        query = parse_qs(urlsplit(self.path).query)
        n = int(query.get("n", ["0"])[0])
        self.send_response(200)
        self.send_header("content-length", str(n))
        self.end_headers()
        view = memoryview(BLOCK)
        try:
            while n > 0:
                step = min(n, len(BLOCK))
                self.wfile.write(view[:step])
                n -= step
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet


@contextmanager
def serving_bytes() -> Iterator[str]:
    """A local HTTP server for the duration of the block; yields its base URL."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Bytes)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, name="bench-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


class _Params(msgspec.Struct):
    requestId: str | None = None  # camelCase: the wire names
    seq: int = 0
    deltaBase64: bytes = b""  # base64 on the wire: msgspec decodes it
    done: bool = False
    error: str | None = None


class _Message(msgspec.Struct):
    id: int | str | None = None
    method: str | None = None
    params: _Params | None = None
    error: msgspec.Raw = msgspec.Raw()


_decode = msgspec.json.Decoder(_Message).decode


def http_download(server: Server, sizes: Sizes) -> dict[str, object]:
    """One streamed ``GET`` of ``sizes.http_bytes``; decoded body bytes per second."""
    total = sizes.http_bytes
    with serving_bytes() as base:
        client = WsClient(server.url, mode="nodelay")
        try:
            client.initialize()
            params = {
                "method": "GET",
                "url": f"{base}/bytes?n={total}",
                "requestId": "download",
                "streamResponse": True,
            }
            request_id, payload = client.request_bytes("http/request", params)
            watch = CpuWatch(server.pid)
            client.send_raw(payload)
            received = frames = 0
            next_seq = 1
            done = False
            while not done:
                for raw in client.recv_payloads():
                    m = _decode(raw)
                    if m.id == request_id and m.error:
                        raise RuntimeError(f"http/request failed: {bytes(m.error)!r}")
                    if m.method != "http/request/bodyDelta" or m.params is None:
                        continue
                    if m.params.seq != next_seq:
                        raise RuntimeError(f"frame {m.params.seq}, expected {next_seq}")
                    next_seq += 1
                    frames += 1
                    received += len(m.params.deltaBase64)
                    if m.params.done:
                        if m.params.error is not None:
                            raise RuntimeError(f"body failed: {m.params.error}")
                        done = True
            watch.stop()
            wall = watch.seconds
        finally:
            client.close()
    if received != total:
        raise RuntimeError(f"received {received} of {total} bytes")
    return {
        "bytes": received,
        "seconds": wall,
        "mb_per_s": received / wall / 1e6,
        "frames": frames,
        "avg_frame_kb": received / max(frames, 1) / 1024,
        **watch.percents(),
    }
