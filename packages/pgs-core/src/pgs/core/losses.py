"""Photometric losses of the training stages (Eqs. 11-13): L1, SSIM / D-SSIM, optional LPIPS.

SSIM follows 3DGS: an 11x11 Gaussian window with sigma 1.5, computed per channel with zero
padding of 5 pixels ("same" output size), constants C1 = 0.01^2 and C2 = 0.03^2 for data range 1.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import Tensor

SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
_C1 = 0.01**2
_C2 = 0.03**2


@functools.lru_cache(maxsize=8)
def _gaussian_window(size: int, sigma: float, channels: int, dtype: torch.dtype, device: str) -> Tensor:
    coords = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    g = g / g.sum()
    window = (g[:, None] @ g[None, :]).to(dtype=dtype, device=device)
    return window.expand(channels, 1, size, size).contiguous()


def ssim_map(img1: Tensor, img2: Tensor, window_size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> Tensor:
    """Per-pixel SSIM of two image batches.

    Args:
        img1: [B, H, W, C] images in [0, 1].
        img2: [B, H, W, C] images in [0, 1].
        window_size: Gaussian window size (11 in 3DGS).
        sigma: Gaussian window standard deviation (1.5 in 3DGS).

    Returns:
        [B, H, W, C] SSIM values.
    """
    if img1.shape != img2.shape or img1.dim() != 4:
        raise ValueError(
            f"ssim: expected two [B, H, W, C] tensors of one shape, got {list(img1.shape)} and {list(img2.shape)}"
        )
    x = img1.permute(0, 3, 1, 2)
    y = img2.permute(0, 3, 1, 2)
    channels = x.shape[1]
    window = _gaussian_window(window_size, sigma, channels, x.dtype, str(x.device))
    pad = window_size // 2

    def blur(t: Tensor) -> Tensor:
        return F.conv2d(t, window, padding=pad, groups=channels)

    mu_x, mu_y = blur(x), blur(y)
    mu_xx, mu_yy, mu_xy = mu_x * mu_x, mu_y * mu_y, mu_x * mu_y
    sigma_xx = blur(x * x) - mu_xx
    sigma_yy = blur(y * y) - mu_yy
    sigma_xy = blur(x * y) - mu_xy
    numerator = (2 * mu_xy + _C1) * (2 * sigma_xy + _C2)
    denominator = (mu_xx + mu_yy + _C1) * (sigma_xx + sigma_yy + _C2)
    return (numerator / denominator).permute(0, 2, 3, 1)


def ssim(img1: Tensor, img2: Tensor) -> Tensor:
    """Mean SSIM over all pixels and channels of [B, H, W, C] images (a scalar tensor)."""
    return ssim_map(img1, img2).mean()


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
        m = mask[..., None].expand_as(diff)
        if not bool(m.any()):
            return float("nan")
        mse = diff[m].mean()
    else:
        mse = diff.mean()
    return float("inf") if float(mse) == 0.0 else float(-10.0 * torch.log10(mse))
