"""check_fusion must fail on modules that break the contract (it is only useful if it can fail)."""

from __future__ import annotations

import os

import pytest
import torch
from torch import Tensor

from pgs.core.errors import ConfigError
from pgs.core.groups import FUSION
from pgs.core.interfaces import Deformation
from pgs.core.registry import ComponentSpec, registry
from pgs.core.testing import ContractError, check_fusion
from pgs.fusion.concat_mlp import ConcatMLPConfig, ConcatMLPFusion

from .conftest import FACE, MOUTH


def spec_of(cls: type) -> ComponentSpec:
    return ComponentSpec("broken", FUSION, ConcatMLPConfig, cls, "a deliberately broken fusion module")


class IgnoresAxisScale(ConcatMLPFusion):
    def forward(self, spatial, audio, expression=None) -> Deformation:
        out = super().forward(spatial, audio, expression)
        mult = self.head.position_multiplier
        return Deformation(out.d_xyz / mult * self.config.position_scale, out.d_scale, out.d_rot)


class LargeInit(ConcatMLPFusion):
    def __init__(self, config) -> None:
        super().__init__(config)
        torch.nn.init.normal_(self.head.layers[-1].weight, std=1.0)


class MixesPoints(ConcatMLPFusion):
    def forward(self, spatial, audio, expression=None) -> Deformation:
        out = super().forward(spatial, audio, expression)
        return Deformation(out.d_xyz.roll(1, 0), out.d_scale, out.d_rot)


class NoValidation(ConcatMLPFusion):
    def check_inputs(self, spatial: Tensor, audio: Tensor, expression: Tensor | None) -> None:
        return None


class DetachesAudio(ConcatMLPFusion):
    def forward(self, spatial, audio, expression=None) -> Deformation:
        return super().forward(spatial, audio.detach(), expression)


class Nondeterministic(ConcatMLPFusion):
    def __init__(self, config) -> None:
        super().__init__(config)
        seed = int.from_bytes(os.urandom(4), "little")
        with torch.no_grad():
            self.head.layers[0].weight.uniform_(-0.1, 0.1, generator=torch.Generator().manual_seed(seed))


class BroadcastsDifferently(ConcatMLPFusion):
    def forward(self, spatial, audio, expression=None) -> Deformation:
        return super().forward(spatial, audio * 2 if audio.dim() == 1 else audio, expression)


class AlwaysAllOutputs(ConcatMLPFusion):
    def forward(self, spatial, audio, expression=None) -> Deformation:
        out = super().forward(spatial, audio, expression)
        zeros = torch.zeros(spatial.shape[0], 3)
        return Deformation(out.d_xyz, out.d_scale if out.d_scale is not None else zeros, out.d_rot)


@pytest.mark.parametrize(
    ("cls", "message"),
    [
        (IgnoresAxisScale, "position_axis_scale"),
        (LargeInit, "initial max"),
        (MixesPoints, "permutation equivariance"),
        (NoValidation, "does not name|raised RuntimeError|no error raised"),
        (DetachesAudio, "gradient reaches audio"),
        (Nondeterministic, "determinism"),
        (BroadcastsDifferently, "equal rows"),
        (AlwaysAllOutputs, "d_scale must be None"),
    ],
)
def test_check_fusion_catches_a_broken_module(cls: type, message: str) -> None:
    with pytest.raises(ContractError, match=message):
        check_fusion(spec_of(cls))


def test_check_fusion_rejects_a_spec_of_another_group() -> None:
    spec = ComponentSpec("x", "pgs.density", ConcatMLPConfig, ConcatMLPFusion, "wrong group")
    with pytest.raises(ContractError, match=r"expected 'pgs\.fusion'"):
        check_fusion(spec)


@pytest.mark.parametrize("name", ["mgf", "concat-mlp", "cross-attention"])
def test_the_model_params_build_every_module(name: str) -> None:
    """The model builds fusions from exactly these dicts (see the pgs-fusion README)."""
    fusions = registry("pgs.fusion")
    face = fusions.create(name, FACE)
    mouth = fusions.create(name, MOUTH)
    s = torch.randn(10, 36)
    out_face = face(s, torch.randn(32), torch.randn(6))
    out_mouth = mouth(s, torch.randn(32))
    assert out_face.d_scale.shape == (10, 3) and out_face.d_rot.shape == (10, 4)
    assert out_mouth.d_scale is None and out_mouth.d_rot is None
    with pytest.raises(ConfigError, match="unknown_field"):
        fusions.create(name, dict(FACE, unknown_field=1))
    with pytest.raises(ConfigError, match="outputs"):
        fusions.create(name, dict(FACE, outputs=["scale"]))


def test_error_messages_name_the_argument() -> None:
    module = registry("pgs.fusion").create("mgf", MOUTH)
    with pytest.raises(ValueError, match=r"expression must be None.*expression_dim=0"):
        module(torch.randn(4, 36), torch.randn(32), torch.randn(6))
    with pytest.raises(ValueError, match=r"audio must be \[32\] \(one per frame\) or \[N=4, 32\], got \[5, 32\]"):
        module(torch.randn(4, 36), torch.randn(5, 32))
    face = registry("pgs.fusion").create("mgf", FACE)
    with pytest.raises(ValueError, match=r"expression \[6\] is required"):
        face(torch.randn(4, 36), torch.randn(32))
