"""The run config of ``pgs train``: one validated YAML/JSON file for data, model, components, stages.

Defaults follow the paper where it gives a number and TalkingGaussian where it does not (each
field's description says which). ``pgs train --print-config`` prints them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from pgs.core.config import RunSection
from pgs.core.model.talking_head import TalkingHeadConfig
from pgs.core.run_config import AudioEncoderChoice, DensityChoice, RasterizerChoice


class DataSection(RunSection):
    """Where the speaker comes from."""

    folder: Path | None = Field(
        None,
        description="Processed-speaker folder (ER-NeRF / TalkingGaussian layout, or `pgs synth` / `pgs prep` output).",
    )
    audio: AudioEncoderChoice = Field(
        default_factory=lambda: AudioEncoderChoice(name="auto"),
        description=(
            "Audio features: 'auto' (aud_ds.npy / aud_hu.npy / aud.npy if present, else aud.wav through 'mel'), "
            "or an audio encoder name applied to aud.wav."
        ),
    )
    require_aus: bool = Field(
        True, description="Fail without au.csv (TalkingGaussian's behaviour); False uses zero AUs."
    )


class DensitySection(RunSection):
    """Density control strategy per branch (stages 1 and 2)."""

    face: DensityChoice = Field(
        default_factory=lambda: DensityChoice(name="pixel-aware", params={"grad_threshold": 5e-4}),
        description="Face branch strategy (TalkingGaussian face threshold 5e-4).",
    )
    mouth: DensityChoice = Field(
        default_factory=lambda: DensityChoice(name="pixel-aware", params={"grad_threshold": 2e-4}),
        description="Inside-mouth branch strategy (TalkingGaussian mouth threshold 2e-4).",
    )
    order: Literal["before-step", "after-step"] = Field(
        "before-step",
        description=(
            "When a step's density control (statistics, refine) runs: 'before-step' = after backward and before "
            "the optimizer step (3DGS/TalkingGaussian); 'after-step' = after the optimizer step, so the Gaussians "
            "are densified at their updated positions (this toolkit's order before issue 19)."
        ),
    )


class GaussianLearningRates(RunSection):
    """Adam learning rates of the Gaussian parameters (TalkingGaussian / 3DGS; constant, no decay)."""

    means: float = Field(
        1.6e-4,
        gt=0,
        description="Positions: initial LR, multiplied by position_lr_scale (3DGS/TalkingGaussian: 1.6e-4 x extent).",
    )
    means_decay: float = Field(
        0.01,
        gt=0,
        le=1,
        description=(
            "Position LR at the end of a branch's stages 1-2, as a fraction of the initial one; the LR decays "
            "exponentially in between (3DGS: 1.6e-4 -> 1.6e-6, i.e. 0.01; 1 keeps it constant)."
        ),
    )
    position_lr_scale: Literal["scene_extent"] | float = Field(
        "scene_extent",
        description=(
            "Multiplier of the position LR: 'scene_extent' is 3DGS's spatial_lr_scale (1.1 x the largest camera "
            "distance from the cameras' mean), or a positive number (1.0: the LR is in scene units)."
        ),
    )

    @field_validator("position_lr_scale")
    @classmethod
    def _positive_scale(cls, value: Any) -> Any:
        if not isinstance(value, str) and not (0 < value < float("inf")):
            raise ValueError("must be 'scene_extent' or a positive finite number")
        return value
    sh_dc: float = Field(2.5e-3, gt=0, description="SH degree-0 colour (TalkingGaussian 2.5e-3).")
    sh_rest_factor: float = Field(0.05, gt=0, le=1, description="Higher SH bands learn at sh_dc * this (3DGS: 1/20).")
    opacity: float = Field(0.05, gt=0, description="Opacity logits (TalkingGaussian 0.05).")
    scales: float = Field(5e-3, gt=0, description="Log-scales (3DGS 5e-3; TalkingGaussian's softplus scales use 3e-3).")
    quats: float = Field(1e-3, gt=0, description="Raw quaternions (TalkingGaussian 1e-3).")


class NetworkLearningRates(RunSection):
    """AdamW learning rates of the deformation networks (TalkingGaussian's motion-net optimiser)."""

    grid: float = Field(5e-3, gt=0, description="Tri-plane grids (TalkingGaussian 5e-3).")
    audio_attention: float = Field(2.5e-3, gt=0, description="Audio attention net (TalkingGaussian: 5 x net LR).")
    net: float = Field(5e-4, gt=0, description="Audio net, AU net and fusion module (TalkingGaussian 5e-4).")
    weight_decay: float = Field(1e-4, ge=0, description="AdamW weight decay (TalkingGaussian: 1e-4 on attention).")
    schedule: Literal["talkinggaussian", "constant"] = Field(
        "talkinggaussian",
        description=(
            "Decay of these rates over a branch's stages 1-2 (t = step / their steps): 'talkinggaussian' multiplies "
            "them by 0.5^(t/decay_knee) before the knee and 0.1^t after it (its motion-net LambdaLR); 'constant' "
            "keeps them."
        ),
    )
    decay_knee: float = Field(
        0.8,
        gt=0,
        le=1,
        description="Where the 'talkinggaussian' schedule drops to its 0.1^t tail, as a fraction t (TalkingGaussian: "
        "40000 of 50000 steps).",
    )


class StagesSection(RunSection):
    """Iterations of the three stages (Eqs. 11-13). Stages 1-2 run per branch, mouth then face."""

    static_iterations: int = Field(
        3000, ge=0, description="Stage 1, static initialisation per branch (TalkingGaussian warm-up: 3000)."
    )
    deform_iterations: int = Field(
        47000, ge=0, description="Stage 2, deformation per branch (TalkingGaussian: 50000 - 3000)."
    )
    finetune_iterations: int = Field(
        10000, ge=0, description="Stage 3, joint fine-tune of the composite (TalkingGaussian fuse stage: 10000)."
    )
    gaussian_lr: GaussianLearningRates = Field(default_factory=GaussianLearningRates, description="Gaussian LRs.")
    network_lr: NetworkLearningRates = Field(default_factory=NetworkLearningRates, description="Network LRs.")
    finetune_sh_lr: float = Field(2.5e-3, gt=0, description="SH colour LR in stage 3.")
    deform_gaussian_params: tuple[Literal["means", "quats", "log_scales", "opacity_logits", "sh"], ...] = Field(
        ("means", "quats", "log_scales", "opacity_logits", "sh"),
        min_length=1,
        description=(
            "Gaussian parameters trained in stage 2 beside the networks (TalkingGaussian keeps training all of them "
            "after its warm-up; with opacity frozen, the rising opacity-pruning threshold deletes Gaussians that can "
            "no longer become opaque)."
        ),
    )


class LossSection(RunSection):
    """Loss weights of Eqs. 11-13."""

    ssim_weight: float = Field(0.2, ge=0, description="lambda of L1 + lambda D-SSIM (TalkingGaussian: 0.2).")
    lpips_weight: float = Field(
        0.5,
        ge=0,
        description=(
            "gamma of the stage-3 LPIPS term (TalkingGaussian fuse stage: 0.5). Needs the lpips package and its "
            "AlexNet weights; without them stage 3 says so once and runs without LPIPS."
        ),
    )
    lips_weight: float = Field(
        0.0,
        ge=0,
        description=(
            "Weight of an extra L1 term over the box around the lips (landmarks 48-67, grown by a quarter of their "
            "width; the inner-mouth mask's box without landmarks), for the face branch in stages 1-2 and the "
            "composite in stage 3. The lips are a few hundred of the frame's pixels but carry the speech; "
            "TalkingGaussian likewise adds a separate lips-box LPIPS term (0 = off, the paper's loss)."
        ),
    )
    branch_background: Literal["random", "frame"] = Field(
        "random",
        description=(
            "Background behind each branch in stages 1-2: 'random' (a random colour per step; the face learns its "
            "head mask and the mouth its inner-mouth mask, with transparency everywhere else, so no dark background "
            "or mouth cavity can be faked by opaque dark Gaussians) or 'frame' (torso over bc.jpg, with the inner "
            "mouth painted as background in the face target)."
        ),
    )
    lpips_backbone_weights: Path | None = Field(
        None, description="Local AlexNet weight file for LPIPS (else torchvision's cache; nothing is downloaded)."
    )
    lpips_required: bool = Field(
        False,
        description=(
            "Fail at the start of training, naming the missing file, when stage 3 has an LPIPS term but LPIPS "
            "cannot be built (the paper preset sets it; `pgs train --allow-missing-lpips` clears it). False: stage 3 "
            "says so once and runs without LPIPS."
        ),
    )


class TrainConfig(RunSection):
    """A whole training run: data, model, components, stages, losses, output."""

    data: DataSection = Field(default_factory=DataSection, description="Dataset.")
    model: TalkingHeadConfig = Field(
        default_factory=TalkingHeadConfig,
        description="Branches (points, SH degree, tri-planes, fusion plugin by name with params).",
    )
    density: DensitySection = Field(default_factory=DensitySection, description="Density control per branch.")
    rasterizer: RasterizerChoice = Field(default_factory=RasterizerChoice, description="Rasterizer backend.")
    stages: StagesSection = Field(default_factory=StagesSection, description="Stage lengths and learning rates.")
    loss: LossSection = Field(default_factory=LossSection, description="Loss weights.")
    output: Path = Field(Path("runs/train"), description="Output folder (checkpoints, log, curves, report).")
    init: Literal["carved", "random"] = Field(
        "carved",
        description=(
            "Initial Gaussians: 'random' is TalkingGaussian's (uniform in [-init_extent, init_extent]^3, grey); "
            "'carved' keeps random points inside the masks' visual hull, coloured from the frames (fewer steps "
            "to converge, for CPU-sized runs)."
        ),
    )
    mouth_min_pixels: int = Field(
        20,
        ge=0,
        description="Mouth stages sample only frames with at least this many inner-mouth pixels (TalkingGaussian: 20).",
    )
    mouth_alpha_weight: float = Field(
        1e-3, ge=0, description="Mouth alpha prior: opaque inside the mouth box, clear outside (TalkingGaussian: 1e-3)."
    )
    seed: int = Field(0, ge=0, description="Random seed (initial points, frame order, splits).")
    device: str = Field(
        "auto", description="Torch device: auto (CUDA when available, else CPU), cpu, cuda or cuda:N."
    )
    log_every: int = Field(10, gt=0, description="Write a JSONL log record every this many steps.")
    checkpoint_every: int = Field(1000, gt=0, description="Write checkpoints/last.pt every this many steps.")
    eval_frames: int = Field(
        16, ge=1, description="Held-out frames rendered for the PSNR at the end of each stage (evenly spaced)."
    )

    def resolved(self, **updates: Any) -> TrainConfig:
        """A validated copy with `updates` applied to top-level fields."""
        return TrainConfig.model_validate({**self.model_dump(), **updates})


__all__ = [
    "DataSection",
    "DensitySection",
    "GaussianLearningRates",
    "LossSection",
    "NetworkLearningRates",
    "StagesSection",
    "TrainConfig",
]
