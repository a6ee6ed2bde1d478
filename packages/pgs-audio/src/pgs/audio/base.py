"""Shared plumbing of waveform encoders: the template `WaveformEncoder` of pgs-core, re-exported."""

from pgs.core.interfaces import WaveformEncoder

__all__ = ["WaveformEncoder"]
