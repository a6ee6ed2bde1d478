"""SyncNet scores from embeddings: syncnet_python's ``calc_pdist`` and ``evaluate``.

For every video window i and offset j in 0..2v (v = vshift, 15 by default) the distance is
``|| video[i] - audio_padded[i + j] + 1e-6 ||`` (``F.pairwise_distance``), where the audio
embeddings are padded with v zero rows at both ends (the zero rows count at the clip edges, as
in the reference). Averaging over windows gives one mean distance per offset; then
LSE-D = min, LSE-C = median - min, AV offset = v - argmin.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from pgs.core.errors import DataError

#: Offsets searched on each side, in video frames (syncnet_python's --vshift default for scoring).
VSHIFT = 15


def offset_distances(video: Tensor, audio: Tensor, vshift: int = VSHIFT) -> Tensor:
    """Distances between each video embedding and the audio embeddings around it.

    Args:
        video: [N, D] lip-stream embeddings, one per 5-frame window.
        audio: [N, D] audio-stream embeddings of the same windows.
        vshift: offsets searched on each side.

    Returns:
        [N, 2 * vshift + 1]: entry (i, j) compares video window i with audio window i + j - vshift
        (a zero vector outside the clip).
    """
    if video.dim() != 2 or video.shape != audio.shape:
        raise DataError(f"embeddings must both be [N, D]; got video {list(video.shape)}, audio {list(audio.shape)}")
    if vshift < 0:
        raise ValueError(f"vshift must be >= 0, got {vshift}")
    width = 2 * vshift + 1
    padded = F.pad(audio, (0, 0, vshift, vshift))  # [N + 2v, D]
    index = torch.arange(video.shape[0], device=video.device)[:, None] + torch.arange(width, device=video.device)
    windows = padded[index]  # [N, 2v+1, D]
    return torch.linalg.vector_norm(video[:, None, :] - windows + 1e-6, dim=-1)


@dataclass(frozen=True)
class SyncScores:
    """LSE scores of one clip.

    Attributes:
        lse_d: minimum over offsets of the mean distance (LSE-D, lower is better).
        lse_c: median minus minimum of the mean distances (LSE-C, higher is better).
        offset: AV offset in frames at the minimum (``vshift - argmin``).
        mean_distances: [2 * vshift + 1] mean distance per offset.
        windows: number of 5-frame windows scored.
    """

    lse_d: float
    lse_c: float
    offset: int
    mean_distances: Tensor
    windows: int


def scores_from_distances(distances: Tensor) -> SyncScores:
    """LSE-D, LSE-C and the AV offset from `offset_distances` output [N, 2v+1]."""
    if distances.dim() != 2 or distances.shape[0] == 0 or distances.shape[1] % 2 == 0:
        raise DataError(f"distances must be [N >= 1, 2v + 1], got {list(distances.shape)}")
    vshift = (distances.shape[1] - 1) // 2
    mean = distances.mean(dim=0)
    minval, minidx = torch.min(mean, dim=0)
    median = torch.median(mean)  # odd count: the middle value, as torch.median in the reference
    return SyncScores(
        lse_d=float(minval),
        lse_c=float(median - minval),
        offset=vshift - int(minidx),
        mean_distances=mean.detach().cpu(),
        windows=int(distances.shape[0]),
    )


__all__ = ["VSHIFT", "SyncScores", "offset_distances", "scores_from_distances"]
