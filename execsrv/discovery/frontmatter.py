"""A skill's front matter: the ``---``-delimited YAML block at the top of ``SKILL.md``.

codex reads it with a YAML library, after quoting plain values that hold ``: ``
(``description: Build for AWS: ECS``). execsrv has no YAML dependency and reads
the subset skills use: a block map of ``key: value`` lines, plain, single- and
double-quoted scalars (over several lines too), ``|`` and ``>`` block scalars,
comments, and a ``metadata:`` block map one level down. Other keys' nested
blocks are skipped unread. Anything else is invalid, and the skill is left out.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

__all__ = ["MAX_NAME_CHARS", "FrontMatter", "InvalidFrontMatter", "parse_front_matter"]

MAX_NAME_CHARS: Final = 64
_KEY: Final = re.compile(r"^([^\s:#][^:]*?):(?:\s+(.*))?$")
_ESCAPES: Final = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "/": "/", "0": "\0"}


class InvalidFrontMatter(Exception):
    """Missing, not the subset execsrv reads, or failing codex's checks."""


@dataclass(frozen=True, slots=True)
class FrontMatter:
    name: str
    description: str
    short_description: str | None


def parse_front_matter(contents: str, default_name: Callable[[], str]) -> FrontMatter:
    """The validated name, description and short description, each on one line."""
    block = _extract(contents)
    fields = _Block(block.split("\n")).read_map(0, wanted={"name", "description", "metadata"})
    metadata = fields.get("metadata")
    short = metadata.get("short-description") if isinstance(metadata, dict) else None
    name = _one_line(fields.get("name")) or default_name()
    description = _one_line(fields.get("description"))
    if len(name) > MAX_NAME_CHARS:
        raise InvalidFrontMatter(f"invalid name: exceeds maximum length of {MAX_NAME_CHARS}")
    if not description:
        raise InvalidFrontMatter("missing field `description`")
    return FrontMatter(name, description, _one_line(short) or None)


def _one_line(value: object) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidFrontMatter("invalid type: expected a string")
    return " ".join(value.split())


def _extract(contents: str) -> str:
    lines = contents.splitlines()
    if not lines or lines[0].strip() != "---":
        raise InvalidFrontMatter("missing YAML frontmatter delimited by ---")
    for index, line in enumerate(lines[1:], start=1):
        if line.strip() == "---":
            if index == 1:
                break
            return "\n".join(lines[1:index])
    raise InvalidFrontMatter("missing YAML frontmatter delimited by ---")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _is_blank(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


class _Block:
    """A cursor over the front matter's lines."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.index = 0

    def read_map(self, indent: int, wanted: set[str] | None) -> dict[str, object]:
        """``key: value`` lines at exactly ``indent``; only ``wanted`` keys are kept
        (None: all, as scalars), the others' nested blocks skipped."""
        result: dict[str, object] = {}
        while self.index < len(self.lines):
            line = self.lines[self.index]
            if _is_blank(line):
                self.index += 1
                continue
            if "\t" in line[: _indent(line) + 1]:
                raise InvalidFrontMatter("tabs are not indentation")
            if _indent(line) < indent:
                break
            if _indent(line) > indent:
                raise InvalidFrontMatter(f"unexpected indentation: {line!r}")
            match = _KEY.match(line.strip())
            if match is None:
                raise InvalidFrontMatter(f"not a `key: value` line: {line!r}")
            key, value = match.group(1).strip(), (match.group(2) or "").strip()
            if key in result:
                raise InvalidFrontMatter(f"duplicate entry with key {key!r}")
            self.index += 1
            result[key] = self._value(key, value, indent, wanted)
        return result

    def _value(self, key: str, value: str, indent: int, wanted: set[str] | None) -> object:
        if wanted is not None and key not in wanted:
            self._skip_nested(indent, value)
            return None
        if not value or value.startswith("#"):
            if key == "metadata" and wanted is not None:
                return self._nested_map(indent)
            self._skip_nested(indent, "")
            return None
        if value[0] in "|>":
            return self._block_scalar(indent)
        if value[0] in "\"'":
            return self._quoted(value)
        if value[0] in "[{":
            if key == "metadata" and value.replace(" ", "") == "{}":
                return {}
            if key in ("name", "description", "short-description"):
                raise InvalidFrontMatter(f"flow values are not read: {key}")
            return None
        return self._plain(value, indent)

    def _nested_map(self, indent: int) -> dict[str, object]:
        start = self.index
        while self.index < len(self.lines) and _is_blank(self.lines[self.index]):
            self.index += 1
        if self.index == len(self.lines) or _indent(self.lines[self.index]) <= indent:
            self.index = start
            return {}
        return self.read_map(_indent(self.lines[self.index]), wanted=None)

    def _skip_nested(self, indent: int, value: str) -> None:
        """Past the lines that belong to a value (more indented, or a top-level list)."""
        while self.index < len(self.lines):
            line = self.lines[self.index]
            is_list_item = not value and (line.strip().startswith("- ") or line.strip() == "-")
            if not _is_blank(line) and _indent(line) <= indent and not is_list_item:
                break
            self.index += 1

    def _continuation(self, indent: int) -> list[str]:
        """The following lines indented past ``indent`` (blank lines kept as empty)."""
        taken: list[str] = []
        while self.index < len(self.lines):
            line = self.lines[self.index]
            if line.strip() and _indent(line) <= indent:
                break
            taken.append(line.strip())
            self.index += 1
        while taken and not taken[-1]:
            taken.pop()
        return taken

    def _block_scalar(self, indent: int) -> str:
        return "\n".join(self._continuation(indent))

    def _plain(self, value: str, indent: int) -> str | None:
        text = " ".join([_strip_comment(value), *self._continuation(indent)])
        return None if text.strip() in ("~", "null", "Null", "NULL") else text

    def _quoted(self, value: str) -> str:
        quote, text = value[0], value[1:]
        parts: list[str] = []
        while True:
            end = _closing_quote(text, quote)
            if end is not None:
                parts.append(text[:end])
                rest = text[end + 1 :].strip()
                if rest and not rest.startswith("#"):
                    raise InvalidFrontMatter("text after a quoted scalar")
                break
            parts.append(text)
            if self.index == len(self.lines):
                raise InvalidFrontMatter("unterminated quoted scalar")
            text = self.lines[self.index].strip()
            self.index += 1
        joined = " ".join(parts)
        if quote == "'":
            return joined.replace("''", "'")
        return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), joined)


def _closing_quote(text: str, quote: str) -> int | None:
    index = 0
    while index < len(text):
        char = text[index]
        if quote == '"' and char == "\\":
            index += 2
            continue
        if char == quote:
            if quote == "'" and text[index + 1 : index + 2] == "'":
                index += 2
                continue
            return index
        index += 1
    return None


def _strip_comment(value: str) -> str:
    match = re.search(r"\s#", value)
    return value[: match.start()] if match else value
