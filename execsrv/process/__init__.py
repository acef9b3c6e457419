"""Managed child processes: spawning, output retention, stdin, supervision.

Knows nothing of JSON-RPC beyond the payload types it emits; its failures are
the :mod:`.errors` types, which the server and the local backend translate.
"""

from .env import build_child_env
from .errors import (
    EmptyArgv,
    NotATerminal,
    ProcessError,
    ProcessIdTaken,
    ProcessLimitReached,
    ProcessStarting,
    SpawnFailed,
    UnknownProcess,
)
from .managed import ManagedProcess, NotificationSink, ProcessLimits, ProcessSpec
from .retention import ExitedOutputBudget
from .spawn import SpawnedChild, spawn_child

__all__ = [
    "EmptyArgv",
    "ExitedOutputBudget",
    "ManagedProcess",
    "NotATerminal",
    "NotificationSink",
    "ProcessError",
    "ProcessIdTaken",
    "ProcessLimitReached",
    "ProcessLimits",
    "ProcessSpec",
    "ProcessStarting",
    "SpawnFailed",
    "SpawnedChild",
    "UnknownProcess",
    "build_child_env",
    "spawn_child",
]
