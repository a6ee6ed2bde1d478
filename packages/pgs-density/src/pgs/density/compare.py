"""How often Eq. 1 and Eq. 2 decide differently: a pixel-aware strategy that also keeps Eq. 1.

`DecisionProbe` is `PixelAwareStrategy` (it trains exactly as ``pixel-aware`` does) that also
accumulates the 3DGS statistic of Eq. 1 over the same renders. At every refine step it records,
before the cap, which Gaussians each statistic puts at or above ``grad_threshold``
(`DecisionRecord`), then refines with the pixel-aware decision. Register it in-process
(`register_probe`) and name it in a run config to measure a real training run;
``benchmarks/decision_diff.py`` does that and prints the table of pgs-density's README.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from pgs.core.interfaces import DensityReport
from pgs.core.rendering.result import RenderResult
from pgs.density.config import PixelAwareConfig
from pgs.density.state import DensityState
from pgs.density.statistics import ndc_grad_norms, visible_weights
from pgs.density.strategies import Optimizers, Params, PixelAwareStrategy

#: Registry name of the probe (`register_probe`).
PROBE_NAME = "pixel-aware-probe"


@dataclass(frozen=True)
class DecisionRecord:
    """The two statistics' densification decisions at one refine step (before the cap).

    Attributes:
        step: the strategy's step.
        num: Gaussians before the refine.
        pixel: Gaussians whose Eq. 2 statistic is >= the threshold (pixel-aware densifies them).
        gradient: Gaussians whose Eq. 1 statistic is >= the threshold.
        only_pixel: densified by Eq. 2 only.
        only_gradient: densified by Eq. 1 only.
    """

    step: int
    num: int
    pixel: int
    gradient: int
    only_pixel: int
    only_gradient: int

    @property
    def differ(self) -> int:
        """Gaussians on which the two decisions differ."""
        return self.only_pixel + self.only_gradient


class DecisionProbe(PixelAwareStrategy):
    """``pixel-aware`` that records, at each refine, where Eq. 1 would have decided otherwise.

    Attributes:
        records: one `DecisionRecord` per refine step, in order.
    """

    name = PROBE_NAME

    def __init__(self, config: PixelAwareConfig | None = None) -> None:
        super().__init__(config)
        self.records: list[DecisionRecord] = []
        self._eq1: tuple[Tensor, Tensor] | None = None
        self._step = 0

    def accumulate(self, render: RenderResult, state: DensityState) -> None:
        """Accumulate Eq. 2 (the state) and Eq. 1 (kept beside it) from the same render."""
        super().accumulate(render, state)
        norms = ndc_grad_norms(render, self.config.loss_reduction).double()
        weights = visible_weights(render).double()
        if self._eq1 is None or self._eq1[0].shape[0] != state.num:
            zeros = torch.zeros(state.num, dtype=torch.float64, device=norms.device)
            self._eq1 = (zeros, zeros.clone())
        self._eq1[0].add_((weights * norms).sum(0))
        self._eq1[1].add_(weights.sum(0))

    def step_post_backward(
        self, params: Params, optimizers: Optimizers, state: DensityState, step: int, render: RenderResult
    ) -> DensityReport:
        """As `PixelAwareStrategy`, remembering the step for the record."""
        self._step = step
        return super().step_post_backward(params, optimizers, state, step, render)

    def refine(self, params: Params, optimizers: Optimizers, state: DensityState, step: int) -> DensityReport:
        """Record both decisions, then refine with the pixel-aware one and reset Eq. 1's sums."""
        tau = self.config.grad_threshold
        pixel = state.average() >= tau
        if self._eq1 is not None and self._eq1[0].shape[0] == pixel.shape[0]:
            total, count = self._eq1
            gradient = torch.where(count > 0, total / count.clamp_min(1.0), 0.0) >= tau
        else:
            gradient = torch.zeros_like(pixel)
        self.records.append(
            DecisionRecord(
                step=step,
                num=int(pixel.shape[0]),
                pixel=int(pixel.sum()),
                gradient=int(gradient.sum()),
                only_pixel=int((pixel & ~gradient).sum()),
                only_gradient=int((gradient & ~pixel).sum()),
            )
        )
        self._eq1 = None
        return super().refine(params, optimizers, state, step)


def register_probe() -> None:
    """Register `DecisionProbe` as ``pixel-aware-probe`` in this process (idempotent)."""
    from pgs.core.groups import DENSITY
    from pgs.core.registry import ComponentSpec, registry

    registry(DENSITY).register(
        ComponentSpec(
            name=PROBE_NAME,
            group=DENSITY,
            config_class=PixelAwareConfig,
            factory=DecisionProbe,
            description="pixel-aware density that records where Eq. 1 would decide otherwise (measurement)",
        ),
        replace=True,
    )


__all__ = ["PROBE_NAME", "DecisionProbe", "DecisionRecord", "register_probe"]
