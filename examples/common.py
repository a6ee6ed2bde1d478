"""Small helpers shared by the example scripts: a CPU-sized run config and a synthetic speaker.

Not part of the toolkit: the scripts import it from their own folder (``python examples/x.py``
puts ``examples/`` on ``sys.path``). Everything here is a few lines of the public API:
`pgs.core.data.synthetic.generate_speaker` and `pgs.core.training.config.TrainConfig`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pgs.core.data.synthetic import generate_speaker
from pgs.core.training.config import TrainConfig


def add_run_arguments(p: argparse.ArgumentParser, steps: int = 40, size: int = 64, frames: int = 40) -> None:
    """The options every training example shares (defaults sized for a CPU in under two minutes)."""
    p.add_argument("--speaker", type=Path, help="an existing speaker folder (default: synthesise one into --out)")
    p.add_argument("--frames", type=int, default=frames, help=f"frames of the synthetic speaker (default {frames})")
    p.add_argument("--size", type=int, default=size, help=f"image size of the synthetic speaker (default {size})")
    p.add_argument("--steps", type=int, default=steps, help=f"static and deform steps per branch (default {steps})")
    p.add_argument("--finetune", type=int, default=None, help="stage-3 steps (default steps/4)")
    p.add_argument("--points", type=int, default=400, help="initial face Gaussians (mouth: half; default 400)")
    p.add_argument("--budget", type=int, default=1500, help="cap on face Gaussians (mouth: half; default 1500)")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")


def check_run_arguments(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Reject non-positive sizes with one clear message."""
    for name in ("frames", "size", "steps", "points", "budget", "threads"):
        if getattr(args, name) <= 0:
            p.error(f"--{name} must be positive, got {getattr(args, name)}")
    if args.finetune is not None and args.finetune < 0:
        p.error(f"--finetune must be >= 0, got {args.finetune}")
    if args.frames < 12:
        p.error("--frames must be at least 12 (the held-out split needs frames)")
    if args.speaker is not None and not args.speaker.is_dir():
        p.error(f"--speaker: {args.speaker} is not a folder")


def speaker_folder(args: argparse.Namespace, out: Path) -> Path:
    """`--speaker`, or a synthetic speaker generated once into ``out/speaker`` (reused if present)."""
    if args.speaker is not None:
        return args.speaker
    folder = out / "speaker"
    if (folder / "transforms_train.json").is_file():
        return folder
    print(f"synthesising a speaker: {args.frames} frames at {args.size}x{args.size} -> {folder}")
    return generate_speaker(folder, num_frames=args.frames, size=args.size, seed=args.seed)


def small_config(
    speaker: Path,
    output: Path,
    args: argparse.Namespace,
    *,
    fusion: str = "mgf",
    density: str = "pixel-aware",
    audio: str = "auto",
    audio_params: dict[str, Any] | None = None,
) -> TrainConfig:
    """A run config with every component chosen by registry name and CPU-sized stages.

    Args:
        speaker: speaker folder.
        output: run output folder.
        args: parsed `add_run_arguments` options.
        fusion: fusion module of both branches (``pgs.fusion`` name).
        density: density strategy of both branches (``pgs.density`` name).
        audio: audio encoder (``pgs.audio_encoders`` name, or ``auto``).
        audio_params: the encoder's parameters.
    """
    total = 2 * args.steps  # static + deform steps of one branch
    # Short runs: refine from a quarter of the steps, and a low opacity-prune ramp (TalkingGaussian's
    # 0.05 -> 0.3 over a few dozen steps would prune Gaussians before they have learnt their opacity).
    refine = {
        "refine_from": max(total // 4, 1),
        "refine_every": max(total // 10, 2),
        "refine_until": max(total - total // 8, 2),
        "prune_opacity_start": 0.01,
        "prune_opacity_end": 0.05,
    }
    finetune = args.finetune if args.finetune is not None else max(args.steps // 4, 1)
    return TrainConfig.model_validate(
        {
            "data": {"folder": str(speaker), "audio": {"name": audio, "params": audio_params or {}}},
            "model": {
                "face": {"num_points": args.points, "fusion": {"name": fusion}},
                "mouth": {"num_points": max(args.points // 2, 1), "fusion": {"name": fusion}},
            },
            "stages": {
                "static_iterations": args.steps,
                "deform_iterations": args.steps,
                "finetune_iterations": finetune,
                "gaussian_lr": {"means": 4e-4, "position_lr_scale": 1.0, "means_decay": 1.0},
            },
            "density": {
                "face": {"name": density, "params": {**refine, "grad_threshold": 2e-4, "max_gaussians": args.budget}},
                "mouth": {"name": density, "params": {**refine, "max_gaussians": max(args.budget // 2, 1)}},
            },
            # LPIPS needs user-supplied AlexNet weights; the examples leave stage 3 at L1 + D-SSIM.
            "loss": {"lpips_weight": 0.0, "branch_background": "frame"},
            "output": str(output),
            "seed": args.seed,
            "log_every": 5,
            "checkpoint_every": 100_000,
            "eval_frames": 8,
        }
    )
