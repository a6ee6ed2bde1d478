"""Issue 19 fidelity: 3DGS's densification order, the paper preset, LPIPS required in it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from pgs.core.cli.main import main
from pgs.core.errors import ConfigError
from pgs.core.preset import load_preset, merge, preset_names, preset_path
from pgs.core.testing.runs import needs_training_plugins, speaker_fixture, tiny_run_config
from pgs.core.training.config import TrainConfig
from pgs.core.training.trainer import Trainer

REPO = Path(__file__).resolve().parents[4]

needs_plugins = needs_training_plugins()


speaker = speaker_fixture(num_frames=30, size=40, seed=5)


def _tiny(folder: Path, output: Path, base: dict[str, Any] | None = None, **overrides: Any) -> dict[str, Any]:
    data = tiny_run_config(folder, output, points=(150, 80), steps=(8, 4, 0), refine=(4, 4, 12), eval_frames=1)
    return merge(merge(base or {}, data), overrides)


# ------------------------------------------------------------------------------ densification order


def test_default_order_is_3dgs() -> None:
    assert TrainConfig().density.order == "before-step"


@needs_plugins
@pytest.mark.parametrize("order", ["before-step", "after-step"])
def test_density_runs_on_the_configured_side_of_the_optimizer_step(speaker: Path, tmp_path: Path, order: str) -> None:
    """3DGS: backward, densification statistics and refine, then optimizer.step(); 'after-step' swaps the last two."""
    torch.set_num_threads(1)
    config = TrainConfig.model_validate(_tiny(speaker, tmp_path / "out", density={"order": order}))
    trainer = Trainer(config, quiet=True)
    events: list[str] = []
    optimizer_step = trainer._optimizer_step

    def spy_optimizer(*args: Any, **kwargs: Any) -> None:
        events.append("optimizer")
        optimizer_step(*args, **kwargs)

    trainer._optimizer_step = spy_optimizer  # type: ignore[method-assign]
    for bt in trainer.branches.values():
        density_step = bt.strategy.step_post_backward

        def spy_density(*args: Any, _inner: Any = density_step, **kwargs: Any) -> Any:
            events.append("density")
            return _inner(*args, **kwargs)

        bt.strategy.step_post_backward = spy_density  # type: ignore[method-assign]
    trainer.run()
    steps = 2 * (config.stages.static_iterations + config.stages.deform_iterations)
    first, second = ("density", "optimizer") if order == "before-step" else ("optimizer", "density")
    assert events == [first, second] * steps


# ------------------------------------------------------------------------------ paper preset


def test_paper_preset_is_random_init_with_talkinggaussians_steps() -> None:
    assert "paper" in preset_names()
    config = TrainConfig.model_validate(load_preset("paper"))
    assert config.init == "random"
    assert (config.stages.static_iterations, config.stages.deform_iterations) == (3000, 47000)  # 50k per branch
    assert config.stages.finetune_iterations == 10000  # TalkingGaussian's fuse stage
    assert (config.model.face.num_points, config.model.mouth.num_points) == (2000, 10000)
    assert config.density.order == "before-step"
    face, mouth = config.density.face, config.density.mouth
    assert face.name == mouth.name == "pixel-aware"
    assert (face.params["grad_threshold"], mouth.params["grad_threshold"]) == (5e-4, 2e-4)
    assert (face.params["refine_until"], mouth.params["refine_until"]) == (49000, 45000)
    assert config.loss.lpips_required and config.loss.lpips_weight == 0.5 and config.loss.lips_weight == 0
    repo_copy = REPO / "examples" / "configs" / "paper.yaml"
    assert repo_copy.is_symlink() and repo_copy.resolve() == preset_path("paper").resolve()


def _paper_without_lpips_weights(speaker: Path, tmp_path: Path) -> dict[str, Any]:
    """The paper preset, shortened, pointing its LPIPS term at a weights file that does not exist."""
    missing = tmp_path / "weights" / "alexnet-owt-7be5be79.pth"
    loss = {"lpips_backbone_weights": str(missing)}
    return _tiny(speaker, tmp_path / "out", load_preset("paper"), stages={"finetune_iterations": 2}, loss=loss)


@needs_plugins
def test_paper_preset_without_lpips_weights_fails_before_writing(speaker: Path, tmp_path: Path) -> None:
    data = _paper_without_lpips_weights(speaker, tmp_path)
    trainer = Trainer(TrainConfig.model_validate(data), quiet=True)
    with pytest.raises(ConfigError, match=r"lpips_required.*alexnet-owt-7be5be79\.pth"):
        trainer.run()
    assert not (tmp_path / "out").exists()


@needs_plugins
def test_allow_missing_lpips_flag_runs_the_paper_preset(
    speaker: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    torch.set_num_threads(1)
    data = _paper_without_lpips_weights(speaker, tmp_path)
    config_file = tmp_path / "paper_tiny.yaml"
    config_file.write_text(yaml.safe_dump(data))
    assert main(["train", str(config_file), "--quiet"]) == 2
    assert "alexnet-owt-7be5be79.pth" in capsys.readouterr().err
    assert main(["train", str(config_file), "--quiet", "--allow-missing-lpips"]) == 0
    assert (tmp_path / "out" / "checkpoints" / "final.pt").is_file()
