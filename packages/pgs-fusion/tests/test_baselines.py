"""concat-mlp and cross-attention against independent float64 implementations."""

from __future__ import annotations

import pydantic
import pytest
import torch
from torch import Tensor, nn

from pgs.core.registry import registry

from .conftest import FACE, MOUTH


def build(name: str, params: dict, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return registry("pgs.fusion").create(name, dict(params, head_init_gain=1.0)).double().eval()


def inputs(params: dict, n: int = 40, seed: int = 1) -> tuple[Tensor, Tensor, Tensor | None]:
    g = torch.Generator().manual_seed(seed)
    s = torch.randn(n, params["spatial_dim"], generator=g, dtype=torch.float64)
    a = torch.randn(params["audio_dim"], generator=g, dtype=torch.float64)
    e = torch.rand(params["expression_dim"], generator=g, dtype=torch.float64) * 5 if params["expression_dim"] else None
    return s, a, e


def seq(layers: nn.Sequential, x: Tensor) -> Tensor:
    """Apply Linear layers with ReLU between, written out (no Sequential call)."""
    linears = [m for m in layers if isinstance(m, nn.Linear)]
    for i, layer in enumerate(linears):
        x = torch.relu(x) if i else x
        x = x @ layer.weight.T + (layer.bias if layer.bias is not None else 0)
    return x


def head(module: nn.Module, x: Tensor) -> Tensor:
    return seq(nn.Sequential(*module.head.layers), x)


def raw(module: nn.Module, out) -> Tensor:
    d_xyz = out.d_xyz / module.head.position_multiplier.to(out.d_xyz.dtype)
    return torch.cat([d_xyz] + [t for t in (out.d_scale, out.d_rot) if t is not None], 1)


# ------------------------------------------------------------------------------ concat-mlp (TalkingGaussian)


def test_concat_mlp_face_matches_talkinggaussian() -> None:
    """f_e arrives from the branch's AU MLP: the module gates it, it does not apply a second AU MLP."""
    module = build("concat-mlp", FACE)
    s, a, e = inputs(FACE)
    n = s.shape[0]
    enc_w = a.expand(n, -1) * seq(module.audio_attention, s)
    eye_att = torch.relu(seq(module.expression_attention, s))
    enc_e = e.expand(n, -1) * eye_att
    expected = head(module, torch.cat([s, enc_w, enc_e], 1))
    with torch.no_grad():
        torch.testing.assert_close(raw(module, module(s, a, e)), expected[:, :10], rtol=1e-10, atol=1e-12)


def _linear_shapes(module: nn.Module) -> list[tuple[int, int, bool]]:
    return [(m.in_features, m.out_features, m.bias is not None) for m in module.modules() if isinstance(m, nn.Linear)]


def test_concat_mlp_layer_sizes_are_talkinggaussians() -> None:
    """TalkingGaussian's MotionNetwork / MouthMotionNetwork, layer by layer, all bias-free."""
    face = build("concat-mlp", FACE)
    assert _linear_shapes(face.audio_attention) == [(36, 32, False), (32, 32, False)]
    assert _linear_shapes(face.expression_attention) == [(36, 16, False), (16, 6, False)]
    assert _linear_shapes(face.head) == [(74, 64, False), (64, 64, False), (64, 11, False)]  # + unused d_opacity
    assert not hasattr(face, "expression_mlp")  # the AU MLP lives once, in the branch (ExpressionNet 5-16-5)
    assert len(_linear_shapes(face)) == 7
    mouth = build("concat-mlp", MOUTH)
    assert _linear_shapes(mouth) == [(68, 32, False), (32, 32, False), (32, 3, False)]


def test_branch_applies_the_au_mlp_once() -> None:
    """Branch + concat-mlp: the AU vector passes one 5-16-5 MLP (TalkingGaussian), not two."""
    from pgs.core.model.branch import Branch, BranchConfig

    torch.manual_seed(0)
    branch = Branch(BranchConfig(fusion={"name": "concat-mlp"}), audio_channels=4)
    au_mlps = [
        m
        for m in branch.modules()
        if isinstance(m, nn.Linear) and (m.in_features, m.out_features) in {(5, 16), (16, 5)}
    ]
    assert len(au_mlps) == 2  # one MLP: its two layers


def test_concat_mlp_mouth_is_a_plain_concatenation_by_default() -> None:
    module = build("concat-mlp", MOUTH)
    s, a, _ = inputs(MOUTH)
    assert not module.use_audio_attention
    expected = head(module, torch.cat([s, a.expand(s.shape[0], -1)], 1))
    with torch.no_grad():
        out = module(s, a)
    torch.testing.assert_close(raw(module, out), expected, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(out.d_xyz[:, 0], expected[:, 0] * 1e-2 * 0.2)  # TalkingGaussian: x / 5


def test_concat_mlp_mouth_attention_can_be_switched_on() -> None:
    module = build("concat-mlp", dict(MOUTH, audio_attention=True, hidden_dim=64, head_bias=True))
    s, a, _ = inputs(MOUTH)
    assert _linear_shapes(module.head) == [(68, 64, True), (64, 64, True), (64, 3, True)]
    expected = head(module, torch.cat([s, a * seq(module.audio_attention, s)], 1))
    with torch.no_grad():
        torch.testing.assert_close(raw(module, module(s, a)), expected, rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------------------------ cross-attention (GaussianTalker)


@pytest.mark.parametrize("per_point", [False, True])
def test_cross_attention_matches_torch_multihead_attention(branch: dict, per_point: bool) -> None:
    module = build("cross-attention", branch)
    s, a, e = inputs(branch)
    n = s.shape[0]
    if per_point:
        a = torch.randn(n, branch["audio_dim"], dtype=torch.float64)
    mha = nn.MultiheadAttention(64, 2, batch_first=True).double()
    with torch.no_grad():
        mha.in_proj_weight.copy_(torch.cat([module.q_proj.weight, module.k_proj.weight, module.v_proj.weight]))
        mha.in_proj_bias.copy_(torch.cat([module.q_proj.bias, module.k_proj.bias, module.v_proj.bias]))
        mha.out_proj.weight.copy_(module.out_proj.weight)
        mha.out_proj.bias.copy_(module.out_proj.bias)
        x = s @ module.query_in.weight.T + module.query_in.bias
        tokens = [seq(module.audio_token, a).expand(n, -1)]
        if e is not None:
            tokens.append(seq(module.expression_token, e).expand(n, -1))
        tokens.append(module.null_token.expand(n, -1))
        kv = torch.stack(tokens, 1)  # [N, T, 64]: each point is a batch of one query
        attended, weights = mha(x[:, None], kv, kv, need_weights=True, average_attn_weights=False)
        y = nn.functional.layer_norm(x + attended[:, 0], (64,), module.norm1.weight, module.norm1.bias)
        z = nn.functional.layer_norm(y + seq(module.ffn, y), (64,), module.norm2.weight, module.norm2.bias)
        expected = head(module, z)
        got_z, got_w = module.attention(s, a, e)
        torch.testing.assert_close(got_z, z, rtol=1e-10, atol=1e-10)
        torch.testing.assert_close(got_w, weights[:, :, 0], rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(raw(module, module(s, a, e)), expected, rtol=1e-9, atol=1e-10)
    assert got_w.shape == (n, 2, 3 if e is not None else 2)  # tokens: audio, (expression), null


def test_cross_attention_camera_token_is_gaussiantalkers() -> None:
    """Camera token MLP([R, T]) of the world-to-camera matrix: one more token, and the pose changes the output."""
    module = build("cross-attention", dict(FACE, camera_token=True))
    s, a, e = inputs(FACE)
    assert module.uses_camera and _linear_shapes(module.camera_token)[0] == (12, 64, True)
    pose = torch.eye(4, dtype=torch.float64)
    moved = pose.clone()
    moved[:3, 3] = torch.tensor([0.1, -0.2, 0.3])
    with torch.no_grad():
        _, w = module.attention(s, a, e, pose)
        assert w.shape == (s.shape[0], 2, 4)  # audio, expression, camera, null
        token = seq(module.camera_token, torch.cat([moved[:3, :3].reshape(9), moved[:3, 3]]))
        torch.testing.assert_close(module._tokens(a, e, moved)[2], token)
        assert not torch.allclose(module(s, a, e, camera=moved).d_xyz, module(s, a, e, camera=pose).d_xyz)
    with pytest.raises(ValueError, match="camera_token needs camera"):
        module(s, a, e)


def test_cross_attention_dropout_is_gaussiantalkers() -> None:
    """Dropout 0.2 by default, active in training (outputs vary) and off in eval (deterministic)."""
    config = registry("pgs.fusion").get("cross-attention").config_class
    assert config().dropout == 0.2
    module = build("cross-attention", FACE)
    s, a, e = inputs(FACE)
    with torch.no_grad():
        torch.testing.assert_close(module(s, a, e).d_xyz, module(s, a, e).d_xyz)
        module.train()
        assert not torch.allclose(module(s, a, e).d_xyz, module(s, a, e).d_xyz)
        module.eval()
        free = build("cross-attention", dict(FACE, dropout=0.0)).train()
        torch.testing.assert_close(free(s, a, e).d_xyz, free(s, a, e).d_xyz)


def test_branch_passes_the_camera_to_cross_attention() -> None:
    from pgs.core.cameras import Cameras, intrinsics
    from pgs.core.model.branch import Branch, BranchConfig

    torch.manual_seed(0)
    branch = Branch(
        BranchConfig(fusion={"name": "cross-attention", "params": {"camera_token": True}}), audio_channels=4
    ).eval()
    audio, aus = torch.randn(8, 2, 4), torch.rand(6)
    with pytest.raises(ValueError, match="reads the camera"):
        branch.deformation(audio, aus)
    view = torch.eye(4)
    view[2, 3] = 1.0
    cams = Cameras(view[None], intrinsics(20, 20, 8, 8)[None], 16, 16)
    d = branch.deformation(audio, aus, camera=view)
    gaussians, _ = branch.deformed_gaussians(audio, aus, view)
    torch.testing.assert_close(gaussians.means, branch.params["means"] + d.d_xyz)
    assert cams.viewmats.shape == (1, 4, 4)


def test_cross_attention_sizes_follow_gaussiantalker() -> None:
    module = build("cross-attention", FACE)
    assert module.ffn[0].out_features == 128 and module.ffn[-1].out_features == 64
    assert module.null_token.shape == (64,)
    with pytest.raises(pydantic.ValidationError, match="must divide"):
        registry("pgs.fusion").get("cross-attention").config_class(model_dim=64, heads=3)
