"""`gradient` (Eq. 1) vs `pixel-aware` (Eqs. 2-5) density control on the synthetic speaker.

Trains the same head twice (same speaker, seed, steps and Gaussian budget; only
``density.{face,mouth}.name`` changes), then, on one held-out frame, projects every visible
Gaussian centre of both branches and counts them per facial region, taken from the frame's 68
landmarks: mouth (outer lip contour 48-59), eyes (36-41, 42-47, grown 1.6x about their centres)
and the rest. Saves a Fig. 5 style picture (``density_compare.png``: ground truth with the
regions, then each strategy's centres over its render) and ``density_compare.json``, and prints
the counts and held-out PSNR.

Examples:
    .venv/bin/python examples/density_compare.py --out runs/density_compare
    .venv/bin/python examples/density_compare.py --size 128 --frames 80 --steps 200 --budget 6000
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from common import add_run_arguments, check_run_arguments, small_config, speaker_folder
from matplotlib.path import Path as Polygon

from pgs.core.io.figures import write_figure
from pgs.core.training.trainer import Trainer

STRATEGIES = ("gradient", "pixel-aware")
REGIONS = ("mouth", "eyes", "rest")
COLOURS = {"mouth": "#e4572e", "eyes": "#29a3e0", "rest": "#c9c9c9"}


def region_polygons(landmarks: np.ndarray) -> dict[str, list[Polygon]]:
    """Mouth and eye polygons from iBUG-68 landmarks [68, 2] (pixels)."""
    def grown(points: np.ndarray, factor: float) -> Polygon:
        centre = points.mean(axis=0)
        return Polygon(centre + factor * (points - centre))

    return {
        "mouth": [grown(landmarks[48:60], 1.0)],
        "eyes": [grown(landmarks[36:42], 1.6), grown(landmarks[42:48], 1.6)],
    }


def classify(points: np.ndarray, polygons: dict[str, list[Polygon]]) -> np.ndarray:
    """Region index (0 mouth, 1 eyes, 2 rest) of each point [N, 2]."""
    label = np.full(len(points), 2)
    for idx, name in ((1, "eyes"), (0, "mouth")):
        inside = np.zeros(len(points), dtype=bool)
        for poly in polygons[name]:
            inside |= poly.contains_points(points)
        label[inside] = idx
    return label


def visible_centres(trainer: Trainer, frame_index: int) -> tuple[np.ndarray, np.ndarray]:
    """Projected centres [N, 2] of visible face and mouth Gaussians, and the render [H, W, 3]."""
    head = trainer.head.eval()
    frame = trainer.val_set[frame_index].to(trainer.device)
    with torch.no_grad():
        out = head.render_frame(frame)
    points = []
    for render in (out.face.render, out.mouth.render):
        visible = render.radii[0] > 0
        points.append(render.means2d[0][visible].detach().cpu().numpy())
    return np.concatenate(points), out.image[0].clamp(0, 1).cpu().numpy()


def save_figure(path: Path, gt: np.ndarray, polygons: dict, results: dict[str, dict[str, Any]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 1 + len(results), figsize=(4.2 * (1 + len(results)), 4.6), constrained_layout=True)
    h, w = gt.shape[:2]
    axes[0].imshow(gt)
    for name, polys in polygons.items():
        for poly in polys:
            v = np.vstack([poly.vertices, poly.vertices[:1]])
            axes[0].plot(v[:, 0] - 0.5, v[:, 1] - 0.5, color=COLOURS[name], lw=1.5)
    axes[0].set_title("held-out frame\nregions from the 68 landmarks")
    for ax, (name, res) in zip(axes[1:], results.items(), strict=True):
        ax.imshow(0.35 + 0.65 * res["render"])
        pts, lab = res["points"], res["labels"]
        for idx, region in enumerate(REGIONS[::-1]):  # rest first, mouth on top
            sel = lab == REGIONS.index(region)
            ax.scatter(pts[sel, 0] - 0.5, pts[sel, 1] - 0.5, s=3, c=COLOURS[region], label=region, zorder=2 + idx)
        c = res["counts"]
        ax.set_title(
            f"{name}: {c['total']} visible, PSNR {res['psnr']:.2f} dB\n"
            f"mouth {c['mouth']}, eyes {c['eyes']}, rest {c['rest']}"
        )
    for ax in axes:
        ax.set_xlim(0, w)
        ax.set_ylim(h, 0)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[-1].legend(loc="lower right", fontsize=8, markerscale=3)
    fig.suptitle("Gaussian centres per facial region, same steps and budget")
    write_figure(fig, path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("runs/density_compare"), help="output folder")
    p.add_argument("--frame", type=int, default=None, help="held-out frame to show (default: the most open mouth)")
    add_run_arguments(p, steps=100, size=96, frames=40)
    args = p.parse_args(argv)
    check_run_arguments(p, args)
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    speaker = speaker_folder(args, args.out)

    results: dict[str, dict[str, Any]] = {}
    polygons = gt = None
    for name in STRATEGIES:
        print(f"training with density strategy {name!r} ...", flush=True)
        trainer = Trainer(small_config(speaker, args.out / name, args, density=name), quiet=True)
        result = trainer.run()
        val = trainer.val_set
        if args.frame is None:  # the held-out frame with the widest inner-lip opening
            lms = None if val.landmarks is None else val.landmarks.numpy()
            args.frame = int(np.argmax(np.abs(lms[:, 66, 1] - lms[:, 62, 1]))) if lms is not None else 0
        if not 0 <= args.frame < len(val):
            p.error(f"--frame must be in 0..{len(val) - 1}")
        frame = val[args.frame]
        if frame.landmarks is None:
            p.error(f"{speaker}: no landmarks.npy, so regions cannot be drawn")
        polygons = region_polygons(frame.landmarks.numpy())
        gt = frame.image.numpy()
        points, render = visible_centres(trainer, args.frame)
        labels = classify(points, polygons)
        counts = {r: int((labels == i).sum()) for i, r in enumerate(REGIONS)}
        counts["total"] = len(points)
        results[name] = {
            "points": points,
            "labels": labels,
            "render": render,
            "counts": counts,
            "psnr": trainer.evaluate(max_frames=len(val))["psnr"],
            "gaussians": result.report["num_gaussians"],
        }

    figure = args.out / "density_compare.png"
    save_figure(figure, gt, polygons, results)
    summary = {
        name: {"counts": r["counts"], "psnr": r["psnr"], "gaussians": r["gaussians"]} for name, r in results.items()
    }
    summary["frame"] = args.frame
    (args.out / "density_compare.json").write_text(json.dumps(summary, indent=2))
    print(f"\nvisible Gaussians per region on held-out frame {args.frame}:")
    print(f"{'strategy':<12} {'mouth':>6} {'eyes':>6} {'rest':>6} {'total':>6}  {'PSNR':>6}  Gaussians (face+mouth)")
    for name, r in results.items():
        c, g = r["counts"], r["gaussians"]
        row = f"{name:<12} {c['mouth']:>6} {c['eyes']:>6} {c['rest']:>6} {c['total']:>6}"
        print(f"{row}  {r['psnr']:6.2f}  {g['face']}+{g['mouth']}")
    print(f"wrote {figure} and {args.out / 'density_compare.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
