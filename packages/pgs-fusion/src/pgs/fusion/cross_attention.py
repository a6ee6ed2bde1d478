"""GaussianTalker's fusion: each point's spatial feature attends over audio, expression, camera and null tokens.

With model width d (64) and h heads (2):

- query per point: ``x = Linear(f_s)`` [N, d], ``q = W_q x``;
- key/value tokens: ``t_a = MLP(f_a)`` (Da -> 64 -> d), ``t_e = MLP(f_e)`` (De -> 64 -> d, face only),
  optionally the camera token ``t_c = MLP([R, T])`` (12 -> 64 -> d, `camera_token`), and a learned
  null token ``t_0``; ``k = W_k t``, ``v = W_v t``;
- ``y = LayerNorm(x + Dropout(W_o MultiHead(q, k, v)))``;
  ``z = LayerNorm(y + Dropout(FFN(y)))`` with ``FFN = Linear(d, 128), ReLU, Dropout, Linear(128, d)``;
- ``(d_xyz, d_scale, d_rot) = MLP(z)``, the shared output head.

Kept from GaussianTalker (``scene/transformer``, ``scene/deformation.py``): one attention layer,
width 64, 2 heads, FFN 128, post-norm residuals, dropout 0.2 at its places (after the attention,
inside and after the FFN; active in training only), the audio / eye / camera / null tokens
(camera token optional, off by default, because TalkingGaussian-style baselines do not condition
on the pose). Left out: its K-Planes tri-plane (the branch's spatial encoder is shared by every
fusion module, so a projection from 36 to 64 channels makes the query), its sinusoidal encoding of
AU45 (the expression token is an MLP of the branch's 6-channel f_e), its per-attribute heads
(Delta opacity and Delta SH are not deformed in this toolkit: the shared head predicts the
configured targets), and its 128-frame batching. With a per-frame audio feature the tokens (and
their keys and values) are computed once per frame; per point the cost is the query, the
attention over the 2-4 tokens, the output projection, the FFN and the head.
"""

from __future__ import annotations

import math

import torch
from pydantic import Field, model_validator
from torch import Tensor, nn

from pgs.core.groups import FUSION
from pgs.core.interfaces import Deformation, FusionModule
from pgs.core.registry import ComponentSpec
from pgs.fusion.heads import DeformationHead, HeadConfig, mlp


class CrossAttentionConfig(HeadConfig):
    """Config of `CrossAttentionFusion`: the shared fusion fields plus the attention layer's sizes."""

    model_dim: int = Field(
        64, gt=0, description="Width d of queries, tokens and the attention layer (GaussianTalker: 64)."
    )
    heads: int = Field(2, gt=0, description="Attention heads; must divide model_dim (GaussianTalker: 2).")
    ffn_dim: int = Field(128, gt=0, description="Hidden width of the feed-forward block (GaussianTalker: 128).")
    token_hidden: int = Field(64, gt=0, description="Hidden width of the audio and expression token MLPs.")
    dropout: float = Field(
        0.2,
        ge=0,
        lt=1,
        description=(
            "Dropout in training after the attention, inside and after the FFN (GaussianTalker: 0.2); "
            "eval mode applies none."
        ),
    )
    camera_token: bool = Field(
        False,
        description=(
            "Add GaussianTalker's camera token MLP([R (9), T (3)]) of the frame's world-to-camera matrix; the "
            "module then needs camera=[4, 4] in forward (the branch passes it)."
        ),
    )

    @model_validator(mode="after")
    def _heads_divide(self) -> CrossAttentionConfig:
        if self.model_dim % self.heads:
            raise ValueError(f"heads ({self.heads}) must divide model_dim ({self.model_dim})")
        return self


class CrossAttentionFusion(FusionModule):
    """GaussianTalker's spatial-audio cross-attention (one layer) followed by the shared head.

    Args:
        config: dimensions, outputs, attention sizes and head settings.
    """

    description = "GaussianTalker baseline: per-point query attends to audio, expression, (camera) and null tokens"

    def __init__(self, config: CrossAttentionConfig) -> None:
        super().__init__(config)
        d = config.model_dim
        self.query_in = nn.Linear(config.spatial_dim, d)
        self.audio_token = mlp(config.audio_dim, config.token_hidden, d)
        if config.expression_dim > 0:
            self.expression_token = mlp(config.expression_dim, config.token_hidden, d)
        if config.camera_token:
            self.camera_token = mlp(12, config.token_hidden, d)
        self.null_token = nn.Parameter(torch.randn(d) / math.sqrt(d))
        self.q_proj = nn.Linear(d, d)
        self.k_proj = nn.Linear(d, d)
        self.v_proj = nn.Linear(d, d)
        self.out_proj = nn.Linear(d, d)
        self.norm1 = nn.LayerNorm(d)
        self.ffn = nn.Sequential(
            nn.Linear(d, config.ffn_dim), nn.ReLU(), nn.Dropout(config.dropout), nn.Linear(config.ffn_dim, d)
        )
        self.norm2 = nn.LayerNorm(d)
        self.attention_dropout = nn.Dropout(config.dropout)
        self.ffn_dropout = nn.Dropout(config.dropout)
        self.head = DeformationHead((d,), config)

    @property
    def uses_camera(self) -> bool:
        """Whether `forward` needs the frame's camera (``camera_token``)."""
        return self.config.camera_token

    def _tokens(self, audio: Tensor, expression: Tensor | None, camera: Tensor | None) -> Tensor:
        """Key/value tokens: [T, d] for per-frame audio, [N, T, d] for per-point audio."""
        tokens = [self.audio_token(audio)]
        if expression is not None:
            tokens.append(self.expression_token(expression))
        if self.config.camera_token:
            if camera is None or tuple(camera.shape) != (4, 4):
                got = None if camera is None else list(camera.shape)
                raise ValueError(f"cross-attention: camera_token needs camera=[4, 4] world-to-camera, got {got}")
            pose = torch.cat((camera[:3, :3].reshape(9), camera[:3, 3])).to(audio.dtype)  # GaussianTalker: [R, T]
            tokens.append(self.camera_token(pose))
        tokens.append(self.null_token)
        if audio.dim() == 1:
            return torch.stack(tokens)
        n = audio.shape[0]
        return torch.stack([t.expand(n, -1) for t in tokens], dim=1)

    def attention(
        self, spatial: Tensor, audio: Tensor, expression: Tensor | None = None, camera: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """The attention layer's output and weights.

        Returns:
            (z [N, d] features fed to the head, weights [N, heads, T] over the tokens audio,
            expression (face only), camera (`camera_token`), null).
        """
        self.check_inputs(spatial, audio, expression)
        return self._attend(spatial, audio, expression, camera)

    def _attend(
        self, spatial: Tensor, audio: Tensor, expression: Tensor | None, camera: Tensor | None
    ) -> tuple[Tensor, Tensor]:
        n, d, h = spatial.shape[0], self.config.model_dim, self.config.heads
        x = self.query_in(spatial)
        q = self.q_proj(x).view(n, h, d // h) / math.sqrt(d // h)
        tokens = self._tokens(audio, expression, camera)
        k = self.k_proj(tokens).unflatten(-1, (h, d // h))
        v = self.v_proj(tokens).unflatten(-1, (h, d // h))
        if tokens.dim() == 2:  # per-frame tokens shared by every point
            weights = torch.softmax(torch.einsum("nhc,thc->nht", q, k), dim=-1)
            context = torch.einsum("nht,thc->nhc", weights, v)
        else:
            weights = torch.softmax(torch.einsum("nhc,nthc->nht", q, k), dim=-1)
            context = torch.einsum("nht,nthc->nhc", weights, v)
        y = self.norm1(x + self.attention_dropout(self.out_proj(context.reshape(n, d))))
        z = self.norm2(y + self.ffn_dropout(self.ffn(y)))
        return z, weights

    def predict(
        self, spatial: Tensor, audio: Tensor, expression: Tensor | None = None, camera: Tensor | None = None
    ) -> Deformation:
        """Predict deformations (see the module docstring for the equations); inputs checked by `forward`.

        Args:
            spatial: [N, spatial_dim] per-point features f_s.
            audio: [audio_dim] per frame or [N, audio_dim] per point, f_a.
            expression: [expression_dim] f_e (face), or None (mouth).
            camera: [4, 4] world-to-camera matrix of the frame (required with `camera_token`).

        Returns:
            `Deformation` with d_xyz [N, 3] (+ d_scale [N, 3], d_rot [N, 4] when configured).
        """
        z, _ = self._attend(spatial, audio, expression, camera)
        return self.head((z,))


SPEC = ComponentSpec.of(FUSION, CrossAttentionConfig, CrossAttentionFusion, name="cross-attention")

__all__ = ["SPEC", "CrossAttentionConfig", "CrossAttentionFusion"]
