"""Swap the fusion module: `mgf` vs `concat-mlp` vs `cross-attention` vs the third-party `film` plugin.

One synthetic speaker, the same training budget and seed for every run; only
``model.{face,mouth}.fusion.name`` changes. Prints a table of fusion parameters, time per
training step and held-out PSNR / LMD, and writes it as ``swap_fusion.md`` and ``swap_fusion.json``.

LMD comes from pgs-eval (mouth landmarks tracked through the trained Gaussians against the
synthetic speaker's exact landmarks) when pgs-eval is installed, else it is shown as n/a. A fusion
that is not installed (e.g. `film` before ``pip install -e examples/pgs-fusion-film``) is skipped
with the install hint.

Examples:
    .venv/bin/python examples/swap_fusion.py --out runs/swap_fusion
    .venv/bin/python examples/swap_fusion.py --fusions mgf concat-mlp --steps 100 --size 96
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import torch
from common import add_run_arguments, check_run_arguments, small_config, speaker_folder

from pgs.core.errors import PgsError
from pgs.core.groups import FUSION, KNOWN_COMPONENTS
from pgs.core.registry import registry
from pgs.core.training.trainer import Trainer

FUSIONS = ("mgf", "concat-mlp", "cross-attention", "film")


def lmd_of(trainer: Trainer, method: str) -> tuple[float | None, str]:
    """Held-out LMD (pixels) from pgs-eval, or (None, why not)."""
    try:
        from pgs.eval.selfdriven import EvalOptions, evaluate_self_driven
    except ImportError:
        return None, "pgs-eval not installed"
    try:
        result = evaluate_self_driven(
            trainer.head, trainer.train_set, trainer.val_set, EvalOptions(fps_frames=0), method=method
        )
    except PgsError as exc:
        return None, f"pgs-eval failed: {exc}"
    metric = result.report.get("LMD")
    if metric is None or metric.value is None:
        return None, (metric.note if metric is not None else "LMD not reported") or "n/a"
    return float(metric.value), metric.protocol


def run_one(name: str, speaker: Path, out: Path, args: argparse.Namespace) -> dict[str, Any]:
    config = small_config(speaker, out / name, args, fusion=name)
    trainer = Trainer(config, quiet=True)
    params = sum(p.numel() for b in (trainer.head.face, trainer.head.mouth) for p in b.fusion.parameters())
    started = time.perf_counter()
    result = trainer.run()
    seconds = time.perf_counter() - started
    heldout = trainer.evaluate(max_frames=len(trainer.val_set))
    lmd, lmd_note = lmd_of(trainer, name)
    return {
        "fusion": name,
        "fusion_params": int(params),
        "steps": result.report["global_step"],
        "seconds": round(seconds, 2),
        "ms_per_step": round(1000.0 * seconds / max(result.report["global_step"], 1), 1),
        "psnr": heldout["psnr"],
        "psnr_head": heldout["psnr_head"],
        "lmd": lmd,
        "lmd_note": lmd_note,
        "gaussians": result.report["num_gaussians"],
        "checkpoint": str(result.checkpoint),
    }


def markdown(rows: list[dict[str, Any]], skipped: dict[str, str], baseline: dict[str, float]) -> str:
    def num(v: float | None, fmt: str) -> str:
        return "n/a" if v is None or not math.isfinite(v) else format(v, fmt)

    lines = [
        "| fusion | fusion params (face+mouth) | ms/step | held-out PSNR (dB) | head-region PSNR (dB) | LMD (px) "
        "| Gaussians |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        g = r["gaussians"]
        lines.append(
            f"| {r['fusion']} | {r['fusion_params']:,} | {r['ms_per_step']:.0f} | {num(r['psnr'], '.2f')} | "
            f"{num(r['psnr_head'], '.2f')} | {num(r['lmd'], '.3f')} | {g['face']}+{g['mouth']} |"
        )
    lines.append(f"| (mean training image) | | | {baseline['psnr']:.2f} | {baseline['psnr_head']:.2f} | | |")
    notes = sorted({r["lmd_note"] for r in rows if r["lmd_note"]})
    lines += ["", *[f"LMD: {n}" for n in notes]]
    lines += [f"skipped {k}: {v}" for k, v in skipped.items()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--fusions", nargs="+", default=list(FUSIONS), help="fusion names to compare (default: all four)")
    p.add_argument("--out", type=Path, default=Path("runs/swap_fusion"), help="output folder")
    add_run_arguments(p, steps=120, size=64, frames=40)
    args = p.parse_args(argv)
    check_run_arguments(p, args)
    torch.set_num_threads(args.threads)

    installed = set(registry(FUSION).names())
    skipped = {}
    for name in args.fusions:
        if name not in installed:
            dist = KNOWN_COMPONENTS[FUSION].get(name, "a package that provides it")
            skipped[name] = f"{name!r} is not installed (pip install {dist})"
    chosen = [n for n in args.fusions if n not in skipped]
    if not chosen:
        print("error: none of the requested fusion modules is installed: " + "; ".join(skipped.values()),
              file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    speaker = speaker_folder(args, args.out)
    rows = []
    baseline = None
    for name in chosen:
        print(f"training with fusion {name!r} ...", flush=True)
        rows.append(run_one(name, speaker, args.out, args))
        if baseline is None:
            baseline = Trainer(small_config(speaker, args.out / "baseline", args), quiet=True).mean_image_baseline()
    table = markdown(rows, skipped, baseline)
    print()
    print(table)
    (args.out / "swap_fusion.md").write_text(table)
    data = {"rows": rows, "skipped": skipped, "baseline": baseline}
    (args.out / "swap_fusion.json").write_text(json.dumps(data, indent=2))
    print(f"wrote {args.out / 'swap_fusion.md'} and {args.out / 'swap_fusion.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
