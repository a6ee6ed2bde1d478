"""The `cpu` (numba) rasterizer backend: parity with the `torch` backend, the dense float64
reference, determinism, thread safety, registration and the error without numba."""

from __future__ import annotations

import math
import subprocess
import sys
import threading

import pytest
import torch
from hypothesis import strategies as st

from pgs.core.testing.properties import int_ranges, property_test

pytest.importorskip("numba")

import numba

from pgs.core.cameras import Cameras, intrinsics
from pgs.core.errors import RenderError
from pgs.core.gaussians import GaussianParams
from pgs.core.groups import RASTERIZERS
from pgs.core.registry import registry
from pgs.core.rendering.cpu_backend import SPEC, CpuRasterizer
from pgs.core.rendering.select import get_rasterizer, resolve_backend_name
from pgs.core.rendering.torch_backend import TorchRasterizer
from pgs.core.testing import check_rasterizer
from pgs.core.testing.dense_reference import dense_render

PARAMS = ("means", "quats", "log_scales", "opacity_logits", "sh")


def random_scene(
    seed: int, n: int, width: int, height: int, cameras: int = 1, sh_degree: int = 1, spread: float = 1.0
) -> tuple[GaussianParams, Cameras]:
    """Gaussians in a box in front of `cameras` pinhole views (some near, some behind z_min)."""
    g = torch.Generator().manual_seed(seed)
    means = (torch.rand(n, 3, generator=g) - 0.5) * torch.tensor([1.6, 1.6, 2.0]) * spread
    means[:, 2] += 2.0
    if n > 2:
        means[0, 2] = 0.15  # in front of the camera but closer than z_min
        means[0, :2] = 0.0
    quats = torch.randn(n, 4, generator=g)
    log_scales = torch.log(torch.rand(n, 3, generator=g) * 0.12 + 0.01)
    opacity_logits = torch.randn(n, generator=g) * 2.0
    sh = torch.randn(n, (sh_degree + 1) ** 2, 3, generator=g) * 0.4
    gaussians = GaussianParams(means, quats, log_scales, opacity_logits, sh)
    viewmats = []
    for i in range(cameras):
        yaw = 0.15 * i
        vm = torch.eye(4)
        vm[0, 0], vm[0, 2], vm[2, 0], vm[2, 2] = math.cos(yaw), -math.sin(yaw), math.sin(yaw), math.cos(yaw)
        viewmats.append(vm)
    focal = 1.1 * max(width, height)
    K = intrinsics(focal, focal * 0.9, width / 2.0 + 0.3, height / 2.0 - 0.2)
    return gaussians, Cameras(torch.stack(viewmats), K.expand(cameras, 3, 3).clone(), width, height)


def with_grad(gaussians: GaussianParams) -> GaussianParams:
    return GaussianParams(*(getattr(gaussians, p).detach().clone().requires_grad_(True) for p in PARAMS))


def render_and_grad(rasterizer, gaussians: GaussianParams, cameras: Cameras, seed: int = 0):
    """Render, back-propagate a random linear loss of colour, alpha and depth; return everything."""
    gs = with_grad(gaussians)
    out = rasterizer.render(gs, cameras)
    g = torch.Generator().manual_seed(seed)
    loss = (
        (out.color * torch.randn(out.color.shape, generator=g)).sum()
        + (out.alpha * torch.randn(out.alpha.shape, generator=g)).sum()
        + (out.depth * torch.randn(out.depth.shape, generator=g)).sum()
    )
    loss.backward()
    grads = {p: getattr(gs, p).grad for p in PARAMS}
    grads["means2d"] = out.means2d.grad
    return out, grads


def assert_parity(a, ga, b, gb) -> None:
    torch.testing.assert_close(a.color, b.color, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(a.alpha, b.alpha, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(a.depth, b.depth, atol=1e-5, rtol=1e-5)
    assert a.pixel_counts.dtype == b.pixel_counts.dtype == torch.int32
    assert torch.equal(a.pixel_counts, b.pixel_counts)
    assert torch.equal(a.radii, b.radii)
    for name in ga:
        x, y = ga[name], gb[name]
        assert x is not None and y is not None, name
        scale = float(y.abs().max()) if y.numel() else 0.0
        torch.testing.assert_close(x, y, rtol=1e-4, atol=1e-4 * max(scale, 1e-6), msg=name)


@property_test(
    30,
    **int_ranges(seed=(0, 100_000), n=(1, 60), width=(1, 40), height=(1, 33), cameras=(1, 2), sh_degree=(0, 3)),
    tile_size=st.sampled_from([4, 8, 16, 20]),  # 20: partial 8-pixel chunks
    spread=st.sampled_from([0.3, 1.0, 2.5]),
)
def test_parity_with_torch_backend(seed, n, width, height, cameras, sh_degree, tile_size, spread) -> None:
    gaussians, cams = random_scene(seed, n, width, height, cameras, sh_degree, spread)
    cpu, ref = CpuRasterizer(), TorchRasterizer()
    cpu.config = ref.config = cpu.config.model_copy(update={"tile_size": tile_size})
    a, ga = render_and_grad(cpu, gaussians, cams, seed)
    b, gb = render_and_grad(ref, gaussians, cams, seed)
    assert_parity(a, ga, b, gb)


def test_parity_with_torch_backend_dense_scene() -> None:
    """Many overlapping Gaussians: pixels saturate (T < 1e-4) and the 0.99 clamp is hit."""
    gaussians, cams = random_scene(11, 400, 48, 40, cameras=2, sh_degree=2, spread=0.6)
    gaussians.opacity_logits.data += 3.0
    a, ga = render_and_grad(CpuRasterizer(), gaussians, cams, 1)
    b, gb = render_and_grad(TorchRasterizer(), gaussians, cams, 1)
    assert float((a.alpha > 0.999).float().mean()) > 0.1, "scene should saturate many pixels"
    assert_parity(a, ga, b, gb)


def test_parity_with_torch_backend_64_pixel_tiles() -> None:
    """The largest tile: 64 rows (the composited-row masks use all 64 bits) and 8 chunks per row."""
    gaussians, cams = random_scene(5, 500, 70, 68, cameras=1, sh_degree=1, spread=0.8)
    cpu, ref = CpuRasterizer(), TorchRasterizer()
    cpu.config = ref.config = cpu.config.model_copy(update={"tile_size": 64})
    a, ga = render_and_grad(cpu, gaussians, cams, 2)
    b, gb = render_and_grad(ref, gaussians, cams, 2)
    assert bool((a.alpha[0, 60:64, :64] > 0).any()), "pixels of the tile's last rows should be covered"
    assert_parity(a, ga, b, gb)


@pytest.mark.parametrize(("seed", "n", "size", "cameras"), [(0, 150, (40, 32), 1), (1, 300, (33, 47), 2)])
def test_dense_float64_reference(seed: int, n: int, size: tuple[int, int], cameras: int) -> None:
    gaussians, cams = random_scene(seed, n, *size, cameras=cameras, sh_degree=3)
    ref = dense_render(gaussians, cams, eps2d=0.3, z_min=0.2)
    with torch.no_grad():
        out = CpuRasterizer().render(gaussians, cams, with_pixel_counts=True)
    torch.testing.assert_close(out.color.double(), ref.color, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out.alpha.double(), ref.alpha, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out.depth.double(), ref.depth, atol=1e-5, rtol=1e-5)
    assert torch.equal(out.pixel_counts.long(), ref.pixel_counts)
    assert int(ref.pixel_counts.sum()) > 0
    # Eq. 4: the Gaussian closer than z_min composites pixels but is not counted.
    assert int(ref.raw_counts[:, 0].sum()) > 0 and int(out.pixel_counts[:, 0].sum()) == 0


def test_deterministic_across_runs_and_thread_counts() -> None:
    gaussians, cams = random_scene(5, 1500, 96, 80, cameras=2, sh_degree=1, spread=0.8)
    rasterizer = CpuRasterizer()
    first, g_first = render_and_grad(rasterizer, gaussians, cams, 3)
    before = numba.get_num_threads()
    try:
        for threads in {1, before}:
            numba.set_num_threads(threads)
            again, g_again = render_and_grad(rasterizer, gaussians, cams, 3)
            for field in ("color", "alpha", "depth", "pixel_counts"):
                assert torch.equal(getattr(first, field), getattr(again, field)), field
            for name in g_first:
                assert torch.equal(g_first[name], g_again[name]), name
    finally:
        numba.set_num_threads(before)


def test_rendering_from_two_threads_is_safe() -> None:
    scenes = [random_scene(s, 600, 64, 48, cameras=1, sh_degree=1, spread=0.8) for s in (21, 22)]
    rasterizer = CpuRasterizer()
    expected = [render_and_grad(rasterizer, g, c, 0) for g, c in scenes]
    results: dict[int, list] = {0: [], 1: []}
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for _ in range(3):
                results[i].append(render_and_grad(rasterizer, *scenes[i], 0))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for i in (0, 1):
        (out_e, g_e) = expected[i]
        assert len(results[i]) == 3
        for out, grads in results[i]:
            assert torch.equal(out.color, out_e.color) and torch.equal(out.pixel_counts, out_e.pixel_counts)
            assert all(torch.equal(grads[k], g_e[k]) for k in g_e)


def test_registered_and_default_on_cpu() -> None:
    assert "cpu" in registry(RASTERIZERS).names()
    assert registry(RASTERIZERS).get("cpu") is SPEC
    check_rasterizer(SPEC)
    assert isinstance(registry(RASTERIZERS).create("cpu", {"tile_size": 8}), CpuRasterizer)
    assert resolve_backend_name("auto", "cpu") == "cpu"
    assert isinstance(get_rasterizer("auto", "cpu"), CpuRasterizer)


def test_invalid_inputs_raise_render_error() -> None:
    gaussians, cams = random_scene(0, 10, 16, 16)
    gaussians.means.data[3, 1] = float("nan")
    with pytest.raises(RenderError, match=r"NaN|finite"):
        CpuRasterizer().render(gaussians, cams)


def test_import_without_numba_names_the_fix() -> None:
    code = (
        "import sys\n"
        "sys.modules['numba'] = None\n"  # makes `import numba` fail
        "from pgs.core.errors import BackendUnavailableError\n"
        "try:\n"
        "    import pgs.core.rendering.cpu_backend\n"
        "except BackendUnavailableError as exc:\n"
        "    print('ERR', exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.startswith("ERR"), out.stdout + out.stderr
    assert "pip install pgs-core[cpu]" in out.stdout and "'torch'" in out.stdout
