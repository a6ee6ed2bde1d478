"""pgs-density: densify/prune operations and density-control strategies (``pgs.density`` group).

- `pgs.density.ops`: clone, split, prune, opacity reset and the growth cap on a dict of
  per-Gaussian parameters, keeping their optimizers' state row-aligned;
- `GradientStrategy` (``gradient``): 3DGS / TalkingGaussian densification (Eq. 1);
- `PixelAwareStrategy` (``pixel-aware``): PGSTalker's pixel-aware density control (Eqs. 2, 4, 5).

Public names are re-exported lazily (PEP 562): importing the package imports neither torch nor numpy.
"""

from pgs.core.lazy import lazy_exports

_EXPORTS = {
    "GradientConfig": "pgs.density.config",
    "PixelAwareConfig": "pgs.density.config",
    "DensityState": "pgs.density.state",
    "GradientStrategy": "pgs.density.strategies",
    "GrowthDecision": "pgs.density.strategies",
    "PixelAwareStrategy": "pgs.density.strategies",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
