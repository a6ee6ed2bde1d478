"""Hyperparameters of the density strategies (defaults: TalkingGaussian's face/mouth branches)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from pgs.core.config import ComponentConfig


class GradientConfig(ComponentConfig):
    """3DGS / TalkingGaussian adaptive density control (Eq. 1).

    Defaults follow TalkingGaussian (``scripts/train_xx.sh``, ``train_face.py``): refine from
    step 500, every 100 steps, until ``iterations - 1000``; clone/split above the gradient
    threshold; prune by a rising opacity threshold and (after step 3000) by world size; no
    screen-size pruning (it never fires in 3DGS's code, see ``prune_screen_size``); no opacity reset.
    """

    grad_threshold: float = Field(
        2e-4,
        gt=0,
        description=(
            "tau_pos: densify Gaussians whose averaged NDC screen-space gradient norm is >= this "
            "(3DGS and TalkingGaussian mouth: 2e-4; TalkingGaussian face: 5e-4)."
        ),
    )
    refine_from: int = Field(
        500, ge=0, description="Refine (densify and prune) only at steps > this (3DGS/TalkingGaussian: 500)."
    )
    refine_every: int = Field(100, gt=0, description="Refine at steps divisible by this (3DGS/TalkingGaussian: 100).")
    refine_until: int = Field(
        49_000,
        gt=0,
        description=(
            "Accumulate statistics and refine only at steps < this (TalkingGaussian: iterations - 1000, "
            "49000 for the face's 50000 iterations; its mouth default is 45000)."
        ),
    )
    percent_dense: float = Field(
        0.005,
        gt=0,
        description=(
            "Clone Gaussians whose largest scale is <= percent_dense * scene_extent, split the larger ones "
            "(TalkingGaussian: 0.005; 3DGS: 0.01)."
        ),
    )
    n_split: int = Field(2, ge=2, description="Children per split Gaussian; their scales shrink by 1/(0.8*n_split).")
    prune_opacity_start: float = Field(
        0.05,
        ge=0,
        lt=1,
        description="Opacity pruning threshold at step 0 (TalkingGaussian: 0.05).",
    )
    prune_opacity_end: float = Field(
        0.3,
        ge=0,
        lt=1,
        description=(
            "Opacity pruning threshold at refine_until; the threshold is start + (end - start) * "
            "step / refine_until (TalkingGaussian: 0.05 + 0.25 * it / densify_until, i.e. 0.3; "
            "3DGS: constant 0.005, set start = end)."
        ),
    )
    prune_world_size: float | None = Field(
        0.1,
        gt=0,
        description=(
            "Prune Gaussians whose largest scale exceeds this times scene_extent, at steps > prune_size_from "
            "(3DGS/TalkingGaussian: 0.1; None: never)."
        ),
    )
    prune_screen_size: float | None = Field(
        None,
        gt=0,
        description=(
            "Prune Gaussians whose largest screen radius (pixels) since the last refine exceeds this, at steps "
            "> prune_size_from. None (default) reproduces 3DGS/TalkingGaussian: they pass 20, but "
            "densification_postfix zeroes max_radii2D before the test, so it never fires; 20 applies it as written."
        ),
    )
    prune_size_from: int = Field(
        3000,
        ge=0,
        description="Size pruning (world and screen) applies at steps > this (3DGS/TalkingGaussian: 3000).",
    )
    opacity_reset_every: int | None = Field(
        None,
        gt=0,
        description=(
            "Clamp every opacity to opacity_reset_value at steps divisible by this, inside the refine window "
            "(3DGS: 3000; TalkingGaussian: None, no reset)."
        ),
    )
    opacity_reset_value: float = Field(
        0.01, gt=0, lt=1, description="Opacity ceiling applied by a reset (3DGS: 0.01)."
    )
    max_gaussians: int | None = Field(
        None,
        gt=0,
        description=(
            "Cap on the Gaussian count: growth beyond it is refused, keeping the candidates with the largest "
            "statistic (None: no cap)."
        ),
    )
    loss_reduction: Literal["mean", "sum"] = Field(
        "mean",
        description=(
            "How the loss combines the C images of a step: 'mean' multiplies screen gradients by C to undo the "
            "average (gsplat), 'sum' leaves them. With one image per step both are the same."
        ),
    )
    seed: int = Field(0, ge=0, description="Seed of the generator that samples split children's centres.")

    @model_validator(mode="after")
    def _check_window(self) -> GradientConfig:
        if self.refine_until <= self.refine_from:
            raise ValueError(f"refine_until ({self.refine_until}) must be > refine_from ({self.refine_from})")
        return self


class PixelAwareConfig(GradientConfig):
    """PGSTalker's pixel-aware density control (Eqs. 2, 4, 5): views weighted by covered pixels.

    Growth and pruning are the same as `GradientConfig`; only the gradient statistic differs.
    """

    z_min: float = Field(
        0.2,
        ge=0,
        description=(
            "Eq. 4 validity: a view counts for a Gaussian only when its camera depth is > z_min (and its radius "
            "> 0); the paper's default 0.2."
        ),
    )
    depth_scaling: bool = Field(
        False,
        description=(
            "Pixel-GS depth scaling: multiply each view's gradient norm by min(1, (depth / "
            "(depth_scaling_threshold * scene_extent))^2), damping Gaussians very near the camera. Off by default."
        ),
    )
    depth_scaling_threshold: float = Field(
        0.37, gt=0, description="Pixel-GS depth threshold as a fraction of scene_extent (Pixel-GS: 0.37)."
    )


__all__ = ["GradientConfig", "PixelAwareConfig"]
