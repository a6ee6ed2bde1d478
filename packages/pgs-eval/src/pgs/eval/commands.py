"""The ``pgs eval`` and ``pgs ablate`` commands (entry points in group ``pgs.commands``).

Heavy modules (torch, the model, the trainer) are imported inside each command's ``run`` so that
``pgs --help`` stays fast.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pgs.core.registry import CommandSpec

if TYPE_CHECKING:
    from pgs.eval.selfdriven import EvalOptions
    from pgs.eval.tables import AblationVariant

EVAL_EXAMPLES = """\
examples:
  pgs eval runs/a/checkpoints/final.pt
        self-driven on the held-out frames -> runs/a/eval/{metrics.json, table1.md, strips.png}
  pgs eval final.pt --audio novel1.wav --audio novel2.wav
        plus cross-driven lip sync per audio -> table2.md, cross_driven/<audio>.json
  pgs eval final.pt --syncnet-weights syncnet_v2.model --lpips-weights alexnet-owt-7be5be79.pth
        LSE-D/LSE-C and LPIPS as numbers (without weights they read "weights not supplied")
  pgs eval final.pt --landmarker face_landmarker.task --region full --max-frames 200 --device cuda
  pgs eval final.pt --static-checkpoint runs/a_static/checkpoints/final.pt
        adds the static-only baseline (canonical Gaussians, no deformation) to metrics.json
  pgs eval final.pt --static --quiet      the checkpoint itself rendered static, no progress bar
  pgs eval final.pt --landmarks fan --lse-crop frame
        LMD with face-alignment FAN on both sides (the papers'); LSE on whole frames resized to 224

LMD: on a speaker with landmarks3d.npy (pgs synth) the predicted mouth landmarks are tracked
through the model and compared with the exact landmarks.npy; on a prepped real speaker MediaPipe
runs on the renders and is compared with the folder's landmarks.npy, with the Face Landmarker
from --landmarker, else the folder's prep.json ("landmarker"), else PGS_FACE_LANDMARKER; with
none LMD is n/a. metrics.json also holds "benchmark" (face_psnr, face_ssim, head_psnr,
mouth_psnr, lmd, mouth_open_r) and "baselines" (mean_image, static_only), also in benchmark.md.
"""


def _evaluation_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by ``pgs eval`` and ``pgs ablate``."""
    parser.add_argument("--data", type=Path, help="speaker folder (default: the training data)")
    parser.add_argument(
        "--region", choices=("face", "full"), default="face",
        help="PSNR/SSIM/LPIPS region: face (face + inner-mouth parsing masks, as the paper; default) or full frame",
    )
    parser.add_argument("--lpips-weights", type=Path, metavar="PATH", help="torchvision AlexNet weights for LPIPS")
    parser.add_argument("--syncnet-weights", type=Path, metavar="PATH", help="syncnet_python syncnet_v2.model for LSE")
    parser.add_argument(
        "--landmarker", type=Path, metavar="PATH", help="MediaPipe face_landmarker.task for LMD on real data"
    )
    parser.add_argument(
        "--lse-crop", choices=("face", "frame"), default="face",
        help="LSE input: face (syncnet_python's crop around the face box: tracked landmarks or MediaPipe; "
        "default) or frame (whole frame resized to 224)",
    )
    parser.add_argument(
        "--landmarks", choices=("auto", "tracked", "exact", "mediapipe", "fan"), default="auto",
        help="LMD landmarks: auto (tracked on a synthetic speaker, else MediaPipe vs landmarks.npy), tracked, exact "
        "(MediaPipe on renders vs landmarks.npy), mediapipe (on both sides), fan (face-alignment FAN on both)",
    )
    parser.add_argument("--max-frames", type=int, metavar="N", help="evaluate the first N held-out frames only")
    parser.add_argument(
        "--fps-frames", type=int, default=100, metavar="N", help="timed frames of the FPS measurement (0: skip)"
    )
    parser.add_argument("--device", help="torch device (eval: auto = CUDA when available; ablate: the config's)")
    parser.add_argument(
        "--static", action="store_true",
        help="render the checkpoint with its canonical Gaussians (no deformation), for debugging",
    )


#: The parsed options `EvalOptions` takes under the same names.
_SAME_NAMED_OPTIONS = (
    "region",
    "lpips_weights",
    "syncnet_weights",
    "landmarker",
    "max_frames",
    "fps_frames",
    "static",
    "lse_crop",
    "landmarks",
)


def _options(args: argparse.Namespace, device: str = "auto") -> EvalOptions:
    from pgs.core.cli.namespace import pick
    from pgs.eval.selfdriven import EvalOptions

    options = pick(args, *_SAME_NAMED_OPTIONS)
    return EvalOptions(**options, fps_warmup=min(10, args.fps_frames), device=args.device or device)


def _eval_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", type=Path, help="a checkpoint written by pgs train")
    parser.add_argument("--out", type=Path, metavar="DIR", help="evaluation folder (default: <run>/eval)")
    parser.add_argument(
        "--audio", type=Path, action="append", default=[], metavar="FILE",
        help="novel driving audio for the cross-driven table (repeatable; WAV, FLAC, MP3, MP4, or .npy features)",
    )
    _evaluation_arguments(parser)
    parser.add_argument("--method", help="row label (default: the run's density + fusion names)")
    parser.add_argument("--rasterizer", help="rasterizer backend (default: the training config's)")
    parser.add_argument("--video", action="store_true", help="also write self_driven.mp4")
    parser.add_argument(
        "--static-checkpoint", type=Path, metavar="CKPT",
        help="checkpoint scored as the static-only baseline (rendered with render_frame(static=True))",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


@contextlib.contextmanager
def _progress_bar(quiet: bool) -> Iterator[Callable[[str, int, int], None] | None]:
    """A rich progress bar on stderr, one task per phase (``render``, ``landmarks``, ...); None when quiet."""
    if quiet:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from pgs.core.cli.console import stderr

    tasks: dict[str, Any] = {}
    with Progress(
        TextColumn("{task.description:<16}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=stderr, transient=True,
    ) as bar:

        def update(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(phase, total=total)
            bar.update(tasks[phase], completed=done, total=total)

        yield update


def _eval_run(args: argparse.Namespace) -> int:
    from pgs.core.cli.console import stdout
    from pgs.eval.checkpoint_eval import evaluate_checkpoint

    with _progress_bar(args.quiet) as progress:
        outputs = evaluate_checkpoint(
            args.checkpoint,
            out=args.out,
            audios=args.audio,
            data=args.data,
            options=_options(args),
            method=args.method,
            rasterizer=args.rasterizer,
            video=args.video,
            static_checkpoint=args.static_checkpoint,
            progress=progress,
        )
    stdout.print(outputs.files["table1"].read_text(encoding="utf-8"), markup=False, highlight=False)
    stdout.print(outputs.files["benchmark"].read_text(encoding="utf-8"), markup=False, highlight=False)
    if "table2" in outputs.files:
        stdout.print(outputs.files["table2"].read_text(encoding="utf-8"), markup=False, highlight=False)
    stdout.print(f"wrote {', '.join(p.name for p in outputs.files.values())} to {outputs.folder}", markup=False)
    return 0


EVAL = CommandSpec(
    name="eval",
    help="evaluate a trained head (Table 1 self-driven, Table 2 cross-driven)",
    add_arguments=_eval_arguments,
    run=_eval_run,
    description=(
        "Render the held-out frames with their own audio and score them against the ground truth (PSNR, SSIM, "
        "LPIPS, LMD, LSE-D/LSE-C, FPS), optionally drive the head with novel audio and score lip sync; write "
        "metrics.json, table1.md (and table2.md) in the paper's layouts with the protocols, and prediction | "
        "truth | error strips.\n\n" + EVAL_EXAMPLES
    ),
)

ABLATE_EXAMPLES = """\
examples:
  pgs ablate run.yaml --out runs/ablation
        trains the five Table 3 variants one after another, then writes table3.md,
        ablation.json, fig5_density.png and per variant <slug>/{checkpoints, eval/, density.png}
  pgs ablate run.yaml --variants full gradient-concat
        only some variants (slugs: gradient-concat, pixel-concat, mgf-no-mouth, mgf-no-face, full)
  pgs ablate run.yaml --retrain      train again even where a finished run exists
  pgs ablate run.yaml stages.static_iterations=500   dotted overrides of the base config
  pgs ablate run.yaml --seeds 0 1 2 --executor ray --num-cpus 6
        three seeds per variant as Ray tasks: table3.md with mean ± 95 % CI, sweep.md with
        paired differences (a variant is "better" only when the CI of its difference excludes 0)

Variants (density; fusion face / mouth):
  gradient-concat  gradient;    concat-mlp / concat-mlp
  pixel-concat     pixel-aware; concat-mlp / concat-mlp
  mgf-no-mouth     pixel-aware; mgf / concat-mlp   (MGF without the mouth module)
  mgf-no-face      pixel-aware; concat-mlp / mgf   (without the face module)
  full             pixel-aware; mgf / mgf
pgs ablate is a preset of pgs sweep (one speaker). A finished run (result.json, same config and
evaluation options) is skipped; one with final.pt is re-evaluated without retraining; an
interrupted one continues from its last checkpoint.
"""


def _ablate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", type=Path, help="base run config (.yaml, .yml or .json), as for pgs train")
    parser.add_argument(
        "overrides", nargs="*", metavar="KEY=VALUE", help="dotted overrides of the base config, as for pgs train"
    )
    parser.add_argument("--out", type=Path, metavar="DIR", help="ablation folder (default: <config output>/ablation)")
    parser.add_argument("--variants", nargs="+", metavar="NAME", help="variants to run (default: all five)")
    parser.add_argument("--retrain", action="store_true", help="retrain variants whose folder holds a run")
    parser.add_argument(
        "--seeds", nargs="+", type=int, metavar="K",
        help="training seeds (default: the config's); several give mean ± 95 %% CI and paired differences",
    )
    parser.add_argument(
        "--executor", choices=("local", "ray"), default="local",
        help="local (default: one run after another in this process) or ray (embedded, or --address)",
    )
    parser.add_argument("--address", metavar="ADDR", help="Ray cluster address (with --executor ray)")
    parser.add_argument("--num-cpus", type=int, metavar="N", help="CPUs of the embedded Ray")
    parser.add_argument("--retries", type=int, default=0, metavar="N", help="extra attempts of a failed run")
    parser.add_argument("--progress", action="store_true", help="show the live table of runs (pgs sweep's)")
    _evaluation_arguments(parser)


def _ablate_run(args: argparse.Namespace) -> int:
    from pgs.core.cli.console import stderr, stdout
    from pgs.core.errors import ConfigError
    from pgs.core.training.assemble import assemble_config
    from pgs.eval.ablation import run_ablation, select_variants, variant_slug

    config, _ = assemble_config(args.config, overrides=args.overrides, data=args.data)
    out = args.out if args.out is not None else config.output / "ablation"

    def announce(variant: AblationVariant, position: int, total: int) -> None:
        stderr.print(f"[{position + 1}/{total}] {variant_slug(variant)}: {variant.name}", markup=False)

    if args.retries < 0:
        raise ConfigError(f"--retries: must be >= 0, got {args.retries}")
    outputs = run_ablation(
        config,
        out,
        select_variants(args.variants),
        _options(args, config.device),
        retrain=args.retrain,
        on_variant=None if args.progress else announce,
        seeds=args.seeds,
        executor=args.executor,
        address=args.address,
        num_cpus=args.num_cpus,
        retries=args.retries,
        quiet=not args.progress,
    )
    stdout.print(outputs.table.read_text(encoding="utf-8"), markup=False, highlight=False)
    stdout.print(f"wrote {outputs.table.name}, {outputs.summary.name}, {outputs.montage.name}, "
                 f"{outputs.sweep.markdown.name} to {outputs.folder}", markup=False)
    for run_id, error in outputs.failed:
        stderr.print(f"failed: {run_id}: {error}", markup=False)
    return 1 if outputs.failed else 0


ABLATE = CommandSpec(
    name="ablate",
    help="train and evaluate the Table 3 ablation variants",
    add_arguments=_ablate_arguments,
    run=_ablate_run,
    description=(
        "Derive the paper's five Table 3 variants from one run config (density strategy of both branches, fusion "
        "module of the face and inside-mouth branches), train them one after another, evaluate each self-driven "
        "like pgs eval, and write the ablation table and a Fig. 5 style density picture per variant.\n\n"
        + ABLATE_EXAMPLES
    ),
)

__all__ = ["ABLATE", "EVAL"]
