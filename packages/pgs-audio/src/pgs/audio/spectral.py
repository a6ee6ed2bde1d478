"""`mel` and `mfcc` encoders: log-mel / MFCC steps at 50 Hz, 16-step windows centred on each frame.

Layout (``[F, 16, C]``, the DeepSpeech layout of ER-NeRF/TalkingGaussian, see `pgs.audio.timing`):
frame ``i`` (shown at ``t_i = i / fps``) holds 16 steps 20 ms apart centred on ``t_i``; step ``k``
is one STFT frame (Hann window of ``win_length`` samples inside ``n_fft``) centred at sample
``round(sr * (t_i + (k - 7.5) * 20 ms))``. Samples outside the audio are zeros. Each step is
computed from its own samples only (no per-file normalisation), which makes the features
shift-equivariant, deterministic and exactly reproducible by the streaming encoder.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torchaudio.functional as AF
import torchaudio.transforms as AT
from pydantic import Field, model_validator
from torch import Tensor, nn

from pgs.audio.base import WaveformEncoder, variant_specs
from pgs.audio.timing import window_centres
from pgs.core.errors import DataError
from pgs.core.interfaces import AudioEncoderConfig, StreamingAudioEncoder
from pgs.core.io.audio import check_sample_rate, check_waveform, frame_count

#: STFT frames computed per batch (bounds memory for long files).
_BATCH = 8192


class MelConfig(AudioEncoderConfig):
    """Settings of the `mel` encoder (defaults: 80 bins at 16 kHz, 50 steps/s, 16-step windows)."""

    sample_rate: int = Field(16000, ge=4000, le=192000, description="Rate (Hz) the audio is resampled to.")
    n_mels: int = Field(80, ge=1, le=512, description="Mel bins (channels).")
    step_rate: float = Field(50.0, gt=0, le=1000, description="Feature steps per second (spacing inside a window).")
    window_steps: int = Field(16, ge=1, le=256, description="Steps per video frame, centred on the frame's time.")
    n_fft: int = Field(512, ge=16, le=16384, description="FFT size of one step (samples).")
    win_length: int = Field(400, ge=16, le=16384, description="Hann window length inside n_fft (400 = 25 ms).")
    f_min: float = Field(0.0, ge=0, description="Lowest mel filter frequency (Hz).")
    f_max: float | None = Field(None, gt=0, description="Highest mel filter frequency (Hz); None: sample_rate / 2.")
    log_floor: float = Field(1e-6, gt=0, description="Added to the mel power before the natural log.")
    mel_scale: Literal["htk", "slaney"] = Field("htk", description="Mel scale formula (torchaudio's option).")

    @model_validator(mode="after")
    def _check(self) -> MelConfig:
        if self.win_length > self.n_fft:
            raise ValueError(f"win_length ({self.win_length}) must not exceed n_fft ({self.n_fft})")
        nyquist = self.sample_rate / 2
        f_max = self.f_max if self.f_max is not None else nyquist
        if f_max > nyquist:
            raise ValueError(f"f_max ({f_max} Hz) exceeds the Nyquist frequency {nyquist} Hz")
        if self.f_min >= f_max:
            raise ValueError(f"f_min ({self.f_min}) must be below f_max ({f_max})")
        return self


class MfccConfig(MelConfig):
    """Settings of the `mfcc` encoder: the `mel` settings plus the number of cepstral coefficients."""

    n_mfcc: int = Field(13, ge=1, le=512, description="Cepstral coefficients kept (channels); <= n_mels.")

    @model_validator(mode="after")
    def _check_mfcc(self) -> MfccConfig:
        if self.n_mfcc > self.n_mels:
            raise ValueError(f"n_mfcc ({self.n_mfcc}) must not exceed n_mels ({self.n_mels})")
        return self


class _StepTransform(nn.Module):
    """[U, n_fft] sample frames -> [U, C] log-mel (or MFCC) vectors, one per frame."""

    def __init__(self, config: MelConfig, n_mfcc: int | None) -> None:
        super().__init__()
        self.mel = AT.MelSpectrogram(
            sample_rate=config.sample_rate,
            n_fft=config.n_fft,
            win_length=config.win_length,
            hop_length=config.n_fft,
            f_min=config.f_min,
            f_max=config.f_max,
            n_mels=config.n_mels,
            center=False,
            power=2.0,
            mel_scale=config.mel_scale,
        )
        self.log_floor = config.log_floor
        dct = AF.create_dct(n_mfcc, config.n_mels, norm="ortho") if n_mfcc else None
        self.register_buffer("dct", dct, persistent=False)

    def forward(self, frames: Tensor) -> Tensor:
        out = torch.log(self.mel(frames)[..., 0] + self.log_floor)  # [U, n_mels]
        if self.dct is not None:
            out = out @ self.dct  # [U, n_mfcc]
        return out


class SpectralEncoder(WaveformEncoder):
    """Log-mel (``mel``) or MFCC (``mfcc``) features in 16-step windows centred on each frame."""

    def __init__(self, config: MelConfig, kind: Literal["mel", "mfcc"]) -> None:
        self.config = config
        self.name = kind
        n_mfcc = config.n_mfcc if isinstance(config, MfccConfig) and kind == "mfcc" else None
        self.layout = f"mel{config.n_mels}" if kind == "mel" else "mfcc"
        self.sample_rate = config.sample_rate
        self.steps = config.window_steps
        self.channels = n_mfcc if n_mfcc else config.n_mels
        self._transform = _StepTransform(config, n_mfcc)

    @property
    def lookahead_seconds(self) -> float:
        """Audio needed after a frame's time ``i / fps`` before its features are final (streaming)."""
        c = self.config
        return (c.window_steps - 1) / 2.0 / c.step_rate + (c.n_fft - c.n_fft // 2) / c.sample_rate

    def centres(self, first: int, count: int) -> Tensor:
        """[count, steps] centre samples of frames ``first .. first+count-1``."""
        c = self.config
        return window_centres(first, count, c.fps, c.sample_rate, c.step_rate, c.window_steps)

    def steps_at(self, waveform: Tensor, offset: int, centres: Tensor) -> Tensor:
        """Features of the steps centred at `centres` (global sample indices).

        Args:
            waveform: [L] samples; ``waveform[j]`` is global sample ``offset + j``; samples
                outside it read as zero.
            offset: global index of ``waveform[0]``.
            centres: [U] int64 global centre samples.

        Returns:
            [U, channels] float32.
        """
        n_fft = self.config.n_fft
        starts = centres.to(waveform.device) - n_fft // 2 - offset  # first sample of each frame
        left = max(0, -int(starts.min()))
        right = max(0, int(starts.max()) + n_fft - waveform.shape[0])
        padded = torch.nn.functional.pad(waveform, (left, right))
        ramp = torch.arange(n_fft, device=waveform.device)
        out = []
        with torch.no_grad():
            for s in range(0, starts.shape[0], _BATCH):
                idx = starts[s : s + _BATCH, None] + left + ramp[None, :]
                out.append(self._transform.to(waveform.device)(padded[idx]))
        return torch.cat(out).to(torch.float32)

    def _features(self, waveform: Tensor, num_frames: int) -> Tensor:
        centres = self.centres(0, num_frames)
        unique, inverse = torch.unique(centres, return_inverse=True)
        values = self.steps_at(waveform, 0, unique)  # [U, C]
        return values[inverse.to(values.device)]  # [F, steps, C]

    def streaming(self, sample_rate: int | None = None) -> SpectralStream:
        """A new incremental encoder, see `SpectralStream`.

        Args:
            sample_rate: rate of the chunks you will push, checked against the encoder's
                `sample_rate` (chunks are not resampled: resampling piecewise would change the features).

        Raises:
            ValueError: `sample_rate` differs from the encoder's.
        """
        if sample_rate is not None:
            _check_stream_rate(sample_rate, self)
        return SpectralStream(self)


class SpectralStream(StreamingAudioEncoder):
    """Incremental `mel`/`mfcc` encoding for real-time driving.

    Feed mono chunks at the encoder's `sample_rate` with `push` (any length, e.g. 20 ms); each call
    returns the features of the video frames completed by then. Frame ``i`` is emitted as soon as
    audio up to ``i / fps + lookahead_seconds`` has arrived (166 ms with the defaults: 150 ms of
    window half-width plus half an FFT), so the delay is bounded. `flush` ends the stream and
    returns the last frames, zero-padded like the offline encoder, for a total of
    ``round(duration * fps)`` frames. The output equals `SpectralEncoder.encode` (to float
    rounding) for every frame.
    """

    def __init__(self, encoder: SpectralEncoder) -> None:
        self.encoder = encoder
        self.sample_rate = encoder.sample_rate
        self._buffer = torch.zeros(0)
        self._offset = 0  # global index of _buffer[0]
        self._received = 0
        self._next = 0
        self._closed = False
        c = encoder.config
        self._reach = math.ceil((c.window_steps - 1) / 2.0 * c.sample_rate / c.step_rate) + c.n_fft

    @property
    def lookahead_seconds(self) -> float:
        """Audio needed after a frame's time before it is emitted."""
        return self.encoder.lookahead_seconds

    @property
    def frames_emitted(self) -> int:
        """Frames returned so far."""
        return self._next

    def _empty(self) -> Tensor:
        return torch.zeros(0, self.encoder.steps, self.encoder.channels)

    def _emit(self, last: int) -> Tensor:
        """Features of frames ``_next .. last-1`` from the buffer."""
        if last <= self._next:
            return self._empty()
        centres = self.encoder.centres(self._next, last - self._next)
        unique, inverse = torch.unique(centres, return_inverse=True)
        values = self.encoder.steps_at(self._buffer, self._offset, unique)
        self._next = last
        # drop samples no later frame can read
        keep_from = int(self.encoder.centres(self._next, 1).min()) - self.encoder.config.n_fft // 2
        drop = min(max(0, keep_from - self._offset), self._buffer.shape[0])
        if drop:
            self._buffer = self._buffer[drop:]
            self._offset += drop
        return values[inverse]

    def push(self, chunk: Tensor) -> Tensor:
        """Add [S] mono samples at `sample_rate`; return [k, steps, channels] for frames completed now.

        Raises:
            DataError: the chunk is not mono or holds NaN/inf, or the stream was flushed.
        """
        if self._closed:
            raise DataError("streaming encoder: push() after flush(); create a new stream with encoder.streaming()")
        if isinstance(chunk, Tensor) and chunk.numel() == 0:
            return self._empty()
        chunk = check_waveform(chunk, self.sample_rate, f"stream chunk at sample {self._received}")
        self._buffer = torch.cat([self._buffer.to(chunk.device), chunk])
        self._received += chunk.shape[0]
        c = self.encoder.config
        # frame i is complete when its last step's FFT frame lies inside the received audio, and
        # it will exist whatever the final length (i < round(received * fps / sr)).
        last = frame_count(self._received, c.sample_rate, c.fps)
        limit = self._next
        while limit < last:
            end = int(self.encoder.centres(limit, 1).max()) - c.n_fft // 2 + c.n_fft
            if end > self._received:
                break
            limit += 1
        return self._emit(limit)

    def flush(self) -> Tensor:
        """End of stream: the remaining frames [k, steps, channels] (audio after the end reads zeros).

        Raises:
            DataError: the whole stream was shorter than one video frame.
        """
        if self._closed:
            return self._empty()
        self._closed = True
        c = self.encoder.config
        if self._received * c.fps < c.sample_rate:
            raise DataError(
                f"streaming encoder: the stream held {self._received / c.sample_rate * 1000:.1f} ms of audio, "
                f"shorter than one video frame ({1000 / c.fps:.1f} ms)"
            )
        return self._emit(frame_count(self._received, c.sample_rate, c.fps))


def _check_stream_rate(sample_rate: int, encoder: SpectralEncoder) -> None:
    rate = check_sample_rate(sample_rate)
    if rate != encoder.sample_rate:
        raise ValueError(
            f"streaming input must be at the encoder's {encoder.sample_rate} Hz, got {rate} Hz; "
            "resample the source (e.g. capture at 16 kHz) or set sample_rate in the encoder config"
        )


MEL_SPEC, MFCC_SPEC = variant_specs(
    SpectralEncoder,
    ("mel", MelConfig, "Log-mel spectrogram (torchaudio), 80 bins at 16 kHz, 16 steps of 20 ms centred on each frame."),
    ("mfcc", MfccConfig, "MFCC (torchaudio DCT of the log-mel), 16 steps of 20 ms centred on each frame."),
)

__all__ = ["MEL_SPEC", "MFCC_SPEC", "MelConfig", "MfccConfig", "SpectralEncoder", "SpectralStream"]
