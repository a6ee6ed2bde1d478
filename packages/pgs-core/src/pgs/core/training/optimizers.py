"""The optimisers of one branch: Adam per Gaussian parameter (3DGS), AdamW for the networks.

Rates come from ``stages.gaussian_lr`` and ``stages.network_lr``; the position rate decays as in
3DGS and is scaled by the scene extent (`position_lr`), the network rates as TalkingGaussian's
motion-net schedule (`network_lr_factor`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch.autograd.graph import increment_version

from pgs.core.interfaces import DensityStrategy
from pgs.core.model.branch import Branch
from pgs.core.training.config import TrainConfig
from pgs.core.training.schedule import GAUSSIAN_KEYS

#: PyTorch's fused Adam/AdamW kernels (one pass over each tensor; CPU and CUDA).
_FUSED: dict[str, Any] = {"fused": True}


def _mark_updated(optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
    """Step post-hook: bump the in-place version counter of every parameter the step may have changed.

    Fused kernels write the parameters without bumping their version counters (PyTorch 2.14:
    ``p._version`` stays put), and `Branch`'s canonical-feature cache is keyed on those counters:
    without this, an evaluation between two training steps keeps the features of the earlier one.
    """
    increment_version([p for group in optimizer.param_groups for p in group["params"] if p.grad is not None])


def _fused(optimizer: torch.optim.Optimizer) -> torch.optim.Optimizer:
    """`optimizer` with `_mark_updated` registered (it was built with `_FUSED`)."""
    optimizer.register_step_post_hook(_mark_updated)
    return optimizer


@dataclass
class BranchTraining:
    """Optimisation state of one branch."""

    branch: Branch
    strategy: DensityStrategy[Any]
    density_state: Any
    gaussian_optimizers: dict[str, torch.optim.Optimizer]
    network_optimizer: torch.optim.Optimizer
    step: int = 0  # steps taken in this branch's stages 1-2 (the strategy's clock)


def _stage_fraction(config: TrainConfig, branch_step: int) -> float:
    """``t = step / (static + deform iterations)`` clamped to [0, 1]: how far a branch is through stages 1-2."""
    total = max(config.stages.static_iterations + config.stages.deform_iterations, 1)
    return min(max(branch_step / total, 0.0), 1.0)


def position_lr(config: TrainConfig, scene_extent: float, branch_step: int) -> float:
    """Position LR at a branch's step of stages 1-2: 3DGS's exponential decay times its spatial scale.

    ``lr(t) = lr0^(1-t) * lr1^t`` with ``t = step / (static + deform iterations)``, ``lr1 = lr0 * means_decay``,
    both multiplied by ``position_lr_scale`` (the scene extent by default).
    """
    lr = config.stages.gaussian_lr
    scale = scene_extent if lr.position_lr_scale == "scene_extent" else float(lr.position_lr_scale)
    return scale * lr.means * lr.means_decay ** _stage_fraction(config, branch_step)


def gaussian_optimizers(branch: Branch, config: TrainConfig, means_lr: float) -> dict[str, torch.optim.Optimizer]:
    """One Adam per Gaussian parameter of `branch` (3DGS), the position one at `means_lr`."""
    lr = config.stages.gaussian_lr
    rates = {
        "means": means_lr,
        "quats": lr.quats,
        "log_scales": lr.scales,
        "opacity_logits": lr.opacity,
        "sh": lr.sh_dc,
    }
    return {
        k: _fused(torch.optim.Adam([branch.params[k]], lr=rates[k], eps=1e-15, **_FUSED)) for k in GAUSSIAN_KEYS
    }


def network_lr_factor(config: TrainConfig, branch_step: int) -> float:
    """Multiplier of the network LRs at a branch's step of stages 1-2 (``stages.network_lr.schedule``).

    TalkingGaussian's motion-net LambdaLR, with its step counts as fractions ``t = step / (static +
    deform iterations)``: ``0.5^(t / knee)`` before the knee, ``0.1^t`` from it on (knee 0.8: its
    40,000 of 50,000 steps), so the rate halves until the knee, drops there and ends at a tenth.
    """
    lr = config.stages.network_lr
    if lr.schedule == "constant":
        return 1.0
    t = _stage_fraction(config, branch_step)
    return 0.5 ** (t / lr.decay_knee) if t < lr.decay_knee else 0.1**t


def _network_rates(config: TrainConfig) -> tuple[float, float, float]:
    """Configured LRs of the network groups in the optimizer's order: grid, rest, attention (optional, last)."""
    lr = config.stages.network_lr
    return lr.grid, lr.net, lr.audio_attention


def network_optimizer(branch: Branch, config: TrainConfig) -> torch.optim.Optimizer:
    """AdamW over the branch's networks: tri-plane grid, audio attention and the rest at their own rates."""
    grid_lr, net_lr, attention_lr = _network_rates(config)
    grid = list(branch.encoder.parameters())
    attention = [p for n, p in branch.audio_net.named_parameters() if n.startswith("attention_")]
    taken = {id(p) for p in grid + attention}
    rest = [p for p in branch.network_parameters() if id(p) not in taken]
    groups = [{"params": grid, "lr": grid_lr, "weight_decay": 0.0}, {"params": rest, "lr": net_lr}]
    if attention:
        groups.append({"params": attention, "lr": attention_lr})
    weight_decay = config.stages.network_lr.weight_decay
    return _fused(torch.optim.AdamW(groups, betas=(0.9, 0.99), eps=1e-8, weight_decay=weight_decay, **_FUSED))


def set_network_lr(bt: BranchTraining, config: TrainConfig) -> None:
    """Set `bt`'s network LRs to their configured rates times `network_lr_factor` at ``bt.step``."""
    factor = network_lr_factor(config, bt.step)
    groups = bt.network_optimizer.param_groups
    for group, initial in zip(groups, _network_rates(config)[: len(groups)], strict=True):
        group["lr"] = initial * factor


__all__ = [
    "BranchTraining",
    "gaussian_optimizers",
    "network_lr_factor",
    "network_optimizer",
    "position_lr",
    "set_network_lr",
]
