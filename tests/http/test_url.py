"""URL parsing against what codex 0.130.0 answered for the same inputs (probed live).

Each case is the URL given to ``http/request`` and either the URL the
reference then used (its error messages print it) or its parse error.
"""

from __future__ import annotations

import pytest

from execsrv.http import InvalidUrl, UnsupportedScheme, parse_url

PARSED = [
    ("http:///x", "http://x/"),
    ("  http:/127.0.0.1:5/echo?a=é&b=<> ", "http://127.0.0.1:5/echo?a=%C3%A9&b=%3C%3E"),
    ("http:127.0.0.1:5/echo", "http://127.0.0.1:5/echo"),
    ("http://0x7f.1:5/%7e/./x/..//y;z?q=%zz#f", "http://127.0.0.1:5/%7e//y;z?q=%zz#f"),
    ("http://[::1]:1/", "http://[::1]:1/"),
    ("http://xn--nxasmq6b.invalid:80/", "http://xn--nxasmq6b.invalid/"),
    ("http://ü.invalid/", "http://xn--tda.invalid/"),
    ("http://a_b.Test/", "http://a_b.test/"),
    ("http://a..b/", "http://a..b/"),
    ("http://0x7f.0.0.1x/", "http://0x7f.0.0.1x/"),
    ("http://h:/p", "http://h/p"),
    ("http://@h/p", "http://h/p"),
    ("HTTPS://H/a%2e%2E/b/%2e/c?#", "https://h/a%2e%2E/b/c?#"),
    ('http://h/a\\b/{c}`|^"', "http://h/a/b/%7Bc%7D%60|^%22"),
    ("http://h/?a='\"`{}", "http://h/?a=%27%22`{}"),
    ("http://h/#a b<>`é", "http://h/#a%20b%3C%3E%60%C3%A9"),
    ("http://h\t\n/x y", "http://h/x%20y"),
    ("https://h:443/x", "https://h/x"),
    ("http://ExAmple.COM./x", "http://example.com./x"),
    ("http://a%41b/", "http://aab/"),
    ("http://4294967295/", "http://255.255.255.255/"),
    ("http://h:0/", "http://h:0/"),
    ("HTTP://h:80/a b/../c?x=a b", "http://h/c?x=a%20b"),
]

INVALID = [
    ("http://", "empty host"),
    ("http://u@/p", "empty host"),
    ("", "relative URL without a base"),
    ("relative", "relative URL without a base"),
    ("http://a b/", "invalid international domain name"),
    ("http://a<b/", "invalid international domain name"),
    ("http://a%20b/", "invalid international domain name"),
    ("http://xn--a/", "invalid international domain name"),
    ("http://%zz/", "invalid international domain name"),
    ("ftp://a b/", "invalid international domain name"),
    ("http://h:99999/", "invalid port number"),
    ("http://h:8x/", "invalid port number"),
    ("http://[::1/", "invalid IPv6 address"),
    ("http://[1::2::3]/", "invalid IPv6 address"),
    ("http://1.2.3.256/", "invalid IPv4 address"),
    ("http://a.1/", "invalid IPv4 address"),
    ("http://4294967296/", "invalid IPv4 address"),
]


@pytest.mark.parametrize(("text", "expected"), PARSED)
def test_parsed_as_the_reference_does(text: str, expected: str) -> None:
    assert str(parse_url(text)) == expected


@pytest.mark.parametrize(("text", "message"), INVALID)
def test_parse_errors_read_as_the_reference_s(text: str, message: str) -> None:
    with pytest.raises(InvalidUrl) as caught:
        parse_url(text)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("text", "scheme"), [("ftp://x/", "ftp"), ("mailto:x", "mailto"), ("file:///etc", "file")]
)
def test_only_http_and_https(text: str, scheme: str) -> None:
    with pytest.raises(UnsupportedScheme) as caught:
        parse_url(text)
    assert caught.value.scheme == scheme


def test_credentials_are_decoded_and_removable() -> None:
    url = parse_url("http://us%40er:p%3Ass@h:443/x")
    assert url.credentials() == ("us@er", "p:ss")
    assert str(url.without_credentials()) == "http://h:443/x"
    assert parse_url("http://h/").credentials() is None


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("rel", "http://h:5/dir/rel"),
        ("../up", "http://h:5/up"),
        ("/abs?x", "http://h:5/abs?x"),
        ("//other:7/p", "http://other:7/p"),
        ("?q", "http://h:5/dir/page?q"),
        ("#g", "http://h:5/dir/page?a=1#g"),
        ("", "http://h:5/dir/page?a=1"),
        ("http:same-scheme", "http://h:5/dir/same-scheme"),
        ("HTTPS://X/", "https://x/"),
    ],
)
def test_redirect_locations_resolve_against_the_current_url(reference: str, expected: str) -> None:
    base = parse_url("http://h:5/dir/page?a=1#f")
    assert str(base.join(reference)) == expected


def test_a_redirect_to_another_scheme_names_the_url() -> None:
    base = parse_url("http://h/")
    with pytest.raises(UnsupportedScheme) as caught:
        base.join("ftp://x")
    assert caught.value.url == "ftp://x/"


def test_request_target_and_host_header() -> None:
    url = parse_url("http://[::1]:8080/p?q#f")
    assert url.target == "/p?q"
    assert url.authority == "[::1]:8080"
    assert url.connect_host == "::1"
    assert parse_url("https://h/").authority == "h"
