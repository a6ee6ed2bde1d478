from __future__ import annotations

import pytest
import torch

from pgs.core.errors import DataError
from pgs.core.interfaces import EvaluationInputs
from pgs.eval.devices import device_name
from pgs.eval.fps import FpsConfig, FpsEvaluator, measure_fps


class _Clock:
    """A settable fake clock (the renderer advances it)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_fps_counts_only_timed_frames_after_warmup() -> None:
    clock = _Clock()
    calls: list[int] = []

    def render(i: int) -> torch.Tensor:
        calls.append(i)
        clock.now += 0.02  # 20 ms per frame
        return torch.zeros(4, 4, 3)

    m = measure_fps(render, frames=50, warmup=5, device="cpu", num_indices=7, clock=clock)
    assert len(calls) == 55
    assert calls[:10] == [0, 1, 2, 3, 4, 5, 6, 0, 1, 2]  # indices cycle over the available frames
    assert m.fps == pytest.approx(50.0)
    assert m.seconds == pytest.approx(1.0)
    assert (m.frames, m.warmup) == (50, 5)
    metric = m.metric()
    assert metric.name == "FPS" and metric.higher_is_better
    assert "batch 1" in metric.protocol and "5 warm-up" in metric.protocol and "CPU" in metric.protocol


def test_fps_bad_arguments_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="frames >= 1"):
        measure_fps(lambda i: torch.zeros(1), frames=0)
    with pytest.raises(DataError, match="expected an image tensor"):
        measure_fps(lambda i: None, frames=1, warmup=1)  # type: ignore[arg-type, return-value]


def test_fps_evaluator_times_the_supplied_renderer() -> None:
    frames = torch.rand(3, 8, 8, 3)
    seen: list[int] = []

    def render(i: int) -> torch.Tensor:
        seen.append(i)
        return frames[i] * 2

    ev = FpsEvaluator(FpsConfig(frames=6, warmup=2))
    value = ev.evaluate(EvaluationInputs(predicted=frames, render_frame=render, device="cpu"))[0]
    assert value.value is not None and value.value > 0
    assert seen == [0, 1, 2, 0, 1, 2, 0, 1]
    assert not ev.deterministic
    missing = ev.evaluate(EvaluationInputs(predicted=frames))[0]
    assert missing.value is None and "no renderer" in missing.note


def test_device_name_names_the_cpu() -> None:
    name = device_name("cpu")
    assert "CPU" in name and len(name) > 10
    if not torch.cuda.is_available():
        with pytest.raises(Exception, match="CUDA is not available"):
            device_name("cuda")
