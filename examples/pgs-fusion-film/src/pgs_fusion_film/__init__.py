"""FiLM fusion: a third-party ``pgs.fusion`` plugin built on pgs-core alone.

Feature-wise linear modulation (Perez et al., 2018) of each point's spatial feature by the
frame's audio and expression features:

- ``h = ReLU(W_s f_s + b_s)``                                    [N, H]
- ``(gamma, beta) = W_c concat(f_a, f_e) + b_c``                  [2H], once per frame
- ``m = (1 + gamma) * h + beta``                                  [N, H]
- ``(d_xyz, d_scale, d_rot) = W_2 ReLU(W_1 m + b_1) + b_2``, d_xyz scaled by
  ``position_scale * position_axis_scale``; W_2 starts small and b_2 at zero.

Installed, it is found by the registry as ``film``::

    from pgs.core.registry import registry
    fusion = registry("pgs.fusion").create("film", {"expression_dim": 6, "outputs": ["position", "scale"]})
"""

from __future__ import annotations

import torch
from pydantic import Field
from torch import Tensor, nn
from torch.nn import functional as F

from pgs.core.groups import FUSION
from pgs.core.interfaces import Deformation, FusionConfig, FusionModule
from pgs.core.registry import ComponentSpec

_WIDTHS = {"position": 3, "scale": 3, "rotation": 4}


class FiLMConfig(FusionConfig):
    """`FusionConfig` plus the initial gain of the output layer."""

    init_gain: float = Field(
        0.01, gt=0, le=1, description="Xavier gain of the last layer (zero bias), so deformations start near zero."
    )


class FiLMFusion(FusionModule):
    """Spatial features modulated by audio/expression (FiLM), then a two-layer output MLP.

    Args:
        config: dimensions, outputs and scaling.
    """

    description = "Example third-party plugin: FiLM modulation of spatial features by audio and expression"

    def __init__(self, config: FiLMConfig) -> None:
        super().__init__(config)
        hidden = config.hidden_dim
        self.spatial = nn.Linear(config.spatial_dim, hidden)
        self.condition = nn.Linear(config.audio_dim + config.expression_dim, 2 * hidden)
        self.hidden = nn.Linear(hidden, hidden)
        self.targets = [t for t in _WIDTHS if t in config.outputs]
        self.out = nn.Linear(hidden, sum(_WIDTHS[t] for t in self.targets))
        nn.init.xavier_uniform_(self.out.weight, gain=config.init_gain)
        nn.init.zeros_(self.out.bias)
        scale = torch.tensor(config.position_axis_scale) * config.position_scale
        self.register_buffer("position_multiplier", scale, persistent=False)

    def predict(self, spatial: Tensor, audio: Tensor, expression: Tensor | None = None) -> Deformation:
        """Predict deformations (`FusionModule.forward` has checked the inputs).

        Args:
            spatial: [N, spatial_dim] per-point features.
            audio: [audio_dim] per frame or [N, audio_dim] per point.
            expression: [expression_dim], or None when expression_dim is 0.

        Returns:
            `Deformation` with d_xyz [N, 3] (+ d_scale [N, 3], d_rot [N, 4] when configured).
        """
        da = self.config.audio_dim
        # W_c concat(f_a, f_e) without concatenating: the expression term is one vector per frame.
        film = F.linear(audio, self.condition.weight[:, :da], self.condition.bias)
        if expression is not None:
            film = film + F.linear(expression, self.condition.weight[:, da:])
        gamma, beta = film.chunk(2, dim=-1)
        h = torch.relu(self.spatial(spatial))
        h = (1 + gamma) * h + beta
        raw = self.out(torch.relu(self.hidden(h)))
        parts = dict(zip(self.targets, raw.split([_WIDTHS[t] for t in self.targets], dim=-1), strict=True))
        return Deformation(
            d_xyz=parts["position"] * self.position_multiplier.to(raw.dtype),
            d_scale=parts.get("scale"),
            d_rot=parts.get("rotation"),
        )


SPEC = ComponentSpec.of(FUSION, FiLMConfig, FiLMFusion, name="film")

__all__ = ["SPEC", "FiLMConfig", "FiLMFusion"]
