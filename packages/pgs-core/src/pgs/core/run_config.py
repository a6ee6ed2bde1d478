"""The run config: one validated file that picks every component by registry name.

This module holds the component choices shared by every command. The trainer adds its stage
schedules and loss weights as further sections.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field

from pgs.core import groups
from pgs.core.config import ComponentChoice, RunSection


class AudioEncoderChoice(ComponentChoice):
    """Audio encoder by registry name (group ``pgs.audio_encoders``)."""

    group: ClassVar[str] = groups.AUDIO_ENCODERS
    name: str = Field("mel", description="Audio encoder name (mel, mfcc, npy, hubert, wav2vec2, ...).")


class FusionChoice(ComponentChoice):
    """Fusion module by registry name (group ``pgs.fusion``)."""

    group: ClassVar[str] = groups.FUSION
    name: str = Field("mgf", description="Fusion module name (mgf, concat-mlp, cross-attention, ...).")


class FusionSection(RunSection):
    """Fusion modules of the two branches."""

    face: FusionChoice = Field(default_factory=FusionChoice, description="Fusion of the face branch.")
    mouth: FusionChoice = Field(default_factory=FusionChoice, description="Fusion of the inside-mouth branch.")


class DensityChoice(ComponentChoice):
    """Density strategy by registry name (group ``pgs.density``)."""

    group: ClassVar[str] = groups.DENSITY
    name: str = Field("pixel-aware", description="Density strategy name (gradient, pixel-aware).")


class RasterizerChoice(ComponentChoice):
    """Rasterizer backend by registry name (group ``pgs.rasterizers``)."""

    group: ClassVar[str] = groups.RASTERIZERS
    special_names: ClassVar[frozenset[str]] = frozenset({"auto"})
    name: str = Field(
        "auto",
        description="Backend name: torch, cpu, gsplat, or auto (gsplat on CUDA, else cpu if installed, else torch).",
    )


class RunConfig(RunSection):
    """A whole run: data, components, output."""

    data: Path | None = Field(None, description="Processed-speaker folder (ER-NeRF / TalkingGaussian layout).")
    output: Path = Field(Path("runs/run"), description="Output folder for checkpoints, logs and renders.")
    seed: int = Field(0, ge=0, description="Random seed.")
    device: str = Field("cpu", description="Torch device, e.g. cpu or cuda:0.")
    audio_encoder: AudioEncoderChoice = Field(default_factory=AudioEncoderChoice, description="Audio encoder.")
    fusion: FusionSection = Field(default_factory=FusionSection, description="Fusion modules per branch.")
    density: DensityChoice = Field(default_factory=DensityChoice, description="Density control strategy.")
    rasterizer: RasterizerChoice = Field(default_factory=RasterizerChoice, description="Rasterizer backend.")
