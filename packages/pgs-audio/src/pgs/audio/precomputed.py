"""`npy` encoder: features users already extracted (DeepSpeech, HuBERT, wav2vec) read from ``.npy``.

`NpyEncoder.encode_file(path)` accepts:

- a ``.npy`` file: loaded directly (layout from its sidecar or its shape, see `pgs.audio.features_io`);
- an audio or video file (``aud.wav``, a clip): the features are read from ``config.path`` if set,
  else from the file beside it named after it (``aud.wav`` -> ``aud_ds.npy``, ``aud_hu.npy``,
  ``aud_eo.npy``, ``aud.npy``, filtered by ``config.layout``). The audio's duration is then
  checked against the feature frame count, so features of other audio are never used silently.

`encode(waveform, sample_rate)` reads ``config.path`` and checks it against the waveform the same
way.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from pydantic import Field, field_validator
from torch import Tensor

from pgs.audio.features_io import KNOWN_LAYOUTS, LAYOUT_FILES, PUBLISHED_FPS, detect_layout, load_features
from pgs.core.errors import DataError
from pgs.core.groups import AUDIO_ENCODERS
from pgs.core.interfaces import AudioEncoder, AudioEncoderConfig, AudioFeatures
from pgs.core.io.audio import check_sample_rate, check_waveform, frame_count, load_audio
from pgs.core.registry import ComponentSpec


class NpyConfig(AudioEncoderConfig):
    """Settings of the `npy` encoder."""

    path: str | None = Field(
        None,
        description="Features file (.npy). Relative paths are tried against the working directory, then against "
        "the folder of the file given to encode_file. None: find it beside the audio file.",
    )
    layout: str = Field(
        "auto",
        description="Expected layout: 'deepspeech' [N,16,29], 'hubert' [N,2,1024], 'wav2vec' [N,16,44], another "
        "layout name recorded by pgs.audio.save, or 'auto' (detect). A different layout is an error naming both.",
    )
    source_fps: float | None = Field(
        None,
        gt=0,
        description="Frame rate the file was extracted at; None: its sidecar's, else 25 (published layouts). "
        "When it differs from fps, frames are re-timed by nearest neighbour.",
    )
    max_frame_mismatch: int = Field(
        2,
        ge=0,
        description="Largest difference between the file's frame count and round(audio duration * fps) accepted "
        "(extractors differ by a frame at the end); the features are then trimmed or padded with their last "
        "frame. A larger difference is an error (the features belong to other audio).",
    )

    @field_validator("layout")
    @classmethod
    def _check_layout(cls, value: str) -> str:
        if not value or not all(c.isalnum() or c in "-_." for c in value):
            raise ValueError(f"invalid layout name {value!r}")
        return value


class NpyEncoder(AudioEncoder):
    """Reads precomputed per-frame features (`NpyConfig`)."""

    name = "npy"
    description = "Precomputed features from .npy: DeepSpeech [N,16,29], HuBERT [N,2,1024], wav2vec [N,16,44]."

    def __init__(self, config: NpyConfig) -> None:
        self.config = config
        self.sample_rate = 16000
        self._shape: tuple[int, int] | None = KNOWN_LAYOUTS.get(config.layout)
        self._layout = config.layout

    # --------------------------------------------------------------------------- description
    def _peek(self) -> None:
        """Read the configured file's header to learn layout, steps and channels."""
        if self._shape is not None or self.config.path is None:
            return
        path = self._resolve(self.config.path, None)
        try:
            array = np.load(path, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise DataError(f"{path}: not a readable .npy array ({exc})") from None
        if array.ndim == 3:
            self._shape = (int(array.shape[1]), int(array.shape[2]))
            if self._layout == "auto":
                try:
                    self._layout = detect_layout(tuple(array.shape), str(path))
                except DataError:
                    self._layout = load_features(path).layout

    @property
    def layout(self) -> str:  # type: ignore[override]
        """Layout name (``"auto"`` until known from the config or the configured file)."""
        self._peek()
        return self._layout

    @property
    def steps(self) -> int:  # type: ignore[override]
        """Steps per frame (0 while unknown)."""
        self._peek()
        return self._shape[0] if self._shape else 0

    @property
    def channels(self) -> int:  # type: ignore[override]
        """Channels (0 while unknown)."""
        self._peek()
        return self._shape[1] if self._shape else 0

    # --------------------------------------------------------------------------- loading
    def _resolve(self, name: str, near: Path | None) -> Path:
        path = Path(name).expanduser()
        if path.is_absolute() or path.exists() or near is None:
            if not path.exists():
                raise DataError(f"{path}: features file not found (npy encoder 'path')")
            return path
        beside = near.parent / path
        if not beside.exists():
            raise DataError(f"{name}: features file not found in the working directory or in {near.parent}")
        return beside

    def _candidates(self, audio: Path) -> list[Path]:
        layouts = list(LAYOUT_FILES) if self.config.layout == "auto" else [self.config.layout]
        names: list[str] = []
        for layout in layouts:
            for file_name in LAYOUT_FILES.get(layout, ()):
                suffix = file_name[len("aud") :]  # "_ds.npy", ".npy", ...
                names.append(audio.stem + suffix)
        return [audio.parent / n for n in dict.fromkeys(names)]

    def _load(self, path: Path) -> AudioFeatures:
        feats = load_features(path, layout=self.config.layout)
        self._layout = feats.layout
        self._shape = (feats.steps, feats.channels)
        src_fps = self.config.source_fps or feats.fps
        data = feats.features
        if abs(src_fps - self.config.fps) > 1e-9:
            count = max(1, int(np.floor(data.shape[0] * self.config.fps / src_fps + 0.5)))
            index = torch.floor(torch.arange(count, dtype=torch.float64) * src_fps / self.config.fps + 0.5)
            data = data[index.to(torch.int64).clamp(max=data.shape[0] - 1)]
        return AudioFeatures(data, float(self.config.fps), self.name, feats.layout, str(path))

    def _match(self, feats: AudioFeatures, num_frames: int, audio: str) -> AudioFeatures:
        """Trim or pad (with the last frame) to `num_frames`, or fail if too far off."""
        have = feats.num_frames
        if abs(have - num_frames) > self.config.max_frame_mismatch:
            raise DataError(
                f"{feats.source}: holds {have} frames of features but the audio {audio} gives {num_frames} frames "
                f"at {self.config.fps:g} fps; these features were extracted from other audio (re-extract them, "
                "or use an encoder that reads the audio, e.g. 'mel')"
            )
        if have == num_frames:
            return feats
        data = feats.features[:num_frames]
        if have < num_frames:
            data = torch.cat([data, data[-1:].expand(num_frames - have, -1, -1)])
        return AudioFeatures(data, feats.fps, feats.encoder, feats.layout, feats.source)

    def encode_file(self, path: str | Path) -> AudioFeatures:
        """Load features: a ``.npy`` directly, or those belonging to an audio/video file.

        Raises:
            DataError: no features file found, unreadable or unknown layout, another layout than
                configured, or a frame count that does not match the audio.
        """
        path = Path(path)
        if path.suffix.lower() == ".npy":
            return self._load(path)
        if self.config.path is not None:
            source = self._resolve(self.config.path, path)
        else:
            found = [p for p in self._candidates(path) if p.is_file()]
            if not found:
                looked = ", ".join(p.name for p in self._candidates(path))
                raise DataError(
                    f"{path}: the npy encoder reads precomputed features, and none were found beside it "
                    f"(looked for {looked} in {path.parent}); set 'path', or use an encoder that reads audio "
                    "(e.g. 'mel')"
                )
            if len(found) > 1:
                raise DataError(
                    f"{path}: several feature files beside it ({', '.join(p.name for p in found)}); "
                    "set 'layout' or 'path' of the npy encoder to choose"
                )
            source = found[0]
        feats = self._load(source)
        wave, rate = load_audio(path)
        return self._match(feats, frame_count(wave.shape[0], rate, self.config.fps), str(path))

    def encode(self, waveform: Tensor, sample_rate: int, source: str = "<array>") -> AudioFeatures:
        """Read ``config.path`` and check it against the waveform's frame count.

        Raises:
            DataError: no ``path`` configured, or the features do not match the waveform.
        """
        rate = check_sample_rate(sample_rate)
        wave = check_waveform(waveform, rate, source)
        if self.config.path is None:
            raise DataError(
                f"{source}: the npy encoder reads precomputed features from a file; set its 'path' "
                "(or call encode_file with the .npy file)"
            )
        feats = self._load(self._resolve(self.config.path, None))
        return self._match(feats, frame_count(wave.shape[0], rate, self.config.fps), source)


NPY_SPEC = ComponentSpec.of(AUDIO_ENCODERS, NpyConfig, NpyEncoder)

__all__ = ["NPY_SPEC", "PUBLISHED_FPS", "NpyConfig", "NpyEncoder"]
