"""`FusionModule.forward` is a template method: inputs are checked before any `predict` runs."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from pgs.core.interfaces import Deformation, FusionConfig, FusionModule


class Recording(FusionModule):
    """Records each `predict` call; forgets nothing a subclass could forget."""

    def __init__(self, config: FusionConfig) -> None:
        super().__init__()
        self.config = config
        self.proj = nn.Linear(config.spatial_dim, 3)
        self.calls: list[dict] = []

    def predict(self, spatial: Tensor, audio: Tensor, expression: Tensor | None = None, **context) -> Deformation:
        self.calls.append(context)
        return Deformation(d_xyz=self.proj(spatial))


@pytest.mark.parametrize(
    ("spatial", "audio", "expression", "message"),
    [
        (torch.zeros(5, 7), torch.zeros(4), None, "spatial must be"),
        (torch.zeros(5, 8), torch.zeros(3), None, "audio must be"),
        (torch.zeros(5, 8), torch.zeros(4), torch.zeros(2), "expression must be None"),
        (torch.zeros(5, 8, dtype=torch.float64), torch.zeros(4, dtype=torch.float64), None, "module computes in"),
    ],
)
def test_bad_inputs_never_reach_predict(spatial, audio, expression, message) -> None:
    module = Recording(FusionConfig(spatial_dim=8, audio_dim=4))
    with pytest.raises((ValueError, TypeError), match=message):
        module(spatial, audio, expression)
    assert module.calls == []


def test_good_inputs_and_context_reach_predict() -> None:
    module = Recording(FusionConfig(spatial_dim=8, audio_dim=4))
    camera = torch.eye(4)
    out = module(torch.randn(5, 8), torch.randn(4), camera=camera)
    assert out.d_xyz.shape == (5, 3)
    assert len(module.calls) == 1 and module.calls[0]["camera"] is camera
