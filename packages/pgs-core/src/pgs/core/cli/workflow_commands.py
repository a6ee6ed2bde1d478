"""The training workflow commands: ``pgs synth``, ``pgs train``, ``pgs render``, ``pgs export``.

Heavy modules (torch models, data) are imported inside each command's ``run`` so that ``pgs
--help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pgs.core.cli.arg_types import int_at_least, positive_float, positive_int
from pgs.core.cli.console import stderr, stdout
from pgs.core.cli.namespace import pick
from pgs.core.errors import ConfigError
from pgs.core.registry import CommandSpec

# ============================================================================================ synth

SYNTH_EXAMPLES = """\
examples:
  pgs synth data/synthetic                    10 s at 25 fps, 256x256 (the default)
  pgs synth data/tiny --frames 44 --size 64   a tiny speaker for quick experiments
"""


def _synth_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", type=Path, help="folder to create (parents too; must not exist unless --overwrite)")
    parser.add_argument(
        "--frames", type=int_at_least(11), default=250, help="video frames at 25 fps, at least 11 (default 250 = 10 s)"
    )
    parser.add_argument(
        "--size", type=int_at_least(16), default=256, help="image width and height in pixels, >= 16 (default 256)"
    )
    parser.add_argument("--seed", type=int_at_least(0), default=0, help="random seed (default 0)")
    parser.add_argument("--rasterizer", default="auto", help="rasterizer backend (default auto)")
    parser.add_argument("--device", default="auto", help="torch device: auto (CUDA when available), cpu, cuda:0")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace a synthetic speaker folder (once the new one is complete)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _synth_run(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from pgs.core.data.synthetic import generate_speaker
    from pgs.core.devices import resolve_device
    from pgs.core.model.talking_head import build_rasterizer

    rasterizer = build_rasterizer(args.rasterizer, device=resolve_device(args.device))
    with Progress(console=stderr, transient=True, disable=args.quiet) as progress:
        task = progress.add_task("synth", total=args.frames)
        folder = generate_speaker(
            args.out,
            num_frames=args.frames,
            size=args.size,
            seed=args.seed,
            rasterizer=rasterizer,
            overwrite=args.overwrite,
            progress=lambda _phase, done, _total: progress.update(task, completed=done),
        )
    stdout.print(f"wrote synthetic speaker to {folder} ({args.frames} frames, {args.size}x{args.size})")
    return 0


SYNTH = CommandSpec(
    name="synth",
    help="generate a synthetic speaker folder",
    add_arguments=_synth_arguments,
    run=_synth_run,
    description=(
        "Generate a synthetic speaker (procedural Gaussian head whose jaw follows generated speech and whose "
        "eyes blink) in the ER-NeRF / TalkingGaussian folder format, with exact landmarks.\n\n" + SYNTH_EXAMPLES
    ),
)

# ============================================================================================ train

TRAIN_EXAMPLES = """\
examples:
  pgs train --print-config > run.yaml          the defaults, every field described
  pgs train run.yaml                           train (output folder from the config)
  pgs train run.yaml --output runs/a           override the output folder
  pgs train run.yaml stages.static_iterations=500 density.face.name=gradient   dotted overrides
  pgs train --data data/speaker                the default preset (real-cpu here), output runs/speaker
  pgs train --preset paper --data data/speaker --allow-missing-lpips
  pgs train --resume runs/a/checkpoints/last.pt  continue an interrupted run exactly
  pgs train examples/configs/paper.yaml --data D --allow-missing-lpips   the paper preset without LPIPS weights
"""


def _train_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", nargs="?", help="run config (.yaml, .yml or .json)")
    parser.add_argument(
        "overrides",
        nargs="*",
        metavar="KEY=VALUE",
        help="dotted config overrides, e.g. stages.static_iterations=500 density.face.name=gradient",
    )
    parser.add_argument(
        "--preset",
        help="start from a shipped preset (real-cpu, paper) or file instead of a config file; with only --data: "
        "real-cpu on a CPU, paper on CUDA",
    )
    parser.add_argument("--print-config", action="store_true", help="print the default config (YAML) and exit")
    parser.add_argument("--resume", type=Path, metavar="CHECKPOINT", help="continue from a checkpoint")
    parser.add_argument(
        "--output", type=Path, help="output folder (overrides the config; with --resume: continue in a new folder)"
    )
    parser.add_argument("--data", type=Path, help="speaker folder (overrides data.folder)")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a pgs train folder at the output, once the new run has finished",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument(
        "--allow-missing-lpips",
        action="store_true",
        help="run stage 3 without LPIPS when its weights are missing (sets loss.lpips_required: false)",
    )


def print_default_config() -> str:
    """The default `TrainConfig` as commented YAML (descriptions as comments)."""
    import yaml

    from pgs.core.training.config import TrainConfig

    data = TrainConfig().model_dump(mode="json")
    lines = ["# pgs train config: defaults (paper where given, else TalkingGaussian). Every field is described."]
    lines += _commented_yaml(TrainConfig, data, 0, yaml)
    return "\n".join(lines) + "\n"


def _commented_yaml(model: type, data: dict, indent: int, yaml: object) -> list[str]:
    from pydantic import BaseModel

    pad = "  " * indent
    out = []
    for name, info in model.model_fields.items():  # type: ignore[attr-defined]
        if info.description:
            out.append(f"{pad}# {info.description}")
        value = data[name]
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel) and isinstance(value, dict):
            out.append(f"{pad}{name}:")
            out += _commented_yaml(annotation, value, indent + 1, yaml)
        else:
            dumped = yaml.safe_dump({name: value}, default_flow_style=True, sort_keys=False).strip()  # type: ignore[attr-defined]
            if dumped.startswith("{") and dumped.endswith("}"):
                dumped = dumped[1:-1]
            out.append(f"{pad}{dumped}")
    return out


def _train_run(args: argparse.Namespace) -> int:
    if args.print_config:
        sys.stdout.write(print_default_config())
        return 0
    from pgs.core.overrides import is_override
    from pgs.core.training.assemble import assemble_config
    from pgs.core.training.launch import resume_run, start_run

    overrides = list(args.overrides)
    if args.config is not None and is_override(args.config) and not Path(args.config).exists():
        overrides.insert(0, args.config)
        args.config = None
    if args.resume is not None:
        given = (
            ("a config file", args.config),
            ("--data", args.data),
            ("--overwrite", args.overwrite),
            ("--preset", args.preset),
            ("KEY=VALUE overrides", overrides),
        )
        for flag, value in given:
            if value:
                raise ConfigError(
                    f"--resume continues a run with its own config and data; {flag} cannot be combined with it "
                    "(use --output DIR to resume into a new folder)"
                )
        launched = resume_run(args.resume, args.output, quiet=args.quiet)
    else:
        config, source = assemble_config(
            Path(args.config) if args.config is not None else None,
            args.preset,
            overrides,
            args.data,
            args.output,
            {"loss": {"lpips_required": False}} if args.allow_missing_lpips else None,
        )
        if args.config is None and not args.quiet:
            stderr.print(f"run config: {source}; output {config.output}")
        launched = start_run(config, overwrite=args.overwrite, quiet=args.quiet)
    result = launched.result
    if not result.finished:
        stderr.print(
            f"interrupted: checkpoint written to {result.checkpoint}; continue with "
            f"`pgs train --resume {result.checkpoint}`"
        )
        return 130
    report = result.report
    last = report["stages"][-1] if report["stages"] else {}
    stdout.print(
        f"done in {report['training_seconds']:.0f} s: held-out PSNR {last.get('psnr', float('nan')):.2f} dB "
        f"(head region {last.get('psnr_head', float('nan')):.2f} dB), Gaussians {report['num_gaussians']}; "
        f"outputs in {launched.output}"
    )
    return 0


TRAIN = CommandSpec(
    name="train",
    help="train a talking head (three stages)",
    add_arguments=_train_arguments,
    run=_train_run,
    description=(
        "Train the face and inside-mouth branches (static, deformation) and fine-tune the composite, taking every "
        "component by registry name from one config file.\n\n" + TRAIN_EXAMPLES
    ),
)

# ============================================================================================ render

RENDER_EXAMPLES = """\
examples:
  pgs render runs/a/checkpoints/final.pt --audio speech.wav --out talk.mp4
  pgs render final.pt --audio clip.mp4 --out talk.mp4 --data data/speaker   (audio track of a video)
"""


def _render_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", type=Path, help="a checkpoint written by pgs train, or an avatar file (.pgs)")
    parser.add_argument("--audio", type=Path, required=True, help="driving audio (WAV, FLAC, MP3, M4A, MP4, or .npy)")
    parser.add_argument("--out", type=Path, required=True, help="output .mp4")
    parser.add_argument("--data", type=Path, help="speaker folder for poses and backgrounds (default: training data)")
    parser.add_argument("--device", default="auto", help="torch device: auto (CUDA when available), cpu, cuda:0")
    parser.add_argument("--rasterizer", default=None, help="backend (default: the training config's)")
    parser.add_argument("--fps", type=positive_float, default=25.0, help="video frame rate (default 25)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _render_run(args: argparse.Namespace) -> int:
    from pgs.core.render import render_video

    names = ("checkpoint", "audio", "out", "data", "device", "rasterizer", "fps", "quiet", "overwrite")
    out = render_video(**pick(args, *names))
    stdout.print(f"wrote {out}")
    return 0


RENDER = CommandSpec(
    name="render",
    help="drive a trained head with audio into an MP4",
    add_arguments=_render_arguments,
    run=_render_run,
    description=(
        "Render a trained head driven by any audio file, with head poses, AUs and backgrounds replayed from the "
        "training frames (ping-pong when the audio is longer); H.264 MP4 with the audio muxed in.\n\n" + RENDER_EXAMPLES
    ),
)

# ============================================================================================ export

EXPORT_EXAMPLES = """\
examples:
  pgs export runs/a/checkpoints/final.pt head.ply              face and mouth canonical Gaussians
  pgs export final.pt face.ply --branch face
  pgs export final.pt avatar.pgs --avatar                       model + poses, background, torso loop
"""


def _export_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", type=Path, help="a checkpoint written by pgs train")
    parser.add_argument("out", type=Path, help="output .ply (standard 3DGS vertex layout), or .pgs with --avatar")
    parser.add_argument("--branch", choices=("both", "face", "mouth"), default="both", help="which Gaussians")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    avatar = parser.add_argument_group("a self-contained avatar (for pgs serve / pgs render)")
    avatar.add_argument("--avatar", action="store_true", help="write an avatar file instead of a PLY")
    avatar.add_argument("--data", type=Path, help="speaker folder to replay (default: the training data)")
    avatar.add_argument(
        "--loop-frames", type=positive_int, default=250, help="training frames in the pose/torso loop (default 250)"
    )


def _export_run(args: argparse.Namespace) -> int:
    from pgs.core.io.run_folder import check_output_file

    check_output_file(args.out, args.overwrite, what="out")
    if args.avatar:
        from pgs.core.avatar import build_avatar, save_avatar

        avatar = build_avatar(args.checkpoint, args.data, args.loop_frames)
        save_avatar(avatar, args.out)
        r = avatar.replay
        stdout.print(f"wrote avatar {args.out} ({len(r)} replay frames, {r.width}x{r.height})")
        return 0
    from pgs.core.gaussians import GaussianParams
    from pgs.core.inference import load_head
    from pgs.core.io.ply import save_ply

    loaded = load_head(args.checkpoint)
    parts = {"face": loaded.head.face.gaussians(), "mouth": loaded.head.mouth.gaussians()}
    chosen = list(parts.values()) if args.branch == "both" else [parts[args.branch]]
    gaussians = GaussianParams.concat([g.detach() for g in chosen])
    save_ply(gaussians, args.out)
    stdout.print(f"wrote {gaussians.num} Gaussians to {args.out}")
    return 0


EXPORT = CommandSpec(
    name="export",
    help="export a checkpoint's canonical Gaussians as PLY, or a self-contained avatar (--avatar)",
    add_arguments=_export_arguments,
    run=_export_run,
    description=(
        "Write the canonical Gaussians of a trained head as a standard 3DGS PLY file, or with --avatar one file "
        "holding the model plus the poses, AUs, background and torso loop it replays, which pgs render and "
        "pgs serve accept without the training folder.\n\n" + EXPORT_EXAMPLES
    ),
)

# ============================================================================================ demo

DEMO_EXAMPLES = """\
examples:
  pgs demo                    everything in runs/demo (about four minutes on a 2-core CPU)
  pgs demo runs/try --quick   a one-minute smoke run of the same pipeline
  pgs demo runs/talk --video talk.mp4 --landmarker face_landmarker.task
                              a real clip: prep, train (preset real-cpu), evaluate, render
"""


def _demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", nargs="?", type=Path, default=Path("runs/demo"), help="output folder (runs/demo)")
    parser.add_argument("--quick", action="store_true", help="tiny speaker and few steps (a smoke run)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty output folder")
    real = parser.add_argument_group("a real clip (needs pgs-prep and pgs-eval)")
    real.add_argument("--video", type=Path, metavar="FILE", help="talking-head video: run the pipeline on it")
    real.add_argument(
        "--landmarker", type=Path, metavar="FILE", help="MediaPipe face_landmarker.task (default $PGS_FACE_LANDMARKER)"
    )
    real.add_argument("--size", type=positive_int, default=256, help="frame size of the training folder (256)")
    real.add_argument("--preset", default="real-cpu", help="run-config preset name or file (default real-cpu)")
    real.add_argument("--max-frames", type=positive_int, metavar="N", help="use only the first N frames of the video")
    real.add_argument("--quiet", action="store_true", help="no progress bars")


def _demo_run(args: argparse.Namespace) -> int:
    if args.video is not None:
        return _video_demo_run(args)
    from pgs.core.demo import run_demo

    report = run_demo(args.out, quick=args.quick, seed=args.seed, overwrite=args.overwrite)
    h = report["heldout"]
    stdout.print(
        f"demo done: held-out PSNR {h['psnr']:.2f} dB (head region {h['psnr_head']:.2f} dB); "
        f"report in {args.out / 'report.md'}"
    )
    return 0


def _video_demo_run(args: argparse.Namespace) -> int:
    from pgs.core.video_demo import run_video_demo, video_summary

    if args.quick:
        raise ConfigError("--quick is for the synthetic demo; with --video use --max-frames and --preset")
    options = pick(args, "size", "preset", "seed", "overwrite", "max_frames", "quiet")
    report = run_video_demo(args.out, args.video, args.landmarker, **options)
    stdout.print(f"demo done: {video_summary(report)}; report in {args.out / 'report.md'}")
    return 0


DEMO = CommandSpec(
    name="demo",
    help="synthesise a speaker, train, render held-out and novel audio, report",
    add_arguments=_demo_arguments,
    run=_demo_run,
    description=(
        "The whole pipeline on a synthetic speaker, in one output folder: speaker/, run/, heldout.mp4, novel.mp4, "
        "eval/ (with pgs-eval) and report.md. With --video, the same on a real clip: pgs prep, training with a "
        "preset, pgs eval on the held-out frames against the mean-image and static-only baselines (demo.json, "
        "report.md, strips.png).\n\n" + DEMO_EXAMPLES
    ),
)
