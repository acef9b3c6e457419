"""Environment payloads (codex 0.171): ``environmentInfo``, ``environment/info``,
``environment/status`` and ``environmentConfig/read``.

What the executor is (shell, directories, version, capabilities) and which codex
config layers it has. Every path in these results is a ``file://`` URI: only
0.171 asks for them. Sans-IO: no trio, no file system.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

import msgspec

from .generation import Generation, of_path_form
from .paths import check_wire_path
from .wire import Params, Payload, USize

__all__ = [
    "EnvironmentCapabilities",
    "EnvironmentConfigLayer",
    "EnvironmentConfigLayerStack",
    "EnvironmentConfigReadParams",
    "EnvironmentConfigReadResponse",
    "EnvironmentInfo",
    "EnvironmentInfoParams",
    "EnvironmentStatusResponse",
    "ShellInfo",
]

FileUri = Annotated[str, msgspec.Meta(description="A `file://` URI.")]


class EnvironmentInfoParams(Params):
    """No params: absent, ``null`` and ``{}`` are all fine; anything else is
    ``-32602 invalid type: map, expected unit`` (``sequence``, ``number``, …),
    as 0.171's serde unit says."""

    UNIT: ClassVar[bool] = True
    """Decoded as serde's ``()`` (see :class:`~.params.ParamsDecoder`)."""


class ShellInfo(Payload):
    """The shell codex would run commands with on this host."""

    name: Annotated[str, msgspec.Meta(description="`bash`, `zsh` or `sh`.")]
    path: Annotated[str, msgspec.Meta(description="Its executable, a plain path.")]


class EnvironmentCapabilities(Payload):
    """Optional features a 0.171 client uses only when their flag is true.

    Every flag defaults to false (a 0.171 client reads an absent flag as false);
    the server decides them in one place (``execsrv.server.environment_api``),
    true only for what execsrv implements and tests.
    """

    network_proxy_launch: Annotated[
        bool,
        msgspec.Meta(
            description="`process/start` accepts `networkProxy` (an executor-local managed proxy)."
        ),
    ] = False
    network_proxy_review_domains: Annotated[
        bool,
        msgspec.Meta(
            description="The managed proxy asks the client about domains (`network/policyRequest`)."
        ),
    ] = False
    network_proxy_transparent_tcp: Annotated[
        bool, msgspec.Meta(description="The managed proxy can capture TCP transparently.")
    ] = False
    credential_masking: Annotated[
        bool, msgspec.Meta(description="The executor masks credentials in child environments.")
    ] = False
    credential_masking_custom_providers: Annotated[
        bool, msgspec.Meta(description="Credential masking for custom providers.")
    ] = False
    capability_discovery_sandbox: Annotated[
        bool, msgspec.Meta(description="Capability discovery applies each root's `sandbox`.")
    ] = False
    fs_watch_missing: Annotated[
        bool, msgspec.Meta(description="`fs/watchMissing` and `fs/missingChanged`.")
    ] = False
    capability_discovery_v2: Annotated[
        bool, msgspec.Meta(description="`capabilities/discoverV2`.")
    ] = False
    environment_config_read: Annotated[
        bool, msgspec.Meta(description="`environmentConfig/read`.")
    ] = False
    http_header_env_vars: Annotated[
        bool, msgspec.Meta(description="`http/request` headers may take values from `valueEnvVar`.")
    ] = False
    sandboxed_file_streaming: Annotated[
        bool,
        msgspec.Meta(
            description="`fs/open`, `fs/readBlock` and `fs/close`, also under a `sandbox`."
        ),
    ] = False
    file_write_streaming: Annotated[
        bool, msgspec.Meta(description="`fs/open` for writing and `fs/writeBlock`.")
    ] = False
    shell_snapshot_v2: Annotated[
        bool,
        msgspec.Meta(
            description="`process/start` accepts `shellSnapshot` (executor-side shell state)."
        ),
    ] = False
    windows_mxc: Annotated[bool, msgspec.Meta(description="Windows MXC sandbox.")] = False
    linux_root_write_preserves_devices: Annotated[
        bool, msgspec.Meta(description="A writable `/` under the Linux sandbox keeps devices.")
    ] = False
    linux_approved_root_write_preserves_restrictions: Annotated[
        bool,
        msgspec.Meta(description="An approved writable `/` keeps the other sandbox restrictions."),
    ] = False


class EnvironmentInfo(Payload):
    """The executor: also sent to every client as ``initialize``'s ``environmentInfo``
    (a 0.130 client ignores it)."""

    shell: Annotated[
        ShellInfo,
        msgspec.Meta(
            description="The user's login shell (passwd, not `$SHELL`), as codex finds it."
        ),
    ]
    executor_version: Annotated[
        str,
        msgspec.Meta(
            description="The codex release whose protocol the server speaks at its newest "
            "(execsrv: `0.171.0`), for a client's version-based decisions; `0.0.0` unknown."
        ),
    ]
    provider_id: Annotated[
        str,
        msgspec.Meta(
            description="`sha256:<hex>`, stable for one host and user (execsrv: the hash of "
            "`execsrv:<hostname>:<uid>`)."
        ),
    ]
    cwd: Annotated[FileUri | None, msgspec.Meta(description="The server's working directory.")]
    user_home_dir: Annotated[
        FileUri | None, msgspec.Meta(description="`~`: `$HOME`, else the passwd entry's home.")
    ]
    platform_os: Annotated[str, msgspec.Meta(description="Rust's `consts::OS`: `linux`.")]
    prepend_path_dirs: Annotated[
        list[FileUri],
        msgspec.Meta(description="Bundled tool directories (codex: its `rg`); execsrv: none."),
    ]
    temporary_directories: Annotated[
        list[FileUri], msgspec.Meta(description="`$TMPDIR` when set and not empty, else none.")
    ]
    temp_dir: Annotated[
        FileUri | None, msgspec.Meta(description="`$TMPDIR` when set and not empty, else `/tmp`.")
    ]
    capabilities: Annotated[
        EnvironmentCapabilities, msgspec.Meta(description="What a client may use (see below).")
    ]


class EnvironmentStatusResponse(Payload):
    """``environment/status``: the connection is initialized and serving."""

    status: Annotated[Literal["ready"], msgspec.Meta(description="Always `ready`.")]


TomlPath = Annotated[
    list[str], msgspec.Meta(description="Keys from the document's root, at least one.")
]


class EnvironmentConfigReadParams(Params):
    """``environmentConfig/read``: the executor's own codex config, restricted to some keys.

    An empty ``configPaths`` and ``requirementsPaths`` together is ``-32602 at least
    one config or requirements path is required``; an empty key path ``-32602 TOML
    paths must contain at least one key segment`` (both after the handshake check).
    """

    cwd: Annotated[
        str,
        msgspec.Meta(
            description="The project directory (a `file:` URI, or a plain absolute path): "
            "selects the trusted project layers.",
            extra={"rust": "path string"},
        ),
    ]
    config_paths: Annotated[
        list[TomlPath], msgspec.Meta(description="Key paths to keep from the config layers.")
    ]
    requirements_paths: Annotated[
        list[TomlPath], msgspec.Meta(description="Key paths to keep from the requirements layers.")
    ]

    def check_params(self, generation: Generation) -> None:
        """``-32602`` for a cwd of neither form (see ParamsDecoder)."""
        check_wire_path(self.cwd)

    def generation(self) -> Generation | None:
        return of_path_form(self.cwd)


class EnvironmentConfigLayer(Payload):
    """One config file, restricted to the requested keys."""

    source: Annotated[
        str,
        msgspec.Meta(
            description="`system (<file>)`, `user (<file>)`, `project (<dir>/.codex/config.toml)`, "
            "`legacy managed_config.toml (<file>)`; a requirements file: its path."
        ),
    ]
    base_dir: Annotated[FileUri, msgspec.Meta(description="The directory of the file.")]
    toml: Annotated[
        str,
        msgspec.Meta(description="The selected keys as a TOML document, written as codex does."),
    ]


class EnvironmentConfigLayerStack(Payload):
    """Layers from lowest to highest precedence; those with no selected key are left out."""

    layers: Annotated[
        list[EnvironmentConfigLayer], msgspec.Meta(description="Lowest precedence first.")
    ]
    cloud_insertion_index: Annotated[
        USize,
        msgspec.Meta(
            description="Where a client inserts its cloud layer: after the system layers listed."
        ),
    ]


class EnvironmentConfigReadResponse(Payload):
    """The layers, and the directories relative paths in them are read against."""

    user_home_dir: Annotated[FileUri | None, msgspec.Meta(description="`~`.")]
    codex_home_dir: Annotated[FileUri, msgspec.Meta(description="`$CODEX_HOME`, else `~/.codex`.")]
    hostname: Annotated[
        str | None, msgspec.Meta(description="The host's name (requirements may depend on it).")
    ]
    config: Annotated[
        EnvironmentConfigLayerStack, msgspec.Meta(description="The `config.toml` layers.")
    ]
    requirements: Annotated[
        EnvironmentConfigLayerStack, msgspec.Meta(description="The `requirements.toml` layers.")
    ]
