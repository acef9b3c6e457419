"""Benchmarks: the same workloads against execsrv and codex exec-server (``python -m bench``)."""
