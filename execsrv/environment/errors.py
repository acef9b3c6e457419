"""Errors of the executor's environment (config layers)."""

from __future__ import annotations

__all__ = ["ConfigLoadError"]


class ConfigLoadError(Exception):
    """A config file exists but cannot be read or parsed; the message names the file
    (the wire answer is ``-32603 failed to load executor-local config: <message>``)."""
