"""``http/request`` where codex 0.171 differs from 0.130 (0.171 spec §2.5), against
execsrv and the codex binaries alike.

A 0.171 request here carries ``redirectPolicy`` (only 0.171 sends it; execsrv
answers such a request as 0.171, codex 0.171 answers every request so). Tests of
0.171 behaviour skip on a codex 0.130 server, tests of 0.130 behaviour on a codex
0.171 server; execsrv runs both (see :mod:`.generations`), each with its own client.
The one other branch is by server kind: execsrv offers ``accept-encoding: gzip``
where codex offers ``zstd,gzip`` (execsrv has no zstd decoder).
"""

from __future__ import annotations

import base64
import gzip
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
import trio

from ..http.server import HttpServer, open_http_server, pattern
from ..wire import Message, WireClient
from .generations import v0130, v0171
from .support import WAIT, error, unb64

__all__ = ["v0130", "v0171"]  # fixtures used here

BODY_DELTA = "http/request/bodyDelta"
MIB = 1 << 20
UNSET_VARIABLE = "EXECSRV_CONFORMANCE_SURELY_UNSET"


@pytest.fixture
async def http_server() -> AsyncIterator[HttpServer]:
    async with open_http_server() as server:
        yield server


def get(url: str, request_id: str = "r", **extra: Any) -> dict[str, Any]:
    """A 0.171 request (``redirectPolicy`` present) unless ``extra`` overrides it."""
    return {
        "method": "GET",
        "url": url,
        "requestId": request_id,
        "redirectPolicy": "follow",
        **extra,
    }


async def call(wire: WireClient, params: Any) -> Message:
    with trio.fail_after(WAIT):
        return await wire.request("http/request", params)


async def ok(wire: WireClient, params: Any) -> dict[str, Any]:
    response = await call(wire, params)
    assert "result" in response, response
    result: dict[str, Any] = response["result"]
    return result


async def frames(wire: WireClient, request_id: str) -> list[dict[str, Any]]:
    received: list[dict[str, Any]] = []
    with trio.fail_after(WAIT):
        while not received or not received[-1]["done"]:
            message = await wire.next_notification(
                BODY_DELTA, lambda m: m["params"]["requestId"] == request_id
            )
            received.append(message["params"])
    assert [f["seq"] for f in received] == list(range(1, len(received) + 1))
    return received


def header_names(result: dict[str, Any]) -> list[str]:
    return [header["name"] for header in result["headers"]]


# -- redirectPolicy -----------------------------------------------------------------------


@pytest.mark.usefixtures("v0171")
@pytest.mark.parametrize("path", ["/redirect?to=/echo", "/loop", "/redirect?to=ftp://x/"])
async def test_stop_returns_the_first_response(
    wire: WireClient, http_server: HttpServer, path: str
) -> None:
    result = await ok(wire, get(http_server.url(path), redirectPolicy="stop"))
    assert result["status"] == 302
    assert len(http_server.received) == 1


@pytest.mark.usefixtures("v0171")
async def test_stop_with_a_stream(wire: WireClient, http_server: HttpServer) -> None:
    params = get(http_server.url("/redirect?status=307"), redirectPolicy="stop")
    result = await ok(wire, {**params, "streamResponse": True})
    assert result["status"] == 307
    assert await frames(wire, "r") == [
        {"requestId": "r", "seq": 1, "deltaBase64": "", "done": True, "error": None}
    ]


@pytest.mark.usefixtures("v0171")
@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ("bogus", "unknown variant `bogus`, expected `follow` or `stop`"),
        ("Stop", "unknown variant `Stop`, expected `follow` or `stop`"),
        (None, "invalid type: null, expected string or map"),
    ],
)
async def test_bad_policies(
    wire: WireClient, http_server: HttpServer, policy: Any, message: str
) -> None:
    response = await call(wire, get(http_server.url(), redirectPolicy=policy))
    assert response["error"] == error(-32602, message)


# -- valueEnvVar ----------------------------------------------------------------------------


@pytest.mark.usefixtures("v0171")
async def test_value_env_var_appends_the_servers_variable(
    wire: WireClient, http_server: HttpServer
) -> None:
    """The server inherited the test's environment, so its HOME is this HOME (codex
    changes its PATH)."""
    headers = [{"name": "X-Home", "value": "home=", "valueEnvVar": "HOME"}]
    await ok(wire, get(http_server.url(), headers=headers))
    assert http_server.received[0].header("x-home") == ["home=" + os.environ["HOME"]]


@pytest.mark.usefixtures("v0171")
async def test_value_env_var_unset(wire: WireClient, http_server: HttpServer) -> None:
    headers = [{"name": "X-Key", "value": "v", "valueEnvVar": UNSET_VARIABLE}]
    response = await call(wire, get(http_server.url(), headers=headers))
    assert response["error"] == error(
        -32602, f"http/request header X-Key requires executor environment variable {UNSET_VARIABLE}"
    )
    response = await call(wire, get("relative", headers=headers))
    assert response["error"] == error(
        -32602, "http/request url is invalid: relative URL without a base"
    )
    assert http_server.received == []


# -- compressed bodies -------------------------------------------------------------------


@pytest.mark.usefixtures("v0171")
@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("framing", ["", "&chunked=1"])
async def test_gzip_is_offered_and_decoded(
    wire: WireClient, http_server: HttpServer, kind: str, stream: bool, framing: str
) -> None:
    params = get(http_server.url(f"/gzip?n=300000&chunk=7000{framing}"), streamResponse=stream)
    result = await ok(wire, params)
    body = b"".join(unb64(f["deltaBase64"]) for f in await frames(wire, "r")) if stream else b""
    assert (body or unb64(result["bodyBase64"])) == pattern(300000)
    assert "content-encoding" not in header_names(result)
    assert "content-length" not in header_names(result)
    (offered,) = http_server.received[0].header("accept-encoding")
    assert offered == ("gzip" if kind == "execsrv" else "zstd,gzip")


@pytest.mark.usefixtures("v0130")
async def test_0130_gets_gzip_as_sent(wire: WireClient, http_server: HttpServer) -> None:
    result = await ok(
        wire, {"method": "GET", "url": http_server.url("/gzip?n=5000"), "requestId": "r"}
    )
    assert unb64(result["bodyBase64"]) == gzip.compress(pattern(5000), mtime=0)
    assert header_names(result) == ["content-encoding", "content-length"]
    assert http_server.received[0].header("accept-encoding") == []


@pytest.mark.usefixtures("v0171")
@pytest.mark.parametrize(
    ("query", "method", "body"),
    [
        ("n=5000&enc=GZIP", "GET", None),
        ("n=5000&enc=x-gzip", "GET", None),
        ("n=5000&members=2", "GET", pattern(2500)),
        ("n=5000&junk=garbage", "GET", pattern(5000)),
        ("n=5000", "HEAD", b""),
    ],
)
async def test_what_is_decoded(
    wire: WireClient, http_server: HttpServer, query: str, method: str, body: bytes | None
) -> None:
    result = await ok(wire, get(http_server.url(f"/gzip?{query}"), method=method))
    if body is None:  # passed through
        assert header_names(result) == ["content-encoding", "content-length"]
        assert unb64(result["bodyBase64"]).startswith(b"\x1f\x8b")
    else:
        assert header_names(result) == []
        assert unb64(result["bodyBase64"]) == body


@pytest.mark.usefixtures("v0171")
@pytest.mark.parametrize("query", ["damage=1", "cut=1"])
async def test_a_corrupt_body(wire: WireClient, http_server: HttpServer, query: str) -> None:
    url = http_server.url(f"/gzip?n=5000&{query}")
    response = await call(wire, get(url))
    assert response["error"] == error(
        -32603, "failed to read http/request response body: error decoding response body"
    )
    await ok(wire, get(url, "s", streamResponse=True))
    last = (await frames(wire, "s"))[-1]
    assert (last["done"], last["error"]) == (True, "error decoding response body")


@pytest.mark.usefixtures("v0171")
@pytest.mark.parametrize("path", ["/bytes?n=5000000&chunk=4000000", "/gzip?n=20000000&zeros=1"])
async def test_deltas_are_at_most_1_mib(
    wire: WireClient, http_server: HttpServer, path: str
) -> None:
    await ok(wire, get(http_server.url(path), streamResponse=True))
    sizes = [len(base64.b64decode(f["deltaBase64"])) for f in await frames(wire, "r")]
    assert max(sizes) <= MIB
    assert sum(sizes) == (5_000_000 if "bytes" in path else 20_000_000)


# -- 0.171's redirect loop and zero timeout --------------------------------------------


@pytest.mark.usefixtures("v0171")
async def test_defaults_come_after_referer(wire: WireClient, http_server: HttpServer) -> None:
    headers = [{"name": "X-K", "value": "1"}, {"name": "content-type", "value": "text/plain"}]
    params = get(http_server.url("/redirect?status=302"), method="POST", headers=headers)
    await ok(wire, {**params, "bodyBase64": base64.b64encode(b"hello").decode()})
    second = http_server.received[1]
    assert [name for name, _ in second.headers] == [
        "x-k",
        "referer",
        "accept",
        "accept-encoding",
        "host",
    ]


@pytest.mark.usefixtures("v0171")
@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/loop", "too many redirects"),
        ("/redirect?to=ftp://x/", "redirect target uses unsupported URL scheme: ftp"),
    ],
)
async def test_redirect_errors(
    wire: WireClient, http_server: HttpServer, path: str, message: str
) -> None:
    response = await call(wire, get(http_server.url(path)))
    assert response["error"] == error(-32603, f"http/request failed: {message}")


@pytest.mark.usefixtures("v0171")
@pytest.mark.parametrize("stream", [False, True])
async def test_zero_timeout(wire: WireClient, http_server: HttpServer, stream: bool) -> None:
    response = await call(wire, get(http_server.url("/hang"), timeoutMs=0, streamResponse=stream))
    assert response["error"] == error(-32603, "http/request failed: route-aware request timed out")
