"""pgs.core.io.audio: decoding against soundfile/PyAV references, the flushed resampler, one-line errors."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

from pgs.core.errors import DataError
from pgs.core.io.audio import decode_audio, load_audio, resample, resample_array, resampled_length, write_wav
from pgs.core.video import write_mp4


def _tone(seconds: float, rate: int, hz: float = 440.0, amp: float = 0.5) -> np.ndarray:
    return (amp * np.sin(2 * np.pi * hz * np.arange(round(seconds * rate)) / rate)).astype(np.float32)


def _write_pcm_mkv(path: Path, data: np.ndarray, rate: int) -> None:
    """A lossless (pcm_s16le) Matroska file, which libsndfile cannot read: [channels, S] float."""
    pcm = np.clip(np.round(data * 32767), -32768, 32767).astype(np.int16)
    layout = "mono" if pcm.shape[0] == 1 else "stereo"
    with av.open(str(path), "w", format="matroska") as out:
        stream = out.add_stream("pcm_s16le", rate=rate)
        stream.layout = layout
        for s in range(0, pcm.shape[1], 4096):
            piece = np.ascontiguousarray(pcm[:, s : s + 4096].T.reshape(1, -1))
            frame = av.AudioFrame.from_ndarray(piece, format="s16", layout=layout)
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def _pyav_reference(path: Path) -> tuple[np.ndarray, int]:
    """Mono float samples of the first audio track, decoded with plain PyAV (no resampler)."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        blocks = [frame.to_ndarray() for frame in container.decode(stream)]
        rate = stream.codec_context.sample_rate
    data = np.concatenate(blocks, axis=-1).astype(np.float32)  # AAC decodes to planar float
    return data.mean(axis=0), rate


@pytest.mark.parametrize(("suffix", "subtype"), [(".wav", "FLOAT"), (".wav", "PCM_16"), (".flac", "PCM_16")])
def test_wav_and_flac_match_soundfile(tmp_path: Path, suffix: str, subtype: str) -> None:
    rng = np.random.default_rng(0)
    stereo = (rng.uniform(-0.5, 0.5, (12345, 2))).astype(np.float32)
    path = tmp_path / f"a{suffix}"
    sf.write(path, stereo, 22050, subtype=subtype)
    reference, rate = sf.read(path, dtype="float32", always_2d=True)
    wave, got = load_audio(path)
    assert got == rate == 22050 and wave.dtype.is_floating_point and wave.dim() == 1
    np.testing.assert_allclose(wave.numpy(), reference.mean(axis=1), atol=1e-7)


def test_lossless_track_in_a_container_soundfile_cannot_read(tmp_path: Path) -> None:
    stereo = np.stack([_tone(0.5, 16000), _tone(0.5, 16000, 300.0)])
    path = tmp_path / "a.mkv"
    _write_pcm_mkv(path, stereo, 16000)
    samples, rate = decode_audio(path)
    pcm = np.round(stereo * 32767) / 32768
    assert rate == 16000 and samples.shape == (8000,)
    np.testing.assert_allclose(samples, pcm.mean(axis=0), atol=1e-6)


def test_mp4_audio_track_matches_pyav(tmp_path: Path) -> None:
    wav = tmp_path / "speech.wav"
    sf.write(wav, _tone(1.0, 16000), 16000, subtype="FLOAT")
    mp4 = write_mp4([np.zeros((32, 32, 3), np.uint8)] * 25, tmp_path / "clip.mp4", fps=25.0, audio=wav)
    reference, rate = _pyav_reference(mp4)
    samples, got = decode_audio(mp4)
    assert got == rate == 16000
    np.testing.assert_allclose(samples, reference, atol=1e-6)
    # the track is the tone (AAC is lossy: correlation, away from the encoder's priming)
    lag = int(np.argmax(np.correlate(samples[:4000], _tone(0.1, 16000), mode="valid")))
    assert np.corrcoef(samples[lag + 2000 : lag + 12000], _tone(1.0, 16000)[2000:12000])[0, 1] > 0.99


def test_resampler_is_flushed_to_round_duration_times_rate(tmp_path: Path) -> None:
    # a 440 Hz tone at 44.1 kHz in a container read through PyAV, resampled to 16 kHz
    rate_in, rate_out, seconds = 44100, 16000, 1.2345
    tone = _tone(seconds, rate_in)
    path = tmp_path / "tone.mkv"
    _write_pcm_mkv(path, tone[None], rate_in)
    samples, rate = decode_audio(path, rate_out)
    assert rate == rate_out
    assert samples.shape[0] == round(tone.size / rate_in * rate_out)
    expected = _tone(samples.shape[0] / rate_out, rate_out)
    np.testing.assert_allclose(samples[100:-100], expected[100:-100], atol=2e-3)
    # the tail (held back by the resampler until the flush) is the tone, not padding
    tail = samples[-16:]
    assert np.sqrt(np.mean(tail**2)) > 0.2
    np.testing.assert_allclose(tail, expected[-16:], atol=0.05)


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(1, 20000),
    orig=st.sampled_from([8000, 16000, 22050, 44100, 48000]),
    new=st.sampled_from([8000, 16000, 22050, 24000, 44100]),
)
def test_resampled_length_is_round_duration_times_rate(n: int, orig: int, new: int) -> None:
    samples = np.random.default_rng(n).uniform(-0.1, 0.1, n).astype(np.float32)
    out = resample_array(samples, orig, new)
    expected = int(np.floor(n * new / orig + 0.5))
    assert out.shape == (expected,) and out.dtype == np.float32
    assert resampled_length(n, orig, new) == expected


def test_resample_tensor_keeps_dtype_and_identity() -> None:
    import torch

    wave = torch.from_numpy(_tone(0.1, 16000))
    assert resample(wave, 16000, 16000) is wave
    out = resample(wave, 16000, 8000)
    assert out.dtype == torch.float32 and out.shape == (800,)


def test_write_wav_round_trip_and_clips(tmp_path: Path) -> None:
    samples = np.array([0.0, 0.25, -0.5, 2.0, -3.0], np.float32)
    path = write_wav(tmp_path / "a.wav", samples, 16000)
    data, rate = sf.read(path, dtype="float32")
    assert rate == 16000
    np.testing.assert_allclose(data, np.clip(samples, -1, 1), atol=1 / 32768)


def _image(tmp: Path) -> Path:
    from PIL import Image

    path = tmp / "face.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(path)
    return path


def _video_only(tmp: Path) -> Path:
    return write_mp4([np.zeros((16, 16, 3), np.uint8)] * 3, tmp / "silent.mp4", fps=25.0)


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (_image, "is an image"),
        (_video_only, "no audio track"),
        (lambda tmp: tmp / "missing.wav", "not found"),
    ],
)
def test_files_without_sound_give_one_line_naming_the_file(tmp_path: Path, make: object, problem: str) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    with pytest.raises(DataError) as info:
        decode_audio(path)
    message = str(info.value)
    assert str(path) in message and problem in message and "\n" not in message
