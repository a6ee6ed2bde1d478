"""pgs-eval test fixtures: real frames from ../shared/data (skipped with a reason when absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from pgs.core.testing.shared import need

#: <repo>/../shared/data: real test material beside the checkout, never committed.
SHARED = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"
CLIP = SHARED / "hdtf_RD_Radio34_000.mp4"
FACE_LANDMARKER = SHARED / "face_landmarker.task"


@pytest.fixture(scope="session")
def clip_frames() -> torch.Tensor:
    """Frames 0, 50, 100 of the real HDTF clip as [3, 512, 512, 3] floats in [0, 1]."""
    av = pytest.importorskip("av")
    wanted = {0, 50, 100}
    frames = []
    with av.open(str(need(CLIP))) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i in wanted:
                frames.append(frame.to_ndarray(format="rgb24"))
            if i >= max(wanted):
                break
    return torch.from_numpy(np.stack(frames)).float() / 255.0


@pytest.fixture(scope="session")
def face_landmarker_path() -> Path:
    """The MediaPipe Face Landmarker model file."""
    pytest.importorskip("mediapipe")
    return need(FACE_LANDMARKER)


# ---------------------------------------------------------------- tiny synthetic speaker and trained head

#: Shared torch threads thrash on the busy CI machine; every test here is small.
torch.set_num_threads(1)


def tiny_config(folder: Path, output: Path, iterations: tuple[int, int, int] = (10, 10, 5)) -> dict:
    """A run config (as a dict) that trains in seconds on a 48 px synthetic speaker."""
    density = {
        "refine_from": 5,
        "refine_every": 10,
        "refine_until": 40,
        "prune_opacity_start": 0.005,
        "prune_opacity_end": 0.005,
    }
    static, deform, finetune = iterations
    return {
        "data": {"folder": str(folder)},
        "model": {
            "face": {"num_points": 300},
            "mouth": {
                "kind": "mouth",
                "num_points": 200,
                "expression": None,
                "deform": ["position"],
                "position_axis_scale": [0.2, 1.0, 0.2],
            },
        },
        "density": {
            "face": {"name": "pixel-aware", "params": density},
            "mouth": {"name": "pixel-aware", "params": density},
        },
        "rasterizer": {"name": "torch"},
        "stages": {"static_iterations": static, "deform_iterations": deform, "finetune_iterations": finetune},
        "loss": {"lpips_weight": 0.0},
        "output": str(output),
        "eval_frames": 2,
        "log_every": 100,
        "checkpoint_every": 10_000,
    }


@pytest.fixture(scope="session")
def make_tiny_config():
    """`tiny_config` for tests (conftest modules are not importable by name)."""
    return tiny_config


@pytest.fixture(scope="session")
def tiny_speaker(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 33-frame 48x48 synthetic speaker (30 train, 3 val frames) with exact 2D and 3D landmarks."""
    from pgs.core.data.synthetic import generate_speaker
    from pgs.core.model.talking_head import build_rasterizer

    out = tmp_path_factory.mktemp("speaker") / "spk"
    return generate_speaker(out, num_frames=33, size=48, seed=3, rasterizer=build_rasterizer("torch"))


@pytest.fixture(scope="session")
def tiny_checkpoint(tiny_speaker: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``final.pt`` of a tiny training run on `tiny_speaker` (its run folder holds report.json)."""
    from pgs.core.training.config import TrainConfig
    from pgs.core.training.trainer import Trainer

    run = tmp_path_factory.mktemp("run") / "tiny"
    config = TrainConfig.model_validate(tiny_config(tiny_speaker, run))
    result = Trainer(config, quiet=True).run()
    return result.checkpoint
