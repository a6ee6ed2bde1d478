"""`hubert` and `wav2vec2` encoders: torchaudio model architectures with weights from a local file.

The architecture is built with `torchaudio.models` (no download); the weights come from the file
named in ``weights`` (a torchaudio-format state dict, the file `torchaudio.pipelines` downloads),
or, when ``weights`` is None, from torchaudio's own download cache
(``<torch.hub.get_dir()>/checkpoints/<file>``) if a previous ``bundle.get_model()`` put it there.
Nothing is ever downloaded here: a missing file is a `DataError` saying which file and how to get it.

The final transformer output (after the last layer norm; the ASR head of fine-tuned checkpoints is
dropped) is a 50 Hz sequence: element ``t`` covers ``[20 t, 20 t + 20)`` ms. It is aligned to the
video frames as described in `pgs.audio.timing`:

- ``frame_layout="pairs"`` (default): ``[F, 2, C]``, the ER-NeRF / TalkingGaussian HuBERT layout
  (exactly their reshape at 25 fps; linear interpolation at other rates, edges repeated);
- ``frame_layout="window"``: ``[F, 16, C]`` centred on each frame like DeepSpeech (zeros outside).

Long audio is processed in chunks of ``chunk_seconds`` with ``context_seconds`` of extra audio on
each side whose outputs are discarded, so memory stays bounded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from pydantic import Field
from torch import Tensor, nn

from pgs.audio.base import WaveformEncoder, variant_specs
from pgs.audio.timing import pairs_positions, sample_sequence, window_positions
from pgs.core.errors import DataError
from pgs.core.interfaces import AudioEncoderConfig

#: Model input rate and output rate (the conv feature extractor's stride is 320 samples).
MODEL_RATE = 16000
SEQ_RATE = 50.0
_STRIDE = 320
_RECEPTIVE = 400
_TORCHAUDIO_URL = "https://download.pytorch.org/torchaudio/models/"


@dataclass(frozen=True)
class Variant:
    """One pretrained model: torchaudio factory, checkpoint file, input normalisation, width.

    Attributes:
        factory: name of the `torchaudio.models` builder.
        file: checkpoint file name used by `torchaudio.pipelines` (URL and cache name).
        bundle: the `torchaudio.pipelines` bundle that downloads it.
        normalize: the model expects zero-mean unit-variance input (layer norm over the waveform).
        channels: hidden size.
        note: what the checkpoint is.
    """

    factory: str
    file: str
    bundle: str
    normalize: bool
    channels: int
    note: str


HUBERT_VARIANTS: dict[str, Variant] = {
    "base": Variant("hubert_base", "hubert_fairseq_base_ls960.pth", "HUBERT_BASE", False, 768, "HuBERT base"),
    "large": Variant(
        "hubert_large", "hubert_fairseq_large_ll60k.pth", "HUBERT_LARGE", True, 1024, "HuBERT large (pretrained)"
    ),
    "large_asr": Variant(
        "hubert_large",
        "hubert_fairseq_large_ll60k_asr_ls960.pth",
        "HUBERT_ASR_LARGE",
        True,
        1024,
        "HuBERT large fine-tuned on LibriSpeech 960h (the model ER-NeRF/TalkingGaussian use)",
    ),
    "xlarge": Variant(
        "hubert_xlarge", "hubert_fairseq_xlarge_ll60k.pth", "HUBERT_XLARGE", True, 1280, "HuBERT xlarge"
    ),
}

WAV2VEC2_VARIANTS: dict[str, Variant] = {
    "base": Variant(
        "wav2vec2_base", "wav2vec2_fairseq_base_ls960.pth", "WAV2VEC2_BASE", False, 768, "wav2vec 2.0 base"
    ),
    "large": Variant(
        "wav2vec2_large", "wav2vec2_fairseq_large_ls960.pth", "WAV2VEC2_LARGE", False, 1024, "wav2vec 2.0 large"
    ),
    "large_lv60k": Variant(
        "wav2vec2_large_lv60k",
        "wav2vec2_fairseq_large_lv60k.pth",
        "WAV2VEC2_LARGE_LV60K",
        True,
        1024,
        "wav2vec 2.0 large (LibriLight 60k)",
    ),
    "xlsr53": Variant(
        "wav2vec2_large_lv60k",
        "wav2vec2_fairseq_large_xlsr53.pth",
        "WAV2VEC2_XLSR53",
        True,
        1024,
        "wav2vec 2.0 XLSR-53 (multilingual)",
    ),
}


class SslConfig(AudioEncoderConfig):
    """Settings shared by the `hubert` / `wav2vec2` encoders (each adds its `variant`)."""

    variant: str = Field("base", description="Model size/checkpoint.")

    weights: str | None = Field(
        None,
        description="Local torchaudio-format state dict (.pth). None: torchaudio's download cache, if the file "
        "is there. Never downloaded.",
    )
    random_init: bool = Field(
        False, description="For tests and benchmarks only: random weights, no file needed (features are meaningless)."
    )
    frame_layout: Literal["pairs", "window"] = Field(
        "pairs", description="'pairs': [F, steps, C] over each frame's interval (ER-NeRF HuBERT); 'window': "
        "[F, window_steps, C] centred on the frame (DeepSpeech style)."
    )
    steps: int = Field(2, ge=1, le=64, description="Steps per frame for frame_layout='pairs'.")
    window_steps: int = Field(16, ge=1, le=256, description="Steps per frame for frame_layout='window'.")
    chunk_seconds: float = Field(20.0, gt=1, le=600, description="Audio per model call (bounds memory).")
    context_seconds: float = Field(1.0, ge=0, le=30, description="Extra audio each side of a chunk, discarded.")
    device: str = Field("cpu", description="Torch device to run the model on (e.g. 'cuda').")
    seed: int = Field(0, description="Seed of the random initialisation (random_init only).")
    num_layers: int | None = Field(
        None,
        ge=1,
        description="For fast tests only: keep the first N transformer layers (a weights file must then hold "
        "exactly those); None: all, as the published checkpoints.",
    )


class HubertConfig(SslConfig):
    """Settings of the `hubert` encoder (default: the large model fine-tuned for ASR, as ER-NeRF uses)."""

    variant: Literal["base", "large", "large_asr", "xlarge"] = Field(
        "large_asr", description="Checkpoint: base (768 ch), large, large_asr (ER-NeRF's model), xlarge (1280 ch)."
    )


class Wav2Vec2Config(SslConfig):
    """Settings of the `wav2vec2` encoder."""

    variant: Literal["base", "large", "large_lv60k", "xlsr53"] = Field(
        "base", description="Checkpoint: base (768 ch), large, large_lv60k, xlsr53 (multilingual; 1024 ch)."
    )


def hub_cache_file(file: str) -> Path:
    """Where `torchaudio.pipelines` caches a checkpoint after downloading it."""
    return Path(torch.hub.get_dir()) / "checkpoints" / file


def _missing_weights_message(family: str, name: str, variant: Variant) -> str:
    return (
        f"{family} encoder (variant {name!r}, {variant.note}): no weights file given and "
        f"{hub_cache_file(variant.file)} does not exist. Download {_TORCHAUDIO_URL}{variant.file} once "
        f"(or run `torchaudio.pipelines.{variant.bundle}.get_model()` on a machine with internet, which caches it "
        f"at that path) and set weights: /path/to/{variant.file}. Weights are never downloaded at run time."
    )


def _load_state_dict(path: Path, family: str) -> dict[str, Tensor]:
    if not path.is_file():
        raise DataError(f"{path}: {family} weights file not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a bad file
        raise DataError(f"{path}: not a readable PyTorch weights file ({type(exc).__name__}: {exc})") from None
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise DataError(f"{path}: expected a state dict of tensors (torchaudio format)")
    # drop the ASR head of fine-tuned checkpoints; strip the wrapper prefix of pipeline models; name the
    # weight-norm tensors of the positional convolution as torch's parametrization does
    out = {}
    for key, value in state.items():
        key = key.removeprefix("model.")
        if key.startswith("aux."):
            continue
        key = key.replace(".weight_g", ".parametrizations.weight.original0")
        out[key.replace(".weight_v", ".parametrizations.weight.original1")] = value
    return out


class SslEncoder(WaveformEncoder):
    """HuBERT / wav2vec 2.0 hidden states aligned to video frames."""

    def __init__(self, config: SslConfig, family: Literal["hubert", "wav2vec2"]) -> None:
        import torchaudio.models as TM

        table = HUBERT_VARIANTS if family == "hubert" else WAV2VEC2_VARIANTS
        if config.variant not in table:
            raise ValueError(f"{family}: unknown variant {config.variant!r}; choose one of {sorted(table)}")
        variant = table[config.variant]
        self.config = config
        self.name = family
        self.variant = variant
        self.sample_rate = MODEL_RATE
        self.channels = variant.channels
        self.steps = config.steps if config.frame_layout == "pairs" else config.window_steps
        self.layout = family if config.frame_layout == "pairs" else f"{family}-window"
        if not config.random_init:
            path = Path(config.weights).expanduser() if config.weights else hub_cache_file(variant.file)
            if config.weights is None and not path.is_file():
                raise DataError(_missing_weights_message(family, config.variant, variant))
            state = _load_state_dict(path, family)
        try:
            self.device = torch.device(config.device)
        except RuntimeError as exc:
            raise ValueError(f"{family}: invalid device {config.device!r}: {exc}") from None
        with torch.device("meta"):  # no time spent on an initialisation that is overwritten
            model: nn.Module = getattr(TM, variant.factory)()
        if config.num_layers is not None:
            layers = model.encoder.transformer.layers
            model.encoder.transformer.layers = nn.ModuleList(list(layers)[: config.num_layers])
        if config.random_init:
            model = model.to_empty(device="cpu")
            _random_init(model, config.seed)
        else:
            missing, unexpected = _compare_keys(model, state)
            if missing or unexpected:
                raise DataError(
                    f"{path}: not {variant.note} weights for torchaudio.models.{variant.factory}: "
                    f"{len(missing)} missing keys (e.g. {missing[:3]}), {len(unexpected)} unexpected "
                    f"(e.g. {unexpected[:3]}); expected {variant.file} (variant {config.variant!r})"
                )
            model = model.to_empty(device="cpu")
            try:
                model.load_state_dict(state, strict=True)
            except RuntimeError as exc:
                raise DataError(f"{path}: weights do not fit variant {config.variant!r}: {exc}") from None
        self.model = model.to(self.device).eval()

    def hidden_states(self, waveform: Tensor) -> Tensor:
        """[S] 16 kHz audio -> [T, C] final hidden states at 50 Hz (``T = (S - 400) // 320 + 1``).

        Audio shorter than the 400-sample receptive field is zero-padded to it.
        """
        if waveform.shape[0] < _RECEPTIVE:
            waveform = torch.nn.functional.pad(waveform, (0, _RECEPTIVE - waveform.shape[0]))
        if self.variant.normalize:  # zero mean, unit variance over the whole input, as the checkpoints expect
            waveform = (waveform - waveform.mean()) / torch.sqrt(waveform.var(unbiased=False) + 1e-5)
        total = (waveform.shape[0] - _RECEPTIVE) // _STRIDE + 1
        chunk = max(1, int(self.config.chunk_seconds * SEQ_RATE))
        context = math.ceil(self.config.context_seconds * SEQ_RATE)
        out = []
        with torch.inference_mode():
            for first in range(0, total, chunk):
                last = min(total, first + chunk)
                a = max(0, first - context)
                b = min(total, last + context)
                piece = waveform[a * _STRIDE : (b - 1) * _STRIDE + _RECEPTIVE].to(self.device)
                states, _ = self.model(piece[None])  # [1, b-a, C]
                out.append(states[0, first - a : last - a].float().cpu())
        return torch.cat(out)

    def _features(self, waveform: Tensor, num_frames: int) -> Tensor:
        states = self.hidden_states(waveform)
        c = self.config
        if c.frame_layout == "pairs":
            return sample_sequence(states, pairs_positions(num_frames, c.fps, SEQ_RATE, c.steps), outside="clamp")
        positions = window_positions(num_frames, c.fps, SEQ_RATE, SEQ_RATE, c.window_steps)
        return sample_sequence(states, positions, outside="zero")


def _random_init(model: nn.Module, seed: int) -> None:
    """Seeded random weights (tests, benchmarks): N(0, 1/fan_in) matrices, unit norms, zero biases."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if param.dim() >= 2:
                fan_in = max(1, param[0].numel())
                param.copy_(torch.randn(param.shape, generator=generator) / math.sqrt(fan_in))
            elif name.endswith("weight"):
                param.fill_(1.0)
            else:
                param.zero_()


def _compare_keys(model: nn.Module, state: dict[str, Tensor]) -> tuple[list[str], list[str]]:
    expected = set(model.state_dict())
    got = set(state)
    return sorted(expected - got), sorted(got - expected)


HUBERT_SPEC, WAV2VEC2_SPEC = variant_specs(
    SslEncoder,
    (
        "hubert",
        HubertConfig,
        "HuBERT hidden states (torchaudio architecture, local weights), [F, 2, 1024] like ER-NeRF.",
    ),
    (
        "wav2vec2",
        Wav2Vec2Config,
        "wav2vec 2.0 hidden states (torchaudio architecture, local weights), [F, 2, C] per frame.",
    ),
)

__all__ = [
    "HUBERT_SPEC",
    "HUBERT_VARIANTS",
    "HubertConfig",
    "WAV2VEC2_SPEC",
    "WAV2VEC2_VARIANTS",
    "SslConfig",
    "SslEncoder",
    "Variant",
    "Wav2Vec2Config",
    "hub_cache_file",
]
