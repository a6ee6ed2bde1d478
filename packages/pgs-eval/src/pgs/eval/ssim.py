"""SSIM with a Gaussian window of 11 taps and sigma 1.5 (3DGS's ``ssim``), per frame then averaged.

Borders (config ``border``):

- ``"same"`` (default, as 3DGS computes it): the local statistics come from a convolution with
  zero padding of 5 pixels, and the SSIM map is averaged over every pixel of the image.
- ``"valid"``: only positions where the window lies inside the image (a 5-pixel frame is left
  out). This equals scikit-image's ``structural_similarity(..., gaussian_weights=True, sigma=1.5,
  use_sample_covariance=False, data_range=1.0, channel_axis=-1)``, whose reflect-padded filter is
  cropped by 5 pixels before averaging.

Constants C1 = (0.01)^2 and C2 = (0.03)^2 (data range 1); channels are averaged.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor

from pgs.core.errors import DataError
from pgs.core.interfaces import EvaluationInputs, Evaluator, MetricValue
from pgs.core.registry import ComponentSpec
from pgs.eval.config import RegionMetricConfig
from pgs.eval.regions import check_pair, select_region

WINDOW = 11
SIGMA = 1.5
C1 = 0.01**2
C2 = 0.03**2

Border = Literal["same", "valid"]


def gaussian_taps(size: int = WINDOW, sigma: float = SIGMA, dtype: torch.dtype = torch.float64) -> Tensor:
    """[size] normalised Gaussian taps centred on the middle tap."""
    x = torch.arange(size, dtype=dtype) - (size // 2)
    g = torch.exp(-(x * x) / (2.0 * sigma * sigma))
    return g / g.sum()


def _blur(images: Tensor, taps: Tensor, padding: int) -> Tensor:
    """Separable Gaussian filter of [N, C, H, W] images with zero padding `padding`.

    Both 1D passes run along the contiguous last axis as a product of sliding windows
    (``unfold``) with the taps: several times faster than a grouped float64 ``conv2d`` on CPU.
    """
    size = taps.numel()
    if padding:
        images = F.pad(images, (padding, padding, padding, padding))
    rows = images.contiguous().unfold(-1, size, 1) @ taps  # [N, C, H, W']
    cols = rows.transpose(-1, -2).contiguous().unfold(-1, size, 1) @ taps  # [N, C, W', H']
    return cols.transpose(-1, -2)


def ssim_map(predicted: Tensor, target: Tensor, border: Border = "same") -> Tensor:
    """Local SSIM of image pairs.

    Args:
        predicted: [N, H, W, 3] in [0, 1].
        target: [N, H, W, 3] in [0, 1].
        border: ``"same"`` (zero padding, 3DGS) or ``"valid"`` (window inside the image, scikit-image).

    Returns:
        [N, 3, H', W'] SSIM map (H' = H for ``"same"``, H - 10 for ``"valid"``); float64 on CPU,
        float32 on other devices.
    """
    if border == "valid" and min(predicted.shape[1], predicted.shape[2]) < WINDOW:
        raise DataError(
            f"SSIM with border='valid' needs images of at least {WINDOW}x{WINDOW} pixels, "
            f"got {predicted.shape[2]}x{predicted.shape[1]}"
        )
    dtype = torch.float64 if predicted.device.type == "cpu" else torch.float32
    x = predicted.to(dtype).permute(0, 3, 1, 2)
    y = target.to(dtype).permute(0, 3, 1, 2)
    taps = gaussian_taps(dtype=dtype).to(x.device)
    pad = WINDOW // 2 if border == "same" else 0
    mu_x, mu_y, xx, yy, xy = _blur(torch.cat([x, y, x * x, y * y, x * y]), taps, pad).chunk(5)
    var_x = xx - mu_x * mu_x
    var_y = yy - mu_y * mu_y
    cov = xy - mu_x * mu_y
    num = (2.0 * mu_x * mu_y + C1) * (2.0 * cov + C2)
    den = (mu_x * mu_x + mu_y * mu_y + C1) * (var_x + var_y + C2)
    return num / den


def ssim_per_frame(predicted: Tensor, target: Tensor, border: Border = "same") -> Tensor:
    """Mean SSIM of each frame pair ([F, H, W, 3] each) -> [F] float64."""
    return ssim_map(predicted, target, border).mean(dim=(1, 2, 3)).double()


class SsimConfig(RegionMetricConfig):
    """Config of the ``ssim`` evaluator."""

    border: Border = Field(
        "same",
        description=(
            "'same': zero-padded Gaussian filter, map averaged over the whole image (3DGS); "
            "'valid': 5-pixel frame left out (equals scikit-image structural_similarity with "
            "gaussian_weights=True, sigma=1.5, use_sample_covariance=False)."
        ),
    )
    chunk: int = Field(16, gt=0, description="Frames filtered at once (memory bound only).")


class SsimEvaluator(Evaluator):
    """SSIM (higher is better) on the face region's box or the full frame, averaged over frames."""

    name = "ssim"

    def __init__(self, config: SsimConfig) -> None:
        self.config = config

    def evaluate(self, inputs: EvaluationInputs) -> list[MetricValue]:
        """Return ``[SSIM]``."""
        predicted, target = check_pair(inputs)
        region = select_region(inputs, self.config.region, self.config.box_margin)
        values: list[Tensor] = []
        with torch.no_grad():
            if region.boxes is None:
                for start in range(0, predicted.shape[0], self.config.chunk):
                    stop = start + self.config.chunk
                    values.append(ssim_per_frame(predicted[start:stop], target[start:stop], self.config.border))
            else:
                for p, t in zip(region.crops(predicted), region.crops(target), strict=True):
                    values.append(ssim_per_frame(p[None], t[None], self.config.border))
        per_frame = torch.cat(values)
        protocol = (
            f"SSIM on {region.box_description()}, Gaussian window {WINDOW} sigma {SIGMA}, "
            f"border '{self.config.border}', mean over {per_frame.numel()} frames"
        )
        return [MetricValue("SSIM", float(per_frame.mean()), True, protocol)]


SPEC = ComponentSpec(
    name="ssim",
    group="pgs.evaluators",
    config_class=SsimConfig,
    factory=SsimEvaluator,
    description="SSIM (Gaussian window 11, sigma 1.5, as 3DGS) on the face region or the full frame",
)

__all__ = ["SPEC", "SsimConfig", "SsimEvaluator", "gaussian_taps", "ssim_map", "ssim_per_frame"]
