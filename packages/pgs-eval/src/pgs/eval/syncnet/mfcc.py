"""MFCCs with python_speech_features 0.6 defaults, as syncnet_python feeds SyncNet.

``mfcc(signal, 16000)`` with the defaults: 25 ms frames every 10 ms (rectangular window), the
last frame zero-padded; pre-emphasis 0.97; power spectrum |rfft(frame, 512)|^2 / 512; 26
triangular mel filters from 0 Hz to the Nyquist frequency on FFT bins
``floor((nfft + 1) * mel2hz(m) / rate)``; natural log; orthonormal DCT-II keeping 13
coefficients; sinusoidal lifter 22; coefficient 0 replaced by the log of the frame's total
spectral energy. Zero energies are replaced by the float64 epsilon before the log.
"""

from __future__ import annotations

import math

import numpy as np


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    """HTK mel scale: 2595 log10(1 + f / 700)."""
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    """Inverse of `hz_to_mel`."""
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(
    nfilt: int, nfft: int, sample_rate: int, low_hz: float = 0.0, high_hz: float | None = None
) -> np.ndarray:
    """Triangular mel filters on FFT bins.

    Returns:
        [nfilt, nfft // 2 + 1] float64 filter weights.
    """
    high_hz = sample_rate / 2 if high_hz is None else high_hz
    if high_hz > sample_rate / 2:
        raise ValueError(f"high_hz {high_hz} exceeds the Nyquist frequency {sample_rate / 2}")
    mels = np.linspace(hz_to_mel(low_hz), hz_to_mel(high_hz), nfilt + 2)
    bins = np.floor((nfft + 1) * mel_to_hz(mels) / sample_rate)
    bank = np.zeros((nfilt, nfft // 2 + 1))
    k = np.arange(nfft // 2 + 1, dtype=np.float64)
    for j in range(nfilt):
        lo, mid, hi = bins[j], bins[j + 1], bins[j + 2]
        rising = (k >= lo) & (k < mid)
        falling = (k >= mid) & (k < hi)
        bank[j, rising] = (k[rising] - lo) / (mid - lo)
        bank[j, falling] = (hi - k[falling]) / (hi - mid)
    return bank


def _round_half_up(x: float) -> int:
    return math.floor(x + 0.5)


def frame_signal(signal: np.ndarray, frame_len: int, frame_step: int) -> np.ndarray:
    """Cut `signal` into overlapping frames, zero-padding the end.

    Returns:
        [T, frame_len] with ``T = 1 + ceil((len - frame_len) / frame_step)`` (1 when shorter than a frame).
    """
    n = len(signal)
    count = 1 if n <= frame_len else 1 + math.ceil((n - frame_len) / frame_step)
    padded = np.concatenate([signal, np.zeros((count - 1) * frame_step + frame_len - n)])
    index = np.arange(frame_len)[None, :] + frame_step * np.arange(count)[:, None]
    return padded[index]


def mfcc(
    signal: np.ndarray,
    sample_rate: int = 16000,
    win_len: float = 0.025,
    win_step: float = 0.01,
    num_cep: int = 13,
    nfilt: int = 26,
    nfft: int = 512,
    preemph: float = 0.97,
    cep_lifter: int = 22,
) -> np.ndarray:
    """MFCCs of a mono signal (python_speech_features 0.6 ``mfcc`` with ``appendEnergy=True``).

    Args:
        signal: [S] samples (syncnet_python passes raw int16 values, not [-1, 1] floats).
        sample_rate: sampling rate in Hz.
        win_len: frame length in seconds.
        win_step: frame step in seconds.
        num_cep: cepstral coefficients kept.
        nfilt: mel filters.
        nfft: FFT size.
        preemph: pre-emphasis coefficient.
        cep_lifter: lifter parameter (0: none).

    Returns:
        [T, num_cep] float64, one row per 10 ms step.
    """
    x = np.asarray(signal, dtype=np.float64).reshape(-1)
    if x.size == 0:
        raise ValueError("mfcc: empty signal")
    x = np.append(x[0], x[1:] - preemph * x[:-1])
    frames = frame_signal(x, _round_half_up(win_len * sample_rate), _round_half_up(win_step * sample_rate))
    power = np.square(np.abs(np.fft.rfft(frames, nfft))) / nfft  # [T, nfft//2+1]
    eps = np.finfo(np.float64).eps
    energy = power.sum(axis=1)
    energy = np.where(energy == 0, eps, energy)
    feat = power @ mel_filterbank(nfilt, nfft, sample_rate).T
    feat = np.log(np.where(feat == 0, eps, feat))
    # orthonormal DCT-II over the filter axis
    n = np.arange(nfilt)
    k = np.arange(num_cep)[:, None]
    basis = np.cos(np.pi * k * (2 * n[None, :] + 1) / (2 * nfilt)) * np.sqrt(2.0 / nfilt)
    basis[0] /= np.sqrt(2.0)
    cep = feat @ basis.T
    if cep_lifter > 0:
        cep = cep * (1.0 + (cep_lifter / 2.0) * np.sin(np.pi * np.arange(num_cep) / cep_lifter))
    cep[:, 0] = np.log(energy)
    return cep


__all__ = ["frame_signal", "hz_to_mel", "mel_filterbank", "mel_to_hz", "mfcc"]
