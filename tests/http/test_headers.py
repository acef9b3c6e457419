"""Header and method validation, and ``http::HeaderMap`` ordering (seen on the wire of codex)."""

from __future__ import annotations

import pytest

from execsrv.http import HeaderMap, InvalidHeaderName, InvalidHeaderValue, InvalidMethod
from execsrv.http.headers import header_name, header_value, is_visible_ascii, validate_method


def test_repeated_names_are_grouped_at_their_first_place() -> None:
    headers = HeaderMap([("a", b"1"), ("b", b"2"), ("a", b"3")])
    assert list(headers) == [("a", b"1"), ("a", b"3"), ("b", b"2")]


def test_remove_moves_the_last_name_into_the_gap() -> None:
    # codex: [authorization, cookie, x-a, accept] after a cross-host redirect
    # went out as [accept, x-a].
    headers = HeaderMap([("authorization", b"x"), ("cookie", b"c"), ("x-a", b"1")])
    headers.append("accept", b"*/*")
    headers.remove("authorization")
    headers.remove("cookie")
    headers.remove("absent")
    assert list(headers) == [("accept", b"*/*"), ("x-a", b"1")]


def test_insert_replaces_in_place_and_setdefault_appends_once() -> None:
    headers = HeaderMap([("referer", b"a"), ("x", b"1"), ("referer", b"b")])
    headers.insert("referer", b"c")
    headers.setdefault("x", b"2")
    headers.setdefault("accept", b"*/*")
    assert list(headers) == [("referer", b"c"), ("x", b"1"), ("accept", b"*/*")]
    assert headers.get("referer") == b"c"
    assert "accept" in headers
    assert len(headers) == 3


@pytest.mark.parametrize("method", ["GET", "get", "FOO", "M-SEARCH", "x!#$%&'*+.^_`|~"])
def test_any_token_is_a_method(method: str) -> None:
    assert validate_method(method) == method.encode()


@pytest.mark.parametrize("method", ["", "G ET", "GET\n", "GÉT", "(GET)"])
def test_invalid_methods(method: str) -> None:
    with pytest.raises(InvalidMethod, match=r"^invalid HTTP method$"):
        validate_method(method)


def test_names_are_lowercased_tokens() -> None:
    assert header_name("X-Custom") == "x-custom"
    for bad in ["", "a b", "a:b", "é", "a\n"]:
        with pytest.raises(InvalidHeaderName, match=r"^invalid HTTP header name$"):
            header_name(bad)


def test_values_refuse_controls_but_tab_and_send_utf8() -> None:
    assert header_value("x", "a\tb") == b"a\tb"
    assert header_value("x", " lead ") == b" lead "
    assert header_value("x", "café") == "café".encode()
    for bad in ["x\n", "a\rb", "a\x7fb", "\x00"]:
        with pytest.raises(InvalidHeaderValue, match=r"^failed to parse header value$") as caught:
            header_value("X-Name", bad)
        assert caught.value.name == "X-Name"


def test_visible_ascii_is_what_responses_keep() -> None:
    assert is_visible_ascii(b"a b\tc~")
    assert not is_visible_ascii(b"caf\xe9")
    assert not is_visible_ascii(b"a\x7f")
