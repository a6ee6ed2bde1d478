"""The sweep driver: skip finished runs, submit the rest, retry failures, keep ``sweep_status.json``.

Resuming is per run and needs no driver state: a run whose folder holds a ``result.json`` of the
same config and evaluation options is finished and skipped; any other run is submitted, and
`pgs.eval.sweep.runner.execute_run` reuses ``final.pt`` or continues from ``last.pt``. Killing the
driver (SIGKILL, SIGTERM, Ctrl-C) and starting it again therefore completes the sweep. A failed
run is reported and submitted again up to ``retries`` times (continuing from its checkpoint).
``sweep_status.json`` (atomic) holds every run's state, attempts and errors; an exclusive lock on
``.<output>.pgs-lock`` keeps two drivers off one sweep folder.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pgs.core.errors import ConfigError
from pgs.core.io.atomic import atomic_write_text
from pgs.core.io.run_folder import check_output_folder, folder_lock, read_marker, write_marker
from pgs.eval.sweep.runner import config_conflict, finished_result
from pgs.eval.sweep.spec import RunSpec

#: Run states: waiting or submitted (queued), working (running), finished (done), out of attempts (failed).
QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
STATUS_FILE = "sweep_status.json"


@dataclass
class RunState:
    """What the driver knows about one run.

    Attributes:
        run: the run.
        state: ``queued``, ``done`` or ``failed`` (``running`` is read from the run's status.json).
        attempts: attempts started in this driver session.
        errors: one line per failed attempt.
        result: ``result.json`` data once done.
        reused: finished in an earlier session (skipped).
    """

    run: RunSpec
    state: str = QUEUED
    attempts: int = 0
    errors: list[str] = field(default_factory=list)
    result: dict[str, Any] | None = None
    reused: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (without the result's report)."""
        return {
            "run_id": self.run.run_id,
            "speaker": self.run.speaker,
            "variant": self.run.variant,
            "seed": self.run.seed,
            "folder": str(self.run.folder),
            "state": self.state,
            "attempts": self.attempts,
            "errors": list(self.errors),
            "reused": self.reused,
        }


@dataclass
class SweepOutcome:
    """What `execute_sweep` ended with.

    Attributes:
        states: every run's state, in sweep order.
        session: this driver session's id.
    """

    states: list[RunState]
    session: str

    @property
    def failed(self) -> list[RunState]:
        """Runs out of attempts."""
        return [s for s in self.states if s.state == FAILED]

    @property
    def done(self) -> list[RunState]:
        """Finished runs (now or earlier)."""
        return [s for s in self.states if s.state == DONE]


@contextlib.contextmanager
def sweep_lock(folder: Path) -> Iterator[None]:
    """Check and lock the sweep folder for this driver (`pgs.core.io.run_folder`).

    The folder may be new, empty or a sweep folder (its finished runs are kept and skipped); a
    file, or a folder of the user's own files, is refused with one line. Another driver on the
    same folder gets a `PgsError`.
    """
    if not _legacy_sweep(folder):
        check_output_folder(folder, "sweep", overwrite=True, what="--out")
    with folder_lock(folder):
        folder.mkdir(parents=True, exist_ok=True)
        if read_marker(folder) is None:
            write_marker(folder, "sweep")
        yield


def _legacy_sweep(folder: Path) -> bool:
    """A sweep or ablation folder written before folders had markers."""
    return folder.is_dir() and read_marker(folder) is None and (folder / "sweep_status.json").is_file()


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt (main thread only), so executors shut down as on Ctrl-C."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handle)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def prepare(runs: Sequence[RunSpec], retrain: bool = False) -> list[RunState]:
    """States of the runs: finished ones done (reused), the rest queued.

    Raises:
        ConfigError: a run folder holds a run of another config (every folder is checked first).
    """
    if retrain:
        for run in runs:
            if run.folder.exists():
                shutil.rmtree(run.folder)
    problems = [p for p in (config_conflict(run) for run in runs) if p]
    if problems:
        raise ConfigError(problems)
    states = []
    for run in runs:
        result = finished_result(run)
        states.append(RunState(run, DONE, result=result, reused=True) if result is not None else RunState(run))
    return states


def write_status(path: Path, states: Sequence[RunState], session: str, executor: str) -> None:
    """``sweep_status.json``: the session, the executor and every run's state."""
    data = {
        "session": session,
        "executor": executor,
        "updated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "counts": {s: sum(1 for r in states if r.state == s) for s in (QUEUED, DONE, FAILED)},
        "runs": [s.to_dict() for s in states],
    }
    atomic_write_text(path, json.dumps(data, indent=2) + "\n")


def execute_sweep(
    runs: Sequence[RunSpec],
    output: Path,
    executor: Any,
    retries: int = 1,
    retrain: bool = False,
    session: str | None = None,
    on_change: Callable[[list[RunState]], None] | None = None,
    poll_s: float = 0.5,
) -> SweepOutcome:
    """Run every unfinished run through `executor`, retrying failures, until all are done or failed.

    Args:
        runs: the sweep's runs.
        output: sweep folder (lock and ``sweep_status.json``).
        executor: a `LocalExecutor` / `RayExecutor` or a factory ``(session) -> executor`` (only
            called when some run is unfinished, so a finished sweep never starts Ray).
        retries: extra attempts per failed run.
        retrain: delete the run folders first.
        session: this driver session's id (default: a new one).
        on_change: called with the states after each change.
        poll_s: Ray polling interval.

    Raises:
        ConfigError: a run folder holds a run of another config.
        KeyboardInterrupt: interrupted (runs continue from their checkpoints next time).
    """
    session = session or uuid.uuid4().hex[:12]
    status_path = output / STATUS_FILE
    with sweep_lock(output):
        states = prepare(runs, retrain)
        by_id = {s.run.run_id: s for s in states}
        pending = [s for s in states if s.state == QUEUED]
        name = getattr(executor, "name", "") or "ray"

        def changed() -> None:
            write_status(status_path, states, session, name)
            if on_change is not None:
                on_change(states)

        changed()
        if not pending:
            return SweepOutcome(states, session)
        ex = executor(session) if callable(executor) and not hasattr(executor, "submit") else executor
        name = ex.name
        try:
            with _sigterm_as_interrupt():
                if hasattr(ex, "check_resources"):
                    for s in pending:
                        ex.check_resources(s.run)
                for s in pending:
                    s.attempts += 1
                    ex.submit(s.run)
                changed()
                open_runs = len(pending)
                while open_runs:
                    for finished in ex.wait(poll_s):
                        s = by_id[finished.run_id]
                        if finished.result is not None:
                            s.state, s.result = DONE, finished.result
                            open_runs -= 1
                        else:
                            s.errors.append(finished.error or "failed")
                            if s.attempts <= retries:
                                s.attempts += 1
                                ex.submit(s.run)
                            else:
                                s.state = FAILED
                                open_runs -= 1
                        changed()
                    if on_change is not None:
                        on_change(states)
        finally:
            ex.close()
    return SweepOutcome(states, session)


__all__ = [
    "DONE",
    "FAILED",
    "QUEUED",
    "RUNNING",
    "STATUS_FILE",
    "RunState",
    "SweepOutcome",
    "execute_sweep",
    "prepare",
    "sweep_lock",
    "write_status",
]
