"""Loss pieces of the branch and fine-tune steps beyond Eqs. 11-13's photometric term.

- `face_target`: the face branch's target (inner mouth painted as background);
- `lips_window` / `lips_box` / `lips_l1`: an extra L1 on a box around the lips (``loss.lips_weight``);
- `mouth_alpha_prior`: TalkingGaussian's alpha prior of the inside-mouth branch;
- `mask_window` / `windowed_photometric`: the photometric loss of a prediction that equals its
  target outside a mask, computed on the mask's box alone (the inside-mouth branch's step).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from pgs.core.data.dataset import Frame
from pgs.core.losses import photometric
from pgs.core.metrics import SSIM_WINDOW


def face_target(frame: Frame) -> Tensor:
    """The face branch's target: the frame with the inner mouth painted as background."""
    return torch.where(frame.masks.mouth[..., None], frame.background, frame.image)


def lips_window(frame: Frame, grow: float = 0.25) -> tuple[slice, slice] | None:
    """Rows and columns of a box around the lips (landmarks 48-67 grown by `grow` x their width), or None.

    Falls back to the inner-mouth mask's box grown the same way when the frame has no landmarks,
    and to None when it has neither.
    """
    h, w = frame.image.shape[:2]
    if frame.landmarks is not None:
        pts = frame.landmarks[48:68]
        x0, y0 = pts.min(0).values.tolist()
        x1, y1 = pts.max(0).values.tolist()
    else:
        mouth = mask_window(frame.masks.mouth, margin=0)
        if mouth is None:
            return None
        rows, cols = mouth
        x0, x1, y0, y1 = float(cols.start), float(cols.stop), float(rows.start), float(rows.stop)
    margin = grow * (x1 - x0)
    r0, r1 = max(int(y0 - margin), 0), min(math.ceil(y1 + margin), h)
    c0, c1 = max(int(x0 - margin), 0), min(math.ceil(x1 + margin), w)
    if r1 <= r0 or c1 <= c0:
        return None
    return slice(r0, r1), slice(c0, c1)


def lips_box(frame: Frame, grow: float = 0.25) -> Tensor | None:
    """[H, W] bool mask of `lips_window` (None without one)."""
    window = lips_window(frame, grow)
    if window is None:
        return None
    box = torch.zeros(frame.image.shape[:2], dtype=torch.bool, device=frame.image.device)
    box[window] = True
    return box


def lips_l1(pred: Tensor, target: Tensor, frame: Frame) -> Tensor:
    """Mean absolute error inside the frame's `lips_window` (zero without one).

    Args:
        pred: [H, W, 3] prediction.
        target: [H, W, 3] target.
        frame: the frame (landmarks or inner-mouth mask).
    """
    window = lips_window(frame)
    if window is None:
        return pred.sum() * 0.0
    return (pred[window] - target[window]).abs().mean()


def mouth_alpha_prior(alpha: Tensor, mouth: Tensor, margin: int = 2) -> Tensor:
    """TalkingGaussian's mouth alpha prior: mean((1 - A) in the mouth box) + mean(A outside it).

    The box is the inner-mouth mask's bounding box grown by `margin` pixels (zero without a mouth).
    """
    window = mask_window(mouth, margin)
    box = torch.zeros_like(mouth)
    if window is not None:
        box[window] = True
    return ((1.0 - alpha) * box).mean() + (alpha * ~box).mean()


def mask_window(mask: Tensor, margin: int = 2 * (SSIM_WINDOW // 2)) -> tuple[slice, slice] | None:
    """Rows and columns of `mask`'s bounding box grown by `margin` pixels (clipped), or None if empty.

    Args:
        mask: [H, W] bool.
        margin: pixels added on each side; the default, twice the SSIM window's radius, reaches every
            pixel whose SSIM window overlaps a window that overlaps the mask.
    """
    rows = torch.nonzero(mask.any(1)).flatten()
    if rows.numel() == 0:
        return None
    cols = torch.nonzero(mask.any(0)).flatten()
    h, w = mask.shape
    r0, r1 = max(int(rows[0]) - margin, 0), min(int(rows[-1]) + margin + 1, h)
    c0, c1 = max(int(cols[0]) - margin, 0), min(int(cols[-1]) + margin + 1, w)
    return slice(r0, r1), slice(c0, c1)


def windowed_photometric(
    pred: Tensor, target: Tensor, window: tuple[slice, slice] | None, ssim_weight: float
) -> Tensor:
    """`photometric(pred, target)` for a `pred` equal to `target` outside a mask, on its `mask_window`.

    Outside the window the L1 term is 0 and the SSIM map exactly 1 (identical images under every
    window there), so the full-frame loss is the window's loss scaled by its share of the frame
    (Eqs. 11-12): ``L1 = (a / A) L1_w`` and ``1 - SSIM = (a / A) (1 - SSIM_w)`` for a window of a
    pixels in a frame of A. Near the window's inner edges the SSIM windows see zero padding
    instead of the frame, but the two images agree over all of those windows either way, so
    those values are 1 in both; every other value inside is the full frame's.

    Args:
        pred: [B, H, W, 3] prediction, equal to `target` outside the mask.
        target: [B, H, W, 3].
        window: `mask_window` of the mask (None: an empty mask, the loss is 0 with gradients kept).
        ssim_weight: lambda of D-SSIM.

    Returns:
        Scalar loss, equal to `photometric(pred, target, ssim_weight)` up to rounding.
    """
    if window is None:
        return pred.sum() * 0.0
    rows, cols = window
    p, t = pred[:, rows, cols], target[:, rows, cols]
    share = (p.shape[1] * p.shape[2]) / (pred.shape[1] * pred.shape[2])
    return share * photometric(p, t, ssim_weight)


__all__ = [
    "face_target",
    "lips_box",
    "lips_l1",
    "lips_window",
    "mask_window",
    "mouth_alpha_prior",
    "windowed_photometric",
]
