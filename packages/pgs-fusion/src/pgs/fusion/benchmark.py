"""Cost of fusion modules: parameters, multiply-adds per point, forward+backward time.

Used by ``benchmarks/bench_fusion.py`` (pytest-benchmark) and ``benchmarks/fusion_report.py``
(the comparison table). Times are relative figures: modules are timed round-robin in one run, so
load on the machine affects them alike, and each is also reported as a ratio to ``concat-mlp``.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

from pgs.core.interfaces import Deformation, FusionModule
from pgs.core.registry import registry

#: The two branch settings the model uses (see the package README).
BRANCHES: dict[str, dict[str, Any]] = {
    "face": {"spatial_dim": 36, "audio_dim": 32, "expression_dim": 6, "outputs": ["position", "scale", "rotation"]},
    "mouth": {
        "spatial_dim": 36,
        "audio_dim": 32,
        "expression_dim": 0,
        "outputs": ["position"],
        "position_axis_scale": [0.2, 1.0, 0.2],
    },
}
#: The reference module ratios are taken against (the paper's "w/o MGF").
REFERENCE = "concat-mlp"


def parse_variant(variant: str) -> tuple[str, dict[str, Any]]:
    """``"mgf:proj_dim=32,hidden_dim=48"`` -> (``"mgf"``, ``{"proj_dim": 32, "hidden_dim": 48}``).

    Values are parsed as JSON where possible (numbers, booleans), else kept as strings.
    """
    name, _, rest = variant.partition(":")
    overrides: dict[str, Any] = {}
    for item in filter(None, rest.split(",")):
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"{variant!r}: expected key=value, got {item!r}")
        try:
            overrides[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key.strip()] = value
    return name, overrides


def build(variant: str, branch: str, seed: int = 0) -> FusionModule:
    """Create a fusion module (registry name, optionally ``name:key=value,...``) for `branch`, seeded."""
    name, overrides = parse_variant(variant)
    torch.manual_seed(seed)
    return registry("pgs.fusion").create(name, {**BRANCHES[branch], **overrides})


def make_inputs(
    branch: str, n: int, requires_grad: bool = False, seed: int = 0
) -> tuple[Tensor, Tensor, Tensor | None]:
    """Standard-normal inputs: spatial [n, Ds], per-frame audio [Da], expression [De] or None."""
    cfg = BRANCHES[branch]
    gen = torch.Generator().manual_seed(seed)
    spatial = torch.randn(n, cfg["spatial_dim"], generator=gen).requires_grad_(requires_grad)
    audio = torch.randn(cfg["audio_dim"], generator=gen).requires_grad_(requires_grad)
    expression = None
    if cfg["expression_dim"]:
        expression = torch.randn(cfg["expression_dim"], generator=gen).requires_grad_(requires_grad)
    return spatial, audio, expression


def parameter_count(module: nn.Module) -> int:
    """Trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def _forward_flops(module: FusionModule, branch: str, n: int) -> int:
    spatial, audio, expression = make_inputs(branch, n)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        module(spatial, audio, expression)
    return int(counter.get_total_flops())


def forward_macs(module: FusionModule, branch: str, n1: int = 1024, n2: int = 2048) -> tuple[float, float]:
    """Multiply-adds of one forward pass with per-frame audio, split into per point and per frame.

    Counted by `torch.utils.flop_counter` (matrix products only; element-wise ops, norms and
    softmax are not counted). The per-point figure is the slope between N = n1 and N = n2, the
    per-frame figure the remainder (work done once per frame, such as projecting the audio).

    Returns:
        (MACs per point, MACs per frame).
    """
    f1, f2 = _forward_flops(module, branch, n1), _forward_flops(module, branch, n2)
    per_point = (f2 - f1) / (n2 - n1) / 2
    return per_point, f1 / 2 - per_point * n1


def _loss(out: Deformation) -> Tensor:
    total = out.d_xyz.sum()
    for extra in (out.d_scale, out.d_rot):
        if extra is not None:
            total = total + extra.sum()
    return total


def forward_backward(module: FusionModule, inputs: tuple[Tensor, Tensor, Tensor | None]) -> None:
    """One training-style step: forward, sum of outputs, backward to parameters and inputs."""
    for p in module.parameters():
        p.grad = None
    for x in inputs:
        if x is not None:
            x.grad = None
    _loss(module(*inputs)).backward()


@dataclass
class Row:
    """Measurements of one module in one branch setting.

    Attributes:
        name: registry name.
        branch: ``"face"`` or ``"mouth"``.
        params: trainable parameters.
        macs_per_point: forward multiply-adds per point (matrix products).
        macs_per_frame: forward multiply-adds done once per frame.
        times_ms: N -> median forward+backward time in milliseconds.
        ratios: N -> time relative to `REFERENCE` in the same run (filled by `measure`).
    """

    name: str
    branch: str
    params: int
    macs_per_point: float
    macs_per_frame: float
    times_ms: dict[int, float] = field(default_factory=dict)
    ratios: dict[int, float] = field(default_factory=dict)


def measure(
    names: list[str], branches: list[str], sizes: list[int], repeats: int = 7, warmup: int = 2
) -> list[Row]:
    """Measure every module, timing them round-robin so that load drifts affect all alike.

    Args:
        names: fusion registry names, or variants ``name:key=value,...`` (ratios need `REFERENCE`).
        branches: branch settings (keys of `BRANCHES`).
        sizes: point counts N.
        repeats: timed forward+backward passes per module and size (the median is kept).
        warmup: untimed passes first.
    """
    rows: list[Row] = []
    for branch in branches:
        modules = {name: build(name, branch) for name in names}
        branch_rows = {}
        for name, module in modules.items():
            per_point, per_frame = forward_macs(module, branch)
            branch_rows[name] = Row(name, branch, parameter_count(module), per_point, per_frame)
        for n in sizes:
            inputs = make_inputs(branch, n, requires_grad=True)
            samples: dict[str, list[float]] = {name: [] for name in names}
            for _ in range(warmup):
                for module in modules.values():
                    forward_backward(module, inputs)
            for _ in range(repeats):
                for name, module in modules.items():
                    start = time.perf_counter()
                    forward_backward(module, inputs)
                    samples[name].append(time.perf_counter() - start)
            for name in names:
                branch_rows[name].times_ms[n] = 1e3 * statistics.median(samples[name])
        if REFERENCE in branch_rows:
            reference = branch_rows[REFERENCE]
            for row in branch_rows.values():
                row.ratios = {n: row.times_ms[n] / reference.times_ms[n] for n in sizes}
        rows += branch_rows.values()
    return rows


def format_table(rows: list[Row]) -> str:
    """Markdown table: module, branch, params, MACs/point, time per N, ratio to `REFERENCE` per N."""
    sizes = sorted({n for row in rows for n in row.times_ms})
    label = {n: f"{n // 1000}k" if n % 1000 == 0 else str(n) for n in sizes}
    head = ["module", "branch", "params", "MACs/point"]
    head += [f"fwd+bwd ms N={label[n]}" for n in sizes]
    head += [f"x {REFERENCE} N={label[n]}" for n in sizes]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = [row.name, row.branch, f"{row.params:,}", f"{row.macs_per_point:,.0f}"]
        cells += [f"{row.times_ms[n]:.1f}" for n in sizes]
        cells += [f"{row.ratios[n]:.2f}" if n in row.ratios else "-" for n in sizes]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


__all__ = [
    "BRANCHES",
    "REFERENCE",
    "Row",
    "build",
    "format_table",
    "forward_backward",
    "forward_macs",
    "make_inputs",
    "measure",
    "parameter_count",
    "parse_variant",
]
