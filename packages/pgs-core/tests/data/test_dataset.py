"""SpeakerDataset: contents of a frame against independent computations, errors, lazy memory."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from pgs.core.cameras import cameras_from_transforms
from pgs.core.data import SpeakerDataset
from pgs.core.data.au import read_au_csv
from pgs.core.errors import DataError
from pgs.core.interfaces import AudioFeatures

from .conftest import write_folder


def test_frame_contents(speaker: Path):
    ds = SpeakerDataset.open(speaker, "train")
    assert len(ds) == 20 and ds.image_size == (24, 24)
    assert len(SpeakerDataset.open(speaker, "val")) == 2 and len(SpeakerDataset.open(speaker, "all")) == 22
    assert ds.audio.layout == "deepspeech" and ds.audio.features.shape == (22, 16, 29)
    f = ds[3]
    assert f.index == 3 and f.img_id == 3 and f.aud_id == 3
    gt = np.asarray(Image.open(speaker / "gt_imgs" / "3.jpg").convert("RGB")) / 255.0
    np.testing.assert_allclose(f.image.numpy(), gt, atol=1e-6)
    # Background: torso RGBA over bc.jpg.
    torso = np.asarray(Image.open(speaker / "torso_imgs" / "3.png")) / 255.0
    bc = np.asarray(Image.open(speaker / "bc.jpg").convert("RGB")) / 255.0
    expected = torso[..., :3] * torso[..., 3:] + bc * (1 - torso[..., 3:])
    np.testing.assert_allclose(f.background.numpy(), expected, atol=1e-6)
    # Masks: the teeth pixels leave the face (if they were face) and join the mouth.
    teeth = np.load(speaker / "teeth_mask" / "3.npy")
    parsing = np.asarray(Image.open(speaker / "parsing" / "3.png").convert("RGB"))
    face_colour = (parsing == (0, 0, 255)).all(-1)
    mouth_colour = (parsing == (100, 100, 100)).all(-1)
    np.testing.assert_array_equal(f.masks.face.numpy(), face_colour & ~teeth)
    np.testing.assert_array_equal(f.masks.mouth.numpy(), mouth_colour | teeth)
    np.testing.assert_array_equal(f.masks.head.numpy(), f.masks.face.numpy() | (parsing == 0).all(-1))
    assert f.masks.teeth.sum() == teeth.sum() > 0 and f.masks.neck.any() and f.masks.torso.any()
    # Camera: the shared conversion of the stored OpenGL pose.
    meta = json.loads((speaker / "transforms_train.json").read_text())
    c2w = torch.tensor(meta["frames"][3]["transform_matrix"], dtype=torch.float64)[None]
    ref = cameras_from_transforms(c2w, meta["focal_len"], meta["cx"], meta["cy"], 24, 24)
    torch.testing.assert_close(f.camera.viewmats, ref.viewmats)
    torch.testing.assert_close(f.camera.Ks, ref.Ks)
    # Audio window: frames 3-4 .. 3+3, zero padded before frame 0.
    feats = np.load(speaker / "aud_ds.npy")
    win = f.audio.numpy()
    assert win.shape == (8, 16, 29)
    np.testing.assert_array_equal(win[0], 0.0)
    np.testing.assert_allclose(win[1:], feats[0:7])
    # AUs: row frame = img_id + 1, AU45 clipped.
    table = read_au_csv(speaker / "au.csv")
    cols = ["AU01_r", "AU04_r", "AU05_r", "AU06_r", "AU07_r", "AU45_r"]
    expected_aus = np.array([table.columns[c][3] for c in cols])
    expected_aus[5] = min(expected_aus[5], 2.0)
    np.testing.assert_allclose(f.aus.numpy(), expected_aus, atol=1e-6)
    np.testing.assert_allclose(f.landmarks.numpy(), np.load(speaker / "landmarks.npy")[3])
    assert ds.scene_extent > 0
    assert torch.equal(ds.au_column("AU25_r"), torch.from_numpy(table.columns["AU25_r"][:20].astype(np.float32)))


def test_audio_sources(speaker: Path):
    feats = AudioFeatures(torch.randn(30, 4, 7), 25.0, "test", "test-layout")
    ds = SpeakerDataset.open(speaker, audio=feats)
    assert ds[0].audio.shape == (8, 4, 7)
    assert SpeakerDataset.open(speaker, audio=None)[0].audio is None
    np.save(speaker / "aud_hu.npy", np.zeros((22, 2, 1024), np.float32))
    assert SpeakerDataset.open(speaker, audio="aud_hu.npy").audio.layout == "hubert"
    assert SpeakerDataset.open(speaker).audio.layout == "deepspeech"  # aud_ds.npy comes first
    (speaker / "aud_ds.npy").unlink()
    (speaker / "aud_hu.npy").unlink()
    np.save(speaker / "aud_eo.npy", np.zeros((22, 16, 44), np.float32))  # ER-NeRF's wav2vec features
    assert SpeakerDataset.open(speaker).audio.layout == "wav2vec"  # found by audio: auto


def test_au_csv_without_leading_spaces(tmp_path: Path):
    folder = write_folder(tmp_path / "s", leading_space=False)
    assert "AU45_r" in (folder / "au.csv").read_text().splitlines()[0].split(",")
    ds = SpeakerDataset.open(folder)
    assert ds.aus.shape == (20, 6)


def _break(folder: Path, how: str) -> Path:
    """Apply one defect; return the file the error must name."""
    if how == "no_folder":
        shutil.rmtree(folder)
        return folder
    if how == "no_transforms":
        (folder / "transforms_train.json").unlink()
        return folder / "transforms_train.json"
    if how == "bad_json":
        (folder / "transforms_train.json").write_text('{"focal_len": 1, "frames": [')
        return folder / "transforms_train.json"
    if how == "no_matrix":
        meta = json.loads((folder / "transforms_train.json").read_text())
        del meta["frames"][4]["transform_matrix"]
        (folder / "transforms_train.json").write_text(json.dumps(meta))
        return folder / "transforms_train.json"
    if how == "missing_image":
        (folder / "gt_imgs" / "5.jpg").unlink()
        return folder / "gt_imgs" / "5.jpg"
    if how == "missing_parsing":
        (folder / "parsing" / "7.png").unlink()
        return folder / "parsing" / "7.png"
    if how == "missing_torso":
        (folder / "torso_imgs" / "2.png").unlink()
        return folder / "torso_imgs" / "2.png"
    if how == "missing_teeth":
        (folder / "teeth_mask" / "2.npy").unlink()
        return folder / "teeth_mask" / "2.npy"
    if how == "missing_bc":
        (folder / "bc.jpg").unlink()
        return folder / "bc.jpg"
    if how == "unreadable_image":
        (folder / "gt_imgs" / "2.jpg").write_bytes(b"not an image at all")
        return folder / "gt_imgs" / "2.jpg"
    if how == "wrong_size":
        Image.fromarray(np.zeros((10, 12, 3), np.uint8)).save(folder / "parsing" / "1.png")
        return folder / "parsing" / "1.png"
    if how == "no_au":
        (folder / "au.csv").unlink()
        return folder / "au.csv"
    if how == "au_missing_column":
        text = (folder / "au.csv").read_text().replace("AU05_r", "AU05_x")
        (folder / "au.csv").write_text(text)
        return folder / "au.csv"
    if how == "au_too_short":
        lines = (folder / "au.csv").read_text().splitlines()
        (folder / "au.csv").write_text("\n".join(lines[:10]) + "\n")
        return folder / "au.csv"
    if how == "audio_too_short":
        np.save(folder / "aud_ds.npy", np.zeros((15, 16, 29), np.float32))
        return folder / "aud_ds.npy"
    if how == "no_audio":
        (folder / "aud_ds.npy").unlink()
        return folder
    if how == "bad_landmarks":
        np.save(folder / "landmarks.npy", np.zeros((22, 5, 2)))
        return folder / "landmarks.npy"
    raise AssertionError(how)


@pytest.mark.parametrize(
    "how",
    ["no_folder", "no_transforms", "bad_json", "no_matrix", "missing_image", "missing_parsing", "missing_torso",
     "missing_teeth", "missing_bc", "unreadable_image", "wrong_size", "no_au", "au_missing_column", "au_too_short",
     "audio_too_short", "no_audio", "bad_landmarks"],
)
def test_each_bad_folder_gives_one_error_naming_the_file(speaker: Path, how: str):
    named = _break(speaker, how)
    with pytest.raises(DataError) as info:
        SpeakerDataset.open(speaker, "train")
    message = str(info.value)
    assert str(named) in message, message
    assert "\n" not in message and "Traceback" not in message


def test_truncated_image_is_reported_on_read(speaker: Path):
    path = speaker / "gt_imgs" / "4.jpg"
    data = path.read_bytes()
    ds = SpeakerDataset.open(speaker)
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=str(path)):
        ds[4]


def test_missing_aus_can_be_zeros_with_a_warning(speaker: Path):
    (speaker / "au.csv").unlink()
    with pytest.warns(UserWarning, match="zero AUs"):
        ds = SpeakerDataset.open(speaker, require_aus=False)
    assert torch.equal(ds[0].aus, torch.zeros(6))


def _rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs /proc to read the resident set size")
def test_five_thousand_frames_iterate_with_flat_memory(tmp_path: Path):
    folder = write_folder(tmp_path / "long", num_frames=5000, size=16, link=True)
    ds = SpeakerDataset.open(folder, "all", check_images=False)  # headers: covered by the error tests
    assert len(ds) == 5000
    for i in range(300):  # warm up allocator pools
        ds[i]
    base = _rss_bytes()
    samples = []
    checksum = 0.0
    for frame in ds:
        checksum += float(frame.image[0, 0, 0])
        if frame.index % 1000 == 999:
            samples.append(_rss_bytes() - base)
    assert checksum > 0 and len(samples) == 5
    # A frame is ~7 KB of tensors (image, background, 7 masks, audio window); keeping them would
    # add > 30 MiB over 5000 frames. Allow a few MiB of allocator noise.
    assert max(samples) < 8 * 2**20, f"RSS grew by {[round(s / 2**20, 1) for s in samples]} MiB while iterating"
