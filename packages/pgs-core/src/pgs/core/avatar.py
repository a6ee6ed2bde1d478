"""Self-contained avatar files (``pgs export CKPT avatar.pgs --avatar``): a head plus what it replays.

Rendering a trained head needs, besides the weights, the per-frame head poses, AUs and
backgrounds (``bc.jpg`` with the torso layer over it) that `pgs.core.inference.drive` replays.
An avatar file carries all of them, so the training folder need not exist where the head is
served or rendered.

Format (version 1): one ``torch.save`` archive of plain data, read with
``torch.load(weights_only=True)`` (no pickled classes)::

    magic: "pgs-avatar", format_version: 1
    checkpoint: {config, audio, model}          # the trainer checkpoint's inference part
    replay: {viewmats [F, 4, 4] float32, Ks [F, 3, 3] float32, width, height, near, far,
             aus [F, 6] float32, backgrounds: F PNG files as 1-D uint8 tensors}

Backgrounds are stored losslessly as PNG (a 512x512 frame is ~0.2-0.4 MB instead of 0.8 MB raw)
and decoded once at load time into one uint8 array kept in memory; nothing is decoded per frame.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from pgs.core.cameras import Cameras
from pgs.core.errors import DataError
from pgs.core.io.atomic import atomic_write_bytes

MAGIC = "pgs-avatar"
FORMAT_VERSION = 1
#: Default length of the replayed pose/torso loop in frames (10 s at 25 fps; ping-pong doubles it).
DEFAULT_LOOP_FRAMES = 250
#: The checkpoint entries inference needs (optimizer states etc. are left out).
_CHECKPOINT_KEYS = ("config", "audio", "model")


@dataclass
class ReplayFrame:
    """What one replayed frame gives the head besides audio.

    Attributes:
        camera: one camera (the head pose of that training frame).
        aus: [6] face AU vector.
        background: [H, W, 3] float32 in [0, 1] (torso over ``bc.jpg``).
    """

    camera: Cameras
    aus: Tensor
    background: Tensor

    def to(self, device: torch.device | str) -> ReplayFrame:
        """The same frame on `device`."""
        return ReplayFrame(self.camera.to(device), self.aus.to(device), self.background.to(device))


@dataclass
class Replay:
    """Poses, AUs and backgrounds replayed while driving a head (a training split's, in order).

    Indexing (``replay[i]``) gives a `ReplayFrame`, like ``SpeakerDataset[i]`` gives a `Frame`,
    so `pgs.core.inference.drive` takes either.

    Attributes:
        viewmats: [F, 4, 4] float32 world-to-camera matrices.
        Ks: [F, 3, 3] float32 intrinsics.
        width, height: image size in pixels.
        aus: [F, 6] float32 face AU vectors.
        backgrounds: [F, H, W, 3] uint8 backgrounds.
        near, far: camera clipping depths.
    """

    viewmats: Tensor
    Ks: Tensor
    width: int
    height: int
    aus: Tensor
    backgrounds: Tensor
    near: float = 0.01
    far: float = 1e10

    def __len__(self) -> int:
        return int(self.viewmats.shape[0])

    def camera(self, index: int) -> Cameras:
        """Camera of frame `index`."""
        return Cameras(
            self.viewmats[index : index + 1], self.Ks[index : index + 1], self.width, self.height, self.near, self.far
        )

    def background(self, index: int) -> Tensor:
        """[H, W, 3] float32 background of frame `index`."""
        return self.backgrounds[index].float() / 255.0

    def __getitem__(self, index: int) -> ReplayFrame:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"replay frame {index} out of range for {n} frames")
        index = int(index) % n
        return ReplayFrame(self.camera(index), self.aus[index].clone(), self.background(index))


@dataclass
class Avatar:
    """A trained head's inference checkpoint plus its replay material.

    Attributes:
        checkpoint: ``{"config", "audio", "model"}`` as in a trainer checkpoint.
        replay: the poses, AUs and backgrounds.
    """

    checkpoint: dict[str, Any]
    replay: Replay


def replay_from_dataset(dataset: Any, max_frames: int | None = DEFAULT_LOOP_FRAMES) -> Replay:
    """Read the first `max_frames` frames of a `SpeakerDataset` into a `Replay` (decodes images once).

    Args:
        dataset: an open `pgs.core.data.dataset.SpeakerDataset`.
        max_frames: frames to keep (None: all).
    """
    n = len(dataset) if max_frames is None else min(len(dataset), int(max_frames))
    if n <= 0:
        raise DataError(f"{dataset.folder}: no frames to replay")
    cams = dataset.cameras[0:n]
    backgrounds = torch.stack([to_uint8_image(dataset.load_background(i)) for i in range(n)])
    return Replay(
        viewmats=cams.viewmats.to(torch.float32).clone(),
        Ks=cams.Ks.to(torch.float32).clone(),
        width=int(dataset.width),
        height=int(dataset.height),
        aus=dataset.aus[:n].to(torch.float32).clone(),
        backgrounds=backgrounds,
        near=float(cams.near),
        far=float(cams.far),
    )


def to_uint8_image(image: Tensor) -> Tensor:
    """[H, W, 3] float in [0, 1] -> uint8 tensor (rounded)."""
    return (image.clamp(0, 1) * 255.0 + 0.5).to(torch.uint8)


def build_avatar(
    checkpoint: str | Path, data: str | Path | None = None, max_frames: int | None = DEFAULT_LOOP_FRAMES
) -> Avatar:
    """An `Avatar` from a trainer checkpoint and its speaker folder.

    Args:
        checkpoint: a ``.pt`` written by ``pgs train``.
        data: the speaker folder whose training split is replayed (default: the one in the
            checkpoint's config).
        max_frames: length of the replayed loop in frames (None: the whole training split).

    Raises:
        DataError: unreadable checkpoint, no speaker folder recorded, or a bad folder.
    """
    from pgs.core.data.dataset import SpeakerDataset
    from pgs.core.training.checkpoint import load_checkpoint

    raw = load_checkpoint(checkpoint)
    missing = [k for k in _CHECKPOINT_KEYS if k not in raw]
    if missing:
        raise DataError(f"{checkpoint}: checkpoint lacks {', '.join(missing)}")
    folder = data or (raw["config"].get("data") or {}).get("folder")
    if not folder:
        raise DataError(f"{checkpoint}: no speaker folder recorded; pass --data")
    require_aus = bool((raw["config"].get("data") or {}).get("require_aus", True))
    dataset = SpeakerDataset.open(folder, "train", audio=None, require_aus=require_aus)
    return Avatar({k: raw[k] for k in _CHECKPOINT_KEYS}, replay_from_dataset(dataset, max_frames))


def _png_bytes(image: Tensor) -> Tensor:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image.numpy()).save(buffer, format="PNG", compress_level=1)
    return torch.frombuffer(bytearray(buffer.getvalue()), dtype=torch.uint8)


def _png_decode(data: Tensor, where: str) -> Tensor:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data.numpy().tobytes())) as img:
            array = np.asarray(img.convert("RGB"))
    except Exception as exc:  # PIL raises several types for corrupt data
        raise DataError(f"{where}: corrupt background image: {exc}") from None
    return torch.from_numpy(array.copy())


def save_avatar(avatar: Avatar, path: str | Path) -> Path:
    """Write `avatar` to `path` atomically (format in the module docstring)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    r = avatar.replay
    payload = {
        "magic": MAGIC,
        "format_version": FORMAT_VERSION,
        "checkpoint": {k: avatar.checkpoint[k] for k in _CHECKPOINT_KEYS},
        "replay": {
            "viewmats": r.viewmats,
            "Ks": r.Ks,
            "width": int(r.width),
            "height": int(r.height),
            "near": float(r.near),
            "far": float(r.far),
            "aus": r.aus,
            "backgrounds": [_png_bytes(b) for b in r.backgrounds],
        },
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return atomic_write_bytes(path, buffer.getvalue())


def read_head_file(path: str | Path, map_location: str | torch.device = "cpu") -> tuple[dict[str, Any], Replay | None]:
    """Read a trainer checkpoint or an avatar file.

    Returns:
        (checkpoint dict with ``config``, ``audio``, ``model``; the replay of an avatar file or
        None for a checkpoint).

    Raises:
        DataError: missing, truncated or foreign file, a newer format, or inconsistent contents;
            the message names the file.
    """
    from pgs.core.training.checkpoint import MAGIC as CHECKPOINT_MAGIC
    from pgs.core.training.checkpoint import checked_checkpoint, read_archive

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found (expected a checkpoint .pt or an avatar .pgs)")
    data = read_archive(path, map_location, what="checkpoint or avatar")
    magic = data.get("magic") if isinstance(data, dict) else None
    if magic == CHECKPOINT_MAGIC:
        return checked_checkpoint(data, path), None
    if magic != MAGIC:
        raise DataError(f"{path}: neither a pgs checkpoint nor a pgs avatar file")
    version = data.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise DataError(f"{path}: avatar format version {version} is newer than this toolkit reads ({FORMAT_VERSION})")
    return _checked_checkpoint(data, path), _checked_replay(data, path)


def load_avatar(path: str | Path) -> Avatar:
    """Read an avatar file written by `save_avatar`.

    Raises:
        DataError: see `read_head_file`; also when `path` is a plain checkpoint.
    """
    checkpoint, replay = read_head_file(path)
    if replay is None:
        raise DataError(f"{path}: a training checkpoint, not an avatar; write one with `pgs export CKPT OUT --avatar`")
    return Avatar(checkpoint, replay)


def _checked_checkpoint(data: dict[str, Any], path: Path) -> dict[str, Any]:
    ckpt = data.get("checkpoint")
    if not isinstance(ckpt, dict) or any(k not in ckpt for k in _CHECKPOINT_KEYS):
        raise DataError(f"{path}: avatar lacks its model (checkpoint.config/audio/model)")
    return ckpt


def _checked_replay(data: dict[str, Any], path: Path) -> Replay:
    r = data.get("replay")
    if not isinstance(r, dict):
        raise DataError(f"{path}: avatar lacks its replay section")
    try:
        viewmats, ks, aus = r["viewmats"], r["Ks"], r["aus"]
        width, height, pngs = int(r["width"]), int(r["height"]), r["backgrounds"]
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{path}: avatar replay field missing or invalid: {exc}") from None
    n = int(viewmats.shape[0]) if isinstance(viewmats, Tensor) and viewmats.dim() == 3 else -1
    if n <= 0 or tuple(viewmats.shape[1:]) != (4, 4):
        raise DataError(f"{path}: replay.viewmats must be [F, 4, 4] with F >= 1")
    if not isinstance(ks, Tensor) or tuple(ks.shape) != (n, 3, 3):
        raise DataError(f"{path}: replay.Ks must be [{n}, 3, 3]")
    if not isinstance(aus, Tensor) or aus.dim() != 2 or aus.shape[0] != n:
        raise DataError(f"{path}: replay.aus must be [{n}, 6]")
    if not isinstance(pngs, list) or len(pngs) != n:
        raise DataError(f"{path}: replay.backgrounds must hold {n} images")
    backgrounds = torch.stack([_png_decode(p, f"{path}: replay.backgrounds[{i}]") for i, p in enumerate(pngs)])
    if tuple(backgrounds.shape[1:3]) != (height, width):
        raise DataError(f"{path}: backgrounds are {list(backgrounds.shape[1:3])}, expected [{height}, {width}]")
    return Replay(
        viewmats.float(),
        ks.float(),
        width,
        height,
        aus.float(),
        backgrounds,
        float(r.get("near", 0.01)),
        float(r.get("far", 1e10)),
    )


__all__ = [
    "Avatar",
    "DEFAULT_LOOP_FRAMES",
    "Replay",
    "ReplayFrame",
    "build_avatar",
    "load_avatar",
    "read_head_file",
    "replay_from_dataset",
    "save_avatar",
]
