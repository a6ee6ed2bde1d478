"""Helpers of the pgs-serve tests: a tiny trained synthetic head, a server in a background thread."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from pgs.core.avatar import build_avatar, save_avatar
from pgs.core.data.synthetic import generate_speaker
from pgs.core.testing.runs import tiny_run_config
from pgs.core.training.config import TrainConfig
from pgs.core.training.trainer import Trainer
from pgs.serve.local import ServerThread, free_port

__all__ = ["ServerThread", "free_port", "make_tiny_avatar", "tiny_config"]


def tiny_config(folder: Path, output: Path, size: int) -> TrainConfig:
    """Few steps at small size; 250 deformation steps make the mouth respond visibly (~3 grey levels) to speech."""
    shape: dict[str, Any] = {"points": (500, 200), "steps": (30, 250, 0), "refine": (20, 20, 100), "fast_means": True}
    extra = {"data": {"audio": {"name": "mel"}}, "log_every": 50, "rasterizer": {"name": "auto"}}
    return TrainConfig.model_validate(tiny_run_config(folder, output, **shape, **extra))


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
