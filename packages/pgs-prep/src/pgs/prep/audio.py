"""Audio track: features of the 16 kHz mono ``aud.wav`` (decoding and writing: `pgs.core.io.audio`).

Features come from an encoder of the ``pgs.audio_encoders`` registry (pgs-audio) and are saved in
ER-NeRF's file names where one exists (``hubert`` -> ``aud_hu.npy``) and as ``aud_<name>.npy``
otherwise (``aud_mel.npy``, ``aud_mfcc.npy``, ``aud_wav2vec2.npy``), shaped [frames, steps, channels].
"""

from __future__ import annotations

import os

import numpy as np

from pgs.core.data.layouts import ENCODER_FILES, feature_file_name
from pgs.core.io import audio as core_audio

SAMPLE_RATE = 16000

#: Encoder name -> feature file name where ER-NeRF/TalkingGaussian fixed one (`pgs.core.data.layouts`).
FEATURE_FILES = ENCODER_FILES


def read_audio(path: str | os.PathLike[str], sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """[S] mono float32 samples of a media file's first audio track at `sample_rate`.

    `pgs.core.io.audio.decode_audio` with prep's default rate, clipped to [-1, 1].

    Raises:
        DataError: unreadable file, no audio track, or no samples (one line naming the file).
    """
    return np.clip(core_audio.decode_audio(path, sample_rate)[0], -1.0, 1.0)


def write_wav(path: str | os.PathLike[str], samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    """Write mono 16-bit PCM WAV (`pgs.core.io.audio.write_wav` with prep's default rate)."""
    core_audio.write_wav(path, samples, sample_rate)


def compute_features(name: str, samples: np.ndarray, sample_rate: int, fps: float, source: str) -> np.ndarray:
    """Per-video-frame features from the ``pgs.audio_encoders`` encoder `name`.

    Returns:
        [F, steps, channels] float32.

    Raises:
        PluginError: the encoder is not installed (the message says which package provides it).
    """
    import torch

    from pgs.core.groups import AUDIO_ENCODERS
    from pgs.core.registry import registry

    reg = registry(AUDIO_ENCODERS)
    spec = reg.get(name)
    params = {"fps": fps} if "fps" in spec.config_class.model_fields else {}
    encoder = reg.create(name, params)
    feats = encoder.encode(torch.from_numpy(np.ascontiguousarray(samples)), sample_rate, source)
    return feats.features.detach().cpu().numpy().astype(np.float32)


__all__ = ["FEATURE_FILES", "SAMPLE_RATE", "compute_features", "feature_file_name", "read_audio", "write_wav"]
