"""Frames without a detected face: find the gaps, fill them by interpolation, report them.

No frame is ever dropped: dropping one shifts every later image against its audio (the index
misalignment reported with GaussianTalker's preprocessing). A gap of at most ``max_gap``
consecutive frames is filled by linear interpolation between the detected frames on either side
(held from the nearest detection at the start or end of the video). A longer gap is an error
unless the caller allows it, and is then filled the same way and reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Gap:
    """A run of consecutive frames without a detected face.

    Attributes:
        start: first missing frame (0-based).
        stop: one past the last missing frame.
    """

    start: int
    stop: int

    @property
    def length(self) -> int:
        """Number of missing frames."""
        return self.stop - self.start

    def __str__(self) -> str:
        return f"{self.start}" if self.length == 1 else f"{self.start}-{self.stop - 1}"


def find_gaps(detected: np.ndarray) -> list[Gap]:
    """Runs of False in `detected`.

    Args:
        detected: [F] bool, True where a face was found.

    Returns:
        The gaps in frame order.
    """
    d = np.asarray(detected, dtype=bool)
    if d.ndim != 1:
        raise ValueError(f"detected must be a 1-D boolean array, got shape {list(d.shape)}")
    missing = np.concatenate([[False], ~d, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(missing))
    return [Gap(int(a), int(b)) for a, b in zip(edges[0::2], edges[1::2], strict=True)]


def interpolate_missing(values: np.ndarray, detected: np.ndarray) -> np.ndarray:
    """Fill frames where `detected` is False by linear interpolation in time.

    Args:
        values: [F, ...] per-frame values (rows of missing frames are ignored).
        detected: [F] bool.

    Returns:
        [F, ...] float64 copy with missing rows interpolated between the nearest detected rows
        (held constant before the first and after the last detection).

    Raises:
        ValueError: no frame is detected.
    """
    v = np.asarray(values, dtype=np.float64)
    d = np.asarray(detected, dtype=bool)
    if v.shape[0] != d.shape[0]:
        raise ValueError(f"values have {v.shape[0]} frames but detected has {d.shape[0]}")
    known = np.flatnonzero(d)
    if known.size == 0:
        raise ValueError("no frame has a detected face: nothing to interpolate from")
    if known.size == d.size:
        return v.copy()
    flat = v.reshape(v.shape[0], -1)
    frames = np.arange(v.shape[0])
    out = np.empty_like(flat)
    for j in range(flat.shape[1]):
        out[:, j] = np.interp(frames, known, flat[known, j])
    return out.reshape(v.shape)


__all__ = ["Gap", "find_gaps", "interpolate_missing"]
