"""Capability discovery payloads (codex 0.171): ``capabilityRoots/discoverV1`` and
``capabilities/discoverV2``.

Skills (``SKILL.md`` files) and plugins (``.codex-plugin/plugin.json`` and its kin)
the executor has, read on the executor so a client needs no ``fs/*`` round trip
per file. Paths in results are written in the form of the request's path (a
``file:`` URI from 0.171). Sans-IO: no trio, no file system.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from .fs import FileSystemSandboxContext, Sandbox
from .generation import Generation, of_path_form
from .paths import check_wire_path
from .wire import Params, Payload

__all__ = [
    "CapabilityRootDiscoverRequest",
    "CapabilityRootDiscovery",
    "CapabilityRootsDiscoverParams",
    "CapabilityRootsDiscoverResponse",
    "CapabilityTextFile",
    "DiscoverV2CapabilitiesParams",
    "DiscoverV2CapabilitiesResponse",
    "DiscoveredPluginFiles",
    "DiscoveredSkillFiles",
    "ExecutorPlugin",
    "ExecutorSkill",
    "PluginSkill",
    "SkillDiscoveryRoot",
]

WirePathText = Annotated[
    str,
    msgspec.Meta(
        description="A `file:` URI, or a plain absolute path.", extra={"rust": "path string"}
    ),
]


class CapabilityRootDiscoverRequest(Params):
    """One root to scan."""

    id: Annotated[str, msgspec.Meta(description="The caller's name for it, echoed back.")]
    path: Annotated[WirePathText, msgspec.Meta(description="The directory to scan.")]
    sandbox: Sandbox = None


class CapabilityRootsDiscoverParams(Params):
    """``capabilityRoots/discoverV1``: at most 128 roots, else ``-32600 capability root
    discovery accepts at most 128 roots``. A root with a ``sandbox`` that restricts the
    file system is refused as restricted ``fs/*`` calls are (``-32600``): execsrv has
    no sandbox helper yet."""

    roots: Annotated[
        list[CapabilityRootDiscoverRequest], msgspec.Meta(description="Answered in this order.")
    ]

    def check_params(self, generation: Generation) -> None:
        """``-32602`` for a path of neither form or a bad ``sandbox``."""
        for root in self.roots:
            check_wire_path(root.path)
            if root.sandbox is not None:
                root.sandbox.check_params(generation)

    def generation(self) -> Generation | None:
        return of_path_form(*(root.path for root in self.roots))


class CapabilityTextFile(Payload):
    """A recognised file, read whole (UTF-8, at most 1 MiB)."""

    path: Annotated[str, msgspec.Meta(description="Where it is.")]
    contents: Annotated[str, msgspec.Meta(description="Its text.")]


class DiscoveredPluginFiles(Payload):
    """The plugin a root is: its manifest, and the files the manifest names."""

    manifest: Annotated[
        CapabilityTextFile,
        msgspec.Meta(
            description="The first of `.codex-plugin/plugin.json`, `.claude-plugin/plugin.json`, "
            "`.cursor-plugin/plugin.json` in the root."
        ),
    ]
    mcp_config: Annotated[
        CapabilityTextFile | None,
        msgspec.Meta(
            description="The manifest's `mcpServers` file (`./…`, below the root), else "
            "`.mcp.json`; none when `mcpServers` is an object (inline)."
        ),
    ]
    apps_config: Annotated[
        CapabilityTextFile | None,
        msgspec.Meta(description="The manifest's `apps` file (`./…`, below the root)."),
    ]


class DiscoveredSkillFiles(Payload):
    """A skill: its ``SKILL.md`` and the ``agents/openai.yaml`` beside it."""

    instructions: Annotated[CapabilityTextFile, msgspec.Meta(description="The `SKILL.md`.")]
    metadata: Annotated[
        CapabilityTextFile | None, msgspec.Meta(description="`agents/openai.yaml`, if any.")
    ]


class CapabilityRootDiscovery(Payload):
    """What one root holds.

    The root is walked as ``fs/walk`` does (depth 6, 2,000 directories, 20,000
    entries, directory symlinks followed, hidden directories read); each ``SKILL.md``
    file is a skill, in order of its URI. Every file read counts against 16 MiB per
    root. A file that cannot be read (too large, not UTF-8, unreadable) is left out
    with a warning, as codex words it.
    """

    id: Annotated[str, msgspec.Meta(description="The request's `id`.")]
    path: Annotated[str, msgspec.Meta(description="The request's `path`, as sent.")]
    plugin: Annotated[
        DiscoveredPluginFiles | None,
        msgspec.Meta(description="When the root itself has a plugin manifest."),
    ]
    skills: Annotated[list[DiscoveredSkillFiles], msgspec.Meta(description="Sorted by path.")]
    namespace_manifests: Annotated[
        list[CapabilityTextFile],
        msgspec.Meta(
            description="Plugin manifests that name the skills' namespaces: the root's own "
            "(else the nearest ancestor's), then each plugin directory's first, below it."
        ),
    ]
    warnings: Annotated[list[str], msgspec.Meta(description="Files or directories skipped.")]
    error: Annotated[
        str | None,
        msgspec.Meta(
            description="The root could not be scanned: `failed to inspect capability root "
            "<path>: <os error>` or `capability root <path> is not a directory`."
        ),
    ]


class CapabilityRootsDiscoverResponse(Payload):
    roots: Annotated[
        list[CapabilityRootDiscovery], msgspec.Meta(description="One per requested root.")
    ]


class DiscoverV2CapabilitiesParams(Params):
    """``capabilities/discoverV2``: the plugins and skills installed on the executor.

    ``cwd`` is required but, as in codex 0.171, does not select anything (project
    skills are not part of it). A ``sandbox`` that restricts the file system is
    refused (``-32600``), as restricted ``fs/*`` calls are.
    """

    cwd: Annotated[WirePathText, msgspec.Meta(description="The client's working directory.")]
    sandbox: Annotated[
        FileSystemSandboxContext | None,
        msgspec.Meta(description="Null or absent: read directly."),
    ] = None

    def check_params(self, generation: Generation) -> None:
        check_wire_path(self.cwd)
        if self.sandbox is not None:
            self.sandbox.check_params(generation)

    def generation(self) -> Generation | None:
        return of_path_form(self.cwd)


class SkillDiscoveryRoot(Payload):
    """The fixed location a skill was found under."""

    id: Annotated[
        str,
        msgspec.Meta(
            description="`codex-home-skills` (`$CODEX_HOME/skills`), `user-agent-skills` "
            "(`~/.agents/skills`) or `system-skills` (`/etc/codex/skills`)."
        ),
    ]
    path: Annotated[str, msgspec.Meta(description="That directory.")]


class PluginSkill(Payload):
    """A skill's front matter (``---``-delimited YAML at the top of ``SKILL.md``) and
    its ``agents/openai.yaml``.

    ``name`` defaults to the directory's name (whitespace collapsed) and is at most
    64 characters; ``description`` is required. Both are collapsed to one line. A
    skill below a plugin manifest is named ``<plugin name>:<name>``. A ``SKILL.md``
    whose front matter is missing or invalid is left out with a warning. An
    ``openai.yaml`` that is not valid gives null ``dependencies`` and ``policy``
    and no warning. Difference from codex 0.171: both files are read with a YAML
    subset (block maps and sequences, ``[...]`` lists, plain, quoted and block
    scalars, comments); a file beyond it reads as invalid.
    """

    name: Annotated[str, msgspec.Meta(description="`name`, qualified by a plugin namespace.")]
    description: Annotated[str, msgspec.Meta(description="`description`.")]
    short_description: Annotated[
        str | None, msgspec.Meta(description="`metadata.short-description`.")
    ]
    path: Annotated[str, msgspec.Meta(description="The `SKILL.md`.")]
    dependencies: Annotated[
        dict[str, Any] | None,
        msgspec.Meta(
            description="`{tools: [{type, value, description, transport, command, url, "
            "oauthCallbackPort}]}` from `dependencies.tools`: a tool without `type` or "
            "`value` (after collapsing whitespace; at most 64 and 1,024 characters) is "
            "dropped, other too long or empty fields are null; null when no tool is left. "
            "`oauthCallbackPort` is always null (as codex 0.171 answered)."
        ),
    ]
    policy: Annotated[
        dict[str, Any] | None,
        msgspec.Meta(
            description="`{allowImplicitInvocation, products}` from `policy` "
            "(`allow_implicit_invocation`, `products` of `chatgpt`|`codex`|`atlas`)."
        ),
    ]


class ExecutorSkill(PluginSkill):
    """An installed skill outside plugins: a :class:`PluginSkill` and where it was found."""

    discovery_root: Annotated[SkillDiscoveryRoot, msgspec.Meta(description="Where it was found.")]


class ExecutorPlugin(Payload):
    """An installed plugin: ``$CODEX_HOME/plugins/cache/<marketplace>/<plugin>/<version>``.

    One version per plugin: ``local`` if present, else the greatest semantic
    version (``10.0.0`` over ``2.0.0``), else the greatest name (``9.0`` over ``10.0``).
    Installed means present in the cache; ``config.toml``'s ``enabled`` is not
    consulted (as in codex 0.171). A version without a readable manifest (JSON
    object, string ``name``) is left out with the generic warning.
    """

    id: Annotated[str, msgspec.Meta(description="`<plugin>@<marketplace>` (directory names).")]
    display_name: Annotated[
        str,
        msgspec.Meta(
            description="The manifest's `interface.displayName`, else its `name`, else the "
            "version directory's name (blank values skipped)."
        ),
    ]
    remote_plugin_id: Annotated[
        str | None, msgspec.Meta(description="execsrv: always null (remote plugins unread).")
    ]
    version: Annotated[str, msgspec.Meta(description="The version directory's name.")]
    root: Annotated[str, msgspec.Meta(description="The version directory.")]
    files: Annotated[
        DiscoveredPluginFiles,
        msgspec.Meta(
            description="As `capabilityRoots/discoverV1` reads them, except that `appsConfig` "
            "defaults to `.app.json` when the manifest names no `apps`."
        ),
    ]
    skills: Annotated[
        list[PluginSkill],
        msgspec.Meta(description="Every skill below the root, sorted by path, namespaced."),
    ]


class DiscoverV2CapabilitiesResponse(Payload):
    """Skills from ``$CODEX_HOME/skills``, ``~/.agents/skills`` and ``/etc/codex/skills``,
    in that order, each root's sorted by path.

    A missing root is skipped silently; if anything of a root (or of a plugin)
    was left out, it adds one warning, ``some capability metadata could not be
    loaded; discovery may be incomplete``.
    """

    plugins: Annotated[
        list[ExecutorPlugin], msgspec.Meta(description="Installed plugins, sorted by `id`.")
    ]
    skills: Annotated[list[ExecutorSkill], msgspec.Meta(description="Standalone skills.")]
    warnings: Annotated[list[str], msgspec.Meta(description="At most 64.")]
