"""The ``pgs sweep`` command (entry point ``sweep`` in group ``pgs.commands``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from pgs.core.registry import CommandSpec

SWEEP_EXAMPLES = """\
examples:
  pgs sweep table3.yaml                         embedded Ray on this machine's CPUs
  pgs sweep table3.yaml --executor local        one run after another in this process, no Ray
  pgs sweep table3.yaml --address auto          join the Ray cluster started with `ray start --head`
  pgs sweep table3.yaml --set stages.static_iterations=200 --out runs/quick
  pgs sweep table3.yaml --list                  print the runs and their folders, run nothing

sweep file (YAML; relative paths are relative to the sweep file):
  base: run.yaml                  # or an inline run config mapping
  output: runs/table3             # default runs/sweeps/<file stem>
  speakers: {synth: data/synth, obama: data/obama}   # default: the base data.folder
  variants:                       # Table 3 slugs and/or {name, preset, set}
    - gradient-concat
    - full
    - {name: full-lr3, preset: full, set: {stages.network_lr.net: 1.5e-3}}
  seeds: [0, 1, 2]
  set: {stages.finetune_iterations: 500}   # dotted overrides of every run
  resources: {cpus: 4, gpus: 1}   # per run (Ray task resources)
  retries: 1                      # extra attempts of a failed run
  evaluation: {max_frames: 100, fps_frames: 0, region: face}
  compare: [[pixel-concat, gradient-concat], [full, pixel-concat]]   # default: the Table 3 pairs

Runs go to <output>/<speaker>/<variant>/seed-<k>/ (checkpoints/, eval/, result.json). Run it again
after a crash or a kill: finished runs are skipped, interrupted ones continue from their last
checkpoint. Writes sweep.md, sweep.json, sweep_points.png and sweep_status.json to <output>.
Exit code 1 when some run failed after its retries.
"""


def _sweep_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sweep", type=Path, help="sweep file (.yaml, .yml or .json)")
    parser.add_argument("--out", type=Path, metavar="DIR", help="sweep folder (overrides the file's output)")
    parser.add_argument("--executor", choices=("ray", "local"), default="ray", help="ray (default) or local (no Ray)")
    parser.add_argument("--address", metavar="ADDR", help="Ray cluster address (host:port or auto); default: embedded")
    parser.add_argument("--num-cpus", type=int, metavar="N", help="CPUs of the embedded Ray (default: all)")
    parser.add_argument("--num-gpus", type=int, metavar="N", help="GPUs of the embedded Ray (default: detected)")
    parser.add_argument("--retries", type=int, metavar="N", help="extra attempts of a failed run (default: the file's)")
    parser.add_argument("--retrain", action="store_true", help="delete the run folders and train everything again")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        dest="overrides",
        help="dotted override of the base config, value read as YAML (repeatable)",
    )
    parser.add_argument("--list", action="store_true", help="print the runs and exit")
    parser.add_argument("--quiet", action="store_true", help="no live progress table")


def _sweep_run(args: argparse.Namespace) -> int:
    from pgs.core.cli.console import stderr, stdout
    from pgs.core.cli.namespace import pick
    from pgs.core.errors import ConfigError
    from pgs.core.overrides import parse_override
    from pgs.eval.sweep import load_sweep, run_sweep

    if args.retries is not None and args.retries < 0:
        raise ConfigError(f"--retries: must be >= 0, got {args.retries}")
    sweep = load_sweep(args.sweep, args.out, [parse_override(o) for o in args.overrides])
    if args.list:
        for run in sweep.runs:
            stdout.print(f"{run.run_id}\t{run.folder}", markup=False, highlight=False)
        return 0
    done = run_sweep(sweep, **pick(args, "executor", "address", "num_cpus", "num_gpus", "retries", "retrain", "quiet"))
    stdout.print(done.files.markdown.read_text(encoding="utf-8"), markup=False, highlight=False)
    outcome = done.outcome
    stdout.print(
        f"{len(outcome.done)} of {len(outcome.states)} runs done; wrote sweep.md, sweep.json, sweep_points.png "
        f"to {sweep.output}",
        markup=False,
    )
    if outcome.failed:
        for s in outcome.failed:
            stderr.print(f"failed: {s.run.run_id}: {s.errors[-1] if s.errors else '?'}", markup=False)
        return 1
    return 0


SWEEP = CommandSpec(
    name="sweep",
    help="train and evaluate a grid of runs (variants x speakers x seeds) on Ray, with confidence intervals",
    add_arguments=_sweep_arguments,
    run=_sweep_run,
    description=(
        "Expand a sweep file (base config, variants, speakers, seeds) into runs, each in its own folder; run them "
        "as Ray tasks (embedded, or a cluster with --address) or locally; skip finished runs, retry failed ones, "
        "resume interrupted ones from their checkpoints; then write Tables 1 and 3 with mean ± 95 % confidence "
        "intervals over seeds (overall and per speaker), paired differences between variants, and a plot of the "
        "per-seed points.\n\n" + SWEEP_EXAMPLES
    ),
)

__all__ = ["SWEEP"]
