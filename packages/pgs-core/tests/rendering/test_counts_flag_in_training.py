"""The trainer asks the rasterizer for pixel counts only when its density strategy reads them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from pgs.core.interfaces import Rasterizer
from pgs.core.registry import registry
from pgs.core.rendering import get_rasterizer
from pgs.core.testing.runs import needs_training_plugins, speaker_fixture
from pgs.core.training.config import TrainConfig
from pgs.core.training.trainer import Trainer

pytestmark = needs_training_plugins(density=("pixel-aware", "gradient"))


class SpyRasterizer(Rasterizer):
    """The `torch` backend, recording each call's ``with_pixel_counts`` and what came back."""

    name = "spy"

    def __init__(self) -> None:
        self.inner = get_rasterizer("torch")
        self.config = self.inner.config
        self.calls: list[tuple[bool | None, bool, bool]] = []

    def _render(self, gaussians, cameras, sh_degree, with_pixel_counts):  # type: ignore[override]
        out = self.inner.render(gaussians, cameras, sh_degree, with_pixel_counts=with_pixel_counts)
        self.calls.append((with_pixel_counts, torch.is_grad_enabled(), out.pixel_counts is not None))
        return out


speaker = speaker_fixture(num_frames=20, size=32, seed=3)


def _train(speaker: Path, output: Path, strategy: str, monkeypatch: pytest.MonkeyPatch) -> SpyRasterizer:
    spy = SpyRasterizer()
    monkeypatch.setattr("pgs.core.training.trainer.build_rasterizer", lambda *a, **k: spy)
    refine: dict[str, Any] = {"refine_from": 2, "refine_every": 2, "refine_until": 8}
    config = TrainConfig.model_validate(
        {
            "data": {"folder": str(speaker)},
            "model": {"face": {"num_points": 200}, "mouth": {"num_points": 100}},
            "stages": {"static_iterations": 4, "deform_iterations": 4, "finetune_iterations": 2},
            "density": {"face": {"name": strategy, "params": refine}, "mouth": {"name": strategy, "params": refine}},
            "output": str(output),
            "log_every": 100,
            "checkpoint_every": 10_000,
            "eval_frames": 1,
        }
    )
    assert Trainer(config, quiet=True).run().finished
    return spy


@pytest.mark.parametrize(("strategy", "wanted"), [("pixel-aware", True), ("gradient", False)])
def test_trainer_passes_the_strategys_need(strategy, wanted, speaker, tmp_path, monkeypatch):
    spy = _train(speaker, tmp_path / "out", strategy, monkeypatch)
    flags = [flag for flag, grad, _ in spy.calls if grad and flag is not None]
    # stages 1-2 (4 + 4 steps per branch) ask for what the strategy reads; stage 3 never asks
    assert flags == [wanted] * 16 + [False] * 4  # stage 3: two branches x 2 steps
    for flag, _grad, got in spy.calls:
        assert got == bool(flag) or flag is None
    # held-out evaluation renders without gradients: the inference fast path, no counts
    assert all(not got for flag, grad, got in spy.calls if not grad and flag is None)


def test_strategies_declare_whether_they_read_counts():
    from pgs.density.statistics import check_render, pixel_weights

    from .conftest import make_scene

    assert registry("pgs.density").create("gradient", {}).needs_pixel_counts is False
    assert registry("pgs.density").create("pixel-aware", {}).needs_pixel_counts is True
    g, cams = make_scene(0, n=20)
    render = get_rasterizer("torch").render(g, cams, with_pixel_counts=False)
    check_render(render, 20)  # a render without counts is fine for a strategy that does not read them
    with pytest.raises(ValueError, match="with_pixel_counts=True"):
        pixel_weights(render, 0.2)
