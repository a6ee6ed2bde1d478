"""The render pipeline every CPU/torch backend shares: validate -> project -> bin -> composite.

Backends differ only in the compositor (rasterizer contract, section 6), and may bring a faster
binner and a compiled projection: `render_pipeline` takes them as arguments and builds the
`RenderResult`, applying the Eq. 4 mask to pixel counts and
keeping ``means2d.grad`` for density control. It decides whether pixel counts are computed
(`wants_pixel_counts`); each compositor takes its own inference fast path when no gradient is
needed (nothing kept for a backward pass).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from pgs.core.cameras import Cameras
from pgs.core.errors import RenderError
from pgs.core.gaussians import GaussianParams
from pgs.core.interfaces import RasterizerConfig
from pgs.core.rendering.binning import TileBins, bin_tiles
from pgs.core.rendering.projection import Projection, eq4_mask, project
from pgs.core.rendering.result import RenderResult

#: composite(proj, bins, width, height, count_rule) -> (color, alpha, depth, counts or None), see
#: `composite_torch`; ``count_rule`` is ``"paper"``, ``"pixel-gs"`` or None (no counts).
Compositor = Callable[[Projection, TileBins, int, int, "str | None"], tuple[Tensor, Tensor, Tensor, "Tensor | None"]]
#: bin_tiles(proj, width, height, tile_size) -> TileBins, see `binning.bin_tiles`.
Binner = Callable[[Projection, int, int, int], TileBins]
#: project(gaussians, cameras, sh_degree, eps2d) -> Projection, see `projection.project`.
Projector = Callable[[GaussianParams, Cameras, "int | None", float], Projection]


def validate_render_inputs(gaussians: GaussianParams, cameras: Cameras, sh_degree: int | None) -> None:
    """Check everything a backend needs before any tensor work, with one clear error.

    Args:
        gaussians: the Gaussians to render.
        cameras: the cameras.
        sh_degree: requested SH degree, or None.

    Raises:
        RenderError: wrong types, shapes, devices, dtypes, NaN/inf parameters, non-positive focal
            length, zero-size image or an SH degree the Gaussians do not store.
    """
    if not isinstance(gaussians, GaussianParams):
        raise RenderError(f"render: expected GaussianParams, got {type(gaussians).__name__}")
    if not isinstance(cameras, Cameras):
        raise RenderError(f"render: expected Cameras, got {type(cameras).__name__}")
    gaussians.validate_shapes()
    cameras.validate()
    dtypes = {t.dtype for t in gaussians.as_dict().values()}
    if len(dtypes) > 1:
        raise RenderError(f"GaussianParams: tensors have different dtypes {sorted(map(str, dtypes))}")
    gaussians.check_finite()
    if gaussians.device != cameras.device:
        raise RenderError(
            f"render: Gaussians are on {gaussians.device} but cameras on {cameras.device}; move one of them"
        )
    if sh_degree is not None and not 0 <= int(sh_degree) <= gaussians.sh_degree:
        raise RenderError(
            f"sh_degree {sh_degree} is outside 0..{gaussians.sh_degree} (the degree stored in GaussianParams.sh)"
        )


def needs_backward(proj: Projection) -> bool:
    """Whether autograd will record this render: grad mode on and a projected tensor requires grad."""
    if not torch.is_grad_enabled():
        return False
    return any(t.requires_grad for t in (proj.means2d, proj.conics, proj.colors, proj.opacities, proj.depths))


def wants_pixel_counts(with_pixel_counts: bool | None, training: bool) -> bool:
    """Resolve a render call's ``with_pixel_counts``: None means "on the training path only".

    Args:
        with_pixel_counts: the caller's flag (see `pgs.core.interfaces.Rasterizer.render`).
        training: whether the render needs a backward pass (`needs_backward`).
    """
    return training if with_pixel_counts is None else bool(with_pixel_counts)


def mask_counts(counts: Tensor, valid: Tensor) -> Tensor:
    """Eq. 4: [C, N] int32 counts, zero where `valid` ([C, N] bool) is False."""
    return torch.where(valid, counts, torch.zeros_like(counts)).to(torch.int32)


def render_pipeline(
    compositor: Compositor,
    config: RasterizerConfig,
    gaussians: GaussianParams,
    cameras: Cameras,
    sh_degree: int | None = None,
    binner: Binner = bin_tiles,
    with_pixel_counts: bool | None = None,
    projector: Projector = project,
) -> RenderResult:
    """Validate, project, bin, composite and assemble the `RenderResult`.

    Args:
        compositor: the backend's `composite` function.
        config: tile size, eps2d, the Eq. 4 z_min and the Eq. 5 ``pixel_count_rule``.
        gaussians: N Gaussians.
        cameras: C cameras.
        sh_degree: SH degree (None = all stored).
        binner: tile binning (`binning.bin_tiles`, or an equal faster variant).
        with_pixel_counts: compute pixel counts; None = only when a backward pass is needed.
        projector: the projection (`projection.project`, or an equal compiled one such as
            `projection_kernels.project_cpu`).

    Returns:
        The `RenderResult`; ``means2d`` retains its gradient when it requires one;
        ``pixel_counts`` is None when not computed.
    """
    validate_render_inputs(gaussians, cameras, sh_degree)
    width, height = int(cameras.width), int(cameras.height)
    proj = projector(gaussians, cameras, sh_degree, config.eps2d)
    bins = binner(proj, width, height, config.tile_size)
    rule = config.pixel_count_rule if wants_pixel_counts(with_pixel_counts, needs_backward(proj)) else None
    color, alpha, depth, counts = compositor(proj, bins, width, height, rule)
    if counts is not None:
        # Eq. 4: only Gaussians with R > 0, depth > z_min and centre in the grown image count.
        counts = mask_counts(counts, eq4_mask(proj, config.z_min))
    means2d = proj.means2d
    if means2d.requires_grad:
        means2d.retain_grad()
    return RenderResult(
        color=color,
        alpha=alpha,
        depth=depth,
        means2d=means2d,
        radii=proj.radii,
        depths=proj.depths,
        pixel_counts=counts,
        width=width,
        height=height,
    )


__all__ = [
    "Binner",
    "Compositor",
    "Projector",
    "mask_counts",
    "needs_backward",
    "render_pipeline",
    "validate_render_inputs",
    "wants_pixel_counts",
]
