"""Handshake payloads: ``initialize`` and ``initialized``."""

from __future__ import annotations

from typing import Annotated

import msgspec

from .environment import EnvironmentInfo
from .generation import Generation
from .wire import Params, Payload

__all__ = ["InitializeParams", "InitializeResponse"]


class InitializeParams(Params):
    """Open a new session, or resume a detached one by id."""

    client_name: Annotated[str, msgspec.Meta(description="Free-form; only logged.")]
    resume_session_id: Annotated[
        str | None, msgspec.Meta(description="Resume this session instead of opening one.")
    ] = None


class InitializeResponse(Payload):
    """The session id: an unguessable UUID4, the same one again on resume; and the
    executor's ``environmentInfo`` (codex 0.171; a 0.130 client ignores it)."""

    session_id: Annotated[
        str, msgspec.Meta(description="Send it as `resumeSessionId` to resume later.")
    ]
    environment_info: Annotated[
        EnvironmentInfo | None,
        msgspec.Meta(
            description="As `environment/info` answers; execsrv always sends it (absent "
            "from a codex 0.130 server)."
        ),
    ] = None

    def server_generation(self) -> Generation:
        """The generation the answering server speaks: 0.171 sends ``environmentInfo``,
        0.130 does not (``initialize`` carries no version of its own)."""
        return Generation.V0_130 if self.environment_info is None else Generation.V0_171
