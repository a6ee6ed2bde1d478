"""``device: auto`` everywhere: commands resolve device and rasterizer consistently, with CUDA present or not."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import pytest
import torch

from pgs.core.cli.main import _load_commands, build_parser
from pgs.core.devices import resolve_device
from pgs.core.errors import ConfigError
from pgs.core.registry import registry
from pgs.core.rendering.select import resolve_backend_name
from pgs.core.training.config import TrainConfig

HAS_GSPLAT = importlib.util.find_spec("gsplat") is not None


@pytest.fixture(params=[True, False], ids=["cuda-available", "cuda-absent"])
def cuda(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: request.param)
    return bool(request.param)


def test_auto_device_and_rasterizer_agree(cuda: bool) -> None:
    device = resolve_device("auto")
    assert device.type == ("cuda" if cuda else "cpu")
    backend = resolve_backend_name("auto", device)
    if device.type == "cpu":
        assert backend in ("cpu", "torch")
    elif HAS_GSPLAT:
        assert backend == "gsplat"


def test_an_explicit_cpu_never_gets_gsplat(cuda: bool) -> None:
    assert resolve_backend_name("auto", resolve_device("cpu")) in ("cpu", "torch")


def test_cuda_requested_without_cuda_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="CUDA is not available"):
        resolve_device("cuda:0")
    with pytest.raises(ConfigError, match="not a torch device"):
        resolve_device("gpu")


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def test_every_command_that_runs_a_model_defaults_to_auto() -> None:
    commands, _ = _load_commands()
    parsers = _subparsers(build_parser(commands))
    with_device = {name for name, p in parsers.items() if any("--device" in a.option_strings for a in p._actions)}
    expected = {"render", "synth"} | ({"eval"} if "eval" in parsers else set())
    assert expected <= with_device
    for name in with_device:
        action = next(a for a in parsers[name]._actions if "--device" in a.option_strings)
        assert action.default in ("auto", None), (name, action.default)  # None: the config's, itself auto
    assert TrainConfig().device == "auto"


@pytest.mark.skipif("mgf" not in registry("pgs.fusion").names(), reason="needs pgs-fusion")
@pytest.mark.slow
def test_a_checkpoint_written_on_cuda_loads_on_a_cpu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pgs.core.data.dataset import SpeakerDataset
    from pgs.core.data.synthetic import generate_speaker
    from pgs.core.inference import load_head
    from pgs.core.testing.runs import tiny_run_config
    from pgs.core.training.checkpoint import load_checkpoint, save_checkpoint
    from pgs.core.training.launch import start_run

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    speaker = generate_speaker(tmp_path / "s", num_frames=11, size=16, seed=0)
    config = TrainConfig.model_validate(
        tiny_run_config(speaker, tmp_path / "run", points=(100, 50), steps=(1, 1, 1), eval_frames=1)
    )
    result = start_run(config, quiet=True).result
    data = load_checkpoint(result.checkpoint)
    data["config"]["device"] = "cuda"
    data["config"]["rasterizer"] = {"name": "gsplat", "params": {}}
    data["cuda_rng"] = [torch.zeros(16, dtype=torch.uint8)]
    gpu_made = tmp_path / "gpu.pt"
    save_checkpoint({k: v for k, v in data.items() if k not in ("magic", "format_version")}, gpu_made)
    loaded = load_head(gpu_made)  # device auto: the CPU here
    assert next(loaded.head.parameters()).device.type == "cpu"
    assert loaded.head.rasterizer.name in ("cpu", "torch")
    frame = SpeakerDataset.open(speaker, "val", audio="auto", require_aus=True)[0]
    with torch.no_grad():
        image = loaded.head.render_frame(frame).image
    assert image.shape == (1, 16, 16, 3) and torch.isfinite(image).all()
