"""The ``pgs`` command line: a thin argparse shell around sub-commands from the `pgs.commands` group."""

from pgs.core.cli.main import main

__all__ = ["main"]
