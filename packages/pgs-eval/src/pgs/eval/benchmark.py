"""The real-speaker quality benchmark of ``pgs eval``: fixed regions, mouth-opening correlation, baselines.

These numbers are written under ``"benchmark"`` (a flat dict) and ``"baselines"`` in
``metrics.json``, beside the Table 1 report, and do not depend on ``--region``:

- ``face_psnr`` / ``face_ssim``: the face region of the Table 1 report (parsing face + inner mouth);
- ``head_psnr``: parsing face + hair + inner mouth;
- ``mouth_psnr``: lips + inner mouth: the filled outer-lip polygon (iBUG points 48-59 of the
  folder's ground-truth ``landmarks.npy``, pixel centres at integer + 0.5) united with the parsing
  inner-mouth mask; without landmarks the inner-mouth mask grown by `MOUTH_GROW_PX` pixels
  (the protocol says which);
- ``lmd``: see `pgs.eval.selfdriven` (MediaPipe on the renders against ``landmarks.npy`` on a
  prepped folder);
- ``mouth_open_r``: Pearson correlation over the held-out frames between the inner-lip opening of
  the rendered and of the ground-truth frames (`mouth_opening`).

Baselines, scored on the same frames with the same regions: ``mean_image`` (the mean of evenly
spaced training images) and ``static_only`` (a checkpoint rendered with its canonical Gaussians).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from pgs.core.errors import DataError
from pgs.core.landmarks68 import OUTER_LIP
from pgs.eval.psnr import psnr_per_frame
from pgs.eval.ssim import SIGMA, WINDOW, ssim_per_frame

if TYPE_CHECKING:
    from pgs.core.data.dataset import Frame, SpeakerDataset

#: Growth in pixels of the inner-mouth parsing mask when there are no landmarks to draw the lips.
MOUTH_GROW_PX = 3
#: Most training images averaged for the mean-image baseline (evenly spaced over the split).
MEAN_IMAGE_MAX = 100
#: Inner-lip point pairs (upper, lower) of the iBUG layout: 61-67, 62-66, 63-65.
INNER_LIP_PAIRS: tuple[tuple[int, int], ...] = ((61, 67), (62, 66), (63, 65))
#: Outer eye corners (iBUG 36 and 45): the interocular distance that makes the opening scale free.
EYE_CORNERS = (36, 45)


def polygon_mask(polygon: Tensor, height: int, width: int) -> Tensor:
    """Pixels whose centre (x + 0.5, y + 0.5) lies inside a polygon (even-odd rule).

    Args:
        polygon: [P, 2] vertices (x, y) in pixels, in order (closed implicitly).
        height: image height H.
        width: image width W.

    Returns:
        [H, W] bool; all False when the polygon has a non-finite vertex or fewer than 3 vertices.
    """
    pts = polygon.detach().double().cpu()
    if pts.shape[0] < 3 or not bool(torch.isfinite(pts).all()):
        return torch.zeros((height, width), dtype=torch.bool)
    ys = (torch.arange(height, dtype=torch.float64) + 0.5)[:, None]
    xs = (torch.arange(width, dtype=torch.float64) + 0.5)[None, :]
    inside = torch.zeros((height, width), dtype=torch.bool)
    for (x0, y0), (x1, y1) in zip(pts.tolist(), torch.roll(pts, -1, dims=0).tolist(), strict=True):
        if y0 == y1:
            continue  # a horizontal edge never crosses a horizontal ray
        crosses = (y0 > ys) != (y1 > ys)  # [H, 1]
        x_at = x0 + (ys - y0) * (x1 - x0) / (y1 - y0)  # [H, 1]
        inside ^= crosses & (xs < x_at)
    return inside


def dilate(masks: Tensor, pixels: int) -> Tensor:
    """Grow boolean masks by `pixels` (square structuring element, Chebyshev distance).

    Args:
        masks: [F, H, W] bool.
        pixels: growth >= 0.

    Returns:
        [F, H, W] bool.
    """
    if pixels <= 0:
        return masks.bool()
    grown = F.max_pool2d(masks.float()[:, None], 2 * pixels + 1, stride=1, padding=pixels)
    return grown[:, 0] > 0


def mouth_masks(inner_mouth: Tensor, landmarks: Tensor | None, grow: int = MOUTH_GROW_PX) -> tuple[Tensor, str]:
    """The lips + inner-mouth region of each frame.

    Args:
        inner_mouth: [F, H, W] bool inner-mouth parsing masks.
        landmarks: [F, 68, 2] ground-truth pixel landmarks (iBUG order), or None.
        grow: growth of the inner-mouth mask when there are no landmarks.

    Returns:
        ([F, H, W] bool masks, description for the protocol).
    """
    inner = inner_mouth.bool().cpu()
    if landmarks is None:
        desc = f"inner-mouth parsing mask grown by {grow} px (no landmarks.npy to draw the lips)"
        return dilate(inner, grow), desc
    count, height, width = inner.shape
    if tuple(landmarks.shape) != (count, 68, 2):
        raise DataError(f"landmarks: expected [{count}, 68, 2], got {list(landmarks.shape)}")
    lips = torch.stack([polygon_mask(lms[OUTER_LIP], height, width) for lms in landmarks])
    return lips | inner, "lips + inner mouth (filled outer-lip polygon 48-59 of landmarks.npy | inner-mouth parsing)"


@dataclass(frozen=True)
class BenchmarkRegions:
    """The benchmark's pixel regions of the evaluated frames.

    Attributes:
        face: [F, H, W] bool parsing face + inner mouth (the Table 1 face region).
        head: [F, H, W] bool parsing face + hair + inner mouth.
        mouth: [F, H, W] bool lips + inner mouth.
        mouth_description: how `mouth` was built.
    """

    face: Tensor
    head: Tensor
    mouth: Tensor
    mouth_description: str


def benchmark_regions(frames: Sequence[Frame]) -> BenchmarkRegions:
    """Face, head and mouth regions of dataset frames (landmarks from the frames, when all have them)."""
    face = torch.stack([f.masks.face | f.masks.mouth for f in frames]).cpu()
    head = torch.stack([f.masks.face | f.masks.hair | f.masks.mouth for f in frames]).cpu()
    inner = torch.stack([f.masks.mouth for f in frames]).cpu()
    has_lms = all(f.landmarks is not None for f in frames)
    lms = torch.stack([f.landmarks for f in frames]).cpu() if has_lms else None  # type: ignore[misc]
    mouth, desc = mouth_masks(inner, lms)
    return BenchmarkRegions(face, head, mouth, desc)


def region_psnr(predicted: Tensor, target: Tensor, masks: Tensor) -> tuple[float | None, int]:
    """PSNR over a region, per frame then mean over frames whose region is not empty.

    Args:
        predicted: [F, H, W, 3] or [H, W, 3] (one image scored against every target) in [0, 1].
        target: [F, H, W, 3] in [0, 1].
        masks: [F, H, W] bool.

    Returns:
        (PSNR in dB, ``inf`` when a frame matches exactly, None when every region is empty;
        frames used).
    """
    used = masks.flatten(1).any(dim=1)
    if not bool(used.any()):
        return None, 0
    pred = predicted.expand_as(target) if predicted.dim() == 3 else predicted
    values = psnr_per_frame(pred[used], target[used], masks[used])
    return (math.inf if bool(torch.isinf(values).any()) else float(values.mean())), int(used.sum())


def region_ssim(predicted: Tensor, target: Tensor, masks: Tensor) -> float | None:
    """SSIM (3DGS 'same' border) on each frame's region bounding box, mean over frames with a region.

    Args:
        predicted: [F, H, W, 3] in [0, 1].
        target: [F, H, W, 3] in [0, 1].
        masks: [F, H, W] bool.

    Returns:
        Mean SSIM, or None when every region is empty.
    """
    values: list[float] = []
    for p, t, m in zip(predicted, target, masks, strict=True):
        ys, xs = torch.nonzero(m.any(dim=1)).flatten(), torch.nonzero(m.any(dim=0)).flatten()
        if ys.numel() == 0:
            continue
        box = (slice(int(ys[0]), int(ys[-1]) + 1), slice(int(xs[0]), int(xs[-1]) + 1))
        values.append(float(ssim_per_frame(p[box][None], t[box][None])[0]))
    return float(np.mean(values)) if values else None


def image_scores(
    predicted: Tensor, target: Tensor, regions: BenchmarkRegions, ssim: bool = True
) -> dict[str, float | None]:
    """``face_psnr``, ``head_psnr``, ``mouth_psnr`` (and ``face_ssim``) of renders against ground truth.

    Args:
        predicted: [F, H, W, 3] renders, or one [H, W, 3] image for every frame (mean-image baseline).
        target: [F, H, W, 3] ground truth.
        regions: the frames' regions.
        ssim: also compute ``face_ssim``.
    """
    with torch.no_grad():
        scores: dict[str, float | None] = {
            "face_psnr": region_psnr(predicted, target, regions.face)[0],
            "head_psnr": region_psnr(predicted, target, regions.head)[0],
            "mouth_psnr": region_psnr(predicted, target, regions.mouth)[0],
        }
        if ssim:
            scores["face_ssim"] = region_ssim(predicted.expand_as(target), target, regions.face)
    return scores


def image_protocols(regions: BenchmarkRegions) -> dict[str, str]:
    """Protocol line of each `image_scores` key."""
    psnr = "PSNR in dB, peak 1, MSE over the region's pixels and 3 channels, per frame then mean"
    return {
        "face_psnr": f"{psnr}; region: parsing face + inner mouth",
        "face_ssim": (
            f"SSIM on the bounding box of parsing face + inner mouth, Gaussian window {WINDOW} sigma {SIGMA}, "
            "border 'same' (3DGS), per frame then mean"
        ),
        "head_psnr": f"{psnr}; region: parsing face + hair + inner mouth",
        "mouth_psnr": f"{psnr}; region: {regions.mouth_description}",
    }


def mouth_opening(landmarks: Tensor) -> Tensor:
    """Scale-free inner-lip opening of each frame.

    The mean Euclidean distance of the inner-lip pairs 61-67, 62-66, 63-65 (upper to lower lip),
    divided by the interocular distance (outer eye corners 36-45).

    Args:
        landmarks: [F, 68, 2] pixel landmarks (iBUG order); NaN rows for undetected frames.

    Returns:
        [F] float64 opening; NaN where landmarks are missing or the eyes coincide.
    """
    lms = landmarks.detach().double().cpu()
    upper = lms[:, [a for a, _ in INNER_LIP_PAIRS]]
    lower = lms[:, [b for _, b in INNER_LIP_PAIRS]]
    gap = torch.linalg.vector_norm(upper - lower, dim=-1).mean(dim=1)
    eyes = torch.linalg.vector_norm(lms[:, EYE_CORNERS[0]] - lms[:, EYE_CORNERS[1]], dim=-1)
    return torch.where(eyes > 0, gap / eyes, torch.full_like(gap, float("nan")))


def pearson_r(a: Tensor | np.ndarray, b: Tensor | np.ndarray) -> tuple[float | None, str]:
    """Pearson correlation of two sequences over the positions where both are finite.

    Args:
        a: [F] values (e.g. the rendered frames' opening).
        b: [F] values (e.g. the ground truth's opening).

    Returns:
        (r, note): r is None with a reason when fewer than 3 positions are usable or either side
        has zero variance; the note also counts left-out positions.
    """
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise DataError(f"pearson_r: expected two [F] sequences, got {list(x.shape)} and {list(y.shape)}")
    ok = np.isfinite(x) & np.isfinite(y)
    note = f"{int((~ok).sum())} of {x.size} frames without landmarks left out" if not ok.all() else ""
    x, y = x[ok], y[ok]
    if x.size < 3:
        return None, "; ".join(s for s in (f"n/a: {x.size} usable frames (need 3)", note) if s)
    dx, dy = x - x.mean(), y - y.mean()
    sx, sy = float(np.sqrt((dx * dx).sum())), float(np.sqrt((dy * dy).sum()))
    if sy == 0.0 or sx == 0.0:
        side = "ground-truth" if sy == 0.0 else "rendered"
        return None, "; ".join(s for s in (f"n/a: the {side} opening does not vary", note) if s)
    return float((dx * dy).sum() / (sx * sy)), note


def mean_training_image(train_set: SpeakerDataset, max_images: int = MEAN_IMAGE_MAX) -> tuple[Tensor, int]:
    """The mean of evenly spaced ground-truth training images.

    Args:
        train_set: the training split.
        max_images: most images averaged (all when the split is smaller).

    Returns:
        ([H, W, 3] float32 mean image, number of images averaged).
    """
    count = len(train_set)
    if count < 1:
        raise DataError("the training split has no frames for the mean-image baseline")
    picks = np.unique(np.linspace(0, count - 1, min(count, max_images)).round().astype(np.int64))
    total = torch.zeros_like(train_set.load_image(int(picks[0])), dtype=torch.float64)
    for i in picks:
        total += train_set.load_image(int(i)).double()
    return (total / len(picks)).float(), len(picks)


__all__ = [
    "EYE_CORNERS",
    "INNER_LIP_PAIRS",
    "MEAN_IMAGE_MAX",
    "MOUTH_GROW_PX",
    "BenchmarkRegions",
    "benchmark_regions",
    "dilate",
    "image_protocols",
    "image_scores",
    "mean_training_image",
    "mouth_masks",
    "mouth_opening",
    "pearson_r",
    "polygon_mask",
    "region_psnr",
    "region_ssim",
]
