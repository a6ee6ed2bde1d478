"""The `gsplat` rasterizer backend (CUDA only): gsplat's fused kernels, our `RenderResult` fields.

Colour, alpha and accumulated depth come from ``gsplat.rasterization(..., packed=False,
render_mode="RGB+D")``; pixel counts (Eq. 5) from ``gsplat.rasterize_to_indices_in_range`` over
the same intersections, then the Eq. 4 mask. Differences from the `torch`/`cpu` backends (gsplat's
own choices): alpha is clamped at 0.999 instead of 0.99, a pixel stops at T <= 1e-4 instead of
< 1e-4, and radii are per-axis ``ceil(min(3.33, sqrt(2 ln(255 o))) sqrt(cov_ii))`` (reported
here as the larger of the two).
"""

from __future__ import annotations

import torch
from torch import Tensor

from pgs.core.cameras import Cameras
from pgs.core.errors import BackendUnavailableError
from pgs.core.gaussians import GaussianParams
from pgs.core.groups import RASTERIZERS
from pgs.core.interfaces import Rasterizer, RasterizerConfig
from pgs.core.registry import ComponentSpec
from pgs.core.rendering.pipeline import validate_render_inputs
from pgs.core.rendering.result import RenderResult

_ALTERNATIVE = "use the 'torch' backend (pure PyTorch, any device) or 'cpu' (compiled, needs numba) instead"


def _require_cuda(device: torch.device) -> None:
    if not torch.cuda.is_available():
        raise BackendUnavailableError(f"the 'gsplat' rasterizer needs a CUDA GPU and none is available; {_ALTERNATIVE}")
    if device.type != "cuda":
        raise BackendUnavailableError(
            f"the 'gsplat' rasterizer renders CUDA tensors only, got tensors on {device}; "
            f"move the Gaussians and cameras to 'cuda' or {_ALTERNATIVE}"
        )
    try:
        import gsplat  # noqa: F401
    except ImportError as exc:
        raise BackendUnavailableError(
            f"the 'gsplat' rasterizer needs the gsplat package (pip install 'pgs-core[gsplat]'): {exc}; {_ALTERNATIVE}"
        ) from exc


@torch.no_grad()
def gsplat_pixel_counts(meta: dict, num_gaussians: int) -> Tensor:
    """Per-camera composited pixel counts from a non-packed gsplat render's ``meta``.

    Args:
        meta: the ``meta`` dict of ``gsplat.rasterization(..., packed=False)``.
        num_gaussians: N.

    Returns:
        [C, N] int32 counts.
    """
    from gsplat import rasterize_to_indices_in_range

    means2d = meta["means2d"].detach()
    conics = meta["conics"].detach()
    opacities = meta["opacities"].detach().contiguous()
    width, height, ts = int(meta["width"]), int(meta["height"]), int(meta["tile_size"])
    offsets, flat = meta["isect_offsets"], meta["flatten_ids"]
    C = means2d.shape[0]
    bounds = torch.cat([offsets.flatten(), offsets.new_tensor([flat.numel()])])
    longest = int((bounds[1:] - bounds[:-1]).max()) if bounds.numel() > 1 else 0
    n_batches = (longest + ts * ts - 1) // (ts * ts)
    trans = torch.ones(C, height, width, device=means2d.device)
    gids, _pix, cams = rasterize_to_indices_in_range(
        0, n_batches, trans, means2d, conics, opacities, width, height, ts, offsets, flat
    )
    counts = torch.bincount(cams.long() * num_gaussians + gids.long(), minlength=C * num_gaussians)
    return counts.view(C, num_gaussians).to(torch.int32)


class GsplatRasterizer(Rasterizer):
    """gsplat CUDA rasterizer returning the toolkit's `RenderResult`.

    Args:
        config: tile size, low-pass eps2d and the Eq. 4 z_min.
    """

    name = "gsplat"

    def __init__(self, config: RasterizerConfig | None = None) -> None:
        self.config = config if config is not None else RasterizerConfig()

    def render(self, gaussians: GaussianParams, cameras: Cameras, sh_degree: int | None = None) -> RenderResult:
        """Render `gaussians` into every camera (see `Rasterizer.render`)."""
        _require_cuda(gaussians.device if isinstance(gaussians, GaussianParams) else torch.device("cpu"))
        validate_render_inputs(gaussians, cameras, sh_degree)
        from gsplat import rasterization

        degree = gaussians.sh_degree if sh_degree is None else int(sh_degree)
        width, height = int(cameras.width), int(cameras.height)
        renders, alphas, meta = rasterization(
            means=gaussians.means,
            quats=gaussians.quats,
            scales=gaussians.scales(),
            opacities=gaussians.opacities(),
            colors=gaussians.sh,
            viewmats=cameras.viewmats,
            Ks=cameras.Ks,
            width=width,
            height=height,
            near_plane=cameras.near,
            far_plane=cameras.far,
            eps2d=self.config.eps2d,
            sh_degree=degree,
            packed=False,
            tile_size=self.config.tile_size,
            render_mode="RGB+D",
        )
        radii = meta["radii"]
        if radii.dim() == 3:
            radii = radii.max(dim=-1).values
        radii = radii.to(torch.int32)
        depths = meta["depths"]
        counts = gsplat_pixel_counts(meta, gaussians.num)
        valid = (radii > 0) & (depths.detach() > self.config.z_min)  # Eq. 4
        counts = torch.where(valid, counts, torch.zeros_like(counts))
        means2d = meta["means2d"]
        if means2d.requires_grad:
            means2d.retain_grad()
        return RenderResult(
            color=renders[..., :3],
            alpha=alphas,
            depth=renders[..., 3:4],
            means2d=means2d,
            radii=radii,
            depths=depths,
            pixel_counts=counts,
            width=width,
            height=height,
        )


SPEC: ComponentSpec[RasterizerConfig, GsplatRasterizer] = ComponentSpec(
    name="gsplat",
    group=RASTERIZERS,
    config_class=RasterizerConfig,
    factory=GsplatRasterizer,
    description="gsplat CUDA rasterizer (fastest on a GPU; CUDA only), with pixel counts.",
)

__all__ = ["SPEC", "GsplatRasterizer", "gsplat_pixel_counts"]
