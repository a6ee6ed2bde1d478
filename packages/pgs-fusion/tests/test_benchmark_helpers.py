from __future__ import annotations

import pytest

from pgs.fusion.benchmark import build, format_table, forward_macs, measure, parameter_count, parse_variant


def test_parse_variant() -> None:
    assert parse_variant("mgf") == ("mgf", {})
    assert parse_variant("mgf:proj_dim=32,audio_attention=true,x=a") == (
        "mgf",
        {"proj_dim": 32, "audio_attention": True, "x": "a"},
    )
    with pytest.raises(ValueError, match="key=value"):
        parse_variant("mgf:proj_dim")


@pytest.mark.parametrize("c", [16, 32])
def test_macs_per_point_match_hand_counts(c: int) -> None:
    h = 64
    # concat-mlp face: audio attention 36-32-32, expression attention 36-16-6, MLP 74-64-64-11 (d_opacity unused)
    assert forward_macs(build("concat-mlp", "face"), "face")[0] == pytest.approx(
        36 * 32 + 32 * 32 + 36 * 16 + 16 * 6 + 74 * h + h * h + h * 11
    )
    # mgf mouth (Eqs. 6-7): f'_s 36-C, gate C-C (audio half per frame), MLP 2C-64-64-3
    mouth = build(f"mgf:proj_dim={c}", "mouth")
    assert forward_macs(mouth, "mouth")[0] == pytest.approx(36 * c + c * c + 2 * c * h + h * h + h * 3)
    # mgf face (Eqs. 8-9): only the f_s columns of the MLP's first layer are per point
    per_point, per_frame = forward_macs(build(f"mgf:proj_dim={c}", "face"), "face")
    assert per_point == pytest.approx(36 * h + h * h + h * 10)
    assert per_frame == pytest.approx(32 * c + 6 * c + 2 * c * c + (32 + 2 * c) * h)


def test_measure_reports_ratios_to_concat_mlp() -> None:
    rows = measure(["concat-mlp", "mgf"], ["mouth"], [64], repeats=1, warmup=0)
    assert [r.name for r in rows] == ["concat-mlp", "mgf"]
    assert rows[0].ratios[64] == 1.0
    assert rows[1].ratios[64] == pytest.approx(rows[1].times_ms[64] / rows[0].times_ms[64])
    assert rows[1].params == parameter_count(build("mgf", "mouth"))
    table = format_table(rows)
    assert table.splitlines()[0].startswith("| module | branch | params | MACs/point")
    assert len(table.splitlines()) == 4
