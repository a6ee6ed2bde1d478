"""pytest-benchmark cases for the `torch` rasterizer (run with `make bench`).

Forward and forward+backward at 256x256 and 512x512 with 10k and 30k head-sized Gaussians, and
gsplat's real garden scene (648x420, 3 cameras). The naive baseline compositor
(`pgs.core.testing.naive_compositor`) is benchmarked on the same 512x512/30k scene so the
ratio is meaningful on a loaded machine.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from pgs.core.gaussians import GaussianParams
from pgs.core.interfaces import RasterizerConfig
from pgs.core.rendering.pipeline import render_pipeline
from pgs.core.rendering.torch_backend import TorchRasterizer
from pgs.core.testing.naive_compositor import naive_composite
from pgs.core.testing.scenes import garden_scene, head_scene

GARDEN = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "gsplat_test_garden.npz"
RAST = TorchRasterizer()


def _leaves(g: GaussianParams) -> GaussianParams:
    return GaussianParams(**{k: v.detach().clone().requires_grad_() for k, v in g.as_dict().items()})


def _forward(g, cams):
    with torch.no_grad():
        return RAST.render(g, cams)


def _forward_backward(g, cams, render=RAST.render):
    leaves = _leaves(g)
    out = render(leaves, cams)
    (out.color.sum() + out.alpha.sum()).backward()
    return out


@pytest.mark.parametrize("num", [10_000, 30_000])
@pytest.mark.parametrize("size", [256, 512])
def test_forward(benchmark, num, size):
    """Forward only, head-sized scene."""
    g, cams = head_scene(num, size, size)
    out = benchmark(_forward, g, cams)
    assert float(out.alpha.max()) > 0  # the inference path: no pixel counts


@pytest.mark.parametrize("num", [10_000, 30_000])
@pytest.mark.parametrize("size", [256, 512])
def test_forward_backward(benchmark, num, size):
    """Forward and backward, head-sized scene."""
    g, cams = head_scene(num, size, size)
    out = benchmark(_forward_backward, g, cams)
    assert out.means2d.grad is not None


def test_forward_backward_naive_baseline_512_30k(benchmark):
    """The naive baseline compositor on the 512x512/30k scene."""
    g, cams = head_scene(30_000, 512, 512)
    config = RasterizerConfig()
    out = benchmark(_forward_backward, g, cams, lambda gg, cc: render_pipeline(naive_composite, config, gg, cc))
    assert out.means2d.grad is not None


@pytest.mark.skipif(not GARDEN.is_file(), reason=f"{GARDEN} not found (shared test data)")
def test_garden_forward_backward(benchmark):
    """Forward and backward on the real garden scene."""
    g, cams = garden_scene(GARDEN)
    out = benchmark.pedantic(_forward_backward, args=(g, cams), rounds=1, iterations=1)
    assert out.color.shape == (3, 420, 648, 3)
