"""Base classes that set the wire policy for every payload type.

Every params, result and notification type derives from one of these, so the
policy (camelCase names, keyword-only construction) is stated once.
"""

from __future__ import annotations

import msgspec

__all__ = ["Params", "Payload"]


class Payload(msgspec.Struct, rename="camel", kw_only=True):
    """A result or notification body: every field is always written.

    The reference writes ``null`` for absent optional values (``"failure":null``),
    so results and notifications never omit fields.
    """


class Params(msgspec.Struct, rename="camel", kw_only=True, omit_defaults=True):
    """Request parameters: fields left at their default are not written.

    Omitting defaults keeps execsrv's client compatible with servers that do not
    know the extension fields, and unknown fields are ignored on decode, as the
    reference does.
    """
