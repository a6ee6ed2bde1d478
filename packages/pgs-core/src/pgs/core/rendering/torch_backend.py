"""The `torch` rasterizer backend: pure PyTorch, tile-based, differentiable, any device.

The readable reference backend: EWA projection (`projection`), tile binning (`binning`) and the
vectorised tile compositor with a hand-written backward (`composite_torch`). Registered as entry
point ``torch`` in group ``pgs.rasterizers``.
"""

from __future__ import annotations

from pgs.core.cameras import Cameras
from pgs.core.gaussians import GaussianParams
from pgs.core.groups import RASTERIZERS
from pgs.core.interfaces import Rasterizer, RasterizerConfig
from pgs.core.registry import ComponentSpec
from pgs.core.rendering.composite_torch import composite
from pgs.core.rendering.pipeline import render_pipeline
from pgs.core.rendering.result import RenderResult


class TorchRasterizer(Rasterizer):
    """Pure-PyTorch Gaussian rasterizer (3DGS rules, pixel counts of Eqs. 4-5).

    Pixel counts follow ``config.pixel_count_rule`` and are computed only when asked for (see
    `Rasterizer.render`).
    """

    name = "torch"
    description = "Pure-PyTorch tile rasterizer (any device, differentiable, pixel counts); the readable reference."

    def _render(
        self, gaussians: GaussianParams, cameras: Cameras, sh_degree: int | None, with_pixel_counts: bool | None
    ) -> RenderResult:
        """Project, bin and composite in PyTorch (`render_pipeline` with the torch compositor)."""
        return render_pipeline(
            composite, self.config, gaussians, cameras, sh_degree, with_pixel_counts=with_pixel_counts
        )


SPEC: ComponentSpec[RasterizerConfig, TorchRasterizer] = ComponentSpec.of(
    RASTERIZERS, RasterizerConfig, TorchRasterizer
)

__all__ = ["SPEC", "TorchRasterizer"]
