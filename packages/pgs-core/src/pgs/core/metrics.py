"""Image metrics shared by the training loss and pgs-eval: PSNR and SSIM (one implementation each).

SSIM follows 3DGS's ``ssim``: a Gaussian window of 11 taps with sigma 1.5, per channel, constants
C1 = 0.01^2 and C2 = 0.03^2 for data range 1 (Wang et al. 2004, Eq. 13). The 11x11 window is the
outer product of the 1D taps, so the local means and moments are two 1D passes (rows, then
columns) instead of one 2D convolution; the five filtered images (x, y, x^2, y^2, xy) go through
one call. Borders:

- ``"same"`` (the training loss, 3DGS): zero padding of 5 pixels, a map of the image's size;
- ``"valid"``: only positions where the window lies inside the image (a 5-pixel frame is left
  out), which equals scikit-image's ``structural_similarity(..., gaussian_weights=True, sigma=1.5,
  use_sample_covariance=False, data_range=1.0)``.

Both 1D passes are differentiable PyTorch ops. In float32 (and half) they are depthwise
``conv2d`` calls with a [1, 11] and an [11, 1] kernel on a channels-last tensor; in float64 (pgs-eval's precision on a
CPU), where PyTorch's grouped convolution is slow, a product of sliding windows (``unfold``) with
the taps. Both compute the same separable filter.
"""

from __future__ import annotations

import functools
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from pgs.core.errors import DataError

SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_C1 = 0.01**2
SSIM_C2 = 0.03**2

Border = Literal["same", "valid"]


def gaussian_taps(size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA, dtype: torch.dtype = torch.float64) -> Tensor:
    """[size] normalised Gaussian taps centred on the middle tap (computed in float64, then cast)."""
    x = torch.arange(size, dtype=torch.float64) - (size // 2)
    g = torch.exp(-(x * x) / (2.0 * sigma * sigma))
    return (g / g.sum()).to(dtype)


@functools.lru_cache(maxsize=16)
def _taps(dtype: torch.dtype, device: str) -> Tensor:
    return gaussian_taps(dtype=dtype).to(device)


def separable_blur(images: Tensor, padding: int) -> Tensor:
    """The SSIM Gaussian filter of [N, C, H, W] images, zero padding `padding` (5: "same", 0: "valid").

    Returns:
        [N, C, H - 10 + 2 padding, W - 10 + 2 padding] in the images' dtype.
    """
    taps = _taps(images.dtype, str(images.device))
    size = taps.numel()
    n, c, h, w = images.shape
    if images.dtype == torch.float64:  # grouped float64 convolutions are slow on a CPU
        if padding:
            images = F.pad(images, (padding, padding, padding, padding))
        rows = images.contiguous().unfold(-1, size, 1) @ taps  # [N, C, H', W'']
        cols = rows.transpose(-1, -2).contiguous().unfold(-1, size, 1) @ taps  # [N, C, W'', H'']
        return cols.transpose(-1, -2)
    k = n * c
    # channels-last: PyTorch's CPU depthwise convolution is several times faster on it than on NCHW
    flat = images.reshape(1, k, h, w).contiguous(memory_format=torch.channels_last)
    flat = F.conv2d(flat, taps.view(1, 1, 1, size).expand(k, 1, 1, size), padding=(0, padding), groups=k)
    flat = F.conv2d(flat, taps.view(1, 1, size, 1).expand(k, 1, size, 1), padding=(padding, 0), groups=k)
    return flat.reshape(n, c, flat.shape[-2], flat.shape[-1])


def ssim_map(predicted: Tensor, target: Tensor, border: Border = "same", dtype: torch.dtype | None = None) -> Tensor:
    """Local SSIM of image pairs (differentiable).

    Args:
        predicted: [N, H, W, C] in [0, 1].
        target: [N, H, W, C] in [0, 1].
        border: ``"same"`` (zero padding, 3DGS) or ``"valid"`` (window inside the image, scikit-image).
        dtype: compute dtype (default: the inputs').

    Returns:
        [N, C, H', W'] SSIM map (H' = H for ``"same"``, H - 10 for ``"valid"``).

    Raises:
        ValueError: shapes differ or are not [N, H, W, C].
        DataError: ``"valid"`` on an image smaller than the window.
    """
    if predicted.shape != target.shape or predicted.dim() != 4:
        raise ValueError(
            "ssim: expected two [N, H, W, C] tensors of one shape, "
            f"got {list(predicted.shape)} and {list(target.shape)}"
        )
    if border == "valid" and min(predicted.shape[1], predicted.shape[2]) < SSIM_WINDOW:
        raise DataError(
            f"SSIM with border='valid' needs images of at least {SSIM_WINDOW}x{SSIM_WINDOW} pixels, "
            f"got {predicted.shape[2]}x{predicted.shape[1]}"
        )
    dtype = dtype or predicted.dtype
    x = predicted.to(dtype).permute(0, 3, 1, 2)
    y = target.to(dtype).permute(0, 3, 1, 2)
    if border == "same" and x.requires_grad and not y.requires_grad:
        return _SsimLoss.apply(x, y)  # the training loss: a closed-form backward
    pad = SSIM_WINDOW // 2 if border == "same" else 0
    mu_x, mu_y, xx, yy, xy = separable_blur(torch.cat([x, y, x * x, y * y, x * y]), pad).chunk(5)
    mu_xx, mu_yy, mu_xy = mu_x * mu_x, mu_y * mu_y, mu_x * mu_y
    var_x = xx - mu_xx
    var_y = yy - mu_yy
    cov = xy - mu_xy
    # Wang et al. 2004, Eq. 13
    num = (2.0 * mu_xy + SSIM_C1) * (2.0 * cov + SSIM_C2)
    den = (mu_xx + mu_yy + SSIM_C1) * (var_x + var_y + SSIM_C2)
    return num / den


class _SsimLoss(torch.autograd.Function):
    """SSIM map ("same" border) of [N, C, H, W] images with its gradient for the first only.

    With ``A1 = 2 mu_x mu_y + C1``, ``A2 = 2 cov + C2``, ``B1 = mu_x^2 + mu_y^2 + C1``,
    ``B2 = var_x + var_y + C2`` and ``S = A1 A2 / (B1 B2)`` (Wang et al. 2004, Eq. 13), the gradient
    of a per-pixel weight g reaches the filtered moments as ``dmu_x = 2 mu_y (a1 - a2) + 2 mu_x (b1 -
    b2)``, ``dE[x^2] = b2``, ``dE[xy] = 2 a2`` (``a1 = g A2 / (B1 B2)``, ``a2 = g A1 / (B1 B2)``, ``b1 =
    -g S / B1``, ``b2 = -g S / B2``), and x as ``blur(dmu_x) + 2 x blur(dE[x^2]) + y blur(dE[xy])``:
    the zero-padded symmetric filter is its own adjoint. Three filtered images go backward, and none
    of autograd's per-op bookkeeping.
    """

    @staticmethod
    def forward(ctx: Any, x: Tensor, y: Tensor) -> Tensor:
        pad = SSIM_WINDOW // 2
        mu_x, xx, xy, mu_y, yy = separable_blur(torch.cat([x, x * x, x * y, y, y * y]), pad).chunk(5)
        a1 = 2.0 * mu_x * mu_y + SSIM_C1
        a2 = 2.0 * (xy - mu_x * mu_y) + SSIM_C2
        b1 = mu_x * mu_x + mu_y * mu_y + SSIM_C1
        b2 = (xx - mu_x * mu_x) + (yy - mu_y * mu_y) + SSIM_C2
        out = (a1 * a2) / (b1 * b2)
        ctx.save_for_backward(x, y, mu_x, mu_y, a1, a2, b1, b2, out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, None]:
        x, y, mu_x, mu_y, a1, a2, b1, b2, out = ctx.saved_tensors
        g_den = grad / (b1 * b2)
        d_a1 = g_den * a2
        d_a2 = g_den * a1
        d_b1 = -grad * out / b1
        d_b2 = -grad * out / b2
        d_mu = 2.0 * mu_y * (d_a1 - d_a2) + 2.0 * mu_x * (d_b1 - d_b2)
        b_mu, b_xx, b_xy = separable_blur(torch.cat([d_mu, d_b2, 2.0 * d_a2]), SSIM_WINDOW // 2).chunk(3)
        return b_mu + 2.0 * x * b_xx + y * b_xy, None


def ssim(predicted: Tensor, target: Tensor) -> Tensor:
    """Mean SSIM ("same" border) over all pixels, channels and images of [N, H, W, C] pairs: a scalar."""
    return ssim_map(predicted, target).mean()


def ssim_per_frame(predicted: Tensor, target: Tensor, border: Border = "same") -> Tensor:
    """Mean SSIM of each frame pair ([F, H, W, C] each) -> [F] float64 (computed in float64 on a CPU)."""
    dtype = torch.float64 if predicted.device.type == "cpu" else torch.float32
    return ssim_map(predicted, target, border, dtype).mean(dim=(1, 2, 3)).double()


def psnr_per_frame(predicted: Tensor, target: Tensor, masks: Tensor | None = None) -> Tensor:
    """Peak signal-to-noise ratio of each frame, for images in [0, 1] (peak 1).

    ``PSNR = -10 log10(MSE)``, the MSE taken over the three channels of the pixels in `masks`
    (all pixels when None). A frame whose MSE is 0 gets ``inf``.

    Args:
        predicted: [F, H, W, 3] in [0, 1].
        target: [F, H, W, 3] in [0, 1].
        masks: [F, H, W] bool region, or None for the full frame.

    Returns:
        [F] float64 PSNR in dB.
    """
    err = (predicted.double() - target.double()).square().sum(dim=-1)  # [F, H, W]
    if masks is None:
        mse = err.mean(dim=(1, 2)) / 3.0
    else:
        m = masks.to(err.dtype)
        mse = (err * m).sum(dim=(1, 2)) / (3.0 * m.sum(dim=(1, 2)))
    return -10.0 * torch.log10(mse)  # log10(0) = -inf -> +inf dB


__all__ = [
    "SSIM_C1",
    "SSIM_C2",
    "SSIM_SIGMA",
    "SSIM_WINDOW",
    "Border",
    "gaussian_taps",
    "psnr_per_frame",
    "separable_blur",
    "ssim",
    "ssim_map",
    "ssim_per_frame",
]
