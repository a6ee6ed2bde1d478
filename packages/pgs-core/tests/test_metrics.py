"""The separable SSIM of pgs.core.metrics against the grouped 11x11 SSIM the loss used before."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from pgs.core.errors import DataError
from pgs.core.losses import photometric
from pgs.core.metrics import psnr_per_frame, separable_blur, ssim, ssim_map, ssim_per_frame


def _old_ssim_map(img1: torch.Tensor, img2: torch.Tensor) -> torch.Tensor:
    """The training loss's SSIM before the separable one: grouped 2D 11x11 convolutions, [B, H, W, C]."""
    coords = torch.arange(11, dtype=torch.float64) - 5
    g = torch.exp(-(coords**2) / (2 * 1.5**2))
    g = g / g.sum()
    x = img1.permute(0, 3, 1, 2)
    y = img2.permute(0, 3, 1, 2)
    channels = x.shape[1]
    window = (g[:, None] @ g[None, :]).to(x.dtype).expand(channels, 1, 11, 11).contiguous()

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t, window, padding=5, groups=channels)

    mu_x, mu_y = blur(x), blur(y)
    mu_xx, mu_yy, mu_xy = mu_x * mu_x, mu_y * mu_y, mu_x * mu_y
    sigma_xx = blur(x * x) - mu_xx
    sigma_yy = blur(y * y) - mu_yy
    sigma_xy = blur(x * y) - mu_xy
    c1, c2 = 0.01**2, 0.03**2
    num = (2 * mu_xy + c1) * (2 * sigma_xy + c2)
    den = (mu_xx + mu_yy + c1) * (sigma_xx + sigma_yy + c2)
    return (num / den).permute(0, 2, 3, 1)


def _pair(seed: int, b: int, h: int, w: int, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    a = torch.rand(b, h, w, 3, generator=g, dtype=torch.float64)
    t = (a + 0.2 * torch.randn(b, h, w, 3, generator=g, dtype=torch.float64)).clamp(0, 1)
    return a.to(dtype), t.to(dtype)


@pytest.mark.parametrize(("dtype", "tol"), [(torch.float32, 2e-5), (torch.float64, 1e-12)])
@pytest.mark.parametrize(("h", "w"), [(64, 48), (11, 30), (5, 7)])
def test_map_and_gradient_match_the_old_grouped_ssim(dtype, tol, h, w):
    a, t = _pair(0, 2, h, w, dtype)
    grad = torch.rand(2, h, w, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64).to(dtype)
    results = []
    for fn in (lambda p: ssim_map(p, t).permute(0, 2, 3, 1), lambda p: _old_ssim_map(p, t)):
        p = a.clone().requires_grad_(True)
        out = fn(p)
        out.backward(grad)
        results.append((out.detach(), p.grad))
    (new, new_grad), (old, old_grad) = results
    torch.testing.assert_close(new, old, rtol=tol, atol=tol)
    torch.testing.assert_close(new_grad, old_grad, rtol=tol, atol=tol * float(old_grad.abs().max()))


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), h=st.integers(1, 40), w=st.integers(1, 40))
def test_loss_value_and_gradient_match_the_old_grouped_ssim(seed, h, w):
    a, t = _pair(seed, 1, h, w, torch.float32)
    p1 = a.clone().requires_grad_(True)
    p2 = a.clone().requires_grad_(True)
    new = ssim(p1, t)
    old = _old_ssim_map(p2, t).mean()
    new.backward()
    old.backward()
    assert float(new.detach()) == pytest.approx(float(old.detach()), abs=2e-6)
    torch.testing.assert_close(p1.grad, p2.grad, rtol=1e-4, atol=1e-4 * float(p2.grad.abs().max()) + 1e-12)


def test_float64_gradcheck_of_the_loss():
    a, t = _pair(3, 1, 13, 12, torch.float64)
    p = a.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: ssim(x, t), (p,), eps=1e-6, atol=1e-7)
    # L1 + D-SSIM (Eq. 11): the random images keep every pixel away from L1's kink
    assert torch.autograd.gradcheck(lambda x: photometric(x, t, 0.2), (p,), eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_blur_is_the_separable_gaussian_and_self_adjoint(dtype):
    """An impulse gives the 11x11 outer product; with zero padding the filter is its own adjoint."""
    img = torch.zeros(1, 1, 21, 21, dtype=dtype)
    img[0, 0, 10, 10] = 1
    out = separable_blur(img, 5)[0, 0]
    coords = torch.arange(11, dtype=torch.float64) - 5
    g = torch.exp(-(coords**2) / 4.5)
    g = g / g.sum()
    torch.testing.assert_close(out[5:16, 5:16].double(), g[:, None] * g[None, :], rtol=1e-6, atol=1e-7)
    assert float(out.sum()) == pytest.approx(1.0, abs=1e-6)
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(1, 2, 17, 23, generator=gen, dtype=torch.float64).to(dtype)
    y = torch.rand(1, 2, 17, 23, generator=gen, dtype=torch.float64).to(dtype)
    lhs = (separable_blur(x, 5) * y).sum()
    rhs = (x * separable_blur(y, 5)).sum()
    assert float(lhs) == pytest.approx(float(rhs), rel=1e-5)


def test_identical_images_and_border_errors():
    img = torch.rand(2, 16, 16, 3, dtype=torch.float64)
    assert float(ssim(img, img)) == pytest.approx(1.0, abs=1e-12)
    assert torch.allclose(ssim_per_frame(img, img, "valid"), torch.ones(2, dtype=torch.float64))
    with pytest.raises(DataError, match="at least 11x11"):
        ssim_map(img[:, :8], img[:, :8], "valid")
    with pytest.raises(ValueError, match="one shape"):
        ssim_map(img, img[:1])


def test_psnr_per_frame_closed_form():
    a = torch.zeros(2, 4, 4, 3, dtype=torch.float64)
    b = torch.full((2, 4, 4, 3), 0.1, dtype=torch.float64)
    b[1] = 0.0
    values = psnr_per_frame(a, b)
    assert values[0].item() == pytest.approx(20.0, rel=1e-9)
    assert values[1].item() == float("inf")
