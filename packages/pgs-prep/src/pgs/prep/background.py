"""A simple static-background model: per-pixel median, a person mask by GrabCut, ``bc.jpg`` fill.

The camera and the background are assumed static (as in every talking-head dataset of this
lineage). The per-pixel median over sampled frames is the scene; GrabCut on that median, seeded by
the face landmarks (sure person: the face, a neck and torso core below the chin; sure background:
the top and side borders away from the head), separates the person. ``bc.jpg`` is the median with
the (dilated) person region filled from the nearest background pixels (ER-NeRF fills the same
way). Per frame, the person is every pixel whose colour differs from ``bc.jpg`` by more than a
threshold estimated from the background's own noise (`robust_threshold`), cleaned by opening and
closing, reduced to the components touching the face, hole-filled, plus that frame's face hull.
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
    """Components of `mask` that overlap `keep` (else the largest one), with holes filled.

    Args:
        mask: [H, W] bool.
        keep: [H, W] bool, pixels whose components are kept.

    Returns:
        [H, W] bool.
    """
    import cv2

    n, lab = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    if n <= 1:
        return mask.copy()
    chosen = np.zeros(n, dtype=bool)
    chosen[lab[keep & mask]] = True
    chosen[0] = False
    if not chosen.any():
        chosen[np.argmax(np.bincount(lab.ravel(), minlength=n)[1:]) + 1] = True
    return fill_holes(chosen[lab])


def fill_holes(mask: np.ndarray, closed_bottom: bool = True) -> np.ndarray:
    """Fill background regions of `mask` that do not reach the image border.

    A person is cut by the bottom edge of a talking-head frame: with `closed_bottom`, the bottom
    edge between the mask's leftmost and rightmost pixel on the last row counts as closed, so
    background pockets enclosed by the body and that edge (a dark shirt next to a dark
    background) are filled too.

    Args:
        mask: [H, W] bool.
        closed_bottom: treat the mask's span of the bottom row as closed.

    Returns:
        [H, W] bool.
    """
    import cv2

    h, w = mask.shape
    padded = np.zeros((h + 1, w), dtype=bool)
    padded[:h] = mask
    cols = np.flatnonzero(mask[-1])
    if closed_bottom and cols.size:
        padded[h, cols[0] : cols[-1] + 1] = True
    n, lab = cv2.connectedComponents((~padded).astype(np.uint8), connectivity=4)
    hole = np.ones(n, dtype=bool)
    hole[0] = False
    hole[np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]])] = False
    return (padded | hole[lab])[:h]


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


def colour_distance(a: np.ndarray, b: np.ndarray, sigma: float) -> np.ndarray:
    """Per-pixel Euclidean RGB distance of two images after a Gaussian blur (noise, JPEG blocks).

    Args:
        a: [H, W, 3] uint8 or float32.
        b: [H, W, 3] like `a`.
        sigma: blur in pixels (0: none).

    Returns:
        [H, W] float32, 0-441.
    """
    import cv2

    fa, fb = a.astype(np.float32), b.astype(np.float32)
    if sigma > 0:
        fa, fb = cv2.GaussianBlur(fa, (0, 0), sigma), cv2.GaussianBlur(fb, (0, 0), sigma)
    return np.sqrt(((fa - fb) ** 2).sum(axis=-1))


def robust_threshold(distances: np.ndarray, k: float = 6.0, floor: float = 8.0, ceiling: float = 60.0) -> float:
    """Foreground threshold from colour distances of (mostly) background pixels.

    ``median + k * 1.4826 * MAD``: the noise level of the static background (sensor noise,
    compression), robust to the few foreground pixels that contaminate the sample.

    Args:
        distances: [N] distances of pixels believed to be background.
        k: noise standard deviations above the median.
        floor: lower bound of the returned threshold.
        ceiling: upper bound of the returned threshold.
    """
    d = np.asarray(distances, dtype=np.float64).ravel()
    if d.size < 100:
        return floor
    med = float(np.median(d))
    mad = float(np.median(np.abs(d - med)))
    return float(np.clip(med + k * 1.4826 * max(mad, 0.5), floor, ceiling))


@dataclass
class BackgroundModel:
    """Static background, the person of the median image, and the foreground test of a frame.

    Attributes:
        bc: [H, W, 3] uint8 RGB background (``bc.jpg``).
        person: [H, W] bool person mask of the median image.
        threshold: colour distance (0-255 RGB, Euclidean, after a `sigma` blur) above which a
            pixel differs from the background.
        sigma: blur (pixels) applied before comparing a frame with `bc`.
    """

    bc: np.ndarray
    person: np.ndarray
    threshold: float = 12.0
    sigma: float = 1.0

    def __post_init__(self) -> None:
        import cv2

        bc = self.bc.astype(np.float32)
        self._bc_blur = cv2.GaussianBlur(bc, (0, 0), self.sigma) if self.sigma > 0 else bc

    def difference(self, rgb: np.ndarray) -> np.ndarray:
        """[H, W, 3] uint8 frame -> [H, W] bool, pixels that differ from the background."""
        import cv2

        f = rgb.astype(np.float32)
        if self.sigma > 0:
            f = cv2.GaussianBlur(f, (0, 0), self.sigma)
        return ((f - self._bc_blur) ** 2).sum(axis=-1) > self.threshold**2

    def foreground(self, rgb: np.ndarray, face: np.ndarray) -> np.ndarray:
        """Person mask of one frame: differs from `bc`, cleaned, connected to the face.

        Opening removes specks, closing bridges thin gaps (hair strands), only components that
        touch the face survive, holes are filled (see `fill_holes`), and the face is always in.

        Args:
            rgb: [H, W, 3] uint8 frame.
            face: [H, W] bool face outline (landmark hull) of that frame.

        Returns:
            [H, W] bool.
        """
        import cv2

        h, w = face.shape
        r = max(1, round(0.008 * max(h, w)))
        small = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
        big = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (4 * r + 1, 4 * r + 1))
        fg8 = self.difference(rgb).astype(np.uint8)
        fg8 = cv2.morphologyEx(fg8, cv2.MORPH_OPEN, small)
        fg8 = cv2.morphologyEx(fg8 | face.astype(np.uint8), cv2.MORPH_CLOSE, big)
        fg = _largest_components(fg8.astype(bool) | face, face)
        # A second opening after the fill removes spurs left by the closing.
        fg8 = cv2.morphologyEx(fg.astype(np.uint8), cv2.MORPH_OPEN, small)
        return _largest_components(fg8.astype(bool) | face, face)


def build_background(frames: np.ndarray, lms: np.ndarray) -> BackgroundModel:
    """Background model from sampled frames and their median landmarks.

    ``bc`` is the per-pixel median with the (dilated) GrabCut person filled from the nearest
    background pixels; the foreground threshold comes from the sampled frames' distances to
    ``bc`` outside that region (`robust_threshold`).

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
    bc = fill_background(med, hole)
    sure_bg = ~cv2.dilate(hole.astype(np.uint8), k).astype(bool)
    picks = np.unique(np.linspace(0, len(frames) - 1, min(len(frames), 10)).round().astype(int))
    sample = [colour_distance(frames[i], bc, 1.0)[sure_bg] for i in picks] if sure_bg.any() else []
    threshold = robust_threshold(np.concatenate(sample)) if sample else 12.0
    return BackgroundModel(bc=bc, person=person, threshold=threshold, sigma=1.0)


__all__ = [
    "BackgroundModel",
    "build_background",
    "colour_distance",
    "fill_background",
    "fill_holes",
    "median_image",
    "person_mask",
    "robust_threshold",
]
