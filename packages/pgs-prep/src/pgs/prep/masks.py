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


def _below_line(a: np.ndarray, b: np.ndarray, height: int, width: int) -> np.ndarray:
    """[H, W] bool: pixel centres on the image-downward side of the line through `a` and `b` ([2] x, y)."""
    ys = np.arange(height)[:, None] + 0.5
    xs = np.arange(width)[None, :] + 0.5
    d = b - a
    if d[0] < 0:
        d = -d
    # Cross product sign: positive below the line (y grows downward) when d points to +x.
    return d[0] * (ys - a[1]) - d[1] * (xs - a[0]) > 0


def below_jaw(lms: np.ndarray, height: int, width: int) -> np.ndarray:
    """Pixels below the jaw line: the landmark jaw contour, extended straight beyond the jaw angles.

    The contour runs along the face oval from one jaw angle over the chin to the other; beyond
    the angles it continues along the line through the two angles (so a tilted head tilts it).

    Args:
        lms: [478, 2] landmarks in pixels.
        height: image height.
        width: image width.

    Returns:
        [H, W] bool.
    """
    oval = list(mesh.FACE_OVAL)
    i, j = oval.index(mesh.JAW_RIGHT_IMAGE), oval.index(mesh.JAW_LEFT_IMAGE)
    chain = lms[oval[i : j + 1]].astype(np.float64)  # right angle -> chin -> left angle
    u = chain[-1] - chain[0]
    u = u / max(float(np.linalg.norm(u)), 1e-6)  # towards the image-left angle
    n = np.array([-u[1], u[0]])
    n = n if n[1] > 0 else -n  # downward normal
    far = 4.0 * max(height, width)
    poly = np.concatenate(
        [[chain[0] - far * u], chain, [chain[-1] + far * u, chain[-1] + far * (u + n), chain[0] + far * (n - u)]]
    )
    return polygon_mask(poly, height, width)


def _run_widths(mask: np.ndarray, x: int, rows: np.ndarray) -> np.ndarray:
    """Width of the horizontal run of `mask` through column `x` in each of `rows` (0 where unset)."""
    out = np.zeros(rows.size, dtype=np.float64)
    for k, y in enumerate(rows):
        row = mask[y]
        if not row[x]:
            continue
        left = np.flatnonzero(~row[:x][::-1])
        right = np.flatnonzero(~row[x:])
        out[k] = (right[0] if right.size else row.size - x) + (left[0] if left.size else x)
    return out


def shoulder_row(body: np.ndarray, geo: FaceGeometry) -> int:
    """Row where the silhouette below the chin widens sharply into the shoulders.

    Along the run of `body` through the chin's column, row by row downwards: the first row at
    least 0.15 face heights below the chin whose run is wider than the narrowest run above it
    (the neck) by 0.45 face widths. Without such a row (the frame ends at the neck) the shoulder
    line is placed 1.2 face heights below the chin.

    Args:
        body: [H, W] bool, the person below the jaw line.
        geo: the frame's face measures.

    Returns:
        The first torso row (may equal H: no torso).
    """
    h, w = body.shape
    start = int(np.clip(np.floor(geo.chin_y), 0, h))
    limit = int(np.clip(np.ceil(geo.chin_y + 1.2 * geo.height), 0, h))
    if limit - start < 3:
        return limit
    x = int(np.clip(geo.centre_x, 0, w - 1))
    rows = np.arange(start, limit)
    widths = np.convolve(np.pad(_run_widths(body, x, rows), 2, mode="edge"), np.ones(5) / 5, mode="valid")
    neck = np.minimum.accumulate(np.where(widths > 0, widths, np.inf))
    wide = (widths > neck + 0.45 * geo.width) & (rows >= geo.chin_y + 0.15 * geo.height)
    hits = np.flatnonzero(wide)
    return int(rows[hits[0]]) if hits.size else limit


def face_mask(rgb: np.ndarray, lms: np.ndarray, reg: dict[str, np.ndarray], foreground: np.ndarray,
              below: np.ndarray) -> np.ndarray:
    """Face = the landmark face oval plus the ears.

    The oval is the top bound (forehead up to the oval's top, never into the hair); it is grown
    sideways over skin-coloured foreground within 0.15 face widths only between the eye line
    and the jaw line, where the ears are (opened, so thin strands of blond hair do not join).

    Args:
        rgb: [H, W, 3] uint8 frame.
        lms: [478, 2] landmarks in pixels.
        reg: `landmark_regions` of the frame.
        foreground: [H, W] bool person mask.
        below: [H, W] bool, `below_jaw` of the frame.

    Returns:
        [H, W] bool.
    """
    import cv2

    h, w = foreground.shape
    geo = FaceGeometry.from_landmarks(lms)
    eye_l = lms[list(mesh.LEFT_EYE)].mean(axis=0)
    eye_r = lms[list(mesh.RIGHT_EYE)].mean(axis=0)
    ear_zone = _below_line(eye_r, eye_l, h, w) & ~below
    features = _grow(reg["eyes"] | reg["brows"] | reg["lips"] | reg["mouth"], max(1.0, 0.02 * geo.width))
    grow = _grow(reg["face_oval"], max(1.0, 0.15 * geo.width)) & ~reg["face_oval"] & ear_zone & foreground
    ears = skin_pixels(rgb, reg["face_oval"] & ~features, grow, max_distance=2.5)
    r = max(1, round(0.01 * geo.width))
    ears = cv2.morphologyEx(ears.astype(np.uint8), cv2.MORPH_OPEN, np.ones((2 * r + 1, 2 * r + 1), np.uint8))
    return reg["face_oval"] | _attached(ears.astype(bool), reg["face_oval"])


def _attached(mask: np.ndarray, seed: np.ndarray) -> np.ndarray:
    """Components of `mask` that touch `seed` grown by one pixel (8-connected)."""
    import cv2

    if not mask.any():
        return mask.copy()
    n, lab = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    touch = cv2.dilate(seed.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool) & mask
    keep = np.zeros(n, dtype=bool)
    keep[lab[touch]] = True
    keep[0] = False
    return keep[lab]


def hair_mask(person: np.ndarray, face: np.ndarray, below: np.ndarray) -> np.ndarray:
    """Hair = the person above the jaw line, outside the face, connected to the face; holes filled.

    Pieces smaller than 5% of the largest hair component (slivers between the face, an ear and
    the jaw line) are dropped, so hair is one region unless it really is several (side hair).

    Args:
        person: [H, W] bool person mask (face included).
        face: [H, W] bool face mask.
        below: [H, W] bool, `below_jaw`.

    Returns:
        [H, W] bool.
    """
    from pgs.prep.background import fill_holes

    hair = _attached(person & ~face & ~below, face)
    # Gaps between strands or between hair and face that the head encloses are hair.
    hair = (fill_holes(hair | face, closed_bottom=False) & ~face & ~below) | hair
    return _drop_slivers(hair, 0.05)


def _drop_slivers(mask: np.ndarray, share: float) -> np.ndarray:
    """`mask` without the 8-connected components smaller than `share` of its largest one."""
    import cv2

    n, lab, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 2:
        return mask.copy()
    area = stats[:, cv2.CC_STAT_AREA].astype(np.float64)
    area[0] = 0
    return (area >= share * area.max())[lab]


def parse_frame(rgb: np.ndarray, lms: np.ndarray, foreground: np.ndarray) -> np.ndarray:
    """Semantic labels of one frame.

    Face (oval + ears, `face_mask`), lips, inner mouth and eyes from landmark polygons; hair
    (`hair_mask`) above the jaw line; below it the person splits into neck and torso at the
    shoulder line (`shoulder_row`), both following the person's silhouette.

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
    below = below_jaw(lms, h, w)
    face = face_mask(rgb, lms, reg, foreground, below)
    person = foreground | face
    hair = hair_mask(person, face, below)
    # Slivers squeezed between the face, the ears and the jaw line (dropped from the hair) are face.
    face = face | _attached(person & ~below & ~face & ~hair, face)
    body = person & below & ~face
    shoulder = shoulder_row(body, geo)
    labels = np.full((h, w), BACKGROUND, dtype=np.uint8)
    labels[person | hair] = TORSO
    labels[:shoulder][body[:shoulder]] = NECK
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
    "below_jaw",
    "face_mask",
    "hair_mask",
    "landmark_regions",
    "parse_frame",
    "parsing_image",
    "polygon_mask",
    "shoulder_row",
    "skin_pixels",
]
