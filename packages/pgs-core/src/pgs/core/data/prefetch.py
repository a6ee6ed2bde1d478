"""Decoded training frames: a cache under a memory budget, and frames decoded ahead in a background thread.

The trainer's frame samplers decide which frame comes next; `FramePrefetcher.get` is given the
frame needed now and the ones the sampler will ask for next (``FrameSampler.peek``, which does
not advance the sampler), returns the first (from the cache, decoded in the background if it was
scheduled, else decoded now) and schedules the others. The order of frames, and so training, is
exactly what it is without prefetching: the sampler's state and checkpoints do not see the
prefetcher, and a decoded frame is the same whichever thread decoded it.

The cache keeps every decoded frame until ``cache_bytes`` is used (about 2 MB a frame at
256x256, 8 MB at 512x512; the default 1 GiB holds a 20-second clip at 256x256 whole). Training
samples frames uniformly, so a frame is kept or not at its first decode, never evicted. Once a
clip is cached, nothing is decoded and the worker thread is idle.

Decoding (JPEG/PNG through Pillow, masks through NumPy) releases the GIL for most of its time,
so one worker thread overlaps it with the step. The worker runs torch on one thread: measured
on 2 cores, a second thread driving its own OpenMP team made every training step 20-30 %
slower. At most ``depth`` frames are pending. A decoding error is raised by `get` for the frame
that needed it, exactly as `SpeakerDataset.__getitem__` would raise it.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import fields

import torch

from pgs.core.data.dataset import Frame, SpeakerDataset

#: Frames decoded ahead by default.
PREFETCH_DEPTH = 3
#: Default memory budget of the decoded-frame cache (bytes).
FRAME_CACHE_BYTES = 1 << 30


def frame_nbytes(frame: Frame) -> int:
    """Bytes held by a frame's tensors (image, background, masks, camera, audio, AUs, landmarks)."""
    tensors = [frame.image, frame.background, frame.aus, frame.audio, frame.landmarks]
    tensors += [getattr(frame.masks, f.name) for f in fields(frame.masks)]
    tensors += [frame.camera.viewmats, frame.camera.Ks]
    return sum(t.numel() * t.element_size() for t in tensors if t is not None)


def _one_torch_thread() -> None:
    """Worker-thread initializer: torch ops here never start a second OpenMP team."""
    torch.set_num_threads(1)


class FramePrefetcher:
    """Keeps decoded frames of one dataset and decodes upcoming ones in a background thread.

    Args:
        dataset: the frames' dataset (its ``__getitem__`` runs in the worker thread).
        depth: frames decoded ahead (0: no thread, every frame not cached is decoded in `get`).
        cache_bytes: memory budget of the decoded-frame cache (0: no cache).
    """

    def __init__(
        self, dataset: SpeakerDataset, depth: int = PREFETCH_DEPTH, cache_bytes: int = FRAME_CACHE_BYTES
    ) -> None:
        if depth < 0:
            raise ValueError(f"prefetch depth must be >= 0, got {depth}")
        if cache_bytes < 0:
            raise ValueError(f"frame cache budget must be >= 0 bytes, got {cache_bytes}")
        self.dataset = dataset
        self.depth = depth
        self.cache_bytes = cache_bytes
        self.cached_bytes = 0
        self._cache: dict[int, Frame] = {}
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
            frame = self._cache.get(index)
            future = self._pending.pop(index, None) if frame is None else None
        if frame is None:
            frame = future.result() if future is not None else self.dataset[index]
            self._keep(index, frame)
        self._schedule([i for i in upcoming if i not in self._cache][: self.depth])
        return frame

    def _keep(self, index: int, frame: Frame) -> None:
        """Cache a decoded frame while the budget allows."""
        size = frame_nbytes(frame)
        with self._lock:
            if index not in self._cache and self.cached_bytes + size <= self.cache_bytes:
                self._cache[index] = frame
                self.cached_bytes += size

    def _schedule(self, indices: list[int]) -> None:
        if not indices:
            return
        with self._lock:
            for stale in [i for i in self._pending if i not in indices]:
                self._pending.pop(stale).cancel()  # a running decode finishes; its result is dropped
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=1, thread_name_prefix="pgs-frames", initializer=_one_torch_thread
                )
            for i in indices:
                if i not in self._pending:
                    self._pending[i] = self._executor.submit(self.dataset.__getitem__, i)

    def close(self) -> None:
        """Drop scheduled and cached frames and stop the worker thread (a later `get` starts a new one)."""
        with self._lock:
            self._cache.clear()
            self.cached_bytes = 0
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


__all__ = ["FRAME_CACHE_BYTES", "PREFETCH_DEPTH", "FramePrefetcher", "frame_nbytes"]
