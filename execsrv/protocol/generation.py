"""Which codex protocol generation a request speaks: 0.130 or 0.171.

``initialize`` carries no version, and the two generations disagree in places
(signal deaths, ``nextSeq``, error codes; see protocol.md "Generations"), so
execsrv tells them apart from what requests use. A request speaks 0.171 when it
uses a form only 0.171 sends (a ``file:`` URI path, a 0.171-only method or
field), 0.130 when it uses a form 0.171 refuses (a plain path), and otherwise
says nothing on its own. A session that has received one 0.171 request is a
0.171 session from then on, across resumes; a request that says nothing is
answered as its session's generation. Sans-IO: no trio.
"""

from __future__ import annotations

import enum

__all__ = ["Generation", "of_path_form"]

from .paths import PathForm, form_of


class Generation(enum.Enum):
    """A codex protocol generation, named by the release it was measured on."""

    V0_130 = "0.130.0"
    V0_171 = "0.171.0"

    @property
    def uses_uris(self) -> bool:
        """Paths are ``file:`` URIs (0.171) rather than plain absolute paths."""
        return self is Generation.V0_171

    @property
    def path_form(self) -> PathForm:
        """How this generation writes a path on the wire."""
        return PathForm.URI if self.uses_uris else PathForm.PLAIN


def of_path_form(*paths: str | None) -> Generation | None:
    """The generation the given path values speak: 0.171 if any is a URI, 0.130 if
    any is plain, None if there is none."""
    forms = {form_of(path) for path in paths if path is not None}
    if PathForm.URI in forms:
        return Generation.V0_171
    if forms:
        return Generation.V0_130
    return None
