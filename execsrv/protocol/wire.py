"""Base classes that set the wire policy for every payload type.

Every params, result and notification type derives from one of these, so the
policy (camelCase names, keyword-only construction) is stated once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import msgspec

if TYPE_CHECKING:
    from .generation import Generation

__all__ = ["U16", "U64", "EmptyResponse", "NonZeroU16", "Params", "Payload", "USize"]


class Payload(msgspec.Struct, rename="camel", kw_only=True):
    """A result or notification body: every field is always written.

    The reference writes ``null`` for absent optional values (``"failure":null``),
    so results and notifications never omit fields.
    """


class EmptyResponse(Payload):
    """``{}``."""


class Params(msgspec.Struct, rename="camel", kw_only=True, omit_defaults=True):
    """Request parameters: fields left at their default are not written.

    Omitting defaults keeps execsrv's client compatible with servers that do not
    know the extension fields, and unknown fields are ignored on decode, as the
    reference does.
    """

    def generation(self) -> Generation | None:
        """The protocol generation these params speak on their own (see
        :mod:`.generation`); None when they fit both."""
        return None


# Rust's unsigned integers, named as the reference's types are (``extra["rust"]`` is
# what protocol.md prints and what serde's messages name).
U64 = Annotated[int, msgspec.Meta(ge=0, extra={"rust": "u64"})]
USize = Annotated[int, msgspec.Meta(ge=0, extra={"rust": "usize"})]
U16 = Annotated[int, msgspec.Meta(ge=0, le=65535, extra={"rust": "u16"})]
NonZeroU16 = Annotated[int, msgspec.Meta(ge=1, le=65535, extra={"rust": "u16"})]
"""A ``u16`` the server also refuses as 0 (a terminal size)."""
