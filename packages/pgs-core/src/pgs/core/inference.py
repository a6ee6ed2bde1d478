"""Driving a trained head with audio: load a checkpoint, encode audio, render frames, write video.

Head poses, AUs and backgrounds come from the training frames in order; when the audio is
longer than the training split the frame index ping-pongs (0 .. N-1 .. 0 ...), as ER-NeRF does,
so any audio length works. The canonical spatial features are cached (they do not depend on audio).
An avatar file (`pgs.core.avatar`) carries its own poses, AUs and backgrounds (`LoadedHead.replay`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from pgs.core.avatar import Replay, read_head_file
from pgs.core.data.dataset import SpeakerDataset, load_precomputed_audio
from pgs.core.devices import resolve_device
from pgs.core.errors import DataError
from pgs.core.groups import AUDIO_ENCODERS
from pgs.core.interfaces import AudioFeatures
from pgs.core.model.talking_head import TalkingHead, build_rasterizer
from pgs.core.registry import registry
from pgs.core.training.checkpoint import load_module_state
from pgs.core.training.config import TrainConfig


def ping_pong(index: int, length: int) -> int:
    """Frame index for position `index` when walking 0 .. length-1 .. 0 repeatedly."""
    if length <= 1:
        return 0
    period = 2 * length - 2
    k = index % period
    return k if k < length else period - k


@dataclass
class LoadedHead:
    """A trained head ready for inference.

    Attributes:
        head: the model in eval mode with cached canonical features.
        config: the run config it was trained with.
        audio_encoder: the registry name of the audio encoder used in training (``npy`` for
            precomputed features).
        audio_layout: the feature layout the model expects.
        audio_params: the encoder's parameters.
        replay: poses, AUs and backgrounds of an avatar file (None for a training checkpoint).
    """

    head: TalkingHead
    config: TrainConfig
    audio_encoder: str
    audio_layout: str
    audio_params: dict
    replay: Replay | None = None


def load_head(checkpoint: str | Path, device: str = "auto", rasterizer: str | None = None) -> LoadedHead:
    """Rebuild a trained `TalkingHead` from a checkpoint.

    Args:
        checkpoint: a ``.pt`` file written by the trainer, or an avatar file (``pgs export --avatar``).
        device: where to run (``auto``: CUDA when available, else CPU).
        rasterizer: backend name overriding the training config (``auto`` picks the best for `device`).
    """
    data, replay = read_head_file(checkpoint)
    config = TrainConfig.model_validate(data["config"])
    audio = data["audio"]
    target = resolve_device(device)
    name, params = rasterizer or config.rasterizer.name, config.rasterizer.params if rasterizer is None else None
    if name == "gsplat" and target.type != "cuda":  # trained on a GPU, served on a CPU
        name, params = "auto", None
    backend = build_rasterizer(name, params, device=target)
    head = TalkingHead.from_config(config.model, audio["channels"], backend, audio["layout"], seed=config.seed)
    load_module_state(head, data["model"], checkpoint)
    head = head.to(target).eval()
    head.cache_canonical()
    params = dict(audio.get("params", {}))
    return LoadedHead(head, config, str(audio.get("encoder", "")), audio["layout"], params, replay)


def encode_driving_audio(loaded: LoadedHead, audio: str | Path, fps: float = 25.0) -> AudioFeatures:
    """Features of a driving audio file (or a precomputed ``.npy``) in the model's layout.

    Raises:
        DataError: the model was trained on precomputed features and `audio` is not a ``.npy``
            file of the same layout, or the layouts differ.
    """
    path = Path(audio)
    if not path.is_file():
        raise DataError(f"{path}: audio file not found")
    if path.suffix == ".npy":
        features = load_precomputed_audio(path, fps)
    elif loaded.audio_encoder in ("", "npy"):
        raise DataError(
            f"{path}: the model was trained on precomputed {loaded.audio_layout} features; "
            "pass features extracted with the same tool as a .npy file"
        )
    else:
        encoder = registry(AUDIO_ENCODERS).create(loaded.audio_encoder, loaded.audio_params)
        features = encoder.encode_file(path)
    loaded.head.check_audio(features.layout)
    return features


def drive(
    loaded: LoadedHead, features: AudioFeatures, frames: SpeakerDataset | Replay, device: str | None = None
) -> Iterator[Tensor]:
    """Render one frame per audio frame.

    Args:
        loaded: the trained head.
        features: driving audio features.
        frames: the dataset (or an avatar's `Replay`) whose poses, AUs and backgrounds are replayed
            (ping-pong).
        device: where to run (default: where `load_head` put the head).

    Yields:
        [H, W, 3] float images in [0, 1] (on CPU).
    """
    if device is None:
        device = next(loaded.head.parameters()).device
    with torch.no_grad():
        for i in range(features.num_frames):
            frame = frames[ping_pong(i, len(frames))].to(device)
            window = features.window(i).to(device)
            out = loaded.head(frame.camera, window, frame.aus, frame.background)
            yield out.image[0].clamp(0, 1).cpu()


def to_uint8(image: Tensor) -> np.ndarray:
    """[H, W, 3] float in [0, 1] -> uint8 array."""
    return (image.clamp(0, 1) * 255.0 + 0.5).to(torch.uint8).numpy()
