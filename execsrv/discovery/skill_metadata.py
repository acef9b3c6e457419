"""A skill's ``agents/openai.yaml``: the ``dependencies`` and ``policy`` codex 0.171
reports for it in ``capabilities/discoverV2``.

codex reads the file with a YAML library into typed fields and fails open: a
file it cannot read or parse gives neither (both null), never a warning, and the
skill is still listed. execsrv has no YAML dependency and reads the subset these
files use (block maps and sequences, ``[...]`` flow sequences of scalars, ``{}``,
plain, quoted and block scalars, comments); anything else counts as invalid,
that is as codex treats a file it cannot parse.

Typing as codex's: unknown keys are ignored; a string field takes any scalar
(``null``/``~`` is absent) but not a map or a list; a bool takes only
``true``/``false`` (plain); ``products`` holds only ``chatgpt``, ``codex`` and
``atlas``; ``interface`` is checked (a map of scalars) but not reported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from .frontmatter import InvalidFrontMatter, _Block, _closing_quote, _strip_comment

__all__ = ["SkillMetadata", "parse_skill_metadata"]

MAX_NAME_CHARS: Final = 64
MAX_TEXT_CHARS: Final = 1_024
PRODUCTS: Final = frozenset({"chatgpt", "codex", "atlas"})
_TOOL_FIELDS: Final = (
    ("type", MAX_NAME_CHARS),
    ("value", MAX_TEXT_CHARS),
    ("description", MAX_TEXT_CHARS),
    ("transport", MAX_NAME_CHARS),
    ("command", MAX_TEXT_CHARS),
    ("url", MAX_TEXT_CHARS),
)
_NULLS: Final = frozenset({"", "~", "null", "Null", "NULL"})
_BOOLS: Final = {"true": True, "True": True, "TRUE": True, "false": False}
_BOOLS.update({"False": False, "FALSE": False})


@dataclass(frozen=True, slots=True)
class SkillMetadata:
    """The wire values (camelCase dicts), or None."""

    dependencies: dict[str, Any] | None
    policy: dict[str, Any] | None


NONE: Final = SkillMetadata(None, None)


class _Invalid(Exception):
    pass


@dataclass(frozen=True, slots=True)
class _Scalar:
    text: str
    plain: bool


def parse_skill_metadata(contents: str) -> SkillMetadata:
    """What codex reports for ``contents``; both None when it is not valid."""
    try:
        document = _Yaml(contents.split("\n")).document()
        return _interpret(document)
    except (_Invalid, InvalidFrontMatter, RecursionError):
        return NONE


def _interpret(document: object) -> SkillMetadata:
    if document is None:
        return NONE
    if not isinstance(document, dict):
        raise _Invalid("not a map")
    interface = _map_or_none(document.get("interface"))
    for value in (interface or {}).values():
        _string(value)
    dependencies = _map_or_none(document.get("dependencies"))
    policy = _map_or_none(document.get("policy"))
    tools: list[dict[str, Any]] = []
    if dependencies is not None:
        raw_tools = _list_or_none(dependencies.get("tools")) or []
        for raw in raw_tools:
            tool = _map_or_none(raw)
            if tool is None:
                raise _Invalid("a tool is not a map")
            fields = {name: _string(tool.get(name)) for name, _ in _TOOL_FIELDS}
            resolved = _resolve_tool(fields)
            if resolved is not None:
                tools.append(resolved)
    resolved_policy = None
    if policy is not None:
        allow = policy.get("allow_implicit_invocation")
        if allow is not None and not (isinstance(allow, _Scalar) and allow.plain):
            raise _Invalid("not a bool")
        allowed = None if allow is None else _bool(allow)
        products = []
        for product in _list_or_none(policy.get("products")) or []:
            name = _string(product)
            if name not in PRODUCTS:
                raise _Invalid(f"unknown product {name!r}")
            products.append(name)
        resolved_policy = {"allowImplicitInvocation": allowed, "products": products}
    return SkillMetadata({"tools": tools} if tools else None, resolved_policy)


def _resolve_tool(fields: dict[str, str | None]) -> dict[str, Any] | None:
    resolved: dict[str, Any] = {}
    for name, limit in _TOOL_FIELDS:
        value = fields[name]
        if value is not None:
            value = " ".join(value.split())
            if not value or len(value) > limit:
                value = None
        if value is None and name in ("type", "value"):
            return None
        resolved[name] = value
    resolved["oauthCallbackPort"] = None
    return resolved


def _map_or_none(value: object) -> dict[str, object] | None:
    if value is None or isinstance(value, dict):
        return value
    if isinstance(value, _Scalar) and value.plain and value.text in _NULLS:
        return None
    raise _Invalid("not a map")


def _list_or_none(value: object) -> list[object] | None:
    if value is None or isinstance(value, list):
        return value
    if isinstance(value, _Scalar) and value.plain and value.text in _NULLS:
        return None
    raise _Invalid("not a list")


def _string(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, _Scalar):
        raise _Invalid("not a string")
    if value.plain and value.text in _NULLS:
        return None
    return value.text


def _bool(value: _Scalar) -> bool | None:
    if value.text in _NULLS:
        return None
    if value.text not in _BOOLS:
        raise _Invalid("not a bool")
    return _BOOLS[value.text]


class _Yaml:
    """Block YAML over lines: maps, sequences, scalars (as :class:`_Scalar`)."""

    _KEY = re.compile(r"^([^\s:#\-\[\]{},'\"][^:]*?|-[^\s:][^:]*?):(?:\s+(.*))?$")

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.index = 0

    def document(self) -> object:
        self._skip_blank()
        if self.index == len(self.lines):
            return None
        line = self.lines[self.index]
        if line.strip() in ("---",):
            self.index += 1
            self._skip_blank()
        value = self._node(self._indent(), sequence_indent=-1)
        self._skip_blank()
        if self.index < len(self.lines) and self.lines[self.index].strip() not in ("...", "---"):
            raise _Invalid(f"unexpected line {self.lines[self.index]!r}")
        return value

    def _indent(self) -> int:
        line = self.lines[self.index]
        if "\t" in line[: len(line) - len(line.lstrip()) + 1]:
            raise _Invalid("tabs are not indentation")
        return len(line) - len(line.lstrip(" "))

    def _skip_blank(self) -> None:
        while self.index < len(self.lines):
            stripped = self.lines[self.index].strip()
            if stripped and not stripped.startswith("#"):
                return
            self.index += 1

    def _node(self, indent: int, sequence_indent: int) -> object:
        """The block node whose first line is the current one, at ``indent``."""
        stripped = self.lines[self.index].strip()
        if stripped == "-" or stripped.startswith("- "):
            return self._sequence(indent)
        return self._map(indent)

    def _sequence(self, indent: int) -> list[object]:
        items: list[object] = []
        while True:
            self._skip_blank()
            if self.index == len(self.lines) or self._indent() != indent:
                break
            line = self.lines[self.index]
            stripped = line.strip()
            if not (stripped == "-" or stripped.startswith("- ")):
                break
            rest = stripped[1:].lstrip(" ")
            if not rest or rest.startswith("#"):
                self.index += 1
                self._skip_blank()
                if self.index < len(self.lines) and self._indent() > indent:
                    items.append(self._node(self._indent(), indent))
                else:
                    items.append(None)
                continue
            item_indent = len(line) - len(line.lstrip(" ")) + (len(stripped) - len(rest))
            if self._KEY.match(rest) and not rest.startswith(("[", "{", "'", '"')):
                # `- key: value` opens a map whose keys align after the dash.
                self.lines[self.index] = " " * item_indent + rest
                items.append(self._map(item_indent))
            else:
                self.index += 1
                items.append(self._inline(rest, indent))
        return items

    def _map(self, indent: int) -> dict[str, object]:
        result: dict[str, object] = {}
        while True:
            self._skip_blank()
            if self.index == len(self.lines):
                break
            current = self._indent()
            if current < indent:
                break
            if current > indent:
                raise _Invalid(f"unexpected indentation: {self.lines[self.index]!r}")
            stripped = self.lines[self.index].strip()
            if stripped == "-" or stripped.startswith("- ") or stripped in ("---", "..."):
                break
            match = self._KEY.match(stripped)
            if match is None:
                raise _Invalid(f"not a `key: value` line: {stripped!r}")
            key, value = match.group(1).strip(), (match.group(2) or "").strip()
            if key in result:
                raise _Invalid(f"duplicate key {key!r}")
            self.index += 1
            if not value or value.startswith("#"):
                self._skip_blank()
                nested = self.index < len(self.lines)
                following = self.lines[self.index].strip() if nested else ""
                is_item = following == "-" or following.startswith("- ")
                if nested and (self._indent() > indent or (self._indent() == indent and is_item)):
                    result[key] = self._node(self._indent(), indent)
                else:
                    result[key] = None
            else:
                result[key] = self._inline(value, indent)
        return result

    def _inline(self, value: str, indent: int) -> object:
        """A value that starts on its key's (or dash's) line."""
        if value[0] in "|>":
            block = _Block(self.lines)
            block.index = self.index
            text = block._block_scalar(indent)
            self.index = block.index
            return _Scalar(text, plain=False)
        if value[0] in "\"'":
            block = _Block(self.lines)
            block.index = self.index
            text = block._quoted(value)
            self.index = block.index
            return _Scalar(text, plain=False)
        if value[0] == "[":
            return self._flow_sequence(_strip_comment(value).strip())
        if value[0] == "{":
            if _strip_comment(value).replace(" ", "") == "{}":
                return {}
            raise _Invalid("flow maps are not read")
        if value[0] in "&*!%@`":
            raise _Invalid("anchors, tags and reserved indicators are not read")
        block = _Block(self.lines)
        block.index = self.index
        plain = block._plain(value, indent)
        self.index = block.index
        if plain is not None and (": " in plain or plain.endswith(":")):
            raise _Invalid("a map where a scalar was expected")
        return _Scalar("null" if plain is None else plain, plain=True)

    def _flow_sequence(self, value: str) -> list[object]:
        if not value.endswith("]"):
            raise _Invalid("flow sequences must close on their line")
        inner = value[1:-1].strip()
        items: list[object] = []
        while inner:
            if inner[0] in "\"'":
                end = _closing_quote(inner[1:], inner[0])
                if end is None:
                    raise _Invalid("unterminated quoted scalar")
                text = inner[1 : end + 1]
                text = text.replace("''", "'") if inner[0] == "'" else text
                items.append(_Scalar(text, plain=False))
                inner = inner[end + 2 :].strip()
            else:
                end = inner.find(",")
                text = (inner if end < 0 else inner[:end]).strip()
                if not text or text[0] in "[]{}&*!|>%@`":
                    raise _Invalid("nested flow collections are not read")
                items.append(_Scalar(text, plain=True))
                inner = "" if end < 0 else inner[end:]
            if inner.startswith(","):
                inner = inner[1:].strip()
            elif inner:
                raise _Invalid("bad flow sequence")
        return items
