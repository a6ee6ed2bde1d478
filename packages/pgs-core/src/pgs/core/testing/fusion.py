"""Contract check for fusion modules (group ``pgs.fusion``): a plugin's whole test is one call.

Example (a third-party plugin's ``tests/test_contract.py``)::

    from pgs.core.testing import check_fusion
    from my_fusion import SPEC

    def test_contract():
        check_fusion(SPEC)

`check_fusion` builds the module for the face setting (spatial 36, audio 32, expression 6;
position, scale, rotation), the mouth setting (no expression; position only; x and z scaled by
0.2) and an odd setting (small unusual widths, position and rotation) that catches hard-coded
sizes, and checks in each:

1. output types, shapes and dtype for N points, one point and no points (float32, and float64
   after ``module.double()``); the fields not asked for are None; every value is finite;
2. determinism: two modules built under the same seed give bit-identical outputs;
3. permutation equivariance over points, with per-frame [Da] and per-point [N, Da] audio;
4. [Da] audio and [N, Da] audio with equal rows give the same result (float32 rounding aside);
5. gradients reach the spatial, audio and expression inputs and every trainable parameter;
6. initial deformations are small for standard-normal inputs: max |d_xyz| <= 1e-3
   (`INITIAL_POSITION_BOUND`, world units) and max |d_scale|, |d_rot| <= 0.05
   (`INITIAL_OFFSET_BOUND`);
7. ``position_scale`` and ``position_axis_scale`` scale d_xyz as configured;
8. bad inputs (wrong shapes, a missing or unexpected expression, mixed dtypes, integer tensors)
   raise one `ValueError` or `TypeError` naming the argument, not an error from inside torch.

Checks run in ``eval()`` mode except determinism, which runs in training mode under a fixed seed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from pydantic import BaseModel, ValidationError
from torch import Tensor

from pgs.core.groups import FUSION
from pgs.core.interfaces import Deformation, FusionModule
from pgs.core.registry import ComponentSpec
from pgs.core.testing.spec import ContractError, check_component_spec

#: Bound on max |d_xyz| of a freshly built module for standard-normal inputs (world units; the
#: TalkingGaussian head spans about 0.2 units, so this is 0.5 % of it).
INITIAL_POSITION_BOUND = 1e-3
#: Bound on max |d_scale| (log-scale) and max |d_rot| (raw quaternion) of a freshly built module.
INITIAL_OFFSET_BOUND = 0.05

#: The settings every fusion module is checked in: (label, config parameters).
SETTINGS: tuple[tuple[str, dict[str, Any]], ...] = (
    (
        "face",
        {"spatial_dim": 36, "audio_dim": 32, "expression_dim": 6, "outputs": ["position", "scale", "rotation"]},
    ),
    (
        "mouth",
        {
            "spatial_dim": 36,
            "audio_dim": 32,
            "expression_dim": 0,
            "outputs": ["position"],
            "position_axis_scale": [0.2, 1.0, 0.2],
        },
    ),
    (
        "odd",
        {"spatial_dim": 7, "audio_dim": 5, "expression_dim": 3, "hidden_dim": 16, "outputs": ["rotation", "position"]},
    ),
)

_FIELDS = (("d_xyz", "position", 3), ("d_scale", "scale", 3), ("d_rot", "rotation", 4))


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ContractError(message)


def _fields(out: Deformation) -> dict[str, Tensor]:
    return {name: getattr(out, name) for name, _, _ in _FIELDS if getattr(out, name) is not None}


def _close(a: Tensor, b: Tensor, rtol: float = 1e-4) -> bool:
    scale = float(b.abs().max()) if b.numel() else 0.0
    return bool(torch.allclose(a, b, rtol=rtol, atol=rtol * scale + 1e-12))


def _compare(
    where: str, got: Deformation, want: Deformation, exact: bool = False, index: Tensor | None = None
) -> None:
    g, w = _fields(got), _fields(want)
    _require(g.keys() == w.keys(), f"{where}: fields differ: {sorted(g)} vs {sorted(w)}")
    for name in g:
        expected = w[name] if index is None else w[name][index]
        same = torch.equal(g[name], expected) if exact else _close(g[name], expected)
        if not same:
            diff = float((g[name] - expected).abs().max())
            raise ContractError(f"{where}: {name} differs (max abs difference {diff:.3g})")


class _Setting:
    """One config of the module under test, with its inputs."""

    def __init__(self, spec: ComponentSpec[Any, Any], label: str, params: dict[str, Any], seed: int) -> None:
        self.spec, self.label, self.seed = spec, label, seed
        try:
            self.config = spec.config_class.model_validate(params)
        except ValidationError as exc:
            raise ContractError(f"{spec.name} [{label}]: config rejects the standard fields {params}: {exc}") from None
        self.ds, self.da, self.de = (int(params[k]) for k in ("spatial_dim", "audio_dim", "expression_dim"))
        self.outputs = set(params["outputs"])

    def where(self, what: str) -> str:
        return f"{self.spec.name} [{self.label}] {what}"

    def build(self, config: BaseModel | None = None) -> FusionModule:
        torch.manual_seed(self.seed)
        module = self.spec.factory(config if config is not None else self.config)
        _require(isinstance(module, FusionModule), self.where(f"factory built a {type(module).__name__}"))
        return module

    def variant(self, **changes: Any) -> BaseModel:
        return self.spec.config_class.model_validate({**self.config.model_dump(), **changes})

    def inputs(self, n: int, seed: int = 1, dtype: torch.dtype = torch.float32) -> tuple[Tensor, Tensor, Tensor | None]:
        gen = torch.Generator().manual_seed(seed)
        spatial = torch.randn(n, self.ds, generator=gen, dtype=dtype)
        audio = torch.randn(self.da, generator=gen, dtype=dtype)
        expression = torch.randn(self.de, generator=gen, dtype=dtype) if self.de else None
        return spatial, audio, expression


def _check_shapes(s: _Setting, module: FusionModule, n: int, dtype: torch.dtype) -> Deformation:
    spatial, audio, expression = s.inputs(n, dtype=dtype)
    with torch.no_grad():
        out = module(spatial, audio, expression)
    _require(isinstance(out, Deformation), s.where(f"forward returned {type(out).__name__}, not a Deformation"))
    for name, target, width in _FIELDS:
        value = getattr(out, name)
        if target not in s.outputs:
            _require(value is None, s.where(f"{name} must be None when {target!r} is not in outputs"))
            continue
        _require(isinstance(value, Tensor), s.where(f"{name} missing although {target!r} is in outputs"))
        _require(
            tuple(value.shape) == (n, width), s.where(f"{name} has shape {list(value.shape)}, expected [{n}, {width}]")
        )
        _require(value.dtype == dtype, s.where(f"{name} is {value.dtype}, expected {dtype}"))
        _require(bool(torch.isfinite(value).all()), s.where(f"{name} has non-finite values"))
    return out


def _check_gradients(s: _Setting, module: FusionModule, n: int) -> None:
    module.zero_grad(set_to_none=True)
    for per_point in (False, True):
        spatial, audio, expression = s.inputs(n, seed=3)
        if per_point:
            audio = torch.randn(n, s.da, generator=torch.Generator().manual_seed(4))
        leaves = {"spatial": spatial, "audio": audio}
        if expression is not None:
            leaves["expression"] = expression
        for leaf in leaves.values():
            leaf.requires_grad_(True)
        out = module(spatial, audio, expression)
        gen = torch.Generator().manual_seed(5)
        loss = sum((v * torch.randn(v.shape, generator=gen)).sum() for v in _fields(out).values())
        loss.backward()
        kind = "[N, Da]" if per_point else "[Da]"
        for name, leaf in leaves.items():
            grad = leaf.grad
            _require(grad is not None, s.where(f"no gradient reaches {name} (audio {kind})"))
            _require(bool(torch.isfinite(grad).all()), s.where(f"non-finite gradient for {name} (audio {kind})"))
            _require(bool(grad.abs().max() > 0), s.where(f"zero gradient for {name} (audio {kind})"))
    missing = [name for name, p in module.named_parameters() if p.requires_grad and p.grad is None]
    _require(not missing, s.where(f"parameters that receive no gradient: {missing}"))
    bad = [name for name, p in module.named_parameters() if p.grad is not None and not torch.isfinite(p.grad).all()]
    _require(not bad, s.where(f"non-finite parameter gradients: {bad}"))


def _expect_error(s: _Setting, what: str, arg: str, call: Callable[[], Any]) -> None:
    try:
        call()
    except (ValueError, TypeError) as exc:
        _require(arg in str(exc), s.where(f"{what}: the error does not name {arg!r}: {exc}"))
    except Exception as exc:
        raise ContractError(
            s.where(f"{what}: raised {type(exc).__name__} ({exc}); expected a ValueError or TypeError naming {arg!r}")
        ) from None
    else:
        raise ContractError(s.where(f"{what}: no error raised"))


def _check_errors(s: _Setting, module: FusionModule, n: int) -> None:
    spatial, audio, expression = s.inputs(n)
    e = expression
    cases: list[tuple[str, str, Callable[[], Any]]] = [
        ("spatial of shape [Ds]", "spatial", lambda: module(spatial[0], audio, e)),
        ("spatial with Ds+1 channels", "spatial", lambda: module(torch.randn(n, s.ds + 1), audio, e)),
        ("audio with Da+1 channels", "audio", lambda: module(spatial, torch.randn(s.da + 1), e)),
        ("audio of shape [N+1, Da]", "audio", lambda: module(spatial, torch.randn(n + 1, s.da), e)),
        ("audio of shape [1, N, Da]", "audio", lambda: module(spatial, torch.randn(1, n, s.da), e)),
        ("float64 spatial with a float32 module", "spatial", lambda: module(spatial.double(), audio, e)),
        ("integer spatial", "spatial", lambda: module(spatial.long(), audio, e)),
    ]
    if s.de:
        cases += [
            ("expression missing", "expression", lambda: module(spatial, audio, None)),
            ("expression with De+1 channels", "expression", lambda: module(spatial, audio, torch.randn(s.de + 1))),
            ("expression of shape [N, De]", "expression", lambda: module(spatial, audio, torch.randn(n, s.de))),
        ]
    else:
        cases.append(
            ("an expression with expression_dim=0", "expression", lambda: module(spatial, audio, torch.randn(3)))
        )
    with torch.no_grad():
        for what, arg, call in cases:
            _expect_error(s, what, arg, call)


def _check_setting(s: _Setting, n: int) -> None:
    module = s.build()
    module.eval()
    # 1. shapes and dtypes
    out = _check_shapes(s, module, n, torch.float32)
    _check_shapes(s, module, 1, torch.float32)
    _check_shapes(s, module, 0, torch.float32)
    # 6. small initial deformations
    if out.d_xyz.numel():
        peak = float(out.d_xyz.abs().max())
        bound = INITIAL_POSITION_BOUND
        _require(peak <= bound, s.where(f"initial max |d_xyz| = {peak:.3g} > {bound}"))
    for name in ("d_scale", "d_rot"):
        value = getattr(out, name)
        if value is not None:
            peak = float(value.abs().max())
            bound = INITIAL_OFFSET_BOUND
            _require(peak <= bound, s.where(f"initial max |{name}| = {peak:.3g} > {bound}"))
    # 2. determinism (training mode, fixed seed)
    first, second = s.build(), s.build()
    spatial, audio, expression = s.inputs(n)
    with torch.no_grad():
        torch.manual_seed(7)
        a = first(spatial, audio, expression)
        torch.manual_seed(7)
        b = second(spatial, audio, expression)
    _compare(s.where("determinism under a fixed seed"), a, b, exact=True)
    # 3. permutation equivariance, 4. [Da] vs [N, Da]
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(11))
    per_point_audio = torch.randn(n, s.da, generator=torch.Generator().manual_seed(12))
    with torch.no_grad():
        base = module(spatial, audio, expression)
        _compare(s.where("permutation equivariance ([Da] audio)"), module(spatial[perm], audio, expression), base,
                 index=perm)
        base_pp = module(spatial, per_point_audio, expression)
        _compare(
            s.where("permutation equivariance ([N, Da] audio)"),
            module(spatial[perm], per_point_audio[perm], expression),
            base_pp,
            index=perm,
        )
        tiled = audio.expand(n, -1).contiguous()
        _compare(s.where("[N, Da] audio with equal rows vs [Da] audio"), module(spatial, tiled, expression), base)
    # 5. gradients
    _check_gradients(s, module, n)
    # 7. output scaling follows the config
    with torch.no_grad():
        scaled = s.build(s.variant(position_scale=2.0 * s.config.position_scale)).eval()(spatial, audio, expression)
        _require(
            _close(scaled.d_xyz, 2.0 * base.d_xyz),
            s.where("doubling position_scale does not double d_xyz"),
        )
        axis = list(s.config.position_axis_scale)
        masked = s.build(s.variant(position_axis_scale=(0.0, axis[1], 0.0))).eval()(spatial, audio, expression)
        _require(
            bool((masked.d_xyz[:, [0, 2]] == 0).all()) and _close(masked.d_xyz[:, 1], base.d_xyz[:, 1]),
            s.where("position_axis_scale (0, y, 0) must zero d_xyz's x and z and keep y"),
        )
    # float64 after module.double()
    _check_shapes(s, s.build().double().eval(), n, torch.float64)
    # 8. errors
    _check_errors(s, module, n)


def check_fusion(spec: ComponentSpec[Any, Any], points: int = 64, seed: int = 0) -> None:
    """Check a fusion plugin against the ``pgs.fusion`` contract (see the module docstring).

    Args:
        spec: the plugin's `ComponentSpec` (group ``pgs.fusion``).
        points: number of points N in the checks.
        seed: seed under which modules are built.

    Raises:
        ContractError: naming the setting (face, mouth, odd) and the broken rule.
    """
    _require(isinstance(spec, ComponentSpec), f"expected a ComponentSpec, got {type(spec).__name__}")
    _require(spec.group == FUSION, f"{spec.name}: group is {spec.group!r}, expected {FUSION!r}")
    _require(points >= 2, "points must be at least 2")
    check_component_spec(spec)
    state, threads = torch.random.get_rng_state(), torch.get_num_threads()
    # The checks use a few dozen points: extra intra-op threads only add contention.
    torch.set_num_threads(1)
    try:
        for label, params in SETTINGS:
            _check_setting(_Setting(spec, label, params, seed), points)
    finally:
        torch.random.set_rng_state(state)
        torch.set_num_threads(threads)


__all__ = ["INITIAL_OFFSET_BOUND", "INITIAL_POSITION_BOUND", "SETTINGS", "check_fusion"]
