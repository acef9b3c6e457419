"""The executor's own environment: what it is (:mod:`.info`) and the codex config it
has (:mod:`.config`, written back with :mod:`.toml_writer`). No trio."""

from .errors import ConfigLoadError

__all__ = ["ConfigLoadError"]
