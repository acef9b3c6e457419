"""The h11 runner on its own (no RPC) against the test server on 127.0.0.1.

What the wire looks like is compared with what codex 0.130.0 sent to the same
test server (probed live): header order, added headers, redirect rewrites.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Sequence

import pytest
import trio

from execsrv.http import (
    MAX_REDIRECTS,
    BodyFailed,
    HttpExchange,
    HttpRequest,
    RequestFailed,
    ResponseHead,
)

from .conftest import closed_port
from .server import HttpServer, pattern

WAIT = 10


async def fetch(
    url: str,
    method: str = "GET",
    headers: Sequence[tuple[str, str]] = (),
    body: bytes | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> tuple[ResponseHead, bytes]:
    request = HttpRequest.build(method, url, headers, body)
    with trio.fail_after(WAIT):
        async with HttpExchange(request, ssl_context=ssl_context) as exchange:
            head = await exchange.send()
            data = b""
            while chunk := await exchange.receive_some():
                data += chunk
    return head, data


async def read_into(exchange: HttpExchange, into: bytearray) -> None:
    while chunk := await exchange.receive_some():
        into += chunk


async def test_headers_in_header_map_order_then_accept_host_length(
    http_server: HttpServer,
) -> None:
    headers = [("A", "1"), ("B", "2"), ("a", "3"), ("Accept", "text/x")]
    head, body = await fetch(http_server.url(), "POST", headers, b"hello")
    assert head.status == 200
    (received,) = http_server.received
    host = f"127.0.0.1:{http_server.port}"
    assert received.headers == [
        ("a", "1"),
        ("a", "3"),
        ("b", "2"),
        ("accept", "text/x"),
        ("host", host),
        ("content-length", "5"),
    ]
    assert received.body == b"hello"
    assert json.loads(body)["method"] == "POST"


async def test_method_case_host_override_and_normalised_target(http_server: HttpServer) -> None:
    url = f"HTTP://127.0.0.1:{http_server.port}/a b/../echo?x=a b#frag"
    await fetch(url, "get", [("Host", "example.test")])
    (received,) = http_server.received
    assert (received.method, received.target) == ("get", "/echo?x=a%20b")
    assert received.headers == [("host", "example.test"), ("accept", "*/*")]


async def test_url_credentials_become_basic_authorization_first(http_server: HttpServer) -> None:
    await fetch(f"http://u:p@127.0.0.1:{http_server.port}/echo", headers=[("x", "1")])
    (received,) = http_server.received
    assert [name for name, _ in received.headers] == ["authorization", "x", "accept", "host"]
    assert received.header("authorization") == ["Basic dTpw"]


async def test_empty_body_sends_no_content_length(http_server: HttpServer) -> None:
    await fetch(http_server.url(), "POST", body=b"")
    assert http_server.received[0].header("content-length") == []


async def test_response_headers_grouped_and_lowercased(http_server: HttpServer) -> None:
    head, body = await fetch(http_server.url("/headers"))
    assert list(head.headers) == [
        ("x-one", b"1"),
        ("x-multi", b"a"),
        ("x-multi", b"c"),
        ("x-other", b"b"),
        ("x-bin", b"caf\xe9"),  # the handler drops it; the runner keeps raw values
        ("x-tab", b"a\tb"),
        ("content-length", b"2"),
    ]
    assert body == b"ok"


@pytest.mark.parametrize("path", ["/bytes?n=300000&chunk=70000", "/chunked?n=300000&chunk=7000"])
async def test_bodies_arrive_whole(http_server: HttpServer, path: str) -> None:
    head, body = await fetch(http_server.url(path))
    assert head.status == 200
    assert body == pattern(300000)


async def test_head_has_no_body(http_server: HttpServer) -> None:
    head, body = await fetch(http_server.url("/bytes?n=10"), "HEAD")
    assert (head.status, head.headers.get("content-length"), body) == (200, b"10", b"")


@pytest.mark.parametrize("path", ["/broken?n=100000", "/broken?n=100000&chunked=1"])
async def test_broken_body(http_server: HttpServer, path: str) -> None:
    request = HttpRequest.build("GET", http_server.url(path), [], None)
    with trio.fail_after(WAIT):
        async with HttpExchange(request) as exchange:
            await exchange.send()
            received = bytearray()
            with pytest.raises(BodyFailed, match=r"^error decoding response body$"):
                await read_into(exchange, received)
    assert 0 < len(received) < 100000


async def test_connect_failure_names_the_url() -> None:
    url = f"http://127.0.0.1:{closed_port()}/x"
    with pytest.raises(RequestFailed) as caught:
        await fetch(url)
    assert str(caught.value) == f"error sending request for url ({url})"


async def test_post_302_becomes_get_without_payload_headers(http_server: HttpServer) -> None:
    headers = [("X-K", "1"), ("content-type", "text/plain")]
    head, _ = await fetch(http_server.url("/redirect?status=302"), "POST", headers, b"hello")
    first, second = http_server.received
    assert (first.method, first.body) == ("POST", b"hello")
    assert (second.method, second.target, second.body) == ("GET", "/echo", b"")
    referer = http_server.url("/redirect?status=302")
    assert second.headers == [
        ("x-k", "1"),
        ("accept", "*/*"),
        ("referer", referer),
        ("host", f"127.0.0.1:{http_server.port}"),
    ]
    assert head.url == head.url.join("/echo")


@pytest.mark.parametrize(
    ("method", "status", "expected_method", "body_kept"),
    [
        ("POST", 301, "GET", False),
        ("PUT", 302, "PUT", True),  # only POST changes on 301/302
        ("post", 302, "post", True),  # ... exactly POST
        ("DELETE", 302, "DELETE", False),  # no body to keep
        ("PUT", 303, "GET", False),
        ("HEAD", 303, "HEAD", False),
        ("POST", 307, "POST", True),
        ("PUT", 308, "PUT", True),
    ],
)
async def test_redirect_method_rules(
    http_server: HttpServer, method: str, status: int, expected_method: str, body_kept: bool
) -> None:
    body = None if method in ("DELETE", "HEAD") else b"hello"
    await fetch(http_server.url(f"/redirect?status={status}"), method, body=body)
    second = http_server.received[1]
    assert second.method == expected_method
    assert second.body == (b"hello" if body_kept else b"")


async def test_303_drops_payload_headers_with_swap_remove_order(http_server: HttpServer) -> None:
    headers = [
        ("content-type", "text/plain"),
        ("content-encoding", "x"),
        ("authorization", "x"),
        ("cookie", "c"),
    ]
    await fetch(http_server.url("/redirect?status=303"), "POST", headers, b"hello")
    names = [name for name, _ in http_server.received[1].headers]
    assert names == ["accept", "cookie", "authorization", "referer", "host"]


async def test_cross_host_redirect_drops_credentials(http_server: HttpServer) -> None:
    target = f"http://localhost:{http_server.port}/echo"
    headers = [("authorization", "x"), ("cookie", "c"), ("x-a", "1")]
    await fetch(http_server.url(f"/redirect?to={target}"), headers=headers)
    second = http_server.received[1]
    assert [name for name, _ in second.headers] == ["accept", "x-a", "referer", "host"]
    assert second.header("host") == [f"localhost:{http_server.port}"]


async def test_ten_redirects_are_followed_not_eleven(http_server: HttpServer) -> None:
    _, body = await fetch(http_server.url(f"/chain?n={MAX_REDIRECTS}"))
    assert json.loads(body)["target"] == "/chain?n=0"
    assert len(http_server.received) == MAX_REDIRECTS + 1
    with pytest.raises(RequestFailed) as caught:
        await fetch(http_server.url(f"/chain?n={MAX_REDIRECTS + 1}"))
    assert (
        str(caught.value) == f"error following redirect for url ({http_server.url('/chain?n=1')})"
    )


async def test_redirect_to_another_scheme(http_server: HttpServer) -> None:
    with pytest.raises(RequestFailed, match=r"^builder error for url \(ftp://x/\)$"):
        await fetch(http_server.url("/redirect?to=ftp://x/"))


@pytest.mark.parametrize("status", [300, 304, 305])
async def test_other_3xx_are_final(http_server: HttpServer, status: int) -> None:
    head, _ = await fetch(http_server.url(f"/redirect?status={status}"))
    assert head.status == status
    assert len(http_server.received) == 1


async def test_a_deadline_is_the_caller_s_cancel_scope(http_server: HttpServer) -> None:
    request = HttpRequest.build("GET", http_server.url("/hang"), [], None)
    exchange = HttpExchange(request)
    with trio.move_on_after(0.2) as scope:
        async with exchange:
            await exchange.send()
    assert scope.cancelled_caught
    assert str(exchange.url) == http_server.url("/hang")


async def test_tls_with_an_injected_context(
    https_server: HttpServer, client_ssl_context: ssl.SSLContext
) -> None:
    head, body = await fetch(https_server.url(), ssl_context=client_ssl_context)
    assert head.status == 200
    assert json.loads(body)["target"] == "/echo"


async def test_tls_untrusted_by_the_system_store(https_server: HttpServer) -> None:
    with pytest.raises(RequestFailed) as caught:
        await fetch(https_server.url())
    assert str(caught.value) == f"error sending request for url ({https_server.url()})"
    assert isinstance(caught.value.__cause__, ssl.SSLError | trio.BrokenResourceError)
