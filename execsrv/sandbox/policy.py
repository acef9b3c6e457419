"""A codex permission profile as the file system areas it allows (sans-IO).

:func:`fs_policy` resolves a restricted profile's entries (either generation's
shape, as :func:`execsrv.protocol.fs.parse_permissions` decodes them) against
the sandbox ``cwd`` and ``$TMPDIR`` into a :class:`FsPolicy`: where reading is
allowed, where writing is, and the read-only carve-outs under writable roots.
What Landlock cannot express (an entry that takes access away inside an
allowed area: ``none``/``deny``, a glob that narrows) raises
:class:`PolicyUnsupported`, so the caller refuses rather than runs wider.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from ..protocol import fs as f

__all__ = ["PROTECTED_NAMES", "FsPolicy", "PolicyUnsupported", "fs_policy"]

PROTECTED_NAMES: Final = (".git", ".agents", ".codex")
"""Children of every writable root that stay read-only, as codex keeps them."""

MINIMAL_READ_ROOTS: Final = (
    "/bin",
    "/sbin",
    "/usr",
    "/etc",
    "/lib",
    "/lib64",
    "/nix/store",
    "/run/current-system/sw",
    "/dev/null",
    "/dev/zero",
    "/dev/random",
    "/dev/urandom",
    "/proc/self",
)
"""What a ``minimal`` entry lets a process read (the platform's defaults)."""


class PolicyUnsupported(Exception):
    """The profile takes access away inside an allowed area, which Landlock's
    allow-list cannot express; the operation must be refused."""


@dataclass(frozen=True)
class FsPolicy:
    """Where a confined operation may read and write (absolute, normalised paths).

    ``read_roots`` and ``write_roots`` grant their whole trees (write implies
    read). ``read_only`` are paths inside write roots that stay read-only.
    ``entry_roots`` are write roots in which this one operation may also add
    or remove a direct child (see :meth:`with_entry_in`).
    """

    read_roots: tuple[str, ...] = ()
    write_roots: tuple[str, ...] = ()
    read_only: tuple[str, ...] = ()
    entry_roots: tuple[str, ...] = field(default=())

    def may_read(self, path: str) -> bool:
        """Whether the canonical ``path`` lies where the policy lets it be read."""
        return any(_within(path, root) for root in self.read_roots + self.write_roots)

    def may_write(self, path: str) -> bool:
        """Whether the canonical ``path`` lies where the policy lets it be changed."""
        return any(_within(path, root) for root in self.write_roots) and not any(
            _within(path, part) for part in self.read_only
        )

    def writable_root_of(self, path: str) -> str | None:
        """The write root ``path`` is a direct child of, if it is one and is not read-only."""
        parent = posixpath.dirname(path)
        if parent in self.write_roots and path not in self.read_only:
            return parent
        return None

    def with_entry_in(self, root: str) -> FsPolicy:
        """This policy, also allowing a direct child of ``root`` to be created or removed.

        Landlock rights reach a whole tree, so this is granted per operation for
        the one path the caller checked (and opens without following a symlink).
        """
        return FsPolicy(self.read_roots, self.write_roots, self.read_only, (root,))


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _resolve(
    target: f.PathTarget | f.GlobPatternPath | f.SpecialPath,
    cwd: str | None,
    tmpdir: str | None,
    project_roots: Sequence[str],
) -> list[str]:
    """The paths an entry names; none for what cannot be resolved (no access: fail closed)."""
    if isinstance(target, f.PathTarget):
        return [target.path]
    if isinstance(target, f.GlobPatternPath):
        return []
    value = target.value
    if isinstance(value, f.RootPath):
        return ["/"]
    if isinstance(value, f.MinimalPath):
        return list(MINIMAL_READ_ROOTS)
    if isinstance(value, f.CurrentWorkingDirectory):
        return [cwd] if cwd else []
    if isinstance(value, f.ProjectRootsPath):
        roots = project_roots or ([cwd] if cwd else [])
        return [posixpath.normpath(posixpath.join(root, value.subpath or ".")) for root in roots]
    if isinstance(value, f.TmpdirPath):
        return [posixpath.normpath(tmpdir)] if tmpdir and tmpdir.startswith("/") else []
    if isinstance(value, f.SlashTmpPath):
        return ["/tmp"]
    return []  # unknown


def fs_policy(
    profile: f.PermissionProfile,
    *,
    cwd: str | None,
    env: Mapping[str, str],
    project_roots: Sequence[str] = (),
) -> FsPolicy | None:
    """The policy of ``profile``, or None when the profile does not restrict the file
    system (run unconfined). ``project_roots`` are the sandbox's ``workspaceRoots``;
    without them the project root is ``cwd``.

    Raises:
        PolicyUnsupported: an entry narrows access inside an allowed area.
    """
    if not f.requires_platform_sandbox(profile):
        return None
    entries = f.restricted_entries(profile) or []
    tmpdir = env.get("TMPDIR")
    read: list[str] = []
    write: list[str] = []
    narrowed: list[str] = []
    for entry in entries:
        if isinstance(entry.path, f.GlobPatternPath) and entry.access in ("none", "deny"):
            raise PolicyUnsupported("a glob entry narrows access")
        paths = _resolve(entry.path, cwd, tmpdir, project_roots)
        if entry.access == "write":
            write += paths
        elif entry.access == "read":
            read += paths
            narrowed += paths
    denied = [
        p
        for e in entries
        if e.access in ("none", "deny")
        for p in _resolve(e.path, cwd, tmpdir, project_roots)
    ]
    # An entry denying a granted path itself wins over it (codex's rule); one
    # inside a granted tree would have to be cut out of it, which Landlock cannot.
    write_roots = tuple(p for p in dict.fromkeys(write) if p not in denied)
    read_roots = tuple(p for p in dict.fromkeys(read) if p not in denied)
    if any(_within(d, r) for d in denied for r in read_roots + write_roots):
        raise PolicyUnsupported("an entry takes access away inside an allowed area")
    read_only = [
        p for p in narrowed for r in write_roots if p != r and _within(p, r) and p not in write
    ]
    read_only += [posixpath.join(r, name) for r in write_roots for name in PROTECTED_NAMES]
    return FsPolicy(
        read_roots=read_roots,
        write_roots=write_roots,
        read_only=tuple(dict.fromkeys(read_only)),
    )
