"""A simple static-background model: per-pixel median, a person mask by GrabCut, ``bc.jpg`` fill.

The camera and the background are assumed static (as in every talking-head dataset of this
lineage). The per-pixel median over sampled frames is the scene; GrabCut on that median, seeded by
the face landmarks (sure person: the face, a neck and torso core below the chin; sure background:
the top and side borders away from the head), separates the person. ``bc.jpg`` is the median with
the person region filled from the nearest background pixels (ER-NeRF fills the same way). Per
frame, the foreground is the person core plus, in a band around the person's outline, the pixels
that differ from ``bc.jpg`` (the head moves), plus that frame's face.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pgs.prep.masks import FaceGeometry, landmark_regions


def median_image(frames: np.ndarray) -> np.ndarray:
    """[K, H, W, 3] uint8 -> [H, W, 3] uint8 per-pixel median."""
    return np.median(np.asarray(frames), axis=0).round().astype(np.uint8)


def person_mask(median: np.ndarray, lms: np.ndarray, work_size: int = 256, iterations: int = 4) -> np.ndarray:
    """Person (head, hair, neck, torso) in the median image by GrabCut seeded from landmarks.

    Args:
        median: [H, W, 3] uint8 RGB.
        lms: [478, 2] representative (median) landmarks in pixels.
        work_size: GrabCut runs with the longer side at most this size.
        iterations: GrabCut iterations.

    Returns:
        [H, W] bool.
    """
    import cv2

    h, w = median.shape[:2]
    s = min(1.0, work_size / max(h, w))
    sh, sw = max(8, int(np.rint(h * s))), max(8, int(np.rint(w * s)))
    img = cv2.resize(median, (sw, sh), interpolation=cv2.INTER_AREA) if s < 1 else median.copy()
    small = lms * np.array([sw / w, sh / h])
    geo = FaceGeometry.from_landmarks(small)
    reg = landmark_regions(small, sh, sw)
    ys, xs = np.mgrid[0:sh, 0:sw] + 0.5
    dx = np.abs(xs - geo.centre_x)
    mask = np.full((sh, sw), cv2.GC_PR_BGD, dtype=np.uint8)
    # Probable person: an ellipse around the head (hair) and everything below the chin near it.
    head_cy = geo.forehead_y + 0.35 * geo.height
    ell = ((xs - geo.centre_x) / (0.85 * geo.width)) ** 2 + ((ys - head_cy) / (0.95 * geo.height)) ** 2 < 1
    mask[ell | ((ys > geo.jaw_y) & (dx < 2.0 * geo.width))] = cv2.GC_PR_FGD
    # Sure background: borders away from the head (top) and above the shoulders (sides).
    b = max(2, int(0.03 * max(sh, sw)))
    top = (ys < b) & (dx > 0.7 * geo.width)
    sides = ((xs < b) | (xs > sw - b)) & (ys < geo.chin_y) & (dx > 0.9 * geo.width)
    mask[top | sides] = cv2.GC_BGD
    # Sure person: the face, a neck core, and a torso core where the frame reaches below the neck.
    mask[reg["face_oval"]] = cv2.GC_FGD
    neck = (dx < 0.2 * geo.width) & (ys > geo.chin_y) & (ys < geo.chin_y + 0.3 * geo.height)
    mask[neck] = cv2.GC_FGD
    torso_top = geo.chin_y + 0.8 * geo.height
    if torso_top < sh - 2:
        mask[(dx < 0.6 * geo.width) & (ys > torso_top)] = cv2.GC_FGD
    if not (mask == cv2.GC_BGD).any():
        # The face fills the frame: nothing to learn a background from.
        person = mask != cv2.GC_PR_BGD
    else:
        bgd, fgd = np.zeros((1, 65)), np.zeros((1, 65))
        try:
            cv2.grabCut(cv2.cvtColor(img, cv2.COLOR_RGB2BGR), mask, None, bgd, fgd, iterations, cv2.GC_INIT_WITH_MASK)
            person = (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)
        except cv2.error:
            person = (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)
    person = _largest_components(person, reg["face_oval"])
    if s < 1:
        person = cv2.resize(person.astype(np.uint8), (w, h), interpolation=cv2.INTER_LINEAR).astype(bool)
    return person


def _largest_components(mask: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Components of `mask` that overlap `keep`, with holes filled."""
    import cv2

    n, lab = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    if n <= 1:
        return mask
    chosen = np.zeros(n, dtype=bool)
    chosen[lab[keep & mask]] = True
    chosen[0] = False
    if not chosen.any():
        chosen[np.argmax(np.bincount(lab.ravel(), minlength=n)[1:]) + 1] = True
    out = chosen[lab]
    # Fill holes: background components not touching the border.
    n2, lab2 = cv2.connectedComponents((~out).astype(np.uint8), connectivity=4)
    hole = np.ones(n2, dtype=bool)
    hole[0] = False
    hole[np.concatenate([lab2[0], lab2[-1], lab2[:, 0], lab2[:, -1]])] = False
    return out | hole[lab2]


def fill_background(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Replace `hole` pixels by the nearest non-hole pixel (then a light blur inside the hole).

    Args:
        image: [H, W, 3] uint8.
        hole: [H, W] bool, the pixels to fill.
    """
    import cv2

    if not hole.any():
        return image.copy()
    if hole.all():
        return np.full_like(image, 255)
    src = (~hole).astype(np.uint8)
    _, labels = cv2.distanceTransformWithLabels(1 - src, cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL)
    ys, xs = np.nonzero(src)
    # Labels of DIST_LABEL_PIXEL number the zero pixels of the input in row-major order.
    lut = np.zeros((labels.max() + 1, 2), dtype=np.int64)
    lut[labels[ys, xs]] = np.stack([ys, xs], 1)
    near = lut[labels]
    out = image[near[..., 0], near[..., 1]]
    blurred = cv2.GaussianBlur(out, (0, 0), 3)
    out[hole] = blurred[hole]
    return out


@dataclass
class BackgroundModel:
    """Static background and person mask.

    Attributes:
        bc: [H, W, 3] uint8 RGB background (``bc.jpg``).
        person: [H, W] bool person mask of the median image.
        band: half-width in pixels of the band around the person's outline where frames are
            compared with `bc`.
        threshold: colour distance (0-255 RGB, Euclidean) above which a band pixel is foreground.
    """

    bc: np.ndarray
    person: np.ndarray
    band: int
    threshold: float = 30.0

    def __post_init__(self) -> None:
        import cv2

        inside = cv2.distanceTransform(self.person.astype(np.uint8), cv2.DIST_L2, 3)
        outside = cv2.distanceTransform((~self.person).astype(np.uint8), cv2.DIST_L2, 3)
        self._core = inside > self.band
        ring = (~self._core) & (outside <= self.band)
        rows, cols = np.flatnonzero(ring.any(axis=1)), np.flatnonzero(ring.any(axis=0))
        self._box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)) if rows.size else None
        self._ring = ring

    def foreground(self, rgb: np.ndarray, face: np.ndarray) -> np.ndarray:
        """Person mask of one frame.

        Args:
            rgb: [H, W, 3] uint8 frame.
            face: [H, W] bool face outline of that frame.

        Returns:
            [H, W] bool.
        """
        import cv2

        fg = self._core | face
        if self._box is not None:
            b = self._box
            diff = rgb[b].astype(np.int32) - self.bc[b].astype(np.int32)
            moved = (diff * diff).sum(axis=-1) > self.threshold**2
            fg[b] |= self._ring[b] & moved
        k3 = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
        fg8 = cv2.morphologyEx(fg.astype(np.uint8), cv2.MORPH_OPEN, k3)
        fg8 = cv2.morphologyEx(fg8, cv2.MORPH_CLOSE, k3)
        return _largest_components(fg8.astype(bool) | face, face)


def build_background(frames: np.ndarray, lms: np.ndarray) -> BackgroundModel:
    """Background model from sampled frames and their median landmarks.

    Args:
        frames: [K, H, W, 3] uint8 RGB frames (evenly sampled).
        lms: [478, 2] median landmarks in pixels.
    """
    import cv2

    med = median_image(frames)
    person = person_mask(med, lms)
    h, w = person.shape
    band = max(2, int(np.rint(0.03 * max(h, w))))
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band + 1, 2 * band + 1))
    hole = cv2.dilate(person.astype(np.uint8), k).astype(bool)
    return BackgroundModel(bc=fill_background(med, hole), person=person, band=band)


__all__ = ["BackgroundModel", "build_background", "fill_background", "median_image", "person_mask"]
