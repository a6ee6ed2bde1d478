"""Test-local fusion module (non-zero output from the start) and rasterizer for the model tests."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from pgs.core.groups import FUSION
from pgs.core.interfaces import Deformation, FusionConfig, FusionModule
from pgs.core.registry import ComponentSpec, registry

TEST_FUSION = "test-linear"


class LinearFusion(FusionModule):
    """d = W [f_s; f_a; f_e] with a random (not small) W: every input visibly moves the output."""

    def __init__(self, config: FusionConfig) -> None:
        super().__init__()
        self.config = config
        width = config.spatial_dim + config.audio_dim + config.expression_dim
        out = {"position": 3, "scale": 3, "rotation": 4}
        self.linear = nn.Linear(width, sum(out[t] for t in config.outputs))
        with torch.no_grad():
            self.linear.weight.normal_(0.0, 1.0)

    def predict(self, spatial: Tensor, audio: Tensor, expression: Tensor | None = None) -> Deformation:
        n = spatial.shape[0]
        parts = [spatial, audio.expand(n, -1)]
        if expression is not None:
            parts.append(expression.expand(n, -1))
        h = self.linear(torch.cat(parts, -1))
        scale = torch.tensor(self.config.position_axis_scale, dtype=h.dtype) * self.config.position_scale
        out, i = {}, 0
        for target in self.config.outputs:
            k = 3 if target != "rotation" else 4
            out[target] = h[:, i : i + k]
            i += k
        return Deformation(out["position"] * scale, out.get("scale"), out.get("rotation"))


@pytest.fixture(scope="module", autouse=True)
def test_fusion():
    """The test fusion, registered in-process for each model test module only (no leak to other tests)."""
    spec = ComponentSpec(TEST_FUSION, FUSION, FusionConfig, LinearFusion, "test: random linear map")
    registry(FUSION).register(spec, replace=True)
    yield spec
    registry(FUSION).unregister(TEST_FUSION)


@pytest.fixture(scope="session")
def rasterizer():
    from pgs.core.model import build_rasterizer

    return build_rasterizer("torch")
