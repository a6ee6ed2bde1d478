"""Device selection and naming, for every command and config of the toolkit.

``auto`` is the default device everywhere: CUDA when available, else the CPU. The rasterizer's
``auto`` then resolves on that device (gsplat on CUDA, the CPU backends otherwise), so a command
never mixes gsplat with CPU tensors.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

import torch

from pgs.core.errors import ConfigError


def resolve_device(name: str | torch.device) -> torch.device:
    """Turn ``"auto"`` (CUDA when available, else CPU) or a torch device string into a device.

    Raises:
        ConfigError: an unknown device string, or CUDA asked for but not available.
    """
    if isinstance(name, torch.device):
        device = name
    elif name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        try:
            device = torch.device(name)
        except (RuntimeError, TypeError) as exc:
            raise ConfigError(f"device: {name!r} is not a torch device ({exc})") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device: {name!r} requested but CUDA is not available here; use 'cpu' or 'auto'")
    return device


def cpu_name() -> str:
    """The CPU model name (from /proc/cpuinfo on Linux, else `platform.processor()`)."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        try:
            for line in cpuinfo.read_text(errors="replace").splitlines():
                if line.lower().startswith("model name") and ":" in line:
                    return line.split(":", 1)[1].strip()
        except OSError:
            pass
    return platform.processor() or platform.machine() or "unknown CPU"


def device_name(device: str | torch.device) -> str:
    """A human-readable name of `device` for reports, e.g. ``"NVIDIA H100 80GB HBM3 (cuda:0)"``."""
    device = resolve_device(device)
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"{torch.cuda.get_device_name(index)} (cuda:{index})"
    if device.type == "cpu":
        threads = torch.get_num_threads()
        cores = os.cpu_count() or 0
        return f"{cpu_name()} (CPU, {threads} torch threads of {cores} logical cores)"
    return str(device)


__all__ = ["cpu_name", "device_name", "resolve_device"]
