"""`DensityState`: the run state a strategy creates and is handed back every step."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


def accumulator_dtype(device: torch.device) -> torch.dtype:
    """float64 where the device supports it (exact sums of integer pixel weights), else float32."""
    return torch.float32 if device.type == "mps" else torch.float64


@dataclass
class DensityState:
    """Per-Gaussian statistics accumulated since the last refine.

    Attributes:
        scene_extent: scale of the scene; 3D thresholds are fractions of it.
        grad_sum: [N] sum over views of w_k * ||g_k|| (NDC units).
        weight_sum: [N] sum over views of w_k: 1 per visible view (Eq. 1) or m_k (Eq. 2).
        max_radius: [N] largest screen radius in pixels seen in any view.
        generator: random generator for split children (on the parameters' device).
        refines: number of refine steps done.
    """

    scene_extent: float
    grad_sum: Tensor
    weight_sum: Tensor
    max_radius: Tensor
    generator: torch.Generator
    refines: int = 0

    @classmethod
    def empty(cls, n: int, device: torch.device, scene_extent: float, seed: int) -> DensityState:
        """Zero statistics for `n` Gaussians on `device`."""
        dtype = accumulator_dtype(device)
        generator = torch.Generator(device=device)
        generator.manual_seed(seed)
        return cls(
            scene_extent=scene_extent,
            grad_sum=torch.zeros(n, dtype=dtype, device=device),
            weight_sum=torch.zeros(n, dtype=dtype, device=device),
            max_radius=torch.zeros(n, dtype=torch.float32, device=device),
            generator=generator,
        )

    @property
    def num(self) -> int:
        """Number of Gaussians N the statistics describe."""
        return int(self.grad_sum.shape[0])

    def reset(self, n: int) -> None:
        """Zero the statistics for `n` Gaussians (after a refine changed the rows)."""
        self.grad_sum = self.grad_sum.new_zeros(n)
        self.weight_sum = self.weight_sum.new_zeros(n)
        self.max_radius = self.max_radius.new_zeros(n)

    def average(self) -> Tensor:
        """[N] the densification statistic: grad_sum / weight_sum (0 where nothing was accumulated)."""
        return torch.where(self.weight_sum > 0, self.grad_sum / self.weight_sum.clamp_min(1e-30), 0.0)


__all__ = ["DensityState", "accumulator_dtype"]
