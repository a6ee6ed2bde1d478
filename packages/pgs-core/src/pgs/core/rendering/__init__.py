"""Rendering: the `RenderResult` every rasterizer backend returns, and the backends themselves.

Backends are entry points of group ``pgs.rasterizers`` (``torch``, ``cpu``, ``gsplat``); build
one with `get_rasterizer`. Shared stages: `sh` (colour), `projection`, `binning`, `pipeline`.
"""

from pgs.core.rendering.result import RenderResult
from pgs.core.rendering.select import get_rasterizer, resolve_backend_name

__all__ = ["RenderResult", "get_rasterizer", "resolve_backend_name"]
