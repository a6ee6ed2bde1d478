"""Factories shared by the pgs-density tests: synthetic Gaussians, optimizers and fake renders."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import nn

from pgs.core.rendering.result import RenderResult


def make_params(n: int, seed: int = 0, extra: bool = True) -> dict[str, nn.Parameter]:
    """N random Gaussians (the five standard keys, plus a frozen extra feature without optimizer)."""
    g = torch.Generator().manual_seed(seed)
    tensors = {
        "means": torch.randn(n, 3, generator=g),
        "quats": torch.randn(n, 4, generator=g),
        "log_scales": torch.randn(n, 3, generator=g) * 0.5 - 3.0,
        "opacity_logits": torch.randn(n, generator=g),
        "sh": torch.randn(n, 4, 3, generator=g),
    }
    params = {k: nn.Parameter(v) for k, v in tensors.items()}
    if extra:
        params["frozen"] = nn.Parameter(torch.randn(n, 2, generator=g), requires_grad=False)
    return params


def make_optimizers(params: dict[str, nn.Parameter], warm: bool = True) -> dict[str, torch.optim.Optimizer]:
    """One Adam per trainable parameter; `warm` runs one step so exp_avg/exp_avg_sq exist and are non-zero."""
    opts = {k: torch.optim.Adam([p], lr=1e-2) for k, p in params.items() if p.requires_grad}
    if warm:
        g = torch.Generator().manual_seed(123)
        for k, opt in opts.items():
            params[k].grad = torch.randn(params[k].shape, generator=g)
            opt.step()
            opt.zero_grad(set_to_none=True)
    return opts


def fake_render(
    grad: torch.Tensor,
    radii: torch.Tensor | None = None,
    depths: torch.Tensor | None = None,
    counts: torch.Tensor | None = None,
    width: int = 64,
    height: int = 48,
) -> RenderResult:
    """A RenderResult whose means2d is a leaf with the given [C, N, 2] pixel-space gradient."""
    c, n, _ = grad.shape
    means2d = torch.zeros(c, n, 2, requires_grad=True)
    means2d.grad = grad.clone().float()
    if radii is None:
        radii = torch.full((c, n), 3, dtype=torch.int32)
    if depths is None:
        depths = torch.full((c, n), 2.0)
    if counts is None:
        counts = torch.where(radii > 0, 10, 0).to(torch.int32)
    return RenderResult(
        color=torch.zeros(c, height, width, 3),
        alpha=torch.zeros(c, height, width, 1),
        depth=None,
        means2d=means2d,
        radii=radii.to(torch.int32),
        depths=depths.float(),
        pixel_counts=counts.to(torch.int32),
        width=width,
        height=height,
    )


@pytest.fixture(scope="session")
def factories() -> dict[str, Callable]:
    """The factories above, for tests (importlib import mode cannot import conftest directly)."""
    return {"params": make_params, "optimizers": make_optimizers, "render": fake_render}


@pytest.fixture(autouse=True)
def _single_thread():
    """Run single-threaded: small tensors, and intra-op threads thrash on a busy shared CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
