"""Decoding uploaded audio (any container and codec FFmpeg reads) to mono float32 at the engine's rate.

Done here with PyAV rather than through pgs-audio's loader so that this package imports only
pgs-core (the workspace rule); pgs-audio still provides the streaming encoder, by registry name.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from pgs.core.errors import DataError


def decode_audio(path: Path, rate: int) -> tuple[np.ndarray, int]:
    """Read the first audio stream of `path`, resampled to mono float32 at `rate`.

    Returns:
        (samples [S] float32, the file's own sample rate).

    Raises:
        DataError: not a media file, no audio stream, undecodable, no samples, or NaN/inf
            samples (one line, without the server's temporary path).
    """
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise DataError("the file has no audio stream")
            stream = container.streams.audio[0]
            source_rate = int(stream.codec_context.sample_rate or 0)
            if source_rate <= 0:
                raise DataError("the audio stream has no sample rate")
            resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
            parts = []
            for frame in container.decode(stream):
                parts += [out.to_ndarray().reshape(-1) for out in resampler.resample(frame)]
            parts += [out.to_ndarray().reshape(-1) for out in resampler.resample(None)]
    except DataError:
        raise
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise DataError(f"not a readable audio file ({str(reason).split(':')[0].strip()})") from None
    samples = np.concatenate(parts).astype(np.float32, copy=False) if parts else np.zeros(0, np.float32)
    if samples.size == 0:
        raise DataError("the file contains no audio samples")
    if not np.isfinite(samples).all():
        raise DataError("the audio contains NaN or infinite samples")
    return samples, source_rate
