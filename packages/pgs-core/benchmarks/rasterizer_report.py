"""Rasterizer report: seconds, peak RSS and composited (Gaussian, pixel) pairs per second.

Usage::

    .venv/bin/python packages/pgs-core/benchmarks/rasterizer_report.py [--backend torch] [--quick]
        [--baseline] [--garden PATH]

Each case runs in a fresh subprocess so peak RSS (ru_maxrss) belongs to that case alone. With
``--baseline`` the naive vectorised tile compositor (`pgs.core.testing.naive_compositor`) is
measured on the same scenes for a same-machine ratio.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

GARDEN = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "gsplat_test_garden.npz"


def run_case(backend: str, scene: str, num: int, size: int, garden: str, repeats: int) -> dict:
    """Measure one case in this process (called in a subprocess)."""
    import torch

    from pgs.core.gaussians import GaussianParams
    from pgs.core.interfaces import RasterizerConfig
    from pgs.core.rendering import get_rasterizer
    from pgs.core.rendering.pipeline import render_pipeline
    from pgs.core.testing.naive_compositor import naive_composite
    from pgs.core.testing.scenes import garden_scene, head_scene

    g, cams = garden_scene(garden) if scene == "garden" else head_scene(num, size, size)
    if backend == "naive":
        config = RasterizerConfig()

        def render(gg, cc):
            return render_pipeline(naive_composite, config, gg, cc)
    else:
        render = get_rasterizer(backend).render
    fwd, fb, pairs = [], [], 0
    for _ in range(repeats):
        with torch.no_grad():
            t0 = time.perf_counter()
            out = render(g, cams)
            fwd.append(time.perf_counter() - t0)
        leaves = GaussianParams(**{k: v.detach().clone().requires_grad_() for k, v in g.as_dict().items()})
        t0 = time.perf_counter()
        out = render(leaves, cams)
        (out.color.sum() + out.alpha.sum()).backward()
        fb.append(time.perf_counter() - t0)
        pairs = int(out.pixel_counts.sum())  # the training path counts (the inference one does not)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
    return {
        "backend": backend, "scene": scene if scene == "garden" else f"head {size}x{size} {num // 1000}k",
        "forward_s": min(fwd), "fwd_bwd_s": min(fb), "peak_rss_gib": rss, "pairs": pairs,
        "pairs_per_s": pairs / min(fwd),
    }


def main() -> None:
    """Run every case in a subprocess and print a table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default="torch")
    parser.add_argument("--baseline", action="store_true", help="also measure the naive compositor")
    parser.add_argument("--quick", action="store_true", help="only 512x512/30k and the garden")
    parser.add_argument("--garden", default=str(GARDEN))
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        backend, scene, num, size = args.case.split(",")
        print(json.dumps(run_case(backend, scene, int(num), int(size), args.garden, args.repeats)))
        return
    cases = [("head", 30_000, 512)] if args.quick else [
        ("head", n, s) for s in (256, 512) for n in (10_000, 30_000)
    ]
    if Path(args.garden).is_file():
        cases.append(("garden", 0, 0))
    backends = [args.backend] + (["naive"] if args.baseline else [])
    print(f"{'backend':8} {'scene':22} {'fwd s':>8} {'fwd+bwd s':>10} {'peak RSS GiB':>13} "
          f"{'pairs':>10} {'pairs/s':>10}")
    for scene, num, size in cases:
        for backend in backends:
            cmd = [sys.executable, __file__, "--case", f"{backend},{scene},{num},{size}", "--garden", args.garden,
                   "--repeats", str(1 if scene == "garden" else args.repeats)]
            res = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.splitlines()[-1])
            print(f"{res['backend']:8} {res['scene']:22} {res['forward_s']:8.3f} {res['fwd_bwd_s']:10.3f} "
                  f"{res['peak_rss_gib']:13.2f} {res['pairs']:10d} {res['pairs_per_s']:10.3g}", flush=True)


if __name__ == "__main__":
    main()
