"""The two density strategies: `GradientStrategy` (3DGS, Eq. 1) and `PixelAwareStrategy` (Eq. 2).

Lifecycle (gsplat's Strategy, with a typed state)::

    strategy = registry("pgs.density").create("pixel-aware", {"grad_threshold": 5e-4})
    state = strategy.initial_state(params, scene_extent)
    for step in range(steps):
        render = rasterizer.render(gaussians_from(params), cameras)
        loss = ...
        strategy.step_pre_backward(params, optimizers, state, step, render)
        loss.backward()
        report = strategy.step_post_backward(params, optimizers, state, step, render)
        for opt in optimizers.values():
            opt.step(); opt.zero_grad()

`step_post_backward` may replace the tensors in `params` (and in the optimizers): anything
holding the old tensors must read them from `params` again after a step whose report says
``refined`` (or ``reset_opacity``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from pgs.core.interfaces import DensityReport, DensityStrategy
from pgs.core.rendering.result import RenderResult
from pgs.density import ops
from pgs.density.config import GradientConfig, PixelAwareConfig
from pgs.density.state import DensityState
from pgs.density.statistics import (
    check_render,
    depth_scale,
    ndc_grad_norms,
    pixel_weights,
    visible_weights,
)

Params = dict[str, nn.Parameter]
Optimizers = dict[str, torch.optim.Optimizer]


@dataclass(frozen=True)
class GrowthDecision:
    """Which Gaussians a refine step grows (before the cap and pruning).

    Attributes:
        score: [N] the densification statistic (Eq. 1 or Eq. 2 average).
        clone: [N] bool, high statistic and small: cloned.
        split: [N] bool, high statistic and large: split.
    """

    score: Tensor
    clone: Tensor
    split: Tensor


class GradientStrategy(DensityStrategy[DensityState]):
    """3DGS / TalkingGaussian adaptive density control driven by Eq. 1.

    The statistic of Gaussian i is ``sum_k ||g_k^i|| / |{k : i visible in view k}|`` over the
    views rendered since the last refine, with g_k^i its NDC screen-space gradient.

    Args:
        config: the hyperparameters.
    """

    name = "gradient"
    description = "3DGS/TalkingGaussian densification: view-averaged NDC gradient norm (Eq. 1), clone/split/prune"
    needs_pixel_counts = False  # Eq. 1 weighs views by visibility only

    def __init__(self, config: GradientConfig | None = None) -> None:
        self.config = config if config is not None else GradientConfig()

    # ------------------------------------------------------------------ per-view statistics
    def view_statistics(self, render: RenderResult, state: DensityState) -> tuple[Tensor, Tensor]:
        """Per-view values and weights of this step: ([C, N] ||g||, [C, N] w) (Eq. 1: w = visible)."""
        return ndc_grad_norms(render, self.config.loss_reduction), visible_weights(render)

    def accumulate(self, render: RenderResult, state: DensityState) -> None:
        """Add this step's views to the state: grad_sum += sum_k w_k ||g_k||, weight_sum += sum_k w_k."""
        values, weights = self.view_statistics(render, state)
        dtype = state.grad_sum.dtype
        weights = weights.to(dtype)
        state.grad_sum += (weights * values.to(dtype)).sum(0)
        state.weight_sum += weights.sum(0)
        radii = torch.where(render.radii > 0, render.radii.detach().to(torch.float32), 0.0)
        state.max_radius = torch.maximum(state.max_radius, radii.amax(0))

    # ------------------------------------------------------------------ lifecycle
    def initial_state(self, params: Mapping[str, nn.Parameter], scene_extent: float) -> DensityState:
        """Zero statistics for the N Gaussians of `params`.

        Raises:
            ValueError: `params` are not row-aligned, or `scene_extent` is not a positive number.
        """
        n = ops.num_gaussians(dict(params))
        if not (isinstance(scene_extent, int | float) and scene_extent > 0 and scene_extent < float("inf")):
            raise ValueError(f"scene_extent: must be a positive finite number, got {scene_extent!r}")
        return DensityState.empty(n, params["means"].device, float(scene_extent), self.config.seed)

    def _active(self, step: int) -> bool:
        return step < self.config.refine_until

    def _check(self, params: Params, state: DensityState, render: RenderResult) -> int:
        n = ops.num_gaussians(params)
        if state.num != n:
            raise ValueError(
                f"density state: describes {state.num} Gaussians but params have {n}; the parameters were "
                "changed outside the strategy, create a new state with initial_state()"
            )
        check_render(render, n)
        return n

    def step_pre_backward(
        self, params: Params, optimizers: Optimizers, state: DensityState, step: int, render: RenderResult
    ) -> None:
        """Ask autograd to keep ``render.means2d.grad`` (it is not a leaf)."""
        if not self._active(step):
            return
        self._check(params, state, render)
        if not render.means2d.requires_grad:
            raise ValueError(
                "render.means2d does not require grad: density control reads its gradient; render with "
                "parameters that require grad (not under torch.no_grad())"
            )
        if not render.means2d.is_leaf:
            render.means2d.retain_grad()

    def step_post_backward(
        self, params: Params, optimizers: Optimizers, state: DensityState, step: int, render: RenderResult
    ) -> DensityReport:
        """Accumulate this step's statistics; at refine steps densify and prune; maybe reset opacity."""
        cfg = self.config
        if not self._active(step):
            return DensityReport(total=ops.num_gaussians(params))
        self._check(params, state, render)
        ops.check_optimizers(params, optimizers)
        self.accumulate(render, state)
        report = DensityReport()
        if step > cfg.refine_from and step % cfg.refine_every == 0:
            report = self.refine(params, optimizers, state, step)
        if cfg.opacity_reset_every is not None and step > 0 and step % cfg.opacity_reset_every == 0:
            ops.reset_opacity(params, optimizers, cfg.opacity_reset_value)
            report.reset_opacity = True
        report.total = ops.num_gaussians(params)
        return report

    # ------------------------------------------------------------------ refine
    def decide_growth(self, params: Params, state: DensityState) -> GrowthDecision:
        """Clone small and split large Gaussians whose statistic is >= grad_threshold (3DGS)."""
        score = state.average()
        high = score >= self.config.grad_threshold
        max_scale = torch.exp(params["log_scales"].detach()).amax(-1)
        small = max_scale <= self.config.percent_dense * state.scene_extent
        return GrowthDecision(score=score, clone=high & small, split=high & ~small)

    def opacity_threshold(self, step: int) -> float:
        """TalkingGaussian's pruning threshold: start + (end - start) * min(step / refine_until, 1)."""
        cfg = self.config
        frac = min(max(step / cfg.refine_until, 0.0), 1.0)
        return cfg.prune_opacity_start + (cfg.prune_opacity_end - cfg.prune_opacity_start) * frac

    def refine(self, params: Params, optimizers: Optimizers, state: DensityState, step: int) -> DensityReport:
        """Grow (clone, then split, within the cap), prune, and zero the statistics."""
        cfg = self.config
        n = ops.num_gaussians(params)
        decision = self.decide_growth(params, state)
        budget = None if cfg.max_gaussians is None else cfg.max_gaussians - n
        clone_mask, split_mask = ops.limit_growth(decision.score, decision.clone, decision.split, cfg.n_split, budget)

        # Screen radii follow the rows: clones inherit their parent's, split children start at 0.
        radius = state.max_radius
        cloned = ops.clone(params, optimizers, clone_mask)
        radius = torch.cat([radius, radius[clone_mask]])
        split_mask = torch.cat([split_mask, split_mask.new_zeros(cloned)])  # new clones are never split
        n_split = ops.split(params, optimizers, split_mask, cfg.n_split, state.generator)
        radius = torch.cat([radius[~split_mask], radius.new_zeros(n_split * cfg.n_split)])

        prune_mask = torch.sigmoid(params["opacity_logits"].detach()) < self.opacity_threshold(step)
        if step > cfg.prune_size_from:
            if cfg.prune_world_size is not None:
                max_scale = torch.exp(params["log_scales"].detach()).amax(-1)
                prune_mask |= max_scale > cfg.prune_world_size * state.scene_extent
            if cfg.prune_screen_size is not None:
                prune_mask |= radius > cfg.prune_screen_size
        pruned = ops.prune(params, optimizers, prune_mask)

        total = ops.num_gaussians(params)
        state.reset(total)
        state.refines += 1
        return DensityReport(cloned=cloned, split=n_split, pruned=pruned, total=total, refined=True)


class PixelAwareStrategy(GradientStrategy):
    """PGSTalker's pixel-aware density control (Section 3.3, Eqs. 2, 4, 5).

    The statistic of Gaussian i is ``sum_k m_k^i ||g_k^i|| / sum_k m_k^i`` over valid views
    (Eq. 4), with m_k^i its contributing-pixel count in view k (Eq. 5). With one view, or equal
    counts in every view, it equals Eq. 1. Growth and pruning are those of `GradientStrategy`.
    """

    name = "pixel-aware"
    description = "PGSTalker pixel-aware densification: gradient norms weighted by covered pixels (Eqs. 2, 4, 5)"
    needs_pixel_counts = True  # Eq. 2 weighs views by the Eq. 5 counts
    config: PixelAwareConfig

    def __init__(self, config: PixelAwareConfig | None = None) -> None:
        super().__init__(config if config is not None else PixelAwareConfig())

    def view_statistics(self, render: RenderResult, state: DensityState) -> tuple[Tensor, Tensor]:
        """Per-view values and weights: ([C, N] ||g|| (optionally depth-scaled), [C, N] m_k) (Eq. 2)."""
        cfg = self.config
        norms = ndc_grad_norms(render, cfg.loss_reduction)
        if cfg.depth_scaling:  # Pixel-GS: damp the gradients of Gaussians close to the camera
            norms = norms * depth_scale(render.depths, cfg.depth_scaling_threshold * state.scene_extent)
        return norms, pixel_weights(render, cfg.z_min)


__all__ = ["GradientStrategy", "GrowthDecision", "PixelAwareStrategy"]
