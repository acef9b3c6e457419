"""Handshake payloads: ``initialize`` and ``initialized``."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import UNSET, UnsetType

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
    """The session id: an unguessable UUID4, the same one again on resume."""

    session_id: Annotated[
        str, msgspec.Meta(description="Send it as `resumeSessionId` to resume later.")
    ]
    environment_info: Annotated[
        dict[str, Any] | UnsetType | None,
        msgspec.Meta(
            description="codex 0.171: the executor's environment (`environment/info`); "
            "absent from a 0.130 server. Its presence is how a client tells the generations "
            "apart."
        ),
    ] = UNSET

    def server_generation(self) -> Generation:
        """The generation the answering server speaks: 0.171 sends ``environmentInfo``,
        0.130 does not (``initialize`` carries no version of its own)."""
        if self.environment_info is UNSET or self.environment_info is None:
            return Generation.V0_130
        return Generation.V0_171
