"""Silence what native libraries (MediaPipe's glog/absl, TensorFlow Lite) print to the process's stderr.

Those libraries write to file descriptor 2 from C++ threads, past Python's ``sys.stderr`` and
past ``GLOG_minloglevel`` once they are loaded. `native_stderr_silenced` points descriptor 2 at
``/dev/null`` while it is active and gives Python a ``sys.stderr`` on a copy of the real
descriptor, so the toolkit's own messages, warnings and progress bars still show.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import threading
from collections.abc import Iterator

_lock = threading.Lock()
_depth = 0
_saved: tuple[int, object] | None = None


def quiet_native_env() -> None:
    """Ask glog/TensorFlow for errors only (effective only before the library is first loaded)."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Within the block, native writes to descriptor 2 are discarded; Python's stderr still shows.

    Re-entrant and shared between threads: the descriptor is restored when the outermost block ends.
    """
    global _depth, _saved
    try:
        fd = sys.__stderr__.fileno() if sys.__stderr__ is not None else 2
    except (AttributeError, OSError, io.UnsupportedOperation):  # no real stderr (embedded, captured)
        yield
        return
    with _lock:
        if _depth == 0:
            sys.stderr.flush()
            copy = os.dup(fd)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, fd)
            os.close(devnull)
            previous = sys.stderr
            if getattr(previous, "fileno", None) is not None and _is_fd(previous, fd):
                sys.stderr = os.fdopen(os.dup(copy), "w", buffering=1, encoding="utf-8", errors="replace")
            _saved = (copy, previous)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _saved is not None:
                copy, previous = _saved
                if sys.stderr is not previous:
                    with contextlib.suppress(OSError, ValueError):
                        sys.stderr.flush()
                        sys.stderr.close()
                    sys.stderr = previous  # type: ignore[assignment]
                os.dup2(copy, fd)
                os.close(copy)
                _saved = None


def _is_fd(stream: object, fd: int) -> bool:
    try:
        return stream.fileno() == fd  # type: ignore[attr-defined]
    except (OSError, ValueError, io.UnsupportedOperation):
        return False


__all__ = ["native_stderr_silenced", "quiet_native_env"]
