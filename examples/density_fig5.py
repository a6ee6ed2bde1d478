"""Compare the `gradient` (Eq. 1) and `pixel-aware` (Eq. 2) density strategies on a multi-view scene.

A textured sphere of small Gaussians is rendered by our rasterizer from cameras at three
distances (ground truth). Each strategy fits it from the same sparse random start with the same
Gaussian budget; the figure (in the spirit of the paper's Fig. 5) shows the fitted Gaussian
centres projected into one held-out view, coloured by local 3D density, side by side, with each
strategy's count and held-out PSNR.

Examples:
    .venv/bin/python examples/density_fig5.py                       # ~1-2 min on an idle CPU
    .venv/bin/python examples/density_fig5.py --steps 40 --size 24 --out /tmp/fig5.png   # quick (CI)
    .venv/bin/python examples/density_fig5.py --backend cpu --steps 600 --budget 1500
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from pgs.core.errors import PgsError
from pgs.core.io.figures import write_figure
from pgs.core.registry import registry
from pgs.density.toy_scene import fit, local_density, make_scene, project, sparse_start


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=300, help="optimisation steps per strategy (default 300)")
    p.add_argument("--size", type=int, default=40, help="square image size in pixels (default 40)")
    p.add_argument("--views-per-step", type=int, default=2, help="training views per step (default 2)")
    p.add_argument("--start", type=int, default=100, help="Gaussians in the sparse start (default 100)")
    p.add_argument("--budget", type=int, default=800, help="cap on the Gaussian count, both strategies (default 800)")
    p.add_argument("--gt", type=int, default=1500, help="ground-truth Gaussians (default 1500)")
    p.add_argument("--threshold", type=float, default=2e-4, help="tau_pos, both strategies (default 2e-4)")
    p.add_argument("--refine-every", type=int, default=10, help="refine interval in steps (default 10)")
    p.add_argument("--backend", default="torch", help="rasterizer backend (default torch)")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    p.add_argument("--seed", type=int, default=0, help="seed of the start and the view order")
    p.add_argument("--out", type=Path, default=Path("density_fig5.png"), help="output PNG (default density_fig5.png)")
    args = p.parse_args(argv)
    for name in ("steps", "size", "views_per_step", "start", "budget", "gt", "refine_every", "threads"):
        if getattr(args, name) <= 0:
            p.error(f"--{name.replace('_', '-')} must be positive")
    if args.budget < args.start:
        p.error("--budget must be >= --start")
    if args.out.suffix.lower() != ".png":
        p.error(f"--out: expected a .png path, got {args.out}")
    return args


def strategy_params(args: argparse.Namespace) -> dict:
    until = max(int(args.steps * 0.8), args.refine_every + 1)
    return {
        "refine_from": args.refine_every,
        "refine_every": args.refine_every,
        "refine_until": until,
        "grad_threshold": args.threshold,
        "percent_dense": 0.02,
        "prune_opacity_start": 0.02,
        "prune_opacity_end": 0.05,
        "prune_size_from": 10**9,
        "max_gaussians": args.budget,
    }


def save_figure(path: Path, scene, results: dict, view: int = 0) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 4.8), constrained_layout=True)
    size = scene.test.width
    axes[0].imshow(scene.test_images[view].numpy(), extent=(0, size, size, 0))
    axes[0].set_title("ground truth\n(held-out view)")
    densities = {name: torch.log10(local_density(res.params["means"])) for name, res in results.items()}
    lo = min(float(d.min()) for d in densities.values())
    hi = max(float(d.max()) for d in densities.values())
    for ax, (name, res) in zip(axes[1:], results.items(), strict=True):
        uv, z = project(res.params["means"], scene.test, view)
        order = torch.argsort(z, descending=True)  # far points first, near ones on top
        sc = ax.scatter(
            uv[order, 0].numpy(), uv[order, 1].numpy(), c=densities[name][order].numpy(), s=6, cmap="viridis",
            vmin=lo, vmax=hi,
        )
        ax.set_title(f"{name}\n{res.num} Gaussians, held-out PSNR {res.psnr_end:.2f} dB")
    for ax in axes:
        ax.set_xlim(0, size)
        ax.set_ylim(size, 0)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(sc, ax=axes.tolist(), shrink=0.8, label="log10 local density (k=8 neighbours)")
    fig.suptitle("Gaussian centres in one held-out view, same start and budget")
    write_figure(fig, path, dpi=110)  # atomic: never a half-written PNG


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        rasterizer = registry("pgs.rasterizers").create(args.backend)
    except PgsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    scene = make_scene(rasterizer, size=args.size, num_gt=args.gt, seed=args.seed)
    start = sparse_start(args.start, seed=args.seed)
    print(f"scene: {scene.train.num} training / {scene.test.num} held-out views at {args.size} px "
          f"({time.perf_counter() - t0:.1f} s)")
    reg = registry("pgs.density")
    results = {}
    for name in ("gradient", "pixel-aware"):
        strategy = reg.create(name, strategy_params(args))
        last = [0.0]

        def progress(phase: str, step: int, steps: int | None, name: str = name, last: list = last) -> None:
            now = time.perf_counter()
            if now - last[0] > 5 or step == steps:
                last[0] = now
                print(f"  {name}: step {step}/{steps}, {phase}", flush=True)

        res = fit(scene, rasterizer, strategy, start, args.steps, args.views_per_step, args.seed, progress)
        results[name] = res
        print(f"{name}: {args.start} -> {res.num} Gaussians, held-out PSNR {res.psnr_start:.2f} -> "
              f"{res.psnr_end:.2f} dB ({res.seconds:.1f} s, strategy {res.strategy_seconds:.2f} s)")
    save_figure(args.out, scene, results)
    summary = {
        name: {"gaussians": res.num, "psnr_start": round(res.psnr_start, 3), "psnr_end": round(res.psnr_end, 3)}
        for name, res in results.items()
    }
    print(json.dumps(summary))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
