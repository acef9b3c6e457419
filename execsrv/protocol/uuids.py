"""UUID text as codex 0.171 reads it (Rust's ``uuid`` crate), with its error texts.

``process/start`` ``metadata.threadId`` is a ``ThreadId``, a UUID: codex accepts
the simple (32 hex digits), hyphenated (8-4-4-4-12), braced (``{…}``) and URN
(``urn:uuid:…``) forms, in either case, and refuses anything else with
``-32602`` and the crate's message (``invalid group count: expected 5, found
4``). Sans-IO.
"""

from __future__ import annotations

import uuid
from typing import Final

from .errors import RpcError

__all__ = ["parse_uuid"]

_HEX: Final = frozenset("0123456789abcdefABCDEF")
_GROUP_STARTS: Final = (0, 9, 14, 19, 24)
_GROUP_LENGTHS: Final = (8, 4, 4, 4, 12)
_URN: Final = "urn:uuid:"


def parse_uuid(text: str) -> uuid.UUID:
    """The UUID ``text`` names; ``RpcError`` ``-32602`` with the crate's message if none."""
    body = _body(text)
    if body is not None and len(body) == 32 and set(body) <= _HEX:
        return uuid.UUID(hex=body)
    raise RpcError.invalid_params(_why_invalid(text))


def _body(text: str) -> str | None:
    """The 32 hex digits of a well-formed UUID text, else None."""
    if len(text) == 32:
        return text
    if len(text) == 38 and text[0] == "{" and text[-1] == "}":
        text = text[1:-1]
    elif len(text) == 45 and text.startswith(_URN):
        text = text[len(_URN) :]
    if len(text) != 36 or any(text[start - 1] != "-" for start in _GROUP_STARTS[1:]):
        return None
    return text.replace("-", "")


def _why_invalid(text: str) -> str:
    """The crate's diagnosis of a text that is not a UUID (its ``InvalidUuid::into_err``)."""
    if len(text) >= 2 and text[0] == "{" and text[-1] == "}":
        body, offset, simple = text[1:-1], 1, False
    elif text.startswith(_URN):
        body, offset, simple = text[len(_URN) :], len(_URN), False
    else:
        body, offset, simple = text, 0, True
    hyphens: list[int] = []
    position = 0  # a byte index, as Rust's char_indices gives
    for character in body:
        if character == "-":
            hyphens.append(position)
        elif character not in _HEX:
            return (
                "invalid character: expected an optional prefix of `urn:uuid:` followed by "
                f"[0-9a-fA-F-], found `{character}` at {position + offset + 1}"
            )
        position += len(character.encode())
    if not hyphens and simple:
        return f"invalid length: expected length 32 for simple format, found {len(text)}"
    if len(hyphens) != 4:
        return f"invalid group count: expected 5, found {len(hyphens) + 1}"
    for group, bound in enumerate(hyphens):
        if bound != _GROUP_STARTS[group + 1] - 1:
            found = bound - _GROUP_STARTS[group]
            return _group_length(group, found)
    return _group_length(4, len(text.encode()) - _GROUP_STARTS[4])


def _group_length(group: int, found: int) -> str:
    expected = _GROUP_LENGTHS[group]
    return f"invalid group length in group {group}: expected {expected}, found {found}"
