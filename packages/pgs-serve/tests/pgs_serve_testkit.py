"""Helpers of the pgs-serve tests: a tiny trained synthetic head, a server in a background thread."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from pgs.core.avatar import build_avatar, save_avatar
from pgs.core.data.synthetic import generate_speaker
from pgs.core.training.config import TrainConfig
from pgs.core.training.trainer import Trainer
from pgs.serve.local import ServerThread, free_port

__all__ = ["ServerThread", "free_port", "make_tiny_avatar", "tiny_config"]


def tiny_config(folder: Path, output: Path, size: int) -> TrainConfig:
    """Few steps at small size; 250 deformation steps make the mouth respond visibly (~3 grey levels) to speech."""
    refine = {"refine_from": 20, "refine_every": 20, "refine_until": 100}
    data: dict[str, Any] = {
        "data": {"folder": str(folder), "audio": {"name": "mel"}},
        "model": {"face": {"num_points": 500}, "mouth": {"num_points": 200}},
        "stages": {
            "static_iterations": 30,
            "deform_iterations": 250,
            "finetune_iterations": 0,
            "gaussian_lr": {"means": 4e-4, "position_lr_scale": 1.0, "means_decay": 1.0},
        },
        "density": {
            "face": {"name": "pixel-aware", "params": refine},
            "mouth": {"name": "pixel-aware", "params": refine},
        },
        "output": str(output),
        "log_every": 50,
        "checkpoint_every": 10_000,
        "eval_frames": 2,
        "rasterizer": {"name": "auto"},
    }
    return TrainConfig.model_validate(data)


def make_tiny_avatar(root: Path, size: int = 48, frames: int = 60) -> tuple[Path, Path, Path]:
    """Synthesise a speaker, train it briefly and export an avatar.

    Returns:
        (speaker folder, checkpoint, avatar file).
    """
    torch.set_num_threads(1)
    speaker = generate_speaker(root / "speaker", num_frames=frames, size=size, seed=3)
    trainer = Trainer(tiny_config(speaker, root / "run", size), quiet=True)
    result = trainer.run()
    checkpoint = Path(result.checkpoint or root / "run" / "checkpoints" / "final.pt")
    avatar = save_avatar(build_avatar(checkpoint), root / "head.pgs")
    return speaker, checkpoint, avatar
