"""One-call helpers over the `pgs.audio_encoders` registry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pgs.core.groups import AUDIO_ENCODERS
from pgs.core.interfaces import AudioEncoder, AudioFeatures
from pgs.core.registry import registry


def create_encoder(encoder: str = "mel", fps: float = 25.0, **params: Any) -> AudioEncoder:
    """Build a registered audio encoder by name (``mel``, ``mfcc``, ``npy``, ``hubert``, ``wav2vec2``)."""
    return registry(AUDIO_ENCODERS).create(encoder, {"fps": fps, **params})


def encode_file(path: str | Path, encoder: str = "mel", fps: float = 25.0, **params: Any) -> AudioFeatures:
    """Encode an audio or video file's sound into features aligned to `fps` video frames.

    Args:
        path: audio/video file (or a ``.npy`` with ``encoder="npy"``).
        encoder: registry name of the encoder.
        fps: video frame rate.
        **params: the encoder's config fields (e.g. ``n_mels=40``, ``weights="hubert.pth"``).

    Returns:
        `AudioFeatures` [round(duration * fps), steps, channels].
    """
    return create_encoder(encoder, fps, **params).encode_file(path)


__all__ = ["create_encoder", "encode_file"]
