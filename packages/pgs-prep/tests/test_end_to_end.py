"""``pgs prep`` on the real clip (first 50 frames at 256x256 to stay fast in CI)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from pgs.core.cli.main import main
from pgs.core.data import SpeakerDataset
from pgs.core.groups import COMMANDS
from pgs.core.landmarks68 import MEDIAPIPE_TO_IBUG68
from pgs.core.registry import registry


def test_prep_is_a_registered_command() -> None:
    from pgs.prep.command import SPEC

    assert registry(COMMANDS).get("prep") is SPEC


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    from pathlib import Path

    shared = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"
    clip, model = shared / "hdtf_RD_Radio34_000.mp4", shared / "face_landmarker.task"
    if not (clip.is_file() and model.is_file()):
        pytest.skip(f"real clip or Face Landmarker bundle missing under {shared}")
    out = tmp_path_factory.mktemp("prep") / "speaker"
    code = main(
        ["prep", str(clip), str(out), "--landmarker", str(model), "--max-frames", "50", "--size", "256", "--quiet"]
    )
    assert code == 0
    return out


def test_folder_opens_with_the_dataset_loader(folder) -> None:
    train = SpeakerDataset.open(folder, split="train", audio=None)
    val = SpeakerDataset.open(folder, split="val", audio=None)
    assert (len(train), len(val)) == (45, 5)  # int(50 * 10 / 11) = 45
    assert train.image_size == (256, 256)
    frame = train[3]
    assert tuple(frame.image.shape) == (256, 256, 3)
    masks = train.load_masks(3)
    assert 0.05 < float(masks.face.float().mean()) < 0.6
    assert float(masks.mouth.float().sum()) < float(masks.face.float().sum())
    assert train.landmarks.shape == (45, 68, 2)  # the split's frames


def test_report_and_files(folder) -> None:
    report = json.loads((folder / "prep.json").read_text())
    assert report["frames"] == 50 and report["detection_rate"] == 1.0 and not report["interpolated_frames"]
    assert report["reprojection_px_median"] < 2.0
    # Head masks (face + mouth + hair) of consecutive frames: stable, but not trivially identical.
    assert 0.9 < report["head_mask_iou_consecutive"] < 1.0
    assert 0.0 < report["head_mask_iou_consecutive_min"] <= report["head_mask_iou_consecutive"]
    assert (folder / "contact_sheet.png").stat().st_size > 10_000
    lms = np.loadtxt(folder / "ori_imgs" / "7.lms")
    np.testing.assert_allclose(lms, np.load(folder / "landmarks.npy")[7], atol=1e-4)
    assert sorted(p.name for p in (folder / "parsing").iterdir())[:2] == ["0.png", "1.png"]
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".speaker.")]


def test_cameras_reproject_the_head_landmarks(folder) -> None:
    """The written transform_matrix + focal_len, read by pgs.core, put the head landmarks where
    MediaPipe saw them (68-point subset; rigid head shape, so expressions add a little error)."""
    ds = SpeakerDataset.open(folder, split="all", audio=None)
    head = torch.from_numpy(np.load(folder / "head_landmarks.npy")).double()[list(MEDIAPIPE_TO_IBUG68)]
    vm, K = ds.cameras.viewmats.double(), ds.cameras.Ks.double()
    pc = torch.einsum("fij,pj->fpi", vm[:, :3, :3], head) + vm[:, None, :3, 3]
    uv = torch.einsum("fij,fpj->fpi", K, pc / pc[..., 2:3])[..., :2]
    err = (uv - torch.from_numpy(np.load(folder / "landmarks.npy")).double()).norm(dim=-1).mean(-1)
    assert float(err.median()) < 3.0  # pixels at 256x256
    assert float(np.abs(np.load(folder / "head_landmarks.npy")).max()) < 0.13  # head about +-0.1 units


@pytest.mark.slow
def test_short_training_beats_the_mean_image(folder, tmp_path) -> None:
    """A short CPU training run on the prepared folder beats the mean training image on the
    held-out frames, in the head region (the static background makes full-frame PSNR of the
    mean image high on any real clip)."""
    from pgs.core.testing.runs import tiny_run_config
    from pgs.core.training.config import TrainConfig
    from pgs.core.training.trainer import Trainer

    names = {group: set(registry(group).names()) for group in ("pgs.fusion", "pgs.density", "pgs.audio_encoders")}
    if not (
        {"mgf"} <= names["pgs.fusion"]
        and "pixel-aware" in names["pgs.density"]
        and "mel" in names["pgs.audio_encoders"]
    ):
        pytest.skip("needs pgs-fusion, pgs-density and pgs-audio installed")
    torch.set_num_threads(1)
    shape = {"points": (3000, 500), "steps": (120, 100, 30), "refine": (30, 30, 200), "eval_frames": 5}
    data = tiny_run_config(folder, tmp_path / "run", **shape, fast_means=True)
    config = TrainConfig.model_validate(data)
    trainer = Trainer(config, quiet=True)
    result = trainer.run()
    held_out = result.report["stages"][-1]
    baseline = trainer.mean_image_baseline()
    assert held_out["psnr_head"] > baseline["psnr_head"], (held_out, baseline)
