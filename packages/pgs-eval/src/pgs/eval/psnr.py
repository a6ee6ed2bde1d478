"""PSNR on the face region or the full frame, averaged over frames (TalkingGaussian's protocol).

`psnr_per_frame` is pgs-core's (`pgs.core.metrics`), re-exported here.
"""

from __future__ import annotations

import math

import torch

from pgs.core.interfaces import EvaluationInputs, Evaluator, MetricValue
from pgs.core.metrics import psnr_per_frame
from pgs.core.registry import ComponentSpec
from pgs.eval.config import RegionMetricConfig
from pgs.eval.regions import check_pair, select_region


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


SPEC = ComponentSpec.of(
    "pgs.evaluators", PsnrConfig, PsnrEvaluator, "PSNR (dB) on the face region or the full frame, averaged over frames"
)

__all__ = ["SPEC", "PsnrConfig", "PsnrEvaluator", "psnr_per_frame"]
