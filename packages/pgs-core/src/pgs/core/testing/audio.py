"""Contract check for audio encoders (group ``pgs.audio_encoders``): a plugin's whole test is one call.

Example (a third-party plugin's ``tests/test_contract.py``)::

    from pgs.core.testing import check_audio_encoder
    from my_encoder import SPEC

    def test_contract():
        check_audio_encoder(SPEC)

`check_audio_encoder` builds the encoder (with `config`, default: the config class's defaults) and
checks:

1. the shared spec rules (`check_component_spec`) and the declared attributes (name, layout,
   sample rate, steps, channels);
2. `encode` of 1.3 s of a seeded test signal gives `AudioFeatures` [round(1.3 * fps), steps,
   channels], float32, finite, with the encoder's name, layout and fps;
3. determinism: the same input twice gives identical features;
4. input at another sample rate and an encoder built for another fps (30) give
   ``round(duration * fps)`` frames;
5. `encode_file` of a 16-bit WAV (written with the standard library) equals `encode` of the same
   samples;
6. bad input raises one `ValueError`/`TypeError` (e.g. a `DataError`), not an error from inside
   torch: NaN samples, a zero or fractional sample rate, audio shorter than one frame, a 2-channel
   array, and a missing or empty file (whose path the message names).

Encoders that do not compute features from the audio (e.g. ``npy``, which reads a file) pass
``waveform_checks=False`` and are checked for 1 only.
"""

from __future__ import annotations

import math
import tempfile
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel
from torch import Tensor

from pgs.core.groups import AUDIO_ENCODERS
from pgs.core.interfaces import AudioEncoder, AudioFeatures
from pgs.core.registry import ComponentSpec
from pgs.core.testing.spec import ContractError, check_component_spec


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ContractError(message)


def contract_signal(seconds: float, sample_rate: int, seed: int = 0) -> Tensor:
    """[S] float32: a gliding tone, an envelope and a little seeded noise, peak below 0.5."""
    count = round(seconds * sample_rate)
    t = torch.arange(count, dtype=torch.float64) / sample_rate
    generator = torch.Generator().manual_seed(seed)
    tone = torch.sin(2 * math.pi * (180 * t + 120 * t**2)) * (0.5 + 0.5 * torch.sin(2 * math.pi * 3 * t)) ** 2
    noise = torch.randn(count, generator=generator, dtype=torch.float64) * 0.02
    return (0.4 * tone + noise).to(torch.float32)


def write_wav16(path: Path, waveform: Tensor, sample_rate: int) -> Tensor:
    """Write mono 16-bit PCM with the standard library; return the samples as read back ([S] float32)."""
    pcm = torch.clamp(torch.round(waveform.double() * 32767), -32768, 32767).to(torch.int16)
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(sample_rate)
        handle.writeframes(pcm.numpy().tobytes())
    return pcm.to(torch.float32) / 32768.0


def _expect_error(call: Callable[[], Any], what: str, name: str, mention: str | None = None) -> None:
    try:
        call()
    except (ValueError, TypeError) as exc:
        if mention is not None:
            _require(mention in str(exc), f"{name}: the error for {what} does not name {mention!r}: {exc}")
        return
    except Exception as exc:
        kind = type(exc).__name__
        raise ContractError(f"{name}: {what} raised {kind} ({exc}), expected ValueError/TypeError") from None
    raise ContractError(f"{name}: {what} was accepted, expected a ValueError/TypeError")


def _call(call: Callable[[], Any], what: str, name: str) -> Any:
    """Run a call that must succeed, turning any exception into a `ContractError` naming it."""
    try:
        return call()
    except Exception as exc:
        raise ContractError(f"{name}: {what} raised {type(exc).__name__}: {exc}") from None


def _check_features(feats: Any, encoder: AudioEncoder, frames: int, fps: float, what: str) -> AudioFeatures:
    name = encoder.name
    _require(isinstance(feats, AudioFeatures), f"{name}: {what} returned {type(feats).__name__}, not AudioFeatures")
    shape = list(feats.features.shape)
    _require(
        shape == [frames, encoder.steps, encoder.channels],
        f"{name}: {what} gave features {shape}, expected [{frames}, {encoder.steps}, {encoder.channels}] "
        f"(round(duration * fps) frames)",
    )
    _require(feats.features.dtype == torch.float32, f"{name}: {what} features are {feats.features.dtype}, not float32")
    _require(bool(torch.isfinite(feats.features).all()), f"{name}: {what} features are not all finite")
    _require(abs(feats.fps - fps) < 1e-9, f"{name}: {what} recorded fps {feats.fps}, expected {fps}")
    _require(feats.encoder == name, f"{name}: {what} recorded encoder {feats.encoder!r}")
    _require(feats.layout == encoder.layout, f"{name}: {what} recorded layout {feats.layout!r} != {encoder.layout!r}")
    return feats


def check_audio_encoder(
    spec: ComponentSpec[Any, Any], config: BaseModel | None = None, *, waveform_checks: bool = True
) -> AudioEncoder:
    """Run the audio-encoder contract (see the module docstring) and return the built encoder.

    Args:
        spec: the plugin's `ComponentSpec` (group ``pgs.audio_encoders``).
        config: config to build with (default: the config class's defaults).
        waveform_checks: False for encoders that read precomputed features instead of audio.

    Raises:
        ContractError: naming the broken rule.
    """
    _require(spec.group == AUDIO_ENCODERS, f"{spec.name}: group is {spec.group!r}, not {AUDIO_ENCODERS!r}")
    config = config if config is not None else spec.config_class()
    encoder: AudioEncoder = check_component_spec(spec, config)
    name = spec.name
    _require(getattr(encoder, "name", None) == name, f"{name}: encoder.name is {getattr(encoder, 'name', None)!r}")
    for attr in ("sample_rate", "steps", "channels"):
        value = getattr(encoder, attr, None)
        _require(isinstance(value, int) and value >= 0, f"{name}: encoder.{attr} must be an int >= 0, got {value!r}")
    _require(isinstance(encoder.layout, str) and bool(encoder.layout), f"{name}: encoder.layout must be a name")
    if not waveform_checks:
        return encoder
    _require(encoder.sample_rate > 0 and encoder.steps > 0 and encoder.channels > 0,
             f"{name}: sample_rate, steps and channels must be positive")
    fps = float(getattr(config, "fps", 25.0))
    rate = encoder.sample_rate
    signal = contract_signal(1.3, rate)
    encoded = _call(lambda: encoder.encode(signal, rate), "encode", name)
    first = _check_features(encoded, encoder, math.floor(1.3 * fps + 0.5), fps, "encode")
    again = encoder.encode(signal.clone(), rate)
    _require(torch.equal(first.features, again.features), f"{name}: the same input gave different features")

    other_rate = 22050 if rate != 22050 else 16000
    feats = _call(lambda: encoder.encode(contract_signal(1.0, other_rate, seed=1), other_rate), "encode", name)
    _check_features(feats, encoder, math.floor(1.0 * fps + 0.5), fps, f"encode at {other_rate} Hz")
    if "fps" in type(config).model_fields:
        fps30 = spec.factory(type(config).model_validate({**config.model_dump(), "fps": 30.0}))
        _check_features(fps30.encode(signal, rate), fps30, math.floor(1.3 * 30 + 0.5), 30.0, "encode at 30 fps")

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "contract.wav"
        pcm = write_wav16(path, signal, rate)
        loaded = _call(lambda: encoder.encode_file(path), "encode_file", name)
        from_file = _check_features(loaded, encoder, first.num_frames, fps, "encode_file")
        from_array = encoder.encode(pcm, rate)
        _require(
            torch.allclose(from_file.features, from_array.features, rtol=1e-4, atol=1e-4),
            f"{name}: encode_file of a 16-bit WAV differs from encode of the same samples",
        )
        _require(str(path) in from_file.source, f"{name}: encode_file recorded source {from_file.source!r}")
        missing = Path(tmp) / "missing.wav"
        _expect_error(lambda: encoder.encode_file(missing), "a missing file", name, str(missing))
        empty = Path(tmp) / "empty.wav"
        empty.write_bytes(b"")
        _expect_error(lambda: encoder.encode_file(empty), "an empty file", name, str(empty))

    bad = signal.clone()
    bad[100] = float("nan")
    _expect_error(lambda: encoder.encode(bad, rate), "NaN samples", name)
    _expect_error(lambda: encoder.encode(signal, 0), "sample_rate=0", name)
    _expect_error(lambda: encoder.encode(signal, 16000.5), "a fractional sample_rate", name)  # type: ignore[arg-type]
    _expect_error(lambda: encoder.encode(signal[: int(rate / fps / 2)], rate), "audio shorter than one frame", name)
    _expect_error(lambda: encoder.encode(torch.stack([signal, signal]), rate), "a 2-channel array", name)
    return encoder


__all__ = ["check_audio_encoder", "contract_signal", "write_wav16"]
