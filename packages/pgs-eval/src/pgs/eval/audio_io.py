"""Reading driving waveforms for LSE (soundfile for WAV/FLAC/OGG, PyAV for everything else)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from pgs.core.errors import DataError


def read_waveform(path: str | Path) -> tuple[Tensor, int]:
    """Read an audio file (or the audio track of a video) as mono float32.

    Args:
        path: WAV, FLAC, OGG (soundfile) or anything PyAV decodes (MP3, M4A, MP4, ...).

    Returns:
        ([S] waveform in [-1, 1], sample rate).

    Raises:
        DataError: missing, unreadable, empty or without an audio stream.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: audio file not found")
    errors: list[str] = []
    try:
        import soundfile

        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
        return _finish(path, data.mean(axis=1), int(rate))
    except DataError:
        raise
    except Exception as exc:  # soundfile raises LibsndfileError / RuntimeError for unknown formats
        errors.append(f"soundfile: {exc}")
    try:
        import av

        chunks: list[np.ndarray] = []
        rate = 0
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise DataError(f"{path}: no audio stream")
            stream = container.streams.audio[0]
            rate = int(stream.rate or 0)
            resampler = av.AudioResampler(format="flt", layout="mono", rate=rate or None)
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
        if not chunks:
            raise DataError(f"{path}: the audio stream holds no samples")
        return _finish(path, np.concatenate(chunks), rate)
    except DataError:
        raise
    except Exception as exc:  # PyAV raises InvalidDataError and others
        errors.append(f"PyAV: {exc}")
    raise DataError(f"{path}: cannot read audio ({'; '.join(errors)})")


def _finish(path: Path, samples: np.ndarray, rate: int) -> tuple[Tensor, int]:
    if rate <= 0:
        raise DataError(f"{path}: unknown sample rate")
    if samples.size == 0:
        raise DataError(f"{path}: the audio holds no samples")
    if not np.isfinite(samples).all():
        raise DataError(f"{path}: the audio holds NaN or infinite samples")
    return torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32)), rate


__all__ = ["read_waveform"]
