"""Steady-state frames per second of audio-to-image inference.

Protocol (TalkingGaussian has no FPS code; GaussianTalker times batch 128 without
synchronisation): batch 1, the caller's renderer does audio feature network + deformation +
both rasterisations + composition with the canonical spatial features cached; `warmup` frames
first (kernel compilation, caches, allocator), then `frames` timed frames between two device
synchronisations (``torch.cuda.synchronize`` on CUDA) under ``torch.inference_mode``.
FPS = timed frames / elapsed seconds. The device is named in the protocol line.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from pydantic import Field
from torch import Tensor

from pgs.core.config import ComponentConfig
from pgs.core.errors import DataError
from pgs.core.groups import EVALUATORS
from pgs.core.interfaces import EvaluationInputs, Evaluator, MetricValue
from pgs.core.registry import ComponentSpec
from pgs.eval.devices import device_name, resolve_device


@dataclass(frozen=True)
class FpsMeasurement:
    """One timing.

    Attributes:
        fps: timed frames per second.
        seconds: elapsed wall time of the timed frames.
        frames: timed frames.
        warmup: untimed frames rendered first.
        device: device description (GPU or CPU model).
    """

    fps: float
    seconds: float
    frames: int
    warmup: int
    device: str

    def protocol(self) -> str:
        """The protocol line of this measurement."""
        return (
            f"FPS at batch 1 over {self.frames} frames after {self.warmup} warm-up frames, "
            f"device-synchronised, on {self.device}"
        )

    def metric(self) -> MetricValue:
        """This measurement as the ``FPS`` metric (higher is better)."""
        return MetricValue("FPS", self.fps, True, self.protocol())


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure_fps(
    render_one: Callable[[int], Tensor],
    frames: int = 100,
    warmup: int = 10,
    device: str | torch.device = "cpu",
    num_indices: int | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> FpsMeasurement:
    """Time `render_one` at batch 1.

    Args:
        render_one: renders frame i (audio window i) and returns its image tensor.
        frames: timed frames.
        warmup: untimed frames before timing.
        device: device `render_one` runs on (synchronised before and after timing).
        num_indices: frame indices cycle through ``0 .. num_indices - 1`` (None: 0, 1, 2, ...).
        clock: time source in seconds (tests inject a fake clock).

    Raises:
        ValueError: `frames` < 1 or `warmup` < 0.
        DataError: `render_one` does not return a tensor.
    """
    if frames < 1 or warmup < 0:
        raise ValueError(f"need frames >= 1 and warmup >= 0, got frames={frames}, warmup={warmup}")
    dev = resolve_device(device)

    def index(i: int) -> int:
        return i % num_indices if num_indices else i

    with torch.inference_mode():
        for i in range(warmup):
            out = render_one(index(i))
            if not isinstance(out, Tensor):
                raise DataError(f"render_frame returned {type(out).__name__}, expected an image tensor")
        _synchronize(dev)
        start = clock()
        for i in range(warmup, warmup + frames):
            render_one(index(i))
        _synchronize(dev)
        elapsed = clock() - start
    if elapsed <= 0:
        raise DataError(f"timing clock did not advance over {frames} frames")
    return FpsMeasurement(frames / elapsed, elapsed, frames, warmup, device_name(dev))


class FpsConfig(ComponentConfig):
    """Config of the ``fps`` evaluator."""

    frames: int = Field(100, ge=1, description="Timed frames.")
    warmup: int = Field(10, ge=0, description="Untimed warm-up frames rendered first.")


class FpsEvaluator(Evaluator):
    """FPS (higher is better) of `EvaluationInputs.render_frame`; not computed without a renderer."""

    name = "fps"
    description = "Steady-state audio-to-image FPS at batch 1 (warm-up, device synchronisation, device named)"
    deterministic = False

    def __init__(self, config: FpsConfig) -> None:
        self.config = config

    def evaluate(self, inputs: EvaluationInputs) -> list[MetricValue]:
        """Return ``[FPS]``."""
        if inputs.render_frame is None:
            return [
                MetricValue(
                    "FPS",
                    None,
                    True,
                    "FPS at batch 1, device-synchronised",
                    "no renderer supplied (EvaluationInputs.render_frame): FPS needs the model",
                )
            ]
        num = int(inputs.predicted.shape[0]) if inputs.predicted.dim() >= 1 and inputs.predicted.shape[0] else None
        measurement = measure_fps(
            inputs.render_frame, self.config.frames, self.config.warmup, inputs.device, num_indices=num
        )
        return [measurement.metric()]


SPEC = ComponentSpec.of(EVALUATORS, FpsConfig, FpsEvaluator)

__all__ = ["SPEC", "FpsConfig", "FpsEvaluator", "FpsMeasurement", "measure_fps"]
