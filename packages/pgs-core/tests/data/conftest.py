"""Write small processed-speaker folders directly (no rasterizer) for loader tests."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pgs.core.data.au import OPENFACE_AU_COLUMNS, write_au_csv
from pgs.core.data.parsing import Region, parsing_from_labels


def opengl_c2w(i: int) -> list[list[float]]:
    """A camera 0.7 units in front of the origin, turned a little per frame."""
    yaw = 0.02 * np.sin(i)
    c, s = np.cos(yaw), np.sin(yaw)
    rot = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    c2w = np.eye(4)
    c2w[:3, :3] = rot
    c2w[:3, 3] = rot @ np.array([0.0, 0.0, 0.7])
    return c2w.tolist()


def write_folder(
    root: Path,
    num_frames: int = 22,
    size: int = 24,
    link: bool = False,
    teeth: bool = True,
    leading_space: bool = True,
) -> Path:
    """A complete folder: every image, AUs, DeepSpeech-layout features, landmarks.

    With `link`, every frame's files are hard links to one file per kind (fast for many frames).
    """
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for sub in ("gt_imgs", "parsing", "torso_imgs") + (("teeth_mask",) if teeth else ()):
        (root / sub).mkdir()
    Image.fromarray(np.full((size, size, 3), 90, np.uint8)).save(root / "bc.jpg")
    labels = np.full((size, size), int(Region.BACKGROUND))
    labels[size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] = int(Region.FACE)
    labels[size // 2 : size // 2 + 2, size // 3 : 2 * size // 3] = int(Region.MOUTH)
    labels[: size // 4, size // 4 : 3 * size // 4] = int(Region.HAIR)
    labels[3 * size // 4 :, :] = int(Region.TORSO)
    labels[3 * size // 4 :, size // 2 - 2 : size // 2 + 2] = int(Region.NECK)
    parsing = parsing_from_labels(labels)
    torso = np.zeros((size, size, 4), np.uint8)
    torso[3 * size // 4 :, :] = (40, 60, 120, 255)
    teeth_mask = np.zeros((size, size), bool)
    teeth_mask[size // 2, size // 3 : size // 2] = True
    first: dict[str, Path] = {}
    for i in range(num_frames):
        files = {
            "gt": root / "gt_imgs" / f"{i}.jpg",
            "parsing": root / "parsing" / f"{i}.png",
            "torso": root / "torso_imgs" / f"{i}.png",
        }
        if teeth:
            files["teeth"] = root / "teeth_mask" / f"{i}.npy"
        for key, path in files.items():
            if link and key in first:
                os.link(first[key], path)
                continue
            if key == "gt":
                Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(path, quality=95)
            elif key == "parsing":
                Image.fromarray(parsing).save(path)
            elif key == "torso":
                Image.fromarray(torso, "RGBA").save(path)
            else:
                np.save(path, teeth_mask)
            first[key] = path
    split = int(num_frames * 10 / 11)
    for name, ids in (("train", range(split)), ("val", range(split, num_frames))):
        data = {
            "focal_len": 2.4 * size,
            "cx": size / 2,
            "cy": size / 2,
            "frames": [{"img_id": i, "aud_id": i, "transform_matrix": opengl_c2w(i)} for i in ids],
        }
        (root / f"transforms_{name}.json").write_text(json.dumps(data))
    cols = {c: rng.uniform(0, 3, num_frames) for c in OPENFACE_AU_COLUMNS}
    write_au_csv(root / "au.csv", cols, leading_space=leading_space)
    np.save(root / "aud_ds.npy", rng.standard_normal((num_frames, 16, 29)).astype(np.float32))
    np.save(root / "landmarks.npy", rng.uniform(0, size, (num_frames, 68, 2)).astype(np.float32))
    return root


@pytest.fixture()
def speaker(tmp_path: Path) -> Path:
    return write_folder(tmp_path / "spk")
