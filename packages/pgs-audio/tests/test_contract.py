from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path

import numpy as np
import pytest
import torch

from pgs.audio import create_encoder, encode_file
from pgs.core.errors import PluginError
from pgs.core.registry import registry
from pgs.core.testing import ContractError, check_audio_encoder
from pgs.core.testing.audio import contract_signal

NAMES = ["hubert", "mel", "mfcc", "npy", "wav2vec2"]


def test_entry_points_are_registered() -> None:
    group = entry_points(group="pgs.audio_encoders")
    declared = {ep.name: ep.value for ep in group if ep.value.startswith("pgs.audio")}
    assert sorted(declared) == NAMES
    assert set(NAMES) <= set(registry("pgs.audio_encoders").names())


@pytest.mark.parametrize(
    ("name", "params"),
    [("mel", {}), ("mfcc", {"n_mfcc": 20, "n_mels": 40}), ("hubert", {"random_init": True, "num_layers": 1})],
)
def test_contract(name: str, params: dict[str, object]) -> None:
    spec = registry("pgs.audio_encoders").get(name)
    check_audio_encoder(spec, spec.config_class(**params))


def test_npy_contract_without_waveform_checks(tmp_path: Path) -> None:
    path = tmp_path / "aud_ds.npy"
    np.save(path, np.zeros((33, 16, 29), np.float32))
    spec = registry("pgs.audio_encoders").get("npy")
    enc = check_audio_encoder(spec, spec.config_class(path=str(path)), waveform_checks=False)
    assert (enc.layout, enc.steps, enc.channels) == ("deepspeech", 16, 29)
    # the waveform checks fail for it: its features do not come from the audio
    with pytest.raises(ContractError, match="other audio"):
        check_audio_encoder(spec, spec.config_class(path=str(path)))


def test_contract_catches_a_wrong_frame_count() -> None:
    from pgs.audio.spectral import MEL_SPEC, MelConfig, SpectralEncoder
    from pgs.core.registry import ComponentSpec

    class Sloppy(SpectralEncoder):
        def _features(self, waveform: torch.Tensor, num_frames: int) -> torch.Tensor:
            return super()._features(waveform, num_frames + 1)

    spec = ComponentSpec("mel", MEL_SPEC.group, MelConfig, lambda c: Sloppy(c, "mel"), "wrong count")
    with pytest.raises(ContractError, match=r"round\(duration \* fps\)"):
        check_audio_encoder(spec)


def test_contract_signal_is_deterministic() -> None:
    assert torch.equal(contract_signal(0.3, 16000), contract_signal(0.3, 16000))


def test_encode_file_convenience_and_unknown_name(tmp_path: Path) -> None:
    import soundfile as sf

    sf.write(tmp_path / "a.wav", contract_signal(1.0, 16000).numpy(), 16000)
    feats = encode_file(tmp_path / "a.wav", encoder="mfcc", fps=30.0, n_mfcc=20)
    assert feats.features.shape == (30, 16, 20) and feats.fps == 30.0
    with pytest.raises(PluginError, match="mel"):
        create_encoder("mell")
