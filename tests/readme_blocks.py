"""Runnable fenced blocks of README.md, shared by test_readme_commands.py and test_examples.py.

Convention: a fenced block opened with ```` ```bash runnable ```` is executed by the tests; any
other block is documentation only. One command per line; ``#`` comments and blank lines are
dropped and a trailing backslash continues a line. ``make ...`` lines are never run (CI runs
``make test`` itself, ``make demo`` is too long) and ``source .venv/bin/activate`` is replaced
by putting the test interpreter's ``bin`` folder first on PATH.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
_FENCE = re.compile(r"^[ \t]*```bash runnable[ \t]*\n(.*?)^[ \t]*```", re.S | re.M)


def runnable_blocks(text: str | None = None) -> list[list[str]]:
    """Commands of every runnable block, in order (comments stripped, continuations joined)."""
    text = README.read_text(encoding="utf-8") if text is None else text
    blocks = []
    for match in _FENCE.finditer(text):
        commands: list[str] = []
        pending = ""
        for raw in match.group(1).splitlines():
            line = raw.strip()
            if line.endswith("\\"):
                pending += line[:-1].rstrip() + " "
                continue
            line = pending + line
            pending = ""
            line = re.sub(r"\s+#.*$", "", line).strip() if not line.lstrip().startswith("#") else ""
            if line and not line.startswith("make ") and not line.startswith("source "):
                commands.append(line)
        blocks.append(commands)
    return blocks
