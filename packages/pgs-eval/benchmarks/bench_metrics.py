"""Speed of the metrics on 512x512 frames (report-only; run with ``make bench``).

The reference in the same run is scikit-image's SSIM on the same frames, so ratios stay
meaningful on a loaded machine.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pgs.eval.lpips_metric import build_lpips, lpips_distance
from pgs.eval.psnr import psnr_per_frame
from pgs.eval.ssim import ssim_per_frame
from pgs.eval.syncnet.model import SyncNet

FRAMES = 4
SIZE = 512


@pytest.fixture(scope="module")
def frames() -> tuple[torch.Tensor, torch.Tensor]:
    """Four random 512x512 frame pairs."""
    g = torch.Generator().manual_seed(0)
    a = torch.rand(FRAMES, SIZE, SIZE, 3, generator=g)
    return a, (a + 0.05 * torch.randn(a.shape, generator=g)).clamp(0, 1)


def test_skimage_ssim_reference(benchmark, frames) -> None:
    """Reference: scikit-image SSIM (same protocol as border='valid') on the same frames."""
    from skimage.metrics import structural_similarity

    a, b = (x.double().numpy() for x in frames)

    def run() -> float:
        return float(np.mean([
            structural_similarity(a[i], b[i], gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                  data_range=1.0, channel_axis=-1)
            for i in range(FRAMES)
        ]))  # fmt: skip

    benchmark(run)


def test_ssim(benchmark, frames) -> None:
    """Our SSIM (separable float64 filter) on 4 frames."""
    benchmark(lambda: ssim_per_frame(*frames, border="valid"))


def test_psnr(benchmark, frames) -> None:
    """PSNR on 4 frames."""
    benchmark(lambda: psnr_per_frame(*frames))


def test_lpips_random_backbone(benchmark, frames) -> None:
    """LPIPS AlexNet (random backbone: same cost as the real one) on 4 frames."""
    model = build_lpips(random_backbone=True)
    benchmark(lambda: lpips_distance(model, *frames))


def test_syncnet_window(benchmark) -> None:
    """One SyncNet window: lip stream (5x224x224) + audio stream (13x20)."""
    model = SyncNet().eval()
    clips = torch.rand(1, 3, 5, 224, 224) * 255
    mfcc = torch.randn(1, 1, 13, 20)

    def run() -> None:
        with torch.no_grad():
            model.forward_lips(clips)
            model.forward_audio(mfcc)

    benchmark(run)
