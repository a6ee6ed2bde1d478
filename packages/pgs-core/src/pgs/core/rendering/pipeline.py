"""The render pipeline every CPU/torch backend shares: validate -> project -> bin -> composite.

Backends differ only in the compositor (rasterizer contract, section 6): `render_pipeline` takes
it as an argument and builds the `RenderResult`, applying the Eq. 4 mask to pixel counts and
keeping ``means2d.grad`` for density control.
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

#: composite(proj, bins, width, height) -> (color, alpha, depth, counts), see `composite_torch`.
Compositor = Callable[[Projection, TileBins, int, int], tuple[Tensor, Tensor, Tensor, Tensor]]
#: bin_tiles(proj, width, height, tile_size) -> TileBins, see `binning.bin_tiles`.
Binner = Callable[[Projection, int, int, int], TileBins]


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


def render_pipeline(
    compositor: Compositor,
    config: RasterizerConfig,
    gaussians: GaussianParams,
    cameras: Cameras,
    sh_degree: int | None = None,
    binner: Binner = bin_tiles,
) -> RenderResult:
    """Validate, project, bin, composite and assemble the `RenderResult`.

    Args:
        compositor: the backend's `composite` function.
        config: tile size, eps2d and the Eq. 4 z_min.
        gaussians: N Gaussians.
        cameras: C cameras.
        sh_degree: SH degree (None = all stored).
        binner: tile binning (`binning.bin_tiles`, or an equal faster variant).

    Returns:
        The `RenderResult`; ``means2d`` retains its gradient when it requires one.
    """
    validate_render_inputs(gaussians, cameras, sh_degree)
    width, height = int(cameras.width), int(cameras.height)
    proj = project(gaussians, cameras, sh_degree, config.eps2d)
    bins = binner(proj, width, height, config.tile_size)
    color, alpha, depth, counts = compositor(proj, bins, width, height)
    # Eq. 4: only Gaussians with R > 0, depth > z_min and centre in the grown image count.
    counts = torch.where(eq4_mask(proj, config.z_min), counts, torch.zeros_like(counts)).to(torch.int32)
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


__all__ = ["Binner", "Compositor", "render_pipeline", "validate_render_inputs"]
