"""Handshake payloads: ``initialize`` and ``initialized``."""

from __future__ import annotations

from .wire import Params, Payload

__all__ = ["InitializeParams", "InitializeResponse"]


class InitializeParams(Params):
    """Open a new session, or resume a detached one by id."""

    client_name: str
    resume_session_id: str | None = None


class InitializeResponse(Payload):
    """The session id: an unguessable UUID4, the same one again on resume."""

    session_id: str
