"""Interfaces of the swappable components, and the small typed values they exchange.

Each plugin group has one abstract base class here:

- `AudioEncoder` (``pgs.audio_encoders``): waveform -> per-video-frame `AudioFeatures`;
- `FusionModule` (``pgs.fusion``): spatial + audio (+ expression) features -> `Deformation`;
- `DensityStrategy` (``pgs.density``): densify/prune around the backward pass;
- `Evaluator` (``pgs.evaluators``): frames (+ landmarks, audio) -> `MetricValue` list;
- `Rasterizer` (``pgs.rasterizers``): `GaussianParams` + `Cameras` -> `RenderResult`.

pgs-core imports no other ``pgs.*`` package: implementations come through the registry.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

import torch
from pydantic import Field, field_validator
from torch import Tensor, nn

from pgs.core.cameras import Cameras
from pgs.core.config import ComponentConfig
from pgs.core.errors import DataError
from pgs.core.gaussians import GaussianParams
from pgs.core.rendering.result import RenderResult

# ====================================================================================== audio

#: Number of video frames in the audio window every model reads: frames i-4 .. i+3.
AUDIO_WINDOW = 8


@dataclass(frozen=True)
class AudioFeatures:
    """Audio features aligned to video frames.

    Attributes:
        features: [F, steps, channels] one block of `steps` feature vectors per video frame.
        fps: video frame rate the features are aligned to.
        encoder: registry name of the encoder that produced them (e.g. ``"mel"``, ``"npy"``).
        layout: feature layout name (e.g. ``"mel80"``, ``"deepspeech"``, ``"hubert"``); a model
            trained on one layout refuses another.
        source: where the audio came from (a file path or ``"<array>"``).
    """

    features: Tensor
    fps: float
    encoder: str
    layout: str
    source: str = "<array>"

    def __post_init__(self) -> None:
        if self.features.dim() != 3:
            raise DataError(
                f"{self.source}: audio features must be [frames, steps, channels], got {list(self.features.shape)}"
            )
        if not self.fps > 0:
            raise DataError(f"{self.source}: fps must be positive, got {self.fps}")

    @property
    def num_frames(self) -> int:
        """Number of video frames F."""
        return int(self.features.shape[0])

    @property
    def steps(self) -> int:
        """Feature steps per video frame."""
        return int(self.features.shape[1])

    @property
    def channels(self) -> int:
        """Feature channels."""
        return int(self.features.shape[2])

    def __len__(self) -> int:
        return self.num_frames

    def window(self, index: int, size: int = AUDIO_WINDOW) -> Tensor:
        """Features of frames ``index - size//2 .. index + size//2 - 1``, zero-padded at both ends.

        Returns:
            [size, steps, channels].
        """
        return self.windows(torch.tensor([index]), size)[0]

    def windows(self, indices: Tensor, size: int = AUDIO_WINDOW) -> Tensor:
        """Batched `window`: [B] frame indices -> [B, size, steps, channels].

        Frames before 0 or past the last read as zeros (TalkingGaussian's ``get_audio_features``).
        Only the B windows are gathered (no padded copy of all features).
        """
        if indices.dim() != 1 or indices.is_floating_point() or indices.dtype == torch.bool:
            raise DataError(
                f"{self.source}: frame indices must be a 1-D integer tensor, got {indices.dtype} {list(indices.shape)}"
            )
        if indices.numel() and (int(indices.min()) < 0 or int(indices.max()) >= self.num_frames):
            raise DataError(
                f"{self.source}: frame index out of range 0..{self.num_frames - 1}: {indices.tolist()}"
            )
        offsets = torch.arange(size, device=self.features.device) - size // 2
        frames = indices.to(self.features.device, torch.int64)[:, None] + offsets[None, :]  # [B, size]
        inside = (frames >= 0) & (frames < self.num_frames)
        # index_select rather than advanced indexing: the latter is ~100x slower with several
        # intra-op threads on a busy CPU (measured 36 ms vs 0.2 ms per window).
        flat = self.features.index_select(0, frames.clamp(0, self.num_frames - 1).reshape(-1))
        out = flat.view(*frames.shape, *self.features.shape[1:])
        return out * inside[:, :, None, None].to(out.dtype)

    def check_matches(self, layout: str, channels: int, steps: int | None = None) -> None:
        """Raise `DataError` if these features differ from what a model was trained with."""
        if self.layout != layout or self.channels != channels or (steps is not None and self.steps != steps):
            want = f"{layout} [*, {steps if steps is not None else '*'}, {channels}]"
            raise DataError(
                f"{self.source}: audio features are {self.layout} [*, {self.steps}, {self.channels}] "
                f"from encoder {self.encoder!r}, but the model was trained with {want}; "
                "extract features with the same encoder as training"
            )


class AudioEncoderConfig(ComponentConfig):
    """Base config of audio encoders."""

    fps: float = Field(25.0, gt=0, description="Video frame rate the features are aligned to.")


class AudioEncoder(ABC):
    """Turns a waveform into per-video-frame features.

    Attributes:
        name: registry name.
        layout: name of the produced feature layout.
        sample_rate: sample rate the encoder works at (input is resampled to it).
        steps: feature steps per video frame.
        channels: feature channels.
    """

    name: str
    layout: str
    sample_rate: int
    steps: int
    channels: int

    @abstractmethod
    def encode(self, waveform: Tensor, sample_rate: int, source: str = "<array>") -> AudioFeatures:
        """Encode mono audio.

        Args:
            waveform: [S] mono float samples in [-1, 1].
            sample_rate: rate of `waveform` in Hz.
            source: provenance recorded in the result.
        """

    @abstractmethod
    def encode_file(self, path: str | Path) -> AudioFeatures:
        """Load an audio (or video) file and encode its audio track."""


class WaveformEncoder(AudioEncoder):
    """Template of the encoders that compute features from the waveform itself.

    `encode` validates the input, counts frames (``round(duration * fps)``, from the duration at
    the input rate), resamples to `sample_rate`, calls the subclass's `_features` and wraps the
    result; `encode_file` decodes any audio or video file (`pgs.core.io.audio`) and calls `encode`.
    Subclasses set `name`, `layout`, `sample_rate`, `steps`, `channels`, keep their config (with
    `fps`) as `config`, and implement `_features` only.
    """

    config: AudioEncoderConfig

    @property
    def fps(self) -> float:
        """Video frame rate the features are aligned to."""
        return float(self.config.fps)

    def encode(self, waveform: Tensor, sample_rate: int, source: str = "<array>") -> AudioFeatures:
        """Encode [S] mono audio at `sample_rate` into [F, steps, channels] features.

        Raises:
            DataError: empty, non-finite or too-short audio (shorter than one video frame).
            TypeError, ValueError: a bad `sample_rate`.
        """
        from pgs.core.io.audio import check_duration, check_sample_rate, check_waveform, resample

        rate = check_sample_rate(sample_rate)
        wave = check_waveform(waveform, rate, source)
        num_frames = check_duration(wave.shape[0], rate, self.fps, source)
        wave = resample(wave, rate, self.sample_rate)
        return AudioFeatures(self._features(wave, num_frames), self.fps, self.name, self.layout, source)

    def encode_file(self, path: str | Path) -> AudioFeatures:
        """Load an audio or video file's audio track (mono) and encode it."""
        from pgs.core.io.audio import load_audio

        wave, rate = load_audio(path)
        return self.encode(wave, rate, str(path))

    @abstractmethod
    def _features(self, waveform: Tensor, num_frames: int) -> Tensor:
        """[S] float32 audio at `sample_rate` -> [num_frames, steps, channels] float32."""


class StreamingAudioEncoder(ABC):
    """Incremental encoder for real-time driving: audio chunks in, completed frames out."""

    @abstractmethod
    def push(self, chunk: Tensor) -> Tensor:
        """Add [S] mono samples; return [k, steps, channels] features for frames completed now."""

    @abstractmethod
    def flush(self) -> Tensor:
        """End of stream: return the remaining frames' features [k, steps, channels]."""


# ====================================================================================== fusion

DeformationTarget = Literal["position", "scale", "rotation"]


@dataclass
class Deformation:
    """Per-Gaussian deformation predicted by a fusion module (pre-activation offsets).

    Attributes:
        d_xyz: [N, 3] position offsets.
        d_scale: [N, 3] log-scale offsets, or None when the branch does not deform scales.
        d_rot: [N, 4] raw quaternion offsets, or None when the branch does not deform rotations.
    """

    d_xyz: Tensor
    d_scale: Tensor | None = None
    d_rot: Tensor | None = None


class FusionConfig(ComponentConfig):
    """Shared hyperparameters of fusion modules (plugins add their own fields)."""

    spatial_dim: int = Field(36, gt=0, description="Channels of the per-point spatial feature f_s.")
    audio_dim: int = Field(32, gt=0, description="Channels of the per-frame audio feature f_a.")
    expression_dim: int = Field(
        0, ge=0, description="Channels of the expression feature f_e (0: the branch has none, e.g. the mouth)."
    )
    hidden_dim: int = Field(64, gt=0, description="Hidden width of the fusion and output MLPs.")
    outputs: tuple[DeformationTarget, ...] = Field(
        ("position",),
        min_length=1,
        description="Deformations to predict: face uses position, scale, rotation; mouth position only.",
    )
    position_scale: float = Field(
        1e-2, gt=0, description="Multiplier of the predicted position offset (TalkingGaussian: 1e-2)."
    )
    position_axis_scale: tuple[float, float, float] = Field(
        (1.0, 1.0, 1.0),
        description="Extra per-axis multipliers of d_xyz (TalkingGaussian's mouth: (0.2, 1, 0.2)).",
    )

    @field_validator("outputs")
    @classmethod
    def _check_outputs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError(f"duplicate entries in {list(value)}")
        if "position" not in value:
            raise ValueError("must include 'position'")
        return value


class FusionModule(nn.Module, ABC):
    """Predicts each Gaussian's deformation from spatial, audio and expression features.

    Implementations take their `FusionConfig` subclass in ``__init__``, keep it as `config`
    (``super().__init__(config)`` does), and implement `predict`. `forward` is the template: it
    validates the inputs (`check_inputs`), then calls `predict`, so no implementation can forget
    the checks.
    """

    config: FusionConfig

    def __init__(self, config: FusionConfig | None = None) -> None:
        super().__init__()
        if config is not None:
            self.config = config

    def forward(
        self, spatial: Tensor, audio: Tensor, expression: Tensor | None = None, **context: Tensor | None
    ) -> Deformation:
        """Check the inputs, then predict deformations.

        Args:
            spatial: [N, spatial_dim] per-point spatial features.
            audio: [audio_dim] one per frame (broadcast to all points) or [N, audio_dim].
            expression: [expression_dim] or None when ``expression_dim == 0``.
            **context: extra per-frame inputs a module declares (``camera``: [4, 4] world-to-camera
                matrix for modules with ``uses_camera``).

        Returns:
            A `Deformation` holding the fields named in ``config.outputs``.
        """
        self.check_inputs(spatial, audio, expression)
        return self.predict(spatial, audio, expression, **context)

    @abstractmethod
    def predict(
        self, spatial: Tensor, audio: Tensor, expression: Tensor | None = None, **context: Tensor | None
    ) -> Deformation:
        """Predict deformations from inputs `forward` has already validated (same arguments)."""

    def check_inputs(self, spatial: Tensor, audio: Tensor, expression: Tensor | None) -> None:
        """Validate `forward`'s inputs against ``config`` (`forward` calls it before `predict`).

        Rules: `spatial` is [N, spatial_dim]; `audio` is [audio_dim] or [N, audio_dim];
        `expression` is [expression_dim] when ``expression_dim > 0`` and None otherwise; all are
        floating tensors of the parameters' dtype on one device.

        Raises:
            ValueError: a shape breaks the rules (the message names the argument).
            TypeError: a non-tensor, non-floating, mixed-dtype or mixed-device input.
        """
        cfg = self.config
        who = type(self).__name__
        named = {"spatial": spatial, "audio": audio}
        if expression is not None:
            named["expression"] = expression
        for arg, value in named.items():
            if not isinstance(value, Tensor):
                raise TypeError(f"{who}: {arg} must be a torch.Tensor, got {type(value).__name__}")
            if not value.is_floating_point():
                raise TypeError(f"{who}: {arg} must be a floating tensor, got {value.dtype}")
        if spatial.dim() != 2 or spatial.shape[1] != cfg.spatial_dim:
            raise ValueError(f"{who}: spatial must be [N, {cfg.spatial_dim}], got {list(spatial.shape)}")
        n = spatial.shape[0]
        if not (
            (audio.dim() == 1 and audio.shape[0] == cfg.audio_dim)
            or (audio.dim() == 2 and audio.shape[0] == n and audio.shape[1] == cfg.audio_dim)
        ):
            raise ValueError(
                f"{who}: audio must be [{cfg.audio_dim}] (one per frame) or [N={n}, {cfg.audio_dim}], "
                f"got {list(audio.shape)}"
            )
        if cfg.expression_dim == 0 and expression is not None:
            raise ValueError(
                f"{who}: expression must be None: this module was configured with expression_dim=0, "
                f"got a tensor of shape {list(expression.shape)}"
            )
        if cfg.expression_dim > 0:
            if expression is None:
                raise ValueError(f"{who}: expression [{cfg.expression_dim}] is required (expression_dim > 0)")
            if expression.dim() != 1 or expression.shape[0] != cfg.expression_dim:
                raise ValueError(f"{who}: expression must be [{cfg.expression_dim}], got {list(expression.shape)}")
        param = next(self.parameters(), None)
        reference = param if param is not None else spatial
        for arg, value in named.items():
            if value.dtype != reference.dtype:
                raise TypeError(
                    f"{who}: {arg} is {value.dtype} but the module computes in {reference.dtype}; "
                    "convert the inputs or call module.to(dtype)"
                )
            if value.device != reference.device:
                raise TypeError(
                    f"{who}: {arg} is on {value.device} but the module is on {reference.device}; "
                    "move the inputs or the module"
                )


# ====================================================================================== density


@dataclass
class DensityReport:
    """What one density-control step did.

    Attributes:
        cloned: Gaussians added by cloning.
        split: Gaussians replaced by splitting (each yields n_split children).
        pruned: Gaussians removed.
        reset_opacity: whether opacities were reset.
        total: Gaussian count afterwards.
        refined: whether this step was a refine step (densify + prune). After a step with
            ``refined`` or ``reset_opacity`` the tensors in ``params`` (and in the optimizers)
            are new objects: re-read them from ``params``.
    """

    cloned: int = 0
    split: int = 0
    pruned: int = 0
    reset_opacity: bool = False
    total: int = 0
    refined: bool = False

    @property
    def changed(self) -> bool:
        """Whether the parameter tensors were replaced (refine or opacity reset)."""
        return self.refined or self.reset_opacity


StateT = TypeVar("StateT")


class DensityStrategy(ABC, Generic[StateT]):
    """Adaptive density control around the backward pass (in the spirit of gsplat's Strategy).

    `params` maps names (at least ``means``, ``quats``, ``log_scales``, ``opacity_logits``,
    ``sh``) to per-Gaussian `nn.Parameter` tensors with N rows; `optimizers` maps the same names
    to optimizers holding exactly that one parameter. The strategy replaces parameters in both
    dicts when it densifies or prunes and keeps optimizer state row-aligned.
    """

    #: Whether the strategy reads `RenderResult.pixel_counts`: the trainer asks the rasterizer for
    #: them (``with_pixel_counts``) only then. True unless a strategy says otherwise.
    needs_pixel_counts: bool = True

    @abstractmethod
    def initial_state(self, params: Mapping[str, nn.Parameter], scene_extent: float) -> StateT:
        """Create the run state (accumulators) for `params`; `scene_extent` scales 3D thresholds."""

    @abstractmethod
    def step_pre_backward(
        self,
        params: dict[str, nn.Parameter],
        optimizers: dict[str, torch.optim.Optimizer],
        state: StateT,
        step: int,
        render: RenderResult,
    ) -> None:
        """Called after rendering, before ``loss.backward()`` (e.g. to retain means2d grads)."""

    @abstractmethod
    def step_post_backward(
        self,
        params: dict[str, nn.Parameter],
        optimizers: dict[str, torch.optim.Optimizer],
        state: StateT,
        step: int,
        render: RenderResult,
    ) -> DensityReport:
        """Called after backward, before the optimizer step: accumulate statistics and refine."""

    def state_dict(self, state: StateT) -> dict[str, Any]:
        """`state` as checkpointable plain data (tensors, numbers, strings, lists, dicts).

        The default handles a dataclass state: its fields, with `torch.Generator` fields stored
        as their byte states. A strategy with another kind of state overrides this and
        `load_state_dict`.

        Raises:
            TypeError: the state is not a dataclass and the strategy did not override this.
        """
        if not dataclasses.is_dataclass(state):
            raise TypeError(
                f"{type(self).__name__}: density state {type(state).__name__} is not a dataclass; "
                "override state_dict and load_state_dict to checkpoint it"
            )
        out: dict[str, Any] = {}
        for f in dataclasses.fields(state):
            value = getattr(state, f.name)
            out[f.name] = {"__generator_state__": value.get_state()} if isinstance(value, torch.Generator) else value
        return out

    def load_state_dict(self, state: StateT, data: Mapping[str, Any]) -> StateT:
        """Overwrite a fresh `state` (from `initial_state`) with `state_dict` output and return it."""
        for f in dataclasses.fields(state):  # type: ignore[arg-type]
            if f.name not in data:
                continue
            value = data[f.name]
            if isinstance(value, dict) and "__generator_state__" in value:
                getattr(state, f.name).set_state(value["__generator_state__"])
            else:
                setattr(state, f.name, value)
        return state


# ====================================================================================== evaluation


@dataclass(frozen=True)
class MetricValue:
    """One metric result.

    Attributes:
        name: metric name as reported (e.g. ``"PSNR"``, ``"LSE-D"``).
        value: the number, or None when it could not be computed (see `note`).
        higher_is_better: direction of improvement.
        protocol: how it was computed (region, backbone, landmark source, ...).
        note: why `value` is None, or other caveats.
    """

    name: str
    value: float | None
    higher_is_better: bool
    protocol: str
    note: str = ""


@dataclass
class EvaluationInputs:
    """What an evaluator may read. Frames are float in [0, 1].

    Attributes:
        predicted: [F, H, W, 3] rendered frames.
        target: [F, H, W, 3] ground-truth frames (None for cross-driven runs).
        region_masks: [F, H, W] bool face-region masks, or None for the full frame.
        predicted_landmarks: [F, 68, 2] landmarks of the predictions in pixels, if known.
        target_landmarks: [F, 68, 2] landmarks of the targets in pixels, if known.
        audio: [S] mono waveform driving the frames, if any.
        sample_rate: rate of `audio`.
        fps: video frame rate.
        extras: named tensors for third-party evaluators.
        render_frame: renders frame i of the driving audio at batch 1 and returns its image
            [H, W, 3] (audio-to-image inference with cached canonical features), for timing (FPS);
            None when no model is at hand.
        device: the device `render_frame` runs on (e.g. ``"cuda:0"``), for device synchronisation
            and the report.
    """

    predicted: Tensor
    target: Tensor | None = None
    region_masks: Tensor | None = None
    predicted_landmarks: Tensor | None = None
    target_landmarks: Tensor | None = None
    audio: Tensor | None = None
    sample_rate: int = 16000
    fps: float = 25.0
    extras: dict[str, Tensor] = field(default_factory=dict)
    render_frame: Callable[[int], Tensor] | None = None
    device: str = "cpu"


class Evaluator(ABC):
    """Computes one or more metrics from frames (and landmarks or audio where needed).

    Attributes:
        name: registry name.
        deterministic: whether the same inputs always give the same values (False for timings).
    """

    name: str
    deterministic: bool = True

    @abstractmethod
    def evaluate(self, inputs: EvaluationInputs) -> list[MetricValue]:
        """Return the metric values with their protocol."""


# ====================================================================================== rasterizers

#: Eq. 5 pixel-counting rule of rasterizers (`RasterizerConfig.pixel_count_rule`).
PixelCountRule = Literal["paper", "pixel-gs"]


class RasterizerConfig(ComponentConfig):
    """Shared settings of rasterizer backends (the standard 3DGS rules, and the Eq. 5 counting rule)."""

    tile_size: int = Field(16, gt=0, le=64, description="Square tile size in pixels.")
    eps2d: float = Field(0.3, ge=0, description="Low-pass filter added to the 2D covariance (pixels^2).")
    z_min: float = Field(
        0.2, gt=0, description="Eq. 4 validity: pixel counts are zero for Gaussians at camera depth <= z_min."
    )
    pixel_count_rule: PixelCountRule = Field(
        "paper",
        description=(
            "Eq. 5 pixel counting: 'paper' counts a pixel when the transmittance before the Gaussian is "
            ">= 1e-4 (as Eq. 5 reads: the Gaussian that saturates a pixel counts); 'pixel-gs' when the "
            "transmittance after it is (the Pixel-GS/3DGS stop rule: only composited pixels count)."
        ),
    )


#: Values of `RasterizerConfig.pixel_count_rule` (see `pgs.core.rendering.result.RenderResult`).
PIXEL_COUNT_RULES: tuple[str, ...] = ("paper", "pixel-gs")


class Rasterizer(ABC):
    """Differentiable Gaussian rasterizer backend.

    `render` is the template: backends implement `_render` only.

    Args:
        config: tile size, low-pass eps2d, the Eq. 4 z_min and the Eq. 5 pixel-count rule (default:
            `RasterizerConfig()`).
    """

    name: str
    config: RasterizerConfig

    def __init__(self, config: RasterizerConfig | None = None) -> None:
        self.config = config if config is not None else RasterizerConfig()

    def render(
        self,
        gaussians: GaussianParams,
        cameras: Cameras,
        sh_degree: int | None = None,
        *,
        with_pixel_counts: bool | None = None,
    ) -> RenderResult:
        """Render `gaussians` into every camera.

        Args:
            gaussians: N Gaussians (raw parameters).
            cameras: C cameras of one image size.
            sh_degree: SH degree to evaluate (default: all stored coefficients).
            with_pixel_counts: compute `RenderResult.pixel_counts` (Eq. 5, by
                ``config.pixel_count_rule``). None (default): only on the training path, i.e. when
                autograd is enabled and a tensor of `gaussians` requires grad; inference gets
                ``pixel_counts=None``. The trainer passes its density strategy's
                `DensityStrategy.needs_pixel_counts`.

        Returns:
            The `RenderResult`; gradients flow to every tensor of `gaussians` and to `means2d`.
            Without gradients (``torch.no_grad()`` or nothing requiring grad) backends take
            their inference fast path: nothing is kept for a backward pass.
        """
        return self._render(gaussians, cameras, sh_degree, with_pixel_counts)

    @abstractmethod
    def _render(
        self, gaussians: GaussianParams, cameras: Cameras, sh_degree: int | None, with_pixel_counts: bool | None
    ) -> RenderResult:
        """The backend's own rendering; arguments and result as `render` (template method)."""


__all__ = [
    "AUDIO_WINDOW",
    "AudioEncoder",
    "AudioEncoderConfig",
    "AudioFeatures",
    "Deformation",
    "DeformationTarget",
    "DensityReport",
    "DensityStrategy",
    "EvaluationInputs",
    "Evaluator",
    "FusionConfig",
    "FusionModule",
    "MetricValue",
    "PIXEL_COUNT_RULES",
    "PixelCountRule",
    "Rasterizer",
    "RasterizerConfig",
    "StreamingAudioEncoder",
]
