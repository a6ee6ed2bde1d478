"""``pgs --help`` start-up time, against a bare ``python -c pass`` measured in the same run.

Run with ``make bench`` (pytest-benchmark: both commands, min/mean/median).
"""

from __future__ import annotations

import subprocess
import sys

HELP = [sys.executable, "-c", "import sys; from pgs.core.cli.main import main; sys.exit(main(['--help']))"]
BARE = [sys.executable, "-c", "pass"]


def _run(cmd: list[str]) -> None:
    subprocess.run(cmd, capture_output=True, check=False, timeout=120)


def test_pgs_help(benchmark) -> None:
    """``pgs --help`` in a fresh interpreter."""
    benchmark.pedantic(_run, args=(HELP,), rounds=5, iterations=1)


def test_python_startup_reference(benchmark) -> None:
    """A bare interpreter start, the reference of the ratio."""
    benchmark.pedantic(_run, args=(BARE,), rounds=5, iterations=1)
