"""codex's own permission profiles, as a ``sandbox``'s ``permissions`` carries them.

What ``codex --sandbox read-only`` and ``--sandbox workspace-write`` send
(captured from codex 0.171), for the doctor, the benchmarks and the tests to
confine commands exactly as a harness asks. Each call returns a fresh value.
"""

from __future__ import annotations

from typing import Any, Final

__all__ = ["PROTECTED_SUBPATHS", "read_only", "special", "workspace_write"]

PROTECTED_SUBPATHS: Final = (".git", ".agents", ".codex", ".aws")
"""The project root's children codex 0.171's ``workspace-write`` keeps read-only."""


def special(kind: str, **extra: str) -> dict[str, Any]:
    """A special path (``root``, ``project_roots``, ``slash_tmp``, ``tmpdir``, …)."""
    return {"type": "special", "value": {"kind": kind, **extra}}


def read_only() -> dict[str, Any]:
    """Read everything, write nothing, no network."""
    return {
        "type": "managed",
        "file_system": {
            "type": "restricted",
            "entries": [{"path": special("root"), "access": "read"}],
        },
        "network": "restricted",
    }


def workspace_write(*, temporary: bool = True) -> dict[str, Any]:
    """Read everything; write the project roots (and ``/tmp`` and ``$TMPDIR`` unless
    ``temporary`` is false) except :data:`PROTECTED_SUBPATHS`; no network."""
    temporary_entries = [
        {"path": special(kind), "access": "write"} for kind in ("slash_tmp", "tmpdir")
    ]
    return {
        "type": "managed",
        "file_system": {
            "type": "restricted",
            "entries": [
                {"path": special("root"), "access": "read"},
                {"path": special("project_roots"), "access": "write"},
                *(temporary_entries if temporary else []),
                *(
                    {
                        "path": special("project_roots", subpath=name),
                        "access": "read",
                        "missing_path_behavior": "skip",
                    }
                    for name in PROTECTED_SUBPATHS
                ),
            ],
        },
        "network": "restricted",
    }
