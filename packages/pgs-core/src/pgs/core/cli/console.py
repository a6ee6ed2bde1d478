"""Shared rich consoles for command output (stdout) and messages (stderr)."""

from __future__ import annotations

from rich.console import Console

stdout = Console(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def error(message: str) -> None:
    """Print an error message to stderr."""
    stderr.print(f"[bold red]error:[/] {message}", markup=True, emoji=False)


def warning(message: str) -> None:
    """Print a warning to stderr."""
    stderr.print(f"[yellow]warning:[/] {message}", markup=True, emoji=False)
