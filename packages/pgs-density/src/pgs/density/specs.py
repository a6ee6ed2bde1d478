"""Registry specs of the strategies (entry points of the ``pgs.density`` group)."""

from __future__ import annotations

from pgs.core.groups import DENSITY
from pgs.core.registry import ComponentSpec
from pgs.density.config import GradientConfig, PixelAwareConfig
from pgs.density.strategies import GradientStrategy, PixelAwareStrategy

GRADIENT = ComponentSpec(
    name="gradient",
    group=DENSITY,
    config_class=GradientConfig,
    factory=GradientStrategy,
    description="3DGS/TalkingGaussian densification: view-averaged NDC gradient norm (Eq. 1), clone/split/prune",
)

PIXEL_AWARE = ComponentSpec(
    name="pixel-aware",
    group=DENSITY,
    config_class=PixelAwareConfig,
    factory=PixelAwareStrategy,
    description="PGSTalker pixel-aware densification: gradient norms weighted by covered pixels (Eqs. 2, 4, 5)",
)

__all__ = ["GRADIENT", "PIXEL_AWARE"]
