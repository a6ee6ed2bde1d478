"""Frames decoded ahead of the training step, in a background thread.

The trainer's frame samplers decide which frame comes next; `FramePrefetcher.get` is given the
frame needed now and the ones the sampler will ask for next (``FrameSampler.peek``, which does
not advance the sampler), returns the first (decoded in the background if it was scheduled,
else now) and schedules the others. The order of frames, and so training, is exactly what it is
without prefetching: the sampler's state and checkpoints do not see the prefetcher, and a
decoded frame is the same whichever thread decoded it.

Decoding (JPEG/PNG through Pillow, masks through NumPy) releases the GIL for most of its time,
so one worker thread overlaps it with the step. At most ``depth`` frames are held (about 2 MB
each at 256x256, 8 MB at 512x512). A decoding error is raised by `get` for the frame that
needed it, exactly as `SpeakerDataset.__getitem__` would raise it.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from pgs.core.data.dataset import Frame, SpeakerDataset

#: Frames decoded ahead by default.
PREFETCH_DEPTH = 3


class FramePrefetcher:
    """Decodes upcoming frames of one dataset in a background thread.

    Args:
        dataset: the frames' dataset (its ``__getitem__`` runs in the worker thread).
        depth: frames decoded ahead (0: no thread, every frame decoded in `get`).
    """

    def __init__(self, dataset: SpeakerDataset, depth: int = PREFETCH_DEPTH) -> None:
        if depth < 0:
            raise ValueError(f"prefetch depth must be >= 0, got {depth}")
        self.dataset = dataset
        self.depth = depth
        self._executor: ThreadPoolExecutor | None = None
        self._pending: dict[int, Future[Frame]] = {}
        self._lock = threading.Lock()

    def get(self, index: int, upcoming: Sequence[int] = ()) -> Frame:
        """Frame `index` (CPU tensors); then schedule the first `depth` of `upcoming`.

        Args:
            index: dataset index needed now.
            upcoming: the indices the caller will ask for next, in order.

        Raises:
            DataError: the frame cannot be decoded (as `SpeakerDataset.__getitem__`).
        """
        with self._lock:
            future = self._pending.pop(index, None)
        frame = future.result() if future is not None else self.dataset[index]
        self._schedule(list(upcoming)[: self.depth])
        return frame

    def _schedule(self, indices: list[int]) -> None:
        if not indices:
            return
        with self._lock:
            for stale in [i for i in self._pending if i not in indices]:
                self._pending.pop(stale).cancel()  # a running decode finishes; its result is dropped
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pgs-frames")
            for i in indices:
                if i not in self._pending:
                    self._pending[i] = self._executor.submit(self.dataset.__getitem__, i)

    def close(self) -> None:
        """Drop scheduled frames and stop the worker thread (a later `get` starts a new one)."""
        with self._lock:
            for future in self._pending.values():
                future.cancel()
            self._pending.clear()
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> FramePrefetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["PREFETCH_DEPTH", "FramePrefetcher"]
