"""Multimodal Gated Fusion (MGF), PGSTalker Section 3.4, Fig. 3, Eqs. 6-9.

1x1 convolutions over points are per-point linear projections (``nn.Linear`` on [N, d]); a
projection of a per-frame feature ([Da], [De]) is computed once per frame and broadcast.

Mouth branch (``expression_dim == 0``), with f'_s = Conv_s(f_s), f'_a = Conv_a(f_a):

- Eq. 6: ``w = sigmoid(Conv_g([f'_s; f'_a]))``,   ``f~_a = w * f'_a``
- Eq. 7: ``d_xyz = MLP(concat(f'_s, f~_a))``

Face branch (``expression_dim > 0``), with f'_a = Conv_a(f_a), f'_e = Conv_e(f_e):

- Eq. 8: ``w = sigmoid(Conv_g([f'_a; f'_e]))``,   ``f~_a = w * f'_a``,   ``f_ae = concat(f~_a, f'_e)``
- Eq. 9: ``(d_xyz, d_scale, d_rot) = MLP(concat(f_a, f_ae, f_s))``

The face gate reads audio and expression only, so with a per-frame audio feature it is one
vector per frame and the per-point cost is the output MLP's alone. The audio projection has no
bias: silent (zero) audio gives f'_a = 0, hence f~_a = 0 whatever the gate.
"""

from __future__ import annotations

import torch
from pydantic import Field
from torch import Tensor, nn

from pgs.core.groups import FUSION
from pgs.core.interfaces import Deformation, FusionModule
from pgs.core.registry import ComponentSpec
from pgs.fusion.heads import DeformationHead, HeadConfig, split_linear


class MGFConfig(HeadConfig):
    """Config of `MGFFusion`: the shared fusion fields plus the projection width."""

    proj_dim: int = Field(
        16, gt=0, description="Channels C of the 1x1-conv projections f'_s, f'_a, f'_e and of the gate w."
    )


class MGFFusion(FusionModule):
    """PGSTalker's Multimodal Gated Fusion: face variant (Eqs. 8-9) if expression_dim > 0, else mouth (Eqs. 6-7).

    Args:
        config: dimensions, outputs and head settings.
    """

    description = "PGSTalker Multimodal Gated Fusion (Eqs. 6-9): sigmoid-gated audio, face and mouth variants"

    def __init__(self, config: MGFConfig) -> None:
        super().__init__(config)
        c = config.proj_dim
        self.face = config.expression_dim > 0
        self.audio_proj = nn.Linear(config.audio_dim, c, bias=False)  # f'_a
        self.gate = nn.Linear(2 * c, c)  # Conv_g
        if self.face:
            self.expression_proj = nn.Linear(config.expression_dim, c)  # f'_e
            self.head = DeformationHead((config.audio_dim, c, c, config.spatial_dim), config)
        else:
            self.spatial_proj = nn.Linear(config.spatial_dim, c)  # f'_s
            self.head = DeformationHead((c, c), config)

    def _fuse(self, spatial: Tensor, audio: Tensor, expression: Tensor | None) -> tuple[list[Tensor], Tensor]:
        """The head's input parts and the gate w ([C] per frame or [N, C])."""
        f_a = self.audio_proj(audio)  # f'_a: [C] or [N, C]
        if self.face:
            f_e = self.expression_proj(expression)  # f'_e: [C]
            w = torch.sigmoid(split_linear(self.gate, (f_a, f_e)))  # Eq. 8
            f_ae = (w * f_a, f_e)  # f_ae = concat(f~_a, f'_e), kept as parts
            return [audio, *f_ae, spatial], w  # Eq. 9: concat(f_a, f_ae, f_s)
        f_s = self.spatial_proj(spatial)  # f'_s: [N, C]
        w = torch.sigmoid(split_linear(self.gate, (f_s, f_a)))  # Eq. 6
        return [f_s, w * f_a], w  # Eq. 7: concat(f'_s, f~_a)

    def gates(self, spatial: Tensor, audio: Tensor, expression: Tensor | None = None) -> Tensor:
        """The gate w in [0, 1] (Eq. 6 or Eq. 8).

        Returns:
            [N, C] for the mouth or per-point audio; [C] for the face with per-frame audio.
        """
        self.check_inputs(spatial, audio, expression)
        return self._fuse(spatial, audio, expression)[1]

    def predict(self, spatial: Tensor, audio: Tensor, expression: Tensor | None = None) -> Deformation:
        """Predict deformations (see the module docstring for the equations); inputs checked by `forward`.

        Args:
            spatial: [N, spatial_dim] per-point features f_s.
            audio: [audio_dim] per frame or [N, audio_dim] per point, f_a.
            expression: [expression_dim] f_e (face), or None (mouth).

        Returns:
            `Deformation` with d_xyz [N, 3] (+ d_scale [N, 3], d_rot [N, 4] when configured).
        """
        parts, _ = self._fuse(spatial, audio, expression)
        return self.head(parts)


SPEC = ComponentSpec.of(FUSION, MGFConfig, MGFFusion, name="mgf")

__all__ = ["SPEC", "MGFConfig", "MGFFusion"]
