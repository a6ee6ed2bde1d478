"""pgs-density: densify/prune operations and density-control strategies (``pgs.density`` group).

- `pgs.density.ops`: clone, split, prune, opacity reset and the growth cap on a dict of
  per-Gaussian parameters, keeping their optimizers' state row-aligned;
- `GradientStrategy` (``gradient``): 3DGS / TalkingGaussian densification (Eq. 1);
- `PixelAwareStrategy` (``pixel-aware``): PGSTalker's pixel-aware density control (Eqs. 2, 4, 5).
"""

from pgs.density.config import GradientConfig, PixelAwareConfig
from pgs.density.state import DensityState
from pgs.density.strategies import GradientStrategy, GrowthDecision, PixelAwareStrategy

__all__ = [
    "DensityState",
    "GradientConfig",
    "GradientStrategy",
    "GrowthDecision",
    "PixelAwareConfig",
    "PixelAwareStrategy",
]
