"""Audio loading: re-exported from `pgs.core.io.audio`, the toolkit's one audio decoder.

Kept so that ``pgs.audio.io`` and ``pgs.audio.load_audio`` stay importable; new code imports
`pgs.core.io.audio` directly.
"""

from __future__ import annotations

from pgs.core.io.audio import (
    MAX_SAMPLE_RATE,
    check_duration,
    check_sample_rate,
    check_waveform,
    frame_count,
    load_audio,
    resample,
)

__all__ = [
    "MAX_SAMPLE_RATE",
    "check_duration",
    "check_sample_rate",
    "check_waveform",
    "frame_count",
    "load_audio",
    "resample",
]
