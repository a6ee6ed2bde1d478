"""Synthetic speaker: loads through the real loader; landmarks, AUs, audio and masks agree."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from pgs.core.data import SpeakerDataset
from pgs.core.data.au import read_au_csv
from pgs.core.data.synthetic import SAMPLE_RATE, generate_speaker, make_signals
from pgs.core.errors import DataError
from pgs.core.model import build_rasterizer

FRAMES, SIZE = 22, 96


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    torch.set_num_threads(1)  # tiny renders: threads only add contention
    root = tmp_path_factory.mktemp("synthetic")
    return generate_speaker(root / "spk", num_frames=FRAMES, size=SIZE, seed=3, num_skin=900)


def test_loads_through_the_dataset_loader(synthetic: Path):
    train = SpeakerDataset.open(synthetic, "train", audio=None)
    val = SpeakerDataset.open(synthetic, "val", audio=None)
    assert (len(train), len(val)) == (20, 2)  # TalkingGaussian's split: last 1/11 is val
    assert train.image_size == (SIZE, SIZE)
    frame = val[1]
    assert frame.img_id == 21 and frame.image.shape == (SIZE, SIZE, 3)
    assert frame.masks.face.sum() > 0.15 * SIZE * SIZE and frame.masks.hair.any() and frame.masks.torso.any()
    # The head is drawn over the background: ground truth equals the background off the head.
    off = ~(frame.masks.face | frame.masks.hair | frame.masks.mouth)
    off &= ~torch.nn.functional.max_pool2d(
        (~off).float()[None, None], 5, stride=1, padding=2)[0, 0].bool()  # away from edges (JPEG)
    assert (frame.image[off] - frame.background[off]).abs().mean() < 0.03


def test_camera_conversion_reproduces_the_generator_landmarks(synthetic: Path):
    ds = SpeakerDataset.open(synthetic, "all", audio=None)
    pts = torch.from_numpy(np.load(synthetic / "landmarks3d.npy")).double()  # [F, 68, 3] world
    expected = np.load(synthetic / "landmarks.npy")
    view = ds.cameras.viewmats.double()
    cam = pts @ view[:, :3, :3].transpose(1, 2) + view[:, None, :3, 3]
    K = ds.cameras.Ks.double()
    uv = cam[..., :2] / cam[..., 2:3] * K[:, None, [0, 1], [0, 1]] + K[:, None, [0, 1], [2, 2]]
    err = (uv.numpy() - expected).__abs__().max()
    assert err < 0.5, err
    assert (cam[..., 2] > 0.5).all()  # OpenCV: in front of the camera
    assert torch.equal(ds.landmarks, torch.from_numpy(expected[ds.img_ids]))


def test_mouth_follows_the_audio_envelope(synthetic: Path):
    meta = json.loads((synthetic / "synthetic.json").read_text())
    opening = np.asarray(meta["mouth_opening"])
    lms = np.load(synthetic / "landmarks.npy")
    gap = lms[:, 66, 1] - lms[:, 62, 1]  # inner lower minus inner upper lip (pixels, y down)
    assert np.corrcoef(gap, opening)[0, 1] > 0.99 and gap.min() > -1e-3
    audio, rate = soundfile.read(synthetic / "aud.wav")
    assert rate == SAMPLE_RATE and len(audio) == round(FRAMES / 25 * SAMPLE_RATE)
    rms = np.sqrt(np.mean(audio.reshape(FRAMES, -1) ** 2, axis=1))
    assert np.corrcoef(rms, opening)[0, 1] > 0.7
    ds = SpeakerDataset.open(synthetic, "all", audio=None)
    mouth_area = np.array([ds.load_masks(i).mouth.sum().item() for i in range(FRAMES)])
    assert mouth_area[opening > 0.7].min() > 0 and mouth_area[opening < 0.05].max() == 0
    widest = int(opening.argmax())
    assert ds.load_masks(widest).teeth.any()


def test_aus_carry_blinks_and_mouth(synthetic: Path):
    meta = json.loads((synthetic / "synthetic.json").read_text())
    table = read_au_csv(synthetic / "au.csv")
    assert (synthetic / "au.csv").read_text().startswith("frame, face_id")  # OpenFace's ", " header
    np.testing.assert_allclose(np.clip(table.column("AU45_r"), 0, 2) / 2, meta["blink"], atol=0.01)
    np.testing.assert_allclose(table.column("AU25_r") / 3, meta["mouth_opening"], atol=0.01)
    ds = SpeakerDataset.open(synthetic, audio=None)
    np.testing.assert_allclose(ds.aus[:, 5].numpy() / 2, meta["blink"][:20], atol=0.01)


def test_blinks_follow_a_schedule():
    sig = make_signals(500, 25.0, np.random.default_rng(0))  # 20 s
    closed = sig.blink > 0.5
    starts = np.flatnonzero(closed[1:] & ~closed[:-1])
    assert 3 <= len(starts) <= 9 and np.diff(starts).min() >= 2.0 * 25
    again = make_signals(500, 25.0, np.random.default_rng(0))
    assert np.array_equal(sig.audio, again.audio) and np.array_equal(sig.blink, again.blink)


def test_audio_encoder_from_the_registry(synthetic: Path):
    from pgs.core.registry import registry

    if "mel" not in registry("pgs.audio_encoders").names():
        pytest.skip("pgs-audio (mel encoder) is not installed")
    ds = SpeakerDataset.open(synthetic, audio="mel")
    assert ds.audio.num_frames == FRAMES and ds[0].audio.shape[0] == 8


class FailingRasterizer:
    def __init__(self, inner, fail_after: int) -> None:
        self.inner, self.calls, self.fail_after = inner, 0, fail_after

    def render(self, *args, **kwargs):
        self.calls += 1
        if self.calls > self.fail_after:
            raise RuntimeError("simulated crash")
        return self.inner.render(*args, **kwargs)


def test_generation_is_atomic(tmp_path: Path, synthetic: Path):
    with pytest.raises(DataError, match="already holds a synth folder"):
        generate_speaker(synthetic, num_frames=FRAMES, size=SIZE)
    failing = FailingRasterizer(build_rasterizer("auto"), fail_after=3)
    with pytest.raises(RuntimeError, match="simulated crash"):
        generate_speaker(tmp_path / "x", num_frames=12, size=16, rasterizer=failing, num_skin=200)
    assert list(tmp_path.iterdir()) == []  # neither the folder nor a temp folder is left
    with pytest.raises(ValueError, match="num_frames"):
        generate_speaker(tmp_path / "y", num_frames=5)
