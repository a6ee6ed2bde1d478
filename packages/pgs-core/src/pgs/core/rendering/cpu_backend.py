"""The `cpu` rasterizer backend: compiled (numba) tile compositing, the default on CPU.

Projection and SH are compiled (`projection_kernels.project_cpu`, forward and backward: the
shared PyTorch `projection` to float32 rounding); tile binning follows the shared
rule (`binning`) with a compiled counting sort (`binning_fast`, identical output, 4-7x faster);
the per-tile compositing and its backward pass are compiled (`cpu_kernels`, wrapped by
`composite_cpu`). Results match the `torch` backend (same rules, same fields, pixel counts
included). Registered as entry point ``cpu`` in group ``pgs.rasterizers``; it needs the optional
dependency numba (``pip install pgs-core[cpu]``) and renders CPU tensors only.
"""

from __future__ import annotations

from pgs.core.errors import BackendUnavailableError, RenderError

try:
    import numba  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised by a subprocess test without numba
    raise BackendUnavailableError(
        "the 'cpu' rasterizer needs numba, which is not installed: `pip install pgs-core[cpu]`, "
        "or use the 'torch' backend (pure PyTorch, any device)"
    ) from exc


from pgs.core.cameras import Cameras
from pgs.core.gaussians import GaussianParams
from pgs.core.groups import RASTERIZERS
from pgs.core.interfaces import Rasterizer, RasterizerConfig
from pgs.core.registry import ComponentSpec
from pgs.core.rendering.binning_fast import bin_tiles_fast
from pgs.core.rendering.composite_cpu import composite
from pgs.core.rendering.pipeline import render_pipeline
from pgs.core.rendering.projection_kernels import project_cpu
from pgs.core.rendering.result import RenderResult


class CpuRasterizer(Rasterizer):
    """Gaussian rasterizer with compiled CPU compositing (3DGS rules, pixel counts of Eqs. 4-5).

    Pixel counts follow ``config.pixel_count_rule`` and are computed only when asked for (see
    `Rasterizer.render`); renders without gradients take the inference fast path.

    Deterministic (bit-identical outputs and gradients from run to run) and safe to call from
    several Python threads (kernel launches are serialised; each uses every core).
    """

    name = "cpu"
    description = "Compiled (numba) CPU tile rasterizer, differentiable, pixel counts; the default on CPU."

    def _render(
        self, gaussians: GaussianParams, cameras: Cameras, sh_degree: int | None, with_pixel_counts: bool | None
    ) -> RenderResult:
        """Render with the compiled compositor and counting-sort binner (CPU tensors only).

        Raises:
            RenderError: invalid inputs, or tensors on a device other than the CPU.
        """
        for label, device in (("Gaussians", gaussians.means.device), ("cameras", cameras.device)):
            if device.type != "cpu":
                raise RenderError(
                    f"the 'cpu' rasterizer renders CPU tensors only, but the {label} are on {device}; "
                    "use the 'gsplat' backend on CUDA or the 'torch' backend on any device"
                )
        return render_pipeline(
            composite,
            self.config,
            gaussians,
            cameras,
            sh_degree,
            binner=bin_tiles_fast,
            with_pixel_counts=with_pixel_counts,
            projector=project_cpu,
        )


SPEC: ComponentSpec[RasterizerConfig, CpuRasterizer] = ComponentSpec.of(RASTERIZERS, RasterizerConfig, CpuRasterizer)

__all__ = ["SPEC", "CpuRasterizer"]
