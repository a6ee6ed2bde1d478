"""One branch of the talking head: Gaussians + tri-plane encoder + audio net (+ AU net) + fusion plugin.

The branch owns its Gaussians as an `nn.ParameterDict` (`Branch.params`, keys
`pgs.core.gaussians.PARAM_NAMES`): density strategies replace entries of that mapping (and of
the per-parameter optimizers) when they densify or prune. The deformation networks are every
other parameter (`Branch.network_parameters`).

Per frame: ``f_s = H(mu)`` (tri-plane features of the canonical centres), ``f_a = AudioNet(window)``,
``f_e = ExpressionNet(AUs)`` (face only), ``deformation = fusion(f_s, f_a, f_e)``, and the rendered
Gaussians are the canonical ones deformed in pre-activation space (`GaussianParams.deformed`).
Only the targets in ``BranchConfig.deform`` are applied: the inside-mouth branch moves points and
never changes scale, rotation, colour or opacity.

Canonical-feature cache: f_s does not depend on audio. In eval mode (``branch.eval()``) it is
computed once without gradients and reused while the Gaussians and the encoder are unchanged
(the cache key holds the identity and in-place version counters of `params['means']` and of the
encoder's planes, so an optimizer step, a density change or `set_gaussians` invalidates it; fused
optimizers do not bump those counters, so the trainer's register a hook that does,
`pgs.core.training.optimizers`).
`cache_canonical()` fills it eagerly, `clear_cache()` drops it. Training mode uses it only when
gradients are off (stage 3 computes the frozen deformations under ``torch.no_grad``): the cached
features are exactly what the encoder would return, and a step that needs their gradient
recomputes them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import torch
from pydantic import Field, model_validator
from torch import Tensor, nn

from pgs.core.cameras import Cameras
from pgs.core.config import ComponentConfig
from pgs.core.errors import ConfigError
from pgs.core.gaussians import PARAM_NAMES, GaussianParams
from pgs.core.interfaces import Deformation, DeformationTarget, FusionModule, Rasterizer
from pgs.core.model.audio_net import AudioNet, AudioNetConfig
from pgs.core.model.expression import ExpressionConfig, ExpressionNet
from pgs.core.model.init import random_gaussians
from pgs.core.model.triplane import MOUTH_TRIPLANE, TriPlaneConfig, TriPlaneEncoder
from pgs.core.rendering.result import RenderResult
from pgs.core.run_config import FusionChoice

BranchKind = Literal["face", "mouth"]

#: FusionConfig fields that the branch sets from its own structure (a user value must agree).
_STRUCTURAL_FUSION_FIELDS = ("spatial_dim", "audio_dim", "expression_dim", "outputs")


class BranchConfig(ComponentConfig):
    """Settings of one branch. Defaults are the face branch; see `BranchConfig.mouth`."""

    kind: BranchKind = Field("face", description="face (AUs, position+scale+rotation) or mouth (position only).")
    num_points: int = Field(2000, gt=0, description="Initial Gaussians (TalkingGaussian: face 2000, mouth 10000).")
    init_extent: float = Field(0.1, gt=0, description="Initial points are uniform in [-init_extent, init_extent]^3.")
    init_opacity: float = Field(0.1, gt=0, lt=1, description="Initial opacity.")
    sh_degree: int = Field(2, ge=0, le=3, description="Stored SH degree (TalkingGaussian: 2).")
    triplane: TriPlaneConfig = Field(default_factory=TriPlaneConfig, description="Spatial encoder.")
    audio_net: AudioNetConfig = Field(default_factory=AudioNetConfig, description="Audio feature network.")
    expression: ExpressionConfig | None = Field(
        default_factory=ExpressionConfig, description="AU expression network (None: the branch takes no AUs)."
    )
    fusion: FusionChoice = Field(default_factory=FusionChoice, description="Fusion module by registry name.")
    deform: tuple[DeformationTarget, ...] = Field(
        ("position", "scale", "rotation"), min_length=1, description="Deformations applied to the Gaussians."
    )
    position_scale: float = Field(1e-2, gt=0, description="Fusion output multiplier of d_xyz (TalkingGaussian 1e-2).")
    position_axis_scale: tuple[float, float, float] = Field(
        (1.0, 1.0, 1.0), description="Per-axis multipliers of d_xyz (TalkingGaussian mouth: (0.2, 1, 0.2))."
    )

    @model_validator(mode="after")
    def _check_kind(self) -> BranchConfig:
        if "position" not in self.deform:
            raise ValueError("deform must include 'position'")
        if self.kind == "mouth" and set(self.deform) != {"position"}:
            raise ValueError("the mouth branch deforms position only (deform=('position',))")
        if self.kind == "mouth" and self.expression is not None:
            raise ValueError("the mouth branch takes no AUs: set expression to null")
        return self

    @classmethod
    def mouth(cls, **overrides: Any) -> BranchConfig:
        """TalkingGaussian's inside-mouth defaults (10k points, levels 64 -> 58, d_xyz x/z / 5)."""
        values: dict[str, Any] = {
            "kind": "mouth",
            "num_points": 10000,
            "triplane": MOUTH_TRIPLANE,
            "expression": None,
            "deform": ("position",),
            "position_axis_scale": (0.2, 1.0, 0.2),
        }
        values.update(overrides)
        return cls(**values)


@dataclass
class BranchRender:
    """What one branch rendered.

    Attributes:
        render: the rasterizer's `RenderResult` (premultiplied colour, alpha, means2d, ...).
        gaussians: the Gaussians that were rendered (deformed; gradients reach `Branch.params`).
        deformation: the applied deformation, or None for a canonical (static) render.
    """

    render: RenderResult
    gaussians: GaussianParams
    deformation: Deformation | None


def _fusion_params(config: BranchConfig, spatial_dim: int, audio_dim: int, expression_dim: int) -> dict[str, Any]:
    """The fusion plugin's params: the user's, plus the fields fixed by the branch structure."""
    params = dict(config.fusion.params)
    fixed: dict[str, Any] = {
        "spatial_dim": spatial_dim,
        "audio_dim": audio_dim,
        "expression_dim": expression_dim,
        "outputs": tuple(config.deform),
    }
    problems = []
    for key, value in fixed.items():
        if key in params and (tuple(params[key]) if key == "outputs" else params[key]) != value:
            problems.append(
                f"fusion.params.{key}: {params[key]!r} disagrees with the {config.kind} branch ({value!r}); "
                "leave it out, the branch sets it"
            )
        params[key] = value
    if problems:
        raise ConfigError(problems)
    params.setdefault("position_scale", config.position_scale)
    params.setdefault("position_axis_scale", tuple(config.position_axis_scale))
    return params


def build_fusion(config: BranchConfig, spatial_dim: int, audio_dim: int, expression_dim: int) -> FusionModule:
    """Create the branch's fusion module through the ``pgs.fusion`` registry."""
    from pgs.core.groups import FUSION
    from pgs.core.registry import registry

    params = _fusion_params(config, spatial_dim, audio_dim, expression_dim)
    module = registry(FUSION).create(config.fusion.name, params)
    if not isinstance(module, nn.Module):
        raise ConfigError(f"fusion {config.fusion.name!r} built a {type(module).__name__}, not an nn.Module")
    return module


class Branch(nn.Module):
    """A deformable Gaussian branch (face or inside mouth).

    Args:
        config: branch settings.
        audio_channels: channels of the audio encoder's features (overrides
            ``config.audio_net.in_channels`` when given).
        gaussians: initial Gaussians (default: `random_gaussians` from the config).
        generator: random generator for the default initialisation.

    Attributes:
        params: `nn.ParameterDict` of the Gaussians (`PARAM_NAMES`).
        encoder: `TriPlaneEncoder`.
        audio_net: `AudioNet`.
        expression_net: `ExpressionNet` or None (mouth).
        fusion: the fusion plugin (`FusionModule`).
    """

    def __init__(
        self,
        config: BranchConfig,
        audio_channels: int | None = None,
        gaussians: GaussianParams | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if audio_channels is not None:
            config = config.model_copy(
                update={"audio_net": config.audio_net.model_copy(update={"in_channels": int(audio_channels)})}
            )
        if config.audio_net.in_channels is None:
            raise ConfigError(f"{config.kind} branch: audio_net.in_channels is not set (pass audio_channels)")
        self.config = config
        self.encoder = TriPlaneEncoder(config.triplane)
        self.audio_net = AudioNet(config.audio_net)
        self.expression_net = ExpressionNet(config.expression) if config.expression is not None else None
        expression_dim = self.expression_net.output_dim if self.expression_net is not None else 0
        self.fusion = build_fusion(config, self.encoder.output_dim, self.audio_net.output_dim, expression_dim)
        if gaussians is None:
            gaussians = random_gaussians(
                config.num_points, config.init_extent, config.sh_degree, config.init_opacity, generator
            )
        self.params = nn.ParameterDict()
        self.set_gaussians(gaussians)
        self._cache: tuple[tuple[Any, ...], Tensor] | None = None
        self._register_load_state_dict_pre_hook(self._resize_for_state_dict)

    # ------------------------------------------------------------------ Gaussians
    @property
    def num_gaussians(self) -> int:
        """Current number of Gaussians N."""
        return int(self.params["means"].shape[0])

    def gaussians(self) -> GaussianParams:
        """The canonical Gaussians (live parameters; gradients reach `params`)."""
        return GaussianParams(**{name: self.params[name] for name in PARAM_NAMES})

    def set_gaussians(self, gaussians: GaussianParams) -> None:
        """Replace the Gaussians by new parameters holding copies of `gaussians` (any N).

        Optimizers holding the old parameters must be rebuilt.
        """
        device = next((p.device for n, p in self.named_parameters() if not n.startswith("params.")), None)
        for name, value in gaussians.as_dict().items():
            value = value.detach().clone()
            if device is not None:
                value = value.to(device)
            self.params[name] = nn.Parameter(value)
        self.clear_cache()

    def network_parameters(self) -> Iterator[nn.Parameter]:
        """Parameters of the deformation networks (encoder, audio net, AU net, fusion)."""
        for name, param in self.named_parameters():
            if not name.startswith("params."):
                yield param

    def _resize_for_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any) -> None:
        """Before loading, give the Gaussian parameters the checkpoint's N (density changes N)."""
        for name in PARAM_NAMES:
            key = f"{prefix}params.{name}"
            if key in state_dict and state_dict[key].shape != self.params[name].shape:
                self.params[name] = nn.Parameter(torch.empty_like(state_dict[key], device=self.params[name].device))
        self.clear_cache()

    # ------------------------------------------------------------------ features
    def _cache_key(self) -> tuple[Any, ...]:
        means = self.params["means"]
        planes = self.encoder.planes
        return (id(means), means._version, tuple(means.shape), id(planes), planes._version, means.device, means.dtype)

    def clear_cache(self) -> None:
        """Drop the cached canonical features."""
        self._cache = None

    def cache_canonical(self) -> Tensor:
        """Compute and cache the canonical spatial features now (used in eval mode).

        Returns:
            [N, spatial_dim] detached features.
        """
        with torch.no_grad():
            features = self.encoder(self.params["means"])
        self._cache = (self._cache_key(), features)
        return features

    def spatial_features(self) -> Tensor:
        """Tri-plane features f_s of the canonical centres.

        Returns:
            [N, spatial_dim]; in eval mode, or without gradients (the trainer's stage 3, where the
            centres and planes are frozen), the cached, detached features (see the module docstring).
        """
        if self.training and torch.is_grad_enabled():
            return self.encoder(self.params["means"])
        if self._cache is None or self._cache[0] != self._cache_key():
            return self.cache_canonical()
        return self._cache[1]

    def audio_feature(self, audio: Tensor) -> Tensor:
        """f_a [dim] from an audio window [window, steps, channels]."""
        return self.audio_net(audio)

    def expression_feature(self, aus: Tensor | None) -> Tensor | None:
        """f_e [6] from the face AU vector [6] (None for the mouth branch).

        Raises:
            ValueError: AUs missing for the face branch.
        """
        if self.expression_net is None:
            return None
        if aus is None:
            dim = self.expression_net.output_dim
            raise ValueError(f"{self.config.kind} branch: AUs are required (a [{dim}] vector)")
        return self.expression_net(aus.to(self.params["means"].dtype))

    # ------------------------------------------------------------------ deformation and rendering
    @property
    def uses_camera(self) -> bool:
        """Whether the fusion module reads the camera (GaussianTalker's camera token)."""
        return bool(getattr(self.fusion, "uses_camera", False))

    def deformation(self, audio: Tensor, aus: Tensor | None = None, camera: Tensor | None = None) -> Deformation:
        """Predict this frame's deformation.

        Args:
            audio: [window, steps, channels] audio window of the frame.
            aus: [6] face AU vector (face branch; ignored by the mouth branch).
            camera: [4, 4] world-to-camera matrix of the frame, passed to fusion modules that read
                it (`uses_camera`); ignored by the others.

        Returns:
            `Deformation` holding only the targets of ``config.deform`` (others None).

        Raises:
            ValueError: the fusion module reads the camera and `camera` is None.
        """
        spatial = self.spatial_features()
        f_a = self.audio_feature(audio)
        f_e = self.expression_feature(aus)
        if self.uses_camera:
            if camera is None:
                raise ValueError(f"{self.config.kind} branch: the fusion module reads the camera; pass camera=viewmat")
            raw = self.fusion(spatial, f_a, f_e, camera=camera.to(spatial.dtype))
        else:
            raw = self.fusion(spatial, f_a, f_e)
        deform = self.config.deform
        return Deformation(
            d_xyz=raw.d_xyz,
            d_scale=raw.d_scale if "scale" in deform else None,
            d_rot=raw.d_rot if "rotation" in deform else None,
        )

    def deformed_gaussians(
        self, audio: Tensor | None = None, aus: Tensor | None = None, camera: Tensor | None = None
    ) -> tuple[GaussianParams, Deformation | None]:
        """The Gaussians to render for a frame (canonical when `audio` is None; `camera` as in `deformation`)."""
        canonical = self.gaussians()
        if audio is None:
            return canonical, None
        d = self.deformation(audio, aus, camera)
        return canonical.deformed(d.d_xyz, d.d_scale, d.d_rot), d

    def render(
        self,
        rasterizer: Rasterizer,
        cameras: Cameras,
        audio: Tensor | None = None,
        aus: Tensor | None = None,
        sh_degree: int | None = None,
        with_pixel_counts: bool | None = None,
    ) -> BranchRender:
        """Render the branch alone (premultiplied, no background).

        Args:
            rasterizer: backend (`pgs.core.model.build_rasterizer`).
            cameras: C cameras of one image size.
            audio: [window, steps, channels] audio window; None renders the canonical Gaussians
                (the static initialisation stage).
            aus: [6] face AU vector (face branch, when `audio` is given).
            sh_degree: SH degree to evaluate (default: all stored).
            with_pixel_counts: passed to `Rasterizer.render` (None: counts on the training path only).
        """
        camera = None
        if self.uses_camera:
            if cameras.viewmats.shape[0] != 1:
                raise ValueError("the fusion module reads the camera: render one camera at a time")
            camera = cameras.viewmats[0]
        gaussians, d = self.deformed_gaussians(audio, aus, camera)
        render = rasterizer.render(gaussians, cameras, sh_degree=sh_degree, with_pixel_counts=with_pixel_counts)
        return BranchRender(render, gaussians, d)


__all__ = ["Branch", "BranchConfig", "BranchKind", "BranchRender", "build_fusion"]
