"""``pgs eval`` as a function: evaluate a checkpoint self-driven (and cross-driven) and write the outputs.

Outputs in the evaluation folder (default ``<run>/eval/`` where ``<run>`` holds
``checkpoints/final.pt``):

- ``metrics.json``: the self-driven report (schema ``pgs-eval/metrics/1``, `read_report` reads it);
- ``table1.md``: Table 1 layout with the protocol under it;
- ``strips.png``: prediction | truth | |error| | mouth crop of prediction | mouth crop of truth,
  rows of 4 held-out frames;
- ``benchmark.md``: the real-speaker benchmark (``"benchmark"`` / ``"baselines"`` of metrics.json)
  with its baselines and protocols;
- with driving audio: ``cross_driven/<audio>.json`` (one report per audio, same schema) and
  ``table2.md`` (LSE-D / LSE-C per audio);
- with ``video=True``: ``self_driven.mp4`` (renders with the held-out audio muxed in).

Everything is computed before the first file is written, and every file is written atomically,
so a failure leaves no partial evaluation behind.
"""

from __future__ import annotations

import datetime
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pgs.core.errors import DataError
from pgs.core.io.atomic import atomic_write_text
from pgs.core.io.run_folder import check_output_folder, read_marker, write_marker
from pgs.eval.figures import crop_boxes_from_masks, frame_strip_png
from pgs.eval.report import EvaluationReport, write_report
from pgs.eval.selfdriven import (
    CrossDrivenResult,
    EvalOptions,
    SelfDrivenResult,
    evaluate_cross_driven,
    evaluate_self_driven,
    method_name,
    static_only_baseline,
)
from pgs.eval.speaker_landmarks import Progress
from pgs.eval.tables import benchmark_markdown, table2_markdown


@dataclass
class EvalOutputs:
    """What `evaluate_checkpoint` wrote.

    Attributes:
        folder: the evaluation folder.
        self_driven: the self-driven evaluation.
        cross_driven: one evaluation per driving audio.
        files: written files by role (``metrics``, ``table1``, ``benchmark``, ``strips``, ``table2``, ``video``,
            ``cross:<name>``).
    """

    folder: Path
    self_driven: SelfDrivenResult
    cross_driven: list[CrossDrivenResult] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)


def run_folder(checkpoint: Path) -> Path:
    """The training run folder of a checkpoint (``<run>/checkpoints/x.pt`` -> ``<run>``)."""
    parent = checkpoint.resolve().parent
    return parent.parent if parent.name == "checkpoints" else parent


def training_seconds(run: Path) -> float | None:
    """``training_seconds`` from the run's ``report.json``, or None when absent or unreadable."""
    path = run / "report.json"
    try:
        value = json.loads(path.read_text(encoding="utf-8")).get("training_seconds")
    except (OSError, ValueError, AttributeError):
        return None
    return float(value) if isinstance(value, (int, float)) else None


def _unique_names(paths: Sequence[Path]) -> list[str]:
    names: list[str] = []
    for path in paths:
        base = path.stem or "audio"
        name, n = base, 2
        while name in names:
            name, n = f"{base}_{n}", n + 1
        names.append(name)
    return names


def evaluate_checkpoint(
    checkpoint: str | Path,
    out: str | Path | None = None,
    audios: Sequence[str | Path] = (),
    data: str | Path | None = None,
    options: EvalOptions | None = None,
    method: str | None = None,
    rasterizer: str | None = None,
    video: bool = False,
    fps: float = 25.0,
    static_checkpoint: str | Path | None = None,
    progress: Progress | None = None,
) -> EvalOutputs:
    """Evaluate a trained checkpoint and write metrics, tables and strips.

    Args:
        checkpoint: a ``.pt`` written by ``pgs train``.
        out: evaluation folder (default ``<run>/eval``).
        audios: novel driving audio files for the cross-driven table.
        data: speaker folder (default: the one recorded in the checkpoint's config).
        options: what to compute.
        method: row label (default: the run's density and fusion names).
        rasterizer: rasterizer backend overriding the training config's.
        video: also write ``self_driven.mp4``.
        fps: video frame rate.
        static_checkpoint: a checkpoint rendered with ``render_frame(static=True)`` for the
            ``static_only`` baseline (e.g. the same run after stage 1), or None.
        progress: called with (phase, done, total) while rendering and detecting landmarks.

    Raises:
        DataError / ConfigError: missing checkpoint, speaker folder, weight or audio file,
            unreadable audio, mismatched audio features; nothing is written then.
    """
    from pgs.core.data.dataset import SpeakerDataset
    from pgs.core.inference import load_head
    from pgs.core.io.audio import load_audio

    options = options or EvalOptions()
    checkpoint = Path(checkpoint)
    target = Path(out) if out is not None else run_folder(checkpoint) / "eval"
    check_eval_folder(target)
    audio_paths = [Path(a) for a in audios]
    for path in audio_paths:  # check driving audio before the expensive part
        if path.suffix != ".npy":
            load_audio(path)
        elif not path.is_file():
            raise DataError(f"{path}: audio features file not found")
    if static_checkpoint is not None and not Path(static_checkpoint).is_file():
        raise DataError(f"{static_checkpoint}: static checkpoint not found")
    loaded = load_head(checkpoint, options.device, rasterizer)
    config = loaded.config
    folder = Path(data) if data is not None else config.data.folder
    if folder is None:
        raise DataError(f"{checkpoint}: no speaker folder recorded in the checkpoint; pass --data")
    audio = config.data.audio
    train_set = SpeakerDataset.open(
        folder, "train", audio=audio.name, audio_params=audio.params, require_aus=config.data.require_aus
    )
    if train_set.audio is None:
        raise DataError(f"{folder}: no audio features for the held-out frames")
    loaded.head.check_audio(train_set.audio.layout)
    val_set = SpeakerDataset.open(folder, "val", audio=train_set.audio, require_aus=config.data.require_aus)
    run = run_folder(checkpoint)
    label = method or method_name(config)
    meta = _meta(loaded, checkpoint, folder, options.device)
    result = evaluate_self_driven(
        loaded.head, train_set, val_set, options, method=label, train_time_s=training_seconds(run), meta=meta, fps=fps,
        progress=progress,
    )
    if static_checkpoint is not None:
        _add_static_baseline(result, Path(static_checkpoint), val_set, options, rasterizer, progress)
    crosses = [
        evaluate_cross_driven(loaded, path, train_set, options, method=label, name=name, fps=fps, meta=meta)
        for path, name in zip(audio_paths, _unique_names(audio_paths), strict=True)
    ]
    outputs = EvalOutputs(target, result, crosses)
    _write_outputs(outputs)
    if video:
        outputs.files["video"] = _write_video(result, val_set, outputs.folder / "self_driven.mp4", fps)
    return outputs


def _meta(loaded: Any, checkpoint: Path, folder: Path, device: str) -> dict[str, Any]:
    """Facts about the evaluated checkpoint for metrics.json."""
    head = loaded.head
    return {
        "checkpoint": str(checkpoint),
        "data": str(folder),
        "device": device,
        "rasterizer": getattr(head.rasterizer, "name", type(head.rasterizer).__name__),
        "num_gaussians": {"face": head.face.num_gaussians, "mouth": head.mouth.num_gaussians},
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def check_eval_folder(folder: Path) -> None:
    """Check, before any work, that the evaluation folder may be written.

    It may be new, empty, or an earlier evaluation folder (its files are replaced); a file, an
    unwritable place, or a folder of other files is refused.

    Raises:
        DataError: with the folder and the reason.
    """
    if folder.is_dir() and any(folder.iterdir()):
        marker = read_marker(folder)
        legacy = (folder / "metrics.json").is_file() and marker is None
        if not legacy and (marker is None or marker.get("kind") != "eval"):
            raise DataError(
                f"--out: {folder} holds files pgs eval did not write; choose a new or empty folder"
            )
        if not os.access(folder, os.W_OK | os.X_OK):
            raise DataError(f"--out: folder {folder} is not writable")
        return
    check_output_folder(folder, "eval", overwrite=False, what="--out")


def _write_outputs(outputs: EvalOutputs) -> None:
    """Write metrics.json, table1.md, benchmark.md, strips.png and the cross-driven files of `outputs`."""
    target, result = outputs.folder, outputs.self_driven
    if read_marker(target) is None:
        write_marker(target, "eval")
    outputs.files.update(write_report(result.report, target))
    outputs.files["table1"] = outputs.files.pop("table")
    outputs.files["benchmark"] = atomic_write_text(target / "benchmark.md", benchmark_markdown(result.report))
    boxes = None if result.regions is None else crop_boxes_from_masks(result.regions.mouth)
    outputs.files["strips"] = frame_strip_png(result.predicted, result.target, target / "strips.png", crop_boxes=boxes)
    if outputs.cross_driven:
        (target / "cross_driven").mkdir(exist_ok=True)
        for cross in outputs.cross_driven:
            path = target / "cross_driven" / f"{cross.report.audio}.json"
            outputs.files[f"cross:{cross.report.audio}"] = atomic_write_text(
                path, json.dumps(cross.report.to_dict(), indent=2) + "\n"
            )
        outputs.files["table2"] = atomic_write_text(
            target / "table2.md", table2_markdown([c.report for c in outputs.cross_driven])
        )


def _add_static_baseline(
    result: SelfDrivenResult,
    checkpoint: Path,
    val_set: Any,
    options: EvalOptions,
    rasterizer: str | None,
    progress: Progress | None,
) -> None:
    """Score `checkpoint`'s canonical renders of the evaluated frames as the ``static_only`` baseline."""
    from pgs.core.inference import load_head

    if result.regions is None:  # pragma: no cover - evaluate_self_driven always sets them
        raise DataError("no benchmark regions to score the static baseline on")
    static = load_head(checkpoint, options.device, rasterizer)
    frames = [val_set[i] for i in result.indices]
    scores = static_only_baseline(static.head, frames, result.target, result.regions, options.device, progress)
    result.report.baselines["static_only"] = scores
    result.report.benchmark_protocol["static_only"] = (
        f"{checkpoint} rendered with render_frame(static=True) (canonical Gaussians of both branches, no "
        "deformation), same frames and regions as the benchmark"
    )
    result.report.meta.setdefault("static_checkpoint", str(checkpoint))


def _write_video(result: SelfDrivenResult, val_set: Any, path: Path, fps: float) -> Path:
    """The self-driven renders as an MP4 with the held-out audio (when ``aud.wav`` exists)."""
    from pgs.core.inference import to_uint8
    from pgs.core.io.audio import write_wav
    from pgs.core.video import write_mp4
    from pgs.eval.selfdriven import clip_waveform

    frames = [val_set[i] for i in result.indices]
    clip = clip_waveform(val_set, frames, fps)
    images = (to_uint8(img) for img in result.predicted)
    if clip is None:
        return write_mp4(images, path, fps)
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "audio.wav"
        write_wav(wav, clip[0].numpy(), clip[1])
        return write_mp4(images, path, fps, wav, audio_rate=clip[1])


def reports_of(outputs: EvalOutputs) -> list[EvaluationReport]:
    """Self-driven then cross-driven reports of an evaluation."""
    return [outputs.self_driven.report, *(c.report for c in outputs.cross_driven)]


__all__ = ["EvalOutputs", "evaluate_checkpoint", "reports_of", "run_folder", "training_seconds"]
