"""CPU rasterizer report: the `cpu` (numba) backend against the `torch` backend, same run.

Usage::

    .venv/bin/python packages/pgs-core/benchmarks/cpu_rasterizer_report.py [--repeats 3] [--quick]
        [--threads 2] [--garden PATH] [--no-compile]

For every scene (head-like Gaussians at 256x256/10k and 512x512/30k, gsplat's garden scene)
one subprocess renders with both backends alternately (so both see the same machine load) and
prints the best forward and forward+backward wall time of each, the cpu/torch speed-up, and
composited (Gaussian, pixel) pairs per second of forward. A second table splits the cpu
backend's forward into projection, binning and compositing. Unless ``--no-compile``, the
numba compile time is measured too: first render in a fresh process with an empty cache
directory (cold) and again with that cache filled (cached).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GARDEN = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "gsplat_test_garden.npz"
BACKENDS = ("torch", "cpu")


def _scene(scene: str, num: int, size: int, garden: str):
    from pgs.core.testing.scenes import garden_scene, head_scene

    return garden_scene(garden) if scene == "garden" else head_scene(num, size, size)


def run_case(scene: str, num: int, size: int, garden: str, repeats: int) -> dict:
    """Measure both backends on one scene in this process (called in a subprocess)."""
    import torch

    from pgs.core.gaussians import GaussianParams
    from pgs.core.rendering import get_rasterizer
    from pgs.core.rendering.binning_fast import bin_tiles_fast
    from pgs.core.rendering.composite_cpu import composite
    from pgs.core.rendering.projection import project

    g, cams = _scene(scene, num, size, garden)
    renders = {name: get_rasterizer(name).render for name in BACKENDS}
    fwd = {name: [] for name in BACKENDS}
    fb = {name: [] for name in BACKENDS}
    pairs = {}
    for name in BACKENDS:  # warm-up (numba loads its cache, torch allocates)
        with torch.no_grad():
            renders[name](g, cams)
    for _ in range(repeats):
        for name in BACKENDS:
            with torch.no_grad():
                t0 = time.perf_counter()
                out = renders[name](g, cams)
                fwd[name].append(time.perf_counter() - t0)
            leaves = GaussianParams(**{k: v.detach().clone().requires_grad_() for k, v in g.as_dict().items()})
            t0 = time.perf_counter()
            out = renders[name](leaves, cams)
            (out.color.sum() + out.alpha.sum()).backward()
            fb[name].append(time.perf_counter() - t0)
            pairs[name] = int(out.pixel_counts.sum())  # the training path counts (the inference one does not)
    # Forward breakdown of the cpu backend.
    parts = {"project": [], "bin": [], "composite": []}
    with torch.no_grad():
        for _ in range(repeats):
            t0 = time.perf_counter()
            proj = project(g, cams, None, 0.3)
            t1 = time.perf_counter()
            bins = bin_tiles_fast(proj, cams.width, cams.height, 16)
            t2 = time.perf_counter()
            composite(proj, bins, cams.width, cams.height, None)  # the inference fast path
            t3 = time.perf_counter()
            parts["project"].append(t1 - t0)
            parts["bin"].append(t2 - t1)
            parts["composite"].append(t3 - t2)
    label = "garden 648x420 x3 cams" if scene == "garden" else f"head {size}x{size} {num // 1000}k"
    return {
        "scene": label,
        "forward_s": {k: min(v) for k, v in fwd.items()},
        "fwd_bwd_s": {k: min(v) for k, v in fb.items()},
        "pairs": pairs,
        "parts_s": {k: min(v) for k, v in parts.items()},
        "intersections": bins.num_intersections,
    }


def compile_times(threads: int) -> dict:
    """First-render time in a fresh process with an empty numba cache (cold), then cached."""
    code = (
        "import time; t0 = time.perf_counter()\n"
        "import torch\n"
        "from pgs.core.rendering import get_rasterizer\n"
        "from pgs.core.testing.scenes import head_scene\n"
        "from pgs.core.gaussians import GaussianParams\n"
        "g, cams = head_scene(200, 64, 64)\n"
        "t1 = time.perf_counter()\n"
        "r = get_rasterizer('cpu')\n"
        "leaves = GaussianParams(**{k: v.detach().clone().requires_grad_() for k, v in g.as_dict().items()})\n"
        "out = r.render(leaves, cams); (out.color.sum() + out.alpha.sum()).backward()\n"
        "t2 = time.perf_counter()\n"
        "out = r.render(leaves, cams); (out.color.sum() + out.alpha.sum()).backward()\n"
        "t3 = time.perf_counter()\n"
        "print(t2 - t1, t3 - t2)\n"
    )
    result = {}
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache, NUMBA_NUM_THREADS=str(threads))
        for kind in ("cold", "cached"):
            out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True)
            first, second = map(float, out.stdout.split())
            result[kind] = first - second  # first fwd+bwd minus a warm fwd+bwd: compile or cache load
    return result


def main() -> None:
    """Run every scene in a subprocess and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="only 256x256/10k and 512x512/30k")
    parser.add_argument("--garden", default=str(GARDEN))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="torch and numba threads (0 = their defaults)")
    parser.add_argument("--no-compile", action="store_true", help="skip the compile-time measurement")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        if args.threads:
            import numba
            import torch

            torch.set_num_threads(args.threads)
            numba.set_num_threads(args.threads)
        scene, num, size = args.case.split(",")
        print(json.dumps(run_case(scene, int(num), int(size), args.garden, args.repeats)))
        return
    cases = [("head", 10_000, 256), ("head", 30_000, 512)]
    if not args.quick and Path(args.garden).is_file():
        cases.append(("garden", 0, 0))
    rows = []
    header = ("scene", "backend", "fwd s", "fwd+bwd s", "fwd x", "f+b x", "pairs", "pairs/s")
    print("{:24} {:7} {:>8} {:>10} {:>6} {:>6} {:>10} {:>9}".format(*header))
    for scene, num, size in cases:
        repeats = max(1, args.repeats - 1) if scene == "garden" else args.repeats
        cmd = [sys.executable, __file__, "--case", f"{scene},{num},{size}", "--garden", args.garden,
               "--repeats", str(repeats), "--threads", str(args.threads)]
        res = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.splitlines()[-1])
        rows.append(res)
        for name in BACKENDS:
            f, b = res["forward_s"][name], res["fwd_bwd_s"][name]
            rf, rb = res["forward_s"]["torch"] / f, res["fwd_bwd_s"]["torch"] / b
            pairs = res["pairs"][name]
            print(f"{res['scene']:24} {name:7} {f:8.3f} {b:10.3f} {rf:6.2f} {rb:6.2f} {pairs:10d} {pairs / f:9.3g}",
                  flush=True)
    print("\ncpu backend forward breakdown (s)")
    print(f"{'scene':24} {'project':>8} {'bin':>8} {'composite':>10} {'intersections':>14}")
    for res in rows:
        p = res["parts_s"]
        m = res["intersections"]
        print(f"{res['scene']:24} {p['project']:8.3f} {p['bin']:8.3f} {p['composite']:10.3f} {m:14d}")
    if not args.no_compile:
        times = compile_times(args.threads or 2)
        print(f"\nnumba first-call overhead: cold (compile) {times['cold']:.1f} s, cached {times['cached']:.2f} s")


if __name__ == "__main__":
    main()
