"""Per-view screen-space gradient statistics (Eqs. 1, 2, 4 and the Pixel-GS depth scaling).

For one step with C views, each function returns [C, N] tensors; a strategy accumulates
``sum_k w_k * ||g_k||`` and ``sum_k w_k`` over the steps between two refines, and densifies where
the ratio is >= tau_pos:

- Eq. 1 (3DGS): ``w_k = 1`` for every view where the Gaussian is visible (radius > 0);
- Eq. 2 (PGSTalker): ``w_k = m_k``, the pixels it covers in view k (Eq. 5, from
  `RenderResult.pixel_counts`), over valid views only (Eq. 4: radius > 0 and depth > z_min).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from pgs.core.rendering.result import RenderResult


def check_render(render: RenderResult, n: int) -> None:
    """Check the fields a strategy reads against the parameters' row count `n`.

    Raises:
        ValueError: a field has the wrong shape, or the render has another Gaussian count.
    """
    if render.means2d.dim() != 3 or render.means2d.shape[-1] != 2:
        raise ValueError(f"render.means2d: expected shape [C, N, 2], got {list(render.means2d.shape)}")
    c, n_render = int(render.means2d.shape[0]), int(render.means2d.shape[1])
    if n_render != n:
        raise ValueError(
            f"render: has {n_render} Gaussians but params have {n} rows; render the current parameters "
            "(after the previous density step) before calling the strategy"
        )
    for name in ("radii", "depths", "pixel_counts"):
        value = getattr(render, name)
        if value is None and name == "pixel_counts":  # not asked for (strategies that need them say so)
            continue
        if tuple(value.shape) != (c, n):
            raise ValueError(f"render.{name}: expected shape [{c}, {n}], got {list(value.shape)}")
    if render.width <= 0 or render.height <= 0:
        raise ValueError(f"render: image size must be positive, got {render.width}x{render.height}")


def ndc_grad_norms(render: RenderResult, loss_reduction: Literal["mean", "sum"] = "mean") -> Tensor:
    """||g_k^i||: norms of the screen-space gradients of the projected centres, in NDC units.

    Pixel gradients are converted to NDC by multiplying x by W/2 and y by H/2 (3DGS, gsplat),
    and by C when the loss averaged the C images of the step (``loss_reduction="mean"``).

    Returns:
        [C, N] gradient norms (float32, detached).

    Raises:
        ValueError: ``render.means2d`` has no gradient.
    """
    grad = render.means2d.grad
    if grad is None:
        raise ValueError(
            "render.means2d has no gradient: call step_pre_backward(...) after rendering and before "
            "loss.backward(), and render with parameters that require grad"
        )
    c = grad.shape[0]
    factor = float(c) if loss_reduction == "mean" else 1.0
    scale = grad.new_tensor([render.width / 2.0 * factor, render.height / 2.0 * factor])
    return (grad.detach() * scale).norm(dim=-1)


def visible_weights(render: RenderResult) -> Tensor:
    """Eq. 1 weights: [C, N] 1 where the Gaussian is visible (radius > 0), else 0."""
    return (render.radii > 0).to(torch.float32)


def pixel_weights(render: RenderResult, z_min: float) -> Tensor:
    """Eq. 2 weights m_k^i over valid views (Eq. 4): [C, N] pixel counts, 0 where invalid.

    A view is valid for a Gaussian when its radius is > 0 and its camera depth is > `z_min`;
    the rasterizer's `pixel_counts` already count only the pixels of Eq. 5.
    """
    if render.pixel_counts is None:
        raise ValueError(
            "render.pixel_counts is None: render with with_pixel_counts=True (the trainer does so for "
            "strategies whose needs_pixel_counts is True)"
        )
    valid = (render.radii > 0) & (render.depths.detach() > z_min)
    return torch.where(valid, render.pixel_counts.detach().to(torch.float32), 0.0)


def depth_scale(depths: Tensor, threshold: float) -> Tensor:
    """Pixel-GS depth factor min(1, (depth / threshold)^2): [C, N] in [0, 1].

    Args:
        depths: [C, N] camera depths.
        threshold: depth (world units) at and beyond which the gradient is unchanged.
    """
    return ((depths.detach().clamp_min(0.0) / threshold) ** 2).clamp(max=1.0)


__all__ = ["check_render", "depth_scale", "ndc_grad_norms", "pixel_weights", "visible_weights"]
