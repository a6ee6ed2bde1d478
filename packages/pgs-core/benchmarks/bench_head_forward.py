"""The talking head's inference forward at 512x512, ~25k Gaussians: fast path against the training path.

``TalkingHead`` forward under ``torch.no_grad()`` (cached canonical features, both branches
deformed by their networks, rendered by the ``cpu`` backend and composed with Eq. 10) with:

- ``fast``: the inference fast path (`composite_cpu.forward_tiles_inference`: no pixel counts, no
  intersection records or masks for a backward pass, empty tiles not visited);
- ``training-path``: what every render ran before the fast path, PyTorch's projection and the
  training kernel (`forward_tiles` with its records and Eq. 5 counts) under ``no_grad``.

Face: 22k head-sized Gaussians (`pgs.core.testing.scenes.head_scene`); inside mouth: 3k smaller
ones behind the lips; random networks (a trained head has the same shapes). Both variants run
in one process, alternating, so their ratio holds on a loaded machine.

    make bench                                                    # the pytest-benchmark cases
    python packages/pgs-core/benchmarks/bench_head_forward.py --repeats 9 --threads 2   # ratio report
"""

from __future__ import annotations

import argparse
import functools
import json
import time

import pytest
import torch

pytest.importorskip("numba")

from pgs.core.model.branch import BranchConfig
from pgs.core.model.talking_head import TalkingHead, TalkingHeadConfig
from pgs.core.rendering import composite_cpu
from pgs.core.rendering.binning_fast import bin_tiles_fast
from pgs.core.rendering.cpu_backend import CpuRasterizer
from pgs.core.rendering.pipeline import render_pipeline
from pgs.core.testing.scenes import head_scene

SIZE = 512
FACE, MOUTH = 22_000, 3_000
AUDIO_CHANNELS, AUDIO_STEPS = 29, 16


class TrainingPathRasterizer(CpuRasterizer):
    """The `cpu` backend forced onto its training kernel (records and pixel counts), as before the fast path."""

    def render(self, gaussians, cameras, sh_degree=None, *, with_pixel_counts=None):  # type: ignore[override]
        """Render through `forward_tiles` with Eq. 5 counts, whatever the flags (the pre-fast-path work)."""
        compositor = functools.partial(composite_cpu.composite, backward=True)
        return render_pipeline(
            lambda proj, bins, w, h, _rule: compositor(proj, bins, w, h, "pixel-gs"),
            self.config,
            gaussians,
            cameras,
            sh_degree,
            binner=bin_tiles_fast,
            with_pixel_counts=True,
        )


def build_head(size: int = SIZE, face: int = FACE, mouth: int = MOUTH) -> tuple[TalkingHead, tuple]:
    """A head with `face` + `mouth` Gaussians and the inputs of one frame (cameras, audio, AUs, background)."""
    config = TalkingHeadConfig(face=BranchConfig(num_points=16), mouth=BranchConfig.mouth(num_points=16))
    head = TalkingHead.from_config(config, audio_channels=AUDIO_CHANNELS, rasterizer=CpuRasterizer(), seed=0)
    face_g, cams = head_scene(face, size, size, sh_degree=config.face.sh_degree, seed=0)
    mouth_g, _ = head_scene(mouth, size, size, sh_degree=config.mouth.sh_degree, seed=1)
    mouth_g.means.mul_(0.3).add_(torch.tensor([0.0, 0.04, -0.04]))  # a small cloud behind the lips
    mouth_g.log_scales.sub_(0.5)
    head.face.set_gaussians(face_g)
    head.mouth.set_gaussians(mouth_g)
    head.eval()
    head.cache_canonical()
    gen = torch.Generator().manual_seed(0)
    audio = torch.randn(8, AUDIO_STEPS, AUDIO_CHANNELS, generator=gen)
    aus = torch.rand(6, generator=gen)
    background = torch.full((3,), 0.5)
    return head, (cams, audio, aus, background)


def forward(head: TalkingHead, inputs: tuple) -> torch.Tensor:
    """One inference frame: the composed image [1, H, W, 3]."""
    with torch.no_grad():
        return head(*inputs).image


@pytest.fixture(scope="module")
def head_and_inputs():
    """The benchmark head and one frame's inputs (built once per module)."""
    return build_head()


@pytest.mark.parametrize("path", ["fast", "training-path"])
def test_head_forward_512(benchmark, head_and_inputs, path):
    """Head forward at 512x512, 22k face + 3k mouth Gaussians, `cpu` backend."""
    head, inputs = head_and_inputs
    head.rasterizer = CpuRasterizer() if path == "fast" else TrainingPathRasterizer()
    forward(head, inputs)  # warm-up: numba cache load
    image = benchmark(forward, head, inputs)
    benchmark.extra_info["path"] = path
    assert image.shape == (1, SIZE, SIZE, 3)


def report(repeats: int, threads: int) -> dict:
    """Best-of-`repeats` times of both paths, alternating in this process, and their ratio.

    Wall time and, because the machine may be shared, process CPU time (with one thread the
    CPU time of a render is its work, whatever else runs beside it).
    """
    import numba

    torch.set_num_threads(threads)
    numba.set_num_threads(threads)
    head, inputs = build_head()
    variants = {"fast": CpuRasterizer(), "training-path": TrainingPathRasterizer()}
    times: dict[str, list[float]] = {k: [] for k in variants}
    cpu: dict[str, list[float]] = {k: [] for k in variants}
    images = {}
    for name, rasterizer in variants.items():  # warm-up
        head.rasterizer = rasterizer
        images[name] = forward(head, inputs)
    for _ in range(repeats):
        for name, rasterizer in variants.items():
            head.rasterizer = rasterizer
            c0, t0 = time.process_time(), time.perf_counter()
            forward(head, inputs)
            times[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
    # the rasterizer alone (both branches), same alternation
    raster: dict[str, list[float]] = {k: [] for k in variants}
    raster_cpu: dict[str, list[float]] = {k: [] for k in variants}
    with torch.no_grad():
        face, _ = head.face.deformed_gaussians(inputs[1], inputs[2])
        mouth, _ = head.mouth.deformed_gaussians(inputs[1], None)
        for _ in range(repeats):
            for name, rasterizer in variants.items():
                c0, t0 = time.process_time(), time.perf_counter()
                rasterizer.render(face, inputs[0])
                rasterizer.render(mouth, inputs[0])
                raster[name].append(time.perf_counter() - t0)
                raster_cpu[name].append(time.process_time() - c0)
    best = {k: min(v) for k, v in times.items()}
    best_r = {k: min(v) for k, v in raster.items()}
    best_cpu = {k: min(v) for k, v in cpu.items()}
    best_rcpu = {k: min(v) for k, v in raster_cpu.items()}
    return {
        "scene": f"head forward {SIZE}x{SIZE}, {FACE} face + {MOUTH} mouth Gaussians, cpu backend",
        "threads": threads,
        "repeats": repeats,
        "head_forward_s": best,
        "head_fps": {k: 1.0 / v for k, v in best.items()},
        "rasterizer_s": best_r,
        "head_forward_cpu_s": best_cpu,
        "rasterizer_cpu_s": best_rcpu,
        "speed_up_head": best["training-path"] / best["fast"],
        "speed_up_rasterizer": best_r["training-path"] / best_r["fast"],
        "speed_up_head_cpu_time": best_cpu["training-path"] / best_cpu["fast"],
        "speed_up_rasterizer_cpu_time": best_rcpu["training-path"] / best_rcpu["fast"],
        "max_image_difference": float((images["fast"] - images["training-path"]).abs().max()),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    print(json.dumps(report(args.repeats, args.threads), indent=2))
