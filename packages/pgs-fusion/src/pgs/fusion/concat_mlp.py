"""TalkingGaussian's fusion: channel attention from the spatial feature, then concatenation and an MLP.

This is the paper's "w/o MGF" configuration. With f_s the spatial feature, f_a the audio feature
and f_e the expression feature that the branch computes once (`pgs.core.model.expression`:
``concat(MLP(AU01..AU07), AU45)``, TalkingGaussian's only AU MLP; it is not applied again here):

- audio channel attention (face): ``f_w = f_a * MLP_a(f_s)``  (MLP_a: 36 -> 32 -> 32, bias-free);
  the mouth uses ``f_w = f_a`` (TalkingGaussian's mouth network has no attention);
- expression attention (face): ``f_x = f_e * ReLU(MLP_x(f_s))`` (MLP_x: 36 -> 16 -> 6, bias-free);
- ``h = MLP(concat(f_s, f_w, f_x))``, bias-free, 3 layers: face 74 -> 64 -> 64 -> 11 (d_xyz 3,
  d_scale 3, d_rot 4 and TalkingGaussian's d_opacity channel, computed and never applied),
  mouth 68 -> 32 -> 32 -> 3.

Kept from TalkingGaussian (``scene/motion_net.py``): every layer size above, bias-free MLPs,
one AU path, the AU45 pass-through, d_xyz x 1e-2 (mouth x and z further / 5). Left out: the
"ambient" attention renders and their regularisers (a training-loss matter, not the module), and
its default initialisation of the last layer: like every head of pgs-fusion it starts with Xavier
gain `head_init_gain` so deformations start near zero.
"""

from __future__ import annotations

import torch
from pydantic import Field
from torch import Tensor

from pgs.core.groups import FUSION
from pgs.core.interfaces import Deformation, FusionModule
from pgs.core.registry import ComponentSpec
from pgs.fusion.heads import DeformationHead, HeadConfig, mlp

#: TalkingGaussian's head hidden widths: face ``MotionNetwork`` 64, ``MouthMotionNetwork`` 32.
FACE_HIDDEN = 64
MOUTH_HIDDEN = 32


class ConcatMLPConfig(HeadConfig):
    """Config of `ConcatMLPFusion`: the shared fusion fields plus TalkingGaussian's attention MLPs."""

    hidden_dim: int | None = Field(  # type: ignore[assignment]
        None,
        gt=0,
        description=(
            "Hidden width of the output MLP. None follows TalkingGaussian: 64 for the face (expression_dim > 0), "
            "32 for the mouth."
        ),
    )
    head_bias: bool = Field(False, description="Biases in the output MLP (TalkingGaussian: none).")
    opacity_channel: bool | None = Field(
        None,
        description=(
            "Compute TalkingGaussian's unused d_opacity output channel (face: 11 outputs). None: on when the "
            "outputs are position, scale and rotation."
        ),
    )
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
        16, gt=0, description="Hidden width of the expression-attention MLP (TalkingGaussian: 16)."
    )


class ConcatMLPFusion(FusionModule):
    """TalkingGaussian's channel-attention + concatenation MLP (the "w/o MGF" baseline).

    Args:
        config: dimensions, outputs, attention settings and head settings.
    """

    description = "TalkingGaussian baseline ('w/o MGF'): spatial channel attention, concatenation, MLP"

    def __init__(self, config: ConcatMLPConfig) -> None:
        super().__init__(config)
        use_attention = config.audio_attention
        self.use_audio_attention = config.expression_dim > 0 if use_attention is None else use_attention
        if self.use_audio_attention:
            self.audio_attention = mlp(config.spatial_dim, config.attention_hidden, config.audio_dim, bias=False)
        de = config.expression_dim
        if de > 0:
            self.expression_attention = mlp(config.spatial_dim, config.expression_hidden, de, bias=False)
        hidden = config.hidden_dim
        if hidden is None:
            hidden = FACE_HIDDEN if de > 0 else MOUTH_HIDDEN
        opacity = config.opacity_channel
        if opacity is None:
            opacity = set(config.outputs) == {"position", "scale", "rotation"}
        self.head = DeformationHead(
            (config.spatial_dim, config.audio_dim) + ((de,) if de else ()),
            config,
            bias=config.head_bias,
            unused_outputs=1 if opacity else 0,
            hidden_dim=hidden,
        )

    def predict(self, spatial: Tensor, audio: Tensor, expression: Tensor | None = None) -> Deformation:
        """Predict deformations (see the module docstring for the equations); inputs checked by `forward`.

        Args:
            spatial: [N, spatial_dim] per-point features f_s.
            audio: [audio_dim] per frame or [N, audio_dim] per point, f_a.
            expression: [expression_dim] f_e (face, already through the branch's AU MLP), or None (mouth).

        Returns:
            `Deformation` with d_xyz [N, 3] (+ d_scale [N, 3], d_rot [N, 4] when configured).
        """
        f_w = audio * self.audio_attention(spatial) if self.use_audio_attention else audio
        parts = [spatial, f_w]
        if expression is not None:
            parts.append(expression * torch.relu(self.expression_attention(spatial)))
        return self.head(parts)


SPEC = ComponentSpec.of(FUSION, ConcatMLPConfig, ConcatMLPFusion, name="concat-mlp")

__all__ = ["SPEC", "ConcatMLPConfig", "ConcatMLPFusion"]
