"""The training-step profiler on a tiny synthetic speaker: every part timed, shares of one run."""

from __future__ import annotations

from pathlib import Path

import pytest

from pgs.core.testing.runs import needs_training_plugins, speaker_fixture
from pgs.core.training.step_profile import PARTS, StepProfiler, format_profile, profile_config
from pgs.core.training.trainer import Trainer

speaker = speaker_fixture(num_frames=22, size=32, seed=2)


@needs_training_plugins(density=("pixel-aware",))
@pytest.mark.parametrize("stage", ["deform", "finetune"])
def test_profile_times_every_part_and_keeps_n_fixed(speaker: Path, tmp_path: Path, stage: str) -> None:
    trainer = Trainer(profile_config(speaker, tmp_path / "run", 300, 100, device="cpu"), quiet=True)
    trainer.head.train()
    counts = {n: bt.branch.num_gaussians for n, bt in trainer.branches.items()}
    result = StepProfiler(trainer, stage).run(rounds=2, warmup=1)
    assert result["stage"] == ("deform/face" if stage == "deform" else "finetune/head")
    assert set(result["parts_s"]) == {*PARTS, "other"}
    assert all(result["parts_s"][p] > 0 for p in PARTS if not (stage == "finetune" and p == "triplane"))
    assert sum(result["shares"].values()) == pytest.approx(1.0)
    assert result["num_gaussians"] == counts  # density control is off: N is what the benchmark says
    assert trainer.global_step == 3  # warm-up and timed steps advanced the trainer
    text = format_profile({"size": [32, 32], "device": "cpu", "rasterizer": "cpu", "stages": {"x": result}})
    assert "ms/step" in text and "rasterizer" in text


def test_bad_stage_is_refused(speaker: Path, tmp_path: Path) -> None:
    trainer = Trainer(profile_config(speaker, tmp_path / "run", 50, 50, device="cpu"), quiet=True)
    with pytest.raises(ValueError, match="stage"):
        StepProfiler(trainer, "static")
