"""Per-stage progress of the trainer: rich bars on stderr, a caller's `Progress` callback, or nothing.

A caller passes the toolkit's one callback type (`pgs.core.progress.Progress`): it is called as
``progress("static/face", step, iterations)`` after each step of each stage.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pgs.core.progress import Progress
from pgs.core.training.schedule import StagePlan


class StageBar:
    """A per-stage progress handle (no-op when quiet)."""

    def __init__(self, progress: Any = None, task: Any = None) -> None:
        self.progress = progress
        self.task = task

    def update(self, completed: int, stats: dict[str, float]) -> None:
        """Show `completed` steps and the step's loss, PSNR and Gaussian count."""
        if self.progress is not None:
            self.progress.update(
                self.task,
                completed=completed,
                loss=f"{stats['loss']:.4f}",
                psnr=f"{stats['psnr']:.2f}",
                count=int(stats["num_gaussians"]),
            )

    def close(self) -> None:
        """Leave the finished stage's bar on screen."""
        if self.progress is not None:
            self.progress.update(self.task, visible=True)


class CallbackBar:
    """A stage's progress reported to a `Progress` callback as ``(plan.label, step, iterations)``."""

    def __init__(self, progress: Progress, plan: StagePlan) -> None:
        self.progress = progress
        self.plan = plan

    def update(self, completed: int, stats: dict[str, float]) -> None:
        """Report `completed` steps of the stage."""
        self.progress(self.plan.label, completed, self.plan.iterations)

    def close(self) -> None:
        """Nothing to close."""


class progress_bars:  # noqa: N801 - used as a context manager like a function
    """Context manager yielding ``bars(plan, done) -> _Bar`` (rich progress, or no-op)."""

    def __init__(self, quiet: bool, factory: Progress | None) -> None:
        self.quiet = quiet
        self.factory = factory
        self.progress: Any = None

    def __enter__(self) -> Callable[[StagePlan, int], Any]:
        if self.factory is not None:
            callback = self.factory
            return lambda plan, done: CallbackBar(callback, plan)
        if self.quiet:
            return lambda plan, done: StageBar()
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        from pgs.core.console import stderr

        self.progress = Progress(
            TextColumn("{task.description:<16}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]} psnr {task.fields[psnr]} dB N {task.fields[count]}"),
            TimeElapsedColumn(),
            console=stderr,
        )
        self.progress.__enter__()

        def bars(plan: StagePlan, done: int) -> StageBar:
            task = self.progress.add_task(
                plan.label, total=max(plan.iterations, 1), completed=done, loss="-", psnr="-", count="-"
            )
            return StageBar(self.progress, task)

        return bars

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.__exit__(None, None, None)


__all__ = ["CallbackBar", "StageBar", "progress_bars"]
