"""Managed child processes: spawning, output retention, stdin, supervision.

Knows nothing of JSON-RPC: a process speaks the domain events of :mod:`.events`,
which the server's session turns into notifications; its failures are the
:mod:`.errors` types, which the server and the local backend translate.
"""

from ..events import Closed, Exited, Output, ProcessEvent
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
from .managed import EventSink, ManagedProcess, ProcessLimits, ProcessSpec
from .output_log import OutputLog
from .retention import ExitedOutputBudget
from .spawn import SpawnedChild, spawn_child

__all__ = [
    "Closed",
    "EmptyArgv",
    "EventSink",
    "Exited",
    "ExitedOutputBudget",
    "ManagedProcess",
    "NotATerminal",
    "Output",
    "OutputLog",
    "ProcessError",
    "ProcessEvent",
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
