"""Rendering: the `RenderResult` every rasterizer backend returns, and the backends themselves."""

from pgs.core.rendering.result import RenderResult

__all__ = ["RenderResult"]
