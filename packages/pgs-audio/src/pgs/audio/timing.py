"""Where each video frame's feature steps sit in time.

Conventions (used by every encoder of this package):

- Video frame ``i`` is shown at ``t_i = i / fps`` and covers ``[t_i, t_i + 1/fps)``.
- A file of ``S`` samples at rate ``sr`` has ``round(S / sr * fps)`` frames (halves up), see
  `pgs.audio.io.frame_count`.
- *Window* layout (DeepSpeech style, ``[F, 16, C]``): frame ``i`` holds 16 steps 20 ms apart,
  centred on ``t_i``: step ``k`` is centred at ``t_i + (k - 7.5) * 20 ms``, i.e. the window spans
  ``t_i - 160 ms .. t_i + 160 ms``. At 25 fps this is exactly the DeepSpeech layout of
  ER-NeRF/TalkingGaussian (a 50 Hz sequence zero-padded by 8 steps, windows of 16 with stride 2).
  Steps before the start or after the end of the audio see zero samples.
- *Pairs* layout (HuBERT style, ``[F, 2, C]``): frame ``i``'s own interval split into ``steps``
  sub-steps, step ``k`` centred at ``t_i + (k + 0.5) / (steps * fps)``. A 50 Hz sequence whose
  element ``t`` stands for ``[20 t, 20 t + 20)`` ms is sampled there by linear interpolation, so at
  25 fps and 2 steps this is exactly ER-NeRF's reshape of HuBERT states into ``[N, 2, 1024]``.
"""

from __future__ import annotations

import torch
from torch import Tensor


def window_times(first: int, count: int, fps: float, step_rate: float, steps: int) -> Tensor:
    """Centre times (s) of the window-layout steps of frames ``first .. first+count-1``.

    Returns:
        [count, steps] float64 seconds.
    """
    i = torch.arange(first, first + count, dtype=torch.float64)
    k = torch.arange(steps, dtype=torch.float64)
    return i[:, None] / float(fps) + (k[None, :] - (steps - 1) / 2.0) / float(step_rate)


def window_centres(first: int, count: int, fps: float, sample_rate: int, step_rate: float, steps: int) -> Tensor:
    """Centre samples of the window-layout steps, rounded to the nearest sample (halves up).

    Computed as ``i * sr / fps + (k - (steps-1)/2) * sr / step_rate`` in float64, which is exact
    whenever those two products are integers (16 kHz at 25 fps and 50 steps/s: 640 i + 320 k - 2400).

    Returns:
        [count, steps] int64 sample indices (may be negative or past the end: those read zeros).
    """
    i = torch.arange(first, first + count, dtype=torch.float64)
    k = torch.arange(steps, dtype=torch.float64)
    pos = i[:, None] * (sample_rate / float(fps)) + (k[None, :] - (steps - 1) / 2.0) * (sample_rate / float(step_rate))
    return torch.floor(pos + 0.5).to(torch.int64)


def pairs_positions(count: int, fps: float, seq_rate: float, steps: int) -> Tensor:
    """Fractional indices into a ``seq_rate`` Hz sequence for the pairs layout.

    Element ``t`` of the sequence stands for ``[t, t+1) / seq_rate`` seconds (centre ``t + 0.5``).

    Returns:
        [count, steps] float64 positions (exact integers ``2 i + k`` at 25 fps, 50 Hz, 2 steps).
    """
    i = torch.arange(count, dtype=torch.float64)
    k = torch.arange(steps, dtype=torch.float64)
    return (i[:, None] + (k[None, :] + 0.5) / steps) * (float(seq_rate) / float(fps)) - 0.5


def window_positions(count: int, fps: float, seq_rate: float, step_rate: float, steps: int) -> Tensor:
    """Fractional indices into a ``seq_rate`` Hz sequence for the window layout ([count, steps])."""
    return window_times(0, count, fps, step_rate, steps) * float(seq_rate) - 0.5


def sample_sequence(sequence: Tensor, positions: Tensor, outside: str = "clamp") -> Tensor:
    """Linearly interpolate a sequence at fractional positions.

    Args:
        sequence: [T, C] values at integer positions.
        positions: [F, K] fractional positions (float64).
        outside: ``"clamp"`` repeats the first/last element beyond the ends; ``"zero"`` gives zeros
            for positions more than half a step outside ``[0, T-1]`` (DeepSpeech-style padding).

    Returns:
        [F, K, C] in the sequence's dtype and device.
    """
    length = sequence.shape[0]
    lo = torch.floor(positions)
    weight = (positions - lo).to(sequence.dtype).to(sequence.device)
    lo_i = lo.to(torch.int64).clamp(0, length - 1).to(sequence.device)
    hi_i = (lo.to(torch.int64) + 1).clamp(0, length - 1).to(sequence.device)
    out = sequence[lo_i] * (1 - weight)[..., None] + sequence[hi_i] * weight[..., None]
    if outside == "zero":
        inside = ((positions >= -0.5) & (positions <= length - 0.5)).to(sequence.device)
        out = out * inside[..., None].to(sequence.dtype)
    elif outside != "clamp":
        raise ValueError(f"outside must be 'clamp' or 'zero', got {outside!r}")
    return out


__all__ = ["pairs_positions", "sample_sequence", "window_centres", "window_positions", "window_times"]
