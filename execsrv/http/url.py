"""URL parsing for http and https, following the WHATWG URL standard.

The reference parses with the Rust ``url`` crate (a WHATWG parser), so what
goes on the wire, the URLs in error messages and the parse errors come from
that standard: ``HTTP://h:80/a b/../c`` is ``http://h/c`` with a space
percent-encoded, backslashes are slashes, tabs and newlines vanish, and a
failure reads ``empty host`` or ``invalid port number``.

Only what http(s) needs is implemented: special-scheme authorities (IPv4 in
all its WHATWG forms, IPv6, domains through IDNA), paths with dot segments,
queries and fragments, and relative references against a base (redirects).
International domain names go through Python's IDNA 2003 codec where the
reference uses UTS 46 (``faß`` becomes ``fass``, not ``xn--fa-hia``).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, replace
from typing import Final
from urllib.parse import unquote_to_bytes

from .errors import InvalidUrl, UnsupportedScheme

__all__ = ["Url", "parse_url"]

DEFAULT_PORTS: Final = {"http": 80, "https": 443, "ws": 80, "wss": 443, "ftp": 21}
"""Special schemes with a default port (``file`` is special too, without one)."""

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_C0_OR_SPACE = "".join(chr(c) for c in range(0x21))
_FORBIDDEN_DOMAIN = frozenset(" #%/:<>?@[\\]^|\x7f") | frozenset(chr(c) for c in range(0x20))

_C0_SET = frozenset(range(0x20)) | frozenset(range(0x7F, 0x100))
_FRAGMENT_SET = _C0_SET | frozenset(b' "<>`')
_QUERY_SET = _C0_SET | frozenset(b' "#<>')
_SPECIAL_QUERY_SET = _QUERY_SET | frozenset(b"'")
_PATH_SET = _QUERY_SET | frozenset(b"?`{}")
_USERINFO_SET = _PATH_SET | frozenset(b"/:;=@[\\]^|")


def _percent_encode(text: str, encode_set: frozenset[int]) -> str:
    if text.isascii() and not any(ord(c) in encode_set for c in text):
        return text
    return "".join(f"%{b:02X}" if b in encode_set else chr(b) for b in text.encode())


@dataclass(frozen=True)
class Url:
    """A parsed, normalised http(s) URL; ``str()`` is its WHATWG serialisation."""

    scheme: str
    host: str
    """A lowercased domain, a dotted IPv4 address, or ``[v6]``."""
    port: int | None
    """None for the scheme's default port."""
    path: str = "/"
    query: str | None = None
    fragment: str | None = None
    username: str = ""
    password: str | None = None

    def __str__(self) -> str:
        userinfo = ""
        if self.username or self.password is not None:
            userinfo = self.username + (f":{self.password}" if self.password is not None else "")
            userinfo += "@"
        query = "" if self.query is None else f"?{self.query}"
        fragment = "" if self.fragment is None else f"#{self.fragment}"
        return f"{self.scheme}://{userinfo}{self.authority}{self.path}{query}{fragment}"

    @property
    def authority(self) -> str:
        """``host[:port]`` as in the ``Host`` header (no port when it is the default)."""
        return self.host if self.port is None else f"{self.host}:{self.port}"

    @property
    def port_or_default(self) -> int:
        return self.port if self.port is not None else DEFAULT_PORTS[self.scheme]

    @property
    def connect_host(self) -> str:
        """The host to resolve or connect to (IPv6 without brackets)."""
        return self.host[1:-1] if self.host.startswith("[") else self.host

    @property
    def target(self) -> str:
        """The request target: path and query, never the fragment."""
        return self.path if self.query is None else f"{self.path}?{self.query}"

    def credentials(self) -> tuple[str, str | None] | None:
        """The percent-decoded username and password, if the URL has any."""
        if not self.username and self.password is None:
            return None
        password = None if self.password is None else unquote_to_bytes(self.password).decode()
        return unquote_to_bytes(self.username).decode(errors="replace"), password

    def without_credentials(self) -> Url:
        return replace(self, username="", password=None)

    def without_fragment(self) -> Url:
        return replace(self, fragment=None)

    def join(self, reference: str) -> Url:
        """Resolve ``reference`` (e.g. a ``Location`` header) against this URL."""
        return parse_url(reference, base=self)


def parse_url(text: str, *, base: Url | None = None) -> Url:
    """Parse an absolute http(s) URL, or a reference relative to ``base``.

    Raises:
        InvalidUrl: it does not parse (``relative URL without a base``, ``empty host``, …).
        UnsupportedScheme: it parses, but the scheme is not http or https.
    """
    text = text.strip(_C0_OR_SPACE).replace("\t", "").replace("\n", "").replace("\r", "")
    match = _SCHEME.match(text)
    if match is None:
        if base is None:
            raise InvalidUrl("relative URL without a base")
        return _relative(text, base)
    scheme = match.group()[:-1].lower()
    rest = text[match.end() :]
    if scheme not in DEFAULT_PORTS:  # not special (mailto:, data:, …) or file:
        raise UnsupportedScheme(scheme, text)
    if base is not None and base.scheme == scheme and not _starts_with_two_slashes(rest):
        return _relative(rest, base)
    url = _absolute(scheme, rest.lstrip("/\\"))
    if scheme not in ("http", "https"):
        raise UnsupportedScheme(scheme, str(url))
    return url


def _starts_with_two_slashes(text: str) -> bool:
    return len(text) >= 2 and text[0] in "/\\" and text[1] in "/\\"


def _split_tail(text: str) -> tuple[str, str | None, str | None]:
    """Split ``path?query#fragment``."""
    text, hash_sign, fragment = text.partition("#")
    text, question, query = text.partition("?")
    return (
        text,
        _percent_encode(query, _SPECIAL_QUERY_SET) if question else None,
        _percent_encode(fragment, _FRAGMENT_SET) if hash_sign else None,
    )


def _absolute(scheme: str, text: str) -> Url:
    """``text`` is everything after ``scheme:`` and the slashes."""
    end = len(text)
    for delimiter in "/\\?#":
        index = text.find(delimiter)
        if index != -1:
            end = min(end, index)
    authority, tail = text[:end], text[end:]
    username, password = "", None
    if "@" in authority:
        userinfo, _, authority = authority.rpartition("@")
        user, colon, secret = userinfo.partition(":")
        username = _percent_encode(user, _USERINFO_SET)
        password = _percent_encode(secret, _USERINFO_SET) if colon and secret else None
    host_text, port_text = _split_port(authority)
    host = _parse_host(host_text)
    port = _parse_port(port_text, scheme)
    path_text, query, fragment = _split_tail(tail)
    path = _serialize_path(_resolve_segments([], path_text))
    return Url(scheme, host, port, path, query, fragment, username, password)


def _relative(text: str, base: Url) -> Url:
    if _starts_with_two_slashes(text):
        return _absolute(base.scheme, text.lstrip("/\\"))
    path_text, query, fragment = _split_tail(text)
    if text.startswith(("/", "\\")):
        segments = _resolve_segments([], path_text)
    elif path_text:
        segments = _resolve_segments(base.path.split("/")[1:-1], path_text)
    else:
        segments = base.path.split("/")[1:]
        if not text.startswith("?") and query is None:  # only a fragment, or nothing
            query = base.query
    return replace(base, path=_serialize_path(segments), query=query, fragment=fragment)


def _split_port(authority: str) -> tuple[str, str | None]:
    if authority.startswith("["):
        close = authority.find("]")
        if close != -1 and authority[close + 1 : close + 2] == ":":
            return authority[: close + 1], authority[close + 2 :]
        return authority, None
    host, colon, port = authority.partition(":")
    return host, port if colon else None


def _parse_port(text: str | None, scheme: str) -> int | None:
    if not text:
        return None
    if not text.isascii() or not text.isdigit() or int(text) > 65535:
        raise InvalidUrl("invalid port number")
    port = int(text)
    return None if port == DEFAULT_PORTS.get(scheme) else port


def _parse_host(text: str) -> str:
    if not text:
        raise InvalidUrl("empty host")
    if text.startswith("["):
        if not text.endswith("]"):
            raise InvalidUrl("invalid IPv6 address")
        try:
            return f"[{ipaddress.IPv6Address(text[1:-1]).compressed}]"
        except ValueError:
            raise InvalidUrl("invalid IPv6 address") from None
    domain = unquote_to_bytes(text).decode(errors="replace")
    ascii_domain = _domain_to_ascii(domain)
    if not ascii_domain:
        raise InvalidUrl("empty host")
    if _ends_in_number(ascii_domain):
        return _parse_ipv4(ascii_domain)
    return ascii_domain


def _domain_to_ascii(domain: str) -> str:
    invalid = InvalidUrl("invalid international domain name")
    if any(c in _FORBIDDEN_DOMAIN for c in domain) or "\ufffd" in domain:
        raise invalid
    labels = []
    for label in domain.split("."):
        try:
            if label.isascii():
                label = label.lower()
                if label.startswith("xn--"):
                    label.encode().decode("idna")  # must be valid punycode
            else:
                label = label.encode("idna").decode()
        except UnicodeError:
            raise invalid from None
        labels.append(label)
    return ".".join(labels)


def _ends_in_number(domain: str) -> bool:
    parts = domain.split(".")
    if parts[-1] == "" and len(parts) > 1:
        parts.pop()
    last = parts[-1]
    if last and last.isascii() and last.isdigit():
        return True
    return _parse_ipv4_number(last) is not None and last.lower().startswith("0x")


def _parse_ipv4_number(text: str) -> int | None:
    if not text:
        return None
    base = 10
    if text[:2].lower() == "0x":
        text, base = text[2:], 16
    elif len(text) > 1 and text.startswith("0"):
        text, base = text[1:], 8
    if not text:
        return 0
    digits = "0123456789abcdef"[:base]
    if not all(c in digits for c in text.lower()):
        return None
    return int(text, base)


def _parse_ipv4(domain: str) -> str:
    invalid = InvalidUrl("invalid IPv4 address")
    parts = domain.split(".")
    if parts[-1] == "" and len(parts) > 1:
        parts.pop()
    if len(parts) > 4:
        raise invalid
    numbers = [_parse_ipv4_number(part) for part in parts]
    if any(n is None for n in numbers):
        raise invalid
    values = [n for n in numbers if n is not None]
    if any(n > 255 for n in values[:-1]) or values[-1] >= 256 ** (5 - len(values)):
        raise invalid
    address = values[-1]
    for index, n in enumerate(values[:-1]):
        address += n * 256 ** (3 - index)
    return str(ipaddress.IPv4Address(address))


def _is_single_dot(segment: str) -> bool:
    return segment in (".", "%2e", "%2E")


def _is_double_dot(segment: str) -> bool:
    return segment.lower() in ("..", ".%2e", "%2e.", "%2e%2e")


def _resolve_segments(segments: list[str], path: str) -> list[str]:
    """Append ``path``'s segments (after its leading slash) to ``segments``."""
    segments = list(segments)
    if path.startswith(("/", "\\")):
        path = path[1:]
    parts = re.split(r"[/\\]", path)
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if _is_double_dot(part):
            if segments:
                segments.pop()
            if last:
                segments.append("")
        elif _is_single_dot(part):
            if last:
                segments.append("")
        else:
            segments.append(_percent_encode(part, _PATH_SET))
    return segments


def _serialize_path(segments: list[str]) -> str:
    return "/" + "/".join(segments)
