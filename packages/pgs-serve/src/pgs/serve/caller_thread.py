"""An executor whose work runs on the thread that created it (``pgs serve`` renders on the main thread).

Why: on this toolkit's CPU path a render mixes torch's OpenMP intra-op parallelism and numba's
parallel kernels. Measured on a 2-core machine with a trained 20k-Gaussian head at 256x256, one
frame takes about 25 ms when the main thread renders it and about 38-40 ms on a worker thread
(even when the worker is the only thread doing parallel work). So ``pgs serve`` renders on the
main thread and runs the event loop on a background thread, the reverse of the usual layout.

`CallerThreadExecutor.submit` called from the owner thread runs the call at once (so set-up
code such as `pgs.serve.engine.HeadEngine.warm_up` does not deadlock); from any other thread it
queues the call for `CallerThreadExecutor.run`, which the owner thread drives.
"""

from __future__ import annotations

import concurrent.futures
import queue
import threading
from collections.abc import Callable
from typing import Any

#: Seconds `CallerThreadExecutor.run` waits for work before checking its stop condition again.
POLL_SECONDS = 0.1

_Work = tuple[concurrent.futures.Future, Callable[..., Any], tuple[Any, ...], dict[str, Any]]


class CallerThreadExecutor(concurrent.futures.Executor):
    """Runs submitted calls on the thread that created it, in submission order."""

    def __init__(self) -> None:
        self.owner = threading.get_ident()
        self._queue: queue.SimpleQueue[_Work | None] = queue.SimpleQueue()
        self._closed = threading.Event()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future:
        """Run `fn` now on the owner thread, or queue it for `run` from any other thread.

        Raises:
            RuntimeError: the executor was shut down.
        """
        if self._closed.is_set():
            raise RuntimeError("cannot submit to a shut-down executor")
        future: concurrent.futures.Future = concurrent.futures.Future()
        if threading.get_ident() == self.owner:
            _execute((future, fn, args, kwargs))
        else:
            self._queue.put((future, fn, args, kwargs))
        return future

    def run(self, stop: Callable[[], bool] = lambda: False) -> None:
        """Execute queued calls on the calling (owner) thread until `stop()` is true or shutdown.

        Raises:
            RuntimeError: called from another thread than the owner.
        """
        if threading.get_ident() != self.owner:
            raise RuntimeError("CallerThreadExecutor.run must be called from the thread that created it")
        while not (self._closed.is_set() or stop()):
            try:
                work = self._queue.get(timeout=POLL_SECONDS)
            except queue.Empty:
                continue
            if work is not None:
                _execute(work)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop `run`; queued calls are cancelled (they would never run)."""
        self._closed.set()
        self._queue.put(None)
        while True:
            try:
                work = self._queue.get_nowait()
            except queue.Empty:
                return
            if work is not None:
                work[0].cancel()


def _execute(work: _Work) -> None:
    """Run one call and settle its future (skipped when the future was cancelled)."""
    future, fn, args, kwargs = work
    if not future.set_running_or_notify_cancel():
        return
    try:
        result = fn(*args, **kwargs)
    except Exception as error:  # delivered to the waiting coroutine, as ThreadPoolExecutor does
        future.set_exception(error)
    except BaseException as error:  # Ctrl-C / SIGTERM on the owner thread: fail the call, then stop
        future.set_exception(error)
        raise
    else:
        future.set_result(result)


__all__ = ["POLL_SECONDS", "CallerThreadExecutor"]
