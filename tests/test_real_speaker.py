"""A short training run on the shared real clip: the mouth branch learns and deformation does not hurt.

This is the CI-sized guard of the real-speaker recipe (the full benchmark is ``pgs demo OUT --video``
with the ``real-cpu`` preset, reported in pgs-core's README). It preps the clip at 128x128, trains
a few hundred steps with the real-cpu recipe's choices and checks, on the held-out frames:

- the face branch is transparent over the inner mouth, so the mouth branch is what shows there
  (before the random branch background it was opaque there: alpha 1.0);
- the deformation stage does not lower the face-region PSNR of the static model;
- the composed head's inner-mouth PSNR rises by a clear margin from the initialisation (the face
  turns transparent there and the mouth branch shows through);
- (expected to fail, strict: issue 16 is open) the inside-mouth branch, rendered alone, scores
  clearly higher in the inner-mouth mask after its two stages than at its initialisation.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from pgs.core.preset import load_preset, merge
from pgs.core.registry import registry
from pgs.core.training.config import TrainConfig
from pgs.core.training.trainer import Trainer
from pgs.core.video_demo import run_plugin_command

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
CLIP = SHARED / "hdtf_RD_Radio34_000.mp4"
LANDMARKER = SHARED / "face_landmarker.task"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (CLIP.is_file() and LANDMARKER.is_file()), reason=f"needs {CLIP} and {LANDMARKER}"),
    pytest.mark.skipif(
        "prep" not in registry("pgs.commands").names() or "mgf" not in registry("pgs.fusion").names(),
        reason="needs pgs-prep, pgs-fusion, pgs-density and pgs-audio installed",
    ),
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trainer:
    torch.set_num_threads(2)
    root = tmp_path_factory.mktemp("real")
    prep = [str(CLIP), str(root / "speaker"), "--landmarker", str(LANDMARKER), "--size", "128", "--quiet"]
    run_plugin_command("prep", prep)
    refine = {"refine_from": 50, "refine_every": 50, "refine_until": 500}
    overrides = {
        "data": {"folder": str(root / "speaker")},
        "output": str(root / "run"),
        "stages": {"static_iterations": 250, "deform_iterations": 300, "finetune_iterations": 30},
        "density": {"face": {"params": refine}, "mouth": {"params": refine}},
        "eval_frames": 19,
    }
    config = TrainConfig.model_validate(merge(load_preset("real-cpu"), overrides))
    trainer = Trainer(config, quiet=True)
    assert trainer.run().finished
    return trainer


def _history(trainer: Trainer) -> dict[str, dict[str, float]]:
    return {record["stage"]: record for record in trainer.history}


def test_face_is_transparent_over_the_inner_mouth(trained: Trainer) -> None:
    """The face branch leaves the inner mouth to the mouth branch (it used to paint it, alpha 1)."""
    alphas = []
    trained.head.eval()
    with torch.no_grad():
        for frame in trained.val_set:
            if int(frame.masks.mouth.sum()) >= 10:
                alpha = trained.head.render_frame(frame).face.render.alpha[0, ..., 0]
                alphas.append(float(alpha[frame.masks.mouth].mean()))
    assert alphas
    assert sum(alphas) / len(alphas) < 0.5, alphas


def test_deformation_does_not_lower_heldout_face_psnr(trained: Trainer) -> None:
    history = _history(trained)
    static = history["static/face"]["psnr_face"]
    deformed = history["deform/face"]["psnr_face"]
    assert deformed >= static - 0.1, (static, deformed)


def test_composed_inner_mouth_psnr_rises_clearly(trained: Trainer) -> None:
    history = _history(trained)
    start = history["init"]["psnr_mouth"]
    final = history["finetune/head"]["psnr_mouth"]
    assert final >= start + 2.0, (start, final)


@pytest.mark.xfail(
    strict=True,
    reason=(
        "issue 16, open: on real video the inside-mouth branch reaches only what a static mouth can "
        "(per-pixel mean of aligned crops, about 0.5-1 dB over its initialisation); its audio-driven motion "
        "adds nothing measurable (pgs-core README, 'What limits held-out quality')"
    ),
)
def test_mouth_branch_learns_its_region(trained: Trainer) -> None:
    history = _history(trained)
    start = history["init"]["psnr_mouth_branch"]
    learnt = history["deform/mouth"]["psnr_mouth_branch"]
    assert learnt >= start + 2.0, (start, learnt)

TINY_PRESET = """
model: {face: {num_points: 300}, mouth: {num_points: 200}}
density:
  face: {name: pixel-aware, params: {refine_from: 10, refine_every: 10, refine_until: 30}}
  mouth: {name: pixel-aware, params: {refine_from: 10, refine_every: 10, refine_until: 30}}
stages: {static_iterations: 20, deform_iterations: 20, finetune_iterations: 5}
eval_frames: 4
"""


def test_demo_video_writes_the_benchmark(tmp_path: Path) -> None:
    import json

    from pgs.core.cli.main import main

    preset = tmp_path / "tiny.yaml"
    preset.write_text(TINY_PRESET)
    out = tmp_path / "demo"
    argv = ["demo", str(out), "--video", str(CLIP), "--landmarker", str(LANDMARKER), "--size", "96"]
    code = main([*argv, "--max-frames", "60", "--preset", str(preset), "--quiet"])
    assert code == 0
    report = json.loads((out / "demo.json").read_text())
    assert set(report["heldout"]) == {"face_psnr", "face_ssim", "head_psnr", "mouth_psnr", "lmd", "mouth_open_r"}
    assert {"face_psnr", "head_psnr"} <= set(report["mean_image"])
    assert {"face_psnr", "head_psnr"} <= set(report["static_only"])
    assert {"prep", "train", "eval"} <= set(report["seconds"])
    assert isinstance(report["heldout"]["face_psnr"], float)
    for name in ("report.md", "strips.png", "heldout.mp4", "run/checkpoints/static.pt", "eval/metrics.json"):
        assert (out / name).is_file(), name
    assert "static only (stage 1)" in (out / "report.md").read_text()


def test_demo_video_bad_input_is_one_line_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from pgs.core.cli.main import main

    out = tmp_path / "demo"
    assert main(["demo", str(out), "--video", str(tmp_path / "missing.mp4")]) == 2
    assert "missing.mp4" in capsys.readouterr().err
    assert not out.exists()
    assert main(["demo", str(out), "--video", str(CLIP), "--preset", "no-such-preset"]) == 2
    assert not out.exists()
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    assert main(["demo", str(mine), "--video", str(CLIP), "--overwrite"]) == 2
    assert (mine / "notes.txt").read_text() == "keep me"
