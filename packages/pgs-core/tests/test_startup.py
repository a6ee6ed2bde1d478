"""``pgs --help`` stays fast: it imports neither torch nor numpy (every command module is light)."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
import sys
from pgs.core.cli.main import main
for argv in (["--help"], [COMMAND, "--help"]):
    try:
        main(argv)
    except SystemExit:
        pass
print("HEAVY", sorted(m for m in ("torch", "numpy", "mediapipe", "av") if m in sys.modules))
"""


@pytest.mark.parametrize("command", ["train", "render", "prep", "eval", "sweep", "serve"])
def test_help_imports_no_heavy_library(command: str) -> None:
    probe = PROBE.replace("COMMAND", repr(command))
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    line = [row for row in out.stdout.splitlines() if row.startswith("HEAVY")][-1]
    assert line == "HEAVY []", out.stdout[-500:] + out.stderr[-2000:]
