"""The inside-mouth step's loss on the mouth's window against the full-frame photometric loss."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pgs.core.losses import photometric
from pgs.core.training.objectives import mask_window, windowed_photometric


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    h=st.integers(8, 70),
    w=st.integers(8, 70),
    box=st.tuples(st.floats(0, 1), st.floats(0, 1), st.floats(0, 0.6), st.floats(0, 0.6)),
    ssim_weight=st.sampled_from([0.0, 0.2, 1.0]),
)
def test_window_loss_and_gradient_equal_the_full_frame(seed, h, w, box, ssim_weight):
    gen = torch.Generator().manual_seed(seed)
    target = torch.rand(1, h, w, 3, generator=gen)
    r0, c0 = int(box[0] * (h - 1)), int(box[1] * (w - 1))
    mask = torch.zeros(h, w, dtype=torch.bool)
    mask[r0 : r0 + 1 + int(box[2] * h), c0 : c0 + 1 + int(box[3] * w)] = True
    mask &= torch.rand(h, w, generator=gen) < 0.8  # ragged, as a real mouth mask
    raw = torch.rand(1, h, w, 3, generator=gen, requires_grad=True)
    losses, grads = [], []
    for windowed in (False, True):
        pred = torch.where(mask[None, ..., None], raw, target)  # the mouth step: target outside the mask
        if windowed:
            loss = windowed_photometric(pred, target, mask_window(mask), ssim_weight)
        else:
            loss = photometric(pred, target, ssim_weight)
        (grad,) = torch.autograd.grad(loss, raw)
        losses.append(float(loss.detach()))
        grads.append(grad)
    assert abs(losses[0] - losses[1]) <= 1e-6 * max(1.0, abs(losses[0]))
    torch.testing.assert_close(grads[1], grads[0], rtol=1e-4, atol=1e-9)


def test_window_bounds_and_empty_mask():
    mask = torch.zeros(50, 60, dtype=torch.bool)
    assert mask_window(mask) is None
    raw = torch.rand(1, 50, 60, 3, requires_grad=True)
    loss = windowed_photometric(raw, raw.detach(), None, 0.2)
    loss.backward()
    assert float(loss.detach()) == 0.0 and raw.grad is not None and float(raw.grad.abs().sum()) == 0.0
    mask[20:25, 30:41] = True
    assert mask_window(mask) == (slice(10, 35), slice(20, 51))  # grown by twice the SSIM radius
    mask[:] = False
    mask[0, 59] = True
    assert mask_window(mask) == (slice(0, 11), slice(49, 60))  # clipped at the image's edges
