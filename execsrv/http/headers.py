"""Methods and headers with the reference's validation rules and ordering.

The reference keeps headers in Rust's ``http::HeaderMap``, and that shows on
the wire: all values of one name sit together at the name's first position
(``a: 1, b: 2, a: 3`` is sent as ``a: 1, a: 3, b: 2``), names are lowercase,
and removing a name moves the *last* name into its place (``swap_remove``),
which decides the order after a redirect drops headers. :class:`HeaderMap`
reproduces exactly that.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Final

from .errors import InvalidHeaderName, InvalidHeaderValue, InvalidMethod

__all__ = ["HeaderMap", "header_name", "header_value", "is_visible_ascii", "validate_method"]

_TOKEN: Final = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_VALUE_BYTE: Final = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_NOT_VISIBLE: Final = re.compile(rb"[^\x20-\x7e\t]")


def validate_method(method: str) -> bytes:
    """The method's bytes, sent as given (case-sensitive); raises :class:`InvalidMethod`."""
    data = method.encode()
    if not _TOKEN.fullmatch(data):
        raise InvalidMethod
    return data


def header_name(name: str) -> str:
    """The lowercased name; raises :class:`InvalidHeaderName` unless it is a token."""
    if not name.isascii() or not _TOKEN.fullmatch(name.encode()):
        raise InvalidHeaderName(name)
    return name.lower()


def header_value(name: str, value: str) -> bytes:
    """The value's UTF-8 bytes; control characters other than tab are refused.

    As with ``http::HeaderValue::from_str``, bytes above 0x7f are accepted, so
    non-ASCII text goes out as UTF-8.
    """
    data = value.encode()
    if _BAD_VALUE_BYTE.search(data):
        raise InvalidHeaderValue(name)
    return data


def is_visible_ascii(value: bytes) -> bool:
    """True if ``HeaderValue::to_str`` would accept it (visible ASCII, space, tab)."""
    return not _NOT_VISIBLE.search(value)


class HeaderMap:
    """Lowercase names, each with its values in order, in ``http::HeaderMap`` order."""

    def __init__(self, items: Iterable[tuple[str, bytes]] = ()) -> None:
        self._entries: list[tuple[str, list[bytes]]] = []
        self._index: dict[str, int] = {}
        for name, value in items:
            self.append(name, value)

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def __iter__(self) -> Iterator[tuple[str, bytes]]:
        for name, values in self._entries:
            for value in values:
                yield name, value

    def __len__(self) -> int:
        return sum(len(values) for _, values in self._entries)

    def __repr__(self) -> str:
        return f"HeaderMap({list(self)!r})"

    def copy(self) -> HeaderMap:
        return HeaderMap(self)

    def get(self, name: str) -> bytes | None:
        """The first value of ``name``."""
        index = self._index.get(name)
        return None if index is None else self._entries[index][1][0]

    def append(self, name: str, value: bytes) -> None:
        """Add a value; a new name goes last, a known one joins its group."""
        index = self._index.get(name)
        if index is None:
            self._index[name] = len(self._entries)
            self._entries.append((name, [value]))
        else:
            self._entries[index][1].append(value)

    def insert(self, name: str, value: bytes) -> None:
        """Replace every value of ``name`` (keeping its place), or append it."""
        index = self._index.get(name)
        if index is None:
            self.append(name, value)
        else:
            self._entries[index] = (name, [value])

    def replace_from(self, other: HeaderMap) -> None:
        """Give each of ``other``'s names its values there, keeping known names' places."""
        for name, values in other._entries:
            index = self._index.get(name)
            if index is None:
                self._index[name] = len(self._entries)
                self._entries.append((name, list(values)))
            else:
                self._entries[index] = (name, list(values))

    def setdefault(self, name: str, value: bytes) -> None:
        """Append ``name`` unless it is present."""
        if name not in self._index:
            self.append(name, value)

    def remove(self, name: str) -> None:
        """Drop every value of ``name``; the last name moves into its place."""
        index = self._index.pop(name, None)
        if index is None:
            return
        last = self._entries.pop()
        if index < len(self._entries):
            self._entries[index] = last
            self._index[last[0]] = index
