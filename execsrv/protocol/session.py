"""Handshake payloads: ``initialize`` and ``initialized``."""

from __future__ import annotations

from typing import Annotated

import msgspec

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
