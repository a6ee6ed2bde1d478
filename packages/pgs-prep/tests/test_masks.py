from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.path import Path as MplPath

from pgs.core.data import masks_from_parsing
from pgs.prep import masks as M
from pgs.prep import mesh
from pgs.prep.background import build_background


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000))
def test_polygon_mask_matches_point_in_polygon(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 9))
    ang = np.sort(rng.uniform(0, 2 * np.pi, n))
    r = rng.uniform(5, 25, n)
    pts = np.stack([32 + r * np.cos(ang), 32 + r * np.sin(ang)], 1)  # star-shaped, simple polygon
    got = M.polygon_mask(pts, 64, 64)
    ys, xs = np.mgrid[0:64, 0:64] + 0.5
    ref = MplPath(pts).contains_points(np.stack([xs.ravel(), ys.ravel()], 1)).reshape(64, 64)
    # cv2.fillPoly also fills the pixels its edges pass through: every pixel whose centre is
    # inside is set, and the extra ones lie within one pixel of the outline.
    centres = np.stack([xs.ravel(), ys.ravel()], 1)
    a, b = pts, np.roll(pts, -1, axis=0)
    ab = b - a
    s = np.clip(((centres[:, None] - a[None]) * ab[None]).sum(-1) / (ab**2).sum(-1)[None], 0, 1)
    dist = np.linalg.norm(centres[:, None] - (a[None] + s[..., None] * ab[None]), axis=-1).min(1).reshape(64, 64)
    assert not (ref & ~got & (dist > 0.25)).any()  # fillPoly is exact to a fraction of a pixel
    assert not (got & ~ref & (dist > 1.1)).any()  # 8-connected edge pixels: about one pixel out


def test_mesh_loops_are_edges_of_mediapipe_contours() -> None:
    from mediapipe.tasks.python.vision import FaceLandmarksConnections as C

    def edges(c):
        return {frozenset((e.start, e.end)) for e in c}

    for loop, conn in [
        (mesh.FACE_OVAL, C.FACE_LANDMARKS_FACE_OVAL), (mesh.LIPS_OUTER, C.FACE_LANDMARKS_LIPS),
        (mesh.LIPS_INNER, C.FACE_LANDMARKS_LIPS), (mesh.LEFT_EYE, C.FACE_LANDMARKS_LEFT_EYE),
        (mesh.RIGHT_EYE, C.FACE_LANDMARKS_RIGHT_EYE),
    ]:
        assert all(frozenset(p) in edges(conn) for p in zip(loop, loop[1:] + loop[:1], strict=False))
    for loop, conn in [(mesh.LEFT_EYEBROW, C.FACE_LANDMARKS_LEFT_EYEBROW),
                       (mesh.RIGHT_EYEBROW, C.FACE_LANDMARKS_RIGHT_EYEBROW)]:
        # Two open chains closed at both ends.
        assert sum(frozenset(p) in edges(conn) for p in zip(loop, loop[1:] + loop[:1], strict=False)) == len(loop) - 2


def _ellipse(idx, cx, cy, rx, ry, lms, start=-np.pi / 2) -> None:
    a = start + np.linspace(0, 2 * np.pi, len(idx), endpoint=False)
    lms[list(idx)] = np.stack([cx + rx * np.cos(a), cy + ry * np.sin(a)], 1)


def synthetic_scene(size: int = 128):
    """A cartoon speaker with known regions and 478 landmarks placed on its contours."""
    h = w = size
    ys, xs = np.mgrid[0:h, 0:w] + 0.5
    img = np.full((h, w, 3), (90, 120, 160), np.uint8)  # blue-grey background
    truth = np.zeros((h, w), np.uint8)
    cx, cy, rx, ry = 64, 52, 20, 26
    hair = ((xs - cx) / (rx + 8)) ** 2 + ((ys - (cy - 6)) / (ry + 8)) ** 2 < 1
    torso = (ys > 100) & (np.abs(xs - cx) < 45)
    neck = (ys > cy + 10) & (ys <= 100) & (np.abs(xs - cx) < 10)
    face = ((xs - cx) / rx) ** 2 + ((ys - cy) / ry) ** 2 < 1
    for region, colour, label in [(hair, (40, 25, 15), M.HAIR), (torso, (30, 60, 30), M.TORSO),
                                  (neck, (200, 150, 120), M.NECK), (face, (205, 155, 125), M.FACE)]:
        img[region] = colour
        truth[region] = label
    lms = np.tile([cx, cy], (478, 1)).astype(np.float64)
    # FACE_OVAL starts at the forehead (10) and goes clockwise in the image.
    _ellipse(mesh.FACE_OVAL, cx, cy, rx, ry, lms)
    _ellipse(mesh.LIPS_OUTER, cx, cy + 14, 8, 4, lms, start=np.pi)
    _ellipse(mesh.LIPS_INNER, cx, cy + 14, 5, 2, lms, start=np.pi)
    _ellipse(mesh.LEFT_EYE, cx + 8, cy - 5, 4, 2, lms)
    _ellipse(mesh.RIGHT_EYE, cx - 8, cy - 5, 4, 2, lms)
    _ellipse(mesh.LEFT_EYEBROW, cx + 8, cy - 10, 4, 1, lms)
    _ellipse(mesh.RIGHT_EYEBROW, cx - 8, cy - 10, 4, 1, lms)
    inner = M.polygon_mask(lms[list(mesh.LIPS_INNER)], h, w)
    img[inner] = (60, 10, 10)
    return img, truth, lms, inner


def test_parse_frame_labels_a_synthetic_speaker() -> None:
    img, truth, lms, inner = synthetic_scene()
    labels = M.parse_frame(img, lms, truth > 0)
    assert (labels[inner] == M.MOUTH).all()
    assert (labels[truth == 0] == M.BACKGROUND).all()
    for region, expected, min_share in [(M.FACE, {M.FACE, M.EYES, M.LIPS, M.MOUTH}, 0.97),
                                        (M.HAIR, {M.HAIR}, 0.85), (M.TORSO, {M.TORSO}, 0.85),
                                        (M.NECK, {M.NECK}, 0.6)]:
        # Hair that hangs below the jaw line is labelled neck/torso by design (README).
        got = labels[truth == region]
        assert np.isin(got, list(expected)).mean() >= min_share, region


def test_parsing_colours_read_back_by_the_dataset_loader(tmp_path) -> None:
    import cv2

    img, truth, lms, _inner = synthetic_scene()
    labels = M.parse_frame(img, lms, truth > 0)
    cv2.imwrite(str(tmp_path / "p.png"), M.parsing_image(labels))
    rgb = cv2.imread(str(tmp_path / "p.png"))[..., ::-1].copy()
    masks = masks_from_parsing(rgb)
    face_like = np.isin(labels, [M.FACE, M.EYES, M.LIPS])
    np.testing.assert_array_equal(masks.face, face_like)
    np.testing.assert_array_equal(masks.mouth, labels == M.MOUTH)
    np.testing.assert_array_equal(masks.hair, labels == M.HAIR)
    np.testing.assert_array_equal(masks.neck, labels == M.NECK)
    np.testing.assert_array_equal(masks.torso, labels == M.TORSO)


def test_background_model_recovers_the_person_and_the_background() -> None:
    img, truth, lms, _ = synthetic_scene()
    rng = np.random.default_rng(0)
    frames = []
    for _ in range(9):
        f = img.astype(np.int16) + rng.integers(-4, 5, img.shape)
        frames.append(np.clip(f, 0, 255).astype(np.uint8))
    bgm = build_background(np.stack(frames), lms)
    person = truth > 0
    iou = (bgm.person & person).sum() / (bgm.person | person).sum()
    assert iou > 0.9
    # bc.jpg: the true background colour wherever the background was visible, and filled
    # with background-like colour under the person.
    diff = np.abs(bgm.bc.astype(int) - np.array([90, 120, 160])).max(-1)
    assert np.median(diff[~person]) <= 4
    assert np.median(diff[person]) <= 10
    fg = bgm.foreground(frames[0], M.polygon_mask(lms[list(mesh.FACE_OVAL)], 128, 128))
    assert (fg & person).sum() / (fg | person).sum() > 0.9


def test_fill_holes_treats_the_bottom_span_as_closed() -> None:
    from pgs.prep.background import fill_holes

    m = np.zeros((20, 20), bool)
    m[5:, 4:7] = m[5:, 13:16] = m[5:8, 4:16] = True  # an arch standing on the bottom edge
    filled = fill_holes(m)
    assert filled[10:, 7:13].all()  # the pocket between the legs (a dark shirt) is filled
    assert not fill_holes(m, closed_bottom=False)[10:, 7:13].any()
    assert not filled[:5].any() and not filled[:, :4].any()  # the outside stays background


def _geometry(chin_y: float, width: float, height: float) -> M.FaceGeometry:
    return M.FaceGeometry(centre_x=50, chin_y=chin_y, forehead_y=chin_y - height, jaw_y=chin_y - 10,
                          width=width, height=height)


def test_shoulder_row_finds_where_the_silhouette_widens() -> None:
    body = np.zeros((160, 100), bool)
    body[60:, 40:60] = True  # neck, 20 px wide
    body[110:, 5:95] = True  # shoulders from row 110
    body[60:70, 25:75] = True  # hair hanging over the top of the neck: wide, but above the neck
    row = M.shoulder_row(body, _geometry(60, 40, 50))
    assert 106 <= row <= 111
    # No widening before the frame ends: no torso above the bottom.
    assert M.shoulder_row(body[:100], _geometry(60, 40, 50)) == 100
    # A body of fewer rows than the smoothing window (the chin near the bottom edge) works.
    assert M.shoulder_row(body[:64], _geometry(60, 40, 50)) == 64


def test_below_jaw_follows_the_jaw_contour_and_its_extension() -> None:
    _img, _truth, lms, _inner = synthetic_scene()
    below = M.below_jaw(lms, 128, 128)
    assert below[100, 64] and below[80, 64] and not below[70, 64]  # chin at y = 78
    assert not below[40, 64] and not below[40, 5]  # the head and beside it
    assert below[70, 5] and below[70, 123]  # beyond the jaw angles (y = 65): the extended line
    assert not below[62, 5] and not below[62, 123]


def test_masks_on_real_frames(clip, model, clip_frames) -> None:
    """Real clip: one hair region, a neck that follows the silhouette (not a box), a face that
    stops at the landmark oval's top, and the inner mouth exactly the inner-lip polygon."""
    import cv2

    from pgs.prep.tracking import FaceTracker

    frames = clip_frames(12)
    with FaceTracker(model, video=False) as tracker:
        tracks = [tracker.detect(f) for f in frames]
    lms = np.stack([t.landmarks[:, :2] * 256 for t in tracks]).astype(np.float64)
    bgm = build_background(np.stack(frames), np.median(lms, 0))
    assert 8.0 <= bgm.threshold < 30.0
    for i in (0, 5, 11):
        oval = M.polygon_mask(lms[i][list(mesh.FACE_OVAL)], 256, 256)
        labels = M.parse_frame(frames[i], lms[i], bgm.foreground(frames[i], oval))
        hair, neck = labels == M.HAIR, labels == M.NECK
        assert hair.mean() > 0.05
        assert cv2.connectedComponents(hair.astype(np.uint8), connectivity=8)[0] == 2  # one region
        ys, xs = np.nonzero(neck)
        fill = neck.sum() / ((np.ptp(ys) + 1) * (np.ptp(xs) + 1))
        assert 0.1 < fill < 0.85, fill  # a box would fill its bounding box
        face = np.isin(labels, [M.FACE, M.EYES, M.LIPS])
        top = lms[i][list(mesh.FACE_OVAL), 1].min()
        assert np.nonzero(face)[0].min() >= np.floor(top) - 1  # never above the oval's top
        eyes_y = lms[i][list(mesh.LEFT_EYE) + list(mesh.RIGHT_EYE), 1].mean()
        upper = face.copy()
        upper[int(np.ceil(eyes_y - 0.1 * (lms[i][mesh.CHIN, 1] - top))) :] = False  # margin: head roll
        assert not (upper & ~oval).any()  # above the eyes the face is the oval, not the (blond) hair
        inner = M.polygon_mask(lms[i][list(mesh.LIPS_INNER)], 256, 256)
        np.testing.assert_array_equal(labels == M.MOUTH, inner)
        assert not (neck & ~M.below_jaw(lms[i], 256, 256)).any()


def test_torso_layer_grows_under_the_jaw_only_into_skin() -> None:
    from pgs.prep import masks as masks_mod
    from pgs.prep.pipeline import torso_layer

    labels = np.full((40, 40), masks_mod.BACKGROUND, dtype=np.uint8)
    labels[:20, 10:30] = masks_mod.FACE
    labels[:8, 10:30] = masks_mod.HAIR
    labels[20:, 12:28] = masks_mod.NECK
    layer = torso_layer(labels, 3)
    body = labels == masks_mod.NECK
    assert np.all(layer[body])
    assert layer[17:20, 15:25].all()  # the band above the jaw, inside the face
    assert not layer[:16].any()  # no further than the band
    assert not layer[labels == masks_mod.BACKGROUND].any()
    assert not layer[labels == masks_mod.HAIR].any()
