"""Audio loading: any WAV/FLAC file or the audio track of a video, as mono float32 at a chosen rate.

WAV, FLAC (and the other formats libsndfile reads) go through soundfile; everything else (MP4,
MOV, M4A, MP3, MKV, ...) goes through PyAV, which bundles its own FFmpeg libraries, so no system
FFmpeg is needed. Channels are mixed to mono by averaging; resampling uses
`torchaudio.functional.resample` (windowed-sinc, deterministic).

Every problem (missing or empty file, not audio, no audio track, unsupported codec, NaN samples,
a bad sample-rate argument) is one `DataError` (or `ValueError` for arguments) naming the file.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from pgs.core.errors import DataError

#: Highest sample rate accepted as an argument (Hz); anything above is taken for a mistake.
MAX_SAMPLE_RATE = 768_000


def check_sample_rate(sample_rate: object, name: str = "sample_rate") -> int:
    """Validate a sample-rate argument and return it as an int.

    Raises:
        TypeError: not an integer (floats with a fractional part, strings, bools).
        ValueError: not in 1 .. `MAX_SAMPLE_RATE` Hz.
    """
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be an integer number of Hz, got {type(sample_rate).__name__} {sample_rate!r}")
    if isinstance(sample_rate, (float, np.floating)) and not float(sample_rate).is_integer():
        raise TypeError(f"{name} must be an integer number of Hz, got {sample_rate!r}")
    rate = int(sample_rate)
    if not 0 < rate <= MAX_SAMPLE_RATE:
        raise ValueError(f"{name} must be between 1 and {MAX_SAMPLE_RATE} Hz, got {sample_rate!r}")
    return rate


def check_waveform(waveform: object, sample_rate: int, source: str = "<array>") -> Tensor:
    """Validate a mono waveform and return it as a float32 tensor.

    Args:
        waveform: [S] samples (tensor or numpy array); [1, S] is accepted and squeezed.
        sample_rate: its rate in Hz (already validated).
        source: name used in error messages.

    Returns:
        [S] float32 tensor on the input's device.

    Raises:
        DataError: wrong shape, no samples, or non-finite samples (with the first bad time).
        TypeError: not a tensor or array.
    """
    if isinstance(waveform, np.ndarray):
        waveform = torch.from_numpy(np.ascontiguousarray(waveform))
    if not isinstance(waveform, Tensor):
        raise TypeError(f"{source}: waveform must be a torch.Tensor or numpy array, got {type(waveform).__name__}")
    if waveform.dim() == 2 and waveform.shape[0] == 1:
        waveform = waveform[0]
    if waveform.dim() != 1:
        raise DataError(
            f"{source}: waveform must be mono [samples] (mix channels first, e.g. with load_audio), "
            f"got shape {list(waveform.shape)}"
        )
    if not (waveform.is_floating_point() or waveform.dtype in (torch.int16, torch.int32)):
        raise DataError(f"{source}: waveform dtype {waveform.dtype} is not audio samples")
    if waveform.dtype == torch.int16:
        waveform = waveform.float() / 32768.0
    elif waveform.dtype == torch.int32:
        waveform = waveform.float() / 2147483648.0
    if waveform.numel() == 0:
        raise DataError(f"{source}: the audio has no samples")
    finite = torch.isfinite(waveform)
    if not bool(finite.all()):
        bad = int((~finite).nonzero()[0, 0])
        count = int((~finite).sum())
        raise DataError(
            f"{source}: the audio contains {count} NaN or infinite sample(s), the first at sample {bad} "
            f"({bad / sample_rate:.3f} s)"
        )
    return waveform.to(torch.float32)


def resample(waveform: Tensor, orig_rate: int, new_rate: int) -> Tensor:
    """Resample [S] (or [..., S]) audio with torchaudio's windowed-sinc resampler."""
    if orig_rate == new_rate:
        return waveform
    import torchaudio.functional as AF

    return AF.resample(waveform, orig_rate, new_rate)


def _read_soundfile(path: Path) -> tuple[np.ndarray, int] | str:
    """[channels, S] float32 and rate via libsndfile, or the reason it failed."""
    import soundfile as sf

    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.SoundFileError, RuntimeError, TypeError, ValueError) as exc:
        return str(exc).replace(f"'{path}'", "the file").strip()
    return np.ascontiguousarray(data.T), int(rate)


def _read_pyav(path: Path) -> tuple[np.ndarray, int]:
    """[channels, S] float32 and rate of the first audio track via PyAV (FFmpeg libraries)."""
    import av

    try:
        container = av.open(str(path))
    except av.error.FFmpegError as exc:
        raise DataError(f"{path}: not an audio or video file that can be read ({_av_reason(exc)})") from None
    with container:
        if not container.streams.audio:
            kinds = sorted({s.type for s in container.streams}) or ["no streams"]
            raise DataError(
                f"{path}: the file has no audio track (it holds: {', '.join(kinds)}); "
                "give a file with sound, or the audio extracted from the video"
            )
        stream = container.streams.audio[0]
        ctx = stream.codec_context
        if ctx is None:
            tag = getattr(stream, "codec_tag", "") or "unknown"
            raise DataError(
                f"{path}: unsupported audio codec (tag {tag!r}) that neither libsndfile nor FFmpeg can decode; "
                "convert it to WAV or FLAC (PCM) first"
            )
        codec = ctx.name
        resampler = None
        blocks: list[np.ndarray] = []
        rate = 0
        try:
            for frame in container.decode(stream):
                if resampler is None:
                    rate = int(frame.sample_rate)
                    resampler = av.AudioResampler(format="fltp", layout=frame.layout.name, rate=rate)
                for out in resampler.resample(frame):
                    blocks.append(out.to_ndarray().astype(np.float32, copy=False))
            if resampler is not None:
                for out in resampler.resample(None):
                    blocks.append(out.to_ndarray().astype(np.float32, copy=False))
        except av.error.FFmpegError as exc:
            raise DataError(
                f"{path}: cannot decode the {codec!r} audio track ({_av_reason(exc)}); "
                "the codec is unsupported or the data is corrupt: convert it to WAV or FLAC first"
            ) from None
    if not blocks:
        raise DataError(f"{path}: the audio track ({codec}) contains no samples")
    return np.concatenate(blocks, axis=1), rate


def _av_reason(exc: Exception) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return str(text).split(":")[0].strip() or type(exc).__name__


def load_audio(path: str | Path, sample_rate: int | None = None) -> tuple[Tensor, int]:
    """Load a file's audio as mono float32, optionally resampled.

    Args:
        path: an audio file (WAV, FLAC, MP3, M4A, ...) or a video with an audio track (MP4, MOV, MKV).
        sample_rate: target rate in Hz; None keeps the file's rate.

    Returns:
        (waveform [S] float32 mono in [-1, 1], sample rate).

    Raises:
        DataError: missing, empty, not audio, no audio track, unsupported codec, no samples or
            NaN/infinite samples; the message names the file.
        TypeError, ValueError: a bad `sample_rate` argument.
    """
    target = None if sample_rate is None else check_sample_rate(sample_rate)
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found")
    if not path.is_file():
        raise DataError(f"{path}: not a file")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty (0 bytes)")
    result = _read_soundfile(path)
    if isinstance(result, str):
        data, rate = _read_pyav(path)
    else:
        data, rate = result
    if data.shape[1] == 0:
        raise DataError(f"{path}: the file contains no audio samples")
    if rate <= 0:
        raise DataError(f"{path}: invalid sample rate {rate} in the file")
    waveform = torch.from_numpy(data).mean(dim=0)
    waveform = check_waveform(waveform, rate, str(path))
    if target is not None and target != rate:
        waveform = resample(waveform, rate, target)
    return waveform.contiguous(), target or rate


def frame_count(num_samples: int, sample_rate: int, fps: float) -> int:
    """Video frames covered by audio: ``round(duration * fps)``, halves rounded up.

    ``duration = num_samples / sample_rate``; computed as ``floor(duration * fps + 0.5)``.
    """
    return math.floor(num_samples * float(fps) / sample_rate + 0.5)


def check_duration(num_samples: int, sample_rate: int, fps: float, source: str) -> int:
    """Return `frame_count`, raising `DataError` if the audio is shorter than one video frame."""
    if num_samples * float(fps) < sample_rate:
        raise DataError(
            f"{source}: the audio is {num_samples / sample_rate * 1000:.1f} ms long, shorter than one video "
            f"frame ({1000 / fps:.1f} ms at {fps:g} fps)"
        )
    return frame_count(num_samples, sample_rate, fps)


__all__ = [
    "MAX_SAMPLE_RATE",
    "check_duration",
    "check_sample_rate",
    "check_waveform",
    "frame_count",
    "load_audio",
    "resample",
]
