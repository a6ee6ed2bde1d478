"""Shared rich consoles for command output (stdout) and messages (stderr), for the CLI and the library.

Markup is off on both consoles: paths and messages are printed as they are, so ``[red]x.mp4``
or ``[/x]`` in a file name is shown literally instead of being styled or crashing the printer.
Styles are applied with `rich.text.Text`, never by formatting markup into a message.
"""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

stdout = Console(highlight=False, soft_wrap=True, markup=False, emoji=False)
stderr = Console(stderr=True, highlight=False, soft_wrap=True, markup=False, emoji=False)


def styled(label: str, style: str, message: str) -> Text:
    """``label`` in `style`, a space, then `message` verbatim (no markup parsed)."""
    return Text.assemble((label, style), " ", message)


def error(message: str) -> None:
    """Print an error message to stderr."""
    stderr.print(styled("error:", "bold red", message))


def warning(message: str) -> None:
    """Print a warning to stderr."""
    stderr.print(styled("warning:", "yellow", message))
