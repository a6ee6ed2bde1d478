"""MGF against an independent float64 implementation of Eqs. 6-9, and its gate properties."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor

from pgs.core.registry import registry
from pgs.fusion.mgf import MGFConfig, MGFFusion

from .conftest import FACE, MOUTH


def build(params: dict, seed: int = 0) -> MGFFusion:
    torch.manual_seed(seed)
    return registry("pgs.fusion").create("mgf", params).double()


def lin(layer: torch.nn.Linear, x: Tensor) -> Tensor:
    out = x @ layer.weight.T
    return out + layer.bias if layer.bias is not None else out


def reference_head(module: MGFFusion, x: Tensor) -> Tensor:
    h = x
    for i, layer in enumerate(module.head.layers):
        h = lin(layer, torch.relu(h) if i else h)
    return h


def reference(module: MGFFusion, spatial: Tensor, audio: Tensor, expression: Tensor | None) -> Tensor:
    """Eqs. 6-9 with explicit per-point concatenations, audio tiled to [N, Da]. Returns raw head output."""
    n = spatial.shape[0]
    audio = audio.expand(n, -1) if audio.dim() == 1 else audio
    fa = lin(module.audio_proj, audio)
    if expression is None:  # Eqs. 6-7
        fs = lin(module.spatial_proj, spatial)
        w = torch.sigmoid(lin(module.gate, torch.cat([fs, fa], 1)))
        return reference_head(module, torch.cat([fs, w * fa], 1))
    fe = lin(module.expression_proj, expression.expand(n, -1))  # Eqs. 8-9
    w = torch.sigmoid(lin(module.gate, torch.cat([fa, fe], 1)))
    f_ae = torch.cat([w * fa, fe], 1)
    return reference_head(module, torch.cat([audio, f_ae, spatial], 1))


def inputs(params: dict, n: int = 50, seed: int = 1) -> tuple[Tensor, Tensor, Tensor | None]:
    g = torch.Generator().manual_seed(seed)
    s = torch.randn(n, params["spatial_dim"], generator=g, dtype=torch.float64)
    a = torch.randn(params["audio_dim"], generator=g, dtype=torch.float64)
    e = torch.randn(params["expression_dim"], generator=g, dtype=torch.float64) if params["expression_dim"] else None
    return s, a, e


def raw(module: MGFFusion, out) -> Tensor:
    """Undo the output scaling to get the head's raw output."""
    d_xyz = out.d_xyz / module.head.position_multiplier.to(out.d_xyz.dtype)
    return torch.cat([d_xyz] + [t for t in (out.d_scale, out.d_rot) if t is not None], 1)


@pytest.mark.parametrize("proj_dim", [16, 32])
def test_mgf_matches_the_equations(branch: dict, proj_dim: int) -> None:
    module = build(dict(branch, head_init_gain=1.0, proj_dim=proj_dim))
    s, a, e = inputs(branch)
    with torch.no_grad():
        torch.testing.assert_close(raw(module, module(s, a, e)), reference(module, s, a, e), rtol=1e-10, atol=1e-12)
        a_pp = torch.randn(s.shape[0], branch["audio_dim"], dtype=torch.float64)
        torch.testing.assert_close(
            raw(module, module(s, a_pp, e)), reference(module, s, a_pp, e), rtol=1e-10, atol=1e-12
        )


def test_variant_follows_expression_dim() -> None:
    face, mouth = build(FACE), build(MOUTH)
    assert face.face and not mouth.face
    assert not hasattr(face, "spatial_proj") and not hasattr(mouth, "expression_proj")
    # face MLP input: f_a (32) + f_ae (2 C) + f_s (36); mouth: f'_s (C) + f~_a (C)
    c = face.config.proj_dim
    assert face.head.layers[0].in_features == 32 + 2 * c + 36
    assert mouth.head.layers[0].in_features == 2 * c
    assert face.gate.in_features == 2 * c and mouth.gate.out_features == c
    assert face.audio_proj.bias is None


@settings(max_examples=25, deadline=None)
@given(scale=st.floats(1e-3, 1e3), seed=st.integers(0, 10_000), face=st.booleans(), per_point=st.booleans())
def test_gates_lie_in_unit_interval(scale: float, seed: int, face: bool, per_point: bool) -> None:
    params = FACE if face else MOUTH
    module = build(params, seed)
    s, a, e = inputs(params, n=20, seed=seed)
    if per_point:
        a = torch.randn(20, params["audio_dim"], dtype=torch.float64)
    with torch.no_grad():
        w = module.gates(s * scale, a * scale, None if e is None else e * scale)
    assert bool(((w >= 0) & (w <= 1)).all())
    c = module.config.proj_dim
    assert w.shape == ((20, c) if (per_point or not face) else (c,))


def test_face_gate_is_per_frame_and_matches_per_point_rows() -> None:
    module = build(FACE)
    s, a, e = inputs(FACE)
    with torch.no_grad():
        w = module.gates(s, a, e)
        w_pp = module.gates(s, a.expand(s.shape[0], -1).clone(), e)
    torch.testing.assert_close(w_pp, w.expand_as(w_pp), rtol=1e-12, atol=1e-12)


def test_zero_audio_makes_the_mouth_output_a_function_of_the_spatial_feature() -> None:
    module = build(dict(MOUTH, head_init_gain=1.0), seed=3)
    s, _, _ = inputs(MOUTH)
    zero = torch.zeros(MOUTH["audio_dim"], dtype=torch.float64)
    with torch.no_grad():
        out = raw(module, module(s, zero))
        # Independent: head(concat(f'_s, 0)); the gate (random weights) does not matter.
        fs = lin(module.spatial_proj, s)
        torch.testing.assert_close(out, reference_head(module, torch.cat([fs, torch.zeros_like(fs)], 1)))
        module.gate.weight.normal_()  # a different gate gives the same output
        torch.testing.assert_close(raw(module, module(s, zero)), out, rtol=0, atol=0)


def test_a_closed_gate_removes_the_audio_from_the_mouth_output() -> None:
    module = build(dict(MOUTH, head_init_gain=1.0), seed=4)
    s, a, _ = inputs(MOUTH)
    with torch.no_grad():
        module.gate.weight.zero_()
        module.gate.bias.fill_(-1e4)  # sigmoid(-1e4) == 0 exactly: w = 0
        assert bool((module.gates(s, a) == 0).all())
        out = module(s, a).d_xyz
        for other in (torch.zeros_like(a), 100 * torch.randn_like(a), torch.randn(s.shape[0], 32, dtype=s.dtype)):
            torch.testing.assert_close(module(s, other).d_xyz, out, rtol=0, atol=0)
        fs = lin(module.spatial_proj, s)
        spatial_only = reference_head(module, torch.cat([fs, torch.zeros_like(fs)], 1))
        torch.testing.assert_close(raw(module, module(s, a)), spatial_only)


def test_open_gate_passes_the_projected_audio() -> None:
    module = build(dict(MOUTH, head_init_gain=1.0), seed=5)
    s, a, _ = inputs(MOUTH)
    with torch.no_grad():
        module.gate.weight.zero_()
        module.gate.bias.fill_(1e4)  # w = 1: f~_a = f'_a
        expected = reference_head(
            module, torch.cat([lin(module.spatial_proj, s), lin(module.audio_proj, a).expand(50, -1)], 1)
        )
        torch.testing.assert_close(raw(module, module(s, a)), expected)


def test_mgf_config_rejects_bad_proj_dim() -> None:
    import pydantic

    with pytest.raises(pydantic.ValidationError, match="proj_dim"):
        MGFConfig(proj_dim=0)
