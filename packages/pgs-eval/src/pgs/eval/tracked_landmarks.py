"""Landmarks tracked through a trained model, for LMD on speakers with exact 3D landmarks.

A synthetic speaker (`pgs synth`) ships ``landmarks3d.npy`` [F, 68, 3] (world coordinates; the
head sits at the origin and the camera moves) and ``landmarks.npy`` [F, 68, 2] (their
projections). A rendered frame has no detector-free landmarks, so they are tracked through the
model instead:

1. at a reference training frame r, take the face branch's deformed Gaussian centres and, for
   each of the 68 landmarks, its `k` nearest centres to ``landmarks3d[r]`` (the anchors) and the
   offset from their mean to the landmark;
2. at a rendered frame i, the predicted 3D landmark is the mean deformed position of its anchors
   at frame i plus that offset;
3. it is projected with frame i's camera (OpenCV pinhole, pixel centres at integer + 0.5: the
   convention of ``landmarks.npy``).

The mouth landmarks thus move exactly as far as the model moves the Gaussians around them, which
is what LMD should measure. Name of this landmark source in protocols: ``tracked``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from pgs.core.cameras import Cameras
from pgs.core.cameras import project_points as pinhole_project
from pgs.core.errors import DataError

#: File of the exact 3D landmarks written by the synthetic speaker generator.
LANDMARKS3D_FILE = "landmarks3d.npy"

#: Short description used in LMD protocol lines.
TRACKED_DESCRIPTION = (
    "tracked: each landmark follows the mean deformed position of its {k} nearest face-branch Gaussians "
    "(chosen at reference training frame {r}) plus their offset, projected with the frame's camera"
)


@dataclass(frozen=True)
class LandmarkAnchors:
    """Which Gaussians carry each landmark.

    Attributes:
        indices: [68, k] int64 indices of the anchor Gaussians (into the face branch's Gaussians).
        offsets: [68, 3] landmark minus the anchors' mean centre at the reference frame (world units).
        reference: image id of the reference frame.
    """

    indices: Tensor
    offsets: Tensor
    reference: int

    @property
    def k(self) -> int:
        """Anchors per landmark."""
        return int(self.indices.shape[1])


def project_points(points: Tensor, camera: Cameras) -> Tensor:
    """Project world points into camera 0 of `camera` (OpenCV pinhole).

    Args:
        points: [P, 3] world coordinates.
        camera: `Cameras` (the first camera is used).

    Returns:
        [P, 2] pixel coordinates (float64), pixel centres at integer + 0.5; NaN for points at or
        behind the camera.
    """
    if points.dim() != 2 or points.shape[-1] != 3:
        raise DataError(f"points: expected [P, 3], got {list(points.shape)}")
    uv, z = pinhole_project(points.double().cpu(), camera[0:1])
    return torch.where(z[0, :, None] > 0, uv[0], torch.full_like(uv[0], float("nan")))


def load_landmarks3d(folder: str | Path, num_images: int | None = None) -> np.ndarray | None:
    """Read ``landmarks3d.npy`` of a speaker folder.

    Args:
        folder: the speaker folder.
        num_images: when given, the file must have at least this many frames.

    Returns:
        [F, 68, 3] float64 world landmarks indexed by image id, or None when the file is absent.

    Raises:
        DataError: unreadable, wrong shape, non-finite values or too few frames.
    """
    path = Path(folder) / LANDMARKS3D_FILE
    if not path.is_file():
        return None
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read 3D landmarks: {exc}") from None
    if array.ndim != 3 or array.shape[1:] != (68, 3):
        raise DataError(f"{path}: 3D landmarks must be [frames, 68, 3], got {list(array.shape)}")
    if not np.isfinite(array).all():
        raise DataError(f"{path}: 3D landmarks contain NaN or infinite values")
    if num_images is not None and array.shape[0] < num_images:
        raise DataError(f"{path}: {array.shape[0]} frames, but the transforms use image ids up to {num_images - 1}")
    return array.astype(np.float64)


def reference_frame(landmarks3d: np.ndarray, image_ids: np.ndarray) -> int:
    """The training image whose mouth opening (inner lips 62-66 distance) is the median of `image_ids`.

    A typical mouth, neither closed nor wide open, so that anchors sit on the lips in their usual
    place.

    Args:
        landmarks3d: [F, 68, 3] world landmarks indexed by image id.
        image_ids: candidate image ids (the training split).

    Returns:
        The chosen image id.
    """
    if len(image_ids) == 0:
        raise DataError("no training frames to choose a landmark reference frame from")
    ids = np.asarray(image_ids, dtype=np.int64)
    opening = np.linalg.norm(landmarks3d[ids, 62] - landmarks3d[ids, 66], axis=-1)
    order = np.argsort(opening, kind="stable")
    return int(ids[order[len(order) // 2]])


def fit_anchors(means: Tensor, landmarks: Tensor, k: int = 8, reference: int = 0) -> LandmarkAnchors:
    """Choose each landmark's `k` nearest Gaussians and its offset from their mean.

    Args:
        means: [N, 3] deformed face-branch Gaussian centres at the reference frame.
        landmarks: [68, 3] world landmarks at the reference frame.
        k: anchors per landmark (at most N).
        reference: image id of the reference frame (recorded).

    Raises:
        DataError: no Gaussians, or bad shapes.
        ValueError: k < 1.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if means.dim() != 2 or means.shape[-1] != 3:
        raise DataError(f"means: expected [N, 3], got {list(means.shape)}")
    if tuple(landmarks.shape) != (68, 3):
        raise DataError(f"landmarks: expected [68, 3], got {list(landmarks.shape)}")
    if means.shape[0] == 0:
        raise DataError("the face branch has no Gaussians: cannot track landmarks")
    means = means.detach().double().cpu()
    landmarks = landmarks.detach().double().cpu()
    k = min(k, int(means.shape[0]))
    distances = torch.cdist(landmarks, means)  # [68, N]
    indices = distances.topk(k, dim=1, largest=False).indices  # [68, k]
    offsets = landmarks - means[indices].mean(dim=1)
    return LandmarkAnchors(indices, offsets, int(reference))


def track_landmarks(anchors: LandmarkAnchors, means: Tensor) -> Tensor:
    """3D landmarks at a frame from its deformed Gaussian centres.

    Args:
        anchors: from `fit_anchors` (same Gaussians, same order).
        means: [N, 3] deformed face-branch centres at the frame.

    Returns:
        [68, 3] float64 world landmarks.
    """
    n = int(means.shape[0])
    if int(anchors.indices.max()) >= n:
        raise DataError(f"anchors index Gaussians up to {int(anchors.indices.max())}, but the frame has only {n}")
    return means.detach().double().cpu()[anchors.indices].mean(dim=1) + anchors.offsets


def tracked_protocol(anchors: LandmarkAnchors) -> str:
    """The landmark part of the LMD protocol line for tracked (predicted) vs exact (target) landmarks."""
    tracked = TRACKED_DESCRIPTION.format(k=anchors.k, r=anchors.reference)
    return f"predicted = {tracked}; target = exact (the dataset's landmarks.npy)"


__all__ = [
    "LANDMARKS3D_FILE",
    "LandmarkAnchors",
    "fit_anchors",
    "load_landmarks3d",
    "project_points",
    "reference_frame",
    "track_landmarks",
    "tracked_protocol",
]
