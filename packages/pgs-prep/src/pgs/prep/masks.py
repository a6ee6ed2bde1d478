"""Per-frame semantic masks from landmarks and colour, in TalkingGaussian's parsing convention.

Regions: the face outline, lips, inner mouth and eyes are polygons of the 478 landmarks
(`pgs.prep.mesh`); the face is grown over skin-coloured pixels next to it above the jaw line
(forehead, ears); hair, neck and torso split the person's foreground (from `pgs.prep.background`)
by position relative to the face. Label ids (`LABELS`) are stored in ``semantic/<i>.png``; the
``parsing/<i>.png`` colours follow TalkingGaussian (BGR as cv2 writes them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pgs.prep import mesh

BACKGROUND, FACE, LIPS, MOUTH, EYES, HAIR, NECK, TORSO = range(8)
#: Label id -> name, as stored in ``semantic/<i>.png``.
LABELS: dict[int, str] = {
    BACKGROUND: "background", FACE: "face", LIPS: "lips", MOUTH: "inner_mouth", EYES: "eyes",
    HAIR: "hair", NECK: "neck", TORSO: "torso",
}

#: TalkingGaussian parsing colours, BGR (as written by cv2.imwrite), per label.
PARSING_BGR: dict[int, tuple[int, int, int]] = {
    BACKGROUND: (255, 255, 255),
    FACE: (255, 0, 0),
    LIPS: (255, 0, 0),  # lips belong to the face (BiSeNet classes 12/13)
    EYES: (255, 0, 0),
    MOUTH: (100, 100, 100),
    HAIR: (0, 0, 0),
    NECK: (0, 255, 0),
    TORSO: (0, 0, 255),
}
_LUT = np.zeros((256, 3), dtype=np.uint8)
for _label, _bgr in PARSING_BGR.items():
    _LUT[_label] = _bgr


def polygon_mask(points: np.ndarray, height: int, width: int) -> np.ndarray:
    """Filled polygon with sub-pixel vertices.

    Args:
        points: [N, 2] vertices (x, y) in pixel coordinates (pixel centres at integer + 0.5).
        height: image height.
        width: image width.

    Returns:
        [H, W] bool, True for pixels whose centre lies inside.
    """
    import cv2

    out = np.zeros((height, width), dtype=np.uint8)
    pts = np.round((np.asarray(points, dtype=np.float64) - 0.5) * 16).astype(np.int32)
    cv2.fillPoly(out, [pts.reshape(-1, 1, 2)], 1, lineType=cv2.LINE_8, shift=4)
    return out.astype(bool)


@dataclass
class FaceGeometry:
    """Face measures from one frame's landmarks (pixels).

    Attributes:
        centre_x: x of the chin-forehead midline.
        chin_y, forehead_y: y of the chin and of the top of the face outline.
        jaw_y: mean y of the two jaw angles: the line between head and neck.
        width: x extent of the face outline.
        height: chin_y - forehead_y.
    """

    centre_x: float
    chin_y: float
    forehead_y: float
    jaw_y: float
    width: float
    height: float

    @classmethod
    def from_landmarks(cls, lms: np.ndarray) -> FaceGeometry:
        """Measure [478, 2] pixel landmarks."""
        oval = lms[list(mesh.FACE_OVAL)]
        chin, top = lms[mesh.CHIN], lms[mesh.FOREHEAD]
        return cls(
            centre_x=float((chin[0] + top[0]) / 2),
            chin_y=float(chin[1]),
            forehead_y=float(top[1]),
            jaw_y=float((lms[mesh.JAW_LEFT_IMAGE, 1] + lms[mesh.JAW_RIGHT_IMAGE, 1]) / 2),
            width=float(oval[:, 0].max() - oval[:, 0].min()),
            height=float(max(chin[1] - top[1], 1.0)),
        )


def landmark_regions(lms: np.ndarray, height: int, width: int) -> dict[str, np.ndarray]:
    """Polygon masks of one frame, each [H, W] bool.

    Keys: ``face_oval``, ``lips`` (outer minus inner contour), ``mouth`` (inside the inner lip
    contour), ``eyes``, ``brows``.
    """
    poly = lambda idx: polygon_mask(lms[list(idx)], height, width)  # noqa: E731
    outer, inner = poly(mesh.LIPS_OUTER), poly(mesh.LIPS_INNER)
    return {
        "face_oval": poly(mesh.FACE_OVAL),
        "lips": outer & ~inner,
        "mouth": inner,
        "eyes": poly(mesh.LEFT_EYE) | poly(mesh.RIGHT_EYE),
        "brows": poly(mesh.LEFT_EYEBROW) | poly(mesh.RIGHT_EYEBROW),
    }


def _grow(mask: np.ndarray, radius: float) -> np.ndarray:
    """Pixels within `radius` of `mask` (Euclidean distance transform; linear time in pixels)."""
    import cv2

    if radius <= 0 or not mask.any():
        return mask.copy()
    dist = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 3)
    return dist <= radius


def skin_pixels(rgb: np.ndarray, sample: np.ndarray, candidates: np.ndarray, max_distance: float = 3.0) -> np.ndarray:
    """Pixels among `candidates` whose chroma matches the skin sample.

    A Gaussian model of (Cr, Cb) from the pixels in `sample`; a candidate is skin when its
    Mahalanobis distance is below `max_distance`.

    Args:
        rgb: [H, W, 3] uint8.
        sample: [H, W] bool, pixels known to be skin.
        candidates: [H, W] bool, pixels to classify.
        max_distance: Mahalanobis distance threshold.

    Returns:
        [H, W] bool.
    """
    import cv2

    out = np.zeros(candidates.shape, dtype=bool)
    if sample.sum() < 20 or not candidates.any():
        return out
    rows = np.flatnonzero((sample | candidates).any(axis=1))
    cols = np.flatnonzero((sample | candidates).any(axis=0))
    box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    ycc = cv2.cvtColor(np.ascontiguousarray(rgb[box]), cv2.COLOR_RGB2YCrCb)[..., 1:].astype(np.float64)
    s = ycc[sample[box]]
    mean = s.mean(axis=0)
    cov = np.cov(s.T) + np.eye(2) * 4.0  # floor: a few chroma levels of spread
    inv = np.linalg.inv(cov)
    c = ycc[candidates[box]] - mean
    d2 = np.einsum("ni,ij,nj->n", c, inv, c)
    sub = np.zeros(candidates[box].shape, dtype=bool)
    sub[candidates[box]] = d2 < max_distance**2
    out[box] = sub
    return out


def parse_frame(rgb: np.ndarray, lms: np.ndarray, foreground: np.ndarray) -> np.ndarray:
    """Semantic labels of one frame.

    Args:
        rgb: [H, W, 3] uint8 frame.
        lms: [478, 2] landmarks in pixels.
        foreground: [H, W] bool person mask (head, neck, torso).

    Returns:
        [H, W] uint8 label map (`LABELS`).
    """
    h, w = foreground.shape
    geo = FaceGeometry.from_landmarks(lms)
    reg = landmark_regions(lms, h, w)
    ys = np.arange(h)[:, None] + 0.5
    xs = np.arange(w)[None, :] + 0.5
    above_jaw = ys < geo.jaw_y
    # Face: the outline, grown over skin-coloured foreground next to it above the jaw line
    # (forehead, ears); the chroma model skips eyes, brows and lips.
    features = _grow(reg["eyes"] | reg["brows"] | reg["lips"] | reg["mouth"], max(1.0, 0.02 * geo.width))
    grow = _grow(reg["face_oval"], max(1.0, 0.15 * geo.width)) & ~reg["face_oval"] & above_jaw & foreground
    face = reg["face_oval"] | skin_pixels(rgb, reg["face_oval"] & ~features, grow)
    person = foreground | face
    dx = np.abs(xs - geo.centre_x)
    hair = person & ~face & above_jaw & (dx < 1.2 * geo.width)
    neck = person & ~face & ~hair & (dx < 0.55 * geo.width) & (ys < geo.chin_y + 0.45 * geo.height)
    labels = np.full((h, w), BACKGROUND, dtype=np.uint8)
    labels[person] = TORSO
    labels[neck] = NECK
    labels[hair] = HAIR
    labels[face] = FACE
    labels[reg["eyes"]] = EYES
    labels[reg["lips"]] = LIPS
    labels[reg["mouth"]] = MOUTH
    return labels


def parsing_image(labels: np.ndarray) -> np.ndarray:
    """[H, W] labels -> [H, W, 3] uint8 BGR parsing image in TalkingGaussian colours."""
    import cv2

    lab = np.ascontiguousarray(labels, dtype=np.uint8)
    return cv2.merge([cv2.LUT(lab, np.ascontiguousarray(_LUT[:, c])) for c in range(3)])


__all__ = [
    "BACKGROUND",
    "EYES",
    "FACE",
    "HAIR",
    "LABELS",
    "LIPS",
    "MOUTH",
    "NECK",
    "PARSING_BGR",
    "TORSO",
    "FaceGeometry",
    "landmark_regions",
    "parse_frame",
    "parsing_image",
    "polygon_mask",
    "skin_pixels",
]
