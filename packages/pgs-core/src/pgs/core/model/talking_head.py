"""`TalkingHead`: face branch + inside-mouth branch, rendered separately and composed (Eq. 10).

Eq. 10 (PGSTalker) ``C_head = C_face * A_face + C_mouth * (1 - A_face)`` with C the colours before
alpha weighting. Our renders are premultiplied (P = C * A), and both branches sit over the frame's
background B (GT torso over ``bc.jpg``, as the data supplies), so the composed frame is

    image = P_face + (1 - A_face) * (P_mouth + (1 - A_mouth) * B)

(DESIGN.md section 6; TalkingGaussian's ``train_fuse.py`` does the same with its renders).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from pydantic import Field, model_validator
from torch import Tensor, nn

from pgs.core.cameras import Cameras
from pgs.core.config import ComponentConfig
from pgs.core.errors import DataError
from pgs.core.interfaces import Rasterizer
from pgs.core.model.branch import Branch, BranchConfig, BranchRender
from pgs.core.rendering.result import RenderResult


def _default_mouth() -> BranchConfig:
    return BranchConfig.mouth()


class TalkingHeadConfig(ComponentConfig):
    """Settings of the two branches."""

    face: BranchConfig = Field(default_factory=BranchConfig, description="Face branch (position, scale, rotation).")
    mouth: BranchConfig = Field(
        default_factory=_default_mouth,
        description="Inside-mouth branch (position only); keys given here override the mouth defaults.",
    )

    @model_validator(mode="before")
    @classmethod
    def _mouth_defaults(cls, data: Any) -> Any:
        """A partial ``mouth`` mapping overrides the mouth's defaults, not the face's."""
        if isinstance(data, dict) and isinstance(data.get("mouth"), dict):
            defaults = _default_mouth().model_dump()
            data = {**data, "mouth": {**defaults, **data["mouth"]}}
        return data


@dataclass
class HeadRender:
    """One composed frame and its parts.

    Attributes:
        image: [C, H, W, 3] composed frame (Eq. 10 over the background).
        face: the face branch's render (its `RenderResult` feeds the face density strategy).
        mouth: the inside-mouth branch's render.
        background: [C, H, W, 3] the background used.
    """

    image: Tensor
    face: BranchRender
    mouth: BranchRender
    background: Tensor


def expand_background(background: Tensor | float | None, like: RenderResult) -> Tensor:
    """Broadcast a background to [C, H, W, 3] in the render's dtype and device.

    Args:
        background: None (black), a scalar, [3], [H, W, 3] or [C, H, W, 3].
        like: a render giving C, H, W.
    """
    c, h, w = like.color.shape[:3]
    ref = like.color
    if background is None:
        return ref.new_zeros(c, h, w, 3)
    bg = torch.as_tensor(background, dtype=ref.dtype, device=ref.device)
    if bg.dim() == 0:
        bg = bg.expand(3)
    if bg.dim() == 1:
        bg = bg.view(1, 1, 1, -1)
    elif bg.dim() == 3:
        bg = bg[None]
    if bg.dim() != 4 or bg.shape[-1] != 3 or bg.shape[1:3] not in ((1, 1), (h, w)) or bg.shape[0] not in (1, c):
        got = list(torch.as_tensor(background).shape)
        raise DataError(f"background must be [3], [{h}, {w}, 3] or [{c}, {h}, {w}, 3], got {got}")
    return bg.expand(c, h, w, 3)


def compose(face: RenderResult, mouth: RenderResult, background: Tensor | float | None = None) -> Tensor:
    """Eq. 10 with premultiplied renders: ``P_face + (1 - A_face) * (P_mouth + (1 - A_mouth) * B)``.

    Args:
        face: face-branch render.
        mouth: inside-mouth render (same cameras).
        background: see `expand_background`.

    Returns:
        [C, H, W, 3] composed images.
    """
    bg = expand_background(background, face)
    mouth_full = mouth.color + (1.0 - mouth.alpha) * bg
    return face.color + (1.0 - face.alpha) * mouth_full


def build_rasterizer(
    name: str = "auto", params: dict[str, Any] | None = None, device: torch.device | str | None = None
) -> Rasterizer:
    """A rasterizer backend by registry name (``"auto"``: the best one for `device`).

    Thin wrapper of `pgs.core.rendering.get_rasterizer`.

    Args:
        name: ``torch``, ``cpu``, ``gsplat``, another installed backend, or ``auto``.
        params: backend config values (``tile_size``, ``eps2d``, ``z_min``, ...).
        device: the device the renders run on (decides ``auto``).
    """
    from pgs.core.rendering import get_rasterizer

    return get_rasterizer(name, device, **(params or {}))


class TalkingHead(nn.Module):
    """Audio-driven Gaussian head: a face branch and an inside-mouth branch.

    Args:
        face: the face branch (takes AUs; deforms position, scale, rotation).
        mouth: the inside-mouth branch (no AUs; position only).
        rasterizer: a backend instance or a registry name (``"auto"``).
        audio_layout: feature layout the model is trained on (recorded; see `check_audio`).
    """

    def __init__(
        self, face: Branch, mouth: Branch, rasterizer: Rasterizer | str = "auto", audio_layout: str | None = None
    ) -> None:
        super().__init__()
        self.face = face
        self.mouth = mouth
        self.rasterizer = build_rasterizer(rasterizer) if isinstance(rasterizer, str) else rasterizer
        self.audio_layout = audio_layout

    @classmethod
    def from_config(
        cls,
        config: TalkingHeadConfig | None = None,
        audio_channels: int | None = None,
        rasterizer: Rasterizer | str = "auto",
        audio_layout: str | None = None,
        seed: int = 0,
    ) -> TalkingHead:
        """Build both branches (random initial Gaussians) and the rasterizer.

        Args:
            config: branch settings (default: TalkingGaussian's).
            audio_channels: channels of the audio features (e.g. ``dataset.audio.channels``).
            rasterizer: backend instance or registry name.
            audio_layout: layout name of the audio features (e.g. ``dataset.audio.layout``).
            seed: seed of the initial point clouds.
        """
        config = config or TalkingHeadConfig()
        gen = torch.Generator().manual_seed(seed)
        face = Branch(config.face, audio_channels, generator=gen)
        mouth = Branch(config.mouth, audio_channels, generator=gen)
        return cls(face, mouth, rasterizer, audio_layout)

    @property
    def config(self) -> TalkingHeadConfig:
        """The branches' settings (with the audio channel count filled in)."""
        return TalkingHeadConfig(face=self.face.config, mouth=self.mouth.config)

    def get_extra_state(self) -> dict[str, Any]:
        """Checkpointed alongside the weights: the config and the audio layout."""
        return {"config": self.config.model_dump_json(), "audio_layout": self.audio_layout or ""}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        """Restore the audio layout (the config is read by whoever rebuilds the model)."""
        self.audio_layout = state.get("audio_layout") or None

    def check_audio(self, layout: str) -> None:
        """Raise `DataError` if `layout` differs from the layout the model was built for."""
        if self.audio_layout and layout != self.audio_layout:
            raise DataError(
                f"audio features are {layout!r}, but the model was trained with {self.audio_layout!r}; "
                "extract features with the same encoder as training"
            )

    def cache_canonical(self) -> None:
        """Compute both branches' canonical spatial features now (inference; see `Branch`)."""
        self.face.cache_canonical()
        self.mouth.cache_canonical()

    def clear_cache(self) -> None:
        """Drop both branches' cached canonical features."""
        self.face.clear_cache()
        self.mouth.clear_cache()

    def forward(
        self,
        cameras: Cameras,
        audio: Tensor | None,
        aus: Tensor | None = None,
        background: Tensor | float | None = None,
        sh_degree: int | None = None,
    ) -> HeadRender:
        """Render both branches for one frame and compose them (Eq. 10).

        Args:
            cameras: C cameras (the same frame seen from each; usually C = 1).
            audio: [window, steps, channels] audio window; None renders the canonical Gaussians.
            aus: [6] face AU vector (required with `audio`).
            background: None (black), [3], [H, W, 3] or [C, H, W, 3].
            sh_degree: SH degree to evaluate (default: all stored).
        """
        face = self.face.render(self.rasterizer, cameras, audio, aus, sh_degree)
        mouth = self.mouth.render(self.rasterizer, cameras, audio, None, sh_degree)
        bg = expand_background(background, face.render)
        image = compose(face.render, mouth.render, bg)
        return HeadRender(image, face, mouth, bg)

    def render_frame(self, frame: Any, sh_degree: int | None = None, static: bool = False) -> HeadRender:
        """Render a dataset `Frame` (its camera, audio window, AUs and background).

        Args:
            frame: a `pgs.core.data.dataset.Frame`.
            sh_degree: SH degree to evaluate (default: all stored).
            static: render the canonical Gaussians of both branches (no deformation): the
                static-only baseline of a model after stage 1.
        """
        if static:
            return self(frame.camera, None, None, frame.background, sh_degree)
        return self(frame.camera, frame.audio, frame.aus, frame.background, sh_degree)


__all__ = ["HeadRender", "TalkingHead", "TalkingHeadConfig", "build_rasterizer", "compose", "expand_background"]
