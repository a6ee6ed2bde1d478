"""Evaluating a trained `TalkingHead`: self-driven on held-out frames, cross-driven with novel audio.

Self-driven (Table 1): every held-out (val) frame is rendered with its own camera, audio window,
AUs and background and compared with its ground truth. Cross-driven (Table 2): a novel audio
drives the head over the training frames' poses (ping-pong, `pgs.core.inference.drive`); there is
no ground truth, so only lip sync (LSE) is scored.

LMD landmarks: on a speaker with ``landmarks3d.npy`` (the synthetic speaker) the predicted
landmarks are tracked through the model (`pgs.eval.tracked_landmarks`) and the targets are the
exact ``landmarks.npy``. Otherwise MediaPipe runs on the renders with the Face Landmarker of
``--landmarker``, the folder's ``prep.json`` or ``PGS_FACE_LANDMARKER``
(`pgs.eval.speaker_landmarks`), against the folder's ``landmarks.npy`` (a prepped real speaker)
or MediaPipe on the ground truth (a folder without ``landmarks.npy``); without a model LMD is n/a
with a note. The same landmarks give the mouth-opening correlation of the benchmark
(`pgs.eval.benchmark`).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch
from torch import Tensor

from pgs.core.errors import DataError
from pgs.core.interfaces import MetricValue
from pgs.eval.benchmark import BenchmarkRegions, benchmark_regions, image_protocols, image_scores, mean_training_image
from pgs.eval.lse_crop import EVALUATOR_CROP, LseCrop, face_box_landmarks
from pgs.eval.report import EvaluationReport, evaluate_frames
from pgs.eval.speaker_landmarks import (
    NO_LANDMARKER,
    OPENING_PROTOCOL,
    MouthLandmarkScores,
    Progress,
    exact_opening,
    not_available,
    real_mouth_scores,
    resolve_landmarker,
)
from pgs.eval.tracked_landmarks import (
    LandmarkAnchors,
    fit_anchors,
    load_landmarks3d,
    project_points,
    reference_frame,
    track_landmarks,
    tracked_protocol,
)

if TYPE_CHECKING:
    from pgs.core.data.dataset import Frame, SpeakerDataset
    from pgs.core.inference import LoadedHead
    from pgs.core.model.talking_head import TalkingHead
    from pgs.core.training.config import TrainConfig

Region = Literal["face", "full"]
#: LMD landmark sources of ``pgs eval --landmarks`` (see `EvalOptions`).
LandmarkChoice = Literal["auto", "tracked", "exact", "mediapipe", "fan"]
LANDMARK_CHOICES: tuple[str, ...] = ("auto", "tracked", "exact", "mediapipe", "fan")

#: Note of LMD on real data without a landmark model.
LMD_NO_LANDMARKS = NO_LANDMARKER


@dataclass(frozen=True)
class EvalOptions:
    """How to evaluate (shared by ``pgs eval`` and ``pgs ablate``).

    Attributes:
        region: ``face`` (the dataset's face + inner-mouth parsing masks, as the paper) or ``full``.
        lpips_weights: torchvision AlexNet weights for LPIPS, or None ("weights not supplied" unless
            torchvision's cache holds them).
        syncnet_weights: syncnet_python's ``syncnet_v2.model``, or None ("weights not supplied").
        landmarker: MediaPipe ``face_landmarker.task`` for LMD on real data, or None.
        max_frames: evaluate only the first this many held-out frames (consecutive, so LSE still
            sees a continuous clip); None: all.
        fps_frames: timed frames of the FPS measurement (0: FPS not measured).
        fps_warmup: untimed warm-up frames before timing.
        anchors: Gaussians per tracked landmark.
        device: torch device of rendering and the learned metrics (``auto``: CUDA when available).
        static: render the canonical Gaussians (``render_frame(static=True)``, no deformation) instead
            of the audio-driven head (debugging; the static-only baseline of this checkpoint).
        lse_crop: ``face`` (syncnet_python's crop around the face box, `pgs.eval.lse_crop`) or
            ``frame`` (the whole frame resized to 224).
        landmarks: LMD's landmark source: ``auto`` (tracked on a synthetic speaker, else MediaPipe on
            the renders against landmarks.npy), ``tracked`` (tracked through the model vs the exact
            landmarks.npy; synthetic speakers), ``exact`` (MediaPipe on the renders vs the folder's
            landmarks.npy), ``mediapipe`` (MediaPipe on renders and ground truth) or ``fan``
            (face-alignment FAN on both, as the papers).
    """

    region: Region = "face"
    lpips_weights: Path | None = None
    syncnet_weights: Path | None = None
    landmarker: Path | None = None
    max_frames: int | None = None
    fps_frames: int = 100
    fps_warmup: int = 10
    anchors: int = 8
    device: str = "auto"
    static: bool = False
    lse_crop: LseCrop = "face"
    landmarks: LandmarkChoice = "auto"

    def __post_init__(self) -> None:
        from pgs.core.devices import resolve_device

        object.__setattr__(self, "device", str(resolve_device(self.device)))  # "auto" -> cuda or cpu
        if self.region not in ("face", "full"):
            raise DataError(f"region must be 'face' or 'full', got {self.region!r}")
        if self.lse_crop not in EVALUATOR_CROP:
            raise DataError(f"lse_crop must be 'face' or 'frame', got {self.lse_crop!r}")
        if self.landmarks not in LANDMARK_CHOICES:
            raise DataError(f"landmarks must be one of {', '.join(LANDMARK_CHOICES)}, got {self.landmarks!r}")
        if self.max_frames is not None and self.max_frames < 1:
            raise DataError(f"max_frames must be >= 1, got {self.max_frames}")
        if self.fps_frames < 0 or self.fps_warmup < 0:
            raise DataError(f"fps frames and warm-up must be >= 0, got {self.fps_frames} and {self.fps_warmup}")
        if self.anchors < 1:
            raise DataError(f"anchors must be >= 1, got {self.anchors}")
        for name in ("lpips_weights", "syncnet_weights", "landmarker"):
            path = getattr(self, name)
            if path is not None and not Path(path).is_file():
                raise DataError(f"{path}: {name.replace('_', ' ')} file not found")

    def evaluator_configs(self, with_fps: bool = True) -> dict[str, dict[str, Any]]:
        """Parameters per evaluator name for `evaluate_frames` (LMD is handled separately)."""
        device = self.device
        configs: dict[str, dict[str, Any]] = {
            "psnr": {"region": self.region},
            "ssim": {"region": self.region},
            "lpips": {"region": self.region, "device": device},
            "lse": {"device": device, "crop": EVALUATOR_CROP[self.lse_crop]},
        }
        if self.lpips_weights is not None:
            configs["lpips"]["backbone_weights"] = str(self.lpips_weights)
        if self.syncnet_weights is not None:
            configs["lse"]["weights"] = str(self.syncnet_weights)
        if with_fps:
            configs["fps"] = {"frames": max(self.fps_frames, 1), "warmup": self.fps_warmup}
        return configs


@dataclass
class SelfDrivenResult:
    """A self-driven evaluation.

    Attributes:
        report: metrics with protocols.
        predicted: [F, H, W, 3] renders in [0, 1] (CPU).
        target: [F, H, W, 3] ground truth.
        indices: val-split positions of the frames.
        anchors: the landmark anchors when LMD used tracked landmarks.
        regions: the benchmark's face, head and mouth regions of the frames.
    """

    report: EvaluationReport
    predicted: Tensor
    target: Tensor
    indices: list[int]
    anchors: LandmarkAnchors | None = None
    regions: BenchmarkRegions | None = None


@dataclass
class CrossDrivenResult:
    """A cross-driven evaluation with one novel audio.

    Attributes:
        report: metrics (LSE; reference metrics n/a).
        predicted: [F, H, W, 3] renders.
        audio: the driving audio file.
    """

    report: EvaluationReport
    predicted: Tensor
    audio: Path
    extra: dict[str, Any] = field(default_factory=dict)


def method_name(config: TrainConfig) -> str:
    """Row label from a run config: ``density + fusion``, each ``face/mouth`` when the branches differ."""

    def pair(face: str, mouth: str) -> str:
        return face if face == mouth else f"{face}/{mouth}"

    density = pair(config.density.face.name, config.density.mouth.name)
    fusion = pair(config.model.face.fusion.name, config.model.mouth.fusion.name)
    return f"{density} + {fusion}"


def frame_indices(count: int, max_frames: int | None) -> list[int]:
    """The first ``min(count, max_frames)`` positions (consecutive frames keep LSE meaningful)."""
    if count < 1:
        raise DataError("the held-out (val) split has no frames")
    return list(range(count if max_frames is None else min(count, max_frames)))


def render_frames(
    head: TalkingHead,
    frames: Sequence[Frame],
    device: str,
    static: bool = False,
    progress: Progress | None = None,
    phase: str = "render",
) -> Tensor:
    """Render dataset frames with their own camera, audio window, AUs and background.

    Args:
        head: the model.
        frames: the frames.
        device: torch device.
        static: render the canonical Gaussians (no deformation; ``render_frame(static=True)``).
        progress: called with (`phase`, done, total) after each frame.
        phase: the progress phase name.

    Returns:
        [F, H, W, 3] float32 on CPU, clamped to [0, 1].
    """
    out: Tensor | None = None
    with torch.no_grad():
        for i, frame in enumerate(frames):
            image = head.render_frame(frame.to(device), static=static).image[0].clamp(0, 1).cpu()
            if out is None:
                out = torch.empty((len(frames), *image.shape), dtype=torch.float32)
            out[i] = image
            if progress is not None:
                progress(phase, i + 1, len(frames))
    if out is None:
        raise DataError("no frames to render")
    return out


def tracked_landmarks(
    head: TalkingHead,
    train_set: SpeakerDataset,
    frames: Sequence[Frame],
    landmarks3d: np.ndarray,
    k: int,
    device: str,
) -> tuple[Tensor, LandmarkAnchors]:
    """Predicted 2D landmarks of `frames` tracked through the model (see `pgs.eval.tracked_landmarks`).

    Args:
        head: the trained head.
        train_set: training split (the reference frame is chosen from it).
        frames: the frames to track (their audio windows and AUs drive the face branch).
        landmarks3d: [F, 68, 3] exact world landmarks indexed by image id.
        k: anchors per landmark.
        device: torch device.

    Returns:
        ([F, 68, 2] float32 pixel landmarks, anchors).
    """
    ref_id = reference_frame(landmarks3d, train_set.img_ids)
    ref_pos = int(np.nonzero(train_set.img_ids == ref_id)[0][0])
    with torch.no_grad():
        ref = train_set[ref_pos].to(device)
        means, _ = head.face.deformed_gaussians(ref.audio, ref.aus, ref.camera.viewmats[0])
        anchors = fit_anchors(means.means, torch.from_numpy(landmarks3d[ref_id]), k, ref_id)
        out = torch.empty((len(frames), 68, 2), dtype=torch.float32)
        for i, frame in enumerate(frames):
            f = frame.to(device)
            deformed, _ = head.face.deformed_gaussians(f.audio, f.aus, f.camera.viewmats[0])
            out[i] = project_points(track_landmarks(anchors, deformed.means), frame.camera).float()
    return out, anchors


def clip_waveform(dataset: SpeakerDataset, frames: Sequence[Frame], fps: float) -> tuple[Tensor, int] | None:
    """The part of the speaker's ``aud.wav`` under `frames` (None without the file or when not consecutive)."""
    from pgs.core.io.audio import load_audio

    path = Path(dataset.folder) / "aud.wav"
    aud_ids = [f.aud_id for f in frames]
    if not path.is_file() or any(b - a != 1 for a, b in itertools.pairwise(aud_ids)):
        return None
    wave, rate = load_audio(path)
    start = round(aud_ids[0] * rate / fps)
    stop = round((aud_ids[-1] + 1) * rate / fps)
    if start >= wave.shape[0]:
        return None
    return wave[start:stop], rate


def _not_computed(name: str, up: bool, protocol: str, note: str) -> MetricValue:
    return MetricValue(name, None, up, protocol, note)


def _replace_metric(report: EvaluationReport, name: str, **changes: Any) -> None:
    report.metrics = [dataclasses.replace(m, **changes) if m.name == name else m for m in report.metrics]


@dataclass
class LandmarkPlan:
    """How LMD and the mouth-opening correlation are obtained for one self-driven evaluation.

    Attributes:
        lmd_config: config of the ``lmd`` evaluator (tracked vs exact on a synthetic speaker), or None.
        predicted: [F, 68, 2] tracked landmarks of the renders (synthetic speaker), or None.
        target: [F, 68, 2] exact landmarks (synthetic speaker), or None.
        anchors: the tracking anchors (synthetic speaker), or None.
        scores: LMD and opening r computed already (real speaker, MediaPipe) or n/a, or None.
    """

    lmd_config: dict[str, Any] | None = None
    predicted: Tensor | None = None
    target: Tensor | None = None
    anchors: LandmarkAnchors | None = None
    scores: MouthLandmarkScores | None = None


def plan_landmarks(
    head: TalkingHead,
    train_set: SpeakerDataset,
    val_set: SpeakerDataset,
    frames: Sequence[Frame],
    images: tuple[Tensor, Tensor],
    options: EvalOptions,
    progress: Progress | None = None,
) -> LandmarkPlan:
    """Landmarks for LMD and the opening correlation (see the module docstring).

    Args:
        head: the trained head.
        train_set: training split (reference frame of tracked landmarks).
        val_set: held-out split.
        frames: the evaluated frames.
        images: ([F, H, W, 3] renders, [F, H, W, 3] ground truth).
        options: what to compute (`landmarker`, `static`, `anchors`).
        progress: progress callback.
    """
    truth = torch.stack([f.landmarks for f in frames]) if frames[0].landmarks is not None else None  # type: ignore[misc]
    if options.landmarks == "fan":  # the papers' detector on both sides, run by the lmd evaluator
        return LandmarkPlan({"source": "fan", "device": options.device})
    landmarks3d = load_landmarks3d(val_set.folder, int(max(train_set.img_ids.max(), val_set.img_ids.max())) + 1)
    if options.landmarks == "tracked" and (landmarks3d is None or truth is None):
        raise DataError(
            f"{val_set.folder}: --landmarks tracked needs landmarks3d.npy and landmarks.npy (a pgs synth speaker)"
        )
    if options.landmarks == "exact" and truth is None:
        raise DataError(f"{val_set.folder}: --landmarks exact needs the folder's landmarks.npy")
    tracked_ok = options.landmarks in ("auto", "tracked")
    if (
        tracked_ok
        and landmarks3d is not None
        and truth is not None
        and not (options.static and options.landmarker is not None)
    ):
        if options.static:
            note = "n/a: tracked landmarks follow the deformation, undefined for --static renders; use --landmarker"
            lmd_value = _not_computed("LMD", False, "LMD in pixels, mouth points 48-67 mean-centred", note)
            return LandmarkPlan(scores=MouthLandmarkScores(lmd_value, None, OPENING_PROTOCOL, note))
        pred_lms, anchors = tracked_landmarks(head, train_set, frames, landmarks3d, options.anchors, options.device)
        return LandmarkPlan({"source": "exact"}, pred_lms, truth, anchors)
    choice = resolve_landmarker(options.landmarker, val_set.folder)
    if choice.path is None:
        return LandmarkPlan(scores=not_available(choice))
    target = None if options.landmarks == "mediapipe" else truth  # mediapipe: the detector on both sides
    return LandmarkPlan(scores=real_mouth_scores(images[0], images[1], target, choice, progress))


def evaluate_self_driven(
    head: TalkingHead,
    train_set: SpeakerDataset,
    val_set: SpeakerDataset,
    options: EvalOptions,
    *,
    method: str,
    train_time_s: float | None = None,
    meta: dict[str, Any] | None = None,
    fps: float = 25.0,
    progress: Progress | None = None,
) -> SelfDrivenResult:
    """Render the held-out frames, score them (Table 1 and the benchmark), and time the renderer.

    Args:
        head: the trained head (put in eval mode with cached canonical features here).
        train_set: training split (landmark reference frame, mean-image baseline).
        val_set: held-out split with the same audio features as training.
        options: what to compute.
        method: row label.
        train_time_s: training time for Table 1's Time column.
        meta: extra facts for metrics.json.
        fps: video frame rate.
        progress: called with (phase, done, total): ``render``, ``landmarks``.
    """
    head.eval()
    head.cache_canonical()
    indices = frame_indices(len(val_set), options.max_frames)
    frames = [val_set[i] for i in indices]
    predicted = render_frames(head, frames, options.device, options.static, progress)
    target = torch.stack([f.image for f in frames])
    plan = plan_landmarks(head, train_set, val_set, frames, (predicted, target), options, progress)
    report = _table1_report(head, frames, val_set, (predicted, target), plan, options, fps=fps,
                            method=method, train_time_s=train_time_s, meta=meta)
    regions = benchmark_regions(frames)
    _attach_benchmark(report, (predicted, target), regions, plan, train_set)
    report.meta.setdefault("val_frames", [int(f.img_id) for f in frames])
    report.meta.setdefault("region", options.region)
    report.meta.setdefault("static", options.static)
    if plan.anchors is not None:
        report.meta.setdefault(
            "landmarks",
            {"predicted": "tracked", "target": "exact", "reference_img_id": plan.anchors.reference,
             "anchors": plan.anchors.k},
        )
    elif plan.scores is not None and plan.scores.meta:
        report.meta.setdefault("landmarks", plan.scores.meta)
    return SelfDrivenResult(report, predicted, target, indices, plan.anchors, regions)


def _table1_report(
    head: TalkingHead,
    frames: Sequence[Frame],
    val_set: SpeakerDataset,
    images: tuple[Tensor, Tensor],
    plan: LandmarkPlan,
    options: EvalOptions,
    *,
    fps: float,
    method: str,
    train_time_s: float | None,
    meta: dict[str, Any] | None,
) -> EvaluationReport:
    """The Table 1 report (PSNR, SSIM, LPIPS, LMD, LSE, FPS) of rendered frames."""
    predicted, target = images
    masks = torch.stack([f.masks.face | f.masks.mouth for f in frames]) if options.region == "face" else None
    configs = options.evaluator_configs(with_fps=options.fps_frames > 0)
    if plan.lmd_config is not None:
        configs["lmd"] = plan.lmd_config
    audio = clip_waveform(val_set, frames, fps)
    lse_missing = audio is None and options.syncnet_weights is not None
    metrics = ["psnr", "ssim", "lpips"]
    metrics += ["lmd"] if plan.lmd_config is not None else []
    metrics += [] if lse_missing else ["lse"]
    metrics += ["fps"] if options.fps_frames > 0 else []
    configs = {k: v for k, v in configs.items() if k in metrics}
    preloaded = [f.to(options.device) for f in frames]
    lse_landmarks = plan.predicted
    if "lse" in metrics and options.syncnet_weights is not None and options.lse_crop == "face":
        lse_landmarks = face_box_landmarks(predicted, plan.predicted, options.landmarker, val_set.folder)

    def render_one(i: int) -> Tensor:
        f = preloaded[i]
        if options.static:
            return head(f.camera, None, None, f.background).image
        return head(f.camera, f.audio, f.aus, f.background).image

    report = evaluate_frames(
        predicted, target, metrics=metrics, configs=configs, region_masks=masks,
        predicted_landmarks=plan.predicted if plan.predicted is not None else lse_landmarks,
        target_landmarks=plan.target,
        audio=None if audio is None else audio[0], sample_rate=16000 if audio is None else audio[1], fps=fps,
        render_frame=render_one if options.fps_frames > 0 else None, device=options.device,
        method=method, train_time_s=train_time_s, meta=dict(meta or {}),
    )
    if plan.anchors is not None and report.get("LMD") is not None:
        base = report.get("LMD").protocol.split("; landmarks:")[0]  # type: ignore[union-attr]
        _replace_metric(report, "LMD", protocol=f"{base}; landmarks: {tracked_protocol(plan.anchors)}")
    _insert_missing(report, None if plan.scores is None else plan.scores.lmd, lse_missing, options.fps_frames == 0)
    return report


def _attach_benchmark(
    report: EvaluationReport,
    images: tuple[Tensor, Tensor],
    regions: BenchmarkRegions,
    plan: LandmarkPlan,
    train_set: SpeakerDataset,
) -> None:
    """Fill ``report.benchmark``, its protocols and the mean-image baseline."""
    predicted, target = images
    protocols = image_protocols(regions)
    lmd_metric = report.get("LMD")
    if plan.scores is not None:
        r, r_protocol, r_note = plan.scores.opening_r, plan.scores.opening_protocol, plan.scores.opening_note
    elif plan.predicted is not None and plan.target is not None:
        r, r_protocol, r_note = exact_opening(plan.predicted, plan.target, "predicted = tracked, target = exact")
    else:  # pragma: no cover - every plan has scores or landmarks
        r, r_protocol, r_note = None, OPENING_PROTOCOL, "n/a"
    report.benchmark = {
        **image_scores(predicted, target, regions),
        "lmd": None if lmd_metric is None else lmd_metric.value,
        "mouth_open_r": r,
    }
    protocols.update({"lmd": "" if lmd_metric is None else lmd_metric.protocol, "mouth_open_r": r_protocol})
    notes = {"lmd": "" if lmd_metric is None else lmd_metric.note, "mouth_open_r": r_note}
    if plan.scores is not None and plan.scores.detector_floor is not None:
        report.benchmark["lmd_detector_floor"] = plan.scores.detector_floor
        protocols["lmd_detector_floor"] = (
            "LMD of the same detector on the ground-truth frames against landmarks.npy (what a perfect render scores)"
        )
    mean, used = mean_training_image(train_set)
    report.baselines["mean_image"] = image_scores(mean, target, regions, ssim=False)
    protocols["mean_image"] = (
        f"the mean of {used} evenly spaced training images (of {len(train_set)}) scored as every held-out frame, "
        "same regions as the benchmark"
    )
    report.benchmark_protocol = {
        "frames": f"{int(target.shape[0])} held-out frames",
        **protocols,
        "notes": {k: v for k, v in notes.items() if v},
    }


def static_only_baseline(
    head: TalkingHead, frames: Sequence[Frame], target: Tensor, regions: BenchmarkRegions, device: str,
    progress: Progress | None = None,
) -> dict[str, float | None]:
    """``face_psnr``, ``head_psnr``, ``mouth_psnr``, ``face_ssim`` of a head's canonical renders.

    Args:
        head: the static-only model (rendered with ``render_frame(static=True)``).
        frames: the evaluated frames.
        target: [F, H, W, 3] their ground truth.
        regions: the benchmark regions of the frames.
        device: torch device.
        progress: called with ("static baseline", done, total).
    """
    head.eval()
    head.cache_canonical()
    rendered = render_frames(head, frames, device, static=True, progress=progress, phase="static baseline")
    if rendered.shape != target.shape:
        raise DataError(f"static checkpoint renders {list(rendered.shape)}, the frames are {list(target.shape)}")
    return image_scores(rendered, target, regions)


def _insert_missing(report: EvaluationReport, lmd_metric: MetricValue | None, lse_missing: bool, no_fps: bool) -> None:
    """Add the metrics that were not run, in Table 1 order."""
    extra: list[MetricValue] = []
    if lmd_metric is not None:
        extra.append(lmd_metric)
    if lse_missing:
        note = "n/a: no consecutive driving audio for these frames (aud.wav missing or frames not consecutive)"
        extra += [_not_computed("LSE-D", False, "SyncNet", note), _not_computed("LSE-C", True, "SyncNet", note)]
    if no_fps:
        extra.append(_not_computed("FPS", True, "FPS at batch 1", "n/a: not measured (fps frames 0)"))
    order = ["PSNR", "SSIM", "LPIPS", "LMD", "LSE-D", "LSE-C", "FPS"]
    merged = report.metrics + extra
    report.metrics = sorted(merged, key=lambda m: order.index(m.name) if m.name in order else len(order))


def evaluate_cross_driven(
    loaded: LoadedHead,
    audio_path: Path,
    frames: SpeakerDataset,
    options: EvalOptions,
    *,
    method: str,
    name: str | None = None,
    fps: float = 25.0,
    meta: dict[str, Any] | None = None,
) -> CrossDrivenResult:
    """Drive the head with a novel audio over `frames`' poses and score lip sync.

    Args:
        loaded: the trained head with its audio encoder.
        audio_path: driving audio file (or precomputed ``.npy`` features: LSE is then n/a).
        frames: dataset whose poses, AUs and backgrounds are replayed.
        options: what to compute (`max_frames` limits the rendered frames).
        method: row label.
        name: the audio's column label (default: the file stem).
        fps: video frame rate.
        meta: extra facts.
    """
    from pgs.core.inference import drive, encode_driving_audio
    from pgs.core.io.audio import load_audio

    audio_path = Path(audio_path)
    waveform = None if audio_path.suffix == ".npy" else load_audio(audio_path)  # fails early and clearly
    features = encode_driving_audio(loaded, audio_path, fps)
    limit = features.num_frames if options.max_frames is None else min(features.num_frames, options.max_frames)
    if limit < 1:
        raise DataError(f"{audio_path}: too short to drive a single frame")
    images: list[Tensor] = []
    for image in drive(loaded, features, frames, options.device):
        images.append(image)
        if len(images) >= limit:
            break
    predicted = torch.stack(images)
    metrics = ["lmd", "lse"]
    configs = {"lse": options.evaluator_configs(with_fps=False)["lse"]}
    missing: list[MetricValue] = []
    if waveform is None and options.syncnet_weights is not None:
        metrics, configs = ["lmd"], {}
        note = "n/a: driven by precomputed features (.npy), no waveform for SyncNet"
        missing = [_not_computed("LSE-D", False, "SyncNet", note), _not_computed("LSE-C", True, "SyncNet", note)]
    face_boxes = None
    if "lse" in metrics and options.syncnet_weights is not None and options.lse_crop == "face":
        face_boxes = face_box_landmarks(predicted, None, options.landmarker, frames.folder)
    report = evaluate_frames(
        predicted,
        None,
        metrics=metrics,
        configs=configs,
        predicted_landmarks=face_boxes,
        audio=None if waveform is None else waveform[0],
        sample_rate=16000 if waveform is None else waveform[1],
        fps=fps,
        device=options.device,
        method=method,
        audio_name=name or audio_path.stem,
        meta={"audio_file": str(audio_path), **(meta or {})},
    )
    report.metrics += missing
    return CrossDrivenResult(report, predicted, audio_path)


def face_means2d(head: TalkingHead, frame: Frame, device: str) -> tuple[Tensor, Tensor]:
    """Projected centres of the face Gaussians visible in one frame, and the rendered frame.

    Returns:
        ([N_visible, 2] pixel positions, [H, W, 3] composed render) on CPU.
    """
    with torch.no_grad():
        out = head.render_frame(frame.to(device))
    render = out.face.render
    visible = render.radii[0] > 0
    return render.means2d[0][visible].detach().cpu(), out.image[0].clamp(0, 1).cpu()


__all__ = [
    "LMD_NO_LANDMARKS",
    "CrossDrivenResult",
    "LandmarkPlan",
    "EvalOptions",
    "SelfDrivenResult",
    "clip_waveform",
    "evaluate_cross_driven",
    "evaluate_self_driven",
    "face_means2d",
    "frame_indices",
    "method_name",
    "plan_landmarks",
    "render_frames",
    "static_only_baseline",
    "tracked_landmarks",
]
