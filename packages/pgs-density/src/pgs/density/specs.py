"""Registry specs of the strategies (entry points of the ``pgs.density`` group)."""

from __future__ import annotations

from pgs.core.groups import DENSITY
from pgs.core.registry import ComponentSpec
from pgs.density.config import GradientConfig, PixelAwareConfig
from pgs.density.strategies import GradientStrategy, PixelAwareStrategy

GRADIENT = ComponentSpec.of(DENSITY, GradientConfig, GradientStrategy)

PIXEL_AWARE = ComponentSpec.of(DENSITY, PixelAwareConfig, PixelAwareStrategy)

__all__ = ["GRADIENT", "PIXEL_AWARE"]
