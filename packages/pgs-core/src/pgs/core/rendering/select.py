"""`get_rasterizer`: pick a rasterizer backend by name, or the best one for a device ("auto")."""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Any

import torch

from pgs.core.errors import PluginError
from pgs.core.groups import RASTERIZERS
from pgs.core.registry import registry

if TYPE_CHECKING:
    from pgs.core.interfaces import Rasterizer


def resolve_backend_name(name: str = "auto", device: torch.device | str | None = None) -> str:
    """The backend "auto" stands for on `device` (any other name is returned unchanged).

    "auto" is gsplat on a CUDA device when gsplat is importable, else ``cpu`` on a CPU device when
    that backend is registered and loads (it needs numba), else ``torch``.

    Args:
        name: a backend name or ``"auto"``.
        device: where rendering will happen (default: CUDA if available, else CPU).
    """
    if name != "auto":
        return name
    dev = torch.device(device) if device is not None else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    reg = registry(RASTERIZERS)
    if dev.type == "cuda" and torch.cuda.is_available() and importlib.util.find_spec("gsplat") is not None:
        if "gsplat" in reg:
            return "gsplat"
    if dev.type == "cpu" and "cpu" in reg and importlib.util.find_spec("numba") is not None:
        try:
            reg.get("cpu")
        except PluginError:
            pass
        else:
            return "cpu"
    return "torch"


def get_rasterizer(name: str = "auto", device: torch.device | str | None = None, **params: Any) -> Rasterizer:
    """Build a rasterizer backend through the ``pgs.rasterizers`` registry.

    Args:
        name: ``"torch"``, ``"cpu"``, ``"gsplat"``, any installed backend, or ``"auto"``
            (see `resolve_backend_name`).
        device: the device rendering will use (only consulted for ``"auto"``).
        **params: config values (``tile_size``, ``eps2d``, ``z_min``, ...).

    Returns:
        The built `Rasterizer`.

    Example:
        >>> rasterizer = get_rasterizer("torch", eps2d=0.3)
        >>> result = rasterizer.render(gaussians, cameras)  # doctest: +SKIP
    """
    return registry(RASTERIZERS).create(resolve_backend_name(name, device), params)


__all__ = ["get_rasterizer", "resolve_backend_name"]
