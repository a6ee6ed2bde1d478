"""SSIM with a Gaussian window of 11 taps and sigma 1.5 (3DGS's ``ssim``), per frame then averaged.

Borders (config ``border``):

- ``"same"`` (default, as 3DGS computes it): the local statistics come from a convolution with
  zero padding of 5 pixels, and the SSIM map is averaged over every pixel of the image.
- ``"valid"``: only positions where the window lies inside the image (a 5-pixel frame is left
  out). This equals scikit-image's ``structural_similarity(..., gaussian_weights=True, sigma=1.5,
  use_sample_covariance=False, data_range=1.0, channel_axis=-1)``, whose reflect-padded filter is
  cropped by 5 pixels before averaging.

Constants C1 = (0.01)^2 and C2 = (0.03)^2 (data range 1); channels are averaged.

The computation is pgs-core's (`pgs.core.metrics.ssim_map`, separable, shared with the training
loss), in float64 on a CPU; this module re-exports it and adds the evaluator.
"""

from __future__ import annotations

import torch
from pydantic import Field

from pgs.core.interfaces import EvaluationInputs, Evaluator, MetricValue
from pgs.core.metrics import SSIM_C1 as C1
from pgs.core.metrics import SSIM_C2 as C2
from pgs.core.metrics import SSIM_SIGMA as SIGMA
from pgs.core.metrics import SSIM_WINDOW as WINDOW
from pgs.core.metrics import Border, gaussian_taps, ssim_map, ssim_per_frame
from pgs.core.registry import ComponentSpec
from pgs.eval.config import RegionMetricConfig
from pgs.eval.regions import check_pair, per_frame_values, select_region


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
        with torch.no_grad():
            per_frame = per_frame_values(
                region, predicted, target, lambda p, t: ssim_per_frame(p, t, self.config.border), self.config.chunk
            )
        protocol = (
            f"SSIM on {region.box_description()}, Gaussian window {WINDOW} sigma {SIGMA}, "
            f"border '{self.config.border}', mean over {per_frame.numel()} frames"
        )
        return [MetricValue("SSIM", float(per_frame.mean()), True, protocol)]


SPEC = ComponentSpec.of(
    "pgs.evaluators",
    SsimConfig,
    SsimEvaluator,
    "SSIM (Gaussian window 11, sigma 1.5, as 3DGS) on the face region or the full frame",
)

__all__ = [
    "C1",
    "C2",
    "SIGMA",
    "SPEC",
    "WINDOW",
    "Border",
    "SsimConfig",
    "SsimEvaluator",
    "gaussian_taps",
    "ssim_map",
    "ssim_per_frame",
]
