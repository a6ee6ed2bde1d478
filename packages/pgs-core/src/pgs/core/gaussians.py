"""`GaussianParams`: the raw (pre-activation) parameters of a set of 3D Gaussians.

Layout (DESIGN.md section 4): ``means [N,3]``, ``quats [N,4]`` (w, x, y, z; unnormalised),
``log_scales [N,3]``, ``opacity_logits [N]``, ``sh [N,K,3]`` with ``K = (degree + 1)**2``.
Activations: exp for scales, sigmoid for opacity, normalisation for quaternions. Deformations
add to means, log-scales and raw quaternions before activation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

import torch
from torch import Tensor

from pgs.core.errors import RenderError

PARAM_NAMES: tuple[str, ...] = ("means", "quats", "log_scales", "opacity_logits", "sh")


def sh_degree_from_coeffs(num_coeffs: int) -> int:
    """Spherical-harmonics degree for ``K = (degree + 1)**2`` coefficients.

    Raises:
        RenderError: `num_coeffs` is not a square between 1 and 16.
    """
    degree = math.isqrt(num_coeffs) - 1
    if num_coeffs < 1 or (degree + 1) ** 2 != num_coeffs or degree > 3:
        raise RenderError(f"sh: {num_coeffs} coefficients per colour is not (degree+1)^2 for degree 0..3")
    return degree


@dataclass
class GaussianParams:
    """Raw parameters of N Gaussians (float32, any device, all on the same device).

    Attributes:
        means: [N, 3] world-space centres.
        quats: [N, 4] rotations as unnormalised quaternions (w, x, y, z).
        log_scales: [N, 3] log of the standard deviations along the local axes.
        opacity_logits: [N] opacity before sigmoid.
        sh: [N, K, 3] spherical-harmonics colour coefficients, K = (degree + 1)**2.
    """

    means: Tensor
    quats: Tensor
    log_scales: Tensor
    opacity_logits: Tensor
    sh: Tensor

    def __post_init__(self) -> None:
        self.validate_shapes()

    # ------------------------------------------------------------------ checks
    def validate_shapes(self) -> None:
        """Check shapes and devices (cheap; no data is read).

        Raises:
            RenderError: naming the field and the expected shape.
        """
        n = self.means.shape[0] if self.means.dim() == 2 else -1
        expected = {
            "means": (n, 3),
            "quats": (n, 4),
            "log_scales": (n, 3),
            "opacity_logits": (n,),
        }
        for name, shape in expected.items():
            t = getattr(self, name)
            if not isinstance(t, Tensor):
                raise RenderError(f"GaussianParams.{name}: expected a tensor, got {type(t).__name__}")
            if tuple(t.shape) != shape or n < 0:
                raise RenderError(
                    f"GaussianParams.{name}: expected shape {list(shape) if n >= 0 else '[N, 3]'}, "
                    f"got {list(t.shape)}"
                )
        if not isinstance(self.sh, Tensor) or self.sh.dim() != 3 or self.sh.shape[0] != n or self.sh.shape[2] != 3:
            got = list(self.sh.shape) if isinstance(self.sh, Tensor) else type(self.sh).__name__
            raise RenderError(f"GaussianParams.sh: expected shape [{n}, K, 3], got {got}")
        sh_degree_from_coeffs(self.sh.shape[1])
        devices = {getattr(self, f.name).device for f in fields(self)}
        if len(devices) > 1:
            raise RenderError(f"GaussianParams: tensors are on different devices {sorted(map(str, devices))}")
        for f in fields(self):
            if not getattr(self, f.name).is_floating_point():
                raise RenderError(f"GaussianParams.{f.name}: expected a floating-point tensor")

    def check_finite(self) -> None:
        """Raise `RenderError` naming the first field that holds NaN or infinite values."""
        for f in fields(self):
            t = getattr(self, f.name)
            # A sum is NaN or infinite whenever an element is: one reduction, about 25x faster on
            # a CPU than the elementwise mask; finite values whose sum overflows take the exact test.
            if not bool(torch.isfinite(t.sum())) and not bool(torch.isfinite(t).all()):
                raise RenderError(f"GaussianParams.{f.name}: contains NaN or infinite values")

    # ------------------------------------------------------------------ views
    @property
    def num(self) -> int:
        """Number of Gaussians N."""
        return int(self.means.shape[0])

    @property
    def sh_degree(self) -> int:
        """Spherical-harmonics degree stored in `sh` (0..3)."""
        return sh_degree_from_coeffs(self.sh.shape[1])

    @property
    def device(self) -> torch.device:
        """Device of the tensors."""
        return self.means.device

    def scales(self) -> Tensor:
        """[N, 3] activated scales (exp of `log_scales`)."""
        return torch.exp(self.log_scales)

    def opacities(self) -> Tensor:
        """[N] activated opacities (sigmoid of `opacity_logits`)."""
        return torch.sigmoid(self.opacity_logits)

    def unit_quats(self) -> Tensor:
        """[N, 4] normalised quaternions (w, x, y, z)."""
        return torch.nn.functional.normalize(self.quats, dim=-1)

    def as_dict(self) -> dict[str, Tensor]:
        """The five tensors by name (`PARAM_NAMES`)."""
        return {name: getattr(self, name) for name in PARAM_NAMES}

    @classmethod
    def from_dict(cls, tensors: dict[str, Tensor]) -> GaussianParams:
        """Build from a mapping with the keys of `PARAM_NAMES` (extra keys are ignored)."""
        missing = [k for k in PARAM_NAMES if k not in tensors]
        if missing:
            raise RenderError(f"GaussianParams: missing tensors {missing}")
        return cls(**{k: tensors[k] for k in PARAM_NAMES})

    def detach(self) -> GaussianParams:
        """A copy with every tensor detached from autograd."""
        return replace(self, **{k: v.detach() for k, v in self.as_dict().items()})

    def to(self, device: torch.device | str) -> GaussianParams:
        """A copy on `device`."""
        return replace(self, **{k: v.to(device) for k, v in self.as_dict().items()})

    def subset(self, index: Tensor) -> GaussianParams:
        """The Gaussians selected by a boolean mask or index tensor over N."""
        return replace(self, **{k: v[index] for k, v in self.as_dict().items()})

    def deformed(
        self, d_xyz: Tensor | None = None, d_scale: Tensor | None = None, d_rot: Tensor | None = None
    ) -> GaussianParams:
        """Apply a deformation in pre-activation space (DESIGN.md section 4).

        Args:
            d_xyz: [N, 3] added to `means`.
            d_scale: [N, 3] added to `log_scales`.
            d_rot: [N, 4] added to the raw `quats`.
        """
        return replace(
            self,
            means=self.means if d_xyz is None else self.means + d_xyz,
            log_scales=self.log_scales if d_scale is None else self.log_scales + d_scale,
            quats=self.quats if d_rot is None else self.quats + d_rot,
        )

    @classmethod
    def concat(cls, parts: list[GaussianParams]) -> GaussianParams:
        """Concatenate several sets along N (they must share the SH degree)."""
        if not parts:
            raise RenderError("GaussianParams.concat: nothing to concatenate")
        return cls(**{k: torch.cat([getattr(p, k) for p in parts]) for k in PARAM_NAMES})
