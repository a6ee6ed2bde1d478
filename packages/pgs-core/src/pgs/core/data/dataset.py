"""Lazy loader of an ER-NeRF / TalkingGaussian processed-speaker folder (DESIGN.md section 8).

Folder contract (what this loader reads)::

    transforms_train.json, transforms_val.json   focal_len, cx, cy, frames[img_id, aud_id, transform_matrix]
    gt_imgs/<img_id>.jpg        ground-truth frame, background already replaced by bc.jpg (.png accepted)
    parsing/<img_id>.png        TalkingGaussian parsing colours (`pgs.core.data.parsing`)
    torso_imgs/<img_id>.png     RGBA torso + neck (optional folder; without it the background is bc.jpg)
    bc.jpg                      static background
    teeth_mask/<img_id>.npy     bool [H, W] (optional folder)
    au.csv                      OpenFace AUs (1-based frame column; header spaces stripped)
    aud.wav | aud_ds.npy | aud_hu.npy | aud_eo.npy | aud.npy   audio (see `SpeakerDataset.open`)
    landmarks.npy               [N, 68, 2] pixel landmarks of every image (optional; synthetic speakers)

The split is the one the transforms files hold (TalkingGaussian: the last 1/11 of the video is
``val``); ``split="all"`` reads both files in order. `transform_matrix` is an OpenGL
camera-to-world matrix, converted by `pgs.core.cameras.cameras_from_transforms`.

Opening validates everything that can be checked without decoding pixels: missing files, image
sizes (headers), frame/audio/AU counts; each problem is one `DataError` naming the file.
Frames are decoded on access (`dataset[i]`) and nothing per frame is cached, so memory does not
grow with the number of frames read.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor

from pgs.core.cameras import Cameras, cameras_from_transforms
from pgs.core.data.au import AuTable, read_au_csv
from pgs.core.data.images import image_size, read_image
from pgs.core.data.layouts import PRECOMPUTED_AUDIO, layout_for_shape
from pgs.core.data.parsing import masks_from_parsing
from pgs.core.errors import DataError, PgsError
from pgs.core.interfaces import AUDIO_WINDOW, AudioEncoder, AudioFeatures
from pgs.core.io.npy import load_npy

Split = Literal["train", "val", "all"]

#: Precomputed feature files in the order TalkingGaussian / ER-NeRF look for them, with the
#: layout name their shape [steps, channels] implies.


@dataclass
class FrameMasks:
    """Boolean [H, W] region masks of one frame (TalkingGaussian's definitions).

    Attributes:
        face: face pixels without the teeth (``face XOR teeth``).
        mouth: inside-mouth pixels (parsing grey, or teeth).
        hair: hair pixels.
        head: ``face | hair`` (what the face branch learns).
        neck: neck pixels.
        torso: torso (cloth) pixels.
        teeth: teeth pixels (all False without ``teeth_mask/``).
    """

    face: Tensor
    mouth: Tensor
    hair: Tensor
    head: Tensor
    neck: Tensor
    torso: Tensor
    teeth: Tensor


@dataclass
class Frame:
    """One training frame.

    Attributes:
        index: position in the split (0 .. len - 1).
        img_id: image id (file stem and AU frame - 1).
        aud_id: audio frame id.
        image: [H, W, 3] float32 in [0, 1] ground truth (``gt_imgs``).
        background: [H, W, 3] float32: torso over ``bc.jpg`` (what the head is composed over).
        masks: region masks.
        camera: `Cameras` with C = 1 (OpenCV world-to-camera).
        audio: [8, steps, channels] audio window of frames aud_id-4 .. aud_id+3, or None.
        aus: [6] face AU vector ``[AU01, AU04, AU05, AU06, AU07, clip(AU45, 0, 2)]``.
        landmarks: [68, 2] pixel landmarks if the folder has ``landmarks.npy``, else None.
    """

    index: int
    img_id: int
    aud_id: int
    image: Tensor
    background: Tensor
    masks: FrameMasks
    camera: Cameras
    audio: Tensor | None
    aus: Tensor
    landmarks: Tensor | None

    def to(self, device: torch.device | str) -> Frame:
        """A copy with every tensor on `device`."""
        masks = FrameMasks(**{f.name: getattr(self.masks, f.name).to(device) for f in fields(self.masks)})
        return replace(
            self,
            image=self.image.to(device),
            background=self.background.to(device),
            masks=masks,
            camera=self.camera.to(device),
            audio=None if self.audio is None else self.audio.to(device),
            aus=self.aus.to(device),
            landmarks=None if self.landmarks is None else self.landmarks.to(device),
        )


# ====================================================================================== helpers


def _read_transforms(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise DataError(f"{path}: transforms file not found")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read: {exc}") from None
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a JSON object with focal_len and frames")
    for key in ("focal_len", "frames"):
        if key not in data:
            raise DataError(f"{path}: missing key {key!r}")
    if not isinstance(data["frames"], list) or not data["frames"]:
        raise DataError(f"{path}: 'frames' must be a non-empty list")
    for i, frame in enumerate(data["frames"]):
        if not isinstance(frame, dict):
            raise DataError(f"{path}: frames[{i}] is not an object")
        for key in ("img_id", "transform_matrix"):
            if key not in frame:
                raise DataError(f"{path}: frames[{i}] has no {key!r}")
        matrix = np.asarray(frame["transform_matrix"], dtype=np.float64)
        if matrix.shape not in ((4, 4), (3, 4)) or not np.isfinite(matrix).all():
            raise DataError(f"{path}: frames[{i}].transform_matrix must be a finite 4x4 matrix")
    return data


def _find_image(folder: Path, img_id: int, suffixes: tuple[str, ...]) -> Path:
    for suffix in suffixes:
        candidate = folder / f"{img_id}{suffix}"
        if candidate.is_file():
            return candidate
    return folder / f"{img_id}{suffixes[0]}"


def load_precomputed_audio(path: Path, fps: float = 25.0) -> AudioFeatures:
    """Read an ER-NeRF-style feature file: [N, steps, channels] (or [N, channels]).

    Raises:
        DataError: unreadable file or wrong rank.
    """
    try:
        array = load_npy(path)
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read audio features: {exc}") from None
    if array.ndim == 2:
        array = array[:, None, :]
    if array.ndim != 3 or array.shape[0] == 0 or not np.issubdtype(array.dtype, np.number):
        raise DataError(f"{path}: audio features must be a numeric [frames, steps, channels] array, got {array.shape}")
    feats = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
    layout = layout_for_shape(feats.shape[1], feats.shape[2], path.name)
    return AudioFeatures(feats, fps, "npy", layout, str(path))


def resolve_audio(
    folder: Path,
    audio: AudioFeatures | AudioEncoder | str | None,
    params: dict[str, Any] | None = None,
    fps: float = 25.0,
) -> AudioFeatures | None:
    """The audio features of a speaker folder.

    Args:
        folder: the speaker folder.
        audio: an `AudioFeatures` (used as is), an `AudioEncoder` (applied to ``aud.wav``), a
            ``.npy`` file name (relative to `folder` or absolute), a ``pgs.audio_encoders``
            registry name (applied to ``aud.wav`` with `params`), ``"auto"`` (the first of
            `PRECOMPUTED_AUDIO` present, else ``aud.wav`` through the ``mel`` encoder), or None.
        params: encoder parameters for a registry name.
        fps: frame rate of precomputed files.
    """
    if audio is None or isinstance(audio, AudioFeatures):
        return audio
    wav = folder / "aud.wav"
    if isinstance(audio, AudioEncoder):
        if not wav.is_file():
            raise DataError(f"{wav}: audio file not found")
        return audio.encode_file(wav)
    if not isinstance(audio, str):
        raise TypeError(f"audio must be AudioFeatures, an AudioEncoder, a name or None, got {type(audio).__name__}")
    if audio.endswith(".npy"):
        path = Path(audio) if Path(audio).is_absolute() else folder / audio
        if not path.is_file():
            raise DataError(f"{path}: audio feature file not found")
        return load_precomputed_audio(path, fps)
    if audio == "auto":
        for name in PRECOMPUTED_AUDIO:
            if (folder / name).is_file():
                return load_precomputed_audio(folder / name, fps)
        if not wav.is_file():
            raise DataError(f"{folder}: no audio: expected one of {', '.join(PRECOMPUTED_AUDIO)} or aud.wav")
        audio = "mel"
    if not wav.is_file():
        raise DataError(f"{wav}: audio file not found (needed by audio encoder {audio!r})")
    from pgs.core.groups import AUDIO_ENCODERS
    from pgs.core.registry import registry

    encoder = registry(AUDIO_ENCODERS).create(audio, params or {})
    return encoder.encode_file(wav)


# ====================================================================================== dataset


class SpeakerDataset:
    """Frames of one split of a processed-speaker folder, decoded lazily.

    Build with `SpeakerDataset.open`. ``dataset[i]`` returns a `Frame`; ``len(dataset)`` frames.

    Attributes:
        folder: the speaker folder.
        split: ``train``, ``val`` or ``all``.
        width, height: image size in pixels.
        focal, cx, cy: intrinsics from the transforms file.
        img_ids: [F] int64 image ids of the split, in file order.
        aud_ids: [F] int64 audio frame ids.
        c2w: [F, 4, 4] float64 OpenGL camera-to-world matrices as stored.
        cameras: `Cameras` of every frame (OpenCV world-to-camera).
        audio: `AudioFeatures` of the whole recording, or None.
        aus: [F, 6] float32 face AU vectors of the split's frames.
        au_table: the parsed ``au.csv`` (None without one).
        has_torso: whether ``torso_imgs/`` exists.
        has_teeth: whether ``teeth_mask/`` exists.
    """

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, *args: Any, **kwargs: Any) -> SpeakerDataset:
        """Open and validate a speaker folder: the constructor under its usual name (arguments: `__init__`)."""
        return cls(*args, **kwargs)

    def __init__(
        self,
        folder: str | Path,
        split: Split = "train",
        audio: AudioFeatures | AudioEncoder | str | None = "auto",
        audio_params: dict[str, Any] | None = None,
        require_aus: bool = True,
        check_images: bool = True,
    ) -> None:
        """Open and validate a speaker folder.

        Args:
            folder: the processed-speaker folder.
            split: ``train``, ``val`` or ``all`` (train then val).
            audio: where the audio features come from (see `resolve_audio`); None: no audio.
            audio_params: parameters of a registry audio encoder.
            require_aus: without ``au.csv``, raise (True, TalkingGaussian's behaviour) or use
                zero AUs with a warning (False).
            check_images: read every image header at open time (size and readability).

        Raises:
            DataError: one problem, naming the file.
        """
        folder = Path(folder)
        if not folder.is_dir():
            raise DataError(f"{folder}: speaker folder not found")
        if split not in ("train", "val", "all"):
            raise DataError(f"split must be 'train', 'val' or 'all', got {split!r}")
        self.folder = folder
        self.split = split
        names = ["train", "val"] if split == "all" else [split]
        frames: list[dict[str, Any]] = []
        meta: dict[str, Any] = {}
        for name in names:
            path = folder / f"transforms_{name}.json"
            data = _read_transforms(path)
            if meta and float(data["focal_len"]) != float(meta["focal_len"]):
                raise DataError(f"{path}: focal_len differs from transforms_{names[0]}.json")
            meta = meta or data
            frames += data["frames"]
        self._transforms_source = folder / f"transforms_{names[0]}.json"
        self.img_ids = np.asarray([int(f["img_id"]) for f in frames], dtype=np.int64)
        self.aud_ids = np.asarray([int(f.get("aud_id", f["img_id"])) for f in frames], dtype=np.int64)
        if (self.img_ids < 0).any() or (self.aud_ids < 0).any():
            raise DataError(f"{self._transforms_source}: negative img_id or aud_id")
        self.c2w = np.stack([np.asarray(f["transform_matrix"], dtype=np.float64)[:4] for f in frames])
        if self.c2w.shape[1] == 3:
            self.c2w = np.concatenate([self.c2w, np.tile([[[0.0, 0.0, 0.0, 1.0]]], (len(frames), 1, 1))], axis=1)

        self._check_files(check_images)
        self.focal = float(meta["focal_len"])
        self.cx = float(meta.get("cx", self.width / 2.0))
        self.cy = float(meta.get("cy", self.height / 2.0))
        try:
            self.cameras = cameras_from_transforms(
                torch.from_numpy(self.c2w), self.focal, self.cx, self.cy, self.width, self.height
            )
        except PgsError as exc:
            raise DataError(f"{self._transforms_source}: {exc}") from None
        self._load_aus(require_aus)
        self.audio = resolve_audio(folder, audio, audio_params)
        if self.audio is not None:
            needed = int(self.aud_ids.max()) + 1
            if self.audio.num_frames < needed:
                raise DataError(
                    f"{self.audio.source}: {self.audio.num_frames} audio frames, but the transforms use aud_id up to "
                    f"{needed - 1}; the audio is shorter than the video (re-extract features from the same clip)"
                )
        self._landmarks = self._open_landmarks()
        self._background: Tensor | None = None

    def _check_files(self, check_images: bool) -> None:
        folder = self.folder
        bc = folder / "bc.jpg"
        if not bc.is_file():
            raise DataError(f"{bc}: background image not found")
        self.has_torso = (folder / "torso_imgs").is_dir()
        self.has_teeth = (folder / "teeth_mask").is_dir()
        for sub in ("gt_imgs", "parsing"):
            if not (folder / sub).is_dir():
                raise DataError(f"{folder / sub}: folder not found")
        self._paths: dict[str, list[Path]] = {
            "image": [_find_image(folder / "gt_imgs", i, (".jpg", ".png")) for i in self.img_ids],
            "parsing": [folder / "parsing" / f"{i}.png" for i in self.img_ids],
        }
        if self.has_torso:
            self._paths["torso"] = [folder / "torso_imgs" / f"{i}.png" for i in self.img_ids]
        if self.has_teeth:
            self._paths["teeth"] = [folder / "teeth_mask" / f"{i}.npy" for i in self.img_ids]
        for paths in self._paths.values():
            for path in paths:
                if not path.is_file():
                    raise DataError(f"{path}: file not found (listed in {self._transforms_source.name})")
        self.width, self.height = image_size(bc)
        if check_images:
            for key in ("image", "parsing", "torso"):
                for path in self._paths.get(key, []):
                    size = image_size(path)
                    if size != (self.width, self.height):
                        raise DataError(
                            f"{path}: image is {size[0]}x{size[1]}, but bc.jpg is {self.width}x{self.height}"
                        )

    def _load_aus(self, require_aus: bool) -> None:
        path = self.folder / "au.csv"
        if not path.is_file():
            if require_aus:
                raise DataError(
                    f"{path}: AU file not found; run OpenFace FeatureExtraction on the video "
                    "(or set the config field data.require_aus: false to use zero AUs)"
                )
            warnings.warn(f"{path} not found: using zero AUs (eyes and brows will not be driven)", stacklevel=3)
            self.au_table: AuTable | None = None
            self.aus = torch.zeros(len(self.img_ids), 6)
            return
        self.au_table = read_au_csv(path)
        self.aus = torch.from_numpy(self.au_table.face_vectors(self.img_ids))

    def _open_landmarks(self) -> np.ndarray | None:
        path = self.folder / "landmarks.npy"
        if not path.is_file():
            return None
        try:
            lms = load_npy(path, mmap_mode="r")
        except (OSError, ValueError) as exc:
            raise DataError(f"{path}: cannot read landmarks: {exc}") from None
        if lms.ndim != 3 or lms.shape[1:] != (68, 2):
            raise DataError(f"{path}: landmarks must be [frames, 68, 2], got {list(lms.shape)}")
        if lms.shape[0] <= int(self.img_ids.max()):
            raise DataError(f"{path}: {lms.shape[0]} landmark frames, but img_id goes up to {int(self.img_ids.max())}")
        return lms

    # ------------------------------------------------------------------ properties
    def __len__(self) -> int:
        return int(self.img_ids.shape[0])

    @property
    def image_size(self) -> tuple[int, int]:
        """(width, height)."""
        return self.width, self.height

    @property
    def landmarks(self) -> Tensor | None:
        """[F, 68, 2] pixel landmarks of the split's frames (``landmarks.npy``), or None."""
        if self._landmarks is None:
            return None
        return torch.from_numpy(np.asarray(self._landmarks[self.img_ids], dtype=np.float32))

    @property
    def scene_extent(self) -> float:
        """3DGS's ``cameras_extent``: 1.1 x the largest distance of a camera centre from their mean."""
        centres = self.c2w[:, :3, 3]
        return float(1.1 * np.linalg.norm(centres - centres.mean(axis=0), axis=1).max())

    def au_column(self, name: str) -> Tensor:
        """[F] raw values of one ``au.csv`` column for the split's frames (e.g. ``AU25_r``)."""
        if self.au_table is None:
            raise DataError(f"{self.folder / 'au.csv'}: AU file not found")
        rows = self.au_table.rows_for(self.img_ids)
        return torch.from_numpy(self.au_table.column(name)[rows].astype(np.float32))

    # ------------------------------------------------------------------ frame access
    def background_image(self) -> Tensor:
        """[H, W, 3] float32 ``bc.jpg`` (read once, kept: one image)."""
        if self._background is None:
            self._background = torch.from_numpy(read_image(self.folder / "bc.jpg")).float() / 255.0
        return self._background

    def load_image(self, index: int) -> Tensor:
        """[H, W, 3] float32 ground truth of frame `index`."""
        return self._read_rgb(self._paths["image"][index])

    def load_background(self, index: int) -> Tensor:
        """[H, W, 3] float32: ``torso_rgb * torso_a + bc * (1 - torso_a)`` (bc alone without torso_imgs)."""
        bc = self.background_image()
        if not self.has_torso:
            return bc.clone()
        path = self._paths["torso"][index]
        rgba = torch.from_numpy(read_image(path, "RGBA")).float() / 255.0
        self._check_shape(path, rgba)
        alpha = rgba[..., 3:]
        return rgba[..., :3] * alpha + bc * (1.0 - alpha)

    def load_masks(self, index: int) -> FrameMasks:
        """Region masks of frame `index` (parsing + optional teeth mask)."""
        path = self._paths["parsing"][index]
        parsing = read_image(path, "RGB")
        self._check_shape(path, parsing)
        m = masks_from_parsing(parsing)
        teeth = np.zeros_like(m.face)
        if self.has_teeth:
            tpath = self._paths["teeth"][index]
            try:
                teeth = load_npy(tpath).astype(bool)
            except (OSError, ValueError) as exc:
                raise DataError(f"{tpath}: cannot read teeth mask: {exc}") from None
            if teeth.shape != m.face.shape:
                raise DataError(f"{tpath}: teeth mask is {list(teeth.shape)}, expected {[self.height, self.width]}")
        face = m.face ^ (m.face & teeth)  # TalkingGaussian: face XOR teeth (teeth inside the face region)
        out = {
            "face": face,
            "mouth": m.mouth | teeth,
            "hair": m.hair,
            "head": face | m.hair,
            "neck": m.neck,
            "torso": m.torso,
            "teeth": teeth,
        }
        return FrameMasks(**{k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in out.items()})

    def audio_window(self, index: int, size: int = AUDIO_WINDOW) -> Tensor | None:
        """[size, steps, channels] features of audio frames aud_id-4 .. aud_id+3 (zero-padded)."""
        if self.audio is None:
            return None
        return self.audio.window(int(self.aud_ids[index]), size)

    def __getitem__(self, index: int) -> Frame:
        if not isinstance(index, (int, np.integer)):
            raise TypeError(f"frame index must be an int, got {type(index).__name__}")
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"frame {index} out of range for {n} frames")
        index = int(index) % n
        lms = None
        if self._landmarks is not None:
            lms = torch.from_numpy(np.array(self._landmarks[self.img_ids[index]], dtype=np.float32))
        return Frame(
            index=index,
            img_id=int(self.img_ids[index]),
            aud_id=int(self.aud_ids[index]),
            image=self.load_image(index),
            background=self.load_background(index),
            masks=self.load_masks(index),
            camera=self.cameras[index : index + 1],
            audio=self.audio_window(index),
            aus=self.aus[index].clone(),
            landmarks=lms,
        )

    def __iter__(self) -> Iterator[Frame]:
        for i in range(len(self)):
            yield self[i]

    # ------------------------------------------------------------------ internals
    def _read_rgb(self, path: Path) -> Tensor:
        array = read_image(path, "RGB")
        self._check_shape(path, array)
        return torch.from_numpy(array).float() / 255.0

    def _check_shape(self, path: Path, array: np.ndarray | Tensor) -> None:
        if tuple(array.shape[:2]) != (self.height, self.width):
            raise DataError(
                f"{path}: image is {array.shape[1]}x{array.shape[0]}, expected {self.width}x{self.height} (bc.jpg)"
            )

    def __repr__(self) -> str:
        audio = f"{self.audio.layout} {list(self.audio.features.shape)}" if self.audio is not None else "none"
        return (
            f"SpeakerDataset({str(self.folder)!r}, split={self.split!r}, frames={len(self)}, "
            f"size={self.width}x{self.height}, focal={self.focal:.1f}, audio={audio})"
        )


def train_val_split(num_frames: int) -> int:
    """TalkingGaussian's split point: frames [0, int(N * 10 / 11)) train, the rest val."""
    return int(num_frames * 10 / 11)



__all__ = [
    "PRECOMPUTED_AUDIO",
    "Frame",
    "FrameMasks",
    "SpeakerDataset",
    "Split",
    "layout_for_shape",
    "load_precomputed_audio",
    "resolve_audio",
    "train_val_split",
]
