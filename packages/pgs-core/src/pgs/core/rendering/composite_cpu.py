"""Per-tile compositing of the `cpu` backend: numba kernels behind a `torch.autograd.Function`.

Same signature and rules as `pgs.core.rendering.composite_torch.composite` (rasterizer contract,
section 4): 3DGS front-to-back alpha blending (Kerbl et al. 2023, Eq. 3) with alpha clamped at
0.99, Gaussians with alpha < 1/255 skipped, a pixel stops before the Gaussian that would bring
its transmittance below 1e-4, and per-Gaussian pixel counts (PGSTalker Eq. 5, by rule).

Two paths: the training path (`forward_tiles` keeps intersection records and per-pixel ranges
for `backward_tiles`, and counts pixels) and, when no gradient is needed and no counts are asked
for, the inference fast path (`forward_tiles_inference`: the same images, nothing kept).

The kernels run on CPU tensors only. They are parallel over tiles and deterministic (each tile
writes its own pixels and its own intersection range; per-Gaussian sums are reduced in a fixed
order), and calls are serialised by a lock, so rendering from several Python threads is safe.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from pgs.core.errors import RenderError
from pgs.core.numba_lock import NUMBA_KERNEL_LOCK
from pgs.core.rendering import cpu_kernels as _k

if TYPE_CHECKING:
    from pgs.core.rendering.binning import TileBins
    from pgs.core.rendering.projection import Projection

#: `RasterizerConfig.pixel_count_rule` -> the kernels' rule code (None: no counts).
_COUNT_RULES = {"pixel-gs": _k.COUNT_PIXEL_GS, "paper": _k.COUNT_PAPER, None: 0}


def _np(t: Tensor, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """A contiguous numpy view (or copy) of a CPU tensor without autograd history."""
    return np.ascontiguousarray(t.detach().reshape(shape).numpy(), dtype=dtype)


class _CompositeFunction(torch.autograd.Function):
    """Differentiable per-tile compositing; gradients w.r.t. means2d, conics, colors, opacities, depths."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        means2d: Tensor,
        conics: Tensor,
        colors: Tensor,
        opacities: Tensor,
        depths: Tensor,
        tile_starts: Tensor,
        gaussian_ids: Tensor,
        width: int,
        height: int,
        tile_size: int,
        tiles_x: int,
        tiles_y: int,
        count_rule: int,
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        C, N = opacities.shape
        M = int(gaussian_ids.shape[0])
        f32 = np.float32
        starts = _np(tile_starts, (-1,), np.int64)
        ids = _np(gaussian_ids, (-1,), np.int64)
        color = np.empty((C, height, width, 3), f32)
        depth = np.empty((C, height, width), f32)
        trans = np.empty((C, height, width), f32)
        last = np.empty((C, height, width), np.int64)
        packed = np.empty((M, _k.PACK_WIDTH), f32)
        spans = np.empty((M, 4), np.float64)
        rows = np.empty((M, 3), np.int64)
        counts_m = np.empty(M, np.int32)
        counts = np.zeros(C * N, np.int32)
        with NUMBA_KERNEL_LOCK:
            _k.forward_tiles(
                _np(means2d, (C * N, 2), f32),
                _np(conics, (C * N, 3), f32),
                _np(colors, (C * N, 3), f32),
                _np(opacities, (C * N,), f32),
                _np(depths, (C * N,), f32),
                starts,
                ids,
                N,
                width,
                height,
                tile_size,
                tiles_x,
                tiles_y,
                color,
                depth,
                trans,
                last,
                packed,
                spans,
                rows,
                counts_m,
                count_rule,
            )
            _k.reduce_counts(starts, ids, N, tiles_x * tiles_y, counts_m, counts)
        trans_t = torch.from_numpy(trans)
        ctx.save_for_backward(
            torch.from_numpy(packed),
            torch.from_numpy(spans),
            torch.from_numpy(rows),
            torch.from_numpy(starts),
            torch.from_numpy(ids),
            trans_t,
            torch.from_numpy(last),
        )
        ctx.geometry = (C, N, width, height, tile_size, tiles_x, tiles_y)
        # Kernels compute in float32; other float inputs get outputs (and gradients) of their dtype.
        dtype = means2d.dtype
        ctx.dtypes = tuple(t.dtype for t in (means2d, conics, colors, opacities, depths))
        counts_t = torch.from_numpy(counts).view(C, N)
        ctx.mark_non_differentiable(counts_t)
        alpha = (1.0 - trans_t).unsqueeze(-1)
        return (
            torch.from_numpy(color).to(dtype),
            alpha.to(dtype),
            torch.from_numpy(depth).unsqueeze(-1).to(dtype),
            counts_t,
        )

    @staticmethod
    def backward(  # type: ignore[override]
        ctx: Any, grad_color: Tensor, grad_alpha: Tensor, grad_depth: Tensor, _grad_counts: Tensor
    ) -> tuple[Tensor | None, ...]:
        packed, spans, rows, starts, ids, trans, last = ctx.saved_tensors
        C, N, width, height, tile_size, tiles_x, tiles_y = ctx.geometry
        f32 = np.float32
        M = int(ids.shape[0])
        grad_m = np.empty((M, _k.GRAD_WIDTH), f32)
        g_means2d = np.zeros((C * N, 2), f32)
        g_conics = np.zeros((C * N, 3), f32)
        g_colors = np.zeros((C * N, 3), f32)
        g_opac = np.zeros(C * N, f32)
        g_depths = np.zeros(C * N, f32)
        starts_np = starts.numpy()
        ids_np = ids.numpy()
        with NUMBA_KERNEL_LOCK:
            _k.backward_tiles(
                packed.numpy(),
                spans.numpy(),
                rows.numpy(),
                starts_np,
                width,
                height,
                tile_size,
                tiles_x,
                tiles_y,
                trans.numpy(),
                last.numpy(),
                _np(grad_color, (C, height, width, 3), f32),
                _np(grad_alpha, (C, height, width), f32),
                _np(grad_depth, (C, height, width), f32),
                grad_m,
            )
            _k.reduce_gradients(
                starts_np, ids_np, N, tiles_x * tiles_y, grad_m, g_means2d, g_conics, g_colors, g_opac, g_depths
            )
        grads = (
            torch.from_numpy(g_means2d).view(C, N, 2),
            torch.from_numpy(g_conics).view(C, N, 3),
            torch.from_numpy(g_colors).view(C, N, 3),
            torch.from_numpy(g_opac).view(C, N),
            torch.from_numpy(g_depths).view(C, N),
        )
        return (
            *(g.to(dtype) for g, dtype in zip(grads, ctx.dtypes, strict=True)),
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
        )


def _composite_inference(
    proj: Projection, bins: TileBins, width: int, height: int, tiles_x: int, tiles_y: int
) -> tuple[Tensor, Tensor, Tensor]:
    """The inference fast path: colour [C, H, W, 3], alpha [C, H, W, 1], depth [C, H, W, 1], no graph."""
    C, N = proj.opacities.shape
    f32 = np.float32
    color = np.zeros((C, height, width, 3), f32)
    depth = np.zeros((C, height, width), f32)
    trans = np.ones((C, height, width), f32)
    with NUMBA_KERNEL_LOCK:
        _k.forward_tiles_inference(
            _np(proj.means2d, (C * N, 2), f32),
            _np(proj.conics, (C * N, 3), f32),
            _np(proj.colors, (C * N, 3), f32),
            _np(proj.opacities, (C * N,), f32),
            _np(proj.depths, (C * N,), f32),
            _np(bins.tile_starts, (-1,), np.int64),
            _np(bins.gaussian_ids, (-1,), np.int64),
            N,
            width,
            height,
            bins.tile_size,
            tiles_x,
            tiles_y,
            color,
            depth,
            trans,
        )
    dtype = proj.means2d.dtype
    alpha = (1.0 - torch.from_numpy(trans)).unsqueeze(-1)
    return torch.from_numpy(color).to(dtype), alpha.to(dtype), torch.from_numpy(depth).unsqueeze(-1).to(dtype)


def _check_inputs(
    proj: Projection, bins: TileBins, width: int, height: int, count_rule: str | None
) -> tuple[int, int]:
    """Check what `composite` is given and return the tile grid (tiles_x, tiles_y).

    Raises:
        RenderError: see `composite`, and an unknown `count_rule`.
    """
    tensors = {
        "means2d": proj.means2d,
        "conics": proj.conics,
        "colors": proj.colors,
        "opacities": proj.opacities,
        "depths": proj.depths,
        "tile_starts": bins.tile_starts,
        "gaussian_ids": bins.gaussian_ids,
    }
    for name, tensor in tensors.items():
        if tensor.device.type != "cpu":
            raise RenderError(
                f"cpu rasterizer: {name} is on {tensor.device}; the cpu backend renders CPU tensors only "
                "(use the 'torch' or 'gsplat' backend on other devices)"
            )
    if not 1 <= bins.tile_size <= 64:
        raise RenderError(f"cpu rasterizer: tile_size {bins.tile_size} is outside 1..64, the RasterizerConfig range")
    tiles_x = -(-width // bins.tile_size)
    tiles_y = -(-height // bins.tile_size)
    if (bins.tiles_x, bins.tiles_y) != (tiles_x, tiles_y):
        raise RenderError(
            f"cpu rasterizer: tile bins are {bins.tiles_x}x{bins.tiles_y} tiles of {bins.tile_size} px, "
            f"but a {width}x{height} image needs {tiles_x}x{tiles_y}"
        )
    C = proj.opacities.shape[0]
    if bins.tile_starts.shape[0] != C * tiles_x * tiles_y + 1:
        raise RenderError(
            f"cpu rasterizer: tile_starts has {bins.tile_starts.shape[0]} entries, expected {C * tiles_x * tiles_y + 1}"
        )
    if bins.gaussian_ids.shape[0] >= _k.MAX_TILE_LIST:
        longest = int((bins.tile_starts[1:] - bins.tile_starts[:-1]).max())
        if longest >= _k.MAX_TILE_LIST:
            raise RenderError(
                f"cpu rasterizer: one tile is covered by {longest} Gaussians, more than the {_k.MAX_TILE_LIST} "
                "its kernels index exactly; use a smaller tile_size or the 'torch' backend"
            )
    if count_rule not in _COUNT_RULES:
        raise RenderError(f"cpu rasterizer: pixel_count_rule {count_rule!r} is not one of 'paper', 'pixel-gs'")
    return tiles_x, tiles_y


def composite(
    proj: Projection,
    bins: TileBins,
    width: int,
    height: int,
    count_rule: str | None = "pixel-gs",
    backward: bool | None = None,
) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
    """Composite binned, projected Gaussians into images with the compiled CPU kernels.

    Args:
        proj: the `Projection` of N Gaussians into C cameras (CPU float32 tensors).
        bins: the `TileBins` of `proj` for this image size.
        width: image width W.
        height: image height H.
        count_rule: Eq. 5 pixel-count rule, ``"paper"`` or ``"pixel-gs"``; None skips counting.
        backward: take the training path (records for a backward pass); None: exactly when
            autograd records this call (grad mode on and an input requiring grad). Without it
            and without counts the inference fast path runs (same images, nothing kept).

    Returns:
        color [C, H, W, 3] premultiplied, alpha [C, H, W, 1], depth [C, H, W, 1] and pixel counts
        [C, N] int32 (Eq. 5 by `count_rule`, before the Eq. 4 mask) or None. color, alpha and
        depth are differentiable w.r.t. proj.means2d, proj.conics, proj.colors, proj.opacities
        and proj.depths (on the training path).

    Raises:
        RenderError: a tensor is not on the CPU, the tile size is outside 1..64, the bins do
            not match the image size, or one tile's list is longer than `cpu_kernels.MAX_TILE_LIST`.
    """
    tiles_x, tiles_y = _check_inputs(proj, bins, width, height, count_rule)
    if backward is None:
        differentiable = (proj.means2d, proj.conics, proj.colors, proj.opacities, proj.depths)
        backward = torch.is_grad_enabled() and any(t.requires_grad for t in differentiable)
    if not backward and count_rule is None:
        return (*_composite_inference(proj, bins, width, height, tiles_x, tiles_y), None)
    color, alpha, depth, counts = _CompositeFunction.apply(
        proj.means2d,
        proj.conics,
        proj.colors,
        proj.opacities,
        proj.depths,
        bins.tile_starts,
        bins.gaussian_ids,
        width,
        height,
        bins.tile_size,
        tiles_x,
        tiles_y,
        _COUNT_RULES[count_rule if count_rule is not None else "pixel-gs"],
    )
    return color, alpha, depth, counts if count_rule is not None else None
