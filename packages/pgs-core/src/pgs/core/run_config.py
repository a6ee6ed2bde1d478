"""Component choices of run configs: a registry name plus parameters, validated against the plugin.

The whole training config (`pgs.core.training.config.TrainConfig`) is built from these.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from pgs.core import groups
from pgs.core.config import ComponentChoice


class AudioEncoderChoice(ComponentChoice):
    """Audio encoder by registry name (group ``pgs.audio_encoders``)."""

    group: ClassVar[str] = groups.AUDIO_ENCODERS
    special_names: ClassVar[frozenset[str]] = frozenset({"auto"})
    name: str = Field("mel", description="Audio encoder name (mel, mfcc, npy, hubert, wav2vec2, ...).")


class FusionChoice(ComponentChoice):
    """Fusion module by registry name (group ``pgs.fusion``)."""

    group: ClassVar[str] = groups.FUSION
    name: str = Field("mgf", description="Fusion module name (mgf, concat-mlp, cross-attention, ...).")


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
