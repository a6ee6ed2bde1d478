"""Expression feature f_e from facial action units (face branch only).

TalkingGaussian's AU vector (``au_exp``) is the six OpenFace intensities
``[AU01_r, AU04_r, AU05_r, AU06_r, AU07_r, AU45_r]`` with AU45 (blink) clipped to [0, 2] and the
others raw (0..5). The paper's face Multimodal Gated Fusion takes these non-mouth AUs; the
inside-mouth branch takes none. `ExpressionNet` is TalkingGaussian's point-independent part:
a bias-free MLP(5 -> hidden -> 5) on the first five AUs, concatenated with AU45 -> f_e [6]. The
per-point gating of f_e belongs to the fusion module.
"""

from __future__ import annotations

import torch
from pydantic import Field
from torch import Tensor, nn

from pgs.core.config import ComponentConfig

#: OpenFace columns of the face expression vector, in order (TalkingGaussian ``au_exp``).
FACE_AU_COLUMNS: tuple[str, ...] = ("AU01_r", "AU04_r", "AU05_r", "AU06_r", "AU07_r", "AU45_r")
#: Upper limit of the blink intensity AU45 in the vector (TalkingGaussian clips to [0, 2]).
AU45_MAX = 2.0


def face_au_vector(values: Tensor) -> Tensor:
    """Apply TalkingGaussian's clipping to raw AU intensities in `FACE_AU_COLUMNS` order.

    Args:
        values: [..., 6] raw OpenFace intensities.

    Returns:
        [..., 6] float32 with the last entry (AU45) clipped to [0, 2].
    """
    if values.shape[-1] != len(FACE_AU_COLUMNS):
        raise ValueError(f"face AU vector must have {len(FACE_AU_COLUMNS)} entries, got {values.shape[-1]}")
    out = values.to(torch.float32).clone()
    out[..., -1] = out[..., -1].clamp(0.0, AU45_MAX)
    return out


class ExpressionConfig(ComponentConfig):
    """Settings of `ExpressionNet`."""

    num_aus: int = Field(len(FACE_AU_COLUMNS), ge=1, description="AU entries per frame (the last is the blink).")
    hidden_dim: int = Field(16, gt=0, description="Hidden width of the AU MLP (TalkingGaussian: 16).")


class ExpressionNet(nn.Module):
    """AU vector [num_aus] -> expression feature f_e [num_aus].

    ``f_e = concat(MLP(au[:-1]), au[-1:])`` with a bias-free two-layer MLP (ReLU between).

    Args:
        config: sizes.
    """

    def __init__(self, config: ExpressionConfig | None = None) -> None:
        super().__init__()
        self.config = config or ExpressionConfig()
        k = self.config.num_aus - 1
        h = self.config.hidden_dim
        self.mlp: nn.Module = nn.Identity()
        if k > 0:
            self.mlp = nn.Sequential(nn.Linear(k, h, bias=False), nn.ReLU(), nn.Linear(h, k, bias=False))

    @property
    def output_dim(self) -> int:
        """Channels of f_e."""
        return self.config.num_aus

    def forward(self, aus: Tensor) -> Tensor:
        """Compute f_e.

        Args:
            aus: [num_aus] or [B, num_aus] AU vector (`face_au_vector`).

        Returns:
            Same shape as `aus`.
        """
        if aus.shape[-1] != self.config.num_aus or aus.dim() not in (1, 2):
            raise ValueError(f"ExpressionNet: aus must be [{self.config.num_aus}] (or batched), got {list(aus.shape)}")
        return torch.cat([self.mlp(aus[..., :-1]), aus[..., -1:]], dim=-1)


__all__ = ["AU45_MAX", "FACE_AU_COLUMNS", "ExpressionConfig", "ExpressionNet", "face_au_vector"]
