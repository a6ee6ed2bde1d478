"""Held-out PSNR of a head while it trains: full frame, head, face and inner-mouth regions.

Used by the trainer after each stage (its ``history``) and for the mean-image baseline.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import Tensor

from pgs.core.data.dataset import Frame, SpeakerDataset
from pgs.core.model.talking_head import TalkingHead


def _psnr_from_mse(mse: float) -> float:
    return float("inf") if mse <= 0 else -10.0 * math.log10(mse)


@dataclass
class RegionErrors:
    """Squared errors summed over frames: full frame, head (face, hair, mouth), face (face, mouth), inner mouth."""

    sums: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def _add(self, key: str, err: Tensor, region: Tensor | None) -> None:
        value = err if region is None else err[region]
        self.sums[key] = self.sums.get(key, 0.0) + float(value.sum())
        self.counts[key] = self.counts.get(key, 0) + value.numel()

    def add(self, prediction: Tensor, frame: Frame) -> None:
        """Accumulate one [H, W, 3] prediction against `frame`'s ground truth."""
        err = (prediction - frame.image) ** 2
        masks = frame.masks
        self._add("psnr", err, None)
        self._add("psnr_head", err, masks.head | masks.mouth)
        self._add("psnr_face", err, masks.face | masks.mouth)
        self._add("psnr_mouth", err, masks.mouth)

    def add_mouth_branch(self, prediction: Tensor, frame: Frame) -> None:
        """Accumulate the inside-mouth branch rendered alone [H, W, 3], scored in the inner-mouth mask."""
        self._add("psnr_mouth_branch", (prediction - frame.image) ** 2, frame.masks.mouth)

    def psnr(self) -> dict[str, float]:
        """PSNR in dB per accumulated region.

        Keys: ``psnr`` (full frame), ``psnr_head``, ``psnr_face``, ``psnr_mouth`` (the composite in those
        regions) and, when added, ``psnr_mouth_branch`` (the mouth branch alone in the inner-mouth mask).
        """
        keys = [k for k in ("psnr", "psnr_head", "psnr_face", "psnr_mouth", "psnr_mouth_branch") if k in self.sums]
        return {k: _psnr_from_mse(self.sums.get(k, 0.0) / max(self.counts.get(k, 0), 1)) for k in keys}


def evaluate_head(
    head: TalkingHead, dataset: SpeakerDataset, count: int, device: torch.device, static: bool = False
) -> dict[str, float]:
    """Region PSNRs of `head` on `count` evenly spaced frames of `dataset` (`RegionErrors.psnr` keys).

    Args:
        head: the model (put in eval mode for the call, then restored).
        dataset: frames to render.
        count: how many frames (at most ``len(dataset)``).
        device: where to render.
        static: render the canonical Gaussians (no deformation), as after a static stage.
    """
    count = min(len(dataset), count)
    indices = torch.linspace(0, len(dataset) - 1, count).round().long().unique().tolist()
    was_training = head.training
    head.eval()
    errors = RegionErrors()
    with torch.no_grad():
        for i in indices:
            frame = dataset[i].to(device)
            out = head.render_frame(frame, static=static)
            errors.add(out.image[0].clamp(0, 1), frame)
            errors.add_mouth_branch(out.mouth.render.over(frame.background)[0].clamp(0, 1), frame)
    head.train(was_training)
    return errors.psnr()


def mean_image_psnr(train_set: SpeakerDataset, val_set: SpeakerDataset, max_frames: int = 200) -> dict[str, float]:
    """Region PSNRs of the trivial predictor (the mean training image) on every frame of `val_set`."""
    step = max(1, len(train_set) // max_frames)
    total, count = None, 0
    for i in range(0, len(train_set), step):
        img = train_set.load_image(i)
        total = img.clone() if total is None else total + img
        count += 1
    mean = total / count
    errors = RegionErrors()
    for i in range(len(val_set)):
        errors.add(mean, val_set[i])
    return errors.psnr()


__all__ = ["RegionErrors", "evaluate_head", "mean_image_psnr"]
