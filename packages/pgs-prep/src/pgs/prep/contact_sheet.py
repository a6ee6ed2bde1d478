"""Contact sheet: a grid of frames with masks and landmarks drawn, to judge a run at a glance."""

from __future__ import annotations

import numpy as np

from pgs.prep.masks import PARSING_BGR


def annotate(rgb: np.ndarray, labels: np.ndarray, lms68: np.ndarray, caption: str, tile: int) -> np.ndarray:
    """One tile: the frame with its label colours blended in, the 68 landmarks, and a caption.

    Args:
        rgb: [H, W, 3] uint8 frame.
        labels: [H, W] uint8 label map (`pgs.prep.masks.LABELS`).
        lms68: [68, 2] landmarks in pixels.
        caption: text drawn at the top left.
        tile: output side in pixels.

    Returns:
        [tile, tile, 3] uint8 BGR.
    """
    import cv2

    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    colours = np.zeros_like(bgr)
    for label, c in PARSING_BGR.items():
        colours[labels == label] = c
    blended = cv2.addWeighted(bgr, 0.6, colours, 0.4, 0)
    h, w = labels.shape
    s = tile / max(h, w)
    size = (max(1, int(np.rint(w * s))), max(1, int(np.rint(h * s))))
    out = cv2.resize(blended, size, interpolation=cv2.INTER_AREA)
    out = cv2.copyMakeBorder(out, 0, tile - out.shape[0], 0, tile - out.shape[1], cv2.BORDER_CONSTANT)
    for x, y in lms68 * s:
        cv2.circle(out, (int(np.rint(x)), int(np.rint(y))), 1, (0, 255, 255), -1, cv2.LINE_AA)
    cv2.putText(out, caption, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(out, caption, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def grid(tiles: list[np.ndarray], columns: int) -> np.ndarray:
    """Tiles (equal size, BGR) in rows of `columns`, padded with black."""
    if not tiles:
        raise ValueError("no tiles for the contact sheet")
    th, tw = tiles[0].shape[:2]
    rows = (len(tiles) + columns - 1) // columns
    sheet = np.zeros((rows * th, columns * tw, 3), dtype=np.uint8)
    for i, t in enumerate(tiles):
        r, c = divmod(i, columns)
        sheet[r * th : (r + 1) * th, c * tw : (c + 1) * tw] = t
    return sheet


__all__ = ["annotate", "grid"]
