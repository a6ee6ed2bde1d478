"""Row operations on per-Gaussian parameters that keep their optimizers row-aligned.

Every function takes ``params`` (name -> `nn.Parameter` with N rows: ``means [N,3]``,
``quats [N,4]``, ``log_scales [N,3]``, ``opacity_logits [N]``, ``sh [N,K,3]`` and any extra
per-Gaussian tensors) and ``optimizers`` (name -> optimizer holding exactly that one parameter
in one param group, the gsplat convention). A parameter without an optimizer (for example a
frozen ``requires_grad=False`` feature) is carried along row-aligned as well.

The operations replace each parameter by a new `nn.Parameter` (same ``requires_grad``) in
``params`` *and* in its optimizer's param group, and move the optimizer state to the new
tensor: state tensors with N rows (Adam's ``exp_avg``, ``exp_avg_sq``) are gathered with the
same rows as the parameter, new rows are zero; scalar state (Adam's ``step``) is kept. A
gradient already computed for the old parameter is carried the same way (new rows zero), so
the optimizer step that follows still updates the surviving Gaussians.
"""

from __future__ import annotations

import math
from collections.abc import Callable, MutableMapping
from typing import Any

import torch
from torch import Tensor, nn

from pgs.core.rendering.projection import quat_to_rotmat

#: Keys every operation here needs (the geometry of the Gaussians).
REQUIRED_KEYS: tuple[str, ...] = ("means", "quats", "log_scales", "opacity_logits")

#: ``(name, tensor) -> tensor``: builds the new rows of one parameter (or its grad / state).
RowFn = Callable[[str, Tensor], Tensor]


def num_gaussians(params: MutableMapping[str, Tensor]) -> int:
    """Common row count N of `params`.

    Raises:
        ValueError: `params` is empty, lacks a required key, or its tensors disagree on N.
    """
    if not params:
        raise ValueError("params: empty; expected per-Gaussian tensors such as 'means'")
    missing = [k for k in REQUIRED_KEYS if k not in params]
    if missing:
        raise ValueError(f"params: missing required keys {missing} (have {sorted(params)})")
    n = int(params["means"].shape[0]) if params["means"].dim() >= 1 else -1
    for name, value in params.items():
        if not isinstance(value, Tensor):
            raise TypeError(f"params[{name!r}]: expected a tensor, got {type(value).__name__}")
        if value.dim() == 0 or int(value.shape[0]) != n:
            raise ValueError(
                f"params[{name!r}]: has shape {list(value.shape)}, but every per-Gaussian tensor must have "
                f"N = {n} rows (the rows of params['means'])"
            )
    return n


def check_optimizers(
    params: MutableMapping[str, Tensor], optimizers: MutableMapping[str, torch.optim.Optimizer]
) -> None:
    """Check the gsplat convention: each optimizer holds exactly its own parameter.

    Raises:
        ValueError: an optimizer key is not a parameter, or its param groups are not
            exactly one group holding exactly ``params[key]``.
    """
    for name, opt in optimizers.items():
        if name not in params:
            raise ValueError(f"optimizers[{name!r}]: no parameter of that name (params: {sorted(params)})")
        groups = opt.param_groups
        if len(groups) != 1 or len(groups[0]["params"]) != 1:
            sizes = [len(g["params"]) for g in groups]
            raise ValueError(
                f"optimizers[{name!r}]: must have exactly one param group holding one parameter, "
                f"got {len(groups)} group(s) with {sizes} parameter(s)"
            )
        if groups[0]["params"][0] is not params[name]:
            raise ValueError(
                f"optimizers[{name!r}]: its parameter is not params[{name!r}] "
                "(was the parameter replaced without updating the optimizer?)"
            )


def check_mask(mask: Tensor, n: int, device: torch.device, what: str = "mask") -> None:
    """Raise `ValueError`/`TypeError` unless `mask` is a bool [N] tensor on `device`."""
    if not isinstance(mask, Tensor) or mask.dtype != torch.bool:
        raise TypeError(f"{what}: expected a bool tensor, got {getattr(mask, 'dtype', type(mask).__name__)}")
    if tuple(mask.shape) != (n,):
        raise ValueError(f"{what}: expected shape [{n}], got {list(mask.shape)}")
    if mask.device != device:
        raise ValueError(f"{what}: on {mask.device}, but the parameters are on {device}")


def update_rows(
    params: MutableMapping[str, Tensor],
    optimizers: MutableMapping[str, torch.optim.Optimizer],
    param_fn: RowFn,
    state_fn: Callable[[Tensor], Tensor],
    names: tuple[str, ...] | None = None,
) -> None:
    """Replace parameters by ``param_fn`` and remap their optimizer state and gradients.

    Args:
        params: name -> [N, ...] parameters; replaced in place (the dict is mutated).
        optimizers: name -> optimizer of that parameter; their param groups and state are updated.
        param_fn: ``(name, old_data) -> new_data`` with M rows.
        state_fn: maps one [N, ...] state or gradient tensor to its [M, ...] counterpart (new rows zero).
        names: the parameters to replace (default: all).
    """
    n = num_gaussians(params)
    check_optimizers(params, optimizers)
    for name in names if names is not None else tuple(params):
        old = params[name]
        new = nn.Parameter(param_fn(name, old.detach()), requires_grad=old.requires_grad)
        if old.grad is not None and new.requires_grad:
            new.grad = state_fn(old.grad)
        params[name] = new
        opt = optimizers.get(name)
        if opt is None:
            continue
        state = opt.state.pop(old, None)
        opt.param_groups[0]["params"] = [new]
        if state is not None:
            opt.state[new] = {
                key: state_fn(value) if _is_row_tensor(value, n) else value for key, value in state.items()
            }


def _is_row_tensor(value: Any, n: int) -> bool:
    return isinstance(value, Tensor) and value.dim() >= 1 and int(value.shape[0]) == n


def _zeros_rows(value: Tensor, rows: int) -> Tensor:
    return value.new_zeros((rows, *value.shape[1:]))


def _count_selected(
    params: MutableMapping[str, Tensor], optimizers: MutableMapping[str, torch.optim.Optimizer], mask: Tensor, what: str
) -> int:
    """Check the [N] bool `mask` and the optimizers of an operation; how many Gaussians it selects."""
    check_mask(mask, num_gaussians(params), params["means"].device, f"{what} mask")
    check_optimizers(params, optimizers)
    return int(mask.sum())


def clone(
    params: MutableMapping[str, Tensor], optimizers: MutableMapping[str, torch.optim.Optimizer], mask: Tensor
) -> int:
    """Clone the selected Gaussians: exact copies appended after the N existing rows (3DGS).

    Args:
        params: name -> [N, ...] per-Gaussian parameters; entries are replaced (the dict is mutated).
        optimizers: name -> optimizer of that parameter; param groups and state follow the rows.
        mask: [N] bool, the Gaussians to clone.

    Returns:
        Number of Gaussians added.
    """
    k = _count_selected(params, optimizers, mask, "clone")
    if k:
        update_rows(
            params, optimizers, lambda _name, p: torch.cat([p, p[mask]]), lambda s: torch.cat([s, _zeros_rows(s, k)])
        )
    return k


def split(
    params: MutableMapping[str, Tensor],
    optimizers: MutableMapping[str, torch.optim.Optimizer],
    mask: Tensor,
    n_split: int = 2,
    generator: torch.Generator | None = None,
) -> int:
    """Split the selected Gaussians into `n_split` smaller children each (3DGS).

    Each child's centre is sampled from the parent Gaussian, ``mean + R diag(s) z`` with
    ``z ~ N(0, I)``; its scales are the parent's divided by ``0.8 * n_split``; every other
    tensor is copied. The parents are removed; the surviving rows keep their order and the
    children are appended (child j of every parent, for j = 0 .. n_split-1).

    Args:
        params: name -> [N, ...] per-Gaussian parameters; entries are replaced (the dict is mutated).
        optimizers: name -> optimizer of that parameter; param groups and state follow the rows.
        mask: [N] bool, the Gaussians to split.
        n_split: children per split Gaussian (>= 2).
        generator: random generator for the child centres (on the parameters' device).

    Returns:
        Number of Gaussians split (the count grows by ``(n_split - 1)`` times this).
    """
    if n_split < 2:
        raise ValueError(f"n_split: must be >= 2, got {n_split}")
    k = _count_selected(params, optimizers, mask, "split")
    if k == 0:
        return 0
    device = params["means"].device
    keep = ~mask
    with torch.no_grad():
        scales = torch.exp(params["log_scales"][mask].detach())  # [k, 3]
        rot = quat_to_rotmat(params["quats"][mask].detach())  # [k, 3, 3]
        z = torch.randn((n_split, k, 3), device=device, dtype=scales.dtype, generator=generator)
        offsets = torch.einsum("kij,skj->ski", rot, scales[None] * z).reshape(n_split * k, 3)
    shrink = math.log(0.8 * n_split)

    def children(name: str, p: Tensor) -> Tensor:
        rep = p[mask].repeat(n_split, *([1] * (p.dim() - 1)))
        if name == "means":
            rep = rep + offsets.to(rep.dtype)
        elif name == "log_scales":
            rep = rep - shrink  # s / (0.8 * n_split)
        return torch.cat([p[keep], rep])

    update_rows(params, optimizers, children, lambda s: torch.cat([s[keep], _zeros_rows(s, n_split * k)]))
    return k


def prune(
    params: MutableMapping[str, Tensor], optimizers: MutableMapping[str, torch.optim.Optimizer], mask: Tensor
) -> int:
    """Remove the Gaussians selected by `mask` [N] (the others keep their order); arguments as `clone`.

    Returns:
        Number of Gaussians removed.
    """
    k = _count_selected(params, optimizers, mask, "prune")
    if k:
        keep = ~mask
        update_rows(params, optimizers, lambda _name, p: p[keep], lambda s: s[keep])
    return k


def logit(p: float) -> float:
    """Inverse sigmoid of a probability in (0, 1)."""
    return math.log(p / (1.0 - p))


def reset_opacity(
    params: MutableMapping[str, Tensor], optimizers: MutableMapping[str, torch.optim.Optimizer], value: float = 0.01
) -> None:
    """Clamp every opacity to at most `value` (3DGS opacity reset) and zero its optimizer state.

    Args:
        params: name -> [N, ...] per-Gaussian parameters; entries are replaced (the dict is mutated).
        optimizers: name -> optimizer of that parameter; param groups and state follow the rows.
        value: the opacity ceiling in (0, 1) (3DGS: 0.01).
    """
    if not 0.0 < value < 1.0:
        raise ValueError(f"opacity reset value: must be in (0, 1), got {value}")
    num_gaussians(params)
    ceiling = logit(value)
    update_rows(
        params,
        optimizers,
        lambda _name, p: p.clamp(max=ceiling),
        torch.zeros_like,
        names=("opacity_logits",),
    )


def limit_growth(
    score: Tensor, clone_mask: Tensor, split_mask: Tensor, n_split: int, budget: int | None
) -> tuple[Tensor, Tensor]:
    """Keep only the highest-scoring growth candidates that fit in `budget` new Gaussians.

    A clone adds one Gaussian, a split adds ``n_split - 1``. Candidates are taken in order of
    decreasing `score` while the running total of added Gaussians stays within `budget`.

    Args:
        score: [N] priority of each Gaussian (its densification statistic).
        clone_mask: [N] bool clone candidates.
        split_mask: [N] bool split candidates (disjoint from `clone_mask`).
        n_split: children per split.
        budget: how many Gaussians may be added (None: no limit; negative counts as 0).

    Returns:
        The reduced ``(clone_mask, split_mask)``.
    """
    if budget is None:
        return clone_mask, split_mask
    cost = clone_mask.to(torch.int64) + split_mask.to(torch.int64) * (n_split - 1)
    if int(cost.sum()) <= budget:
        return clone_mask, split_mask
    candidates = torch.nonzero(cost > 0).squeeze(1)
    order = candidates[torch.argsort(score[candidates], descending=True, stable=True)]
    fits = torch.cumsum(cost[order], 0) <= max(budget, 0)
    chosen = torch.zeros_like(clone_mask)
    chosen[order[fits]] = True
    return clone_mask & chosen, split_mask & chosen


__all__ = [
    "REQUIRED_KEYS",
    "check_mask",
    "check_optimizers",
    "clone",
    "limit_growth",
    "logit",
    "num_gaussians",
    "prune",
    "quat_to_rotmat",
    "reset_opacity",
    "split",
    "update_rows",
]
