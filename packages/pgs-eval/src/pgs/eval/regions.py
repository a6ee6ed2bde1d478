"""Input checks and the image region a metric is computed on (face region or full frame).

Face region, as the paper computes its metrics:

- from masks: `EvaluationInputs.region_masks` (the dataset's face parsing), one [H, W] mask per
  frame;
- otherwise from landmarks: the bounding box of the 68 ground-truth landmarks
  (`EvaluationInputs.target_landmarks`, falling back to the predicted ones for cross-driven runs)
  grown by a margin on every side, clipped to the image.

PSNR averages the squared error over the region's pixels. SSIM and LPIPS need a rectangle: they
run on the bounding box of the region (pixels inside the box but outside the mask are kept as
they are; both images are cropped identically).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from pgs.core.errors import DataError
from pgs.core.interfaces import EvaluationInputs

Region = Literal["face", "full"]


def check_frames(frames: Tensor, name: str) -> None:
    """Raise `DataError` unless `frames` is a float [F, H, W, 3] tensor with finite values.

    Args:
        frames: the tensor to check.
        name: its name in the message (e.g. ``"predicted"``).
    """
    if not isinstance(frames, Tensor):
        raise DataError(f"{name}: expected a tensor [F, H, W, 3], got {type(frames).__name__}")
    if frames.dim() != 4 or frames.shape[-1] != 3:
        raise DataError(f"{name}: expected frames [F, H, W, 3], got shape {list(frames.shape)}")
    if not frames.is_floating_point():
        raise DataError(f"{name}: expected float values in [0, 1], got dtype {frames.dtype}")
    if frames.shape[0] == 0:
        raise DataError(f"{name}: no frames")
    if not bool(torch.isfinite(frames).all()):
        raise DataError(f"{name}: contains NaN or infinite values")


def check_pair(inputs: EvaluationInputs) -> tuple[Tensor, Tensor]:
    """Check the predicted and target frames of a reference metric and return them.

    Raises:
        DataError: missing target, bad shapes, or shapes that differ.
    """
    check_frames(inputs.predicted, "predicted")
    if inputs.target is None:
        raise DataError("target: this metric compares with ground truth, but no target frames were given")
    check_frames(inputs.target, "target")
    if inputs.predicted.shape != inputs.target.shape:
        raise DataError(
            f"predicted {list(inputs.predicted.shape)} and target {list(inputs.target.shape)} frames differ in shape"
        )
    if inputs.predicted.device != inputs.target.device:
        raise DataError(f"predicted is on {inputs.predicted.device}, target on {inputs.target.device}")
    return inputs.predicted, inputs.target


def check_landmarks(landmarks: Tensor, frames: int, name: str) -> None:
    """Raise `DataError` unless `landmarks` is [frames, 68, 2] float."""
    if not isinstance(landmarks, Tensor) or landmarks.dim() != 3 or tuple(landmarks.shape[1:]) != (68, 2):
        shape = list(landmarks.shape) if isinstance(landmarks, Tensor) else type(landmarks).__name__
        raise DataError(f"{name}: expected landmarks [F, 68, 2] in pixels, got {shape}")
    if landmarks.shape[0] != frames:
        raise DataError(f"{name}: {landmarks.shape[0]} landmark sets for {frames} frames")
    if not landmarks.is_floating_point():
        raise DataError(f"{name}: expected float pixel coordinates, got dtype {landmarks.dtype}")


def boxes_from_landmarks(landmarks: Tensor, height: int, width: int, margin: float) -> Tensor:
    """Face boxes around landmark sets.

    Args:
        landmarks: [F, P, 2] pixel coordinates (x, y); NaN rows (undetected) are ignored.
        height: image height H.
        width: image width W.
        margin: fraction of the box's width/height added on each side.

    Returns:
        [F, 4] int64 boxes (x0, y0, x1, y1), end-exclusive, clipped to the image.

    Raises:
        DataError: a frame without any finite landmark, or a box outside the image.
    """
    boxes = torch.zeros(landmarks.shape[0], 4, dtype=torch.int64)
    for f, points in enumerate(landmarks.detach().double().cpu()):
        points = points[torch.isfinite(points).all(dim=1)]
        if points.shape[0] == 0:
            raise DataError(f"landmarks: frame {f} has no finite landmark to place the face box")
        lo, hi = points.min(dim=0).values, points.max(dim=0).values
        grow = (hi - lo) * margin
        x0 = max(0, int(torch.floor(lo[0] - grow[0])))
        y0 = max(0, int(torch.floor(lo[1] - grow[1])))
        x1 = min(width, int(torch.ceil(hi[0] + grow[0])) + 1)
        y1 = min(height, int(torch.ceil(hi[1] + grow[1])) + 1)
        if x1 <= x0 or y1 <= y0:
            raise DataError(f"landmarks: frame {f}: the face box lies outside the {width}x{height} image")
        boxes[f] = torch.tensor([x0, y0, x1, y1])
    return boxes


def boxes_from_masks(masks: Tensor) -> Tensor:
    """Bounding boxes of boolean masks.

    Args:
        masks: [F, H, W] bool.

    Returns:
        [F, 4] int64 boxes (x0, y0, x1, y1), end-exclusive.

    Raises:
        DataError: a frame whose mask is empty.
    """
    boxes = torch.zeros(masks.shape[0], 4, dtype=torch.int64)
    rows = masks.any(dim=2).cpu()
    cols = masks.any(dim=1).cpu()
    for f in range(masks.shape[0]):
        ys = torch.nonzero(rows[f]).flatten()
        xs = torch.nonzero(cols[f]).flatten()
        if ys.numel() == 0:
            raise DataError(f"region_masks: frame {f} has an empty face mask")
        boxes[f] = torch.tensor([int(xs[0]), int(ys[0]), int(xs[-1]) + 1, int(ys[-1]) + 1])
    return boxes


def box_masks(boxes: Tensor, height: int, width: int, device: torch.device) -> Tensor:
    """[F, 4] boxes -> [F, H, W] bool masks that are True inside each box."""
    ys = torch.arange(height, device=device)[None, :, None]
    xs = torch.arange(width, device=device)[None, None, :]
    b = boxes.to(device)
    return (
        (xs >= b[:, 0, None, None])
        & (xs < b[:, 2, None, None])
        & (ys >= b[:, 1, None, None])
        & (ys < b[:, 3, None, None])
    )


@dataclass(frozen=True)
class RegionSelection:
    """The pixels a metric is computed on.

    Attributes:
        masks: [F, H, W] bool, or None for the full frame.
        boxes: [F, 4] int64 bounding boxes (x0, y0, x1, y1) of `masks`, or None for the full frame.
        description: how the region was obtained, for the protocol line.
    """

    masks: Tensor | None
    boxes: Tensor | None
    description: str

    def box_description(self) -> str:
        """`description` for metrics computed on the region's bounding box (SSIM, LPIPS)."""
        return self.description if self.boxes is None else f"the bounding box of the {self.description}"

    def crops(self, frames: Tensor) -> list[Tensor]:
        """Per-frame crops [h_f, w_f, 3] of `frames` [F, H, W, 3] to the region's boxes."""
        if self.boxes is None:
            return list(frames)
        return [frames[f, y0:y1, x0:x1] for f, (x0, y0, x1, y1) in enumerate(self.boxes.tolist())]


def select_region(inputs: EvaluationInputs, region: Region, margin: float) -> RegionSelection:
    """Resolve the face region (or the full frame) of `inputs`.

    Args:
        inputs: the evaluation inputs (predicted frames define F, H, W).
        region: ``"face"`` (masks, else a box from landmarks) or ``"full"``.
        margin: growth of a landmark box on each side, as a fraction of its size.

    Raises:
        DataError: ``region="face"`` without masks or landmarks, or masks of the wrong shape.
    """
    if region == "full":
        return RegionSelection(None, None, "full frame")
    frames, height, width = (int(s) for s in inputs.predicted.shape[:3])
    if inputs.region_masks is not None:
        masks = inputs.region_masks
        if not isinstance(masks, Tensor) or tuple(masks.shape) != (frames, height, width):
            shape = list(masks.shape) if isinstance(masks, Tensor) else type(masks).__name__
            raise DataError(f"region_masks: expected [F, H, W] = {[frames, height, width]}, got {shape}")
        masks = masks.to(device=inputs.predicted.device, dtype=torch.bool)
        return RegionSelection(masks, boxes_from_masks(masks), "face region (parsing masks)")
    for name in ("target_landmarks", "predicted_landmarks"):
        landmarks = getattr(inputs, name)
        if landmarks is not None:
            check_landmarks(landmarks, frames, name)
            boxes = boxes_from_landmarks(landmarks, height, width, margin)
            side = "ground-truth" if name == "target_landmarks" else "predicted"
            return RegionSelection(
                box_masks(boxes, height, width, inputs.predicted.device),
                boxes,
                f"face region (box around the 68 {side} landmarks, margin {margin:g})",
            )
    raise DataError(
        "region='face' needs region_masks (face parsing) or landmarks to place the face box; "
        "supply one of them, or set region='full' to evaluate the whole frame"
    )


def per_frame_values(
    region: RegionSelection, predicted: Tensor, target: Tensor, metric: Callable[[Tensor, Tensor], Tensor], chunk: int
) -> Tensor:
    """The evaluators' shared loop: [F] values of `metric` on whole frames or on each frame's box crop.

    Args:
        region: the selection (`select_region`); with boxes, each frame's crop is scored alone.
        predicted: [F, H, W, 3] frames.
        target: [F, H, W, 3] frames.
        metric: ``metric(pred [B, h, w, 3], target [B, h, w, 3]) -> [B]``.
        chunk: frames per call on whole frames (memory bound).

    Returns:
        [F] per-frame values in frame order.
    """
    if region.boxes is None:
        values = [metric(predicted[s : s + chunk], target[s : s + chunk]) for s in range(0, predicted.shape[0], chunk)]
    else:
        pairs = zip(region.crops(predicted), region.crops(target), strict=True)
        values = [metric(p[None], t[None]) for p, t in pairs]
    return torch.cat(values)


__all__ = [
    "per_frame_values",
    "Region",
    "RegionSelection",
    "box_masks",
    "boxes_from_landmarks",
    "boxes_from_masks",
    "check_frames",
    "check_landmarks",
    "check_pair",
    "select_region",
]
