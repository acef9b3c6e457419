"""execsrv's own client against the real codex exec-server 0.130.0."""
