from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from pgs.core.errors import DataError, PluginError
from pgs.core.interfaces import MetricValue
from pgs.eval import (
    TABLE3_VARIANTS,
    AblationRow,
    EvaluationReport,
    evaluate_frames,
    frame_strip_png,
    read_report,
    table1_markdown,
    table2_markdown,
    table3_markdown,
    write_report,
)
from pgs.eval.figures import density_picture_png, frame_strip_image
from pgs.eval.tables import format_duration


def _clip(seed: int = 0, frames: int = 8, size: int = 40) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    target = torch.rand(frames, size, size, 3, generator=g)
    predicted = (target + 0.05 * torch.randn(target.shape, generator=g)).clamp(0, 1)
    masks = torch.zeros(frames, size, size, dtype=torch.bool)
    masks[:, 4:36, 6:34] = True
    lm_t = 10 + 20 * torch.rand(frames, 68, 2, generator=g)
    lm_p = lm_t + 0.5 * torch.randn(frames, 68, 2, generator=g)
    return {"predicted": predicted, "target": target, "masks": masks, "lm_p": lm_p, "lm_t": lm_t}


def _self_report(method: str = "PGSTalker", **kwargs: object) -> EvaluationReport:
    c = _clip()
    return evaluate_frames(
        c["predicted"],
        c["target"],
        metrics=["psnr", "ssim", "lmd", "lse", "fps"],
        region_masks=c["masks"],
        predicted_landmarks=c["lm_p"],
        target_landmarks=c["lm_t"],
        audio=torch.zeros(8 * 640),
        method=method,
        **kwargs,
    )


def test_self_driven_report_on_a_synthetic_speaker_uses_exact_landmarks_and_skips_lse() -> None:
    report = _self_report(train_time_s=1800.0)
    assert report.mode == "self-driven" and report.frames == 8
    assert [m.name for m in report.metrics] == ["PSNR", "SSIM", "LMD", "LSE-D", "LSE-C", "FPS"]
    assert "landmarks: exact" in report.get("LMD").protocol
    assert report.value("LSE-D") is None and report.get("LSE-C").note == "weights not supplied"
    table = table1_markdown([report])
    header, _, row = table.splitlines()[2:5]
    assert header == "| Method | PSNR↑ | SSIM↑ | LPIPS↓ | LMD↓ | LSE-D↓ | LSE-C↑ | Time | FPS↑ |"
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[0] == "PGSTalker"
    assert cells[1] == f"{report.value('PSNR'):.2f}" and cells[2] == f"{report.value('SSIM'):.4f}"
    assert cells[3] == "–"  # LPIPS not evaluated
    assert cells[4] == f"{report.value('LMD'):.3f}"
    assert cells[5] == cells[6] == "weights not supplied"
    assert cells[7] == "30 min"
    assert cells[8].startswith("n/a [")  # FPS without a renderer: a numbered note
    assert "no renderer supplied" in table
    assert "Protocol: self-driven" in table and "- LMD: " in table and "- PSNR: " in table


def test_metrics_json_round_trip_and_atomic_write(tmp_path: Path) -> None:
    report = _self_report()
    report.metrics.append(MetricValue("PSNR-identical", math.inf, True, "test", "MSE = 0"))
    report.meta["checkpoint"] = "ckpt.pt"
    paths = write_report(report, tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["metrics.json", "table1.md"]
    data = json.loads(paths["metrics"].read_text())
    assert data["metrics"]["PSNR-identical"]["value"] == "inf"
    assert data["metrics"]["LSE-D"]["value"] is None
    back = read_report(tmp_path / "out")
    assert back == report
    assert paths["table"].read_text() == table1_markdown([report])
    with pytest.raises(DataError, match="not found"):
        read_report(tmp_path / "nothing")
    (tmp_path / "bad.json").write_text('{"schema": "other"}')
    with pytest.raises(DataError, match="not a pgs-eval metrics file"):
        read_report(tmp_path / "bad.json")


def test_write_report_leaves_no_partial_file_when_writing_fails(tmp_path: Path, monkeypatch) -> None:
    import pgs.core.io.atomic as atomic

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(atomic.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_report(_self_report(), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_cross_driven_reports_and_table2() -> None:
    c = _clip(1)
    rows = []
    for method in ("PGSTalker", "TalkingGaussian"):
        for audio in ("A", "B"):
            report = evaluate_frames(c["predicted"], None, audio=torch.zeros(8 * 640), method=method, audio_name=audio)
            rows.append(report)
    first = rows[0]
    assert first.mode == "cross-driven"
    assert first.get("LMD").value is None and "no ground truth" in first.get("LMD").note
    table = table2_markdown(rows)
    lines = table.splitlines()
    assert lines[2] == "| Method | LSE-D↓ (A) | LSE-C↑ (A) | LSE-D↓ (B) | LSE-C↑ (B) |"
    assert lines[4] == "| PGSTalker |" + " weights not supplied |" * 4
    assert lines[5].startswith("| TalkingGaussian |")
    assert "LMD: n/a" in table and "cross-driven" in table


def test_table3_has_the_five_variants_and_flags_differing_protocols() -> None:
    assert [v.name for v in TABLE3_VARIANTS] == [
        "gradient + concat-mlp",
        "pixel-aware + concat-mlp",
        "pixel-aware + MGF w/o mouth module",
        "w/o face module",
        "full (pixel-aware + MGF)",
    ]
    rows = []
    for i, variant in enumerate(TABLE3_VARIANTS):
        report = EvaluationReport(
            method=variant.name,
            mode="self-driven",
            metrics=[MetricValue("PSNR", 30.0 + i, True, "face region" if i < 4 else "full frame")],
            frames=10,
        )
        rows.append(AblationRow(variant, report, num_gaussians=1000 * (i + 1)))
    table = table3_markdown(rows)
    body = [line for line in table.splitlines() if line.startswith("| ") and "Variant" not in line][1:]
    assert len(body) == 5
    assert body[4].startswith("| full (pixel-aware + MGF) | pixel-aware | mgf / mgf | 34.00 |")
    assert body[0].endswith("| 1,000 |")
    assert "PROTOCOLS DIFFER" in table and "full (pixel-aware + MGF): full frame" in table


def test_unknown_metric_and_stray_config_are_clear_errors() -> None:
    c = _clip()
    with pytest.raises(PluginError, match="Installed"):
        evaluate_frames(c["predicted"], c["target"], metrics=["psnrr"])
    with pytest.raises(DataError, match="not selected"):
        evaluate_frames(c["predicted"], c["target"], metrics=["psnr"], configs={"ssim": {"border": "valid"}})


def test_format_duration() -> None:
    assert [format_duration(s) for s in (None, 42, 600, 9000)] == ["–", "42 s", "10 min", "2.5 h"]


def test_frame_strip_png_layout_and_error_panel(tmp_path: Path) -> None:
    c = _clip(2, frames=6, size=32)
    pred = c["target"].clone()
    pred[3, :16] = (pred[3, :16] + 0.5).clamp(0, 1)  # an error in the top half of frame 3
    path = frame_strip_png(pred, c["target"], tmp_path / "strips" / "strip.png", frames=[0, 3])
    image = np.asarray(Image.open(path).convert("RGB"))
    assert image.shape == (2 * (32 + 14), 3 * 32, 3)
    row0 = image[14 : 14 + 32]
    row1 = image[46 + 14 : 46 + 14 + 32]
    assert np.abs(row0[:, :32].astype(int) - np.round(c["target"][0].numpy() * 255)).max() <= 1
    assert row0[:, 64:].max() <= 5  # identical frame: black heat
    assert row1[:16, 64:].mean() > row1[16:, 64:].mean() + 50  # error where it was injected
    with pytest.raises(DataError, match="outside"):
        frame_strip_image(pred, c["target"], frames=[9])
    with pytest.raises(DataError, match="PNG"):
        frame_strip_png(pred, c["target"], tmp_path / "strip.jpg")


def test_density_picture(tmp_path: Path) -> None:
    means = torch.tensor([[1.0, 1.0], [2.0, 2.0], [3.0, 1.0], [30.0, 20.0], [-5.0, 3.0], [float("nan"), 0.0]])
    path = density_picture_png(means, 40, 24, tmp_path / "density.png", background=torch.zeros(24, 24 + 16, 3), cell=4)
    image = np.asarray(Image.open(path).convert("RGB"))
    assert image.shape == (24 + 14, 40, 3)
    heat = image[14:]
    assert heat[0:4, 0:4].mean() > heat[20:24, 28:32].mean() > heat[10:14, 10:14].mean()  # 3 > 1 > 0 Gaussians
