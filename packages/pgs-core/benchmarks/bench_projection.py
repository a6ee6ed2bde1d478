"""The `cpu` backend's compiled projection against PyTorch's, forward and forward + backward.

20,000 head-sized Gaussians (`pgs.core.testing.scenes.head_scene`) with SH degree 2 (the
toolkit's default) seen by one 256x256 camera:

- ``pytorch``: `pgs.core.rendering.projection.project` (the `torch` backend's, autograd records);
- ``compiled``: `pgs.core.rendering.projection_kernels.project_cpu` (numba forward, hand-written
  backward kernel).

``forward`` runs under ``torch.no_grad()`` (inference); ``forward+backward`` projects leaves that
require grad and back-propagates fixed random weights of every output. The report alternates
both implementations in one process, so their ratio holds on a loaded machine.

    make bench                                                          # the pytest-benchmark cases
    python packages/pgs-core/benchmarks/bench_projection.py --repeats 30 --threads 2   # ratio report
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import pytest
import torch

pytest.importorskip("numba")

from pgs.core.gaussians import GaussianParams
from pgs.core.rendering.projection import Projection, project
from pgs.core.rendering.projection_kernels import project_cpu
from pgs.core.testing.scenes import head_scene

NUM, SIZE, SH_DEGREE = 20_000, 256, 2
IMPLEMENTATIONS: dict[str, Callable[..., Projection]] = {"pytorch": project, "compiled": project_cpu}


def _outputs(p: Projection) -> tuple[torch.Tensor, ...]:
    return (p.means2d, p.conics, p.depths, p.colors, p.opacities)


def make_case(mode: str, impl: str) -> Callable[[], None]:
    """One call of `impl` in `mode` (``forward`` or ``forward+backward``) on the benchmark scene."""
    gaussians, cameras = head_scene(NUM, SIZE, SIZE, sh_degree=SH_DEGREE, seed=0)
    fn = IMPLEMENTATIONS[impl]
    if mode == "forward":

        def forward() -> None:
            with torch.no_grad():
                fn(gaussians, cameras)

        return forward
    leaves = GaussianParams(**{k: v.clone().requires_grad_(True) for k, v in gaussians.as_dict().items()})
    gen = torch.Generator().manual_seed(1)
    weights = [torch.randn(t.shape, generator=gen) for t in _outputs(project(gaussians, cameras))]

    def forward_backward() -> None:
        for t in leaves.as_dict().values():
            t.grad = None
        out = _outputs(fn(leaves, cameras))
        sum((t * w).sum() for t, w in zip(out, weights, strict=True)).backward()

    return forward_backward


@pytest.mark.parametrize("impl", list(IMPLEMENTATIONS))
@pytest.mark.parametrize("mode", ["forward", "forward+backward"])
def test_projection(benchmark, mode: str, impl: str) -> None:
    """Projection of 20k Gaussians (SH degree 2) into one 256x256 camera."""
    case = make_case(mode, impl)
    case()  # warm-up: numba cache load
    benchmark(case)
    benchmark.extra_info.update({"mode": mode, "impl": impl, "gaussians": NUM})


def report(repeats: int, threads: int) -> dict:
    """Median times of both implementations in both modes, alternating, and the speed-ups."""
    import numba

    torch.set_num_threads(threads)
    numba.set_num_threads(threads)
    out: dict = {"gaussians": NUM, "size": SIZE, "sh_degree": SH_DEGREE, "threads": threads, "repeats": repeats}
    for mode in ("forward", "forward+backward"):
        cases = {impl: make_case(mode, impl) for impl in IMPLEMENTATIONS}
        times: dict[str, list[float]] = {impl: [] for impl in cases}
        for case in cases.values():
            case()
        for _ in range(repeats):
            for impl, case in cases.items():
                t0 = time.perf_counter()
                case()
                times[impl].append(time.perf_counter() - t0)
        medians = {impl: statistics.median(v) for impl, v in times.items()}
        out[mode] = {"median_s": medians, "speed_up": medians["pytorch"] / medians["compiled"]}
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    print(json.dumps(report(args.repeats, args.threads), indent=2))
