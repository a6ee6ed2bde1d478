"""Entry point of the ``pgs`` command.

Sub-commands are `CommandSpec` objects found in the `pgs.commands` entry-point group, so every
installed package adds its own (``pgs prep`` comes with pgs-prep, ``pgs eval`` with pgs-eval).
Exit codes: 0 success, 1 a check failed, 2 bad input (config, data, plugin name), 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pgs.core import __version__
from pgs.core.cli.console import error
from pgs.core.errors import PgsError
from pgs.core.groups import COMMANDS
from pgs.core.registry import CommandSpec, registry

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

DESCRIPTION = """\
PGSTalker toolkit: audio-driven 3D Gaussian Splatting talking heads.

examples:
  pgs plugins                 list installed components per group
  pgs plugins --check         load every plugin and report failures
  pgs validate run.yaml       check a run config file
"""


class _Parser(argparse.ArgumentParser):
    """argparse parser whose usage errors exit with code 2 and one readable line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        error(f"{self.prog}: {message}")
        raise SystemExit(EXIT_USAGE)


def _load_commands() -> tuple[dict[str, CommandSpec], list[str]]:
    """Load every command spec; a broken one is reported and skipped."""
    commands: dict[str, CommandSpec] = {}
    broken: list[str] = []
    specs, failures = registry(COMMANDS).load_all()
    for spec in specs:
        commands[spec.name] = spec
    broken = [f.error for f in failures]
    return commands, broken


def build_parser(commands: dict[str, CommandSpec]) -> argparse.ArgumentParser:
    """The top-level parser with one sub-parser per command."""
    parser = _Parser(
        prog="pgs", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"pgs {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in sorted(commands):
        spec = commands[name]
        cmd = sub.add_parser(
            name,
            help=spec.help,
            description=spec.description or spec.help,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        spec.add_arguments(cmd)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``pgs`` command line and return its exit code."""
    commands, broken = _load_commands()
    parser = build_parser(commands)
    args = parser.parse_args(argv)
    for message in broken:
        error(f"a pgs command plugin failed to load and is unavailable: {message}")
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(commands[args.command].run(args))
    except PgsError as exc:
        error(str(exc))
        return EXIT_USAGE
    except KeyboardInterrupt:
        error("interrupted")
        return EXIT_INTERRUPTED


def console_main() -> None:
    """``pgs`` console-script entry point."""
    sys.exit(main())
