from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from pgs.core.errors import DataError
from pgs.core.interfaces import EvaluationInputs
from pgs.eval.psnr import PsnrConfig, PsnrEvaluator, psnr_per_frame
from pgs.eval.regions import boxes_from_landmarks, boxes_from_masks, select_region
from pgs.eval.ssim import SsimConfig, SsimEvaluator, ssim_per_frame


def _pair(seed: int, frames: int, h: int, w: int, noise: float) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    a = torch.rand(frames, h, w, 3, generator=g)
    b = (a + noise * torch.randn(frames, h, w, 3, generator=g)).clamp(0, 1)
    return a, b


def _ssim_dense_reference(x: np.ndarray, y: np.ndarray) -> float:
    """3DGS SSIM in float64: explicit 11x11 window sums over a zero-padded image, mean over all pixels."""
    r = np.arange(11) - 5
    g = np.exp(-(r**2) / (2 * 1.5**2))
    g /= g.sum()
    w2 = np.outer(g, g)
    total = 0.0
    for c in range(3):
        xp = np.pad(x[..., c], 5)
        yp = np.pad(y[..., c], 5)
        wx = np.lib.stride_tricks.sliding_window_view(xp, (11, 11))
        wy = np.lib.stride_tricks.sliding_window_view(yp, (11, 11))
        mx = (wx * w2).sum(axis=(2, 3))
        my = (wy * w2).sum(axis=(2, 3))
        vx = (wx * wx * w2).sum(axis=(2, 3)) - mx * mx
        vy = (wy * wy * w2).sum(axis=(2, 3)) - my * my
        cxy = (wx * wy * w2).sum(axis=(2, 3)) - mx * my
        c1, c2 = 0.01**2, 0.03**2
        s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
        total += s.mean()
    return total / 3


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), h=st.integers(11, 40), w=st.integers(11, 40), noise=st.floats(0.01, 0.5))
def test_psnr_and_ssim_valid_match_scikit_image(seed: int, h: int, w: int, noise: float) -> None:
    a, b = _pair(seed, 2, h, w, noise)
    psnr = psnr_per_frame(a, b)
    ssim = ssim_per_frame(a, b, border="valid")
    for f in range(2):
        x, y = a[f].double().numpy(), b[f].double().numpy()
        assert psnr[f].item() == pytest.approx(peak_signal_noise_ratio(x, y, data_range=1.0), abs=1e-4)
        ref = structural_similarity(
            x, y, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0, channel_axis=-1
        )
        assert ssim[f].item() == pytest.approx(ref, abs=1e-4)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), h=st.integers(4, 24), w=st.integers(4, 24))
def test_ssim_same_border_matches_dense_3dgs_reference(seed: int, h: int, w: int) -> None:
    a, b = _pair(seed, 1, h, w, 0.2)
    ours = ssim_per_frame(a, b, border="same")[0].item()
    assert ours == pytest.approx(_ssim_dense_reference(a[0].double().numpy(), b[0].double().numpy()), abs=1e-9)


def test_identical_frames_give_infinite_psnr_and_unit_ssim() -> None:
    a, _ = _pair(0, 3, 20, 20, 0.1)
    psnr = PsnrEvaluator(PsnrConfig(region="full")).evaluate(EvaluationInputs(predicted=a, target=a.clone()))[0]
    assert math.isinf(psnr.value) and psnr.value > 0
    assert "MSE = 0" in psnr.note and "3 of 3" in psnr.note
    for border in ("same", "valid"):
        ssim = SsimEvaluator(SsimConfig(region="full", border=border)).evaluate(EvaluationInputs(predicted=a, target=a))
        assert ssim[0].value == pytest.approx(1.0, abs=1e-12)


def test_masked_psnr_is_mse_over_region_pixels() -> None:
    a, b = _pair(3, 2, 16, 12, 0.2)
    masks = torch.zeros(2, 16, 12, dtype=torch.bool)
    masks[0, 2:9, 3:7] = True
    masks[1, 5:, :4] = True
    got = psnr_per_frame(a, b, masks)
    for f in range(2):
        m = masks[f].numpy()
        diff = (a[f].double().numpy() - b[f].double().numpy())[m]  # [pixels, 3]
        assert got[f].item() == pytest.approx(-10 * np.log10(np.mean(diff**2)), abs=1e-9)
    # pixels outside the mask do not matter
    c = b.clone()
    c[~masks] = 1.0 - c[~masks]
    assert torch.allclose(psnr_per_frame(a, c, masks), got)


def test_face_region_ssim_is_ssim_of_mask_box_crop() -> None:
    a, b = _pair(5, 2, 40, 36, 0.2)
    masks = torch.zeros(2, 40, 36, dtype=torch.bool)
    masks[0, 5:30, 8:28] = True
    masks[1, 12:38, 3:20] = True
    masks[1, 20, 30] = True  # a stray pixel widens the box
    inputs = EvaluationInputs(predicted=a, target=b, region_masks=masks)
    got = SsimEvaluator(SsimConfig(region="face", border="valid")).evaluate(inputs)[0]
    boxes = [(8, 5, 28, 30), (3, 12, 31, 38)]
    refs = []
    for f, (x0, y0, x1, y1) in enumerate(boxes):
        x, y = a[f, y0:y1, x0:x1].double().numpy(), b[f, y0:y1, x0:x1].double().numpy()
        refs.append(
            structural_similarity(
                x, y, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0, channel_axis=-1
            )
        )
    assert got.value == pytest.approx(float(np.mean(refs)), abs=1e-6)
    assert "bounding box of the face region (parsing masks)" in got.protocol
    assert boxes_from_masks(masks).tolist() == [list(b) for b in boxes]


def test_face_box_from_landmarks_grows_by_margin_and_clips() -> None:
    lm = torch.zeros(2, 68, 2)
    lm[0, :, 0] = torch.linspace(10, 30, 68)  # x 10..30
    lm[0, :, 1] = torch.linspace(20, 60, 68)  # y 20..60
    lm[1] = lm[0] - 15  # partly outside: x -5..15, y 5..45
    boxes = boxes_from_landmarks(lm, height=50, width=40, margin=0.1)
    # frame 0: grow x by 2, y by 4 -> x 8..32, y 16..64 (clipped to 50); end exclusive
    assert boxes[0].tolist() == [8, 16, 33, 50]
    assert boxes[1].tolist() == [0, 1, 18, 50]


def test_face_region_without_masks_or_landmarks_is_a_clear_error() -> None:
    a, b = _pair(0, 1, 16, 16, 0.1)
    with pytest.raises(DataError, match="region='full'"):
        PsnrEvaluator(PsnrConfig()).evaluate(EvaluationInputs(predicted=a, target=b))


def test_face_region_from_landmarks_is_used_for_psnr() -> None:
    a, b = _pair(1, 1, 32, 32, 0.2)
    lm = torch.stack(torch.meshgrid(torch.linspace(8, 20, 17), torch.linspace(10, 22, 4), indexing="xy"), -1)
    lm = lm.reshape(1, 68, 2)
    inputs = EvaluationInputs(predicted=a, target=b, target_landmarks=lm)
    value = PsnrEvaluator(PsnrConfig(box_margin=0.0)).evaluate(inputs)[0]
    region = select_region(inputs, "face", 0.0)
    x0, y0, x1, y1 = region.boxes[0].tolist()
    assert (x0, y0, x1, y1) == (8, 10, 21, 23)
    crop_a, crop_b = a[0, y0:y1, x0:x1].double().numpy(), b[0, y0:y1, x0:x1].double().numpy()
    crop_ref = peak_signal_noise_ratio(crop_a, crop_b, data_range=1)
    assert value.value == pytest.approx(crop_ref, abs=1e-9)
    assert "68 ground-truth landmarks" in value.protocol


@pytest.mark.parametrize(
    ("predicted", "target", "message"),
    [
        (torch.rand(2, 8, 8, 3), None, "no target"),
        (torch.rand(2, 8, 8, 3), torch.rand(2, 8, 9, 3), "differ in shape"),
        (torch.rand(2, 8, 8), torch.rand(2, 8, 8), r"\[F, H, W, 3\]"),
        (torch.full((1, 8, 8, 3), float("nan")), torch.rand(1, 8, 8, 3), "NaN"),
        ((torch.rand(1, 8, 8, 3) * 255).to(torch.uint8), torch.rand(1, 8, 8, 3), "float"),
    ],
)
def test_bad_frames_are_clear_errors(predicted: torch.Tensor, target: torch.Tensor | None, message: str) -> None:
    with pytest.raises(DataError, match=message):
        PsnrEvaluator(PsnrConfig(region="full")).evaluate(EvaluationInputs(predicted=predicted, target=target))


def test_bad_mask_shape_names_the_field() -> None:
    a, b = _pair(0, 2, 8, 8, 0.1)
    with pytest.raises(DataError, match="region_masks"):
        SsimEvaluator(SsimConfig()).evaluate(
            EvaluationInputs(predicted=a, target=b, region_masks=torch.ones(2, 8, 7, dtype=torch.bool))
        )
    empty = torch.zeros(2, 8, 8, dtype=torch.bool)
    empty[0] = True
    with pytest.raises(DataError, match="frame 1 has an empty face mask"):
        SsimEvaluator(SsimConfig()).evaluate(EvaluationInputs(predicted=a, target=b, region_masks=empty))
