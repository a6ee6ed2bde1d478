"""The training schedule: stages per branch, the Gaussian parameters each stage trains, the frame order.

Stages, in order (TalkingGaussian trains the mouth before the face): static and deformation for
the mouth, then for the face, then the joint fine-tune (Eqs. 11-13). `FrameSampler` draws frames
without replacement per epoch from its own seeded generator, so a resumed run draws the same ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

if TYPE_CHECKING:
    from pgs.core.training.config import TrainConfig

BRANCHES = ("mouth", "face")
GAUSSIAN_KEYS = ("means", "quats", "log_scales", "opacity_logits", "sh")
#: Gaussian parameters each stage optimises (stage 2's come from ``stages.deform_gaussian_params``).
STAGE_KEYS: dict[str, tuple[str, ...]] = {
    "static": GAUSSIAN_KEYS,
    "deform": ("means", "quats", "log_scales"),
    "finetune": ("sh",),
}



@dataclass(frozen=True)
class StagePlan:
    """One stage of the schedule.

    Attributes:
        stage: ``static``, ``deform`` or ``finetune``.
        branch: ``mouth``, ``face`` or ``head`` (both, composed).
        iterations: steps in this stage.
    """

    stage: str
    branch: str
    iterations: int

    @property
    def label(self) -> str:
        """``stage/branch`` for logs and progress bars."""
        return f"{self.stage}/{self.branch}"


def stage_plan(config: TrainConfig) -> list[StagePlan]:
    """The schedule: static and deform per branch (mouth, then face), then the joint fine-tune."""
    s = config.stages
    plan = []
    for branch in BRANCHES:
        plan.append(StagePlan("static", branch, s.static_iterations))
        plan.append(StagePlan("deform", branch, s.deform_iterations))
    plan.append(StagePlan("finetune", "head", s.finetune_iterations))
    return plan


@dataclass
class FrameSampler:
    """Random frame order without replacement per epoch, from its own seeded generator."""

    num_frames: int
    seed: int
    generator: torch.Generator = field(init=False)
    order: Tensor = field(init=False)
    position: int = 0

    def __post_init__(self) -> None:
        self.generator = torch.Generator().manual_seed(self.seed)
        self.order = torch.randperm(self.num_frames, generator=self.generator)

    def next(self) -> int:
        """The next frame index."""
        if self.position >= self.num_frames:
            self.order = torch.randperm(self.num_frames, generator=self.generator)
            self.position = 0
        index = int(self.order[self.position])
        self.position += 1
        return index

    def state_dict(self) -> dict[str, Any]:
        """Plain-data state for checkpoints."""
        return {"generator": self.generator.get_state(), "order": self.order.clone(), "position": self.position}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore `state_dict` output."""
        self.generator.set_state(state["generator"])
        self.order = state["order"].clone()
        self.position = int(state["position"])

    def peek(self, count: int) -> list[int]:
        """The next `count` indices `next` will return, without advancing (for frame prefetching)."""
        order, position, generator = self.order, self.position, None
        out: list[int] = []
        while len(out) < count:
            if position >= self.num_frames:
                if generator is None:  # a copy: the sampler's own generator must not move
                    generator = torch.Generator().manual_seed(0)
                    generator.set_state(self.generator.get_state())
                order = torch.randperm(self.num_frames, generator=generator)
                position = 0
            out.append(int(order[position]))
            position += 1
        return out


__all__ = ["BRANCHES", "GAUSSIAN_KEYS", "STAGE_KEYS", "FrameSampler", "StagePlan", "stage_plan"]
