"""``prepare``: one video in, one ER-NeRF/TalkingGaussian training folder out.

Stages: probe and audio check (fail before writing anything), decode + track (pass 1), gap
filling, camera fit, background model, masks and images (pass 2), landmarks, AUs, transforms,
audio and features, contact sheet, ``prep.json``. Everything goes to a temporary folder that is
renamed to the output path only when complete.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from pgs.core.data.dataset import train_val_split
from pgs.core.errors import DataError
from pgs.core.io.atomic import atomic_folder
from pgs.core.io.run_folder import check_output_folder, folder_lock, write_marker
from pgs.core.landmarks68 import MEDIAPIPE_TO_IBUG68
from pgs.core.progress import Progress
from pgs.prep import au as au_mod
from pgs.prep import audio as audio_mod
from pgs.prep import masks as masks_mod
from pgs.prep import mesh, pose
from pgs.prep.background import BackgroundModel, build_background
from pgs.prep.config import PrepConfig
from pgs.prep.contact_sheet import annotate, grid
from pgs.prep.gaps import Gap, find_gaps, interpolate_missing
from pgs.prep.tracking import FaceTracker, FrameTrack, resolve_model_path
from pgs.prep.video import (
    CropBox,
    VideoInfo,
    centre_box,
    crop_resize,
    face_box,
    iter_frames,
    output_frame_count,
    probe_video,
)

#: Frames sampled for the background median.
BACKGROUND_SAMPLES = 40
#: Labels of the head mask whose frame-to-frame IoU is reported (TalkingGaussian's head = face + mouth + hair).
HEAD_LABELS = (masks_mod.FACE, masks_mod.EYES, masks_mod.LIPS, masks_mod.MOUTH, masks_mod.HAIR)


@dataclass
class PrepReport:
    """What `prepare` did (also written as ``prep.json``).

    Attributes:
        output: the training folder.
        frames: frames written (F).
        width, height: frame size.
        fps: output frame rate.
        source_fps: the video's average frame rate.
        variable_frame_rate: the source had a variable frame rate (resampled by timestamp).
        detected: frames with a detected face.
        detection_rate: detected / frames.
        interpolated_frames: frames filled by interpolation (no detection).
        long_gaps: runs longer than max_gap (only with allow_long_gaps), as "a-b" strings.
        focal: focal length in pixels.
        reprojection_px_median: median over frames of the mean landmark reprojection error
            (tracked landmarks: rigid shape + expression), pixels.
        reprojection_px_max: the worst frame's mean error.
        rigid_reprojection_px_median: the same for the rigid landmark shape alone.
        head_extent: half-extent of the head landmarks in world units (x, y, z).
        camera_distance: median camera distance from the head centre (world units).
        audio_seconds: length of aud.wav.
        audio_source: where the audio came from.
        audio_features: feature files written.
        seconds: wall time per stage.
        seconds_total: wall time.
        seconds_per_frame: seconds_total / frames.
        head_mask_iou_consecutive: mean over consecutive frame pairs of the IoU of their head
            masks (face + eyes + lips + inner mouth + hair): the masks' temporal stability.
        head_mask_iou_consecutive_min: the smallest of those IoUs (the worst jump).
        landmarker: absolute path of the Face Landmarker bundle used (``pgs eval`` reuses it for LMD).
    """

    output: str
    frames: int
    width: int
    height: int
    fps: float
    source_fps: float
    variable_frame_rate: bool
    detected: int
    detection_rate: float
    interpolated_frames: list[int]
    long_gaps: list[str]
    focal: float
    reprojection_px_median: float
    reprojection_px_max: float
    rigid_reprojection_px_median: float
    head_extent: list[float]
    camera_distance: float
    audio_seconds: float
    audio_source: str
    audio_features: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    seconds_total: float = 0.0
    seconds_per_frame: float = 0.0
    head_mask_iou_consecutive: float = 0.0
    head_mask_iou_consecutive_min: float = 0.0
    landmarker: str = ""


ProgressFn = Progress


def _no_progress(stage: str, done: int, total: int | None) -> None:
    return None


def _write_jpg(path: Path, rgb: np.ndarray, quality: int) -> None:
    import cv2

    if not cv2.imwrite(str(path), rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality]):
        raise DataError(f"{path}: could not write image")


def _write_png(path: Path, img: np.ndarray) -> None:
    import cv2

    if not cv2.imwrite(str(path), img, [cv2.IMWRITE_PNG_COMPRESSION, 1]):
        raise DataError(f"{path}: could not write image")


def _packed_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two masks packed with `np.packbits` (same shape); 1 when both are empty."""
    inter = int(np.unpackbits(a & b).sum())
    union = int(np.unpackbits(a | b).sum())
    return inter / union if union else 1.0


def _read_rgb(path: Path) -> np.ndarray:
    import cv2

    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise DataError(f"{path}: could not read back the frame")
    return np.ascontiguousarray(bgr[..., ::-1])


def _choose_box(config: PrepConfig, video: Path, model: Path, width: int, height: int) -> CropBox | None:
    """The crop of every frame (None: full frame)."""
    if config.crop == "center" or (config.crop == "none" and config.size is not None and width != height):
        return centre_box(width, height)
    if config.crop == "none":
        return None
    # "face": the median face over a few frames of the first 10 s, detected independently.
    centres, heights = [], []
    with FaceTracker(model, video=False) as tracker:
        for i, rgb in enumerate(iter_frames(video, config.fps, max_frames=250)):
            if i % 25:
                continue
            det = tracker.detect(rgb)
            if det is not None:
                px = det.landmarks[:, :2] * np.array([width, height])
                geo = masks_mod.FaceGeometry.from_landmarks(px)
                centres.append((geo.centre_x, (geo.chin_y + geo.forehead_y) / 2))
                heights.append(geo.height)
    if not centres:
        raise DataError(f"{video}: no face found in the first 10 s to centre the 'face' crop on")
    c = np.median(np.array(centres), axis=0)
    return face_box((float(c[0]), float(c[1])), float(np.median(heights)), width, height, config.face_scale)


def _fill_tracks(
    tracks: list[FrameTrack | None], config: PrepConfig, video: Path
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[Gap], list[Gap]]:
    """Arrays of every frame with gaps interpolated.

    Returns:
        (landmarks [F, 478, 3], matrices [F, 4, 4], blendshapes [F, 52], detected [F], gaps, long gaps).
    """
    detected = np.array([t is not None for t in tracks])
    if not detected.any():
        raise DataError(f"{video}: no face detected in any of the {len(tracks)} frames")
    gaps = find_gaps(detected)
    long_gaps = [g for g in gaps if g.length > config.max_gap]
    if long_gaps and not config.allow_long_gaps:
        listed = ", ".join(str(g) for g in long_gaps[:20]) + (" ..." if len(long_gaps) > 20 else "")
        raise DataError(
            f"{video}: no face in {len(long_gaps)} run(s) of more than {config.max_gap} frames (frames {listed}); "
            "frames are never dropped (that would misalign images and audio): cut the video, raise --max-gap, "
            "or pass --allow-long-gaps to interpolate them"
        )
    first = next(t for t in tracks if t is not None)
    lms = np.stack([t.landmarks if t is not None else first.landmarks for t in tracks])
    mats = np.stack([t.matrix if t is not None else first.matrix for t in tracks])
    bs = np.stack([t.blendshapes if t is not None else first.blendshapes for t in tracks])
    if gaps:
        lms = interpolate_missing(lms, detected)
        bs = interpolate_missing(bs, detected)
        quats = pose.align_hemisphere(pose.matrix_to_quat(pose.orthonormalize(mats[:, :3, :3])))
        quats = interpolate_missing(quats, detected)
        trans = interpolate_missing(mats[:, :3, 3], detected)
        mats = mats.copy()
        mats[:, :3, :3] = pose.quat_to_matrix(quats)
        mats[:, :3, 3] = trans
    return lms.astype(np.float64), mats.astype(np.float64), bs.astype(np.float64), detected, gaps, long_gaps


def _transforms(c2w: np.ndarray, ids: range, focal: float, width: int, height: int) -> dict:
    return {
        "focal_len": focal,
        "cx": width / 2.0,
        "cy": height / 2.0,
        "w": width,
        "h": height,
        "frames": [{"img_id": i, "aud_id": i, "transform_matrix": c2w[i].tolist()} for i in ids],
    }


def torso_layer(labels: np.ndarray, band: int) -> np.ndarray:
    """Pixels of ``torso_imgs``: neck and torso, grown `band` pixels into the face along the jaw.

    The head's Gaussians fade out at the jaw over a pixel or two; the frame's own skin must lie
    behind that fade, or the composite shows ``bc.jpg`` there as a dark seam (TalkingGaussian's
    torso images likewise continue the neck under the head).

    Args:
        labels: [H, W] semantic labels (`pgs.prep.masks`).
        band: growth in pixels.

    Returns:
        [H, W] bool.
    """
    import cv2

    body = (labels == masks_mod.NECK) | (labels == masks_mod.TORSO)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band + 1, 2 * band + 1))
    grown = cv2.dilate(body.astype(np.uint8), kernel).astype(bool)
    skin = np.isin(labels, (masks_mod.FACE, masks_mod.LIPS))
    return body | (grown & skin)


@dataclass
class _Inputs:
    """What the checks before writing anything found (stage "probe").

    Attributes:
        info: the video's probe.
        model: the Face Landmarker bundle.
        audio_source: the file the audio comes from (``config.audio`` or the video).
        samples: [S] float32 mono audio at `audio_mod.SAMPLE_RATE`.
        replace: an existing output folder is to be replaced.
        box: the crop of every frame (None: full frame).
        expected: frames expected (for the progress bar).
    """

    info: VideoInfo
    model: Path
    audio_source: Path
    samples: np.ndarray
    replace: bool
    box: CropBox | None
    expected: int


@dataclass
class _Tracked:
    """Pass 1's result (stage "decode_track").

    Attributes:
        tracks: [F] one detection per frame (None: no face).
        height, width: frame size after crop and resize.
    """

    tracks: list[FrameTrack | None]
    height: int
    width: int


@dataclass
class _Poses:
    """Gap-filled tracks and the fitted cameras (stage "cameras").

    Attributes:
        uv: [F, 478, 2] landmark pixels.
        lms68: [F, 68, 2] the iBUG 68 landmarks (pixels).
        blendshapes: [F, 52] blendshape scores.
        detected: [F] bool, a face was detected (not interpolated).
        long_gaps: runs longer than ``max_gap`` (only with ``allow_long_gaps``).
        fit: the camera fit.
        c2w: [F, 4, 4] OpenGL camera-to-world matrices (head at the origin).
        head_world: [478, 3] fitted head-frame landmarks in world units.
    """

    uv: np.ndarray
    lms68: np.ndarray
    blendshapes: np.ndarray
    detected: np.ndarray
    long_gaps: list[Gap]
    fit: pose.CameraFit
    c2w: np.ndarray
    head_world: np.ndarray


@dataclass
class _Masks:
    """What pass 2 keeps (stage "masks").

    Attributes:
        tiles: contact-sheet tiles by frame index.
        ious: [F - 1] IoU of consecutive head masks.
    """

    tiles: dict[int, np.ndarray]
    ious: list[float]


class _StageClock:
    """Wall time per stage: ``with clock("name"): ...`` records ``seconds["name"]``."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        t = time.perf_counter()
        yield
        self.seconds[name] = time.perf_counter() - t

    def total(self) -> float:
        """Seconds since the clock was made."""
        return time.perf_counter() - self.start


def _check_inputs(video: Path, out: Path, cfg: PrepConfig) -> _Inputs:
    """Probe the video, the audio, the encoder names and the output folder before writing anything.

    Raises:
        DataError: no audio track (and no ``config.audio``), unreadable audio, an output folder
            in the way, or no face for the 'face' crop.
        PluginError: an unknown audio encoder name.
    """
    info = probe_video(video)
    model = resolve_model_path(cfg.landmarker)
    if cfg.audio is None and not info.has_audio:
        raise DataError(
            f"{video}: has no audio track; an audio-driven head needs the speech: pass --audio FILE "
            "with the recording that belongs to the video"
        )
    audio_source = cfg.audio if cfg.audio is not None else video
    samples = audio_mod.read_audio(audio_source)
    if cfg.audio_features:
        from pgs.core.groups import AUDIO_ENCODERS
        from pgs.core.registry import registry

        for name in cfg.audio_features:
            registry(AUDIO_ENCODERS).get(name)  # unknown names fail here, before any work
    replace = check_output_folder(out, "prep", cfg.overwrite, what="output")
    box = _choose_box(cfg, video, model, info.width, info.height)
    expected = output_frame_count(info, cfg.fps)
    if cfg.max_frames is not None:
        expected = min(expected, cfg.max_frames)
    return _Inputs(info, model, audio_source, samples, replace, box, expected)


def _decode_and_track(
    video: Path, tmp: Path, cfg: PrepConfig, inputs: _Inputs, pool: ThreadPoolExecutor, progress: ProgressFn
) -> _Tracked:
    """Pass 1: decode, crop and resize every frame, save ``ori_imgs/<i>.jpg``, track the face.

    Raises:
        DataError: fewer than 2 frames decoded.
    """
    ori = tmp / "ori_imgs"
    ori.mkdir()
    tracks: list[FrameTrack | None] = []
    writes = []
    size_hw: tuple[int, int] | None = None
    with FaceTracker(inputs.model, video=True) as tracker:
        for i, rgb in enumerate(iter_frames(video, cfg.fps, cfg.max_frames)):
            rgb = crop_resize(rgb, inputs.box, cfg.size)
            size_hw = size_hw or rgb.shape[:2]
            writes.append(pool.submit(_write_jpg, ori / f"{i}.jpg", rgb, cfg.jpeg_quality))
            tracks.append(tracker.detect(rgb, int(np.rint(i * 1000.0 / cfg.fps))))
            progress("track", i + 1, inputs.expected)
    for w in writes:
        w.result()
    if len(tracks) < 2 or size_hw is None:
        raise DataError(f"{video}: only {len(tracks)} frame(s) decoded; need at least 2")
    return _Tracked(tracks, *size_hw)


def _fit_poses(tracked: _Tracked, cfg: PrepConfig, video: Path) -> _Poses:
    """Fill the tracking gaps and fit the focal length, the head shape and every frame's camera.

    Raises:
        DataError: no face at all, or gaps longer than ``max_gap`` without ``allow_long_gaps``.
    """
    H, W = tracked.height, tracked.width
    lms, mats, bs, detected, _gaps, long_gaps = _fill_tracks(tracked.tracks, cfg, video)
    uv = lms[..., :2] * np.array([W, H])
    fit = pose.fit_cameras(
        uv, lms[..., 2], mats, W, H, focal=cfg.focal, smoothness=cfg.pose_smoothness,
        expression_components=cfg.expression_components,
    )
    centre = pose.head_centre(fit.shape)
    c2w = pose.camera_to_world(fit.rotations, fit.translations, centre)
    head_world = (fit.shape - centre) * pose.CM_TO_UNITS
    lms68 = uv[:, list(MEDIAPIPE_TO_IBUG68)]
    return _Poses(uv, lms68, bs, detected, long_gaps, fit, c2w, head_world)


def _write_background(tmp: Path, uv: np.ndarray, cfg: PrepConfig, pool: ThreadPoolExecutor) -> BackgroundModel:
    """Build the static background from up to `BACKGROUND_SAMPLES` frames and save ``bc.jpg``.

    Args:
        tmp: the folder being written (``ori_imgs`` already there).
        uv: [F, 478, 2] landmark pixels.
        cfg: options.
        pool: threads reading the frames.
    """
    ori = tmp / "ori_imgs"
    F = uv.shape[0]
    sample_ids = np.unique(np.linspace(0, F - 1, min(F, BACKGROUND_SAMPLES)).round().astype(int))
    frames = np.stack(list(pool.map(lambda i: _read_rgb(ori / f"{i}.jpg"), sample_ids)))
    bgm = build_background(frames, np.median(uv, axis=0))
    del frames
    _write_jpg(tmp / "bc.jpg", bgm.bc, cfg.jpeg_quality)
    return bgm


def _frame_masks(
    i: int, tmp: Path, cfg: PrepConfig, poses: _Poses, bgm: BackgroundModel, sheet_ids: set[int]
) -> tuple[np.ndarray | None, np.ndarray]:
    """Parse frame `i` and write its ``parsing``, ``semantic``, ``gt_imgs`` and ``torso_imgs`` files.

    Returns:
        (the contact-sheet tile if `i` is in `sheet_ids`, else None; the head mask packed with
        `np.packbits`).
    """
    rgb = _read_rgb(tmp / "ori_imgs" / f"{i}.jpg")
    H, W = rgb.shape[:2]
    uv = poses.uv[i]
    face = masks_mod.polygon_mask(uv[list(mesh.FACE_OVAL)], H, W)
    labels = masks_mod.parse_frame(rgb, uv, bgm.foreground(rgb, face))
    _write_png(tmp / "parsing" / f"{i}.png", masks_mod.parsing_image(labels))
    _write_png(tmp / "semantic" / f"{i}.png", labels)
    gt = np.where((labels == masks_mod.BACKGROUND)[..., None], bgm.bc, rgb)
    _write_jpg(tmp / "gt_imgs" / f"{i}.jpg", gt, cfg.jpeg_quality)
    body = torso_layer(labels, max(2, round(H / 64)))
    rgba = np.zeros((H, W, 4), dtype=np.uint8)
    rgba[..., :3] = np.where(body[..., None], rgb[..., ::-1], 0)
    rgba[..., 3] = body * np.uint8(255)
    _write_png(tmp / "torso_imgs" / f"{i}.png", rgba)
    head = np.packbits(np.isin(labels, HEAD_LABELS))
    if i in sheet_ids:
        tag = "" if poses.detected[i] else " interp."
        text = f"#{i} {poses.fit.frame_errors[i]:.2f}px{tag}"
        return annotate(rgb, labels, poses.lms68[i], text, 256), head
    return None, head


def _write_masks(
    tmp: Path, cfg: PrepConfig, poses: _Poses, bgm: BackgroundModel, pool: ThreadPoolExecutor,
    progress: ProgressFn,
) -> _Masks:
    """Pass 2: masks and images of every frame (`_frame_masks`), the sheet tiles and head-mask IoUs."""
    for sub in ("parsing", "gt_imgs", "torso_imgs", "semantic"):
        (tmp / sub).mkdir()
    F = poses.uv.shape[0]
    sheet_ids = set(np.unique(np.linspace(0, F - 1, min(F, cfg.sheet_frames)).round().astype(int)).tolist())
    tiles: dict[int, np.ndarray] = {}
    ious: list[float] = []
    previous: np.ndarray | None = None
    results = pool.map(lambda i: _frame_masks(i, tmp, cfg, poses, bgm, sheet_ids), range(F))
    for done, (i, (tile, head)) in enumerate(zip(range(F), results, strict=True)):
        if tile is not None:
            tiles[i] = tile
        if previous is not None:
            ious.append(_packed_iou(previous, head))
        previous = head
        progress("masks", done + 1, F)
    return _Masks(tiles, ious)


def _write_landmarks(tmp: Path, poses: _Poses) -> None:
    """``ori_imgs/<i>.lms`` (68 points, pixels), ``landmarks.npy`` and ``head_landmarks.npy``."""
    for i in range(poses.lms68.shape[0]):
        np.savetxt(tmp / "ori_imgs" / f"{i}.lms", poses.lms68[i], "%f")
    np.save(tmp / "landmarks.npy", poses.lms68.astype(np.float32))
    np.save(tmp / "head_landmarks.npy", poses.head_world.astype(np.float32))


def _write_aus(tmp: Path, poses: _Poses, fps: float) -> None:
    """``au.csv``: action units from the blendshapes; confidence 1 detected, 0 interpolated."""
    aus = au_mod.blendshapes_to_aus(poses.blendshapes)
    au_mod.write_au_csv(tmp / "au.csv", aus, fps, confidence=poses.detected.astype(np.float64))


def _write_transforms(tmp: Path, poses: _Poses, tracked: _Tracked) -> None:
    """``transforms_train.json`` (first ``train_val_split(F)`` frames) and ``transforms_val.json``."""
    F = poses.c2w.shape[0]
    split = train_val_split(F)
    for name, ids in (("transforms_train.json", range(split)), ("transforms_val.json", range(split, F))):
        content = _transforms(poses.c2w, ids, poses.fit.focal, tracked.width, tracked.height)
        (tmp / name).write_text(json.dumps(content, indent=2), encoding="utf-8")


def _write_audio(tmp: Path, cfg: PrepConfig, inputs: _Inputs, frames: int) -> tuple[float, list[str]]:
    """``aud.wav`` trimmed or padded with silence to exactly ``frames / fps`` s, and the features.

    Returns:
        (aud.wav's length in seconds, the feature files written).
    """
    n_samples = int(np.rint(frames / cfg.fps * audio_mod.SAMPLE_RATE))
    wav = np.zeros(n_samples, dtype=np.float32)
    wav[: min(n_samples, inputs.samples.size)] = inputs.samples[:n_samples]
    audio_mod.write_wav(tmp / "aud.wav", wav)
    written = []
    for name in cfg.audio_features:
        feats = audio_mod.compute_features(name, wav, audio_mod.SAMPLE_RATE, cfg.fps, str(inputs.audio_source))
        fname = audio_mod.feature_file_name(name)
        np.save(tmp / fname, feats)
        written.append(fname)
    return wav.size / audio_mod.SAMPLE_RATE, written


def _write_contact_sheet(tmp: Path, bgm: BackgroundModel, tiles: dict[int, np.ndarray]) -> None:
    """``contact_sheet.png``: ``bc.jpg`` with the person mask, then the sampled frames' tiles."""
    person_labels = bgm.person.astype(np.uint8) * masks_mod.TORSO
    bc_tile = annotate(bgm.bc, person_labels, np.zeros((0, 2)), "bc.jpg + person", 256)
    sheet = grid([bc_tile] + [tiles[i] for i in sorted(tiles)], columns=3)
    _write_png(tmp / "contact_sheet.png", sheet)


def _report(
    out: Path, cfg: PrepConfig, inputs: _Inputs, tracked: _Tracked, poses: _Poses, masks: _Masks,
    audio: tuple[float, list[str]], clock: _StageClock,
) -> PrepReport:
    """The `PrepReport` of a finished run (the clock's total is read here)."""
    F, fit, detected, ious = len(tracked.tracks), poses.fit, poses.detected, masks.ious
    total = clock.total()
    distance = np.linalg.norm(poses.c2w[:, :3, 3], axis=1)
    return PrepReport(
        output=str(out), frames=F, width=tracked.width, height=tracked.height, fps=cfg.fps,
        source_fps=inputs.info.fps, variable_frame_rate=inputs.info.variable_frame_rate,
        detected=int(detected.sum()), detection_rate=float(detected.mean()),
        interpolated_frames=[int(i) for i in np.flatnonzero(~detected)],
        long_gaps=[str(g) for g in poses.long_gaps], focal=fit.focal,
        reprojection_px_median=float(np.median(fit.frame_errors)),
        reprojection_px_max=float(fit.frame_errors.max()),
        rigid_reprojection_px_median=float(np.median(fit.rigid_errors.mean(axis=1))),
        head_extent=np.abs(poses.head_world).max(axis=0).round(4).tolist(),
        camera_distance=float(np.median(distance)),
        audio_seconds=audio[0], audio_source=str(inputs.audio_source),
        audio_features=audio[1], seconds={k: round(v, 3) for k, v in clock.seconds.items()},
        seconds_total=total, seconds_per_frame=total / F,
        head_mask_iou_consecutive=float(np.mean(ious)) if ious else 0.0,
        head_mask_iou_consecutive_min=float(np.min(ious)) if ious else 0.0,
        landmarker=str(Path(inputs.model).resolve()),
    )


def prepare(
    video: str | os.PathLike[str], out: str | os.PathLike[str], config: PrepConfig | None = None,
    progress: ProgressFn = _no_progress,
) -> PrepReport:
    """Turn a talking-head video into a training folder, one stage after the other.

    Everything is written to a temporary folder renamed to `out` only when complete.

    Args:
        video: the input video (any container/codec FFmpeg reads, with an audio track unless
            ``config.audio`` is given).
        out: the output folder (must not exist unless ``config.overwrite``).
        config: options.
        progress: called as ``progress(stage, done, total)``.

    Returns:
        The report (also saved as ``prep.json``).

    Raises:
        DataError: bad input (named in the message); nothing is left at `out`.
        PluginError: an unknown audio encoder name.
    """
    cfg = config or PrepConfig()
    video, out = Path(video), Path(out)
    clock = _StageClock()
    with clock("probe"):
        inputs = _check_inputs(video, out, cfg)
    with (
        folder_lock(out),
        atomic_folder(out, replace=inputs.replace or out.exists()) as tmp,
        ThreadPoolExecutor(cfg.workers) as pool,
    ):
        write_marker(tmp, "prep")
        with clock("decode_track"):
            tracked = _decode_and_track(video, tmp, cfg, inputs, pool, progress)
        with clock("cameras"):
            poses = _fit_poses(tracked, cfg, video)
        with clock("background"):
            bgm = _write_background(tmp, poses.uv, cfg, pool)
        with clock("masks"):
            masks = _write_masks(tmp, cfg, poses, bgm, pool, progress)
        with clock("write"):
            _write_landmarks(tmp, poses)
            _write_aus(tmp, poses, cfg.fps)
            _write_transforms(tmp, poses, tracked)
            audio = _write_audio(tmp, cfg, inputs, len(tracked.tracks))
        _write_contact_sheet(tmp, bgm, masks.tiles)
        report = _report(out, cfg, inputs, tracked, poses, masks, audio, clock)
        (tmp / "prep.json").write_text(json.dumps(asdict(report), indent=2), encoding="utf-8")
    return report


__all__ = ["PrepReport", "prepare", "torso_layer"]
