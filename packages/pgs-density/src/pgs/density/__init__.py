"""pgs-density: densify/prune operations and density-control strategies (``pgs.density`` group).

- `pgs.density.ops`: clone, split, prune, opacity reset and the growth cap on a dict of
  per-Gaussian parameters, keeping their optimizers' state row-aligned;
- `GradientStrategy` (``gradient``): 3DGS / TalkingGaussian densification (Eq. 1);
- `PixelAwareStrategy` (``pixel-aware``): PGSTalker's pixel-aware density control (Eqs. 2, 4, 5);
- the names below load on first use (`pgs.core.lazy`): ``import pgs.density`` imports no torch.
"""

from pgs.core.lazy import lazy_modules

_EXPORTS = {
    "pgs.density.config": "GradientConfig PixelAwareConfig",
    "pgs.density.state": "DensityState",
    "pgs.density.strategies": "GradientStrategy GrowthDecision PixelAwareStrategy",
}

__getattr__, __dir__, __all__ = lazy_modules(__name__, _EXPORTS)
