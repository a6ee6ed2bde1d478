"""``pgs prep``: the command-line front end of `pgs.prep.pipeline.prepare`."""

from __future__ import annotations

import argparse
from pathlib import Path

from pgs.core.registry import CommandSpec

EXAMPLES = """\
examples:
  pgs prep talk.mp4 data/talk --landmarker face_landmarker.task
  pgs prep talk.mp4 data/talk --size 512 --crop face            square 512x512 crop around the face
  pgs prep talk.mov data/talk --audio talk.wav                  video without sound + its recording
  pgs prep talk.mp4 data/talk --audio-features mel hubert        also aud_mel.npy and aud_hu.npy
  pgs prep talk.mp4 data/talk --max-frames 250 --overwrite       first 10 s only, replace data/talk

The Face Landmarker bundle is never downloaded: pass its path with --landmarker or set
PGS_FACE_LANDMARKER (get it once from MediaPipe's model page).
Writes transforms_train.json / transforms_val.json, ori_imgs/ (jpg + 68-point .lms), parsing/,
gt_imgs/, torso_imgs/, semantic/, bc.jpg, aud.wav, au.csv, landmarks.npy, head_landmarks.npy,
contact_sheet.png and prep.json. Exit code 2 on bad input; nothing is left at OUT then.
"""


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("video", type=Path, help="input talking-head video (one speaker, static camera)")
    parser.add_argument("out", type=Path, help="output training folder (must not exist unless --overwrite)")
    parser.add_argument("--landmarker", type=Path, default=None, help="MediaPipe face_landmarker.task bundle")
    parser.add_argument("--size", type=int, default=None, help="resize frames to SIZE x SIZE")
    parser.add_argument("--crop", choices=("none", "center", "face"), default="none",
                        help="square crop before resizing (default none; with --size, a non-square video is "
                        "centre-cropped)")
    parser.add_argument("--face-scale", type=float, default=2.6, help="'face' crop side / face height (default 2.6)")
    parser.add_argument("--fps", type=float, default=25.0, help="output frame rate (default 25)")
    parser.add_argument("--max-frames", type=int, default=None, help="only the first N frames")
    parser.add_argument("--audio", type=Path, default=None, help="audio file to use instead of the video's track")
    parser.add_argument("--audio-features", nargs="*", default=[], metavar="ENCODER",
                        help="pgs.audio_encoders names to save features for (mel, mfcc, hubert, ...)")
    parser.add_argument("--max-gap", type=int, default=2,
                        help="interpolate runs of at most N frames without a face (default 2)")
    parser.add_argument("--allow-long-gaps", action="store_true", help="interpolate longer runs too (reported)")
    parser.add_argument(
        "--smooth",
        type=float,
        default=1000.0,
        help="head-pose smoothing: weight of pose acceleration against the landmark fit, px^2/cm^2 at a "
        "256-pixel image side, scaled with the image size (default 1000; 0: per-frame poses)",
    )
    parser.add_argument("--focal", type=float, default=None, help="fix the focal length (pixels) instead of fitting")
    parser.add_argument("--workers", type=int, default=2, help="threads for image encoding and masks (default 2)")
    parser.add_argument("--overwrite", action="store_true", help="replace OUT once the new folder is complete")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _run(args: argparse.Namespace) -> int:
    from pydantic import ValidationError
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
    from rich.table import Table

    from pgs.core.cli.console import stderr, stdout
    from pgs.core.config import validation_problems
    from pgs.core.errors import ConfigError
    from pgs.prep.config import PrepConfig
    from pgs.prep.pipeline import prepare

    try:
        config = PrepConfig(
            landmarker=args.landmarker, fps=args.fps, size=args.size, crop=args.crop, face_scale=args.face_scale,
            max_frames=args.max_frames, audio=args.audio, audio_features=tuple(args.audio_features),
            max_gap=args.max_gap, allow_long_gaps=args.allow_long_gaps, pose_smoothness=args.smooth,
            focal=args.focal, workers=args.workers, overwrite=args.overwrite,
        )
    except ValidationError as exc:
        raise ConfigError(validation_problems(exc)) from None

    progress = Progress(
        TextColumn("{task.description:<8}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=stderr, disable=args.quiet, transient=False,
    )
    tasks: dict[str, int] = {}

    def report(stage: str, done: int, total: int | None) -> None:
        if stage not in tasks:
            tasks[stage] = progress.add_task(stage, total=total)
        progress.update(tasks[stage], completed=done, total=total)

    with progress:
        r = prepare(args.video, args.out, config, progress=report)

    table = Table(title=f"pgs prep: {r.output}", show_header=False)
    table.add_row("frames", f"{r.frames} at {r.fps:g} fps, {r.width}x{r.height}"
                  + (" (variable-frame-rate source, resampled)" if r.variable_frame_rate else ""))
    table.add_row("face detected", f"{r.detected}/{r.frames} ({100 * r.detection_rate:.1f} %)")
    if r.interpolated_frames:
        shown = ", ".join(map(str, r.interpolated_frames[:20])) + (" ..." if len(r.interpolated_frames) > 20 else "")
        table.add_row("interpolated", shown)
    if r.long_gaps:
        table.add_row("[yellow]long gaps[/]", ", ".join(r.long_gaps))
    table.add_row("focal length", f"{r.focal:.1f} px (camera {r.camera_distance:.2f} units from the head)")
    table.add_row(
        "reprojection",
        f"median {r.reprojection_px_median:.2f} px, worst frame {r.reprojection_px_max:.2f} px "
        f"(rigid only: {r.rigid_reprojection_px_median:.2f} px)",
    )
    table.add_row("audio", f"{r.audio_seconds:.2f} s from {r.audio_source}"
                  + (f"; features {', '.join(r.audio_features)}" if r.audio_features else ""))
    table.add_row("time", f"{r.seconds_total:.1f} s ({r.seconds_per_frame:.3f} s per frame)")
    table.add_row("check", f"{Path(r.output) / 'contact_sheet.png'}")
    stdout.print(table)
    return 0


SPEC = CommandSpec(
    name="prep",
    help="turn a talking-head video into a training folder (MediaPipe; no BFM/OpenFace/TensorFlow)",
    add_arguments=_add_arguments,
    run=_run,
    description="Preprocess a raw talking-head video into an ER-NeRF/TalkingGaussian training folder.\n\n" + EXAMPLES,
)
