from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from pgs_audio_testkit import SPEECH_MP4, SPEECH_WAV, round_half_up, speechlike

from pgs.audio import create_encoder, encode_file
from pgs.audio.spectral import MEL_SPEC, MFCC_SPEC, MelConfig, MfccConfig, SpectralEncoder
from pgs.core.errors import DataError
from pgs.core.testing.shared import need


def _htk_fbank(n_freqs: int, n_mels: int, sr: int, f_min: float, f_max: float) -> np.ndarray:
    """Independent float64 HTK triangular mel filterbank [n_freqs, n_mels] (no area normalisation)."""
    def mel(f: np.ndarray) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + f / 700.0)

    freqs = np.linspace(0, sr / 2, n_freqs)
    edges = 700.0 * (10 ** (np.linspace(mel(np.array(f_min)), mel(np.array(f_max)), n_mels + 2) / 2595.0) - 1.0)
    bank = np.zeros((n_freqs, n_mels))
    for m in range(n_mels):
        lo, mid, hi = edges[m], edges[m + 1], edges[m + 2]
        rise = (freqs - lo) / (mid - lo)
        fall = (hi - freqs) / (hi - mid)
        bank[:, m] = np.maximum(0, np.minimum(rise, fall))
    return bank


def _reference_window(wave: np.ndarray, frame: int, fps: float, sr: int = 16000, mfcc: int = 0) -> np.ndarray:
    """[16, C] log-mel (or MFCC) of frame `frame`: steps centred at t_i + (k - 7.5) * 20 ms, zero samples outside."""
    n_fft, win = 512, 400
    hann = np.zeros(n_fft)
    periodic = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(win) / win)
    hann[(n_fft - win) // 2 : (n_fft - win) // 2 + win] = periodic
    bank = _htk_fbank(n_fft // 2 + 1, 80, sr, 0.0, sr / 2)
    rows = []
    for k in range(16):
        centre = int(np.floor(sr * (frame / fps + (k - 7.5) / 50) + 0.5))
        start = centre - n_fft // 2
        seg = np.zeros(n_fft)
        lo, hi = max(start, 0), min(start + n_fft, len(wave))
        if hi > lo:
            seg[lo - start : hi - start] = wave[lo:hi]
        power = np.abs(np.fft.rfft(seg * hann)) ** 2
        rows.append(np.log(power @ bank + 1e-6))
    out = np.stack(rows)
    if mfcc:
        n = np.arange(80)
        dct = np.cos(np.pi / 80 * (n[:, None] + 0.5) * np.arange(mfcc)[None, :]) * np.sqrt(2 / 80)
        dct[:, 0] /= np.sqrt(2)
        out = out @ dct
    return out


@pytest.mark.parametrize("fps", [25.0, 30.0, 29.97])
@pytest.mark.parametrize("kind", ["mel", "mfcc"])
def test_features_match_independent_float64_reference(fps: float, kind: str) -> None:
    wave = speechlike(1.0, seed=4)
    enc = MEL_SPEC.factory(MelConfig(fps=fps)) if kind == "mel" else MFCC_SPEC.factory(MfccConfig(fps=fps))
    feats = enc.encode(wave, 16000)
    frames = feats.num_frames
    assert frames == round_half_up(16000, 16000, fps)
    for i in (0, 1, frames // 2, frames - 1):  # edges included: zero samples outside the audio
        ref = _reference_window(wave.double().numpy(), i, fps, mfcc=13 if kind == "mfcc" else 0)
        np.testing.assert_allclose(feats.features[i].numpy(), ref, rtol=1e-4, atol=2e-3)


def test_window_layout_at_25fps_is_the_deepspeech_layout() -> None:
    # a 50 Hz step sequence s_m (centred at 20 m + 10 ms); frame i's window = s_{2i-8} .. s_{2i+7}
    wave = speechlike(2.0, seed=5)
    enc = MEL_SPEC.factory(MelConfig())
    feats = enc.encode(wave, 16000).features
    seq = enc.steps_at(wave, 0, torch.arange(100) * 320 + 160)  # [100, 80]
    for i in range(4, 46):
        torch.testing.assert_close(feats[i], seq[2 * i - 8 : 2 * i + 8])


@settings(max_examples=25, deadline=None)
@given(
    samples=st.integers(min_value=0, max_value=5 * 16000),
    fps=st.floats(min_value=5.0, max_value=120.0, allow_nan=False),
    kind=st.sampled_from(["mel", "mfcc"]),
)
def test_frame_count_is_round_duration_times_fps(samples: int, fps: float, kind: str) -> None:
    samples += int(np.ceil(16000 / fps))  # at least one frame long
    enc = create_encoder(kind, fps=fps)
    feats = enc.encode(speechlike(samples / 16000 + 0.01)[:samples], 16000)
    assert feats.num_frames == round_half_up(samples, 16000, fps)
    assert feats.features.shape[1:] == (16, 80 if kind == "mel" else 13)


@settings(max_examples=15, deadline=None)
@given(
    k=st.integers(min_value=1, max_value=12),
    fps=st.sampled_from([20.0, 25.0, 32.0, 40.0, 50.0]),
    kind=st.sampled_from(["mel", "mfcc"]),
    rate=st.sampled_from([16000, 48000]),
)
def test_shifting_audio_by_k_frames_shifts_features_by_k(k: int, fps: float, kind: str, rate: int) -> None:
    enc = create_encoder(kind, fps=fps)
    wave = speechlike(3.0, rate, seed=k)
    shift = int(rate * k / fps)
    base = enc.encode(wave, rate).features
    advanced = enc.encode(wave[shift:], rate).features  # the audio starts k frames later in the original
    margin = 9  # window half-width (8 frames at 50 fps) + 1; resampling edge effects stay inside it
    n = advanced.shape[0] - 2 * margin
    torch.testing.assert_close(advanced[margin : margin + n], base[margin + k : margin + k + n], rtol=1e-4, atol=1e-3)


def test_delaying_by_silence_shifts_exactly_everywhere() -> None:
    enc = create_encoder("mel")
    wave = speechlike(1.5)
    base = enc.encode(wave, 16000).features
    delayed = enc.encode(torch.cat([torch.zeros(3 * 640), wave]), 16000).features
    assert delayed.shape[0] == base.shape[0] + 3
    torch.testing.assert_close(delayed[3:], base, rtol=0, atol=1e-5)


def test_same_input_same_features_across_instances() -> None:
    wave = speechlike(1.2, 22050)
    a = create_encoder("mfcc").encode(wave, 22050).features
    b = create_encoder("mfcc").encode(wave.clone(), 22050).features
    assert torch.equal(a, b)


def test_real_speech_encodes_to_200_frames() -> None:
    for path in (need(SPEECH_WAV), need(SPEECH_MP4)):
        for kind, channels in (("mel", 80), ("mfcc", 13)):
            feats = encode_file(path, encoder=kind)
            assert feats.features.shape == (200, 16, channels)
            assert feats.source == str(path) and feats.fps == 25.0 and feats.encoder == kind
            assert bool(torch.isfinite(feats.features).all())
            # speech, not silence: the log-mel energy varies over time
            assert float(feats.features[:, 8].mean(dim=1).std()) > 0.5


@pytest.mark.parametrize(
    ("params", "field"),
    [({"win_length": 1024}, "win_length"), ({"f_max": 9000.0}, "f_max"), ({"n_mfcc": 100, "n_mels": 40}, "n_mfcc"),
     ({"fps": 0}, "fps"), ({"hop": 3}, "hop")],
)
def test_bad_config_is_a_clear_error(params: dict[str, object], field: str) -> None:
    from pgs.core.errors import ConfigError
    from pgs.core.registry import registry

    with pytest.raises(ConfigError, match=field):
        registry("pgs.audio_encoders").create("mfcc", params)


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda w: (w[:300], 16000), "shorter than one video frame"),
        (lambda w: (torch.stack([w, w]), 16000), "mono"),
        (lambda w: (torch.where(torch.arange(w.shape[0]) == 77, float("nan"), w), 16000), "NaN"),
        (lambda w: (w[:0], 16000), "no samples"),
    ],
)
def test_bad_waveforms(make, problem: str) -> None:  # type: ignore[no-untyped-def]
    wave, rate = make(speechlike(0.5))
    with pytest.raises(DataError, match=problem):
        create_encoder("mel").encode(wave, rate, source="clip.wav")


def test_bad_rate_in_encode() -> None:
    with pytest.raises(ValueError, match="sample_rate"):
        create_encoder("mel").encode(speechlike(0.5), -5)


def test_long_audio_is_batched_identically() -> None:
    enc: SpectralEncoder = create_encoder("mel")  # type: ignore[assignment]
    wave = speechlike(10.0)  # > 8192 unique steps only at very long inputs; force small batches instead
    import pgs.audio.spectral as spectral

    full = enc.encode(wave, 16000).features
    old = spectral._BATCH
    spectral._BATCH = 37
    try:
        small = enc.encode(wave, 16000).features
    finally:
        spectral._BATCH = old
    torch.testing.assert_close(small, full, rtol=1e-5, atol=1e-5)
