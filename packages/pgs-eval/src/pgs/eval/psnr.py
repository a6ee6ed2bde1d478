"""PSNR on the face region or the full frame, averaged over frames (TalkingGaussian's protocol)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from pgs.core.interfaces import EvaluationInputs, Evaluator, MetricValue
from pgs.core.registry import ComponentSpec
from pgs.eval.config import RegionMetricConfig
from pgs.eval.regions import check_pair, select_region


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


class PsnrConfig(RegionMetricConfig):
    """Config of the ``psnr`` evaluator."""


class PsnrEvaluator(Evaluator):
    """PSNR (higher is better), per frame then averaged."""

    name = "psnr"

    def __init__(self, config: PsnrConfig) -> None:
        self.config = config

    def evaluate(self, inputs: EvaluationInputs) -> list[MetricValue]:
        """Return ``[PSNR]`` in dB; ``inf`` (with a note) when a frame equals its target."""
        predicted, target = check_pair(inputs)
        region = select_region(inputs, self.config.region, self.config.box_margin)
        with torch.no_grad():
            values = psnr_per_frame(predicted, target, region.masks)
        identical = int(torch.isinf(values).sum())
        value = float(values.mean())
        note = ""
        if identical:
            note = f"prediction equals the target (MSE = 0) in {identical} of {values.numel()} frames: PSNR is infinite"
            value = math.inf
        protocol = f"PSNR in dB on {region.description}, peak 1, per-frame then mean over {values.numel()} frames"
        return [MetricValue("PSNR", value, True, protocol, note)]


SPEC = ComponentSpec(
    name="psnr",
    group="pgs.evaluators",
    config_class=PsnrConfig,
    factory=PsnrEvaluator,
    description="PSNR (dB) on the face region or the full frame, averaged over frames",
)

__all__ = ["SPEC", "PsnrConfig", "PsnrEvaluator", "psnr_per_frame"]
