"""Where sweep runs execute: in this process one after another (`LocalExecutor`), or as Ray tasks.

Both have the same three calls: `submit(run)`, `wait(timeout) -> [Finished]`, `close()`. Ray is
imported only by `RayExecutor`, so ``--executor local`` works without Ray installed.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pgs.core.errors import ConfigError, PgsError
from pgs.eval.sweep.runner import execute_run
from pgs.eval.sweep.spec import RunSpec

#: Executor names of ``--executor``.
EXECUTORS = ("ray", "local")


@dataclass(frozen=True)
class Finished:
    """A run that ended: its result data, or the error that ended it.

    Attributes:
        run_id: the run.
        result: ``result.json`` data when it finished, else None.
        error: one line describing the failure, else None.
    """

    run_id: str
    result: dict[str, Any] | None
    error: str | None = None


def describe(exc: BaseException) -> str:
    """One line for a failure: the exception type and the last line of its message."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[-1] if text else ''}".rstrip(": ")


class LocalExecutor:
    """Runs every submitted run in this process, one after another, in submission order.

    Args:
        session: the driver's session id.
        on_start: called with each run just before it starts.
    """

    name = "local"

    def __init__(self, session: str, on_start: Callable[[RunSpec], None] | None = None) -> None:
        self.session = session
        self.on_start = on_start
        self.queue: deque[RunSpec] = deque()

    def submit(self, run: RunSpec) -> None:
        """Queue a run."""
        self.queue.append(run)

    def wait(self, timeout: float) -> list[Finished]:
        """Run the next queued run to its end (the timeout does not apply); [] when none is queued."""
        if not self.queue:
            return []
        run = self.queue.popleft()
        if self.on_start is not None:
            self.on_start(run)
        try:
            return [Finished(run.run_id, execute_run(run, self.session))]
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # a failed run is reported and retried, never the end of the sweep
            return [Finished(run.run_id, None, describe(exc))]

    def close(self) -> None:
        """Forget queued runs."""
        self.queue.clear()


def _ray_entry(run: RunSpec, session: str, threads: int) -> dict[str, Any]:
    """The Ray task: one run with `threads` torch threads."""
    return execute_run(run, session, threads=threads)


def import_ray() -> Any:
    """The ``ray`` module, or a clear `PgsError` naming the extra and ``--executor local``."""
    try:
        import ray
    except ImportError:
        raise PgsError(
            "ray is not installed: pip install 'pgs-eval[ray]' (or `pip install ray`), or pass --executor local"
        ) from None
    return ray


class RayExecutor:
    """Runs each run as a Ray task with the run's CPUs and GPUs.

    Args:
        session: the driver's session id.
        address: an existing cluster (``ray start --head`` prints it; ``auto`` finds a local one);
            None starts an embedded local Ray with `num_cpus` CPUs (default: all) and `num_gpus`.
        num_cpus: CPUs of the embedded Ray.
        num_gpus: GPUs of the embedded Ray (default: Ray's detection).
        on_start: called with each run as it is submitted.
    """

    name = "ray"

    def __init__(
        self,
        session: str,
        address: str | None = None,
        num_cpus: int | None = None,
        num_gpus: int | None = None,
        on_start: Callable[[RunSpec], None] | None = None,
    ) -> None:
        ray = import_ray()
        self.ray = ray
        self.session = session
        self.on_start = on_start
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
        if address:
            if num_cpus is not None or num_gpus is not None:
                raise ConfigError("--num-cpus / --num-gpus describe an embedded Ray; drop them with --address")
            ray.init(address=address, **kwargs)
        else:
            # "local": always a new embedded instance, even when `ray start` runs on this machine
            ray.init(address="local", num_cpus=num_cpus or os.cpu_count() or 1, num_gpus=num_gpus, **kwargs)
        self.task = ray.remote(_ray_entry)
        self.pending: dict[Any, str] = {}
        self.embedded = not address

    def check_resources(self, run: RunSpec) -> None:
        """Raise `ConfigError` when no node of the cluster could ever hold the run."""
        total = self.ray.cluster_resources()
        for key, need in (("CPU", run.resources.cpus), ("GPU", run.resources.gpus)):
            if need > 0 and total.get(key, 0.0) < need:
                raise ConfigError(
                    f"resources: a run asks for {need:g} {key}(s) but the Ray cluster has {total.get(key, 0.0):g}"
                )

    def submit(self, run: RunSpec) -> None:
        """Start a Ray task for the run (Ray queues it until its resources are free)."""
        if self.on_start is not None:
            self.on_start(run)
        threads = max(1, int(run.resources.cpus))
        ref = self.task.options(
            num_cpus=run.resources.cpus, num_gpus=run.resources.gpus, max_retries=0, name=run.run_id
        ).remote(run, self.session, threads)
        self.pending[ref] = run.run_id

    def wait(self, timeout: float) -> list[Finished]:
        """Runs that ended within `timeout` seconds ([] when none)."""
        if not self.pending:
            return []
        ready, _ = self.ray.wait(list(self.pending), num_returns=len(self.pending), timeout=timeout)
        out = []
        for ref in ready:
            run_id = self.pending.pop(ref)
            try:
                out.append(Finished(run_id, self.ray.get(ref)))
            except Exception as exc:  # RayTaskError wraps the run's exception
                cause = getattr(exc, "cause", None)
                out.append(Finished(run_id, None, describe(cause if isinstance(cause, BaseException) else exc)))
        return out

    def close(self) -> None:
        """Cancel unfinished tasks and disconnect (an embedded Ray stops)."""
        for ref in list(self.pending):
            try:
                self.ray.cancel(ref, force=True)
            except Exception:
                pass
        self.pending.clear()
        self.ray.shutdown()


__all__ = ["EXECUTORS", "Finished", "LocalExecutor", "RayExecutor", "describe", "import_ray"]
