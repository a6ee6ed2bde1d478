"""TalkingGaussian's fusion: channel attention from the spatial feature, then concatenation and an MLP.

This is the paper's "w/o MGF" configuration. With f_s the spatial feature, f_a the audio feature
and f_e the expression feature (TalkingGaussian: 6 action units, the last one AU45 passed raw):

- audio channel attention (face): ``f_w = f_a * MLP_a(f_s)``  (MLP_a: Ds -> 32 -> Da, bias-free);
  the mouth uses ``f_w = f_a`` (TalkingGaussian's mouth network has no attention);
- expression attention (face): ``f_x = concat(MLP_e(f_e[:-k]), f_e[-k:]) * ReLU(MLP_x(f_s))``
  (MLP_e: 16 hidden, MLP_x: Ds -> 16 -> De, bias-free, k = ``expression_passthrough``);
- ``(d_xyz, d_scale, d_rot) = MLP(concat(f_s, f_w, f_x))``, the shared output head
  (face: 36 + 32 + 6 = 74 -> 64 -> 64 -> outputs).
"""

from __future__ import annotations

import torch
from pydantic import Field
from torch import Tensor

from pgs.core.groups import FUSION
from pgs.core.interfaces import Deformation, FusionModule
from pgs.core.registry import ComponentSpec
from pgs.fusion.heads import DeformationHead, HeadConfig, mlp


class ConcatMLPConfig(HeadConfig):
    """Config of `ConcatMLPFusion`: the shared fusion fields plus TalkingGaussian's attention MLPs."""

    audio_attention: bool | None = Field(
        None,
        description=(
            "Gate the audio channels by MLP(f_s). None follows TalkingGaussian: on for the face "
            "(expression_dim > 0), off for the mouth."
        ),
    )
    attention_hidden: int = Field(
        32, gt=0, description="Hidden width of the audio-attention MLP (TalkingGaussian: 32)."
    )
    expression_hidden: int = Field(
        16, gt=0, description="Hidden width of the expression MLP and expression-attention MLP (TalkingGaussian: 16)."
    )
    expression_passthrough: int = Field(
        1,
        ge=0,
        description="Trailing expression channels that bypass the expression MLP (TalkingGaussian: 1, AU45 blink).",
    )


class ConcatMLPFusion(FusionModule):
    """TalkingGaussian's channel-attention + concatenation MLP (the "w/o MGF" baseline).

    Args:
        config: dimensions, outputs, attention settings and head settings.
    """

    def __init__(self, config: ConcatMLPConfig) -> None:
        super().__init__()
        self.config = config
        use_attention = config.audio_attention
        self.use_audio_attention = config.expression_dim > 0 if use_attention is None else use_attention
        if self.use_audio_attention:
            self.audio_attention = mlp(config.spatial_dim, config.attention_hidden, config.audio_dim, bias=False)
        de = config.expression_dim
        self.passthrough = min(config.expression_passthrough, de)
        mixed = de - self.passthrough
        if mixed > 0:
            self.expression_mlp = mlp(mixed, config.expression_hidden, mixed, bias=False)
        if de > 0:
            self.expression_attention = mlp(config.spatial_dim, config.expression_hidden, de, bias=False)
        self.head = DeformationHead((config.spatial_dim, config.audio_dim) + ((de,) if de else ()), config)

    def forward(self, spatial: Tensor, audio: Tensor, expression: Tensor | None = None) -> Deformation:
        """Predict deformations (see the module docstring for the equations).

        Args:
            spatial: [N, spatial_dim] per-point features f_s.
            audio: [audio_dim] per frame or [N, audio_dim] per point, f_a.
            expression: [expression_dim] f_e (face), or None (mouth).

        Returns:
            `Deformation` with d_xyz [N, 3] (+ d_scale [N, 3], d_rot [N, 4] when configured).
        """
        self.check_inputs(spatial, audio, expression)
        f_w = audio * self.audio_attention(spatial) if self.use_audio_attention else audio
        parts = [spatial, f_w]
        if expression is not None:
            mixed = expression.shape[0] - self.passthrough
            f_e = expression
            if mixed > 0:
                f_e = torch.cat((self.expression_mlp(expression[:mixed]), expression[mixed:]))
            parts.append(f_e * torch.relu(self.expression_attention(spatial)))
        return self.head(parts)


SPEC = ComponentSpec(
    name="concat-mlp",
    group=FUSION,
    config_class=ConcatMLPConfig,
    factory=ConcatMLPFusion,
    description="TalkingGaussian baseline ('w/o MGF'): spatial channel attention, concatenation, MLP",
)

__all__ = ["SPEC", "ConcatMLPConfig", "ConcatMLPFusion"]
