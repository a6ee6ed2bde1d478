"""``pgs validate``: check a run config file and print every problem with its path."""

from __future__ import annotations

import argparse

from pgs.core.cli.console import stdout
from pgs.core.config import load_config
from pgs.core.registry import CommandSpec

EXAMPLES = """\
examples:
  pgs validate run.yaml        exit 0 if valid, 2 with one line per problem otherwise
"""

DESCRIPTION = "Validate a run config (YAML or JSON), including every plugin's parameters.\n\n" + EXAMPLES


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="run config file (.yaml, .yml or .json)")


def _run(args: argparse.Namespace) -> int:
    from pgs.core.training.config import TrainConfig

    load_config(args.config, TrainConfig)
    stdout.print(f"{args.config}: valid")
    return 0


SPEC = CommandSpec("validate", "check a run config file", _add_arguments, _run, DESCRIPTION)
