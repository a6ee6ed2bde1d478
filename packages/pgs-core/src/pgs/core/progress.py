"""The one progress-callback type of the toolkit's library functions.

``progress(phase, done, total)``: `phase` names the work (``"render"``, ``"track"``, ``"masks"``,
``"landmarks"``, ``"encode"``), `done` counts the units finished so far in that phase and `total`
is the phase's size, or None when it is not known in advance (frames streamed from an iterator).
Library code never draws bars itself; the CLI turns these calls into rich progress bars, and a
caller that wants nothing passes None (or `no_progress`). Importing this module imports nothing
heavy.
"""

from __future__ import annotations

from collections.abc import Callable

#: ``progress(phase, done, total)``; total None = not known in advance.
Progress = Callable[[str, int, "int | None"], None]


def no_progress(phase: str, done: int, total: int | None) -> None:
    """A `Progress` that ignores every call."""
    return None


def report(progress: Progress | None, phase: str, done: int, total: int | None = None) -> None:
    """Call `progress` if there is one."""
    if progress is not None:
        progress(phase, done, total)


__all__ = ["Progress", "no_progress", "report"]
