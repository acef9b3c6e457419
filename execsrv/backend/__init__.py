"""One interface, two places to run: :class:`LocalBackend` and :class:`RemoteBackend`.

Code written against :class:`ExecBackend` (a test harness, project-doc
discovery) runs unchanged in this process or on an exec-server::

    async with LocalBackend.open() as backend:
        proc = await backend.start(["make", "check"], cwd="/src", env=ENV)
        result = await proc.communicate()

    async with execsrv.connect(url) as client:
        backend = RemoteBackend(client)
        docs = await discover_project_docs(backend, "/src/pkg")  # AGENTS.md, root first
"""

from .base import ExecBackend, ExitStatus, PathArg, ProcessEvents, ProcessHandle
from .docs import ProjectDoc, discover_project_docs, find_repository_root
from .local import LocalBackend, LocalProcess
from .remote import RemoteBackend

__all__ = [
    "ExecBackend",
    "ExitStatus",
    "LocalBackend",
    "LocalProcess",
    "PathArg",
    "ProcessEvents",
    "ProcessHandle",
    "ProjectDoc",
    "RemoteBackend",
    "discover_project_docs",
    "find_repository_root",
]
