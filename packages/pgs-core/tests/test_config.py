"""Run-config loading: every problem reported with its path; malformed files named."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import Field

from pgs.core import groups
from pgs.core.cli.main import main
from pgs.core.config import ComponentConfig, load_config
from pgs.core.errors import ConfigError
from pgs.core.registry import ComponentSpec, registry
from pgs.core.training.config import TrainConfig as RunConfig


class _FusionParams(ComponentConfig):
    hidden_dim: int = Field(64, gt=0, description="Hidden width.")


@pytest.fixture
def cfg_fusion():
    """An in-process fusion plugin with a range-checked parameter."""
    reg = registry(groups.FUSION)
    reg.register(
        ComponentSpec(
            name="cfg-test-fusion",
            group=groups.FUSION,
            config_class=_FusionParams,
            factory=lambda c: c,
            description="config test",
        ),
        replace=True,
    )
    yield "cfg-test-fusion"
    reg.unregister("cfg-test-fusion")


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_valid_yaml_and_json_load(tmp_path: Path, cfg_fusion: str) -> None:
    yaml_file = _write(
        tmp_path,
        "run.yaml",
        f"seed: 3\nmodel:\n  face:\n    fusion:\n      name: {cfg_fusion}\n      params: {{hidden_dim: 8}}\n"
        "rasterizer: {name: auto}\n",
    )
    cfg = load_config(yaml_file, RunConfig)
    assert cfg.seed == 3 and cfg.model.face.fusion.params == {"hidden_dim": 8}
    json_file = _write(tmp_path, "run.json", '{"seed": 4, "output": "x/y"}')
    assert load_config(json_file, RunConfig).output == Path("x/y")


def test_every_problem_is_listed_with_its_path(tmp_path: Path, cfg_fusion: str) -> None:
    path = _write(
        tmp_path,
        "bad.yaml",
        f"seed: -1\nbogus_key: 1\ndevice: [1, 2]\nmodel:\n  face:\n    fusion:\n      name: {cfg_fusion}\n"
        "      params: {hidden_dim: 0}\n  mouth: {fusion: {name: no-such-fusion}}\n",
    )
    with pytest.raises(ConfigError) as info:
        load_config(path, RunConfig)
    problems = info.value.problems
    assert "seed: Input should be greater than or equal to 0" in problems
    assert "bogus_key: Extra inputs are not permitted" in problems
    assert "device: Input should be a valid string" in problems
    assert "model.face.fusion.params.hidden_dim: Input should be greater than 0" in problems
    assert any(p.startswith("model.mouth.fusion.name: unknown fusion module 'no-such-fusion'") for p in problems)
    assert len(problems) == 5
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("broken.yaml", "seed: [1, 2\n", "malformed YAML at line 2"),
        ("broken.json", '{"seed": 1,}', "malformed JSON at line 1"),
        ("list.yaml", "- 1\n- 2\n", "top level must be a mapping"),
    ],
)
def test_malformed_files(tmp_path: Path, name: str, text: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        load_config(_write(tmp_path, name, text), RunConfig)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "absent.yaml", RunConfig)


def test_cli_validate_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str], cfg_fusion: str) -> None:
    good = _write(tmp_path, "good.yaml", "seed: 1\n")
    assert main(["validate", str(good)]) == 0
    bad = _write(
        tmp_path,
        "bad.yaml",
        f"seed: x\nmodel: {{face: {{fusion: {{name: {cfg_fusion}, params: {{hidden_dim: -2}}}}}}}}\n",
    )
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "seed: Input should be a valid integer" in err
    assert "model.face.fusion.params.hidden_dim: Input should be greater than 0" in err
    assert main(["validate", str(_write(tmp_path, "m.yaml", "a: [\n"))]) == 2
    assert "malformed YAML" in capsys.readouterr().err


def test_component_config_base_is_strict() -> None:
    cfg = _FusionParams()
    with pytest.raises(Exception, match="frozen"):
        cfg.hidden_dim = 3  # type: ignore[misc]
    with pytest.raises(Exception, match="Extra inputs"):
        _FusionParams(other=1)
