"""LPIPS (the ``lpips`` package, v0.1 linear layers) with an AlexNet (default) or VGG-16 backbone.

Shared by the trainer's stage-3 loss and pgs-eval's ``lpips`` metric. The ``lpips`` package
ships its calibrated linear layers, but takes the ImageNet backbone from torchvision, which
downloads it on first use. We never download: the backbone's weight file is read from
``backbone_weights`` or, when that is unset, from torchvision's own cache
(``<torch hub dir>/checkpoints/alexnet-owt-7be5be79.pth`` or ``vgg16-397923af.pth``), and a
missing file is a `MissingWeightsError` that says how to obtain it.

``random_backbone=True`` builds the backbone with seeded random weights: for tests and plumbing
only; its numbers are meaningless (identical images still give 0).

``lpips`` is an optional dependency of pgs-core (``pip install pgs-core[lpips]``).
"""

from __future__ import annotations

import threading
import warnings
from pathlib import Path
from typing import Literal

import torch
from torch import Tensor, nn

from pgs.core.errors import DataError, MissingWeightsError

Backbone = Literal["alex", "vgg"]

#: torchvision's file name and download address of each ImageNet backbone.
BACKBONE_FILES: dict[str, tuple[str, str]] = {
    "alex": ("alexnet-owt-7be5be79.pth", "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth"),
    "vgg": ("vgg16-397923af.pth", "https://download.pytorch.org/models/vgg16-397923af.pth"),
}

#: Smallest crop side LPIPS accepts (AlexNet's first layers need a few dozen pixels).
MIN_SIDE = 32


def default_backbone_path(net: Backbone) -> Path:
    """Where torchvision caches the backbone's ImageNet weights."""
    return Path(torch.hub.get_dir()) / "checkpoints" / BACKBONE_FILES[net][0]


def _missing_message(net: Backbone, path: Path, given: bool) -> str:
    file_name, url = BACKBONE_FILES[net]
    where = f"backbone_weights={path}" if given else f"torchvision's cache {path}"
    return (
        f"LPIPS ({net}) needs the ImageNet backbone weights {file_name}, not found at {where}. "
        f"Download it once on a machine with network access ({url}, or run "
        f"`python -c \"import torchvision; torchvision.models.{'alexnet' if net == 'alex' else 'vgg16'}"
        f"(weights='DEFAULT')\"`), then copy it to {default_backbone_path(net)} or set the lpips "
        "evaluator's backbone_weights to its path"
    )


def _load_backbone(model: nn.Module, path: Path, net: Backbone) -> None:
    """Copy torchvision ``features.<i>.*`` weights from `path` into lpips' sliced backbone."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt or not a state dict
        raise DataError(f"{path}: cannot read LPIPS backbone weights: {exc}") from None
    if not isinstance(state, dict):
        raise DataError(f"{path}: expected a torchvision state dict, got {type(state).__name__}")
    for slice_name, block in model.net.named_children():
        if not slice_name.startswith("slice"):
            continue
        for index, layer in block.named_children():
            for param_name, param in layer.named_parameters(recurse=False):
                key = f"features.{index}.{param_name}"
                if key not in state:
                    raise DataError(f"{path}: not a {net} backbone state dict: key {key!r} is missing")
                if tuple(state[key].shape) != tuple(param.shape):
                    raise DataError(
                        f"{path}: {key} has shape {list(state[key].shape)}, expected {list(param.shape)} ({net})"
                    )
                with torch.no_grad():
                    param.copy_(state[key])


_CACHE: dict[tuple[str, str, bool, int, str], nn.Module] = {}
_CACHE_LOCK = threading.Lock()


def build_lpips(
    net: Backbone = "alex",
    backbone_weights: Path | None = None,
    random_backbone: bool = False,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> nn.Module:
    """Build (or reuse) an ``lpips.LPIPS`` model in eval mode without downloading anything.

    Args:
        net: ``"alex"`` or ``"vgg"``.
        backbone_weights: the torchvision ImageNet weight file; None: torchvision's cache.
        random_backbone: use seeded random backbone weights (tests only; numbers are meaningless).
        seed: seed of the random backbone.
        device: where the model runs.

    Raises:
        MissingWeightsError: the backbone weight file is missing (says how to obtain it).
        DataError: the file is not a matching torchvision state dict.
    """
    path = None
    if not random_backbone:
        path = Path(backbone_weights) if backbone_weights is not None else default_backbone_path(net)
        if not path.is_file():
            raise MissingWeightsError(_missing_message(net, path, backbone_weights is not None))
    key = (net, str(path), random_backbone, seed, str(device))
    with _CACHE_LOCK:
        if key in _CACHE:
            return _CACHE[key]
        import lpips

        with warnings.catch_warnings(), torch.random.fork_rng(devices=[]):
            warnings.simplefilter("ignore")  # torchvision's deprecation of `pretrained`
            torch.manual_seed(seed)
            model = lpips.LPIPS(net=net, version="0.1", pnet_rand=True, verbose=False)
        if path is not None:
            _load_backbone(model, path, net)
        model = model.eval().requires_grad_(False).to(device)
        _CACHE[key] = model
        return model


def lpips_distance(model: nn.Module, predicted: Tensor, target: Tensor, grad: bool = False) -> Tensor:
    """LPIPS of image pairs.

    Args:
        model: from `build_lpips`.
        predicted: [N, H, W, 3] in [0, 1].
        target: [N, H, W, 3] in [0, 1].
        grad: keep the graph so the distance can be a training loss.

    Returns:
        [N] distances (0 for identical images; lower is better); differentiable w.r.t.
        `predicted` when `grad` is True (float32 on the inputs' device), else detached float64 on CPU.
    """
    if min(predicted.shape[1], predicted.shape[2]) < MIN_SIDE:
        raise DataError(
            f"LPIPS needs images of at least {MIN_SIDE}x{MIN_SIDE} pixels, "
            f"got {predicted.shape[2]}x{predicted.shape[1]}"
        )
    device = next(model.parameters()).device
    x = predicted.permute(0, 3, 1, 2).float().to(device)
    y = target.permute(0, 3, 1, 2).float().to(device)
    if grad:
        return model(x, y, normalize=True).flatten().to(predicted.device)
    with torch.no_grad():
        return model(x, y, normalize=True).flatten().double().cpu()
