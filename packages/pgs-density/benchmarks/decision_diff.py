r"""How often Eq. 1 (gradient) and Eq. 2 (pixel-aware) densify different Gaussians in a training run.

Trains a speaker folder with a preset (default ``real-cpu``) shortened to ``--static`` +
``--deform`` steps per branch, with both branches' density strategy replaced by
`pgs.density.compare.DecisionProbe` (it trains as ``pixel-aware`` and records, at every refine,
which Gaussians each statistic would densify), and prints one Markdown row per branch and stage.

    OMP_NUM_THREADS=1 python packages/pgs-density/benchmarks/decision_diff.py SPEAKER_DIR \\
        --static 600 --deform 600 --out /tmp/decision_diff
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

import torch

from pgs.core.preset import load_preset, merge
from pgs.core.training.config import TrainConfig
from pgs.core.training.trainer import Trainer
from pgs.density.compare import PROBE_NAME, DecisionRecord, register_probe


def _config(args: argparse.Namespace) -> TrainConfig:
    base = load_preset(args.preset)
    density: dict[str, Any] = {}
    for branch in ("face", "mouth"):
        params = dict(base.get("density", {}).get(branch, {}).get("params", {}))
        params.update(refine_from=args.every, refine_every=args.every, refine_until=args.static + args.deform)
        density[branch] = {"name": PROBE_NAME, "params": params}
    overrides = {
        "data": {"folder": str(args.speaker)},
        "density": density,
        "stages": {"static_iterations": args.static, "deform_iterations": args.deform, "finetune_iterations": 0},
        "output": str(args.out),
        "eval_frames": 2,
        "checkpoint_every": 10**6,
        "seed": args.seed,
    }
    return TrainConfig.model_validate(merge(base, overrides))


def summarise(records: list[DecisionRecord], static: int) -> dict[str, dict[str, Any]]:
    """Per stage: refines, mean Gaussians, mean densified by each statistic, differing decisions."""
    out: dict[str, dict[str, Any]] = {}
    for stage, rows in (
        ("1 static", [r for r in records if r.step < static]),
        ("2 deformation", [r for r in records if r.step >= static]),
    ):
        if not rows:
            continue
        differ = [r.differ for r in rows]
        union = [r.pixel + r.gradient - (r.pixel - r.only_pixel) for r in rows]
        out[stage] = {
            "refines": len(rows),
            "gaussians": statistics.mean(r.num for r in rows),
            "pixel": statistics.mean(r.pixel for r in rows),
            "gradient": statistics.mean(r.gradient for r in rows),
            "differ_mean": statistics.mean(differ),
            "differ_min": min(differ),
            "differ_max": max(differ),
            "only_pixel": sum(r.only_pixel for r in rows),
            "only_gradient": sum(r.only_gradient for r in rows),
            "differ_of_union": sum(differ) / max(sum(union), 1),
            "differ_of_all": sum(differ) / max(sum(r.num for r in rows), 1),
        }
    return out


def main() -> None:
    """Train with the probe and print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("speaker", type=Path, help="speaker folder (pgs synth / pgs prep output)")
    parser.add_argument("--preset", default="real-cpu", help="run-config preset (default real-cpu)")
    parser.add_argument("--static", type=int, default=600, help="stage-1 steps per branch (default 600)")
    parser.add_argument("--deform", type=int, default=600, help="stage-2 steps per branch (default 600)")
    parser.add_argument("--every", type=int, default=100, help="refine every N steps, from step N (default 100)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--out", type=Path, required=True, help="run folder (overwritten)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    register_probe()
    trainer = Trainer(_config(args), quiet=True)
    trainer.run()
    result = {b: summarise(bt.strategy.records, args.static) for b, bt in trainer.branches.items()}
    (args.out / "decision_diff.json").write_text(json.dumps(result, indent=2))
    print(
        f"| {args.speaker.name} | branch | stage | refines | Gaussians | Eq. 2 densifies | Eq. 1 densifies "
        "| differ per refine (min-max) | only Eq. 2 / only Eq. 1 (sum) | differ / union | differ / all |"
    )
    for branch, stages in result.items():
        for stage, s in stages.items():
            print(
                f"| | {branch} | {stage} | {s['refines']} | {s['gaussians']:.0f} | {s['pixel']:.1f} | "
                f"{s['gradient']:.1f} | {s['differ_mean']:.1f} ({s['differ_min']}-{s['differ_max']}) | "
                f"{s['only_pixel']} / {s['only_gradient']} | {100 * s['differ_of_union']:.1f} % | "
                f"{100 * s['differ_of_all']:.2f} % |"
            )


if __name__ == "__main__":
    main()
