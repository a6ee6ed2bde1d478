"""Contract check of evaluators (group ``pgs.evaluators``)."""

from __future__ import annotations

import math
from typing import Any

import torch
from pydantic import BaseModel

from pgs.core.interfaces import EvaluationInputs, Evaluator, MetricValue
from pgs.core.registry import ComponentSpec
from pgs.core.testing.spec import ContractError, check_component_spec


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ContractError(message)


def example_inputs(frames: int = 8, size: int = 48, seed: int = 0) -> EvaluationInputs:
    """Small seeded inputs with every field filled: frames, face masks, landmarks and audio.

    Args:
        frames: number of frames F (25 fps, with F / 25 s of 16 kHz audio).
        size: square frame size H = W.
        seed: random seed.
    """
    g = torch.Generator().manual_seed(seed)
    target = torch.rand(frames, size, size, 3, generator=g)
    predicted = (target + 0.1 * torch.randn(frames, size, size, 3, generator=g)).clamp(0, 1)
    masks = torch.zeros(frames, size, size, dtype=torch.bool)
    lo, hi = size // 6, size - size // 6
    masks[:, lo:hi, lo:hi] = True
    target_landmarks = lo + (hi - lo) * torch.rand(frames, 68, 2, generator=g)
    predicted_landmarks = target_landmarks + torch.randn(frames, 68, 2, generator=g)
    samples = int(16000 * frames / 25)
    audio = 0.3 * torch.sin(torch.arange(samples) * (2 * math.pi * 220 / 16000))
    return EvaluationInputs(
        predicted=predicted,
        target=target,
        region_masks=masks,
        predicted_landmarks=predicted_landmarks,
        target_landmarks=target_landmarks,
        audio=audio,
        sample_rate=16000,
        fps=25.0,
    )


def _snapshot(inputs: EvaluationInputs) -> dict[str, torch.Tensor]:
    names = ("predicted", "target", "region_masks", "predicted_landmarks", "target_landmarks", "audio")
    return {n: getattr(inputs, n).clone() for n in names if getattr(inputs, n) is not None}


def _check_values(name: str, values: Any) -> list[MetricValue]:
    _require(isinstance(values, list), f"{name}: evaluate() must return a list, got {type(values).__name__}")
    _require(len(values) > 0, f"{name}: evaluate() returned no metric")
    seen: set[str] = set()
    for v in values:
        _require(isinstance(v, MetricValue), f"{name}: evaluate() returned a {type(v).__name__}, not a MetricValue")
        _require(isinstance(v.name, str) and v.name.strip() != "", f"{name}: a metric has an empty name")
        _require(v.name not in seen, f"{name}: metric {v.name!r} reported twice")
        seen.add(v.name)
        _require(isinstance(v.higher_is_better, bool), f"{name}: {v.name}.higher_is_better must be a bool")
        _require(isinstance(v.protocol, str) and v.protocol.strip() != "", f"{name}: {v.name} states no protocol")
        if v.value is None:
            _require(v.note.strip() != "", f"{name}: {v.name} is None without a note saying why")
        else:
            _require(
                isinstance(v.value, float) and not isinstance(v.value, bool),
                f"{name}: {v.name}.value must be a float or None, got {type(v.value).__name__}",
            )
            _require(not math.isnan(v.value), f"{name}: {v.name} is NaN")
    return values


def check_evaluator(
    spec: ComponentSpec[Any, Any],
    config: BaseModel | None = None,
    inputs: EvaluationInputs | None = None,
) -> list[MetricValue]:
    """Check an evaluator plugin against the ``pgs.evaluators`` contract.

    Rules: the spec passes `check_component_spec`; the component is an `Evaluator` whose
    ``name`` is the spec's name; ``evaluate`` returns a non-empty list of `MetricValue` with
    unique non-empty names, a stated protocol, a float (not NaN) or None value, and a note for
    every None; it leaves its inputs unchanged; a second call gives the same names, directions
    and (for ``deterministic`` evaluators) the same values.

    Args:
        spec: the plugin's `ComponentSpec`.
        config: config to build with (default: the config class's defaults).
        inputs: inputs to evaluate (default: `example_inputs()`).

    Returns:
        The metric values of the first call, for further checks.

    Raises:
        ContractError: naming the broken rule.
    """
    evaluator = check_component_spec(spec, config)
    _require(isinstance(evaluator, Evaluator), f"{spec.name}: not an Evaluator")
    _require(
        getattr(evaluator, "name", None) == spec.name,
        f"{spec.name}: evaluator.name is {getattr(evaluator, 'name', None)!r}, expected the spec name",
    )
    inputs = inputs if inputs is not None else example_inputs()
    before = _snapshot(inputs)
    first = _check_values(spec.name, evaluator.evaluate(inputs))
    for key, tensor in before.items():
        _require(torch.equal(tensor, getattr(inputs, key)), f"{spec.name}: evaluate() modified inputs.{key}")
    second = _check_values(spec.name, evaluator.evaluate(inputs))
    _require(
        [(v.name, v.higher_is_better) for v in first] == [(v.name, v.higher_is_better) for v in second],
        f"{spec.name}: a second call reported different metrics or directions",
    )
    if getattr(evaluator, "deterministic", True):
        for a, b in zip(first, second, strict=True):
            same = (a.value is None and b.value is None) or (
                a.value is not None
                and b.value is not None
                and (a.value == b.value or math.isclose(a.value, b.value, rel_tol=1e-6, abs_tol=1e-9))
            )
            _require(same, f"{spec.name}: {a.name} changed between two calls ({a.value} then {b.value})")
    return first


__all__ = ["check_evaluator", "example_inputs"]
