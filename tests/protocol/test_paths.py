"""The two path forms, as pure functions (execsrv/protocol/paths.py; issue 10, point 1).

0.130 sends plain absolute paths, 0.171 ``file:`` URIs; the texts and codes of
0.171's refusals are the measured ones (``../shared/spec/codex-exec-server-0.171.md``
§2.3, §2.4).
"""

from __future__ import annotations

import os

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from execsrv.protocol.errors import RpcError
from execsrv.protocol.paths import (
    NOT_ABSOLUTE,
    PathForm,
    WirePath,
    check_wire_path,
    form_of,
    format_path,
    parse_wire_path,
)

URI, PLAIN = PathForm.URI, PathForm.PLAIN


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("file:", "/"),
        ("file:///", "/"),
        ("file://", "/"),
        ("file://localhost/tmp", "/tmp"),
        ("file://LOCALHOST/tmp", "/tmp"),
        ("file:tmp", "/tmp"),
        ("file:/tmp", "/tmp"),
        ("FILE:///tmp", "/tmp"),
        ("file:///tmp/../etc/./", "/etc"),
        ("file:///../../x", "/x"),
        ("file:///a/%2E%2e/b/%2e", "/b"),
        ("file:///w/a%2Etxt", "/w/a.txt"),
        ("file:///a\\b", "/a/b"),
        ("file:///a%2Fb", "/a/b"),
        ("file:///odd%20dir%20100%25%20%C3%BC", "/odd dir 100% ü"),
        ("file:///raw ü/100%", "/raw ü/100%"),
        ("file:///bad%FF%fe", os.fsdecode(b"/bad\xff\xfe")),
    ],
)
def test_a_uri_names_a_host_path(text: str, path: str) -> None:
    assert check_wire_path(text) is URI
    assert parse_wire_path(text) == WirePath(path, URI)


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("/root/../etc/./hostname", "/etc/hostname"),
        ("//etc/hostname/", "/etc/hostname"),
        ("/a%20b", "/a%20b"),  # no decoding in the plain form
        ("/file:x", "/file:x"),
    ],
)
def test_a_plain_path_keeps_0130s_rules(text: str, path: str) -> None:
    assert check_wire_path(text) is PLAIN
    assert parse_wire_path(text) == WirePath(path, PLAIN)


@pytest.mark.parametrize("text", ["", "rel", "./x", "~", "a:b", "C:\\x"])
def test_a_plain_path_must_be_absolute(text: str) -> None:
    for check in (check_wire_path, parse_wire_path):
        with pytest.raises(RpcError) as raised:
            check(text)
        assert (raised.value.code, raised.value.message) == (-32602, NOT_ABSOLUTE)


@pytest.mark.parametrize("text", ["rel/dir", "", "a:b", "/x/../y"])
def test_a_plain_cwd_is_kept_as_sent(text: str) -> None:
    assert check_wire_path(text, relative=True) is PLAIN
    assert parse_wire_path(text, relative=True) == WirePath(text, PLAIN)


def test_a_uri_cwd_is_decoded() -> None:
    assert parse_wire_path("file:///tmp/../etc/./", relative=True) == WirePath("/etc", URI)


DECODE_ERRORS = [
    ("http://example.com/x", "unsupported path URI scheme `http`"),
    ("HTTPS://example.com/x", "unsupported path URI scheme `https`"),
    ("file:///a?b", "query parameters are not allowed in path URIs"),
    ("file:///a?", "query parameters are not allowed in path URIs"),
    ("file:///a#b", "fragments are not allowed in path URIs"),
    ("file:///a#b?c", "fragments are not allowed in path URIs"),
    ("file:///a%00b", "'file:///a%00b' is invalid on 'linux'"),
    ("file://user@host/x", "invalid URI: invalid domain character"),
    ("file://host:80/x", "invalid URI: invalid domain character"),
    ("file://[::1/x", "invalid URI: invalid IPv6 address"),
]


@pytest.mark.parametrize(("text", "message"), DECODE_ERRORS)
def test_what_decoding_a_uri_refuses(text: str, message: str) -> None:
    """``-32602``: 0.171 refuses these while decoding the params."""
    for check in (check_wire_path, parse_wire_path):
        with pytest.raises(RpcError) as raised:
            check(text)
        assert (raised.value.code, raised.value.message) == (-32602, message)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("file://otherhost/x", "'file://otherhost/x' is invalid on 'linux'"),
        ("file://OtherHost/a/../b%20c", "'file://otherhost/b%20c' is invalid on 'linux'"),
        ("file://127.0.0.1/x", "'file://127.0.0.1/x' is invalid on 'linux'"),
        ("file://[::1]/x", "'file://[::1]/x' is invalid on 'linux'"),
        ("file:///C:/x", "'file:///C:/x' is invalid on 'linux'"),
        ("file://c|/x", "'file:///c:/x' is invalid on 'linux'"),
    ],
)
def test_a_uri_naming_another_host_is_refused_when_used(text: str, message: str) -> None:
    """It decodes (``check_wire_path`` passes), then ``-32600`` as 0.171's handlers say."""
    assert check_wire_path(text) is URI
    with pytest.raises(RpcError) as raised:
        parse_wire_path(text)
    assert (raised.value.code, raised.value.message) == (-32600, message)


@pytest.mark.parametrize(
    ("text", "form"),
    [
        ("/x", PLAIN),
        ("x", PLAIN),
        ("a:b", PLAIN),
        ("file:x", URI),
        (" file:///x", URI),
        ("http://x", URI),
        ("git+ssh://x", URI),
    ],
)
def test_the_form_of_a_value(text: str, form: PathForm) -> None:
    assert form_of(text) is form


def test_formatting() -> None:
    path = b"/a b/100%/\xc3\xbc/\xff/x\\y/q?#"
    assert format_path(path, URI) == "file:///a%20b/100%25/%C3%BC/%FF/x%5Cy/q%3F%23"
    assert format_path(os.fsdecode(path), URI) == format_path(path, URI)
    assert format_path("/", URI) == "file:///"
    assert format_path("/a b/ü", PLAIN) == "/a b/ü"
    assert format_path(b"/\xff", PLAIN) == "/\ufffd"  # JSON cannot carry the byte
    assert WirePath("/a b", URI).to_wire() == "file:///a%20b"


# Any file name: bytes but `/` and NUL, and not `.` or `..`.
names = st.binary(min_size=1, max_size=12).filter(
    lambda name: b"/" not in name and b"\0" not in name and name not in (b".", b"..")
)
odd_names = st.sampled_from([b"a b", b"100%", b"%41", b"\xc3\xbc", b"\xff\xfe", b"x\\y", b"?#"])
host_paths = st.lists(names | odd_names, max_size=5).map(lambda parts: b"/" + b"/".join(parts))


@given(host_paths)
@example(b"/A|")  # a first name that reads as a Windows drive in a URI
@example(b"/c:/x")
def test_any_path_round_trips_as_a_uri(path: bytes) -> None:
    uri = format_path(path, URI)
    assert uri.isascii()
    assert parse_wire_path(uri) == WirePath(os.fsdecode(path), URI)
    assert os.fsencode(parse_wire_path(uri).path) == path


@given(host_paths.filter(lambda path: _is_utf8(path)))
def test_any_utf8_path_round_trips_plain(path: bytes) -> None:
    text = format_path(path, PLAIN)
    assert parse_wire_path(text) == WirePath(path.decode(), PLAIN)


@given(host_paths)
def test_a_localhost_uri_and_a_dotted_one_mean_the_same(path: bytes) -> None:
    uri = format_path(path, URI).removeprefix("file://")
    assert parse_wire_path("file://localhost" + uri).path == os.fsdecode(path)
    assert parse_wire_path("file://" + uri.rstrip("/") + "/./x/..").path == os.fsdecode(path)


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode()
    except UnicodeDecodeError:
        return False
    return True
