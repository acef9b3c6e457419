"""``capabilityRoots/discoverV1`` and ``capabilities/discoverV2`` (codex 0.171).

The scans run in a worker thread under the server's file-system limiter; on
cancellation the thread is abandoned and finishes on its own (it only reads,
within the per-root limits). A ``sandbox`` that restricts the file system is
refused with ``-32600``, as restricted ``fs/*`` calls are: execsrv has no
sandbox helper to read within it.
"""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path
from typing import Any

import trio

from ..discovery import installed
from ..discovery.roots import MAX_ROOTS_PER_REQUEST, RootDiscovery, TextFile, discover_root
from ..environment.config import codex_home
from ..protocol import discovery as d
from ..protocol import fs as f
from ..protocol.errors import RpcError
from ..protocol.paths import PathForm, format_path, parse_wire_path
from .call import Call

__all__ = ["DiscoveryApi"]

TOO_MANY_ROOTS = f"capability root discovery accepts at most {MAX_ROOTS_PER_REQUEST} roots"


def _refuse_sandboxed(sandbox: f.FileSystemSandboxContext | None) -> None:
    if sandbox is not None and f.requires_platform_sandbox(sandbox.checked_profile()):
        raise RpcError.invalid_request(f.SANDBOX_UNSUPPORTED)


def _text_file(file: TextFile, form: PathForm) -> d.CapabilityTextFile:
    return d.CapabilityTextFile(path=format_path(file.path, form), contents=file.contents)


def _root_result(
    request: d.CapabilityRootDiscoverRequest, form: PathForm, found: RootDiscovery
) -> d.CapabilityRootDiscovery:
    plugin = None
    if found.plugin_manifest is not None:
        plugin = d.DiscoveredPluginFiles(
            manifest=_text_file(found.plugin_manifest, form),
            mcp_config=None if found.mcp_config is None else _text_file(found.mcp_config, form),
            apps_config=None if found.apps_config is None else _text_file(found.apps_config, form),
        )
    return d.CapabilityRootDiscovery(
        id=request.id,
        path=request.path,
        plugin=plugin,
        skills=[
            d.DiscoveredSkillFiles(
                instructions=_text_file(instructions, form),
                metadata=None if metadata is None else _text_file(metadata, form),
            )
            for instructions, metadata in found.skills
        ],
        namespace_manifests=[_text_file(file, form) for file in found.namespace_manifests],
        warnings=found.warnings,
        error=found.error,
    )


class DiscoveryApi:
    """Handlers for capability discovery; each call reads the file system anew."""

    def __init__(self, limiter: trio.CapacityLimiter | None = None) -> None:
        self._limiter = limiter or trio.CapacityLimiter(4)
        self.system_dir = installed.SYSTEM_CONFIG_DIR
        """Where ``system-skills`` are looked for (``/etc/codex``; tests point it elsewhere)."""

    async def discover_roots(
        self, call: Call[d.CapabilityRootsDiscoverParams]
    ) -> d.CapabilityRootsDiscoverResponse:
        """Each root in request order; ``-32600`` for more than 128 roots or a root
        with a restricting ``sandbox``."""
        roots = call.params.roots
        if len(roots) > MAX_ROOTS_PER_REQUEST:
            raise RpcError.invalid_request(TOO_MANY_ROOTS)
        for root in roots:
            _refuse_sandboxed(root.sandbox)
        parsed = [parse_wire_path(root.path) for root in roots]

        def scan() -> list[d.CapabilityRootDiscovery]:
            results = []
            for root, wire_path in zip(roots, parsed, strict=True):
                show = partial(format_path, form=wire_path.form)
                found = discover_root(wire_path.path, show)
                results.append(_root_result(root, wire_path.form, found))
            return results

        results = await trio.to_thread.run_sync(scan, limiter=self._limiter, abandon_on_cancel=True)
        return d.CapabilityRootsDiscoverResponse(roots=results)

    async def discover_v2(
        self, call: Call[d.DiscoverV2CapabilitiesParams]
    ) -> d.DiscoverV2CapabilitiesResponse:
        """The installed skills (see :mod:`execsrv.discovery.installed`); ``-32600`` for
        a restricting ``sandbox``."""
        _refuse_sandboxed(call.params.sandbox)
        form = parse_wire_path(call.params.cwd).form
        show = partial(format_path, form=form)
        system_dir = self.system_dir

        def scan() -> installed.Inventory:
            home = os.path.expanduser("~")
            user_home = Path(home) if home != "~" else None
            codex = codex_home()
            locations = installed.skill_locations(codex, user_home, system_dir)
            return installed.discover_installed(locations, show, codex / "plugins" / "cache")

        inventory = await trio.to_thread.run_sync(
            scan, limiter=self._limiter, abandon_on_cancel=True
        )
        return d.DiscoverV2CapabilitiesResponse(
            plugins=[_plugin_result(plugin, form) for plugin in inventory.plugins],
            skills=[
                d.ExecutorSkill(
                    **_skill_fields(skill, form),
                    discovery_root=d.SkillDiscoveryRoot(
                        id=skill.location.id, path=show(skill.location.root)
                    ),
                )
                for skill in inventory.skills
                if skill.location is not None
            ],
            warnings=inventory.warnings,
        )


def _skill_fields(skill: installed.InstalledSkill, form: PathForm) -> dict[str, Any]:
    return {
        "name": skill.name,
        "description": skill.description,
        "short_description": skill.short_description,
        "path": format_path(skill.path, form),
        "dependencies": skill.metadata.dependencies,
        "policy": skill.metadata.policy,
    }


def _plugin_result(plugin: installed.InstalledPlugin, form: PathForm) -> d.ExecutorPlugin:
    def text(file: TextFile | None) -> d.CapabilityTextFile | None:
        return None if file is None else _text_file(file, form)

    return d.ExecutorPlugin(
        id=plugin.id,
        display_name=plugin.display_name,
        remote_plugin_id=None,
        version=plugin.version,
        root=format_path(plugin.root, form),
        files=d.DiscoveredPluginFiles(
            manifest=_text_file(plugin.manifest, form),
            mcp_config=text(plugin.mcp_config),
            apps_config=text(plugin.apps_config),
        ),
        skills=[d.PluginSkill(**_skill_fields(skill, form)) for skill in plugin.skills],
    )
