"""The `gsplat` rasterizer backend (CUDA only): gsplat's fused kernels, the toolkit's rules and fields.

Colour, alpha and accumulated depth come from ``gsplat.rasterization(..., packed=False,
render_mode="RGB+D")``. gsplat's kernels hard-code their own compositing constants (alpha clamped
at 0.999, a pixel done at T <= 1e-4); this backend brings them to the CPU backends' rules as far
as gsplat allows (rasterizer contract, section 4):

- **Alpha clamp 0.99.** Opacities reach gsplat clamped at 0.99 (`clamp_opacity`), so
  alpha = o' exp(-sigma) never reaches gsplat's 0.999 clamp. For o <= 0.99 this is exactly
  alpha = min(0.99, o exp(-sigma)); for o > 0.99 alpha is 0.99 exp(-sigma), at most 1 %
  below the CPU backends' away from the Gaussian's centre. The clamp passes the gradient
  through (straight-through), so opacities above 0.99 keep learning.
- **Stop rule.** gsplat stops at T (1 - alpha) <= 1e-4, the CPU backends at < 1e-4: they differ
  only when the product equals 1e-4 exactly.
- **Radius.** `radii` is the CPU backends' convention, ``ceil(sqrt(2 ln(255 o)) sqrt(lambda_max))``
  of the low-passed 2D covariance (`radii_from_conics`, from gsplat's conics), where gsplat
  keeps the Gaussian (its per-axis radii > 0); gsplat's tiles use its per-axis boxes, the same
  boxes the CPU binning uses.
- **Pixel counts** (Eq. 5, only when asked for: ``with_pixel_counts``) are computed from
  gsplat's projection by the `torch` backend's binning and compositing rules on the GPU
  (`counts_from_projection`): exactly the CPU backends' counts under either
  ``pixel_count_rule``, for gsplat's projected means, conics and depths. gsplat's
  ``rasterize_to_indices_in_range`` cannot give them: it applies gsplat's 0.999 clamp and cannot
  report the Gaussian that saturates a pixel (the ``"paper"`` rule). Counting costs one
  forward-only pass of the `torch` compositor, paid only by renders that ask for counts.

Unverified on a GPU in this repository's CI (no CUDA machine); the parity test against the
`torch` backend is marked ``gpu``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from pgs.core.cameras import Cameras
from pgs.core.errors import BackendUnavailableError, RenderError
from pgs.core.gaussians import GaussianParams
from pgs.core.groups import RASTERIZERS
from pgs.core.interfaces import Rasterizer, RasterizerConfig
from pgs.core.registry import ComponentSpec
from pgs.core.rendering.binning import bin_tiles
from pgs.core.rendering.composite_torch import composite
from pgs.core.rendering.pipeline import mask_counts, validate_render_inputs, wants_pixel_counts
from pgs.core.rendering.projection import ALPHA_MAX, Projection, screen_radius
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


def clamp_opacity(opacities: Tensor) -> Tensor:
    """min(o, 0.99) in value, the identity in gradient (straight-through).

    Args:
        opacities: [...] activated opacities.

    Returns:
        [...] opacities at most `ALPHA_MAX`, whose gradient flows to `opacities` unchanged.
    """
    return opacities - (opacities - opacities.clamp_max(ALPHA_MAX)).detach()


def radii_from_conics(conics: Tensor, opacities: Tensor, kept: Tensor) -> Tensor:
    """The CPU backends' integer radii from low-passed conics (see `projection.screen_radius`).

    Args:
        conics: [C, N, 3] (a, b, c) inverse of the low-passed 2D covariance.
        opacities: [C, N] or [N] activated opacities (unclamped).
        kept: [C, N] bool, where the projection keeps the Gaussian (gsplat: radii > 0).

    Returns:
        [C, N] int32 radii, 0 where not `kept`.
    """
    with torch.no_grad():
        a, b, c = conics.detach().to(torch.float64).unbind(-1)
        det = (a * c - b * b).clamp_min(1e-30)
        cov_a, cov_b, cov_c = c / det, -b / det, a / det  # inverse of [[a, b], [b, c]]
        opac = opacities.detach().to(torch.float64).expand_as(a)
        r = screen_radius(cov_a, cov_b, cov_c, opac)
        return torch.where(kept & (r > 0), r, torch.zeros_like(r)).to(torch.int32)


@torch.no_grad()
def counts_from_projection(proj: Projection, width: int, height: int, tile_size: int, rule: str) -> Tensor:
    """Eq. 5 pixel counts of a projection by the `torch` backend's binning and compositing rules.

    Args:
        proj: means2d, conics, depths, radii and opacities of C cameras x N Gaussians (colours unused).
        width: image width W.
        height: image height H.
        tile_size: tile edge in pixels.
        rule: ``"paper"`` or ``"pixel-gs"`` (`RasterizerConfig.pixel_count_rule`).

    Returns:
        [C, N] int32 counts before the Eq. 4 mask.
    """
    bins = bin_tiles(proj, width, height, tile_size)
    _, _, _, counts = composite(proj, bins, width, height, rule)
    if counts is None:  # only without a rule
        raise RenderError(f"gsplat rasterizer: no pixel counts for pixel_count_rule {rule!r}")
    return counts


class GsplatRasterizer(Rasterizer):
    """gsplat CUDA rasterizer returning the toolkit's `RenderResult` (rules as close as gsplat allows)."""

    name = "gsplat"
    description = "gsplat CUDA rasterizer (fastest on a GPU; CUDA only), with pixel counts."

    def _render(
        self, gaussians: GaussianParams, cameras: Cameras, sh_degree: int | None, with_pixel_counts: bool | None
    ) -> RenderResult:
        """Call gsplat's CUDA `rasterization`, then convert its outputs (radii, Eq. 5 counts) to a `RenderResult`."""
        _require_cuda(gaussians.device if isinstance(gaussians, GaussianParams) else torch.device("cpu"))
        validate_render_inputs(gaussians, cameras, sh_degree)
        from gsplat import rasterization

        degree = gaussians.sh_degree if sh_degree is None else int(sh_degree)
        width, height = int(cameras.width), int(cameras.height)
        opacities = gaussians.opacities()
        renders, alphas, meta = rasterization(
            means=gaussians.means,
            quats=gaussians.quats,
            scales=gaussians.scales(),
            opacities=clamp_opacity(opacities),  # alpha <= 0.99: gsplat's own 0.999 clamp never binds
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
        gs_radii = meta["radii"]
        kept = (gs_radii > 0).all(dim=-1) if gs_radii.dim() == 3 else gs_radii > 0
        radii = radii_from_conics(meta["conics"], opacities, kept)
        depths = meta["depths"]
        means2d = meta["means2d"]
        training = torch.is_grad_enabled() and means2d.requires_grad
        counts = None
        if wants_pixel_counts(with_pixel_counts, training):
            C, N = radii.shape
            proj = Projection(
                means2d=means2d.detach(),
                conics=meta["conics"].detach(),
                depths=depths.detach(),
                radii=radii,
                colors=means2d.new_zeros(C, N, 3),
                opacities=opacities.detach().expand(C, N),
            )
            raw = counts_from_projection(proj, width, height, self.config.tile_size, self.config.pixel_count_rule)
            counts = mask_counts(raw, (radii > 0) & (depths.detach() > self.config.z_min))  # Eq. 4
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


SPEC: ComponentSpec[RasterizerConfig, GsplatRasterizer] = ComponentSpec.of(
    RASTERIZERS, RasterizerConfig, GsplatRasterizer
)

__all__ = ["SPEC", "GsplatRasterizer", "clamp_opacity", "counts_from_projection", "radii_from_conics"]
