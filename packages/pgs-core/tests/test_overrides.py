"""Dotted ``KEY=VALUE`` overrides and ``pgs train --data`` / ``--preset``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pgs.core.cli.main import main
from pgs.core.errors import ConfigError
from pgs.core.overrides import apply_overrides, is_override, parse_override
from pgs.core.registry import registry
from pgs.core.training.assemble import assemble_config

keys = st.from_regex(r"[a-z][a-z_]{0,6}", fullmatch=True)
scalars = st.one_of(st.integers(-1000, 1000), st.booleans(), st.sampled_from(["abc", "mgf", "pixel-aware"]))


@given(path=st.lists(keys, min_size=1, max_size=4), value=scalars)
def test_an_override_sets_exactly_its_path(path: list[str], value: Any) -> None:
    data = {"keep": {"me": 1}}
    text = f"{'.'.join(path)}={json.dumps(value) if not isinstance(value, str) else value}"
    out = apply_overrides(data, [text])
    node = out
    for part in path:
        node = node[part]
    assert node == value
    assert data == {"keep": {"me": 1}}  # the input is not modified
    if path[0] != "keep":
        assert out["keep"] == {"me": 1}


def test_values_are_read_as_yaml() -> None:
    assert parse_override("a.b=2e-4") == ("a.b", 2e-4)
    assert parse_override("x=[1, 2]")[1] == [1, 2]
    assert parse_override("x={name: gradient}")[1] == {"name": "gradient"}
    assert parse_override("x=null")[1] is None
    assert is_override("stages.static_iterations=5") and not is_override("run.yaml") and not is_override("=3")


def test_bad_overrides_name_themselves() -> None:
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        apply_overrides({}, ["stages..x=1"])
    with pytest.raises(ConfigError, match="seed is 3, not a section"):
        apply_overrides({"seed": 3}, ["seed.x=1"])
    with pytest.raises(ConfigError, match="cannot read the value"):
        apply_overrides({}, ["a=[1, 2"])


def test_overrides_are_validated_at_their_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        assemble_config(preset="real-cpu", overrides=["stages.static_iteratons=5"], data=tmp_path)
    assert "stages.static_iteratons" in str(exc.value)
    config, source = assemble_config(preset="real-cpu", overrides=["stages.static_iterations=7"], data=tmp_path / "d")
    assert config.stages.static_iterations == 7 and "real-cpu" in source
    assert config.output == Path("runs/d") and config.data.folder == tmp_path / "d"


@pytest.mark.slow
@pytest.mark.skipif("mgf" not in registry("pgs.fusion").names(), reason="needs pgs-fusion")
def test_train_with_data_only_uses_the_default_preset_and_overrides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pgs.core.data.synthetic import generate_speaker

    speaker = generate_speaker(tmp_path / "spk", num_frames=11, size=16, seed=0)
    monkeypatch.chdir(tmp_path)
    tiny = [
        "stages.static_iterations=2",
        "stages.deform_iterations=1",
        "stages.finetune_iterations=1",
        "model.face.num_points=100",
        "model.mouth.num_points=50",
        "eval_frames=1",
    ]
    assert main(["train", "--data", str(speaker), *tiny, "--quiet"]) == 0
    saved = json.loads((tmp_path / "runs" / "spk" / "config.json").read_text())
    assert saved["stages"]["static_iterations"] == 2 and saved["model"]["face"]["num_points"] == 100
    assert saved["model"]["face"]["fusion"]["name"] == "mgf"  # from the preset
    assert saved["loss"]["lips_weight"] == 1.0  # real-cpu's lips term, not the default 0
