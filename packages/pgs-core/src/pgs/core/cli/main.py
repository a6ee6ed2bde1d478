"""Entry point of the ``pgs`` command.

Sub-commands are `CommandSpec` objects found in the `pgs.commands` entry-point group, so every
installed package adds its own (``pgs prep`` comes with pgs-prep, ``pgs eval`` with pgs-eval).
Exit codes: 0 success, 1 a check failed, 2 bad input (config, data, plugin name, output path,
OS error on an output), 130 interrupted by Ctrl-C or SIGTERM (training writes a checkpoint first;
temporary files are removed).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from pgs.core import __version__
from pgs.core.cli.console import error, stdout
from pgs.core.errors import PgsError
from pgs.core.groups import COMMANDS
from pgs.core.registry import CommandSpec, PluginFailure, registry

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

DESCRIPTION = """\
PGSTalker toolkit: audio-driven 3D Gaussian Splatting talking heads.

workflow:
  1. a speaker folder   pgs synth data/spk                      (a synthetic speaker), or
                        pgs prep talk.mp4 data/spk --landmarker face_landmarker.task   (a real video)
  2. train              pgs train --data data/spk               (default preset; or: pgs train run.yaml KEY=VALUE ...)
  3. render             pgs render runs/spk/checkpoints/final.pt --audio speech.wav --out talk.mp4
  4. evaluate           pgs eval runs/spk/checkpoints/final.pt
  all at once           pgs demo                                (synthetic)  |  pgs demo OUT --video talk.mp4 ...

more:
  pgs plugins [--check]       installed components per group (and whether each loads)
  pgs validate run.yaml       check a run config file
  pgs COMMAND --help          every command's options, with examples

exit codes: 0 ok, 1 a check failed, 2 bad input (one line names the file or field), 130 interrupted
"""


class _Parser(argparse.ArgumentParser):
    """argparse parser whose usage errors exit with code 2 and one readable line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        error(f"{self.prog}: {message}")
        raise SystemExit(EXIT_USAGE)


def _load_commands() -> tuple[dict[str, CommandSpec], list[PluginFailure]]:
    """Load every command spec; a broken one is skipped (and listed by ``pgs --help``)."""
    specs, failures = registry(COMMANDS).load_all()
    return {spec.name: spec for spec in specs}, failures


def _epilog(broken: list[PluginFailure]) -> str | None:
    if not broken:
        return None
    lines = ["unavailable commands (their plugin failed to load; `pgs plugins --check` tells more):"]
    lines += [f"  {f.entry.name}: {f.error}" for f in broken]
    return "\n".join(lines)


def build_parser(
    commands: dict[str, CommandSpec], broken: list[PluginFailure] | None = None
) -> argparse.ArgumentParser:
    """The top-level parser with one sub-parser per command."""
    parser = _Parser(
        prog="pgs",
        description=DESCRIPTION,
        epilog=_epilog(broken or []),
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
        if not any("--quiet" in action.option_strings for action in cmd._actions):
            cmd.add_argument(
                "--quiet", dest="quiet_output", action="store_true", help="print nothing but errors (exit code only)"
            )
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that every cleanup and checkpoint path runs."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises `Terminated` (a `KeyboardInterrupt`), as Ctrl-C does."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``pgs`` command line and return its exit code."""
    commands, broken = _load_commands()
    parser = build_parser(commands, broken)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    stdout.quiet = bool(getattr(args, "quiet_output", False))
    with sigterm_as_interrupt():
        try:
            return int(commands[args.command].run(args))
        except PgsError as exc:
            error(str(exc))
            return EXIT_USAGE
        except OSError as exc:  # an output that cannot be written (disk full, permissions, a file in the way)
            error(_os_error_line(exc))
            return EXIT_USAGE
        except KeyboardInterrupt as exc:
            error("terminated (SIGTERM)" if isinstance(exc, Terminated) else "interrupted")
            return EXIT_INTERRUPTED


def _os_error_line(exc: OSError) -> str:
    """One line for an OS error: the file, then the reason (no traceback)."""
    where = exc.filename if exc.filename is not None else ""
    reason = exc.strerror or str(exc)
    return f"{where}: {reason}" if where else reason


def console_main() -> None:
    """``pgs`` console-script entry point."""
    sys.exit(main())
