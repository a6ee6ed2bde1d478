from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from pgs_audio_testkit import SPEECH_MP4, SPEECH_WAV, speechlike, write_media

from pgs.audio import load_audio
from pgs.audio.io import check_sample_rate, frame_count
from pgs.core.errors import DataError
from pgs.core.testing.shared import need


def test_wav_stereo_is_mixed_to_mono_exactly(tmp_path: Path) -> None:
    left = speechlike(0.5, seed=1).numpy()
    right = speechlike(0.5, seed=2).numpy()
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, right], axis=1), 16000, subtype="FLOAT")
    wave, rate = load_audio(path)
    assert rate == 16000 and wave.dtype == torch.float32 and wave.dim() == 1
    np.testing.assert_allclose(wave.numpy(), (left + right) / 2, atol=1e-7)


def test_flac_is_lossless_through_soundfile(tmp_path: Path) -> None:
    wave = speechlike(0.7).numpy()
    pcm = np.round(wave * 32767).astype(np.int16)
    path = tmp_path / "a.flac"
    sf.write(path, pcm, 22050)
    loaded, rate = load_audio(path)
    assert rate == 22050
    np.testing.assert_array_equal(loaded.numpy(), pcm.astype(np.float32) / 32768)


def test_resampling_preserves_a_tone(tmp_path: Path) -> None:
    # a 440 Hz tone at 44.1 kHz resampled to 16 kHz must be the same tone at 16 kHz (away from the ends)
    t = np.arange(44100) / 44100
    path = tmp_path / "tone.wav"
    sf.write(path, 0.5 * np.sin(2 * np.pi * 440 * t), 44100, subtype="FLOAT")
    wave, rate = load_audio(path, sample_rate=16000)
    assert rate == 16000 and wave.shape[0] == 16000
    expected = 0.5 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000)
    np.testing.assert_allclose(wave.numpy()[500:-500], expected[500:-500], atol=5e-3)


@pytest.mark.parametrize(("name", "codec", "video"), [("a.m4a", "aac", False), ("clip.mp4", "aac", True),
                                                      ("clip.mov", "aac", True), ("a.mp3", "libmp3lame", False)])
def test_compressed_audio_and_video_tracks(tmp_path: Path, name: str, codec: str, video: bool) -> None:
    wave = speechlike(1.0, seed=3).numpy()
    path = tmp_path / name
    write_media(path, wave, 16000, codec, with_video=video)
    loaded, rate = load_audio(path)
    assert rate == 16000
    # lossy codecs: the same waveform, aligned (correlation at lag 0), within codec padding of the length
    assert 16000 <= loaded.shape[0] <= 16000 + 2048
    x = loaded.numpy()[1000:15000]
    y = wave[1000:15000]
    assert np.corrcoef(x, y)[0, 1] > 0.9


def test_real_speech_wav_and_mp4_track() -> None:
    wav, rate = load_audio(need(SPEECH_WAV))
    assert rate == 16000 and wav.shape[0] == 128000
    raw, _ = sf.read(SPEECH_WAV, dtype="float32")
    np.testing.assert_allclose(wav.numpy(), raw.mean(axis=1), atol=1e-7)
    mp4, rate = load_audio(need(SPEECH_MP4), sample_rate=16000)
    assert rate == 16000 and mp4.shape[0] == 128000
    assert float(mp4.abs().max()) > 0.05  # real sound, not silence


def _wav_with_format_tag(path: Path, tag: int) -> None:
    data = np.zeros(1600, "<i2").tobytes()
    fmt = struct.pack("<HHIIHH", tag, 1, 16000, 32000, 2, 16)
    body = b"WAVEfmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)


def _bad_files(tmp: Path) -> dict[str, tuple[Path, str]]:
    empty = tmp / "empty.wav"
    empty.write_bytes(b"")
    junk = tmp / "junk.wav"
    junk.write_bytes(np.random.default_rng(0).bytes(4096))
    video_only = tmp / "silent.mp4"
    write_media(video_only, None, 16000, with_video=True)
    codec = tmp / "odd_codec.wav"
    _wav_with_format_tag(codec, 0x1234)
    nan = tmp / "nan.wav"
    samples = np.zeros(8000, np.float32)
    samples[4000] = np.nan
    sf.write(nan, samples, 16000, subtype="FLOAT")
    no_samples = tmp / "no_samples.wav"
    sf.write(no_samples, np.zeros(0, np.float32), 16000)
    folder = tmp / "folder.wav"
    folder.mkdir()
    return {
        "missing": (tmp / "missing.wav", "not found"),
        "folder": (folder, "not a file"),
        "empty": (empty, "empty"),
        "not audio": (junk, "not an audio or video file"),
        "video only": (video_only, "no audio track"),
        "unsupported codec": (codec, "unsupported audio codec"),
        "nan": (nan, "NaN"),
        "no samples": (no_samples, "no audio samples"),
    }


@pytest.mark.parametrize(
    "case", ["missing", "folder", "empty", "not audio", "video only", "unsupported codec", "nan", "no samples"]
)
def test_bad_files_give_one_clear_error(tmp_path: Path, case: str) -> None:
    path, problem = _bad_files(tmp_path)[case]
    with pytest.raises(DataError) as info:
        load_audio(path)
    message = str(info.value)
    assert str(path) in message and problem in message
    assert "\n" not in message


@pytest.mark.parametrize(("value", "error"), [(0, ValueError), (-16000, ValueError), (16000.5, TypeError),
                                              ("16k", TypeError), (True, TypeError), (10**7, ValueError)])
def test_bad_sample_rate_argument(value: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="sample_rate"):
        check_sample_rate(value)
    with pytest.raises(error, match="sample_rate"):
        load_audio(need(SPEECH_WAV), sample_rate=value)  # type: ignore[arg-type]


def test_integer_valued_float_rate_is_accepted() -> None:
    assert check_sample_rate(16000.0) == 16000
    assert check_sample_rate(np.int64(8000)) == 8000


def test_frame_count_rounds_half_up() -> None:
    assert frame_count(640 * 10 + 320, 16000, 25.0) == 11  # exactly 10.5 frames
    assert frame_count(640 * 10 + 319, 16000, 25.0) == 10
    assert frame_count(128000, 16000, 25.0) == 200
