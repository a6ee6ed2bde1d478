"""The real-speaker benchmark: regions, mouth opening, Pearson r, mean-image baseline, landmarker lookup, LMD."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from pgs.eval.benchmark import (
    BenchmarkRegions,
    dilate,
    image_scores,
    mean_training_image,
    mouth_masks,
    mouth_opening,
    pearson_r,
    polygon_mask,
    region_psnr,
)
from pgs.eval.figures import crop_boxes_from_masks, frame_strip_image
from pgs.eval.report import EvaluationReport
from pgs.eval.speaker_landmarks import LANDMARKER_ENV, NO_LANDMARKER, resolve_landmarker

#: The real clip beside the checkout (../shared/data), as in conftest.py.
CLIP = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "hdtf_RD_Radio34_000.mp4"

# ---------------------------------------------------------------- regions


def _rectangle_lips(x0: float, y0: float, x1: float, y1: float) -> torch.Tensor:
    """68 landmarks (NaN except the outer lip 48-59, which walks a rectangle's outline)."""
    lms = torch.full((68, 2), float("nan"))
    top = [(x0 + (x1 - x0) * t / 5, y0) for t in range(6)]  # 48-53 along the top, left to right
    bottom = [(x1 - (x1 - x0) * t / 5, y1) for t in range(6)]  # 54-59 along the bottom, right to left
    lms[48:60] = torch.tensor(top + bottom)
    lms[60:68] = torch.tensor([[20.0, 24.0]] * 8)
    return lms


def test_mouth_region_from_a_known_lip_polygon() -> None:
    lms = _rectangle_lips(10.0, 20.0, 30.0, 28.0)
    inner = torch.zeros(1, 40, 50, dtype=torch.bool)
    inner[0, 35, 45] = True  # an inner-mouth pixel outside the lips: kept by the union
    masks, description = mouth_masks(inner, lms[None])
    expected = torch.zeros(40, 50, dtype=torch.bool)
    expected[20:28, 10:30] = True  # pixel centres (x + 0.5, y + 0.5) inside the rectangle
    expected[35, 45] = True
    assert torch.equal(masks[0], expected)
    assert "outer-lip polygon" in description and "landmarks.npy" in description


def test_polygon_mask_matches_matplotlib_on_a_concave_polygon() -> None:
    from matplotlib.path import Path as MplPath

    poly = np.array([[3.2, 4.1], [25.7, 2.3], [14.1, 11.6], [27.3, 26.2], [5.4, 22.8], [9.9, 13.3]])
    mask = polygon_mask(torch.from_numpy(poly), 30, 32).numpy()
    ys, xs = np.mgrid[0:30, 0:32]
    centres = np.stack([xs.ravel() + 0.5, ys.ravel() + 0.5], axis=1)
    reference = MplPath(poly).contains_points(centres).reshape(30, 32)
    assert mask.sum() > 100
    assert np.array_equal(mask, reference)


def test_mouth_region_without_landmarks_grows_the_inner_mouth() -> None:
    inner = torch.zeros(2, 20, 20, dtype=torch.bool)
    inner[0, 10, 10] = True
    masks, description = mouth_masks(inner, None, grow=3)
    assert int(masks[0].sum()) == 49 and bool(masks[0, 7:14, 7:14].all())
    assert not bool(masks[1].any())
    assert "grown by 3 px" in description
    assert torch.equal(dilate(inner, 0), inner)


# ---------------------------------------------------------------- opening and correlation


def test_mouth_opening_is_scale_free() -> None:
    lms = torch.zeros(1, 68, 2)
    lms[0, 36] = torch.tensor([0.0, 0.0])
    lms[0, 45] = torch.tensor([40.0, 0.0])
    for upper, lower, gap in ((61, 67, 2.0), (62, 66, 4.0), (63, 65, 6.0)):
        lms[0, upper] = torch.tensor([10.0, 50.0])
        lms[0, lower] = torch.tensor([10.0, 50.0 + gap])
    assert float(mouth_opening(lms)[0]) == pytest.approx(4.0 / 40.0)
    assert float(mouth_opening(lms * 3.0)[0]) == pytest.approx(4.0 / 40.0)


def test_pearson_r_equals_numpy_corrcoef() -> None:
    a = np.array([0.10, 0.32, 0.05, 0.41, 0.22, 0.18, 0.37, 0.02])
    b = np.array([0.12, 0.25, 0.09, 0.44, 0.15, 0.21, 0.30, 0.07])
    r, note = pearson_r(a, b)
    assert r == pytest.approx(np.corrcoef(a, b)[0, 1], abs=1e-12) and note == ""
    # NaN positions (no face found) are left out and counted
    a2, b2 = np.append(a, np.nan), np.append(b, 0.5)
    r2, note2 = pearson_r(a2, b2)
    assert r2 == pytest.approx(r, abs=1e-12) and "1 of 9 frames" in note2


def test_pearson_r_is_none_for_a_constant_ground_truth() -> None:
    r, note = pearson_r(np.array([0.1, 0.2, 0.3, 0.4]), np.full(4, 0.25))
    assert r is None and "ground-truth opening does not vary" in note
    assert pearson_r(np.array([0.1, np.nan]), np.array([0.2, 0.3]))[0] is None


# ---------------------------------------------------------------- mean image baseline


class _ImageSplit:
    """The part of `SpeakerDataset` that `mean_training_image` uses."""

    def __init__(self, images: torch.Tensor) -> None:
        self.images = images

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def load_image(self, index: int) -> torch.Tensor:
        return self.images[index].clone()


def test_mean_image_baseline_psnr_equals_a_direct_computation() -> None:
    gen = torch.Generator().manual_seed(0)
    train = torch.rand(9, 12, 14, 3, generator=gen)
    held_out = torch.rand(3, 12, 14, 3, generator=gen)
    masks = torch.zeros(3, 12, 14, dtype=torch.bool)
    masks[0, 2:6, 3:9] = True
    masks[1, 5:12, 0:4] = True
    masks[2, :, 7] = True
    mean, used = mean_training_image(_ImageSplit(train), max_images=5)  # type: ignore[arg-type]
    picks = [0, 2, 4, 6, 8]  # 5 evenly spaced of 9
    assert used == 5
    assert torch.allclose(mean, train[picks].mean(dim=0), atol=1e-6)
    direct = []
    for f in range(3):
        err = (mean.double().numpy() - held_out[f].double().numpy())[masks[f].numpy()]
        direct.append(-10.0 * math.log10(float((err**2).mean())))
    value, frames = region_psnr(mean, held_out, masks)
    assert frames == 3 and value == pytest.approx(float(np.mean(direct)), abs=1e-9)
    regions = BenchmarkRegions(masks, masks, masks, "test")
    scores = image_scores(mean, held_out, regions, ssim=False)
    assert set(scores) == {"face_psnr", "head_psnr", "mouth_psnr"}
    assert scores["mouth_psnr"] == pytest.approx(value)


def test_region_psnr_skips_empty_regions() -> None:
    pred, target = torch.zeros(2, 4, 4, 3), torch.full((2, 4, 4, 3), 0.1)
    masks = torch.zeros(2, 4, 4, dtype=torch.bool)
    assert region_psnr(pred, target, masks) == (None, 0)
    masks[1, 0, 0] = True
    value, used = region_psnr(pred, target, masks)
    assert used == 1 and value == pytest.approx(20.0)


# ---------------------------------------------------------------- report and strips


def test_report_round_trip_keeps_benchmark_and_baselines() -> None:
    report = EvaluationReport("m", "self-driven", [], 3)
    report.benchmark = {"face_psnr": 30.0, "mouth_open_r": None, "head_psnr": math.inf}
    report.benchmark_protocol = {"face_psnr": "p", "notes": {"mouth_open_r": "n/a"}}
    report.baselines = {"mean_image": {"face_psnr": 12.5}}
    data = json.loads(json.dumps(report.to_dict()))
    assert data["benchmark"]["head_psnr"] == "inf" and data["baselines"]["mean_image"]["face_psnr"] == 12.5
    back = EvaluationReport.from_dict(data)
    assert back.benchmark == report.benchmark and back.baselines == report.baselines
    assert back.benchmark_protocol == report.benchmark_protocol


def test_strip_with_mouth_crops() -> None:
    pred = torch.rand(2, 20, 24, 3)
    masks = torch.zeros(2, 20, 24, dtype=torch.bool)
    masks[:, 12:15, 8:14] = True
    boxes = crop_boxes_from_masks(masks)
    x0, y0, x1, y1 = boxes[0].tolist()
    assert x1 - x0 == y1 - y0 and x0 <= 8 and x1 >= 14 and y0 <= 12 and y1 >= 15
    image = frame_strip_image(pred, pred, crop_boxes=boxes)
    assert image.shape == (2 * (20 + 14), 5 * 24, 3)


# ---------------------------------------------------------------- landmarker lookup


def test_landmarker_lookup_order(tmp_path: Path) -> None:
    pytest.importorskip("mediapipe")
    model = tmp_path / "face_landmarker.task"
    model.write_bytes(b"x")
    other = tmp_path / "env.task"
    other.write_bytes(b"x")
    folder = tmp_path / "speaker"
    folder.mkdir()
    env = {LANDMARKER_ENV: str(other)}
    assert resolve_landmarker(None, folder, {}).path is None
    assert NO_LANDMARKER in resolve_landmarker(None, folder, {}).note
    assert resolve_landmarker(None, folder, env).origin == LANDMARKER_ENV
    (folder / "prep.json").write_text(json.dumps({"frames": 3, "landmarker": str(model)}))
    chosen = resolve_landmarker(None, folder, env)
    assert chosen.path == model and chosen.origin == "prep.json"  # prep.json beats the environment
    assert resolve_landmarker(other, folder, {}).origin == "--landmarker"  # the flag beats prep.json
    (folder / "prep.json").write_text(json.dumps({"landmarker": str(tmp_path / "moved.task")}))
    fallback = resolve_landmarker(None, folder, env)
    assert fallback.path == other and "moved.task" in fallback.note


# ---------------------------------------------------------------- LMD on a prepped real folder, no flags


@pytest.fixture(scope="module")
def prepped(tmp_path_factory: pytest.TempPathFactory, face_landmarker_path: Path) -> Path:
    """The first 44 frames of the real clip prepped at 128 px, prep.json naming the landmarker."""
    from pgs.core.cli.main import main

    if not CLIP.is_file():
        pytest.skip(f"shared test file {CLIP} is absent (see shared/data/README.md)")
    model = face_landmarker_path
    out = tmp_path_factory.mktemp("prep") / "real"
    args = ["prep", str(CLIP), str(out), "--landmarker", str(model), "--size", "128", "--max-frames", "44",
            "--workers", "1", "--quiet"]
    if main(args) != 0:
        pytest.skip("pgs prep failed on the real clip (pgs-prep's problem, see its output)")
    info = json.loads((out / "prep.json").read_text())
    if "landmarker" not in info:  # what pgs prep records (older preps lack the key)
        info["landmarker"] = str(model.resolve())
        (out / "prep.json").write_text(json.dumps(info))
    return out


class _TruthHead:
    """A 'model' whose renders are the ground truth (so LMD equals the detector floor)."""

    def eval(self) -> _TruthHead:
        return self

    def cache_canonical(self) -> None:
        pass

    def render_frame(self, frame: object, static: bool = False) -> SimpleNamespace:
        return SimpleNamespace(image=frame.image[None])  # type: ignore[attr-defined]


def test_lmd_on_a_prepped_folder_needs_no_flags(prepped: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pgs.core.data.dataset import SpeakerDataset
    from pgs.eval.selfdriven import EvalOptions, evaluate_self_driven

    monkeypatch.delenv(LANDMARKER_ENV, raising=False)
    train = SpeakerDataset.open(prepped, "train", audio=None)
    val = SpeakerDataset.open(prepped, "val", audio=None)
    options = EvalOptions(fps_frames=0, fps_warmup=0)  # no --landmarker
    result = evaluate_self_driven(_TruthHead(), train, val, options, method="truth")  # type: ignore[arg-type]
    report = result.report
    lmd = report.get("LMD")
    assert lmd is not None and lmd.value is not None and math.isfinite(lmd.value)
    assert "target = the folder's landmarks.npy" in lmd.protocol and "model from prep.json" in lmd.protocol
    assert report.meta["landmarks"]["landmarker_from"] == "prep.json"
    bench = report.benchmark
    assert bench["lmd"] == pytest.approx(lmd.value)
    assert bench["lmd"] == pytest.approx(bench["lmd_detector_floor"])  # renders = truth
    assert bench["lmd"] < 3.0  # MediaPipe on the frames it was prepped from, 128 px
    if bench["mouth_open_r"] is not None:
        assert bench["mouth_open_r"] == pytest.approx(1.0, abs=1e-9)
    assert math.isinf(bench["face_psnr"]) and math.isinf(bench["mouth_psnr"])
    assert "landmarks.npy" in report.benchmark_protocol["mouth_psnr"]
    mean = report.baselines["mean_image"]
    assert all(math.isfinite(mean[k]) for k in ("face_psnr", "head_psnr", "mouth_psnr"))
