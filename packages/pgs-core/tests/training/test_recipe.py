"""The real-speaker recipe pieces: position LR schedule, random branch background, mouth box, lips term, presets."""

from __future__ import annotations

import math
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pgs.core.cameras import Cameras
from pgs.core.data.dataset import SpeakerDataset
from pgs.core.errors import ConfigError
from pgs.core.preset import load_preset, preset_names, preset_path
from pgs.core.testing.runs import needs_training_plugins, speaker_fixture, tiny_run_config
from pgs.core.training.config import TrainConfig
from pgs.core.training.init import mouth_box, project_points, triangulate
from pgs.core.training.optimizers import network_lr_factor
from pgs.core.training.trainer import STATIC_CHECKPOINT, Trainer, lips_box, lips_l1

needs_plugins = needs_training_plugins()


speaker = speaker_fixture(num_frames=44, size=48, seed=3)


def _config(folder: Path, output: Path, **overrides: Any) -> TrainConfig:
    data = tiny_run_config(folder, output, points=(300, 200), steps=(20, 20, 5), refine=(10, 10, 40), **overrides)
    return TrainConfig.model_validate(data)


def _look_at_cameras(eye: torch.Tensor, size: int = 64, focal: float = 80.0) -> Cameras:
    """C OpenCV cameras at `eye` [C, 3] looking at the origin."""
    mats = []
    for e in eye:
        z = -e / e.norm()
        x = torch.linalg.cross(torch.tensor([0.0, 1.0, 0.0], dtype=e.dtype), z)
        x = x / x.norm()
        y = torch.linalg.cross(z, x)
        rot = torch.stack([x, y, z])
        view = torch.eye(4, dtype=e.dtype)
        view[:3, :3] = rot
        view[:3, 3] = -rot @ e
        mats.append(view)
    k = torch.tensor([[focal, 0.0, size / 2], [0.0, focal, size / 2], [0.0, 0.0, 1.0]])
    return Cameras(torch.stack(mats).float(), k.expand(len(mats), 3, 3).clone(), size, size)


@settings(max_examples=25, deadline=None)
@given(
    point=st.tuples(*[st.floats(-0.1, 0.1)] * 3),
    spread=st.floats(0.05, 0.4),
)
def test_triangulate_recovers_a_projected_point(point: tuple[float, float, float], spread: float) -> None:
    angles = torch.linspace(-spread, spread, 5, dtype=torch.float64)
    eye = torch.stack([0.5 * torch.sin(angles), 0.1 * torch.cos(3 * angles), 0.5 * torch.cos(angles)], -1)
    cameras = _look_at_cameras(eye)
    target = torch.tensor(point)
    uv, _ = project_points(target[None], cameras)
    found = triangulate(uv, cameras)[0]
    assert torch.allclose(found.float(), target, atol=1e-4), (found, target)


def test_mouth_box_contains_the_exact_mouth(speaker: Path) -> None:
    dataset = SpeakerDataset.open(speaker, "train", audio="mel")
    box = mouth_box(dataset)
    assert box is not None
    import numpy as np

    exact = torch.from_numpy(np.load(speaker / "landmarks3d.npy")).double()  # [68, 3] (or per frame)
    mouth = exact.reshape(-1, 68, 3)[:, 60:68].mean(dim=(0, 1))
    local = (mouth - box.centre) @ box.axes.T
    assert torch.all(local >= box.low - 1e-3) and torch.all(local <= box.high + 1e-3), (local, box.low, box.high)
    width = float(box.high[0] - box.low[0]) / 1.2
    assert float((mouth - box.centre).norm()) < 0.5 * width


def test_position_lr_decays_from_the_scaled_rate(speaker: Path, tmp_path: Path) -> None:
    config = _config(speaker, tmp_path / "out", stages={"gaussian_lr": {"means": 2e-4, "means_decay": 0.01}})
    trainer = Trainer(config, quiet=True)
    extent = trainer.scene_extent
    total = config.stages.static_iterations + config.stages.deform_iterations
    assert trainer.position_lr(0) == pytest.approx(2e-4 * extent)
    assert trainer.position_lr(total) == pytest.approx(2e-6 * extent)
    assert trainer.position_lr(total // 2) == pytest.approx(2e-4 * extent * 0.1, rel=0.05)
    fixed = _config(speaker, tmp_path / "o2", stages={"gaussian_lr": {"position_lr_scale": 1.0, "means_decay": 1.0}})
    assert Trainer(fixed, quiet=True).position_lr(7) == pytest.approx(fixed.stages.gaussian_lr.means)


@settings(max_examples=60, deadline=None)
@given(step=st.integers(0, 50_000))
def test_network_lr_factor_is_talkinggaussians_motion_schedule(step: int) -> None:
    """TalkingGaussian's LambdaLR in its own step counts (50,000 steps, knee at 40,000) is the reference."""
    config = TrainConfig.model_validate({"stages": {"static_iterations": 3000, "deform_iterations": 47000}})
    reference = 0.5 ** (step / 40_000) if step < 40_000 else 0.1 ** (step / 50_000)
    assert network_lr_factor(config, step) == pytest.approx(reference, rel=1e-12)
    constant = config.model_copy(deep=True)
    constant.stages.network_lr.schedule = "constant"
    assert network_lr_factor(constant, step) == 1.0


@settings(max_examples=40, deadline=None)
@given(knee=st.floats(0.31, 1.0), steps=st.lists(st.integers(0, 2000), min_size=2, max_size=6))
def test_network_lr_factor_never_rises(knee: float, steps: list[int]) -> None:
    """From 1 at the start to 0.1 at the end of stages 1-2, never rising (for knees with 0.1^knee <= 0.5)."""
    config = TrainConfig.model_validate(
        {"stages": {"static_iterations": 300, "deform_iterations": 700, "network_lr": {"decay_knee": knee}}}
    )
    factors = [network_lr_factor(config, s) for s in sorted(steps)]
    assert all(a >= b for a, b in pairwise(factors)), factors
    assert network_lr_factor(config, 0) == 1.0
    assert network_lr_factor(config, 1000) == pytest.approx(0.1)


@needs_plugins
@pytest.mark.parametrize("schedule", ["talkinggaussian", "constant"])
def test_the_trainer_applies_the_network_lr_schedule(speaker: Path, tmp_path: Path, schedule: str) -> None:
    rates = {"grid": 1e-2, "net": 2e-3, "audio_attention": 3e-3, "schedule": schedule}
    config = _config(speaker, tmp_path / "out", stages={"network_lr": rates})
    trainer = Trainer(config, quiet=True)
    trainer.run(stop_after=75)  # mouth stages 1-2 done (40 steps), the face 15 steps into its deformation
    for name, steps in (("mouth", 40), ("face", 35)):
        bt = trainer.branches[name]
        assert bt.step == steps
        factor = network_lr_factor(config, steps - 1)  # the rate of the branch's last step
        assert factor < 1.0 if schedule == "talkinggaussian" else factor == 1.0
        initial = (rates["grid"], rates["net"], rates["audio_attention"])
        for group, lr in zip(bt.network_optimizer.param_groups, initial, strict=False):
            assert group["lr"] == pytest.approx(lr * factor), name


def test_position_lr_scale_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        TrainConfig.model_validate({"stages": {"gaussian_lr": {"position_lr_scale": -1.0}}})
    with pytest.raises(ValueError):
        TrainConfig.model_validate({"stages": {"gaussian_lr": {"position_lr_scale": "camera"}}})


def test_random_background_depends_only_on_seed_and_step(speaker: Path, tmp_path: Path) -> None:
    a = Trainer(_config(speaker, tmp_path / "a"), quiet=True)
    b = Trainer(_config(speaker, tmp_path / "b"), quiet=True)
    colours = []
    for step in (0, 1, 2):
        a.global_step = b.global_step = step
        assert torch.equal(a._random_colour(), b._random_colour())
        colours.append(a._random_colour())
    assert not torch.equal(colours[0], colours[1])
    assert all(((c >= 0) & (c <= 1)).all() for c in colours)


def test_lips_box_and_term(speaker: Path) -> None:
    dataset = SpeakerDataset.open(speaker, "train", audio="mel")
    frame = dataset[0]
    box = lips_box(frame)
    assert box is not None
    pts = frame.landmarks[48:68]
    for x, y in pts.tolist():
        assert box[int(y), int(x)]
    assert box.sum() < box.numel() / 4  # a box around the mouth, not the frame
    pred = frame.image.clone()
    assert float(lips_l1(pred, frame.image, frame)) == 0.0
    pred[box] += 0.25
    pred[~box] += 0.5  # errors outside the box do not count
    assert float(lips_l1(pred, frame.image, frame)) == pytest.approx(0.25, rel=1e-5)


@needs_plugins
def test_static_checkpoint_and_region_history(speaker: Path, tmp_path: Path) -> None:
    torch.set_num_threads(1)
    trainer = Trainer(_config(speaker, tmp_path / "out", loss={"lips_weight": 1.0}), quiet=True)
    result = trainer.run()
    assert result.finished
    assert (tmp_path / "out" / "checkpoints" / STATIC_CHECKPOINT).is_file()
    for record in result.report["stages"]:
        assert {"psnr", "psnr_head", "psnr_face", "psnr_mouth"} <= set(record)
        assert all(math.isfinite(record[k]) for k in ("psnr", "psnr_head", "psnr_face"))
    seconds = [record["seconds"] for record in result.report["stages"]]
    # stage records are rounded to 0.1 s, the run's total to 0.01 s
    assert seconds[0] == 0.0 and seconds == sorted(seconds) and seconds[-1] <= result.report["training_seconds"] + 0.05


def test_finetune_sh_lr_is_used(speaker: Path, tmp_path: Path) -> None:
    trainer = Trainer(_config(speaker, tmp_path / "out", stages={"finetune_sh_lr": 1.234e-3}), quiet=True)
    trainer.stage_index = len(trainer.plan) - 1
    trainer._finetune_step()
    for bt in trainer.branches.values():
        assert bt.gaussian_optimizers["sh"].param_groups[0]["lr"] == pytest.approx(1.234e-3)


def test_presets_are_valid_run_configs() -> None:
    assert "real-cpu" in preset_names()
    for name in preset_names():
        TrainConfig.model_validate(load_preset(name))
    repo_copy = Path(__file__).resolve().parents[4] / "examples" / "configs" / "real_cpu.yaml"
    if repo_copy.exists():
        assert repo_copy.resolve() == preset_path("real-cpu").resolve()


def test_unknown_preset_lists_the_names() -> None:
    with pytest.raises(ConfigError, match="real-cpu"):
        preset_path("no-such-preset")
    with pytest.raises(ConfigError, match="not found"):
        preset_path("missing.yaml")
