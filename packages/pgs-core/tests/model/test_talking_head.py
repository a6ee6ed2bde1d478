"""TalkingHead: Eq. 10 composition, branch deformation rules, cache, config, checkpoints."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from pgs.core.cameras import cameras_from_transforms
from pgs.core.errors import ConfigError
from pgs.core.gaussians import PARAM_NAMES
from pgs.core.model import Branch, BranchConfig, TalkingHead, TalkingHeadConfig, compose
from pgs.core.run_config import FusionChoice

from .conftest import TEST_FUSION

CHANNELS, STEPS, SIZE = 16, 4, 48


def small_config(fusion: str = TEST_FUSION) -> TalkingHeadConfig:
    choice = FusionChoice(name=fusion)
    return TalkingHeadConfig(
        face=BranchConfig(num_points=300, init_extent=0.05, fusion=choice),
        mouth=BranchConfig.mouth(num_points=200, init_extent=0.03, fusion=choice),
    )


def camera(yaw: float = 0.0):
    c2w = torch.eye(4, dtype=torch.float64)
    c, s = torch.cos(torch.tensor(yaw)), torch.sin(torch.tensor(yaw))
    c2w[:3, :3] = torch.tensor([[c, 0, s], [0, 1, 0], [-s, 0, c]], dtype=torch.float64)
    c2w[:3, 3] = c2w[:3, :3] @ torch.tensor([0.0, 0.0, 0.7], dtype=torch.float64)
    return cameras_from_transforms(c2w[None], 2.4 * SIZE, SIZE / 2, SIZE / 2, SIZE, SIZE)


@pytest.fixture()
def head(rasterizer):
    torch.manual_seed(0)
    model = TalkingHead.from_config(small_config(), audio_channels=CHANNELS, rasterizer=rasterizer, seed=1)
    with torch.no_grad():  # visible, coloured, opaque-ish Gaussians
        for branch, shift in ((model.face, 0.0), (model.mouth, 0.02)):
            branch.params["opacity_logits"].fill_(1.0)
            branch.params["sh"][:, 0].uniform_(-1.0, 1.0)
            branch.params["log_scales"].fill_(-5.0)
            branch.params["means"][:, 2] -= shift
    return model


def window(seed: int) -> torch.Tensor:
    return torch.randn(8, STEPS, CHANNELS, generator=torch.Generator().manual_seed(seed))


def test_composed_image_is_eq10_over_the_background(head, rasterizer):
    cam = camera(0.05)
    audio, aus = window(0), torch.tensor([0.4, 0.1, 0.0, 1.2, 0.3, 0.8])
    background = torch.rand(SIZE, SIZE, 3, generator=torch.Generator().manual_seed(5))
    out = head(cam, audio, aus, background)
    # Render the branches separately, outside the model, with the same deformations.
    face_g, _ = head.face.deformed_gaussians(audio, aus)
    mouth_g, _ = head.mouth.deformed_gaussians(audio)
    rf = rasterizer.render(face_g, cam)
    rm = rasterizer.render(mouth_g, cam)
    expected = rf.color + (1 - rf.alpha) * (rm.color + (1 - rm.alpha) * background)
    torch.testing.assert_close(out.image, expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(compose(rf, rm, background), expected)
    # Both branches contribute: the image differs from either branch over the background alone.
    assert (out.image - rf.over(background)).abs().max() > 1e-3
    assert rf.alpha.max() > 0.5 and rm.alpha.max() > 0.1
    # In the un-premultiplied form over a black background: C_face A_face + C_mouth A_mouth (1 - A_face).
    black = head(cam, audio, aus, None).image
    torch.testing.assert_close(black, rf.color + (1 - rf.alpha) * rm.color, rtol=1e-5, atol=1e-6)


def test_mouth_branch_only_moves_points(head):
    canonical = head.mouth.gaussians()
    moved, d = head.mouth.deformed_gaussians(window(1))
    assert d.d_scale is None and d.d_rot is None
    assert (moved.means - canonical.means).abs().max() > 0
    for name in ("quats", "log_scales", "opacity_logits", "sh"):
        assert torch.equal(getattr(moved, name), getattr(canonical, name)), name
    # TalkingGaussian's axis scaling: x and z offsets are a fifth of the raw output's.
    face_moved, fd = head.face.deformed_gaussians(window(1), torch.zeros(6))
    assert fd.d_scale is not None and fd.d_rot is not None
    assert not torch.equal(face_moved.log_scales, head.face.gaussians().log_scales)


def test_audio_drives_mouth_and_aus_drive_only_the_face(head):
    aus = torch.tensor([0.4, 0.1, 0.0, 1.2, 0.3, 0.0])
    m1 = head.mouth.deformation(window(0))
    m2 = head.mouth.deformation(window(1))
    assert (m1.d_xyz - m2.d_xyz).abs().max() > 1e-6
    # Changing the AUs changes the face deformation and leaves the mouth untouched.
    out1 = head(camera(), window(0), aus)
    out2 = head(camera(), window(0), aus + torch.tensor([1.0, 0.5, 0.5, 0.0, 0.0, 2.0]))
    assert (out1.face.deformation.d_xyz - out2.face.deformation.d_xyz).abs().max() > 1e-6
    assert (out1.face.deformation.d_scale - out2.face.deformation.d_scale).abs().max() > 1e-6
    assert torch.equal(out1.mouth.deformation.d_xyz, out2.mouth.deformation.d_xyz)
    assert torch.equal(out1.mouth.render.color, out2.mouth.render.color)


def test_gradients_reach_every_network_and_gaussian(head):
    out = head(camera(), window(0), torch.rand(6))
    out.image.sum().backward()
    for branch in (head.face, head.mouth):
        assert branch.params["means"].grad is not None and branch.params["means"].grad.abs().sum() > 0
        assert branch.encoder.planes.grad is not None and branch.encoder.planes.grad.abs().sum() > 0
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in branch.audio_net.parameters())
    assert head.face.expression_net.mlp[0].weight.grad is not None


def test_static_render_without_audio(head):
    out = head(camera(), None)
    assert out.face.deformation is None and out.mouth.deformation is None
    assert torch.equal(out.face.gaussians.means, head.face.params["means"])


def test_canonical_cache(head):
    branch = head.face
    train_features = branch.spatial_features()
    assert train_features.requires_grad
    head.eval()
    cached = branch.spatial_features()
    torch.testing.assert_close(cached, train_features.detach())
    assert branch.spatial_features() is cached  # reused
    with torch.no_grad():  # an optimizer step modifies the means in place: the cache is invalid
        branch.params["means"].add_(0.01)
    fresh = branch.spatial_features()
    assert fresh is not cached
    torch.testing.assert_close(fresh, branch.encoder(branch.params["means"]).detach())
    head.train()
    assert branch.spatial_features().requires_grad


def test_fusion_structure_fields_are_set_by_the_branch():
    bad = BranchConfig(num_points=10, fusion=FusionChoice(name=TEST_FUSION, params={"spatial_dim": 12}))
    with pytest.raises(ConfigError, match="spatial_dim"):
        Branch(bad, audio_channels=CHANNELS)
    ok = BranchConfig(num_points=10, fusion=FusionChoice(name=TEST_FUSION, params={"hidden_dim": 8}))
    branch = Branch(ok, audio_channels=CHANNELS)
    assert branch.fusion.config.spatial_dim == 36 and branch.fusion.config.expression_dim == 6
    mouth = Branch(BranchConfig.mouth(num_points=10, fusion=ok.fusion), audio_channels=CHANNELS)
    assert mouth.fusion.config.outputs == ("position",) and mouth.fusion.config.position_axis_scale == (0.2, 1, 0.2)
    with pytest.raises(ValidationError, match="position only"):
        BranchConfig.mouth(deform=("position", "scale"))
    with pytest.raises(ConfigError, match="in_channels"):
        Branch(ok)


def test_state_dict_round_trip_with_a_different_point_count(head, rasterizer):
    state = head.state_dict()
    other = TalkingHead.from_config(
        TalkingHeadConfig(
            face=head.face.config.model_copy(update={"num_points": 50}),
            mouth=head.mouth.config.model_copy(update={"num_points": 40}),
        ),
        audio_channels=CHANNELS,
        rasterizer=rasterizer,
        seed=7,
    )
    assert other.face.num_gaussians == 50
    other.load_state_dict(state)
    assert other.face.num_gaussians == head.face.num_gaussians
    for name in PARAM_NAMES:
        assert torch.equal(other.face.params[name], head.face.params[name])
    a = head(camera(), window(2), torch.rand(6, generator=torch.Generator().manual_seed(0)))
    b = other(camera(), window(2), torch.rand(6, generator=torch.Generator().manual_seed(0)))
    torch.testing.assert_close(a.image, b.image)


def test_default_config_builds_with_installed_fusion(rasterizer):
    from pgs.core.registry import registry

    if "mgf" not in registry("pgs.fusion").names():
        pytest.skip("pgs-fusion is not installed")
    model = TalkingHead.from_config(audio_channels=29, rasterizer=rasterizer, audio_layout="deepspeech")
    assert model.face.num_gaussians == 2000 and model.mouth.num_gaussians == 10000
    assert model.mouth.encoder.resolutions[0] == 64
    model.eval()
    with torch.no_grad():
        d = model.mouth.deformation(torch.randn(8, 16, 29))
    assert d.d_xyz.shape == (10000, 3)
    with pytest.raises(Exception, match="trained with 'deepspeech'"):
        model.check_audio("hubert")
