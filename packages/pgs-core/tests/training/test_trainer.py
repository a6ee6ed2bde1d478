"""End-to-end training on a tiny synthetic speaker: quality, audio response, resume, CLI workflow."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from pgs.core.cli.main import main
from pgs.core.registry import registry
from pgs.core.testing.runs import (
    PGS_COMMAND,
    interrupt_training,
    needs_training_plugins,
    speaker_fixture,
    tiny_run_config,
)
from pgs.core.training.config import TrainConfig
from pgs.core.training.log import read_jsonl
from pgs.core.training.trainer import Trainer

pytestmark = pytest.mark.slow

needs_plugins = needs_training_plugins(density=("pixel-aware", "gradient"))


def tiny_config(folder: Path, output: Path, **overrides: Any) -> TrainConfig:
    """A few hundred steps in all at 48x48 (the CI budget)."""
    data = tiny_run_config(
        folder,
        output,
        points=(600, 300),
        steps=(80, 80, 40),
        refine=(20, 20, 150),
        eval_frames=4,
        fast_means=True,
        density={"face": {"params": {"grad_threshold": 2e-4}}},
        # 80 deformation steps: constant network LRs, as the means' (the default decay averages
        # about 0.4x the rate over them, too little audio response for the audio test below)
        stages={"network_lr": {"schedule": "constant"}},
        log_every=5,
        rasterizer={"name": "auto"},
    )
    data.update(overrides)  # whole sections: an overridden "stages" drops the fast means LR
    return TrainConfig.model_validate(data)


speaker = speaker_fixture(num_frames=44, size=48, seed=1)


@pytest.fixture(scope="module")
def trained(speaker: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Trainer, Any]:
    torch.set_num_threads(1)
    trainer = Trainer(tiny_config(speaker, tmp_path_factory.mktemp("run") / "out"), quiet=True)
    result = trainer.run()
    return trainer, result


@needs_plugins
def test_loss_falls_and_beats_the_mean_image(trained: tuple[Trainer, Any]) -> None:
    trainer, result = trained
    assert result.finished
    records = read_jsonl(trainer.config.output / "train.jsonl")
    face = [r["loss"] for r in records if r["stage"] == "static/face"]
    assert np.mean(face[-3:]) < np.mean(face[:3])
    final = result.report["stages"][-1]
    baseline = trainer.mean_image_baseline()
    assert final["psnr"] >= baseline["psnr"] + 3.0, (final, baseline)
    for name in ("report.json", "curves.png", "train.jsonl", "checkpoints/final.pt"):
        assert (trainer.config.output / name).is_file()


@needs_plugins
def test_mouth_region_follows_the_audio(trained: tuple[Trainer, Any]) -> None:
    trainer, _ = trained
    audio = trainer.train_set.audio
    energy = audio.features.mean(dim=(1, 2))
    loud = int(energy.argmax())
    silent_features = registry("pgs.audio_encoders").create("mel").encode(torch.zeros(16000), 16000)
    frame = trainer.val_set[0]
    mouth_box = frame.landmarks[48:68]
    x0, y0 = (mouth_box.min(0).values - 2).clamp_min(0).long().tolist()
    x1, y1 = (mouth_box.max(0).values + 3).long().tolist()
    trainer.head.eval()
    with torch.no_grad():
        loud_img = trainer.head(frame.camera, audio.window(loud), frame.aus, frame.background).image[0]
        silent_img = trainer.head(frame.camera, silent_features.window(5), frame.aus, frame.background).image[0]
    diff = (loud_img - silent_img).abs()[y0:y1, x0:x1].mean()
    assert float(diff) > 1e-4


@needs_plugins
def test_resume_continues_exactly(speaker: Path, tmp_path: Path) -> None:
    torch.set_num_threads(1)
    short = {"stages": {"static_iterations": 12, "deform_iterations": 12, "finetune_iterations": 6}}
    refine = {"refine_from": 4, "refine_every": 4, "refine_until": 20}
    short["density"] = {
        "face": {"name": "pixel-aware", "params": refine},
        "mouth": {"name": "gradient", "params": refine},
    }
    full = Trainer(tiny_config(speaker, tmp_path / "full", **short), quiet=True)
    full.run()
    first = Trainer(tiny_config(speaker, tmp_path / "parts", **short), quiet=True)
    stopped = first.run(stop_after=21)  # inside the face's static stage, after a refine
    assert not stopped.finished and stopped.checkpoint is not None
    resumed = Trainer.from_checkpoint(stopped.checkpoint, quiet=True)
    assert resumed.global_step == 21
    assert resumed.run().finished
    expected = full.head.state_dict()
    got = resumed.head.state_dict()
    assert expected.keys() == got.keys()
    for key, value in expected.items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(value, got[key]), key


def _write_config(path: Path, config: TrainConfig) -> Path:
    path.write_text(json.dumps(config.model_dump(mode="json")))
    return path


@needs_plugins
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"seed": -3}, "seed: Input should be greater than or equal to 0"),
        ({"data": {"folder": "/nonexistent/speaker"}}, "speaker folder not found"),
        ({"density": {"face": {"name": "pixel-awar"}}}, "Did you mean 'pixel-aware'"),
    ],
)
def test_bad_runs_exit_2_without_output(
    speaker: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], change: dict, message: str
) -> None:
    out = tmp_path / "never"
    data = tiny_config(speaker, out).model_dump(mode="json")
    data.update(change)
    config_file = tmp_path / "bad.json"
    config_file.write_text(json.dumps(data))
    assert main(["train", str(config_file), "--quiet"]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


@needs_plugins
def test_render_writes_mp4_with_audio(trained: tuple[Trainer, Any], speaker: Path, tmp_path: Path) -> None:
    import av

    trainer, result = trained
    out = tmp_path / "talk.mp4"
    audio = speaker / "aud.wav"
    assert main(["render", str(result.checkpoint), "--audio", str(audio), "--out", str(out)]) == 0
    expected_frames = trainer.train_set.audio.num_frames
    with av.open(str(out)) as container:
        frames = sum(1 for _ in container.decode(video=0))
    with av.open(str(out)) as container:
        samples = sum(f.samples for f in container.decode(audio=0))
        rate = container.streams.audio[0].rate
    assert frames == expected_frames
    # AAC works in frames of 1024 samples plus encoder priming: allow two frames (0.128 s at 16 kHz).
    assert abs(samples / rate - expected_frames / 25.0) <= 2048 / 16000


@needs_plugins
def test_export_ply_round_trip(trained: tuple[Trainer, Any], tmp_path: Path) -> None:
    from pgs.core.io.ply import load_ply

    trainer, result = trained
    out = tmp_path / "head.ply"
    assert main(["export", str(result.checkpoint), str(out)]) == 0
    gaussians = load_ply(out)
    assert gaussians.num == trainer.head.face.num_gaussians + trainer.head.mouth.num_gaussians
    torch.testing.assert_close(
        gaussians.means[: trainer.head.face.num_gaussians], trainer.head.face.params["means"].detach()
    )


@needs_plugins
def test_ctrl_c_writes_a_checkpoint_and_resume_finishes(speaker: Path, tmp_path: Path) -> None:
    import os
    import signal
    import subprocess

    out = tmp_path / "run"
    long = {"stages": {"static_iterations": 150, "deform_iterations": 100, "finetune_iterations": 10}}
    config = _write_config(tmp_path / "run.json", tiny_config(speaker, out, **long))
    code, err = interrupt_training(config, out, signal.SIGINT)
    assert code == 130, err
    assert "--resume" in err
    checkpoint = out / "checkpoints" / "last.pt"
    assert checkpoint.is_file() and not (out / "report.json").exists()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    resumed = subprocess.run(
        [*PGS_COMMAND, "train", "--resume", str(checkpoint), "--quiet"],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert (out / "report.json").is_file()
