"""PNG figures: side-by-side frame strips and Fig. 5 style Gaussian density pictures.

- `frame_strip_png`: one row per chosen frame, three panels: prediction | ground truth |
  per-pixel absolute error (mean over RGB) as an ``inferno`` heat map on a fixed scale
  [0, `error_max`] (black = no error, pale yellow = `error_max` or more), so strips of different
  methods compare directly; with crop boxes (``pgs eval``: the mouth, `crop_boxes_from_masks`) two
  more panels show the prediction's and the truth's crop enlarged to the frame size.
- `density_picture_png`: where the Gaussians sit on screen: a 2D histogram of their projected
  centres (log scale, ``viridis``) blended over the rendered frame, with the count in the title
  strip, for comparing density control variants side by side (the paper's Fig. 5).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from pgs.core.errors import DataError
from pgs.core.io.atomic import atomic_write_bytes
from pgs.eval.regions import check_frames

LABEL_HEIGHT = 14


def _colormap(name: str, values: np.ndarray) -> np.ndarray:
    """Map values in [0, 1] to uint8 RGB with a matplotlib colormap."""
    from matplotlib import colormaps

    return (colormaps[name](np.clip(values, 0.0, 1.0))[..., :3] * 255.0 + 0.5).astype(np.uint8)


def _to_uint8(image: Tensor) -> np.ndarray:
    return (image.detach().float().clamp(0, 1).cpu().numpy() * 255.0 + 0.5).astype(np.uint8)


def _label(width: int, texts: Sequence[str], panel: int) -> np.ndarray:
    """A dark strip with one label per panel of width `panel`."""
    from PIL import Image, ImageDraw

    strip = Image.new("RGB", (width, LABEL_HEIGHT), (24, 24, 24))
    draw = ImageDraw.Draw(strip)
    for i, text in enumerate(texts):
        draw.text((i * panel + 3, 1), text, fill=(235, 235, 235))
    return np.asarray(strip)


def _save_png(array: np.ndarray, path: str | Path) -> Path:
    from PIL import Image

    path = Path(path)
    if path.suffix.lower() != ".png":
        raise DataError(f"{path}: figures are written as PNG; use a .png file name")
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return atomic_write_bytes(path, buffer.getvalue())


def default_strip_frames(count: int, rows: int = 4) -> list[int]:
    """`rows` frame indices spread evenly over `count` frames (first and last included)."""
    if count <= rows:
        return list(range(count))
    return [round(i * (count - 1) / (rows - 1)) for i in range(rows)]


def crop_boxes_from_masks(masks: Tensor, margin: float = 0.4, min_size: int = 8) -> Tensor:
    """Square boxes around each frame's mask, grown by `margin` of their side, inside the image.

    Args:
        masks: [F, H, W] bool (e.g. the mouth region).
        margin: growth on each side as a fraction of the mask's larger side.
        min_size: smallest box side in pixels.

    Returns:
        [F, 4] int64 (x0, y0, x1, y1), end-exclusive; the whole frame where a mask is empty.
    """
    count, height, width = (int(s) for s in masks.shape)
    boxes = torch.tensor([[0, 0, width, height]] * count, dtype=torch.int64)
    for f in range(count):
        ys = torch.nonzero(masks[f].any(dim=1)).flatten()
        xs = torch.nonzero(masks[f].any(dim=0)).flatten()
        if ys.numel() == 0:
            continue
        cy, cx = (int(ys[0]) + int(ys[-1]) + 1) / 2.0, (int(xs[0]) + int(xs[-1]) + 1) / 2.0
        side = max(int(ys[-1]) - int(ys[0]) + 1, int(xs[-1]) - int(xs[0]) + 1)
        side = min(max(round(side * (1.0 + 2.0 * margin)), min_size), height, width)
        x0 = min(max(round(cx - side / 2.0), 0), width - side)
        y0 = min(max(round(cy - side / 2.0), 0), height - side)
        boxes[f] = torch.tensor([x0, y0, x0 + side, y0 + side])
    return boxes


def _crop_panel(image: Tensor, box: Sequence[int], height: int, width: int) -> np.ndarray:
    """[H, W, 3] uint8: the box of `image` [H, W, 3] enlarged (nearest) to the frame size."""
    x0, y0, x1, y1 = (int(v) for v in box)
    crop = image[y0:y1, x0:x1].permute(2, 0, 1)[None].float()
    return _to_uint8(torch.nn.functional.interpolate(crop, size=(height, width), mode="nearest")[0].permute(1, 2, 0))


def frame_strip_image(
    predicted: Tensor,
    target: Tensor,
    frames: Sequence[int] | None = None,
    error_max: float = 0.25,
    crop_boxes: Tensor | None = None,
    crop_label: str = "mouth",
) -> np.ndarray:
    """The strip as an array (see `frame_strip_png`).

    Returns:
        [rows * (H + 14), 3 * W (5 * W with `crop_boxes`), 3] uint8.
    """
    check_frames(predicted, "predicted")
    check_frames(target, "target")
    if predicted.shape != target.shape:
        raise DataError(f"predicted {list(predicted.shape)} and target {list(target.shape)} differ in shape")
    if not error_max > 0:
        raise ValueError(f"error_max must be positive, got {error_max}")
    count, height, width = (int(s) for s in predicted.shape[:3])
    if crop_boxes is not None and tuple(crop_boxes.shape) != (count, 4):
        raise DataError(f"crop_boxes: expected [{count}, 4], got {list(crop_boxes.shape)}")
    frames = default_strip_frames(count) if frames is None else list(frames)
    bad = [f for f in frames if not 0 <= f < count]
    if bad or not frames:
        raise DataError(f"strip frames {bad or frames} outside 0..{count - 1}")
    blocks = []
    for f in frames:
        err = (predicted[f].float() - target[f].float()).abs().mean(dim=-1).cpu().numpy() / error_max
        panels = [_to_uint8(predicted[f]), _to_uint8(target[f]), _colormap("inferno", err)]
        labels = [f"prediction #{f}", "ground truth", f"|error| 0..{error_max:g}"]
        if crop_boxes is not None:
            box = crop_boxes[f].tolist()
            panels += [_crop_panel(predicted[f], box, height, width), _crop_panel(target[f], box, height, width)]
            labels += [f"{crop_label}: prediction", f"{crop_label}: truth"]
        blocks += [_label(len(panels) * width, labels, width), np.concatenate(panels, axis=1)]
    return np.concatenate(blocks, axis=0)


def frame_strip_png(
    predicted: Tensor,
    target: Tensor,
    path: str | Path,
    frames: Sequence[int] | None = None,
    error_max: float = 0.25,
    crop_boxes: Tensor | None = None,
    crop_label: str = "mouth",
) -> Path:
    """Write side-by-side strips (prediction | truth | |error| heat [| crops]), one row per frame, as a PNG.

    Args:
        predicted: [F, H, W, 3] in [0, 1].
        target: [F, H, W, 3] in [0, 1].
        path: the ``.png`` file (written atomically; folders created).
        frames: frame indices to show (default: 4 spread over the clip).
        error_max: absolute error shown at full heat (fixed, so strips compare across methods).
        crop_boxes: [F, 4] int boxes (x0, y0, x1, y1) to show enlarged from both images (e.g. the
            mouth, `crop_boxes_from_masks`), or None.
        crop_label: what the crops show, for the labels.

    Returns:
        The written path.
    """
    image = frame_strip_image(predicted, target, frames, error_max, crop_boxes, crop_label)
    return _save_png(image, path)


def density_picture_image(
    means2d: Tensor, width: int, height: int, background: Tensor | None = None, cell: int = 4, label: str = ""
) -> np.ndarray:
    """The density picture as an array (see `density_picture_png`).

    Returns:
        [H + 14, W, 3] uint8.
    """
    if means2d.dim() != 2 or means2d.shape[-1] != 2:
        raise DataError(f"means2d: expected [N, 2] pixel positions, got {list(means2d.shape)}")
    if width < 1 or height < 1 or cell < 1:
        raise ValueError(f"width, height and cell must be positive, got {width}, {height}, {cell}")
    pts = means2d.detach().double().cpu()
    pts = pts[torch.isfinite(pts).all(dim=1)]
    inside = (pts[:, 0] >= 0) & (pts[:, 0] < width) & (pts[:, 1] >= 0) & (pts[:, 1] < height)
    pts = pts[inside]
    gh, gw = -(-height // cell), -(-width // cell)
    counts = np.zeros((gh, gw))
    if pts.shape[0]:
        idx = (pts // cell).long().numpy()
        np.add.at(counts, (idx[:, 1], idx[:, 0]), 1.0)
    scaled = np.log1p(counts) / max(np.log1p(counts.max()), 1e-12)
    heat = _colormap("viridis", scaled).repeat(cell, axis=0).repeat(cell, axis=1)[:height, :width]
    if background is not None:
        if tuple(background.shape) != (height, width, 3):
            raise DataError(f"background: expected [{height}, {width}, 3], got {list(background.shape)}")
        base = _to_uint8(background).astype(np.float64)
        alpha = np.where(counts > 0, 0.75, 0.0).repeat(cell, axis=0).repeat(cell, axis=1)[:height, :width, None]
        heat = (alpha * heat + (1 - alpha) * base * 0.6).astype(np.uint8)
    title = f"{label}  {pts.shape[0]:,} Gaussians on screen".strip()
    return np.concatenate([_label(width, [title], width), heat], axis=0)


def density_picture_png(
    means2d: Tensor,
    width: int,
    height: int,
    path: str | Path,
    background: Tensor | None = None,
    cell: int = 4,
    label: str = "",
) -> Path:
    """Write a Fig. 5 style picture of where Gaussians sit on screen.

    Args:
        means2d: [N, 2] projected Gaussian centres in pixels (``RenderResult.means2d[c]``, visible ones).
        width: image width W.
        height: image height H.
        path: the ``.png`` file (written atomically).
        background: [H, W, 3] rendered frame in [0, 1] to blend under the histogram, or None.
        cell: histogram cell size in pixels.
        label: text before the count in the title strip (e.g. the variant name).

    Returns:
        The written path.
    """
    return _save_png(density_picture_image(means2d, width, height, background, cell, label), path)


__all__ = [
    "crop_boxes_from_masks",
    "default_strip_frames",
    "density_picture_image",
    "density_picture_png",
    "frame_strip_image",
    "frame_strip_png",
]
