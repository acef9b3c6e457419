"""Write a parsed TOML document back as codex 0.171 does (the ``toml`` crate).

``environmentConfig/read`` answers with each config layer re-serialised after
keeping only the requested keys, and codex's clients parse that text, so the
layout follows ``toml::to_string`` of a ``toml::Value`` table:

- a table's plain values first (in document order), then its sub-tables, each
  under a ``[dotted.header]`` preceded by a blank line; a table holding only
  sub-tables gets no header of its own; an empty one does;
- a non-empty array of tables is written as ``[[header]]`` blocks; other arrays
  inline, as ``[1, { x = 1 }]``;
- strings in the first form of ``"…"``, ``'…'``, ``\"\"\"…\"\"\"``, ``'''…'''`` that
  needs no escape (``toml_writer``'s rules), else an escaped basic string;
- keys bare when they are ``[A-Za-z0-9_-]+``, else quoted the same way;
- floats in Rust's notation (``1.0``, ``1e100`` written out in full, ``inf``,
  ``nan``), date-times as TOML spells them.

Limits (what :mod:`tomllib` does not keep): a UTC offset written ``+00:00`` comes
back as ``Z``, and fractions of a second beyond microseconds are lost; an inline
table nested in an inline table is written ``{ a = { b = 1 } }``.
"""

from __future__ import annotations

import datetime
import math
import re
from decimal import Decimal
from typing import Any, Final

__all__ = ["dumps"]

_BARE_KEY: Final = re.compile(r"[A-Za-z0-9_-]+")


def dumps(document: dict[str, Any]) -> str:
    """``document`` (as :func:`tomllib.loads` gives it) as TOML text; ``""`` if empty."""
    blocks: list[list[str]] = []
    _table(document, [], blocks, header=None)
    return "\n".join("".join(line + "\n" for line in block) for block in blocks if block)


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _table(
    table: dict[str, Any], path: list[str], blocks: list[list[str]], header: str | None
) -> None:
    """Append the blocks of ``table``: its header and values, then its sub-tables."""
    values = [
        (key, value)
        for key, value in table.items()
        if not isinstance(value, dict) and not _is_table_array(value)
    ]
    block: list[str] = []
    if header is not None:
        block.append(header)
    elif path and (values or not table):
        block.append(f"[{_dotted(path)}]")
    block.extend(f"{_key(key)} = {_inline(value)}" for key, value in values)
    blocks.append(block)
    for key, value in table.items():
        if isinstance(value, dict):
            _table(value, [*path, key], blocks, header=None)
        elif _is_table_array(value):
            for item in value:
                _table(item, [*path, key], blocks, header=f"[[{_dotted([*path, key])}]]")


def _dotted(path: list[str]) -> str:
    return ".".join(_key(key) for key in path)


def _inline(value: Any) -> str:
    match value:
        case bool():
            return "true" if value else "false"
        case int():
            return str(value)
        case float():
            return _float(value)
        case str():
            return _string(value)
        case datetime.datetime():
            return _datetime(value)
        case datetime.date():
            return value.isoformat()
        case datetime.time():
            return _time(value)
        case list():
            return "[" + ", ".join(_inline(item) for item in value) + "]"
        case dict():
            if not value:
                return "{}"
            items = ", ".join(f"{_key(key)} = {_inline(item)}" for key, item in value.items())
            return "{ " + items + " }"
    raise TypeError(f"not a TOML value: {value!r}")


def _float(value: float) -> str:
    """Rust's ``{}`` of an f64 (never an exponent), with ``.0`` when whole."""
    if math.isnan(value):
        return "-nan" if math.copysign(1.0, value) < 0 else "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    text = format(Decimal(repr(value)), "f")
    return text if "." in text else text + ".0"


def _time(value: datetime.time) -> str:
    text = f"{value.hour:02}:{value.minute:02}:{value.second:02}"
    if value.microsecond:
        text += "." + f"{value.microsecond * 1000:09}".rstrip("0")
    return text


def _datetime(value: datetime.datetime) -> str:
    text = f"{value.date().isoformat()}T{_time(value.time())}"
    offset = value.utcoffset()
    if offset is None:
        return text
    minutes = int(offset.total_seconds()) // 60
    if minutes == 0:
        return text + "Z"
    sign = "-" if minutes < 0 else "+"
    hours, minutes = divmod(abs(minutes), 60)
    return f"{text}{sign}{hours:02}:{minutes:02}"


# -- strings and keys (toml_writer's TomlStringBuilder / TomlKeyBuilder) --------------


def _max_run(text: str, char: str) -> int:
    return max((len(run) for run in re.findall(f"{re.escape(char)}+", text)), default=0)


def _needs_escape_code(text: str) -> bool:
    """A control character other than tab and newline (including ``\\r``, DEL)."""
    return any((ord(c) <= 0x1F and c not in "\t\n") or c == "\x7f" for c in text)


def _string(text: str) -> str:
    codes = _needs_escape_code(text)
    backslash = "\\" in text
    newline = "\n" in text
    doubles = _max_run(text, '"')
    singles = _max_run(text, "'")
    if not (codes or backslash or doubles or newline):
        return _escaped(text, '"', multiline=False)
    if not (codes or singles or newline):
        return f"'{text}'"
    if not (codes or backslash or doubles > 2):
        return _escaped(text, '"""', multiline=True)
    if not (codes or singles > 2):
        return "'''" + ("\n" if newline else "") + text + "'''"
    return _escaped(text, '"""' if newline else '"', multiline=newline)


_SHORT_ESCAPES: Final = {"\b": "\\b", "\t": "\\t", "\f": "\\f", "\r": "\\r", "\\": "\\\\"}


def _escaped(text: str, delimiter: str, *, multiline: bool) -> str:
    """A basic string; in a multi-line one only every third ``"`` in a row is escaped."""
    allowed_quotes = 2 if multiline else 0
    out = [delimiter, "\n" if multiline and "\n" in text else ""]
    quotes = 0
    for char in text:
        if char == '"':
            quotes += 1
            if quotes > allowed_quotes:
                out.append('\\"')
                quotes = 0
                continue
            out.append(char)
            continue
        quotes = 0
        if char == "\n":
            out.append(char if multiline else "\\n")
        elif char in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[char])
        elif ord(char) <= 0x1F or char == "\x7f":
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    out.append(delimiter)
    return "".join(out)


def _key(key: str) -> str:
    if _BARE_KEY.fullmatch(key):
        return key
    codes = any((ord(c) <= 0x1F and c != "\t") or c == "\x7f" for c in key)
    if not (codes or "\\" in key or '"' in key):
        return f'"{key}"'
    if not (codes or "'" in key):
        return f"'{key}'"
    return _escaped(key, '"', multiline=False)
