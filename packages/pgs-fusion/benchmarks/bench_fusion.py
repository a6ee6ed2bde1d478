"""pytest-benchmark: forward+backward time of every registered fusion module (run with `make bench`).

Each benchmark's ``extra_info`` holds the parameter count and the multiply-adds per point. For the
table with ratios to concat-mlp measured in one run, use ``fusion_report.py`` beside this file.
"""

from __future__ import annotations

import pytest

from pgs.core.registry import registry
from pgs.fusion.benchmark import build, forward_backward, forward_macs, make_inputs, parameter_count

NAMES = registry("pgs.fusion").names()
SIZES = [10_000, 30_000, 100_000]


@pytest.mark.bench
@pytest.mark.parametrize("n", SIZES, ids=lambda n: f"N{n // 1000}k")
@pytest.mark.parametrize("branch", ["face", "mouth"])
@pytest.mark.parametrize("name", NAMES)
def test_fusion_forward_backward(benchmark, name: str, branch: str, n: int) -> None:
    """Forward, sum of outputs, backward to parameters and inputs, per-frame audio."""
    module = build(name, branch)
    inputs = make_inputs(branch, n, requires_grad=True)
    per_point, per_frame = forward_macs(module, branch)
    benchmark.extra_info.update(
        {"params": parameter_count(module), "macs_per_point": per_point, "macs_per_frame": per_frame, "points": n}
    )
    benchmark.group = f"fusion {branch} N={n}"
    benchmark.pedantic(forward_backward, args=(module, inputs), rounds=5, warmup_rounds=1)
    assert all(p.grad is not None for p in module.parameters())
