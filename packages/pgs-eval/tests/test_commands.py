"""``pgs eval`` on a tiny trained checkpoint: outputs, protocols, cross-driven table, bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import soundfile
from PIL import Image

from pgs.core.cli.main import main
from pgs.eval.report import read_report


@pytest.fixture(autouse=True)
def _no_torch_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty torch hub dir: LPIPS must not find cached AlexNet weights, so it reads 'weights not supplied'."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path_factory.mktemp("torch_home")))


@pytest.fixture(scope="module")
def novel_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1.2 s of a voiced-like signal at 16 kHz."""
    rate = 16000
    t = np.arange(int(1.2 * rate)) / rate
    wave = 0.3 * np.sin(2 * np.pi * 140 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))
    path = tmp_path_factory.mktemp("audio") / "novel speech.wav"
    soundfile.write(path, wave.astype(np.float32), rate, subtype="PCM_16")
    return path


@pytest.fixture(scope="module")
def evaluated(tiny_checkpoint: Path, novel_wav: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("eval") / "eval"
    code = main(["eval", str(tiny_checkpoint), "--out", str(out), "--audio", str(novel_wav), "--fps-frames", "3",
                 "--max-frames", "3", "--static-checkpoint", str(tiny_checkpoint), "--quiet"])
    assert code == 0
    return out


def test_metrics_json_self_driven(evaluated: Path, tiny_checkpoint: Path) -> None:
    data = json.loads((evaluated / "metrics.json").read_text())
    assert data["schema"] == "pgs-eval/metrics/1" and data["mode"] == "self-driven"
    assert data["method"] == "pixel-aware + mgf"  # the run's density + fusion names
    assert data["frames"] == 3
    run_report = json.loads((tiny_checkpoint.parent.parent / "report.json").read_text())
    assert data["train_time_s"] == pytest.approx(run_report["training_seconds"])
    metrics = data["metrics"]
    for name in ("PSNR", "SSIM"):
        assert isinstance(metrics[name]["value"], float) and math.isfinite(metrics[name]["value"]), name
    assert 0.0 < metrics["SSIM"]["value"] <= 1.0
    assert "face region" in metrics["PSNR"]["protocol"]
    # LMD: finite, predicted landmarks tracked through the model, targets exact
    lmd = metrics["LMD"]
    assert math.isfinite(lmd["value"]) and lmd["value"] >= 0
    assert "predicted = tracked" in lmd["protocol"] and "target = exact" in lmd["protocol"]
    assert data["meta"]["landmarks"]["predicted"] == "tracked"
    # no weights supplied: LSE and LPIPS say so instead of a number
    for name in ("LSE-D", "LSE-C", "LPIPS"):
        assert metrics[name]["value"] is None and metrics[name]["note"].startswith("weights not supplied"), name
    fps = metrics["FPS"]
    assert fps["value"] > 0 and "over 3 frames" in fps["protocol"]


def test_table1_layout(evaluated: Path) -> None:
    table = (evaluated / "table1.md").read_text()
    lines = table.splitlines()
    header = next(line for line in lines if line.startswith("| Method"))
    assert [c.strip() for c in header.strip("|").split("|")] == [
        "Method", "PSNR↑", "SSIM↑", "LPIPS↓", "LMD↓", "LSE-D↓", "LSE-C↑", "Time", "FPS↑"
    ]
    row = next(line for line in lines if line.startswith("| pixel-aware + mgf"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[3] == cells[5] == cells[6] == "weights not supplied"
    assert math.isfinite(float(cells[1])) and math.isfinite(float(cells[4]))  # PSNR and LMD are numbers
    assert "tracked" in table and "exact" in table


def test_strips_png(evaluated: Path) -> None:
    path = evaluated / "strips.png"
    assert path.stat().st_size > 0
    with Image.open(path) as image:
        assert image.format == "PNG"
        # 3 held-out frames of 48x48: 3 rows of (label 14 + 48) px, 5 panels wide (3 + 2 mouth crops)
        assert image.size == (5 * 48, 3 * (48 + 14))


def test_benchmark_and_baselines(evaluated: Path) -> None:
    data = json.loads((evaluated / "metrics.json").read_text())
    bench = data["benchmark"]
    assert set(bench) >= {"face_psnr", "face_ssim", "head_psnr", "mouth_psnr", "lmd", "mouth_open_r"}
    for key in ("face_psnr", "face_ssim", "head_psnr", "mouth_psnr"):
        assert isinstance(bench[key], float) and math.isfinite(bench[key]), key
    # the benchmark face region is the Table 1 face region (parsing face + inner mouth)
    assert bench["face_psnr"] == pytest.approx(data["metrics"]["PSNR"]["value"], rel=1e-9)
    assert bench["face_ssim"] == pytest.approx(data["metrics"]["SSIM"]["value"], rel=1e-6)
    assert bench["lmd"] == pytest.approx(data["metrics"]["LMD"]["value"])  # tracked vs exact (synthetic)
    assert bench["mouth_open_r"] is None or -1.0 <= bench["mouth_open_r"] <= 1.0
    assert "predicted = tracked" in data["benchmark_protocol"]["mouth_open_r"]
    assert "landmarks.npy" in data["benchmark_protocol"]["mouth_psnr"]
    baselines = data["baselines"]
    assert set(baselines["mean_image"]) == {"face_psnr", "head_psnr", "mouth_psnr"}
    assert set(baselines["static_only"]) == {"face_psnr", "head_psnr", "mouth_psnr", "face_ssim"}
    assert all(math.isfinite(v) for v in baselines["static_only"].values())
    assert data["meta"]["static"] is False and data["meta"]["static_checkpoint"]
    table = (evaluated / "benchmark.md").read_text()
    assert "mean training image" in table and "static only" in table and "mouth-open r" in table


def test_cross_driven_table_and_reports(evaluated: Path, novel_wav: Path) -> None:
    table = (evaluated / "table2.md").read_text()
    assert f"LSE-D↓ ({novel_wav.stem})" in table and "weights not supplied" in table
    report = read_report(evaluated / "cross_driven" / f"{novel_wav.stem}.json")
    assert report.mode == "cross-driven" and report.audio == novel_wav.stem
    assert report.frames == 3  # --max-frames caps the 30 frames of the 1.2 s audio
    assert report.get("LSE-D").note.startswith("weights not supplied")
    assert report.value("LMD") is None


def test_missing_checkpoint_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.pt"
    assert main(["eval", str(missing), "--out", str(tmp_path / "e")]) == 2
    err = capsys.readouterr().err
    assert "nope.pt" in err and "not found" in err
    assert not (tmp_path / "e").exists()


def test_bad_audio_exits_2_and_writes_nothing(
    tiny_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"this is not a wav file" * 20)
    out = tmp_path / "e"
    assert main(["eval", str(tiny_checkpoint), "--out", str(out), "--audio", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "broken.wav" in err and "cannot read audio" in err
    assert not out.exists()


def test_missing_static_checkpoint_exits_2(
    tiny_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "e"
    code = main(["eval", str(tiny_checkpoint), "--out", str(out), "--static-checkpoint", str(tmp_path / "no.pt")])
    assert code == 2
    assert "no.pt" in capsys.readouterr().err
    assert not out.exists()


def test_missing_weight_file_exits_2(tiny_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "e"
    code = main(["eval", str(tiny_checkpoint), "--out", str(out), "--syncnet-weights", str(tmp_path / "s.model")])
    assert code == 2
    assert "s.model" in capsys.readouterr().err
    assert not out.exists()


def test_help_has_examples(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("eval", "ablate"):
        with pytest.raises(SystemExit) as exc:
            main([command, "--help"])
        assert exc.value.code == 0
        assert "examples:" in capsys.readouterr().out


def test_ablate_takes_dotted_overrides(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "run.yaml"
    config.write_text(f"data: {{folder: {tmp_path / 'speaker'}}}\noutput: {tmp_path / 'run'}\n")
    code = main(["ablate", str(config), "stages.static_iteratons=5", "--out", str(tmp_path / "abl")])
    err = capsys.readouterr().err
    assert code == 2 and "stages.static_iteratons" in err and "Traceback" not in err
    assert not (tmp_path / "abl").exists()
