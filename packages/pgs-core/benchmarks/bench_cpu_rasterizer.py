"""pytest-benchmark cases for the `cpu` (numba) rasterizer beside the `torch` backend (`make bench`).

Same scenes as ``bench_rasterizer.py``: head-sized Gaussians at 256x256/10k and 512x512/30k and
gsplat's garden scene (648x420, 3 cameras). Both backends run in the same session, so their
ratio is meaningful on a loaded machine; ``cpu_rasterizer_report.py`` prints the table with
ratios and pairs per second.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

pytest.importorskip("numba")

from pgs.core.gaussians import GaussianParams
from pgs.core.rendering import get_rasterizer
from pgs.core.testing.scenes import garden_scene, head_scene

GARDEN = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "gsplat_test_garden.npz"
BACKENDS = ["cpu", "torch"]
HEAD_CASES = [(10_000, 256), (30_000, 512)]


def _forward(render, g, cams):
    with torch.no_grad():
        return render(g, cams)


def _forward_backward(render, g, cams):
    leaves = GaussianParams(**{k: v.detach().clone().requires_grad_() for k, v in g.as_dict().items()})
    out = render(leaves, cams)
    (out.color.sum() + out.alpha.sum()).backward()
    return out


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("num", "size"), HEAD_CASES)
def test_head_forward(benchmark, backend, num, size):
    """Forward render (no gradients) of a head scene."""
    g, cams = head_scene(num, size, size)
    render = get_rasterizer(backend).render
    _forward(render, g, cams)  # warm-up: numba cache load
    out = benchmark(_forward, render, g, cams)  # the inference fast path: no pixel counts
    with torch.no_grad():
        pairs = int(render(g, cams, with_pixel_counts=True).pixel_counts.sum())
    benchmark.extra_info["pairs"] = pairs
    assert pairs > 0 and float(out.alpha.max()) > 0


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("num", "size"), HEAD_CASES)
def test_head_forward_backward(benchmark, backend, num, size):
    """Forward render and backward of a linear loss, head scene."""
    g, cams = head_scene(num, size, size)
    render = get_rasterizer(backend).render
    _forward(render, g, cams)
    out = benchmark(_forward_backward, render, g, cams)
    assert out.means2d.grad is not None


@pytest.mark.skipif(not GARDEN.is_file(), reason=f"{GARDEN} not found (shared test data)")
@pytest.mark.parametrize("backend", BACKENDS)
def test_garden_forward_backward(benchmark, backend):
    """Forward and backward on gsplat's garden scene (3 cameras)."""
    g, cams = garden_scene(GARDEN)
    render = get_rasterizer(backend).render
    out = benchmark.pedantic(_forward_backward, args=(render, g, cams), rounds=2, iterations=1, warmup_rounds=1)
    assert out.color.shape == (3, 420, 648, 3)
