"""Output heads shared by every fusion module, and the broadcast-aware linear layer they use.

A comparison between fusion modules should change only the fusion: every module of this package
ends in the same `DeformationHead` (an MLP whose last layer starts small, followed by
TalkingGaussian's output scaling), configured by the same `HeadConfig` fields.

Per-frame inputs (the audio feature [Da] of the frame, the expression feature [De]) enter
linear layers through `split_linear`, which computes ``linear(concat(parts))`` without building
the [N, sum(d)] concatenation: per-frame parts are projected once and broadcast as a bias, so
their cost does not grow with the number of points N.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from pydantic import Field
from torch import Tensor, nn
from torch.nn import functional as F

from pgs.core.interfaces import Deformation, DeformationTarget, FusionConfig

#: Channels each deformation target occupies in the head's output, in output order.
TARGET_CHANNELS: dict[DeformationTarget, int] = {"position": 3, "scale": 3, "rotation": 4}


class HeadConfig(FusionConfig):
    """`FusionConfig` plus the settings of the shared output head (all modules of pgs-fusion)."""

    head_layers: int = Field(
        3, ge=1, le=8, description="Linear layers of the output MLP (TalkingGaussian: 3, i.e. 2 hidden layers)."
    )
    head_init_gain: float = Field(
        0.01,
        gt=0,
        le=1,
        description="Xavier gain of the output MLP's last layer (bias zero), so deformations start near zero.",
    )


def split_linear(linear: nn.Linear, parts: Sequence[Tensor]) -> Tensor:
    """``linear(torch.cat(parts, -1))`` where each part is per point [N, d_i] or per frame [d_i].

    Per-frame parts are folded into the bias once; only per-point parts cost O(N).

    Args:
        linear: layer with ``in_features == sum(d_i)``.
        parts: the concatenation's pieces, in order.

    Returns:
        [N, out] if any part is per point, else [out].
    """
    widths = [int(p.shape[-1]) for p in parts]
    if sum(widths) != linear.in_features:
        raise ValueError(f"split_linear: parts have {sum(widths)} channels, the layer expects {linear.in_features}")
    weights = torch.split(linear.weight, widths, dim=1)
    bias = linear.bias
    per_point: list[tuple[Tensor, Tensor]] = []
    for part, weight in zip(parts, weights, strict=True):
        if part.dim() == 1:
            term = F.linear(part, weight)
            bias = term if bias is None else bias + term
        else:
            per_point.append((part, weight))
    if not per_point:
        return bias if bias is not None else linear.weight.new_zeros(linear.out_features)
    first, weight = per_point[0]
    out = F.linear(first, weight, bias)
    for part, weight in per_point[1:]:
        out = torch.addmm(out, part, weight.t())
    return out


class DeformationHead(nn.Module):
    """MLP from fused features to a `Deformation`, with TalkingGaussian's output scaling.

    ``h = Linear_L(ReLU(... ReLU(Linear_1(concat(parts)))))``, split into the targets in the
    order position, scale, rotation; ``d_xyz = h[:, :3] * position_scale * position_axis_scale``
    (TalkingGaussian: 1e-2, and x, z further / 5 for the mouth). The last layer is Xavier-initialised
    with a small gain and zero bias, so every deformation starts near zero.

    Args:
        in_dims: channels of each input part (per-point [N, d] or per-frame [d] at call time).
        config: hidden width, layer count, outputs and scaling.
        bias: give the Linear layers biases (TalkingGaussian's MLP has none).
        unused_outputs: extra output channels computed and discarded after the targets
            (TalkingGaussian's face MLP predicts a d_opacity channel that is never applied).
        hidden_dim: hidden width (default ``config.hidden_dim``).
    """

    def __init__(
        self,
        in_dims: Sequence[int],
        config: HeadConfig,
        bias: bool = True,
        unused_outputs: int = 0,
        hidden_dim: int | None = None,
    ) -> None:
        super().__init__()
        self.in_dims = tuple(int(d) for d in in_dims)
        self.targets: tuple[DeformationTarget, ...] = tuple(t for t in TARGET_CHANNELS if t in config.outputs)
        out_dim = sum(TARGET_CHANNELS[t] for t in self.targets) + unused_outputs
        hidden = config.hidden_dim if hidden_dim is None else hidden_dim
        widths = [sum(self.in_dims)] + [hidden] * (config.head_layers - 1) + [out_dim]
        self.layers = nn.ModuleList(nn.Linear(a, b, bias=bias) for a, b in itertools.pairwise(widths))
        last = self.layers[-1]
        nn.init.xavier_uniform_(last.weight, gain=config.head_init_gain)
        if last.bias is not None:
            nn.init.zeros_(last.bias)
        multiplier = torch.tensor(config.position_axis_scale, dtype=torch.float32) * config.position_scale
        self.register_buffer("position_multiplier", multiplier, persistent=False)

    def forward(self, parts: Sequence[Tensor]) -> Deformation:
        """Predict the deformation.

        Args:
            parts: tensors matching ``in_dims``, each [N, d_i] or [d_i]; at least one per point.

        Returns:
            `Deformation` with d_xyz [N, 3] and, if configured, d_scale [N, 3] and d_rot [N, 4].
        """
        h = split_linear(self.layers[0], parts)
        if h.dim() != 2:
            raise ValueError("DeformationHead needs at least one per-point [N, d] input")
        for layer in self.layers[1:]:
            h = layer(torch.relu(h))
        out: dict[str, Tensor] = {}
        start = 0
        for target in self.targets:
            width = TARGET_CHANNELS[target]
            out[target] = h[:, start : start + width]
            start += width
        d_xyz = out["position"] * self.position_multiplier.to(h.dtype)  # TalkingGaussian: d_xyz * 1e-2
        return Deformation(d_xyz=d_xyz, d_scale=out.get("scale"), d_rot=out.get("rotation"))


def mlp(in_dim: int, hidden_dim: int, out_dim: int, layers: int = 2, bias: bool = True) -> nn.Sequential:
    """Plain MLP: `layers` Linear layers with ReLU between them and no final activation."""
    widths = [in_dim] + [hidden_dim] * (layers - 1) + [out_dim]
    modules: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(widths)):
        if i:
            modules.append(nn.ReLU())
        modules.append(nn.Linear(a, b, bias=bias))
    return nn.Sequential(*modules)


__all__ = ["TARGET_CHANNELS", "DeformationHead", "HeadConfig", "mlp", "split_linear"]
