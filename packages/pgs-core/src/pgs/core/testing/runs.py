"""Short training runs for tests: a tiny run config and a module-scoped synthetic speaker fixture.

Example (a test module)::

    from pgs.core.testing.runs import speaker_fixture, tiny_run_config

    speaker = speaker_fixture(num_frames=30, size=40, seed=5)

    def test_trains(speaker, tmp_path):
        data = tiny_run_config(speaker, tmp_path / "out", points=(150, 80), steps=(8, 4, 0), refine=(4, 4, 12))
        Trainer(TrainConfig.model_validate(data), quiet=True).run()
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pgs.core.preset import merge

#: Gaussian learning rates of short runs: means at 4e-4, no scene-extent scaling, no decay.
FAST_MEANS_LR: dict[str, float] = {"means": 4e-4, "position_lr_scale": 1.0, "means_decay": 1.0}


def tiny_run_config(
    folder: Path,
    output: Path,
    *,
    points: tuple[int, int],
    steps: tuple[int, int, int],
    refine: tuple[int, int, int] | None = None,
    eval_frames: int = 2,
    fast_means: bool = False,
    **extra: Any,
) -> dict[str, Any]:
    """A run config mapping (validate it with ``TrainConfig.model_validate``).

    Args:
        folder: the speaker folder.
        output: the run folder.
        points: initial Gaussians of the (face, mouth) branches.
        steps: (static, deform, finetune) iterations.
        refine: (refine_from, refine_every, refine_until) of ``pixel-aware`` density control on both
            branches; None leaves the density section at its defaults.
        eval_frames: held-out frames evaluated at the end.
        fast_means: use `FAST_MEANS_LR` (short runs move the means at a fixed 4e-4).
        **extra: top-level sections merged in last (nested mappings merge key by key).

    Returns:
        The mapping; checkpoints only at the end (``checkpoint_every`` 10000).
    """
    stage_keys = ("static_iterations", "deform_iterations", "finetune_iterations")
    config: dict[str, Any] = {
        "data": {"folder": str(folder)},
        "model": {"face": {"num_points": points[0]}, "mouth": {"num_points": points[1]}},
        "stages": dict(zip(stage_keys, steps, strict=True)),
        "output": str(output),
        "checkpoint_every": 10_000,
        "eval_frames": eval_frames,
    }
    if fast_means:
        config["stages"]["gaussian_lr"] = dict(FAST_MEANS_LR)
    if refine is not None:
        params = dict(zip(("refine_from", "refine_every", "refine_until"), refine, strict=True))
        config["density"] = {branch: {"name": "pixel-aware", "params": dict(params)} for branch in ("face", "mouth")}
    return merge(config, extra)


#: ``pgs`` run as a child process (the console entry point of pgs-core).
PGS_COMMAND = [sys.executable, "-c", "from pgs.core.cli.main import console_main; console_main()"]


def interrupt_training(config_file: Path, output: Path, signum: int, timeout: float = 240.0) -> tuple[int, str]:
    """Run ``pgs train CONFIG --quiet`` in a child process, send `signum` once it has logged a step.

    Args:
        config_file: the run config file.
        output: its run folder (``train.jsonl`` there shows that training started).
        signum: e.g. ``signal.SIGINT`` or ``signal.SIGTERM``.
        timeout: seconds to wait for the first log line.

    Returns:
        (exit code, stderr) of the interrupted command.

    Raises:
        AssertionError: training ended or did not log within `timeout`.
    """
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [*PGS_COMMAND, "train", str(config_file), "--quiet"], env=env, stderr=subprocess.PIPE, text=True
    )
    log = output / "train.jsonl"
    deadline = time.monotonic() + timeout
    while not (log.exists() and log.stat().st_size > 0):
        if proc.poll() is not None or time.monotonic() >= deadline:
            proc.kill()
            _, err = proc.communicate()
            raise AssertionError(f"training did not start: {err}")
        time.sleep(0.1)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err


def needs_training_plugins(density: tuple[str, ...] = ("pixel-aware",)) -> Any:
    """A pytest ``skipif`` marker for tests that train.

    They need pgs-fusion (``mgf``), pgs-density (the `density` strategies) and pgs-audio (``mel``).
    """
    import pytest

    from pgs.core.groups import AUDIO_ENCODERS, DENSITY, FUSION
    from pgs.core.registry import registry

    missing = (
        "mgf" not in registry(FUSION).names()
        or not set(density) <= set(registry(DENSITY).names())
        or "mel" not in registry(AUDIO_ENCODERS).names()
    )
    return pytest.mark.skipif(missing, reason="needs pgs-fusion, pgs-density and pgs-audio installed")


def speaker_fixture(num_frames: int, size: int, seed: int) -> Callable[..., Path]:
    """A module-scoped pytest fixture: a synthetic speaker folder (`generate_speaker`) shared by a module.

    Assign it to the fixture's name: ``speaker = speaker_fixture(num_frames=44, size=48, seed=1)``.
    """
    import pytest

    from pgs.core.data.synthetic import generate_speaker

    @pytest.fixture(scope="module")
    def speaker(tmp_path_factory: pytest.TempPathFactory) -> Path:
        folder = tmp_path_factory.mktemp("spk") / "speaker"
        return generate_speaker(folder, num_frames=num_frames, size=size, seed=seed)

    return speaker


__all__ = [
    "FAST_MEANS_LR",
    "PGS_COMMAND",
    "interrupt_training",
    "needs_training_plugins",
    "speaker_fixture",
    "tiny_run_config",
]
