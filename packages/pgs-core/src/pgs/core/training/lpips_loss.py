"""The optional LPIPS term of stage 3 (Eq. 13), degrading to "not available" with a reason."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor

from pgs.core.errors import PgsError

#: Stage-3 LPIPS: ``loss(pred [B,H,W,3], target [B,H,W,3]) -> scalar``.
LpipsLoss = Callable[[Tensor, Tensor], Tensor]


def load_lpips(backbone_weights: Path | None, device: torch.device) -> tuple[LpipsLoss | None, str]:
    """Build the AlexNet LPIPS loss if the package and its weights are available.

    Returns:
        (loss, note): the loss and ``"used (alex)"``, or None and why it is not available
        (the lpips package missing, or the backbone weight file missing, with how to get it).
    """
    try:
        import lpips  # noqa: F401
    except ImportError:
        return None, "the lpips package is not installed (pip install lpips)"
    from pgs.core.lpips import build_lpips, lpips_distance

    try:
        model = build_lpips("alex", backbone_weights, device=device)
    except PgsError as exc:
        return None, str(exc)

    def loss(pred: Tensor, target: Tensor) -> Tensor:
        return lpips_distance(model, pred, target, grad=True).mean()

    return loss, "used (alex)"
