"""``pgs ablate``: variant configs, and all five Table 3 rows on the tiny synthetic speaker."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml
from PIL import Image

from pgs.core.cli.main import main
from pgs.core.errors import ConfigError
from pgs.core.training.config import TrainConfig
from pgs.eval.ablation import select_variants, variant_config, variant_slug
from pgs.eval.tables import TABLE3_VARIANTS


def _base(tmp_path: Path, tiny_config) -> TrainConfig:
    data = tiny_config(tmp_path / "speaker", tmp_path / "run")
    data["density"]["face"]["params"]["grad_threshold"] = 7e-4
    data["density"]["face"]["params"]["z_min"] = 0.3  # pixel-aware only
    return TrainConfig.model_validate(data)


@pytest.mark.parametrize("variant", TABLE3_VARIANTS, ids=variant_slug)
def test_variant_config_sets_only_component_names_and_output(
    tmp_path: Path, variant, make_tiny_config
) -> None:
    base = _base(tmp_path, make_tiny_config)
    config = variant_config(base, variant, tmp_path / "out" / variant_slug(variant))
    assert config.density.face.name == config.density.mouth.name == variant.density
    assert config.model.face.fusion.name == variant.face_fusion
    assert config.model.mouth.fusion.name == variant.mouth_fusion
    assert config.output == tmp_path / "out" / variant_slug(variant)
    face = config.density.face.params
    assert face["grad_threshold"] == 7e-4 and face["refine_every"] == 10  # carried over
    assert ("z_min" in face) == (variant.density == "pixel-aware")  # gradient has no z_min
    # everything else is the base config
    same = {k: v for k, v in config.model_dump().items() if k not in ("density", "model", "output")}
    assert same == {k: v for k, v in base.model_dump().items() if k not in ("density", "model", "output")}
    assert config.model.face.num_points == base.model.face.num_points


def test_variant_semantics_match_the_paper() -> None:
    by_slug = {variant_slug(v): v for v in TABLE3_VARIANTS}
    assert (by_slug["gradient-concat"].density, by_slug["gradient-concat"].face_fusion) == ("gradient", "concat-mlp")
    assert (by_slug["mgf-no-mouth"].face_fusion, by_slug["mgf-no-mouth"].mouth_fusion) == ("mgf", "concat-mlp")
    assert (by_slug["mgf-no-face"].face_fusion, by_slug["mgf-no-face"].mouth_fusion) == ("concat-mlp", "mgf")
    assert (by_slug["full"].density, by_slug["full"].face_fusion, by_slug["full"].mouth_fusion) == (
        "pixel-aware", "mgf", "mgf"
    )


def test_select_variants() -> None:
    assert select_variants(None) == list(TABLE3_VARIANTS)
    assert [variant_slug(v) for v in select_variants(["full", "gradient-concat", "full"])] == [
        "gradient-concat", "full"
    ]
    with pytest.raises(ConfigError, match="known: gradient-concat"):
        select_variants(["nope"])


def test_ablate_unknown_variant_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make_tiny_config
) -> None:
    tiny_config = make_tiny_config
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(tiny_config(tmp_path, tmp_path / "run")))
    assert main(["ablate", str(path), "--out", str(tmp_path / "abl"), "--variants", "bogus"]) == 2
    assert "bogus" in capsys.readouterr().err
    assert not (tmp_path / "abl").exists()


def test_ablate_produces_all_five_rows(
    tiny_speaker: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_tiny_config
) -> None:
    tiny_config = make_tiny_config
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump(tiny_config(tiny_speaker, tmp_path / "base", iterations=(8, 8, 4))))
    out = tmp_path / "ablation"
    args = ["ablate", str(config), "--out", str(out), "--fps-frames", "2", "--max-frames", "2"]
    assert main(args) == 0

    table = (out / "table3.md").read_text()
    rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| Variant")]
    rows = [r for r in rows if not r.startswith("| :--")]
    assert [r.split("|")[1].strip() for r in rows] == [v.name for v in TABLE3_VARIANTS]

    summary = json.loads((out / "ablation.json").read_text())
    assert summary["schema"] == "pgs-eval/ablation/1"
    assert [r["variant"] for r in summary["rows"]] == [v.name for v in TABLE3_VARIANTS]
    for row, variant in zip(summary["rows"], TABLE3_VARIANTS, strict=True):
        metrics = row["report"]["metrics"]
        assert math.isfinite(metrics["PSNR"]["value"]), row["variant"]
        assert math.isfinite(metrics["SSIM"]["value"]), row["variant"]
        assert metrics["LSE-D"]["note"].startswith("weights not supplied")
        assert row["num_gaussians"] > 0 and row["retrained"] is True
        folder = out / variant_slug(variant)
        trained = json.loads((folder / "config.json").read_text())
        assert trained["density"]["face"]["name"] == variant.density
        assert trained["model"]["face"]["fusion"]["name"] == variant.face_fusion
        assert trained["model"]["mouth"]["fusion"]["name"] == variant.mouth_fusion
        assert (folder / "eval" / "metrics.json").is_file() and (folder / "eval" / "strips.png").is_file()
        with Image.open(folder / "density.png") as picture:
            assert picture.size == (48, 48 + 14)
    with Image.open(out / "fig5_density.png") as montage:
        assert montage.size == (5 * 48 + 4 * 4, 48 + 14)

    # a finished variant is re-evaluated without training again
    before = (out / "full" / "checkpoints" / "final.pt").stat().st_mtime_ns
    assert main([*args, "--variants", "full"]) == 0
    again = json.loads((out / "ablation.json").read_text())
    assert [r["slug"] for r in again["rows"]] == ["full"] and again["rows"][0]["retrained"] is False
    assert (out / "full" / "checkpoints" / "final.pt").stat().st_mtime_ns == before


def test_ablate_with_seeds_writes_intervals(
    tiny_speaker: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_tiny_config
) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump(make_tiny_config(tiny_speaker, tmp_path / "base", iterations=(2, 2, 1))))
    out = tmp_path / "ablation"
    args = ["ablate", str(config), "--out", str(out), "--fps-frames", "0", "--max-frames", "2"]
    assert main([*args, "--variants", "pixel-concat", "full", "--seeds", "3", "5"]) == 0
    table = (out / "table3.md").read_text()
    assert "mean ± 95 % CI over seeds [3, 5]" in table
    rows = [line for line in table.splitlines() if line.startswith("| ")]
    rows = [r for r in rows if not r.startswith(("| Variant", "| :--"))]
    assert [r.split("|")[1].strip() for r in rows] == ["pixel-aware + concat-mlp", "full (pixel-aware + MGF)"]
    assert all(" ± " in r.split("|")[4] and r.split("|")[-2].strip() == "2" for r in rows)  # PSNR cell, n
    summary = json.loads((out / "ablation.json").read_text())
    assert [(r["slug"], r["seed"]) for r in summary["rows"]] == [
        ("pixel-concat", 3), ("pixel-concat", 5), ("full", 3), ("full", 5)
    ]
    assert summary["summary"]["full"]["PSNR"]["n"] == 2
    assert {(c["a"], c["b"]) for c in summary["comparisons"]} == {("full", "pixel-concat")}
    for slug in ("pixel-concat", "full"):
        for seed in (3, 5):
            assert json.loads((out / slug / f"seed-{seed}" / "config.json").read_text())["seed"] == seed
    assert (out / "sweep.md").is_file() and (out / "fig5_density.png").is_file()
