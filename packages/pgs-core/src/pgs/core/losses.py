"""Photometric losses of the training stages (Eqs. 11-13): L1, SSIM / D-SSIM, optional LPIPS.

SSIM is `pgs.core.metrics.ssim` (3DGS's: an 11x11 Gaussian window with sigma 1.5 as two separable
1D passes, per channel, zero padding of 5 pixels, C1 = 0.01^2 and C2 = 0.03^2 for data range 1),
the same function pgs-eval reports.
"""

from __future__ import annotations

import torch
from torch import Tensor

from pgs.core import metrics
from pgs.core.metrics import SSIM_SIGMA, SSIM_WINDOW, ssim

__all__ = ["SSIM_SIGMA", "SSIM_WINDOW", "l1", "photometric", "psnr", "ssim", "ssim_map"]


def ssim_map(img1: Tensor, img2: Tensor) -> Tensor:
    """Per-pixel SSIM ("same" border) of two [B, H, W, C] image batches in [0, 1] -> [B, H, W, C]."""
    return metrics.ssim_map(img1, img2).permute(0, 2, 3, 1)


def l1(img1: Tensor, img2: Tensor) -> Tensor:
    """Mean absolute difference (a scalar tensor)."""
    return (img1 - img2).abs().mean()


def photometric(pred: Tensor, target: Tensor, ssim_weight: float) -> Tensor:
    """``L1 + lambda * (1 - SSIM)``, the paper's loss (Eqs. 11-12; TalkingGaussian's lambda is 0.2).

    Args:
        pred: [B, H, W, 3] rendered images.
        target: [B, H, W, 3] ground truth.
        ssim_weight: lambda (TalkingGaussian: 0.2).
    """
    return l1(pred, target) + ssim_weight * (1.0 - ssim(pred, target))


def psnr(pred: Tensor, target: Tensor, mask: Tensor | None = None) -> float:
    """PSNR in dB for images in [0, 1]; over `mask` pixels ([B, H, W] bool) when given."""
    diff = (pred.detach() - target.detach()) ** 2
    if mask is not None:
        count = int(mask.sum())
        if count == 0:
            return float("nan")
        # a weighted sum, not boolean indexing: no gather of the selected values (4x faster)
        mse = (diff.sum(-1) * mask).sum() / (diff.shape[-1] * count)
    else:
        mse = diff.mean()
    return float("inf") if float(mse) == 0.0 else float(-10.0 * torch.log10(mse))
