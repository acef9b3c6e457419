"""Protocol conformance: the same raw-wire tests against execsrv and codex 0.130.0."""
