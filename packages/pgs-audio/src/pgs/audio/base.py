"""Shared plumbing of waveform encoders: argument checks, frame count, resampling, provenance."""

from __future__ import annotations

from abc import abstractmethod
from pathlib import Path

from torch import Tensor

from pgs.core.interfaces import AudioEncoder, AudioEncoderConfig, AudioFeatures
from pgs.core.io.audio import check_duration, check_sample_rate, check_waveform, load_audio, resample


class WaveformEncoder(AudioEncoder):
    """An `AudioEncoder` that computes features from the waveform itself.

    Subclasses set `name`, `layout`, `sample_rate`, `steps`, `channels` and implement
    `_features`; this class validates input, counts frames (``round(duration * fps)``, from the
    duration at the input rate), resamples to `sample_rate` and wraps the result.
    """

    config: AudioEncoderConfig

    @property
    def fps(self) -> float:
        """Video frame rate the features are aligned to."""
        return float(self.config.fps)

    def encode(self, waveform: Tensor, sample_rate: int, source: str = "<array>") -> AudioFeatures:
        """Encode [S] mono audio at `sample_rate` into [F, steps, channels] features.

        Raises:
            DataError: empty, non-finite or too-short audio (shorter than one video frame).
            TypeError, ValueError: a bad `sample_rate`.
        """
        rate = check_sample_rate(sample_rate)
        wave = check_waveform(waveform, rate, source)
        num_frames = check_duration(wave.shape[0], rate, self.fps, source)
        wave = resample(wave, rate, self.sample_rate)
        features = self._features(wave, num_frames)
        return AudioFeatures(features, self.fps, self.name, self.layout, source)

    def encode_file(self, path: str | Path) -> AudioFeatures:
        """Load an audio or video file's audio track (mono) and encode it."""
        wave, rate = load_audio(path)
        return self.encode(wave, rate, str(path))

    @abstractmethod
    def _features(self, waveform: Tensor, num_frames: int) -> Tensor:
        """[S] float32 audio at `sample_rate` -> [num_frames, steps, channels] float32."""


__all__ = ["WaveformEncoder"]
