"""Audio loading and resampling: any audio file or the audio track of a video, as mono float32.

The one audio decoder of the toolkit (pgs-audio, pgs-eval, pgs-prep and `pgs.core.video` use it).

- WAV, FLAC (and the other formats libsndfile reads) go through soundfile; everything else (MP4,
  MOV, M4A, MP3, MKV, ...) goes through PyAV, which bundles its own FFmpeg libraries, so no system
  FFmpeg is needed. `torchaudio.load` is not used (its backends depend on the torchaudio build).
- Channels are mixed to mono by averaging.
- Resampling is FFmpeg's swresample through PyAV's `AudioResampler`, always flushed, and the output
  is cut or zero-padded to exactly ``round(S * new_rate / orig_rate)`` samples (``round(duration x
  rate)``), so a clip's length never depends on the resampler's internal buffering.

Every problem with a file (missing or empty, an image, not audio, no audio track, unsupported
codec, NaN samples) is one single-line `DataError` naming the file; a bad sample-rate argument is a
`TypeError`/`ValueError` naming the argument.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pgs.core.errors import DataError

if TYPE_CHECKING:
    from torch import Tensor

#: Highest sample rate accepted as an argument (Hz); anything above is taken for a mistake.
MAX_SAMPLE_RATE = 768_000

#: PyAV demuxer names of still-image formats (a file of one of these holds no sound by nature).
_IMAGE_FORMATS = ("image2", "png_pipe", "jpeg_pipe", "webp_pipe", "bmp_pipe", "tiff_pipe", "gif", "gif_pipe")


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
        waveform: [S] samples (tensor or numpy array); [1, S] is accepted and squeezed. int16 and
            int32 samples are scaled to [-1, 1).
        sample_rate: its rate in Hz (already validated).
        source: name used in error messages.

    Returns:
        [S] float32 tensor on the input's device.

    Raises:
        DataError: wrong shape, no samples, or non-finite samples (with the first bad time).
        TypeError: not a tensor or array.
    """
    import torch

    if isinstance(waveform, np.ndarray):
        waveform = torch.from_numpy(np.ascontiguousarray(waveform))
    if not isinstance(waveform, torch.Tensor):
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


def resampled_length(num_samples: int, orig_rate: int, new_rate: int) -> int:
    """Samples after resampling: ``round(num_samples * new_rate / orig_rate)``, halves rounded up."""
    return (2 * num_samples * new_rate + orig_rate) // (2 * orig_rate)


def resample_array(samples: np.ndarray, orig_rate: int, new_rate: int) -> np.ndarray:
    """Resample mono float32 samples with FFmpeg's swresample (PyAV), flushed.

    Args:
        samples: [S] float samples.
        orig_rate: their rate in Hz.
        new_rate: the target rate in Hz.

    Returns:
        [round(S * new_rate / orig_rate)] float32 samples (the resampler's tail is flushed, then the
        result is cut or zero-padded to that exact length).
    """
    samples = np.ascontiguousarray(samples, dtype=np.float32).reshape(-1)
    if orig_rate == new_rate:
        return samples
    import av

    want = resampled_length(samples.size, orig_rate, new_rate)
    resampler = av.AudioResampler(format="flt", layout="mono", rate=new_rate)
    frame = av.AudioFrame.from_ndarray(samples[None], format="flt", layout="mono")
    frame.sample_rate = orig_rate
    frame.pts = None
    blocks = [out.to_ndarray().reshape(-1) for out in resampler.resample(frame)]
    blocks += [out.to_ndarray().reshape(-1) for out in resampler.resample(None)]
    out = np.concatenate(blocks).astype(np.float32, copy=False) if blocks else np.zeros(0, np.float32)
    if out.size < want:
        out = np.concatenate([out, np.zeros(want - out.size, np.float32)])
    return np.ascontiguousarray(out[:want])


def resample(waveform: Tensor, orig_rate: int, new_rate: int) -> Tensor:
    """Resample a [S] float waveform (see `resample_array`); the result stays on the input's device.

    Returns:
        [round(S * new_rate / orig_rate)] float32 tensor.
    """
    import torch

    if orig_rate == new_rate:
        return waveform
    if waveform.dim() != 1:
        raise DataError(f"resample: waveform must be mono [samples], got shape {list(waveform.shape)}")
    out = resample_array(waveform.detach().cpu().numpy(), int(orig_rate), int(new_rate))
    return torch.from_numpy(out).to(waveform.device)


def _read_soundfile(path: Path) -> tuple[np.ndarray, int] | str:
    """[channels, S] float32 and rate via libsndfile, or the reason it failed."""
    import soundfile as sf

    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.SoundFileError, RuntimeError, TypeError, ValueError) as exc:
        return str(exc).replace(f"'{path}'", "the file").strip()
    return np.ascontiguousarray(data.T), int(rate)


def _av_reason(exc: Exception) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return str(text).split(":")[0].strip() or type(exc).__name__


def _no_audio_error(path: Path, container: Any) -> DataError:
    """The one-line error for a file PyAV opens that has no audio stream (an image says so)."""
    format_name = str(getattr(container.format, "name", ""))
    if any(name in format_name.split(",") for name in _IMAGE_FORMATS):
        return DataError(f"{path}: the file is an image ({format_name}), not audio or a video with sound")
    kinds = sorted({s.type for s in container.streams}) or ["no streams"]
    return DataError(
        f"{path}: the file has no audio track (it holds: {', '.join(kinds)}); "
        "give a file with sound, or the audio extracted from the video"
    )


def _decode_pyav(path: Path) -> tuple[np.ndarray, int]:
    """[channels, S] float32 and rate of the first audio track via PyAV, resampler flushed."""
    import av

    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"{path}: cannot read audio, not an audio or video file ({_av_reason(exc)})") from None
    with container:
        if not container.streams.audio:
            raise _no_audio_error(path, container)
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
                blocks += [out.to_ndarray().astype(np.float32, copy=False) for out in resampler.resample(frame)]
            if resampler is not None:  # the flush: the resampler's buffered tail
                blocks += [out.to_ndarray().astype(np.float32, copy=False) for out in resampler.resample(None)]
        except av.error.FFmpegError as exc:
            raise DataError(
                f"{path}: cannot decode the {codec!r} audio track ({_av_reason(exc)}); "
                "the codec is unsupported or the data is corrupt: convert it to WAV or FLAC first"
            ) from None
    if not blocks:
        raise DataError(f"{path}: the audio track ({codec}) contains no samples")
    return np.concatenate(blocks, axis=1), rate


def decode_audio(path: str | Path, sample_rate: int | None = None) -> tuple[np.ndarray, int]:
    """Decode a file's audio as mono float32 numpy samples, optionally resampled.

    Args:
        path: an audio file (WAV, FLAC, MP3, M4A, ...) or a video with an audio track (MP4, MOV, MKV).
        sample_rate: target rate in Hz; None keeps the file's rate.

    Returns:
        (samples [S] float32 mono in [-1, 1], sample rate).

    Raises:
        DataError: missing, empty, an image, not audio, no audio track, unsupported codec, no
            samples or NaN/infinite samples; one line naming the file.
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
    data, rate = _decode_pyav(path) if isinstance(result, str) else result
    if data.shape[1] == 0:
        raise DataError(f"{path}: the file contains no audio samples")
    if rate <= 0:
        raise DataError(f"{path}: invalid sample rate {rate} in the file")
    samples = data.mean(axis=0, dtype=np.float32) if data.shape[0] > 1 else data[0]
    finite = np.isfinite(samples)
    if not finite.all():
        bad = int(np.argmin(finite))
        raise DataError(
            f"{path}: the audio contains {int((~finite).sum())} NaN or infinite sample(s), the first at "
            f"sample {bad} ({bad / rate:.3f} s)"
        )
    if target is not None and target != rate:
        samples = resample_array(samples, rate, target)
    return np.ascontiguousarray(samples, dtype=np.float32), target or rate


def load_audio(path: str | Path, sample_rate: int | None = None) -> tuple[Tensor, int]:
    """Load a file's audio as a mono float32 tensor, optionally resampled (see `decode_audio`).

    Returns:
        (waveform [S] float32 mono in [-1, 1], sample rate).

    Raises:
        DataError: as `decode_audio`; the message names the file.
        TypeError, ValueError: a bad `sample_rate` argument.
    """
    import torch

    samples, rate = decode_audio(path, sample_rate)
    return torch.from_numpy(samples), rate


def write_wav(path: str | Path, samples: np.ndarray, sample_rate: int, subtype: str = "PCM_16") -> Path:
    """Write mono samples as a WAV file atomically (samples are clipped to [-1, 1] first).

    Args:
        path: destination ``.wav``.
        samples: [S] float samples.
        sample_rate: their rate in Hz.
        subtype: libsndfile subtype (``PCM_16``, ``FLOAT``, ...).
    """
    import soundfile as sf

    from pgs.core.io.atomic import atomic_write_bytes

    buffer = io.BytesIO()
    data = np.clip(np.asarray(samples, dtype=np.float32).reshape(-1), -1.0, 1.0)
    sf.write(buffer, data, int(sample_rate), subtype=subtype, format="WAV")
    return atomic_write_bytes(path, buffer.getvalue())


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
    "decode_audio",
    "frame_count",
    "load_audio",
    "resample",
    "resample_array",
    "resampled_length",
    "write_wav",
]
