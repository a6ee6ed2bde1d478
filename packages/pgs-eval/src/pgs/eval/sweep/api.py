"""`run_sweep` and `make_executor`: the sweep's modules tied together (see the package docstring)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pgs.core.errors import ConfigError
from pgs.eval.sweep.aggregate import SweepFiles, write_sweep_outputs
from pgs.eval.sweep.driver import SweepOutcome, execute_sweep
from pgs.eval.sweep.spec import RunSpec, Sweep, load_sweep


def make_executor(
    kind: str,
    address: str | None = None,
    num_cpus: int | None = None,
    num_gpus: int | None = None,
    on_start: Callable[[RunSpec], None] | None = None,
) -> Callable[[str], Any]:
    """A factory ``(session) -> executor`` for ``ray`` (embedded, or `address`) or ``local``.

    Raises:
        ConfigError: an unknown kind, or Ray options with ``local``.
        PgsError: ``ray`` without ray installed.
    """
    from pgs.eval.sweep.executors import LocalExecutor, RayExecutor, import_ray

    if kind == "local":
        if address is not None or num_cpus is not None or num_gpus is not None:
            raise ConfigError("--address, --num-cpus and --num-gpus need --executor ray")
        return lambda session: LocalExecutor(session, on_start=on_start)
    if kind == "ray":
        import_ray()  # a missing ray is an error before anything is written
        return lambda session: RayExecutor(session, address, num_cpus, num_gpus, on_start=on_start)
    raise ConfigError(f"executor: unknown {kind!r}; choose ray or local")


@dataclass
class SweepRun:
    """A sweep that ran: its outcome and the aggregate files."""

    sweep: Sweep
    outcome: SweepOutcome
    files: SweepFiles


def run_sweep(
    sweep: Sweep,
    executor: str = "ray",
    address: str | None = None,
    num_cpus: int | None = None,
    num_gpus: int | None = None,
    retries: int | None = None,
    retrain: bool = False,
    quiet: bool = False,
    on_start: Callable[[RunSpec], None] | None = None,
) -> SweepRun:
    """Run every unfinished run of `sweep`, then write ``sweep.md``, ``sweep.json``, ``sweep_points.png``.

    Args:
        sweep: the expanded sweep.
        executor: ``ray`` (default; embedded unless `address`) or ``local`` (this process, no Ray).
        address: Ray cluster address.
        num_cpus: CPUs of an embedded Ray (default: all).
        num_gpus: GPUs of an embedded Ray (default: Ray's detection).
        retries: extra attempts of a failed run (default: the sweep file's).
        retrain: delete the run folders first.
        quiet: no live table.
        on_start: called with each run as it starts (local) or is submitted (Ray).
    """
    from pgs.eval.sweep.progress import live_progress

    factory = make_executor(executor, address, num_cpus, num_gpus, on_start)
    session = uuid.uuid4().hex[:12]
    with live_progress(quiet) as update:
        outcome = execute_sweep(
            sweep.runs,
            sweep.output,
            factory,
            retries=sweep.retries if retries is None else retries,
            retrain=retrain,
            session=session,
            on_change=lambda states: update(states, session),
        )
    files = write_sweep_outputs(sweep, outcome.states)
    return SweepRun(sweep, outcome, files)


__all__ = ["RunSpec", "Sweep", "SweepRun", "load_sweep", "make_executor", "run_sweep"]
