"""Contract check for rasterizer backends (group ``pgs.rasterizers``)."""

from __future__ import annotations

from typing import Any

import torch
from pydantic import BaseModel

from pgs.core.cameras import Cameras, intrinsics
from pgs.core.gaussians import GaussianParams
from pgs.core.registry import ComponentSpec
from pgs.core.rendering.sh import sh0_to_rgb
from pgs.core.testing.spec import ContractError, check_component_spec


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ContractError(message)


def _small_scene(device: torch.device, seed: int = 0) -> tuple[GaussianParams, Cameras]:
    gen = torch.Generator().manual_seed(seed)
    n = 48
    means = torch.randn(n, 3, generator=gen) * torch.tensor([0.6, 0.5, 0.4]) + torch.tensor([0.0, 0.0, 3.0])
    means[0] = torch.tensor([0.0, 0.0, -1.0])  # behind the camera
    tensors = {
        "means": means,
        "quats": torch.randn(n, 4, generator=gen),
        "log_scales": torch.randn(n, 3, generator=gen) * 0.3 - 2.3,
        "opacity_logits": torch.randn(n, generator=gen),
        "sh": torch.randn(n, 4, 3, generator=gen) * 0.3,
    }
    gaussians = GaussianParams(**{k: v.to(device).requires_grad_() for k, v in tensors.items()})
    viewmats = torch.eye(4).repeat(2, 1, 1)
    viewmats[1, 0, 3] = 0.2
    Ks = intrinsics(40.0, 40.0, 20.0, 16.0).repeat(2, 1, 1)
    return gaussians, Cameras(viewmats.to(device), Ks.to(device), 40, 32)


def check_rasterizer(
    spec: ComponentSpec[Any, Any], config: BaseModel | None = None, device: torch.device | str = "cpu"
) -> None:
    """Check a rasterizer backend against the `RenderResult` contract on a small random scene.

    Checks field shapes, dtypes and ranges (alpha in [0, 1], premultiplied colour <= alpha
    times the largest Gaussian colour, finite depth), that radius-0 and behind-camera Gaussians
    have zero pixel counts, that counts are non-negative integers no larger than the pixels
    inside each Gaussian's radius square, and that gradients reach every `GaussianParams`
    tensor and ``means2d``. Then the ``with_pixel_counts`` flag and the inference path: a render
    under ``torch.no_grad()`` has no counts and the training render's images; asked for, its
    counts are the training render's; ``with_pixel_counts=False`` gives none; and, where the
    config has ``pixel_count_rule``, ``"paper"`` counts at least what ``"pixel-gs"`` counts.

    Args:
        spec: the backend's `ComponentSpec`.
        config: config to build with (default: the config class's defaults).
        device: device to render on.

    Raises:
        ContractError: naming the broken rule.
    """
    rasterizer = check_component_spec(spec, config)
    device = torch.device(device)
    gaussians, cameras = _small_scene(device)
    C, N, H, W = cameras.num, gaussians.num, cameras.height, cameras.width
    out = rasterizer.render(gaussians, cameras)
    name = spec.name
    shapes = {
        "color": (C, H, W, 3), "alpha": (C, H, W, 1), "means2d": (C, N, 2),
        "radii": (C, N), "depths": (C, N), "pixel_counts": (C, N),
    }
    for field, shape in shapes.items():
        value = getattr(out, field)
        _require(tuple(value.shape) == shape, f"{name}: {field} has shape {list(value.shape)}, expected {list(shape)}")
    if out.depth is not None:
        _require(tuple(out.depth.shape) == (C, H, W, 1), f"{name}: depth has shape {list(out.depth.shape)}")
        _require(bool(torch.isfinite(out.depth).all()), f"{name}: depth has non-finite values")
    _require((out.width, out.height) == (W, H), f"{name}: width/height are {out.width}x{out.height}")
    for field in ("color", "alpha", "means2d", "depths"):
        _require(getattr(out, field).is_floating_point(), f"{name}: {field} must be floating point")
    for field in ("radii", "pixel_counts"):
        value = getattr(out, field)
        _require(not value.is_floating_point() and not value.is_complex(), f"{name}: {field} must be integers")
    _require(bool(((out.alpha >= 0) & (out.alpha <= 1)).all()), f"{name}: alpha outside [0, 1]")
    _require(bool((out.color >= -1e-6).all()), f"{name}: negative premultiplied colour")
    with torch.no_grad():
        colors = sh0_to_rgb(gaussians.sh[:, 0])
    _require(bool(torch.isfinite(out.color).all()), f"{name}: colour has non-finite values")
    counts, radii = out.pixel_counts.long(), out.radii.long()
    _require(bool((counts >= 0).all()), f"{name}: negative pixel counts")
    _require(bool((counts[radii == 0] == 0).all()), f"{name}: a Gaussian with radius 0 has a pixel count")
    _require(bool((counts[:, 0] == 0).all()), f"{name}: the Gaussian behind the camera has a pixel count")
    _require(int(counts.sum()) > 0, f"{name}: no pixel counted at all on a scene that covers the image")
    with torch.no_grad():
        m = out.means2d.detach()
        r = radii.to(m.dtype)
        w_in = (torch.minimum(m[..., 0] + r, torch.tensor(float(W))) - torch.clamp_min(m[..., 0] - r, 0)).clamp_min(0)
        h_in = (torch.minimum(m[..., 1] + r, torch.tensor(float(H))) - torch.clamp_min(m[..., 1] - r, 0)).clamp_min(0)
        bound = ((w_in + 1) * (h_in + 1)).floor()
    _require(bool((counts <= bound).all()), f"{name}: a pixel count exceeds the pixels inside its radius")
    del colors
    loss = out.color.square().sum() + out.alpha.sum() + (out.depth.sum() * 1e-3 if out.depth is not None else 0)
    loss.backward()
    for field, tensor in gaussians.as_dict().items():
        grad = tensor.grad
        _require(grad is not None, f"{name}: no gradient reaches GaussianParams.{field}")
        _require(bool(torch.isfinite(grad).all()), f"{name}: non-finite gradient for GaussianParams.{field}")
        _require(bool((grad != 0).any()), f"{name}: zero gradient for GaussianParams.{field}")
    _require(out.means2d.grad is not None, f"{name}: means2d.grad is not retained after backward")
    _require(bool((out.means2d.grad != 0).any()), f"{name}: means2d.grad is all zero")
    _check_count_flag(rasterizer, gaussians, cameras, out, name)


def _check_count_flag(rasterizer: Any, gaussians: GaussianParams, cameras: Cameras, trained: Any, name: str) -> None:
    """The ``with_pixel_counts`` flag, the inference path and the Eq. 5 rules (see `check_rasterizer`)."""
    plain = GaussianParams(**{k: v.detach() for k, v in gaussians.as_dict().items()})
    with torch.no_grad():
        inference = rasterizer.render(plain, cameras)
        asked = rasterizer.render(plain, cameras, with_pixel_counts=True)
    _require(inference.pixel_counts is None, f"{name}: an inference render (no_grad) computed pixel counts")
    for field in ("color", "alpha"):
        same = torch.allclose(getattr(inference, field), getattr(trained, field).detach(), atol=1e-5, rtol=0)
        _require(same, f"{name}: the inference render's {field} differs from the training render's")
    _require(
        asked.pixel_counts is not None and torch.equal(asked.pixel_counts, trained.pixel_counts),
        f"{name}: with_pixel_counts=True without gradients gives other counts than the training render",
    )
    refused = rasterizer.render(gaussians, cameras, with_pixel_counts=False)
    _require(refused.pixel_counts is None, f"{name}: with_pixel_counts=False still computed pixel counts")
    config = getattr(rasterizer, "config", None)
    if config is None or "pixel_count_rule" not in type(config).model_fields:
        return
    counts = {}
    for rule in ("paper", "pixel-gs"):
        variant = type(rasterizer)(config.model_copy(update={"pixel_count_rule": rule}))
        with torch.no_grad():
            counts[rule] = variant.render(plain, cameras, with_pixel_counts=True).pixel_counts.long()
    _require(
        bool((counts["paper"] >= counts["pixel-gs"]).all()),
        f"{name}: pixel_count_rule 'paper' counts fewer pixels than 'pixel-gs' for some Gaussian",
    )


__all__ = ["check_rasterizer"]
