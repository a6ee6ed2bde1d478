"""Audio track: decode with PyAV, resample to 16 kHz mono, write ``aud.wav``, compute features.

Features come from an encoder of the ``pgs.audio_encoders`` registry (pgs-audio) and are saved in
ER-NeRF's file names where one exists (``hubert`` -> ``aud_hu.npy``) and as ``aud_<name>.npy``
otherwise (``aud_mel.npy``, ``aud_mfcc.npy``, ``aud_wav2vec2.npy``), shaped [frames, steps, channels].
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from pgs.core.errors import DataError

SAMPLE_RATE = 16000

#: Encoder name -> feature file name where ER-NeRF/TalkingGaussian fixed one.
FEATURE_FILES: dict[str, str] = {"hubert": "aud_hu.npy", "deepspeech": "aud_ds.npy"}


def feature_file_name(encoder: str) -> str:
    """File name of an encoder's features in the training folder."""
    return FEATURE_FILES.get(encoder, f"aud_{encoder.replace('-', '_')}.npy")


def read_audio(path: str | os.PathLike[str], sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Decode the first audio stream of a media file to mono float32 at `sample_rate`.

    Raises:
        DataError: unreadable file, no audio stream, or no samples.
    """
    import av

    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: audio file not found")
    try:
        container = av.open(str(p))
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"{p}: not a readable audio or video file ({type(exc).__name__}: {exc})") from None
    chunks: list[np.ndarray] = []
    with container:
        if not container.streams.audio:
            raise DataError(f"{p}: has no audio track")
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        try:
            for frame in container.decode(container.streams.audio[0]):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
        except Exception as exc:
            raise DataError(f"{p}: cannot decode audio ({type(exc).__name__}: {exc})") from None
    if not chunks:
        raise DataError(f"{p}: the audio track has no samples")
    return np.clip(np.concatenate(chunks).astype(np.float32), -1.0, 1.0)


def write_wav(path: str | os.PathLike[str], samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    """Write mono 16-bit PCM WAV."""
    import soundfile as sf

    sf.write(str(path), samples, sample_rate, subtype="PCM_16")


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
