"""``http/request`` as each generation asks for it, through a real execsrv to the
test HTTP server: 0.171's ``redirectPolicy``, ``valueEnvVar`` headers, gzip
decoding, its redirect loop and zero-timeout text, and 0.130 left as it was.

A request is 0.171 when it has ``redirectPolicy`` or a ``valueEnvVar`` (or its
session has spoken 0.171); the client's ``redirect_policy="follow"`` makes one.
"""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any

import pytest
import trio

import execsrv
from execsrv import RemoteError
from execsrv.client import HttpBodyStream, HttpResponse, HttpStreamError
from execsrv.http import MAX_PIECE_BYTES

from ..servers import open_execsrv
from ..wire import WireClient, open_wire
from .server import HttpServer, pattern

WAIT = 10
SECRET_VAR = "EXECSRV_TEST_HTTP_SECRET"


async def body_of(response: HttpResponse) -> bytes:
    if isinstance(response.body, bytes):
        return response.body
    assert isinstance(response.body, HttpBodyStream)
    received = bytearray()
    async for chunk in response.body:
        assert len(chunk) <= MAX_PIECE_BYTES
        received += chunk
    return bytes(received)


def sent_headers(response_body: bytes) -> list[list[str]]:
    headers: list[list[str]] = json.loads(response_body)["headers"]
    return headers


@pytest.fixture
async def wire(server: execsrv.ExecServer) -> Any:
    assert server.url is not None
    async with open_wire(server.url) as client:
        await client.handshake("generations")
        yield client


async def request(wire: WireClient, **params: Any) -> dict[str, Any]:
    with trio.fail_after(WAIT):
        return await wire.request("http/request", {"method": "GET", "requestId": "r", **params})


# -- redirectPolicy ----------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
async def test_stop_returns_the_redirect_as_is(
    client: execsrv.Client, http_server: HttpServer, stream: bool
) -> None:
    with trio.fail_after(WAIT):
        response = await client.http.request(
            "GET", http_server.url("/redirect?to=/echo"), redirect_policy="stop", stream=stream
        )
        assert await body_of(response) == b""
    assert (response.status, response.header("location")) == (302, "/echo")
    assert [r.target for r in http_server.received] == ["/redirect?to=/echo"]


@pytest.mark.parametrize("path", ["/loop", "/redirect?to=ftp://x/"])
async def test_stop_returns_what_following_would_refuse(
    client: execsrv.Client, http_server: HttpServer, path: str
) -> None:
    with trio.fail_after(WAIT):
        response = await client.http.request("GET", http_server.url(path), redirect_policy="stop")
    assert response.status == 302


async def test_follow_is_the_default(client: execsrv.Client, http_server: HttpServer) -> None:
    with trio.fail_after(WAIT):
        response = await client.http.request(
            "GET", http_server.url("/redirect?to=/echo"), redirect_policy="follow"
        )
    assert response.status == 200


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ("bogus", "unknown variant `bogus`, expected `follow` or `stop`"),
        ("Follow", "unknown variant `Follow`, expected `follow` or `stop`"),
        (None, "invalid type: null, expected string or map"),
    ],
)
async def test_bad_policies(
    wire: WireClient, http_server: HttpServer, policy: Any, message: str
) -> None:
    response = await request(wire, url=http_server.url(), redirectPolicy=policy)
    assert response["error"] == {"code": -32602, "message": message}


# -- valueEnvVar -----------------------------------------------------------------------------


async def test_env_var_header_sends_the_servers_value(
    client: execsrv.Client, http_server: HttpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_VAR, "s3cr3t")
    with trio.fail_after(WAIT):
        response = await client.http.request(
            "GET", http_server.url(), headers=[("X-Key", "Bearer ", SECRET_VAR), ("X-Plain", "1")]
        )
    assert isinstance(response.body, bytes)
    assert sent_headers(response.body)[:2] == [["x-key", "Bearer s3cr3t"], ["x-plain", "1"]]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "http/request header X-Key requires executor environment variable {var}"),
        ("", "http/request header X-Key requires a non-empty executor environment variable {var}"),
        ("a\nb", "http/request header value is invalid for X-Key: failed to parse header value"),
    ],
)
async def test_env_var_header_errors(
    wire: WireClient,
    http_server: HttpServer,
    monkeypatch: pytest.MonkeyPatch,
    value: str | None,
    message: str,
) -> None:
    if value is None:
        monkeypatch.delenv(SECRET_VAR, raising=False)
    else:
        monkeypatch.setenv(SECRET_VAR, value)
    header = {"name": "X-Key", "value": "v", "valueEnvVar": SECRET_VAR}
    response = await request(wire, url=http_server.url(), headers=[header])
    assert response["error"] == {"code": -32602, "message": message.format(var=SECRET_VAR)}
    assert http_server.received == []


async def test_env_var_is_checked_after_the_name_and_in_order(
    wire: WireClient, http_server: HttpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SECRET_VAR, raising=False)
    unset = {"name": "X-Key", "value": "v", "valueEnvVar": SECRET_VAR}
    response = await request(wire, url=http_server.url(), headers=[{**unset, "name": "a b"}])
    assert response["error"]["message"] == (
        "http/request header name is invalid: invalid HTTP header name"
    )
    bad_value = {"name": "X-A", "value": "\n"}
    response = await request(wire, url=http_server.url(), headers=[bad_value, unset])
    assert response["error"]["message"] == (
        "http/request header value is invalid for X-A: failed to parse header value"
    )
    response = await request(wire, url="relative", headers=[unset])
    assert (
        response["error"]["message"] == "http/request url is invalid: relative URL without a base"
    )


async def test_env_var_values_never_reach_the_log(http_server: HttpServer) -> None:
    """Debug logging of a server whose header secrets are used, refused (a control
    character) and sent to a port that is closed: the values appear nowhere."""
    secrets = {SECRET_VAR: "s3cr3t-used", SECRET_VAR + "_BAD": "s3cr3t-bad\n"}
    async with open_execsrv("--log-level", "debug", env=secrets) as server:
        with trio.fail_after(30):
            async with open_wire(server.url) as wire:
                await wire.handshake("log-audit")
                for variable, url in [
                    (SECRET_VAR, http_server.url()),
                    (SECRET_VAR + "_BAD", http_server.url()),
                    (SECRET_VAR, "http://127.0.0.1:1/"),
                ]:
                    header = {"name": "X-Key", "value": "v", "valueEnvVar": variable}
                    await request(wire, url=url, headers=[header])
                await wire.notify("not/a/method", {})  # closes the connection: logged
                await wire.wait_closed()
            while "session detached" not in server.stderr_text():  # noqa: ASYNC110 (another process)
                await trio.sleep(0.05)
        stderr = server.stderr_text()
    assert " DEBUG " in stderr, stderr
    assert "s3cr3t" not in stderr
    assert http_server.received[0].header("x-key") == ["vs3cr3t-used"]


# -- compressed bodies -----------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("framing", ["", "&chunked=1"])
async def test_a_0171_request_decodes_gzip(
    client: execsrv.Client, http_server: HttpServer, stream: bool, framing: str
) -> None:
    url = http_server.url(f"/gzip?n=300000&chunk=7000{framing}")
    with trio.fail_after(WAIT):
        response = await client.http.request("GET", url, redirect_policy="follow", stream=stream)
        assert await body_of(response) == pattern(300000)
    names = [name for name, _ in response.headers]
    assert "content-encoding" not in names
    assert "content-length" not in names
    assert http_server.received[0].header("accept-encoding") == ["gzip"]


async def test_a_0130_request_gets_the_body_as_sent(
    client: execsrv.Client, http_server: HttpServer
) -> None:
    with trio.fail_after(WAIT):
        response = await client.http.request("GET", http_server.url("/gzip?n=5000"))
    assert response.body == gzip.compress(pattern(5000), mtime=0)
    assert response.header("content-encoding") == "gzip"
    assert response.header("content-length") == str(len(response.body))
    assert http_server.received[0].header("accept-encoding") == []


async def test_a_session_that_spoke_0171_decodes(
    client: execsrv.Client, http_server: HttpServer
) -> None:
    with trio.fail_after(WAIT):
        await client.http.request("GET", http_server.url(), redirect_policy="follow")
        response = await client.http.request("GET", http_server.url("/gzip?n=5000"))
    assert response.body == pattern(5000)


@pytest.mark.parametrize(
    ("query", "method", "decoded"),
    [
        ("n=5000&enc=GZIP", "GET", False),  # exactly `gzip`, as reqwest
        ("n=5000&enc=x-gzip", "GET", False),
        ("n=5000&enc=gzip,%20identity", "GET", False),
        ("n=5000&members=2", "GET", True),  # the first member only, as reqwest
        ("n=5000&junk=garbage", "GET", True),  # what follows the member is ignored
        ("n=5000", "HEAD", True),  # headers removed, nothing to decode
    ],
)
async def test_what_is_decoded(
    client: execsrv.Client, http_server: HttpServer, query: str, method: str, decoded: bool
) -> None:
    with trio.fail_after(WAIT):
        response = await client.http.request(
            method, http_server.url(f"/gzip?{query}"), redirect_policy="follow"
        )
    assert (response.header("content-encoding") is None) == decoded
    if method == "HEAD":
        assert response.body == b""
    elif decoded:
        assert response.body == pattern(2500 if "members" in query else 5000)
    else:
        assert isinstance(response.body, bytes)
        assert response.body.startswith(b"\x1f\x8b")


async def test_a_given_accept_encoding_is_kept_and_gzip_still_decoded(
    client: execsrv.Client, http_server: HttpServer
) -> None:
    with trio.fail_after(WAIT):
        response = await client.http.request(
            "GET",
            http_server.url("/gzip?n=5000"),
            headers={"accept-encoding": "identity"},
            redirect_policy="follow",
        )
    assert response.body == pattern(5000)
    assert http_server.received[0].headers[:2] == [
        ("accept-encoding", "identity"),
        ("accept", "*/*"),
    ]


@pytest.mark.parametrize("query", ["damage=1", "cut=1"])
async def test_a_corrupt_gzip_body_fails(
    client: execsrv.Client, http_server: HttpServer, query: str
) -> None:
    url = http_server.url(f"/gzip?n=5000&{query}")
    with trio.fail_after(WAIT):
        with pytest.raises(RemoteError) as raised:
            await client.http.request("GET", url, redirect_policy="follow")
        assert raised.value.code == -32603
        assert raised.value.message == (
            "failed to read http/request response body: error decoding response body"
        )
        response = await client.http.request("GET", url, redirect_policy="follow", stream=True)
        with pytest.raises(HttpStreamError, match="error decoding response body"):
            await body_of(response)


async def test_a_gzip_bomb_is_bounded(client: execsrv.Client, http_server: HttpServer) -> None:
    """20 MB of zeros in 20 KB: the buffered answer stops at the 1 MiB limit of the
    test server config; streamed, it arrives in pieces of at most 1 MiB."""
    url = http_server.url("/gzip?n=20000000&zeros=1")
    with trio.fail_after(WAIT):
        with pytest.raises(RemoteError, match="larger than the limit of 1048576 bytes"):
            await client.http.request("GET", url, redirect_policy="follow")
        response = await client.http.request("GET", url, redirect_policy="follow", stream=True)
        assert await body_of(response) == bytes(20_000_000)


async def test_stream_deltas_are_at_most_1_mib(wire: WireClient, http_server: HttpServer) -> None:
    """A server writing 4 MB at a time still gives frames of at most 1 MiB."""
    url = http_server.url("/bytes?n=5000000&chunk=4000000")
    response = await request(wire, url=url, streamResponse=True)
    assert response["result"]["status"] == 200
    sizes: list[int] = []
    with trio.fail_after(WAIT):
        while True:
            frame = (await wire.next_notification("http/request/bodyDelta"))["params"]
            if frame["done"]:
                break
            sizes.append(len(base64.b64decode(frame["deltaBase64"])))
    assert max(sizes) <= MAX_PIECE_BYTES
    assert sum(sizes) == 5_000_000


# -- 0.171's redirect loop and zero timeout ------------------------------------------


async def test_0171_redirects_add_the_defaults_per_hop(
    client: execsrv.Client, http_server: HttpServer
) -> None:
    with trio.fail_after(WAIT):
        await client.http.request(
            "POST",
            http_server.url("/redirect?status=302"),
            headers=[("X-K", "1"), ("content-type", "text/plain")],
            body=b"hello",
            redirect_policy="follow",
        )
    second = http_server.received[1]
    assert second.headers == [
        ("x-k", "1"),
        ("referer", http_server.url("/redirect?status=302")),
        ("accept", "*/*"),
        ("accept-encoding", "gzip"),
        ("host", f"127.0.0.1:{http_server.port}"),
    ]


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/loop", "http/request failed: too many redirects"),
        (
            "/redirect?to=ftp://x/",
            "http/request failed: redirect target uses unsupported URL scheme: ftp",
        ),
    ],
)
async def test_0171_redirect_errors(
    client: execsrv.Client, http_server: HttpServer, path: str, message: str
) -> None:
    with trio.fail_after(WAIT):
        with pytest.raises(RemoteError) as raised:
            await client.http.request("GET", http_server.url(path), redirect_policy="follow")
    assert (raised.value.code, raised.value.message) == (-32603, message)


@pytest.mark.parametrize("stream", [False, True])
async def test_zero_timeout_by_generation(
    wire: WireClient, http_server: HttpServer, stream: bool
) -> None:
    url = http_server.url("/hang")
    params = {"url": url, "timeoutMs": 0, "streamResponse": stream}
    response = await request(wire, **params)
    assert response["error"] == {
        "code": -32603,
        "message": f"http/request failed: error sending request for url ({url})",
    }
    response = await request(wire, **params, redirectPolicy="follow")
    assert response["error"] == {
        "code": -32603,
        "message": "http/request failed: route-aware request timed out",
    }
    assert http_server.connections == 0
