"""Managed child processes: spawning, output retention, stdin, supervision.

Knows nothing of JSON-RPC beyond the payload types it emits.
"""

from .env import build_child_env
from .managed import ManagedProcess, NotificationSink, ProcessLimits
from .retention import ExitedOutputBudget
from .spawn import SpawnedChild, spawn_child

__all__ = [
    "ExitedOutputBudget",
    "ManagedProcess",
    "NotificationSink",
    "ProcessLimits",
    "SpawnedChild",
    "build_child_env",
    "spawn_child",
]
