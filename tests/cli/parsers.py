"""The real ``serve`` parser, for tests that walk its options."""

from __future__ import annotations

import argparse

from execsrv.cli import build_parser
from execsrv.envflags import EnvironmentParser


def serve_parser() -> EnvironmentParser:
    """``serve``'s parser, as ``python -m execsrv`` builds it."""
    parser = build_parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    serve = commands.choices["serve"]
    assert isinstance(serve, EnvironmentParser)
    return serve


def serve_options() -> dict[str, argparse.Action]:
    """Every long ``serve`` option but ``--help``, with its action."""
    return {
        option: action
        for action in serve_parser()._actions
        for option in action.option_strings
        if option.startswith("--") and option != "--help"
    }
