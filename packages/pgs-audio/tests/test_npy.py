from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from pgs_audio_testkit import speechlike

from pgs.audio import create_encoder, encode_file, load, save
from pgs.audio.features_io import sidecar_path
from pgs.core.errors import DataError
from pgs.core.interfaces import AudioFeatures

LAYOUTS = {"deepspeech": (16, 29, "aud_ds.npy"), "hubert": (2, 1024, "aud_hu.npy"), "wav2vec": (16, 44, "aud_eo.npy")}


def _write(path: Path, frames: int, steps: int, channels: int, seed: int = 0, dtype: str = "float32") -> np.ndarray:
    array = np.random.default_rng(seed).standard_normal((frames, steps, channels)).astype(dtype)
    np.save(path, array)
    return array


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_each_published_layout_loads(tmp_path: Path, layout: str) -> None:
    steps, channels, name = LAYOUTS[layout]
    array = _write(tmp_path / name, 57, steps, channels, dtype="float64" if layout == "hubert" else "float32")
    feats = encode_file(tmp_path / name, encoder="npy")
    assert feats.layout == layout and feats.encoder == "npy" and feats.fps == 25.0
    assert feats.features.dtype == torch.float32
    np.testing.assert_allclose(feats.features.numpy(), array.astype(np.float32))
    feats.check_matches(layout, channels, steps)  # what a model trained on this layout does


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_features_found_beside_the_audio_of_a_speaker_folder(tmp_path: Path, layout: str) -> None:
    steps, channels, name = LAYOUTS[layout]
    sf.write(tmp_path / "aud.wav", speechlike(2.0).numpy(), 16000)  # 50 frames at 25 fps
    array = _write(tmp_path / name, 50, steps, channels)
    enc = create_encoder("npy", layout=layout)
    assert (enc.steps, enc.channels) == (steps, channels)
    feats = enc.encode_file(tmp_path / "aud.wav")
    np.testing.assert_array_equal(feats.features.numpy(), array)


def test_extractor_named_aud_npy_is_deepspeech(tmp_path: Path) -> None:
    sf.write(tmp_path / "aud.wav", speechlike(2.0).numpy(), 16000)
    _write(tmp_path / "aud.npy", 50, 16, 29)
    assert create_encoder("npy").encode_file(tmp_path / "aud.wav").layout == "deepspeech"


def test_several_candidates_need_a_choice(tmp_path: Path) -> None:
    sf.write(tmp_path / "aud.wav", speechlike(2.0).numpy(), 16000)
    _write(tmp_path / "aud_ds.npy", 50, 16, 29)
    _write(tmp_path / "aud_hu.npy", 50, 2, 1024)
    with pytest.raises(DataError, match="several feature files"):
        create_encoder("npy").encode_file(tmp_path / "aud.wav")
    assert create_encoder("npy", layout="hubert").encode_file(tmp_path / "aud.wav").layout == "hubert"


def test_no_features_beside_audio(tmp_path: Path) -> None:
    sf.write(tmp_path / "novel.wav", speechlike(1.0).numpy(), 16000)
    with pytest.raises(DataError, match=r"novel_ds\.npy"):
        create_encoder("npy").encode_file(tmp_path / "novel.wav")


@pytest.mark.parametrize(
    ("shape", "problem"),
    [((10, 16, 30), "not a known layout"), ((10, 1024, 2), "transposed"), ((10, 29, 16), "transposed"),
     ((10, 29), "not a known layout"), ((10, 2, 1024, 1), "not a known layout"), ((0, 16, 29), "no frames")],
)
def test_other_shapes_are_rejected(tmp_path: Path, shape: tuple[int, ...], problem: str) -> None:
    path = tmp_path / "feat.npy"
    np.save(path, np.zeros(shape, np.float32))
    with pytest.raises(DataError, match=problem) as info:
        encode_file(path, encoder="npy")
    assert str(path) in str(info.value)
    if problem == "not a known layout":
        assert "deepspeech [N, 16, 29]" in str(info.value) and "hubert [N, 2, 1024]" in str(info.value)


@pytest.mark.parametrize("case", ["ints", "nan", "pickle", "npz", "text", "empty"])
def test_unreadable_feature_files(tmp_path: Path, case: str) -> None:
    path = tmp_path / "feat.npy"
    if case == "ints":
        np.save(path, np.zeros((5, 16, 29), np.int32))
    elif case == "nan":
        array = np.zeros((5, 16, 29), np.float32)
        array[3, 2, 1] = np.nan
        np.save(path, array)
    elif case == "pickle":
        np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    elif case == "npz":
        with open(path, "wb") as handle:
            np.savez(handle, a=np.zeros((5, 16, 29), np.float32))
    elif case == "text":
        path.write_text("not numpy")
    else:
        path.write_bytes(b"")
    with pytest.raises(DataError) as info:
        encode_file(path, encoder="npy")
    assert str(path) in str(info.value)
    if case == "nan":
        assert "frame 3" in str(info.value)


def test_layout_mismatch_names_both(tmp_path: Path) -> None:
    path = tmp_path / "aud_hu.npy"
    _write(path, 20, 2, 1024)
    with pytest.raises(DataError) as info:
        encode_file(path, encoder="npy", layout="deepspeech")
    assert "hubert" in str(info.value) and "deepspeech [N, 16, 29]" in str(info.value)
    feats = encode_file(path, encoder="npy")
    with pytest.raises(DataError) as info:
        feats.check_matches("deepspeech", 29, 16)
    assert "hubert [*, 2, 1024]" in str(info.value) and "deepspeech [*, 16, 29]" in str(info.value)


def test_features_of_other_audio_are_refused(tmp_path: Path) -> None:
    sf.write(tmp_path / "aud.wav", speechlike(2.0).numpy(), 16000)  # 50 frames
    _write(tmp_path / "aud_ds.npy", 80, 16, 29)
    with pytest.raises(DataError, match=r"80 frames.*50 frames"):
        create_encoder("npy").encode_file(tmp_path / "aud.wav")


def test_off_by_one_counts_are_trimmed_or_padded(tmp_path: Path) -> None:
    sf.write(tmp_path / "aud.wav", speechlike(2.0).numpy(), 16000)
    short = _write(tmp_path / "aud_ds.npy", 49, 16, 29)
    feats = create_encoder("npy").encode_file(tmp_path / "aud.wav")
    assert feats.num_frames == 50
    np.testing.assert_array_equal(feats.features[:49].numpy(), short)
    np.testing.assert_array_equal(feats.features[49].numpy(), short[48])  # ER-NeRF clamps to the last
    _write(tmp_path / "aud_ds.npy", 51, 16, 29)
    assert create_encoder("npy").encode_file(tmp_path / "aud.wav").num_frames == 50


def test_encode_reads_configured_path_and_checks_the_waveform(tmp_path: Path) -> None:
    array = _write(tmp_path / "f.npy", 50, 2, 1024)
    enc = create_encoder("npy", path=str(tmp_path / "f.npy"))
    assert (enc.layout, enc.steps, enc.channels) == ("hubert", 2, 1024)
    np.testing.assert_array_equal(enc.encode(speechlike(2.0), 16000).features.numpy(), array)
    with pytest.raises(DataError, match="other audio"):
        enc.encode(speechlike(4.0), 16000)
    with pytest.raises(DataError, match="set its 'path'"):
        create_encoder("npy").encode(speechlike(2.0), 16000)


def test_relative_path_is_resolved_beside_the_audio(tmp_path: Path) -> None:
    sf.write(tmp_path / "aud.wav", speechlike(2.0).numpy(), 16000)
    _write(tmp_path / "feats_x.npy", 50, 16, 44)
    feats = create_encoder("npy", path="feats_x.npy").encode_file(tmp_path / "aud.wav")
    assert feats.layout == "wav2vec"


def test_retiming_to_another_fps(tmp_path: Path) -> None:
    array = _write(tmp_path / "aud_ds.npy", 50, 16, 29)
    feats = encode_file(tmp_path / "aud_ds.npy", encoder="npy", fps=50.0)
    assert feats.num_frames == 100 and feats.fps == 50.0
    index = np.floor(np.arange(100) * 0.5 + 0.5).astype(int).clip(max=49)
    np.testing.assert_array_equal(feats.features.numpy(), array[index])


def test_save_load_round_trip_in_er_layout(tmp_path: Path) -> None:
    mel = encode_file_from_array()
    path = save(mel, tmp_path / "sub" / "aud_mel.npy")
    on_disk = np.load(path)  # what ER-NeRF / TalkingGaussian loaders read
    assert on_disk.shape == (mel.num_frames, 16, 80) and on_disk.dtype == np.float32
    meta = json.loads(sidecar_path(path).read_text())
    assert meta["layout"] == "mel80" and meta["fps"] == 30.0
    again = load(path)
    assert again.layout == "mel80" and again.fps == 30.0
    torch.testing.assert_close(again.features, mel.features)
    assert sorted(p.name for p in path.parent.iterdir()) == ["aud_mel.npy", "aud_mel.npy.json"]  # no temp files
    # the npy encoder reads it too, through the sidecar
    assert encode_file(path, encoder="npy", fps=30.0).layout == "mel80"
    with pytest.raises(ValueError, match=r"\.npy"):
        save(mel, tmp_path / "x.txt")


def test_failed_save_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    feats = AudioFeatures(torch.zeros(3, 16, 29), 25.0, "npy", "deepspeech")
    target = tmp_path / "aud_ds.npy"

    def boom(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(np, "save", boom)
    with pytest.raises(OSError, match="disk full"):
        save(feats, target)
    assert list(tmp_path.iterdir()) == []


def encode_file_from_array() -> AudioFeatures:
    return create_encoder("mel", fps=30.0).encode(speechlike(1.0), 16000)


def test_window_helper_zero_pads_both_ends() -> None:
    # independent reference: TalkingGaussian's get_audio_features(att_mode=2): frames i-4 .. i+3, zeros outside
    rng = np.random.default_rng(0)
    data = rng.standard_normal((11, 2, 3)).astype(np.float32)
    feats = AudioFeatures(torch.from_numpy(data), 25.0, "npy", "x")
    for i in range(11):
        ref = np.zeros((8, 2, 3), np.float32)
        for j, frame in enumerate(range(i - 4, i + 4)):
            if 0 <= frame < 11:
                ref[j] = data[frame]
        np.testing.assert_array_equal(feats.window(i).numpy(), ref)
    batch = feats.windows(torch.tensor([0, 10, 5]))
    assert batch.shape == (3, 8, 2, 3)
    np.testing.assert_array_equal(batch[1].numpy(), feats.window(10).numpy())
    # a window wider than the features: zeros around all of them
    short = AudioFeatures(torch.ones(2, 1, 1), 25.0, "npy", "x")
    np.testing.assert_array_equal(short.window(1).flatten().numpy(), [0, 0, 0, 1, 1, 0, 0, 0])
    with pytest.raises(DataError, match="out of range"):
        feats.window(11)
    with pytest.raises(DataError, match="integer"):
        feats.windows(torch.tensor([1.0]))
