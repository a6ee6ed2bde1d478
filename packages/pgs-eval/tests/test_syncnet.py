from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pgs.core.errors import DataError
from pgs.core.interfaces import EvaluationInputs
from pgs.eval.errors import MissingWeightsError
from pgs.eval.lse import LseConfig, LseEvaluator
from pgs.eval.syncnet.mfcc import mfcc
from pgs.eval.syncnet.model import SyncNet, load_syncnet
from pgs.eval.syncnet.pipeline import crop_frames, median_filter, prepare_audio, sync_scores_for_frames
from pgs.eval.syncnet.scoring import offset_distances, scores_from_distances

# syncnet_python SyncNetModel.S (num_layers_in_fc_layers=1024): parameter names and shapes, written out
# independently of our module from the published architecture (conv / batch-norm positions in each Sequential).
_CONVS = {
    "netcnnaud": [(0, (64, 1, 3, 3)), (4, (192, 64, 3, 3)), (8, (384, 192, 3, 3)), (11, (256, 384, 3, 3)),
                  (14, (256, 256, 3, 3)), (18, (512, 256, 5, 4))],
    "netcnnlip": [(0, (96, 3, 5, 7, 7)), (4, (256, 96, 1, 5, 5)), (8, (256, 256, 1, 3, 3)),
                  (11, (256, 256, 1, 3, 3)), (14, (256, 256, 1, 3, 3)), (18, (512, 256, 1, 6, 6))],
}  # fmt: skip


def published_state_dict(seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    state: dict[str, torch.Tensor] = {}

    def bn(prefix: str, n: int) -> None:
        state[f"{prefix}.weight"] = 1 + 0.1 * torch.randn(n, generator=g)
        state[f"{prefix}.bias"] = 0.1 * torch.randn(n, generator=g)
        state[f"{prefix}.running_mean"] = 0.1 * torch.randn(n, generator=g)
        state[f"{prefix}.running_var"] = 0.5 + torch.rand(n, generator=g)

    for net, convs in _CONVS.items():
        for index, shape in convs:
            fan_in = int(np.prod(shape[1:]))
            state[f"{net}.{index}.weight"] = torch.randn(shape, generator=g) * (2.0 / fan_in) ** 0.5
            state[f"{net}.{index}.bias"] = 0.01 * torch.randn(shape[0], generator=g)
            bn(f"{net}.{index + 1}", shape[0])
    for head in ("netfcaud", "netfclip"):
        state[f"{head}.0.weight"] = torch.randn(512, 512, generator=g) / 512**0.5
        state[f"{head}.0.bias"] = torch.zeros(512)
        bn(f"{head}.1", 512)
        state[f"{head}.3.weight"] = torch.randn(1024, 512, generator=g) / 512**0.5
        state[f"{head}.3.bias"] = torch.zeros(1024)
    return state


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("syncnet") / "syncnet_v2.model"
    torch.save(published_state_dict(), path)  # old checkpoints lack num_batches_tracked: so does this one
    return path


# ------------------------------------------------------------------------------------------------ model


def test_published_state_dict_loads_name_by_name(weights_file: Path) -> None:
    state = published_state_dict()
    model = load_syncnet(weights_file)
    own = model.state_dict()
    assert {k for k in own if not k.endswith("num_batches_tracked")} == set(state)
    for name, value in state.items():
        assert torch.equal(own[name], value), name
    assert not model.training
    with torch.no_grad():
        assert model.forward_audio(torch.randn(2, 1, 13, 20)).shape == (2, 1024)
        assert model.forward_lips(torch.rand(1, 3, 5, 224, 224) * 255).shape == (1, 1024)


def test_bad_weight_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(MissingWeightsError, match=r"syncnet_v2\.model"):
        load_syncnet(None)
    with pytest.raises(MissingWeightsError, match="not found"):
        load_syncnet(tmp_path / "missing.model")
    state = published_state_dict()
    state["netcnnlip.18.weight"] = torch.zeros(512, 256, 1, 5, 5)
    torch.save(state, tmp_path / "shape.model")
    with pytest.raises(DataError, match=r"netcnnlip\.18\.weight has shape \[512, 256, 1, 5, 5\]"):
        load_syncnet(tmp_path / "shape.model")
    state = published_state_dict()
    del state["netfcaud.3.bias"]
    torch.save(state, tmp_path / "missing_key.model")
    with pytest.raises(DataError, match="lacks 1 tensors"):
        load_syncnet(tmp_path / "missing_key.model")
    torch.save({"fc.weight": torch.zeros(2)}, tmp_path / "other.model")
    with pytest.raises(DataError, match="unexpected keys"):
        load_syncnet(tmp_path / "other.model")


def test_wrong_input_sizes_name_the_expected_layout() -> None:
    model = SyncNet().eval()
    with pytest.raises(DataError, match="224x224"):
        model.forward_lips(torch.zeros(1, 3, 5, 96, 96))
    with pytest.raises(DataError, match=r"\[N, 1, 13, 20\]"):
        model.forward_audio(torch.zeros(1, 1, 13, 16))


# ------------------------------------------------------------------------------------------------ scoring


def _calc_pdist_reference(video: torch.Tensor, audio: torch.Tensor, vshift: int) -> torch.Tensor:
    """syncnet_python's loop: F.pairwise_distance of video[i] against padded audio rows i..i+2v."""
    width = 2 * vshift + 1
    padded = torch.cat([torch.zeros(vshift, audio.shape[1]), audio, torch.zeros(vshift, audio.shape[1])])
    rows = [
        torch.nn.functional.pairwise_distance(video[[i], :].repeat(width, 1), padded[i : i + width, :])
        for i in range(video.shape[0])
    ]
    return torch.stack(rows)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 12), vshift=st.integers(1, 15))
def test_offset_distances_match_calc_pdist(seed: int, n: int, vshift: int) -> None:
    g = torch.Generator().manual_seed(seed)
    video = torch.randn(n, 16, generator=g, dtype=torch.float64)
    audio = torch.randn(n, 16, generator=g, dtype=torch.float64)
    ours = offset_distances(video, audio, vshift)
    assert torch.allclose(ours, _calc_pdist_reference(video, audio, vshift), atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(-8, 8))
def test_known_offset_is_recovered(seed: int, k: int) -> None:
    g = torch.Generator().manual_seed(seed)
    n, d = 40, 32
    stream = torch.randn(n + 20, d, generator=g, dtype=torch.float64)  # stream[j + 10] is time j
    audio = stream[10 : 10 + n]
    video = stream[10 + k : 10 + k + n] + 0.05 * torch.randn(n, d, generator=g, dtype=torch.float64)
    scores = scores_from_distances(offset_distances(video, audio))
    # video window i matches audio window i + k -> minimum at column 15 + k -> offset 15 - (15 + k)
    assert scores.offset == -k
    mean = offset_distances(video, audio).mean(dim=0).numpy()
    assert scores.lse_d == pytest.approx(mean.min())
    assert scores.lse_c == pytest.approx(np.median(mean) - mean.min())
    assert scores.lse_c > 0 and scores.windows == n and scores.mean_distances.shape == (31,)


def test_confidence_is_median_minus_minimum_on_a_hand_example() -> None:
    # 1 window, 3 offsets (vshift 1): distances 5, 2, 4 -> min 2 at index 1 (offset 0), median 4, conf 2
    scores = scores_from_distances(torch.tensor([[5.0, 2.0, 4.0]]))
    assert (scores.lse_d, scores.lse_c, scores.offset) == (2.0, 2.0, 0)
    with pytest.raises(DataError):
        scores_from_distances(torch.zeros(3, 4))


# ------------------------------------------------------------------------------------------------ MFCC


@pytest.mark.parametrize("length", [150, 400, 401, 3200, 16000, 12345])
def test_mfcc_matches_python_speech_features(length: int) -> None:
    psf = pytest.importorskip("python_speech_features")
    x = np.round(np.random.default_rng(length).standard_normal(length) * 4000)
    ours = mfcc(x, 16000)
    ref = psf.mfcc(x, 16000)
    assert ours.shape == ref.shape == (1 if length <= 400 else 1 + int(np.ceil((length - 400) / 160)), 13)
    assert np.allclose(ours, ref, atol=1e-8)


def test_mfcc_scaling_moves_only_the_energy_coefficient() -> None:
    # scaling the signal by c multiplies every power by c^2: log-filterbanks shift by 2 ln c, which the
    # orthonormal DCT puts into coefficient 0 only, and coefficient 0 (log energy) shifts by 2 ln c.
    x = np.random.default_rng(0).standard_normal(4000) * 1000
    a, b = mfcc(x), mfcc(3.0 * x)
    assert np.allclose(b[:, 1:], a[:, 1:], atol=1e-9)
    assert np.allclose(b[:, 0] - a[:, 0], 2 * np.log(3.0), atol=1e-9)


def test_median_filter_matches_scipy_medfilt() -> None:
    signal = pytest.importorskip("scipy.signal")
    v = np.random.default_rng(1).standard_normal(40) + 5
    assert np.allclose(median_filter(v, 13), signal.medfilt(v, kernel_size=13))


# ------------------------------------------------------------------------------------------------ pipeline


def test_prepare_audio_gives_int16_values_at_16k() -> None:
    ints = np.array([0, 1, -1, 32767, -32768, 1234], dtype=np.float64)
    assert np.array_equal(prepare_audio(torch.tensor(ints / 32768.0), 16000), ints)
    resampled = prepare_audio(torch.zeros(48000), 48000)
    assert resampled.shape == (16000,)
    with pytest.raises(DataError, match="mono"):
        prepare_audio(torch.zeros(2, 100), 16000)


def test_resize_crop_is_bgr_0_255() -> None:
    frames = torch.zeros(2, 50, 60, 3)
    frames[..., 0] = 1.0  # red
    frames[1, ..., 2] = 0.5
    out = crop_frames(frames, "resize")
    assert out.shape == (2, 3, 224, 224)
    assert (out[:, 2] == 255).all() and (out[0, 0] == 0).all() and (out[1, 0] == 128).all()


def test_face_box_crop_pads_with_grey_110_outside_the_image() -> None:
    frames = torch.full((1, 100, 100, 3), 0.2)
    centred = np.array([[10.0, 50.0, 50.0]])  # bs, cx, cy: crop 50-10 .. 50+18 rows, 50-14 .. 50+14 cols
    corner = np.array([[30.0, 5.0, 5.0]])
    inside = crop_frames(frames, "face-box", centred)
    assert torch.all(inside == 51)  # round(0.2 * 255)
    padded = crop_frames(frames, "face-box", corner)
    assert (padded == 110).any() and (padded == 51).any()


class _RecordingNet(SyncNet):
    """Records what the pipeline feeds each stream; embeddings encode the frame and MFCC positions."""

    def __init__(self) -> None:
        super().__init__(embedding=4)
        self.lips: list[torch.Tensor] = []
        self.audio: list[torch.Tensor] = []

    def forward_lips(self, clips: torch.Tensor) -> torch.Tensor:
        self.lips.append(clips.clone())
        return clips[:, 0, :, 0, 0][:, :4]

    def forward_audio(self, mfcc_windows: torch.Tensor) -> torch.Tensor:
        self.audio.append(mfcc_windows.clone())
        return mfcc_windows[:, 0, 0, :4]


def test_windows_take_five_frames_and_twenty_mfcc_steps() -> None:
    frames_n = 12
    # frame f is a constant image whose blue channel is f (BGR channel 0 = blue)
    frames = torch.zeros(frames_n, 16, 16, 3)
    frames[..., 2] = torch.arange(frames_n).float()[:, None, None] / 255.0
    audio = torch.randn(frames_n * 640, generator=torch.Generator().manual_seed(0)) * 0.1
    net = _RecordingNet()
    scores = sync_scores_for_frames(net, frames, audio, 16000, batch_size=3)
    windows = frames_n - 5
    assert scores.windows == windows
    lips = torch.cat(net.lips)
    audio_in = torch.cat(net.audio)
    assert lips.shape == (windows, 3, 5, 224, 224) and audio_in.shape == (windows, 1, 13, 20)
    cc = mfcc(prepare_audio(audio, 16000), 16000).T
    for i in range(windows):
        assert lips[i, 0, :, 0, 0].tolist() == [float(i + t) for t in range(5)]
        assert torch.allclose(audio_in[i, 0].double(), torch.from_numpy(cc[:, 4 * i : 4 * i + 20]), atol=1e-3)


def test_pipeline_rejects_wrong_fps_and_short_clips() -> None:
    net = _RecordingNet()
    with pytest.raises(DataError, match="25 fps"):
        sync_scores_for_frames(net, torch.rand(10, 8, 8, 3), torch.zeros(6400), 16000, fps=30)
    with pytest.raises(DataError, match="too short"):
        sync_scores_for_frames(net, torch.rand(5, 8, 8, 3), torch.zeros(6400), 16000)
    with pytest.raises(DataError, match="too short"):
        sync_scores_for_frames(net, torch.rand(20, 8, 8, 3), torch.zeros(3000), 16000)
    with pytest.raises(DataError, match="needs landmarks"):
        sync_scores_for_frames(net, torch.rand(10, 8, 8, 3), torch.zeros(6400), 16000, crop="face-box")


# ------------------------------------------------------------------------------------------------ evaluator


def test_lse_without_weights_skips_or_errors() -> None:
    inputs = EvaluationInputs(predicted=torch.rand(8, 16, 16, 3), audio=torch.zeros(5120))
    skipped = LseEvaluator(LseConfig(on_missing="skip")).evaluate(inputs)
    assert [(m.name, m.value, m.higher_is_better, m.note) for m in skipped] == [
        ("LSE-D", None, False, "weights not supplied"),
        ("LSE-C", None, True, "weights not supplied"),
    ]
    with pytest.raises(MissingWeightsError, match=r"syncnet_v2\.model"):
        LseEvaluator(LseConfig()).evaluate(inputs)


def test_lse_with_random_weights_end_to_end(weights_file: Path) -> None:
    g = torch.Generator().manual_seed(0)
    frames = torch.rand(8, 32, 32, 3, generator=g)
    audio = 0.1 * torch.randn(8 * 640, generator=g)
    evaluator = LseEvaluator(LseConfig(weights=weights_file, device="cpu"))
    d, c = evaluator.evaluate(EvaluationInputs(predicted=frames, audio=audio))
    assert d.name == "LSE-D" and c.name == "LSE-C"
    assert d.value > 0 and c.value >= 0
    assert "AV offset" in d.note and "3 windows" in d.note
    with pytest.raises(DataError, match="no audio"):
        evaluator.evaluate(EvaluationInputs(predicted=frames))
