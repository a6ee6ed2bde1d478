"""Decoding uploaded audio (any container and codec FFmpeg reads) to mono float32 at the engine's rate.

`pgs.core.io.audio` decodes and resamples (pgs-serve imports only pgs-core, the workspace rule);
here its one-line errors lose the server's temporary path, which means nothing to the client.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pgs.core.errors import DataError
from pgs.core.io import audio as core_audio


def decode_audio(path: Path, rate: int) -> tuple[np.ndarray, int]:
    """Read the first audio track of `path`, mixed to mono and resampled to `rate`.

    Returns:
        (samples [S] float32, the file's own sample rate).

    Raises:
        DataError: not a media file, no audio stream, undecodable, no samples, or NaN/inf
            samples (one line, without the server's temporary path).
    """
    try:
        samples, source_rate = core_audio.decode_audio(path)
    except DataError as exc:
        raise DataError(str(exc).removeprefix(f"{path}: ")) from None
    return core_audio.resample_array(samples, source_rate, rate), source_rate


__all__ = ["decode_audio"]
