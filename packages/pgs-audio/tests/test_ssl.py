from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchaudio.pipelines as pipelines
from pgs_audio_testkit import round_half_up, speechlike

from pgs.audio import create_encoder
from pgs.audio.ssl import HUBERT_VARIANTS, WAV2VEC2_VARIANTS, SslEncoder, hub_cache_file
from pgs.core.errors import ConfigError, DataError

FAST = {"random_init": True, "num_layers": 1}


@pytest.fixture(scope="module")
def hubert_large() -> SslEncoder:
    return create_encoder("hubert", **FAST)  # type: ignore[return-value]


def test_hubert_large_layout_and_frame_count(hubert_large: SslEncoder) -> None:
    wave = speechlike(2.0)
    feats = hubert_large.encode(wave, 16000)
    assert feats.features.shape == (50, 2, 1024) and feats.layout == "hubert" and feats.encoder == "hubert"
    feats.check_matches("hubert", 1024, 2)  # what a model trained on ER-NeRF's aud_hu.npy checks
    # at 25 fps the pairs layout is exactly ER-NeRF's reshape of the 50 Hz states into [N, 2, 1024]
    states = hubert_large.hidden_states(wave)
    assert states.shape == ((32000 - 400) // 320 + 1, 1024)
    torch.testing.assert_close(feats.features[:49], states[:98].reshape(49, 2, 1024))
    torch.testing.assert_close(feats.features[49], states[[98, 98]])  # past the end: the last state repeated


@pytest.mark.parametrize(("fps", "rate", "seconds"), [(30.0, 16000, 0.77), (25.0, 44100, 0.5), (12.5, 8000, 0.5)])
def test_frame_count_any_fps_and_rate(fps: float, rate: int, seconds: float) -> None:
    enc = create_encoder("wav2vec2", fps=fps, **FAST)
    wave = speechlike(seconds, rate)
    feats = enc.encode(wave, rate)
    assert feats.features.shape == (round_half_up(wave.shape[0], rate, fps), 2, 768)


def test_pairs_interpolate_between_states_at_other_fps(hubert_large: SslEncoder) -> None:
    enc = create_encoder("hubert", fps=50.0, steps=1, **FAST)
    wave = speechlike(0.6)
    feats = enc.encode(wave, 16000).features
    states = enc.hidden_states(wave)  # type: ignore[attr-defined]
    torch.testing.assert_close(feats[:29, 0], states[:29])  # 50 fps, one step: state t is frame t


def test_window_layout_is_centred_and_zero_padded() -> None:
    enc = create_encoder("wav2vec2", frame_layout="window", **FAST)
    wave = speechlike(1.2)
    feats = enc.encode(wave, 16000)
    assert feats.layout == "wav2vec2-window" and feats.features.shape == (30, 16, 768)
    states = enc.hidden_states(wave)  # type: ignore[attr-defined]
    padded = torch.cat([torch.zeros(8, 768), states, torch.zeros(8, 768)])
    for i in (0, 3, 20, 29):
        torch.testing.assert_close(feats.features[i], padded[2 * i : 2 * i + 16])


def test_chunking_with_full_context_equals_one_pass(hubert_large: SslEncoder) -> None:
    wave = speechlike(1.5)
    chunked = create_encoder("hubert", chunk_seconds=1.01, context_seconds=5.0, **FAST)
    torch.testing.assert_close(chunked.encode(wave, 16000).features, hubert_large.encode(wave, 16000).features,
                               rtol=1e-4, atol=1e-4)
    partial = create_encoder("hubert", chunk_seconds=1.01, context_seconds=0.2, **FAST)
    assert partial.encode(wave, 16000).features.shape == (38, 2, 1024)


def test_deterministic_and_seeded() -> None:
    wave = speechlike(0.5)
    a = create_encoder("wav2vec2", seed=3, **FAST).encode(wave, 16000).features
    b = create_encoder("wav2vec2", seed=3, **FAST).encode(wave, 16000).features
    c = create_encoder("wav2vec2", seed=4, **FAST).encode(wave, 16000).features
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_missing_weights_say_how_to_get_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(DataError) as info:
        create_encoder("hubert")
    message = str(info.value)
    assert "hubert_fairseq_large_ll60k_asr_ls960.pth" in message
    assert "https://download.pytorch.org/torchaudio/models/hubert_fairseq_large_ll60k_asr_ls960.pth" in message
    assert "HUBERT_ASR_LARGE" in message and str(tmp_path / "hub" / "checkpoints") in message
    with pytest.raises(DataError, match="not found"):
        create_encoder("wav2vec2", weights=str(tmp_path / "nope.pth"))


def _save_truncated(enc: SslEncoder, path: Path, legacy_names: bool, wrapper: bool) -> None:
    state = dict(enc.model.state_dict())
    if legacy_names:  # how older torch / torchaudio checkpoints name the weight-norm tensors
        state = {k.replace("parametrizations.weight.original0", "weight_g")
                 .replace("parametrizations.weight.original1", "weight_v"): v for k, v in state.items()}
    if wrapper:
        state = {f"model.{k}": v for k, v in state.items()}
        state["model.aux.weight"] = torch.zeros(29, 768)  # an ASR head is dropped
    torch.save(state, path)


@pytest.mark.parametrize(("legacy", "wrapper"), [(False, False), (True, True)])
def test_weights_file_round_trip(tmp_path: Path, legacy: bool, wrapper: bool) -> None:
    # weights must fit the architecture exactly; a 1-layer model and its own saved weights do
    source: SslEncoder = create_encoder("wav2vec2", seed=7, **FAST)  # type: ignore[assignment]
    path = tmp_path / "w.pth"
    _save_truncated(source, path, legacy, wrapper)
    loaded = create_encoder("wav2vec2", weights=str(path), num_layers=1)
    wave = speechlike(1.0)
    assert torch.equal(loaded.encode(wave, 16000).features, source.encode(wave, 16000).features)


def test_hub_cache_is_used_when_no_file_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source: SslEncoder = create_encoder("wav2vec2", seed=5, **FAST)  # type: ignore[assignment]
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    cached = hub_cache_file("wav2vec2_fairseq_base_ls960.pth")
    cached.parent.mkdir(parents=True)
    _save_truncated(source, cached, False, False)
    loaded = create_encoder("wav2vec2", num_layers=1)
    wave = speechlike(0.6)
    assert torch.equal(loaded.encode(wave, 16000).features, source.encode(wave, 16000).features)


def test_wrong_or_corrupt_weights(tmp_path: Path) -> None:
    source: SslEncoder = create_encoder("wav2vec2", **FAST)  # type: ignore[assignment]
    path = tmp_path / "base.pth"
    _save_truncated(source, path, False, False)
    with pytest.raises(DataError, match="missing keys") as info:
        create_encoder("hubert", weights=str(path), num_layers=1)  # base weights for the large model
    assert str(path) in str(info.value)
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"\x00" * 100)
    with pytest.raises(DataError, match="not a readable PyTorch weights file"):
        create_encoder("hubert", weights=str(junk))


def test_bad_configs() -> None:
    with pytest.raises(ConfigError, match="variant"):
        create_encoder("hubert", variant="huge", random_init=True)
    with pytest.raises(ConfigError, match="chunk_seconds"):
        create_encoder("hubert", chunk_seconds=0.1, random_init=True)


def test_variant_table_matches_torchaudio_bundles() -> None:
    for table in (HUBERT_VARIANTS, WAV2VEC2_VARIANTS):
        for variant in table.values():
            bundle = getattr(pipelines, variant.bundle)
            path = getattr(bundle, "_path", None)
            if path is None:
                pytest.skip("torchaudio bundles no longer expose _path")
            assert path == variant.file
            assert getattr(bundle, "_normalize_waveform", variant.normalize) == variant.normalize
            params = getattr(bundle, "_params", {})
            assert params.get("encoder_embed_dim", variant.channels) == variant.channels
