"""Command-line options that can also come from the environment.

:class:`EnvironmentParser` is an :class:`argparse.ArgumentParser` whose long options,
when it is given an ``env_prefix``, each read a variable: ``--drain-timeout`` reads
``EXECSRV_DRAIN_TIMEOUT`` (the prefix, then the option name in capitals with dashes
as underscores). It is generic over the parser's actions, so an option added later
gets its variable without further code. What a caller may rely on:

- an option given on the command line wins over its variable; an empty variable
  counts as unset;
- a value is checked as the option's own argument is (its ``type`` and
  ``choices``); a bad one is a usage error (exit 2) that names the variable;
- a flag without an argument (``store_true`` and the like) takes ``1``/``0``,
  ``true``/``false`` or ``yes``/``no`` (any case);
- a repeatable option (``append``) takes a comma-separated list;
- ``--help`` shows each option's variable.

Variables are read when the parser parses, so only the command that runs reads
its own (``serve``'s variables never break ``exec``).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any, Final

__all__ = ["FALSE_WORDS", "TRUE_WORDS", "EnvironmentParser"]

TRUE_WORDS: Final = frozenset({"1", "true", "yes"})
FALSE_WORDS: Final = frozenset({"0", "false", "no"})

_HELP: Final = frozenset({"-h", "--help"})
_NOT_FROM_ENVIRONMENT: Final = (argparse._HelpAction, argparse._VersionAction)

_EPILOG: Final = (
    "Every option can also be set by the environment variable shown in its help, "
    "{prefix} followed by the option name in capitals with dashes as underscores; the "
    "command line wins. Flags take 1/0, true/false or yes/no; a repeatable option "
    "takes a comma-separated list."
)


class EnvironmentParser(argparse.ArgumentParser):
    """An argument parser whose long options fall back to ``env_prefix`` variables
    (none without a prefix: then it is a plain parser). ``environ`` is where they are
    looked up, the process environment by default."""

    def __init__(
        self,
        *args: Any,
        env_prefix: str | None = None,
        environ: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        if env_prefix is not None and kwargs.get("epilog") is None:
            kwargs["epilog"] = _EPILOG.format(prefix=env_prefix)
        super().__init__(*args, **kwargs)
        self.env_prefix = env_prefix
        self.environ = environ
        self._annotated: set[int] = set()

    def variable(self, action: argparse.Action) -> str | None:
        """The variable ``action`` reads, or None (a positional, ``--help``)."""
        if self.env_prefix is None or isinstance(action, _NOT_FROM_ENVIRONMENT):
            return None
        long = [option for option in action.option_strings if option.startswith("--")]
        if not long:
            return None
        return self.env_prefix + long[0][2:].upper().replace("-", "_")

    def format_help(self) -> str:
        self._annotate_help()
        return super().format_help()

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: Any = None
    ) -> tuple[Any, list[str]]:
        """Values from the environment go into the namespace first; argparse then sets
        only what the command line gives (and defaults for what neither gives)."""
        self._annotate_help()  # --help is handled while parsing
        if self.env_prefix is None or _HELP.intersection(sys.argv[1:] if args is None else args):
            return super().parse_known_args(args, namespace)  # help even with a bad variable
        namespace = argparse.Namespace() if namespace is None else namespace
        repeatable: list[tuple[argparse.Action, str, str]] = []
        for action, variable, text in self._set_variables():
            if isinstance(action, argparse._AppendAction):
                repeatable.append((action, variable, text))
            elif not hasattr(namespace, action.dest):
                self._apply(action, variable, text, namespace)
        namespace, extras = super().parse_known_args(args, namespace)
        for action, variable, text in repeatable:
            # Given on the command line, the list is a new object; absent, it is
            # the default itself: then the variable's items replace it.
            if getattr(namespace, action.dest, None) is action.default:
                setattr(namespace, action.dest, action.default)
                self._apply(action, variable, text, namespace)
        return namespace, extras

    def _set_variables(self) -> list[tuple[argparse.Action, str, str]]:
        environ = os.environ if self.environ is None else self.environ
        found = []
        for action in self._actions:
            variable = self.variable(action)
            if variable is not None and environ.get(variable, "").strip():
                found.append((action, variable, environ[variable]))
        return found

    def _apply(
        self, action: argparse.Action, variable: str, text: str, namespace: argparse.Namespace
    ) -> None:
        option = next(o for o in action.option_strings if o.startswith("--"))
        try:
            if action.nargs == 0:
                word = text.strip().lower()
                if word in TRUE_WORDS:
                    action(self, namespace, [], option)
                elif word in FALSE_WORDS:
                    negative = [o for o in action.option_strings if o.startswith("--no-")]
                    if negative:  # BooleanOptionalAction
                        action(self, namespace, [], negative[0])
                    else:
                        setattr(namespace, action.dest, action.default)
                else:
                    raise argparse.ArgumentTypeError("expected 1, 0, true, false, yes or no")
            elif isinstance(action, argparse._AppendAction):
                for item in text.split(","):
                    if item.strip():
                        action(self, namespace, self._convert(action, item.strip()), option)
            elif action.nargs in (None, "?"):
                action(self, namespace, self._convert(action, text.strip()), option)
            else:
                values = [self._convert(action, item) for item in text.split()]
                action(self, namespace, values, option)
        except (argparse.ArgumentTypeError, argparse.ArgumentError) as error:
            self.error(f"environment variable {variable}={text!r}: {error}")

    @staticmethod
    def _convert(action: argparse.Action, text: str) -> Any:
        """``text`` as the command line would give it to ``action``: its ``type``, then
        its ``choices``."""
        value: Any = text
        if callable(action.type):
            try:
                value = action.type(text)
            except argparse.ArgumentTypeError:
                raise
            except (TypeError, ValueError):
                metavar = action.metavar or action.dest.upper()
                option = next(o for o in action.option_strings if o.startswith("--"))
                raise argparse.ArgumentTypeError(f"invalid {option} {metavar}") from None
        if action.choices is not None and value not in action.choices:
            choices = ", ".join(map(repr, action.choices))
            raise argparse.ArgumentTypeError(f"invalid choice (choose from {choices})")
        return value

    def _annotate_help(self) -> None:
        """Append ``[env: NAME]`` to each option's help, once."""
        for action in self._actions:
            variable = self.variable(action)
            if variable is None or id(action) in self._annotated:
                continue
            self._annotated.add(id(action))
            if action.help is not argparse.SUPPRESS:
                action.help = f"{action.help or ''} [env: {variable}]".lstrip()
