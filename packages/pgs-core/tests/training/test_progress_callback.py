"""`Trainer.run(progress=...)` reports every step of every stage through the toolkit's one `Progress` type."""

from __future__ import annotations

from pathlib import Path

import pytest

from pgs.core.data.synthetic import generate_speaker
from pgs.core.registry import registry
from pgs.core.testing.runs import tiny_run_config
from pgs.core.training.config import TrainConfig
from pgs.core.training.trainer import Trainer


@pytest.mark.skipif("mgf" not in registry("pgs.fusion").names(), reason="needs pgs-fusion")
def test_run_reports_each_stage_step(tmp_path: Path) -> None:
    speaker = generate_speaker(tmp_path / "s", num_frames=11, size=16, seed=0)
    config = TrainConfig.model_validate(
        tiny_run_config(speaker, tmp_path / "run", points=(60, 30), steps=(2, 1, 1), eval_frames=1, device="cpu")
    )
    calls: list[tuple[str, int, int | None]] = []
    assert Trainer(config, quiet=True).run(progress=lambda *call: calls.append(call)).finished
    mouth_stages = [("static/mouth", 1, 2), ("static/mouth", 2, 2), ("deform/mouth", 1, 1)]
    assert calls[:3] == mouth_stages  # the schedule's order: the mouth branch first
    assert calls[-1] == ("finetune/head", 1, 1)
    assert len(calls) == 2 * (2 + 1) + 1
