"""Tri-plane multi-resolution spatial encoder (TalkingGaussian's position encoder H).

Three 2D multi-resolution grids over the (x, y), (y, z) and (x, z) projections of a point, each
with `levels` levels of one feature, bilinearly interpolated. Inputs in ``[-bound, bound]`` are
mapped to ``u = (x + bound) / (2 bound)`` in [0, 1]; at level ``l`` the continuous grid position
is ``pos = u * (base * s**l - 1) + 0.5`` (torch-ngp ``gridencoder`` with ``align_corners=False``),
with ``s = (desired / base) ** (1 / (levels - 1))``, and the level holds a dense
``(ceil(base * s**l) + 1)**2`` vertex grid. At TalkingGaussian's resolutions (at most 65^2
vertices per level, below its 2^17 hash-table size) the hash table never hashes, so these dense
planes reproduce it exactly without a CUDA build.

A plane whose two input coordinates are not both inside ``[-bound, bound]`` returns zeros
(torch-ngp's out-of-bound flag, applied per plane as TalkingGaussian's three separate 2D encoders
do): a point outside the box in x only still gets its (y, z)-plane features.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
import torch
from pydantic import Field, model_validator
from torch import Tensor, nn

from pgs.core.config import ComponentConfig
from pgs.core.numba_lock import NUMBA_KERNEL_LOCK

#: Input coordinates of each plane, in output order: xy, yz, xz (TalkingGaussian's order).
PLANE_AXES: tuple[tuple[int, int], ...] = ((0, 1), (1, 2), (0, 2))
PLANE_NAMES: tuple[str, ...] = ("xy", "yz", "xz")


class TriPlaneConfig(ComponentConfig):
    """Settings of `TriPlaneEncoder` (defaults: TalkingGaussian's face branch)."""

    levels: int = Field(12, ge=1, le=32, description="Resolution levels per plane (1 feature each).")
    base_resolution: float = Field(16.0, gt=1, description="Resolution of level 0 (TalkingGaussian face 16, mouth 64).")
    desired_resolution: float = Field(
        38.4,
        gt=1,
        description="Resolution of the finest level (TalkingGaussian face 256*bound = 38.4, mouth 384*bound = 57.6).",
    )
    bound: float = Field(0.15, gt=0, description="Inputs in [-bound, bound] are encoded; outside gives zeros.")
    init_scale: float = Field(1e-4, ge=0, description="Plane values start uniform in [-init_scale, init_scale].")
    max_vertices: int = Field(
        1 << 22, gt=0, description="Refuse configurations whose planes would hold more vertices than this (memory)."
    )

    @model_validator(mode="after")
    def _check_size(self) -> TriPlaneConfig:
        total = sum((r + 1) ** 2 for r in level_resolutions(self.base_resolution, self.desired_resolution, self.levels))
        if total > self.max_vertices:
            raise ValueError(
                f"the planes would hold {total} vertices each (> max_vertices={self.max_vertices}); "
                "lower desired_resolution or levels"
            )
        return self


def per_level_scale(base: float, desired: float, levels: int) -> float:
    """Growth factor s between consecutive levels: ``(desired / base) ** (1 / (levels - 1))``."""
    if levels <= 1:
        return 1.0
    return 2.0 ** (math.log2(desired / base) / (levels - 1))


def level_scales(base: float, desired: float, levels: int) -> list[float]:
    """Per level ``base * s**l - 1``: the factor mapping u in [0, 1] to grid positions."""
    s = per_level_scale(base, desired, levels)
    return [base * s**level - 1.0 for level in range(levels)]


def level_resolutions(base: float, desired: float, levels: int) -> list[int]:
    """Per-level resolutions ``ceil(base * s**l)`` (each level has resolution + 1 vertices per side).

    TalkingGaussian face: 16, 18, 19, 21, 22, 24, 26, 28, 31, 33, 36, 39; mouth: 64, 64, 63, ..., 58.
    """
    s = per_level_scale(base, desired, levels)
    return [math.ceil(base * s**level - 1e-9) for level in range(levels)]


#: TalkingGaussian's face-branch encoder (levels 16 -> 39).
FACE_TRIPLANE = TriPlaneConfig()
#: TalkingGaussian's inside-mouth encoder (levels 64 -> 58, almost single-scale).
MOUTH_TRIPLANE = TriPlaneConfig(base_resolution=64.0, desired_resolution=57.6)


class TriPlaneEncoder(nn.Module):
    """Dense tri-plane multi-resolution grid encoder.

    Args:
        config: resolutions, bound and initialisation.

    Attributes:
        planes: [3, V] parameter: every level's vertex values of each plane, flattened level after
            level (use `plane` for a 2D view).
        output_dim: 3 * levels.
    """

    def __init__(self, config: TriPlaneConfig | None = None) -> None:
        super().__init__()
        self.config = config or TriPlaneConfig()
        cfg = self.config
        self.resolutions = level_resolutions(cfg.base_resolution, cfg.desired_resolution, cfg.levels)
        sides = [r + 1 for r in self.resolutions]
        offsets = [0]
        for side in sides:
            offsets.append(offsets[-1] + side * side)
        self.register_buffer(
            "_scales",
            torch.tensor(level_scales(cfg.base_resolution, cfg.desired_resolution, cfg.levels), dtype=torch.float64),
            persistent=False,
        )
        self.register_buffer("_sides", torch.tensor(sides, dtype=torch.long), persistent=False)
        self.register_buffer("_offsets", torch.tensor(offsets[:-1], dtype=torch.long), persistent=False)
        self.planes = nn.Parameter(torch.empty(3, offsets[-1]).uniform_(-cfg.init_scale, cfg.init_scale))
        #: Use the compiled CPU lookup when it applies (False: always `triplane_reference`).
        self.use_kernels = True

    @property
    def output_dim(self) -> int:
        """Feature channels per point: 3 planes x levels."""
        return 3 * self.config.levels

    def plane(self, index: int, level: int) -> Tensor:
        """A view of one level of one plane.

        Args:
            index: 0 = xy, 1 = yz, 2 = xz.
            level: 0 .. levels - 1.

        Returns:
            [side, side] with ``[i, j]`` the vertex at grid position i along the plane's first
            axis and j along its second.
        """
        side = int(self._sides[level])
        start = int(self._offsets[level])
        return self.planes[index, start : start + side * side].view(side, side)

    def forward(self, xyz: Tensor) -> Tensor:
        """Encode points.

        CPU float32/float64 inputs go through the compiled lookup (`triplane_kernels`, when numba
        is installed); other devices, or `use_kernels` False, through `triplane_reference`. Both
        compute the same values and gradients (tested).

        Args:
            xyz: [N, 3] positions (world units).

        Returns:
            [N, 3 * levels] features ordered (xy levels 0..L-1, yz levels, xz levels); zeros for
            a plane whose inputs leave ``[-bound, bound]``. Gradients reach `planes` and `xyz`.
        """
        if xyz.dim() != 2 or xyz.shape[-1] != 3:
            raise ValueError(f"TriPlaneEncoder: xyz must be [N, 3], got {list(xyz.shape)}")
        if self.use_kernels and _kernels_usable(xyz, self.planes):
            bound = self.config.bound
            u = (xyz + bound) / (2.0 * bound)  # [N, 3] in [0, 1] inside the box
            inside = ((u >= 0) & (u <= 1)).to(xyz.dtype)
            return _CompiledLookup.apply(u, inside, self.planes, self._scales, self._sides, self._offsets)
        return triplane_reference(self, xyz)


def triplane_reference(encoder: TriPlaneEncoder, xyz: Tensor) -> Tensor:
    """The PyTorch lookup (any device, autograd through gathers): [N, 3] -> [N, 3 * levels].

    The readable definition the compiled kernels are tested against.
    """
    bound = encoder.config.bound
    u = (xyz + bound) / (2.0 * bound)  # [N, 3] in [0, 1] inside the box
    inside = ((u >= 0) & (u <= 1)).to(xyz.dtype)
    scales = encoder._scales.to(xyz.dtype)  # [L]
    sides = encoder._sides  # [L]
    out = []
    for p, (a, b) in enumerate(PLANE_AXES):
        uv = u[:, (a, b)]  # [N, 2]
        pos = uv[:, None, :] * scales[None, :, None] + 0.5  # [N, L, 2]
        base = torch.floor(pos)
        frac = pos - base
        i0 = base.long()
        # Outside the box the indices may leave the grid: clamp for the gather, zeroed below.
        limit = (sides - 1)[None, :, None]
        i0 = torch.minimum(i0.clamp_min(0), limit)
        i1 = torch.minimum(i0 + 1, limit)
        row0 = encoder._offsets[None, :] + i0[..., 0] * sides[None, :]
        row1 = encoder._offsets[None, :] + i1[..., 0] * sides[None, :]
        values = encoder.planes[p]
        v00 = values[row0 + i0[..., 1]]
        v01 = values[row0 + i1[..., 1]]
        v10 = values[row1 + i0[..., 1]]
        v11 = values[row1 + i1[..., 1]]
        fa, fb = frac[..., 0], frac[..., 1]
        feat = (v00 * (1 - fb) + v01 * fb) * (1 - fa) + (v10 * (1 - fb) + v11 * fb) * fa  # [N, L]
        out.append(feat * (inside[:, a] * inside[:, b])[:, None])
    return torch.cat(out, dim=1)


def _kernels_usable(xyz: Tensor, planes: Tensor) -> bool:
    """The compiled lookup applies: numba installed, CPU tensors of one float dtype."""
    return (
        xyz.device.type == "cpu"
        and planes.device.type == "cpu"
        and xyz.dtype == planes.dtype
        and xyz.dtype in (torch.float32, torch.float64)
        and _kernels() is not None
    )


@functools.lru_cache(maxsize=1)
def _kernels() -> Any:
    """The `triplane_kernels` module, or None without numba."""
    try:
        from pgs.core.model import triplane_kernels
    except ImportError:
        return None
    return triplane_kernels


def _numpy(t: Tensor) -> np.ndarray:
    return t.detach().contiguous().numpy()


class _CompiledLookup(torch.autograd.Function):
    """Tri-plane lookup through the numba kernels; gradients to `u` and `planes`."""

    @staticmethod
    def forward(
        ctx: Any, u: Tensor, inside: Tensor, planes: Tensor, scales: Tensor, sides: Tensor, offsets: Tensor
    ) -> Tensor:
        k = _kernels()
        args = (
            _numpy(u),
            _numpy(inside),
            _numpy(planes),
            _numpy(scales.to(u.dtype)),
            _numpy(sides),
            _numpy(offsets),
            np.array([1.0, 0.5], dtype=_numpy(u).dtype),
        )
        ctx.args = args
        with NUMBA_KERNEL_LOCK:
            return torch.from_numpy(k.triplane_forward(*args))

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        k = _kernels()
        need_u, need_planes = ctx.needs_input_grad[0], ctx.needs_input_grad[2]
        chunks = k.chunk_count(ctx.args[0].shape[0])
        with NUMBA_KERNEL_LOCK:
            d_planes, d_u = k.triplane_backward(_numpy(grad), *ctx.args, need_planes, need_u, chunks)
        return (
            torch.from_numpy(d_u) if need_u else None,
            None,
            torch.from_numpy(d_planes) if need_planes else None,
            None,
            None,
            None,
        )


__all__ = [
    "FACE_TRIPLANE",
    "MOUTH_TRIPLANE",
    "PLANE_AXES",
    "PLANE_NAMES",
    "TriPlaneConfig",
    "TriPlaneEncoder",
    "level_resolutions",
    "level_scales",
    "per_level_scale",
    "triplane_reference",
]
