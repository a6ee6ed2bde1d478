"""`RenderResult`: the fields every rasterizer backend returns (DESIGN.md section 4)."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor


@dataclass
class RenderResult:
    """Output of one rasterizer call over C cameras and N Gaussians.

    Attributes:
        color: [C, H, W, 3] premultiplied colour (no background): sum_i c_i alpha_i T_i.
        alpha: [C, H, W, 1] accumulated opacity 1 - T.
        depth: [C, H, W, 1] alpha-weighted camera depth sum_i z_i alpha_i T_i, or None.
        means2d: [C, N, 2] projected centres in pixels; after backward its ``.grad`` holds the
            screen-space gradients that density control reads.
        radii: [C, N] integer pixel radii (0 = not visible in that camera).
        depths: [C, N] camera-space depth z of each Gaussian centre.
        pixel_counts: [C, N] int32, the paper's m_k^i (Eqs. 4-5), zero for Gaussians failing Eq. 4;
            None when the render was not asked for counts (``with_pixel_counts``; inference by
            default). A pixel counts for a Gaussian when its alpha >= 1/255 and, by the
            rasterizer's ``pixel_count_rule``: ``"paper"`` (default) the transmittance before
            the Gaussian T_i = prod_{j in front, alpha_j >= 1/255} (1 - alpha_j) is >= 1e-4, as
            Eq. 5 reads, so the Gaussian that saturates a pixel counts too; ``"pixel-gs"`` the
            transmittance after it, T_i (1 - alpha_i), is >= 1e-4: exactly the composited
            pixels (the 3DGS stop rule Pixel-GS counts with).
        width: image width W.
        height: image height H.
    """

    color: Tensor
    alpha: Tensor
    depth: Tensor | None
    means2d: Tensor
    radii: Tensor
    depths: Tensor
    pixel_counts: Tensor | None
    width: int
    height: int

    @property
    def num_cameras(self) -> int:
        """Number of cameras C."""
        return int(self.color.shape[0])

    def over(self, background: Tensor) -> Tensor:
        """Composite over a background: ``color + (1 - alpha) * background``.

        Args:
            background: [3], [C, 3] or [C, H, W, 3] colours.

        Returns:
            [C, H, W, 3] images.
        """
        if background.dim() == 1:
            background = background.view(1, 1, 1, 3)
        elif background.dim() == 2:
            background = background[:, None, None, :]
        return self.color + (1.0 - self.alpha) * background
