"""``environment/info``, ``environment/status`` and ``environmentConfig/read`` (codex 0.171).

:data:`CAPABILITIES` is the one place that decides what ``environmentInfo``
advertises: a 0.171 client uses a feature only when its flag is true, so a flag
is true only for what execsrv implements and tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import trio

from ..environment import config as codex_config
from ..environment.info import local_environment_info, user_home_uri
from ..environment.toml_writer import dumps
from ..protocol import environment as e
from ..protocol.errors import RpcError
from ..protocol.paths import PathForm, format_path, parse_wire_path
from .call import Call

__all__ = ["CAPABILITIES", "EnvironmentApi"]

CAPABILITIES: Final = e.EnvironmentCapabilities(
    environment_config_read=True,  # environmentConfig/read: tests/server/test_environment.py
    fs_watch_missing=True,  # fs/watchMissing: tests/fs/test_watch_missing.py
    file_write_streaming=True,  # fs/open replace, fs/writeBlock: tests/fs/test_handles.py
    # fs/open under a restricting sandbox opens confined: tests/sandbox/test_fs_profiles.py
    sandboxed_file_streaming=True,
    http_header_env_vars=True,  # http/request header valueEnvVar: tests/http/test_generations.py
    # capabilities/discoverV2: tests/conformance/test_discovery_0171.py (against 0.171 too)
    capability_discovery_v2=True,
    # Discovery under a restricting sandbox is refused until the sandbox issue (11) lands.
    capability_discovery_sandbox=False,
    # Not offered (protocol.md, Environment): the managed network proxy, credential
    # masking, shell snapshots, Windows and bubblewrap sandbox details.
    network_proxy_launch=False,
    network_proxy_review_domains=False,
    network_proxy_transparent_tcp=False,
    credential_masking=False,
    credential_masking_custom_providers=False,
    shell_snapshot_v2=False,
    windows_mxc=False,
    linux_root_write_preserves_devices=False,
    linux_approved_root_write_preserves_restrictions=False,
)

NO_PATHS: Final = "at least one config or requirements path is required"
EMPTY_PATH: Final = "TOML paths must contain at least one key segment"


def environment_info() -> e.EnvironmentInfo:
    """This server's ``environmentInfo`` (also in every ``initialize`` result)."""
    return local_environment_info(CAPABILITIES)


class EnvironmentApi:
    """Handlers for the environment methods; stateless (each call reads the host)."""

    async def info(self, call: Call[e.EnvironmentInfoParams]) -> e.EnvironmentInfo:
        return environment_info()

    async def status(self, call: Call[e.EnvironmentInfoParams]) -> e.EnvironmentStatusResponse:
        return e.EnvironmentStatusResponse(status="ready")

    async def read_config(
        self, call: Call[e.EnvironmentConfigReadParams]
    ) -> e.EnvironmentConfigReadResponse:
        """The config and requirements layers restricted to the requested key paths.

        ``-32602`` for no paths at all or an empty one; ``-32603 failed to load
        executor-local config: …`` for a file that cannot be read or parsed.
        Reads the files in a worker thread; cancellation abandons nothing (they are
        small and the thread finishes on its own).
        """
        params = call.params
        if not params.config_paths and not params.requirements_paths:
            raise RpcError.invalid_params(NO_PATHS)
        if any(not path for path in (*params.config_paths, *params.requirements_paths)):
            raise RpcError.invalid_params(EMPTY_PATH)
        cwd = Path(parse_wire_path(params.cwd).path)
        home = codex_config.codex_home()
        local = await trio.to_thread.run_sync(codex_config.load_local_config, home, cwd)
        return e.EnvironmentConfigReadResponse(
            user_home_dir=user_home_uri(),
            codex_home_dir=_uri(home),
            hostname=codex_config.hostname(),
            config=_stack(codex_config.project(local.config, params.config_paths)),
            requirements=_stack(
                codex_config.project(local.requirements, params.requirements_paths)
            ),
        )


def _uri(path: Path) -> str:
    return format_path(str(path), PathForm.URI)


def _stack(stack: codex_config.LayerStack) -> e.EnvironmentConfigLayerStack:
    return e.EnvironmentConfigLayerStack(
        layers=[
            e.EnvironmentConfigLayer(
                source=layer.source, base_dir=_uri(layer.base_dir), toml=dumps(layer.table)
            )
            for layer in stack.layers
        ],
        cloud_insertion_index=stack.cloud_insertion_index,
    )
