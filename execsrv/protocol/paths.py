"""Path values on the wire: a plain absolute path (0.130) or a ``file:`` URI (0.171).

The two generations disagree on what a path is, and ``initialize`` says nothing
about the generation, so each value is told apart on its own
(:func:`form_of`): one with a URL scheme followed by ``//``, or with the
``file:`` scheme, is a URI (0.171's ``PathUri``); anything else is a plain path
with 0.130's rules and texts, unchanged (``AbsolutePathBuf``, or a relative
``process/start`` cwd).

A URI follows RFC 8089 as 0.171 parses it (the ``url`` crate, i.e. WHATWG):
``file://localhost/`` is local, ``file:`` and ``file:///`` are ``/``, ``.`` and
``..`` are resolved, ``\\`` separates segments, percent-escapes are decoded
to bytes (which need not be UTF-8: such a path is held as :func:`os.fsdecode`
gives it, with surrogate escapes, so it reaches the file system unchanged).
The checks come in two steps, as in 0.171: :func:`check_wire_path` is what
decoding the params rejects (``-32602``, before the handshake state), and
:func:`parse_wire_path` also turns the value into a host path, refusing a URI
naming another host or a Windows drive (``-32600``).

:func:`format_path` writes a host path back in either form, so a result can
answer in the form its request used. Sans-IO: no file system access here.
"""

from __future__ import annotations

import enum
import ipaddress
import os
import re
from dataclasses import dataclass
from typing import Final

from .errors import RpcError

__all__ = [
    "NOT_ABSOLUTE",
    "NOT_A_URI",
    "PathForm",
    "WirePath",
    "absolute_path",
    "check_wire_path",
    "form_of",
    "format_path",
    "parse_wire_path",
]

NOT_ABSOLUTE: Final = "AbsolutePathBuf deserialized without a base path"
"""0.130's ``-32602`` for a plain path that is not absolute (relative, empty, ``~``)."""

NOT_A_URI: Final = "invalid URI: relative URL without a base"
"""0.171's ``-32602`` for a path that is not a URI (plain, relative or empty)."""

_OS: Final = "linux"
"""The name 0.171 puts in ``'<uri>' is invalid on '<os>'`` (Rust's ``consts::OS``)."""


class PathForm(enum.Enum):
    """How a request spelled a path; also which generation sent it."""

    PLAIN = "plain"
    """An absolute (or, for a cwd, relative) path: codex 0.130."""
    URI = "uri"
    """A ``file:`` URI (``PathUri``): codex 0.171."""


@dataclass(frozen=True, slots=True)
class WirePath:
    """A path value of a request, as a host path, and the form it came in.

    ``path`` is a ``str`` as :func:`os.fsdecode` gives it: bytes that are not
    UTF-8 are surrogate escapes, so passing it to ``os`` functions reaches the
    same bytes. Plain paths are normalised as 0.130 does; relative cwds are
    kept as sent.
    """

    path: str
    form: PathForm

    def to_wire(self) -> str:
        """The path again, in the form the request used."""
        return format_path(self.path, self.form)


def absolute_path(text: str) -> str:
    """0.130's ``AbsolutePathBuf``: absolute only, normalised lexically.

    ``/root/../etc/./hostname`` and ``//etc/hostname/`` are ``/etc/hostname``;
    ``..`` at the root stays at the root. Symlinks are not resolved.

    Raises:
        RpcError: ``-32602`` :data:`NOT_ABSOLUTE` for anything not starting with ``/``.
    """
    if not text.startswith("/"):
        raise RpcError.invalid_params(NOT_ABSOLUTE)
    parts: list[str] = []
    for part in text.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return "/" + "/".join(parts)


# -- telling the forms apart --------------------------------------------------------

_C0_OR_SPACE: Final = "".join(map(chr, range(0x21)))
_SCHEME: Final = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")


def _scheme(text: str) -> tuple[str, str] | None:
    """The lowercased scheme and what follows its ``:``, as a URL parser reads them."""
    match = _SCHEME.match(text.strip(_C0_OR_SPACE))
    if match is None:
        return None
    return match.group(1).lower(), text.strip(_C0_OR_SPACE)[match.end() :]


def form_of(text: str) -> PathForm:
    """The form of one path value: :attr:`PathForm.URI` for ``file:…`` or ``scheme://…``.

    A value like ``a:b`` stays plain (a relative cwd to 0.130).
    """
    scheme = _scheme(text)
    if scheme is not None and (scheme[0] == "file" or scheme[1].startswith("//")):
        return PathForm.URI
    return PathForm.PLAIN


# -- file: URIs ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _FileUri:
    host: str | None  # None: local (absent, empty or `localhost`)
    path: str  # the URL's serialised path: `/`-separated, percent-encoded

    def __str__(self) -> str:
        return f"file://{self.host or ''}{self.path}"


def _invalid_uri(reason: str) -> RpcError:
    return RpcError.invalid_params(f"invalid URI: {reason}")


def _invalid_on_os(uri: _FileUri, *, code_invalid_request: bool) -> RpcError:
    message = f"'{uri}' is invalid on '{_OS}'"
    if code_invalid_request:
        return RpcError.invalid_request(message)
    return RpcError.invalid_params(message)


_PERCENT: Final = re.compile(rb"%([0-9A-Fa-f]{2})")


def _percent_decode(text: str) -> bytes:
    """Bytes of ``text`` with every valid ``%XX`` decoded (a stray ``%`` stays)."""
    data = text.encode("utf-8", "surrogatepass")
    return _PERCENT.sub(lambda m: bytes([int(m.group(1), 16)]), data)


# The WHATWG path percent-encode set (C0 controls, space, `"#<>?`{}`, DEL, non-ASCII).
_PATH_ENCODE: Final = frozenset(b'"#<>?`{}')
# What a file path's own bytes need encoded so they come back as one segment.
_SEGMENT_ENCODE: Final = _PATH_ENCODE | frozenset(b"%/\\")


def _encode(data: bytes, unsafe: frozenset[int]) -> str:
    return "".join(
        f"%{byte:02X}" if byte <= 0x20 or byte >= 0x7F or byte in unsafe else chr(byte)
        for byte in data
    )


def _encode_segment(segment: str) -> str:
    """A URL path segment as the parser writes it: existing ``%`` escapes kept."""
    out = []
    for char in segment:
        code = ord(char)
        if 0x20 < code < 0x7F and code not in _PATH_ENCODE:
            out.append(char)
        else:
            out.append(_encode(char.encode("utf-8", "surrogatepass"), _PATH_ENCODE))
    return "".join(out)


_FORBIDDEN_DOMAIN: Final = frozenset(" #/:<>?@[\\]^|%\x7f") | frozenset(map(chr, range(0x20)))
_DRIVE: Final = re.compile(r"[A-Za-z][:|]")


def _parse_host(raw: str) -> str | None:
    """The canonical host of a file URL; None for a local one."""
    if not raw:
        return None
    if raw.startswith("["):
        try:
            if not raw.endswith("]"):
                raise ValueError(raw)
            return f"[{ipaddress.IPv6Address(raw[1:-1]).compressed}]"
        except ValueError:
            raise _invalid_uri("invalid IPv6 address") from None
    host = _percent_decode(raw).decode("utf-8", "replace")
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise _invalid_uri("invalid international domain name") from None
    host = host.lower()
    if not host:
        raise _invalid_uri("empty host")
    if any(char in _FORBIDDEN_DOMAIN for char in host):
        raise _invalid_uri("invalid domain character")
    try:
        host = str(ipaddress.IPv4Address(host))
    except ValueError:
        pass
    return None if host == "localhost" else host


def _parse_file_uri(text: str) -> _FileUri:
    """Parse a ``file:`` URL as 0.171's ``PathUri::parse`` does; ``-32602`` on failure."""
    text = re.sub("[\t\n\r]", "", text.strip(_C0_OR_SPACE))
    rest = text[len("file:") :]
    host: str | None = None
    if rest[:2] in ("//", "\\\\", "/\\", "\\/"):
        after = rest[2:]
        end = next((i for i, char in enumerate(after) if char in "/\\?#"), len(after))
        raw_host, rest = after[:end], after[end:]
        if _DRIVE.fullmatch(raw_host):
            rest = raw_host + rest  # `file://C:/x` is `file:///C:/x`
        else:
            host = _parse_host(raw_host)
    path, hash_sign, _ = rest.partition("#")
    if "?" in path:
        raise RpcError.invalid_params("query parameters are not allowed in path URIs")
    if hash_sign:
        raise RpcError.invalid_params("fragments are not allowed in path URIs")
    segments = re.split(r"[/\\]", path)
    if path[:1] in ("/", "\\"):
        segments = segments[1:]
    kept: list[str] = []
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        lowered = segment.lower()
        if lowered in ("..", ".%2e", "%2e.", "%2e%2e"):
            if kept and not (len(kept) == 1 and _DRIVE.fullmatch(kept[0])):
                kept.pop()
            if last:
                kept.append("")
        elif lowered in (".", "%2e"):
            if last:
                kept.append("")
        else:
            if not kept and _DRIVE.fullmatch(segment):
                segment = segment[0] + ":"
            kept.append(_encode_segment(segment))
    uri = _FileUri(host, "/" + "/".join(kept))
    if 0 in _percent_decode(uri.path):
        raise _invalid_on_os(uri, code_invalid_request=False)
    return uri


def _check_uri(text: str) -> _FileUri:
    scheme = _scheme(text)
    assert scheme is not None
    if scheme[0] != "file":
        raise RpcError.invalid_params(f"unsupported path URI scheme `{scheme[0]}`")
    return _parse_file_uri(text)


def _host_path(uri: _FileUri) -> str:
    """The local path a URI names (``-32600`` for another host or a Windows drive)."""
    first = next((s for s in uri.path.split("/") if s), "")
    if uri.host is not None or _DRIVE.fullmatch(first):
        raise _invalid_on_os(uri, code_invalid_request=True)
    return absolute_path(os.fsdecode(_percent_decode(uri.path)))


# -- the interface --------------------------------------------------------------------


def check_wire_path(text: str, *, relative: bool = False) -> PathForm:
    """What decoding the params rejects (``-32602``); returns the value's form.

    ``relative`` allows a relative plain path (0.130's ``process/start`` cwd).

    Raises:
        RpcError: ``-32602``: :data:`NOT_ABSOLUTE` (plain), or 0.171's text for a
            URI it cannot parse (``unsupported path URI scheme `http```,
            ``query parameters are not allowed in path URIs``, …).
    """
    form = form_of(text)
    if form is PathForm.URI:
        _check_uri(text)
    elif not relative:
        absolute_path(text)
    return form


def parse_wire_path(text: str, *, relative: bool = False) -> WirePath:
    """The host path a value names, and its form.

    A plain path is normalised as 0.130 does (a cwd, when ``relative``
    allows one, is kept as sent); a URI is decoded and normalised as 0.171 does.

    Raises:
        RpcError: what :func:`check_wire_path` raises, and ``-32600``
            ``'file://otherhost/…' is invalid on 'linux'`` for a URI naming
            another host (or a Windows drive).
    """
    if form_of(text) is PathForm.URI:
        return WirePath(_host_path(_check_uri(text)), PathForm.URI)
    if relative:  # 0.130 hands a cwd to the OS as sent
        return WirePath(text, PathForm.PLAIN)
    return WirePath(absolute_path(text), PathForm.PLAIN)


def format_path(path: str | bytes, form: PathForm) -> str:
    """An absolute host path written in ``form``.

    As a URI every byte that is not plain ASCII (and ``%``, ``/`` inside a
    name, ``\\`` and the URL delimiters) is percent-encoded, so any name comes
    back whole through :func:`parse_wire_path`. As a plain path, bytes that
    are not UTF-8 become U+FFFD (JSON cannot carry them), and a relative path
    is written as given (0.130 decides what it means).

    Raises:
        ValueError: a relative path as a URI (a ``file:`` URI is always absolute).
    """
    data = os.fsencode(path)
    if form is PathForm.PLAIN:
        return data.decode("utf-8", "replace")
    if not data.startswith(b"/"):
        raise ValueError(f"a file: URI needs an absolute path, not {path!r}")
    names = [_encode(name, _SEGMENT_ENCODE) for name in data.split(b"/") if name]
    if names and _DRIVE.fullmatch(names[0]):  # `/A:` is a name here, not drive A:
        names[0] = names[0][0] + f"%{ord(names[0][1]):02X}"
    return "file://" + ("".join("/" + name for name in names) or "/")
