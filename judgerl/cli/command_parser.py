"""An argparse parser whose arguments are added on first use, so that `judgerl --help` (and any
one command) builds, and imports, only what it shows.

A command's flags are derived from its stage config, and importing a stage config may import
numpy or torch; `judgerl --help`, `judgerl ls` and `judgerl validate` must not pay for that.
A `CommandParser` made with `build=` calls it the first time it parses or formats help; the
parsers of its subcommands are CommandParsers too (argparse makes them of the parent's class).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any


class CommandParser(argparse.ArgumentParser):
    """An ArgumentParser that adds its arguments with `build(self)` when it is first used.

    With `intermixed` set (by its `build`), positionals and flags may come in any order: the
    KEY=VALUE overrides of `judgerl run RECIPE --dry-run vars.data=x` after a flag (argparse's
    parse_intermixed_args, also when the parser runs as a subcommand).

    >>> p = CommandParser(prog="x", build=lambda p: p.add_argument("--n", type=int))
    >>> p.parse_args(["--n", "3"]).n
    3
    """

    intermixed = False

    def __init__(
        self, *args: Any, build: Callable[[CommandParser], None] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self._build = build
        self._intermixing = False

    def ensure_built(self) -> CommandParser:
        """Add the arguments now if they are not yet added; returns the parser.

        Usage: parser.ensure_built().format_help()
        """
        build, self._build = self._build, None
        if build is not None:
            build(self)
        return self

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        """argparse's (intermixed when `intermixed`), after the arguments are built.

        Usage: parser.parse_known_args(["--n", "3"])
        """
        self.ensure_built()
        if not self.intermixed or self._intermixing:
            return super().parse_known_args(args, namespace)
        self._intermixing = True  # parse_known_intermixed_args calls parse_known_args twice
        try:
            return super().parse_known_intermixed_args(args, namespace)
        finally:
            self._intermixing = False

    def format_help(self) -> str:
        """argparse's, after the arguments are built. Usage: print(parser.format_help())"""
        self.ensure_built()
        return super().format_help()

    def format_usage(self) -> str:
        """argparse's, after the arguments are built. Usage: print(parser.format_usage())"""
        self.ensure_built()
        return super().format_usage()


def subcommand(parser: argparse.ArgumentParser, name: str) -> CommandParser:
    """The parser of subcommand `name` of `parser`, with its arguments built.

    Usage: subcommand(build_parser(), "scaling").format_help()
    """
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and name in action.choices:
            return action.choices[name].ensure_built()
    raise KeyError(f"{parser.prog} has no subcommand {name!r}")
