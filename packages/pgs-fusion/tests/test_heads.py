from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from pgs.fusion.heads import DeformationHead, HeadConfig, split_linear


@settings(max_examples=30, deadline=None)
@given(
    widths=st.lists(st.integers(1, 6), min_size=1, max_size=4),
    per_point=st.lists(st.booleans(), min_size=4, max_size=4),
    n=st.integers(1, 9),
    bias=st.booleans(),
    seed=st.integers(0, 1000),
)
def test_split_linear_equals_linear_of_the_concatenation(widths, per_point, n, bias, seed) -> None:
    torch.manual_seed(seed)
    per_point = per_point[: len(widths)]
    linear = nn.Linear(sum(widths), 5, bias=bias).double()
    parts = [torch.randn(n, w, dtype=torch.float64) if pp else torch.randn(w, dtype=torch.float64)
             for w, pp in zip(widths, per_point, strict=True)]
    got = split_linear(linear, parts)
    if any(per_point):
        dense = torch.cat([p if p.dim() == 2 else p.expand(n, -1) for p in parts], dim=1)
    else:
        dense = torch.cat(parts)
    torch.testing.assert_close(got, linear(dense), rtol=1e-12, atol=1e-12)


def test_split_linear_rejects_a_width_mismatch() -> None:
    with pytest.raises(ValueError, match="channels"):
        split_linear(nn.Linear(5, 2), [torch.randn(3, 4)])


def test_head_splits_targets_in_fixed_order_and_scales_position() -> None:
    config = HeadConfig(spatial_dim=4, audio_dim=2, outputs=("rotation", "position"), position_scale=0.5,
                        position_axis_scale=(0.2, 1.0, 3.0), head_init_gain=1.0)
    head = DeformationHead((4,), config).double()
    x = torch.randn(7, 4, dtype=torch.float64)
    out = head((x,))
    h = x
    for i, layer in enumerate(head.layers):
        h = layer(torch.relu(h) if i else h)
    assert out.d_scale is None
    torch.testing.assert_close(out.d_xyz, h[:, :3] * torch.tensor([0.1, 0.5, 1.5], dtype=torch.float64))
    torch.testing.assert_close(out.d_rot, h[:, 3:7])


def test_head_last_layer_starts_small_with_zero_bias() -> None:
    head = DeformationHead((8,), HeadConfig(outputs=("position", "scale")))
    last = head.layers[-1]
    assert torch.count_nonzero(last.bias) == 0
    bound = 0.01 * (6 / (last.in_features + last.out_features)) ** 0.5  # xavier-uniform limit at gain 0.01
    assert float(last.weight.detach().abs().max()) <= bound
    assert len(head.layers) == 3


def test_head_needs_a_per_point_part() -> None:
    head = DeformationHead((3,), HeadConfig())
    with pytest.raises(ValueError, match="per-point"):
        head((torch.randn(3),))
