"""Shared plumbing of the encoders: pgs-core's template `WaveformEncoder`, and `variant_specs`.

`variant_specs` registers an encoder class that serves several registry names (``mel``/``mfcc``,
``hubert``/``wav2vec2``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from pgs.core.groups import AUDIO_ENCODERS
from pgs.core.interfaces import AudioEncoder, WaveformEncoder
from pgs.core.registry import ComponentSpec


@dataclass(frozen=True)
class VariantFactory:
    """Builds ``encoder_class(config, variant)``: the factory of one variant of a multi-variant encoder.

    Attributes:
        encoder_class: takes the validated config and the variant name.
        variant: the registry name, e.g. ``"mel"``.
    """

    encoder_class: Callable[[Any, str], AudioEncoder]
    variant: str

    def __call__(self, config: Any) -> AudioEncoder:
        """Build the encoder for `config`."""
        return self.encoder_class(config, self.variant)


def variant_specs(
    encoder_class: Callable[[Any, str], AudioEncoder], *variants: tuple[str, type[BaseModel], str]
) -> tuple[ComponentSpec[Any, AudioEncoder], ...]:
    """One `ComponentSpec` (group ``pgs.audio_encoders``) per ``(name, config_class, description)``.

    Each spec's factory is ``VariantFactory(encoder_class, name)``.
    """
    return tuple(
        ComponentSpec(name, AUDIO_ENCODERS, config_class, VariantFactory(encoder_class, name), description)
        for name, config_class, description in variants
    )


__all__ = ["VariantFactory", "WaveformEncoder", "variant_specs"]
