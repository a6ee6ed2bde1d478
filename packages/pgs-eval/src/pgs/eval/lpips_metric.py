"""The ``lpips`` evaluator: LPIPS with an AlexNet (default) or VGG-16 backbone on the face region.

The model is built by `pgs.core.lpips.build_lpips` (shared with the trainer's stage-3 loss),
which never downloads: the backbone's weight file is read from ``backbone_weights`` or, when
that is unset, from torchvision's own cache (``<torch hub dir>/checkpoints/alexnet-owt-7be5be79.pth``
or ``vgg16-397923af.pth``), and a missing file is a `MissingWeightsError` that says how to obtain it.

``random_backbone=True`` builds the backbone with seeded random weights: for tests and plumbing
only; its numbers are meaningless (identical images still give 0).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from pgs.core.errors import MissingWeightsError
from pgs.core.groups import EVALUATORS
from pgs.core.interfaces import EvaluationInputs, Evaluator, MetricValue
from pgs.core.lpips import (
    BACKBONE_FILES,
    Backbone,
    build_lpips,
    default_backbone_path,
    lpips_distance,
)
from pgs.core.registry import ComponentSpec
from pgs.eval.config import RegionMetricConfig
from pgs.eval.devices import resolve_device
from pgs.eval.regions import check_pair, per_frame_values, select_region


class LpipsConfig(RegionMetricConfig):
    """Config of the ``lpips`` evaluator."""

    net: Backbone = Field("alex", description="Backbone: 'alex' (AlexNet, as the papers) or 'vgg' (VGG-16).")
    backbone_weights: Path | None = Field(
        None,
        description=(
            "torchvision ImageNet weights of the backbone (alexnet-owt-7be5be79.pth / vgg16-397923af.pth); "
            "None: torchvision's cache <torch hub dir>/checkpoints/."
        ),
    )
    random_backbone: bool = Field(
        False, description="Seeded random backbone weights: tests and plumbing only, the numbers are meaningless."
    )
    seed: int = Field(0, ge=0, description="Seed of the random backbone.")
    on_missing: Literal["error", "skip"] = Field(
        "error",
        description=(
            "When the backbone weights are missing: 'error' raises MissingWeightsError; 'skip' reports LPIPS "
            "as not computed, with the reason. A backbone_weights path that does not exist is always an error."
        ),
    )
    device: str = Field("auto", description="'auto' (CUDA when available), 'cpu', 'cuda', 'cuda:1', ...")
    batch_size: int = Field(8, gt=0, description="Full frames per forward pass.")


class LpipsEvaluator(Evaluator):
    """LPIPS (lower is better) on the face region's box or the full frame, averaged over frames."""

    name = "lpips"
    description = "LPIPS v0.1 (AlexNet by default, VGG selectable; local backbone weights) on the face region or frame"

    def __init__(self, config: LpipsConfig) -> None:
        self.config = config

    def _protocol(self, description: str) -> str:
        weights = "RANDOM backbone (test mode, meaningless values)" if self.config.random_backbone else "ImageNet"
        return f"LPIPS v0.1 {self.config.net} ({weights}) on {description}, inputs scaled to [-1, 1], mean over frames"

    def evaluate(self, inputs: EvaluationInputs) -> list[MetricValue]:
        """Return ``[LPIPS]``, or a value of None with the reason when weights are missing and skipped."""
        predicted, target = check_pair(inputs)
        region = select_region(inputs, self.config.region, self.config.box_margin)
        cfg = self.config
        try:
            device = resolve_device(cfg.device)
            model = build_lpips(cfg.net, cfg.backbone_weights, cfg.random_backbone, cfg.seed, device)
        except MissingWeightsError as exc:
            if cfg.on_missing == "error" or cfg.backbone_weights is not None:
                raise
            protocol = self._protocol(region.box_description())
            return [MetricValue("LPIPS", None, False, protocol, f"weights not supplied: {exc}")]
        per_frame = per_frame_values(
            region, predicted, target, lambda p, t: lpips_distance(model, p, t), cfg.batch_size
        )
        return [MetricValue("LPIPS", float(per_frame.mean()), False, self._protocol(region.box_description()))]


SPEC = ComponentSpec.of(EVALUATORS, LpipsConfig, LpipsEvaluator)

__all__ = [
    "BACKBONE_FILES",
    "SPEC",
    "LpipsConfig",
    "LpipsEvaluator",
    "build_lpips",
    "default_backbone_path",
    "lpips_distance",
]
