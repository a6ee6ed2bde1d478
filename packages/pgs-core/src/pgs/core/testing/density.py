"""Contract check for density strategies (group ``pgs.density``).

A third-party strategy's whole test can be::

    from pgs.core.testing import check_density
    from my_plugin import SPEC

    def test_contract():
        check_density(SPEC)

The check drives the strategy through its lifecycle on synthetic Gaussians and renders (no
rasterizer needed) and verifies what a trainer relies on, whatever the strategy decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from pydantic import BaseModel
from torch import nn

from pgs.core.gaussians import PARAM_NAMES
from pgs.core.interfaces import DensityReport, DensityStrategy
from pgs.core.registry import ComponentSpec
from pgs.core.rendering.result import RenderResult
from pgs.core.testing.spec import ContractError, _require, check_component_spec


def _synthetic_params(n: int, generator: torch.Generator) -> dict[str, nn.Parameter]:
    g = generator
    params = {
        "means": torch.randn(n, 3, generator=g) * 0.5,
        "quats": torch.randn(n, 4, generator=g),
        "log_scales": torch.log(torch.rand(n, 3, generator=g) * 0.05 + 0.001),
        "opacity_logits": torch.randn(n, generator=g),
        "sh": torch.randn(n, 4, 3, generator=g) * 0.3,
        "extra_feature": torch.randn(n, 2, generator=g),  # carried along, no optimizer
    }
    return {
        k: nn.Parameter(v, requires_grad=k != "extra_feature") for k, v in params.items()
    }


def _synthetic_render(params: dict[str, nn.Parameter], cameras: int, generator: torch.Generator) -> RenderResult:
    """A fake render whose ``means2d`` depends on the parameters (so it is not a leaf)."""
    n = params["means"].shape[0]
    g = generator
    width, height = 64, 48
    offsets = torch.rand(cameras, 1, 2, generator=g) * 20.0
    means2d = params["means"][None, :, :2] * 30.0 + offsets + 24.0
    radii = torch.randint(0, 12, (cameras, n), generator=g, dtype=torch.int32)
    depths = torch.rand(cameras, n, generator=g) * 3.0 + 0.1
    counts = torch.where(radii > 0, torch.randint(0, 200, (cameras, n), generator=g, dtype=torch.int32), 0)
    color = torch.sigmoid(params["sh"][:, 0, :]).mean(0).expand(cameras, height, width, 3)
    alpha = torch.sigmoid(params["opacity_logits"]).mean().expand(cameras, height, width, 1)
    return RenderResult(
        color=color, alpha=alpha, depth=None, means2d=means2d, radii=radii, depths=depths,
        pixel_counts=counts, width=width, height=height,
    )


def _check_aligned(params: dict[str, nn.Parameter], optimizers: dict[str, torch.optim.Optimizer], where: str) -> int:
    n = int(params["means"].shape[0])
    for name, value in params.items():
        _require(isinstance(value, nn.Parameter), f"{where}: params[{name!r}] is no longer an nn.Parameter")
        _require(int(value.shape[0]) == n, f"{where}: params[{name!r}] has {value.shape[0]} rows, means has {n}")
        _require(bool(torch.isfinite(value).all()), f"{where}: params[{name!r}] holds NaN or inf")
        _require(value.requires_grad == (name != "extra_feature"), f"{where}: params[{name!r}] changed requires_grad")
    for name, opt in optimizers.items():
        group_params = opt.param_groups[0]["params"]
        _require(
            len(opt.param_groups) == 1 and len(group_params) == 1 and group_params[0] is params[name],
            f"{where}: optimizers[{name!r}] does not hold params[{name!r}] (param not replaced in the optimizer)",
        )
        for key, value in opt.state.get(params[name], {}).items():
            if isinstance(value, torch.Tensor) and value.dim() >= 1:
                _require(
                    tuple(value.shape) == tuple(params[name].shape),
                    f"{where}: optimizers[{name!r}] state {key!r} has shape {list(value.shape)}, "
                    f"parameter {list(params[name].shape)}",
                )
                _require(bool(torch.isfinite(value).all()), f"{where}: optimizers[{name!r}] state {key!r} not finite")
    return n


def check_density(
    spec: ComponentSpec[Any, Any],
    config: BaseModel | None = None,
    steps: Sequence[int] = (0, 1, 2, 3),
    num_gaussians: int = 24,
    cameras: int = 2,
    seed: int = 0,
) -> DensityStrategy[Any]:
    """Check a density strategy's contract.

    Runs ``initial_state`` then, for each step, a synthetic render, ``step_pre_backward``,
    ``loss.backward()``, ``step_post_backward`` and one Adam step, and checks that: the report
    is a `DensityReport` whose ``total`` is the new row count; every parameter (including an
    extra per-Gaussian tensor without optimizer, ``requires_grad=False``) keeps N rows equal
    to ``means`` and its ``requires_grad``; each optimizer still holds exactly ``params[name]``
    with state rows equal to the parameter rows; nothing becomes NaN/inf.

    Args:
        spec: the strategy's `ComponentSpec`.
        config: config to build with (default: the config class's defaults). Pass one that
            refines at some of `steps` to exercise densification and pruning.
        steps: the step numbers to run.
        num_gaussians: initial N.
        cameras: views per synthetic render.
        seed: seed of the synthetic data.

    Returns:
        The built strategy.

    Raises:
        ContractError: naming the broken rule.
    """
    strategy = check_component_spec(spec, config)
    _require(isinstance(strategy, DensityStrategy), f"{spec.name}: not a DensityStrategy")
    generator = torch.Generator().manual_seed(seed)
    params = _synthetic_params(num_gaussians, generator)
    _require(set(PARAM_NAMES) <= set(params), "internal: synthetic params lack a standard key")
    optimizers: dict[str, torch.optim.Optimizer] = {
        k: torch.optim.Adam([v], lr=1e-3) for k, v in params.items() if v.requires_grad
    }
    state = strategy.initial_state(params, 1.0)
    for step in steps:
        where = f"{spec.name} step {step}"
        render = _synthetic_render(params, cameras, generator)
        loss = (render.means2d * torch.randn(render.means2d.shape, generator=generator)).sum() * 1e-3
        loss = loss + render.color.mean() + render.alpha.mean() + params["log_scales"].sum() * 1e-3
        loss = loss + params["quats"].sum() * 1e-3
        try:
            strategy.step_pre_backward(params, optimizers, state, step, render)
            loss.backward()
            report = strategy.step_post_backward(params, optimizers, state, step, render)
        except ContractError:
            raise
        except Exception as exc:
            raise ContractError(f"{where}: raised {type(exc).__name__}: {exc}") from exc
        _require(isinstance(report, DensityReport), f"{where}: step_post_backward returned {type(report).__name__}")
        n = _check_aligned(params, optimizers, where)
        _require(report.total == n, f"{where}: report.total = {report.total}, but there are {n} Gaussians")
        for opt in optimizers.values():
            opt.step()
            opt.zero_grad(set_to_none=True)
        _check_aligned(params, optimizers, f"{where} (after optimizer step)")
    return strategy


__all__ = ["check_density"]
