"""Ctrl-C and SIGTERM as a flag the training loop checks between steps."""

from __future__ import annotations

import signal
import threading
from typing import Any


class InterruptFlag:
    """Turns Ctrl-C and SIGTERM into a flag checked between steps (main thread only).

    SIGTERM (Slurm, ``docker stop``, systemd) behaves like Ctrl-C: the run stops after the current
    step with a checkpoint. A second signal stops at once.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.raised = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> InterruptFlag:
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.raised:  # a second Ctrl-C stops at once
            raise KeyboardInterrupt
        self.raised = True

    def __exit__(self, *exc: object) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)


__all__ = ["InterruptFlag"]
